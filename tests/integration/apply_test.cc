// apply_test.cc — issue 8, point 2: `portwall apply FILE --confirm DURATION` ("commit
// confirmed"). A rule set that cuts the administrator's own session rolls back by itself when
// no `portwall confirm` comes, and the session works again; a confirmed one stays; an apply
// never confirmed before portwalld stopped is rolled back when it starts again.
#include <filesystem>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

// The rules without port 22: applied, they cut the test's "SSH session".
constexpr const char* kLockout = R"(
[defaults]
incoming = "deny"
outgoing = "allow"

[[rule]]
action = "allow"
proto = "tcp"
port = "80"
)";

bool write(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

// Waits (bounded) until `data` has been read from `fd`.
bool received(int fd, const std::string& data, std::chrono::milliseconds wait) {
  std::string got;
  for (auto until = std::chrono::steady_clock::now() + wait;
       std::chrono::steady_clock::now() < until;) {
    if (auto part = receive(fd, 100ms)) got += *part;
    if (got.find(data) != std::string::npos) return true;
  }
  return false;
}

// Sends `data` from one end and waits (bounded) until it reached the other.
bool arrives(int from, int to, const std::string& data, std::chrono::milliseconds wait) {
  return send_all(from, data) && received(to, data, wait);
}

nlohmann::json status_of(const Daemon& daemon) {
  return nlohmann::json::parse(daemon.cli("--json status").output, nullptr, false);
}

// Waits (bounded) until no confirmation is pending; the seconds it took.
std::optional<double> wait_until_settled(const Daemon& daemon, std::chrono::seconds wait) {
  const auto start = std::chrono::steady_clock::now();
  for (auto until = start + wait; std::chrono::steady_clock::now() < until;
       std::this_thread::sleep_for(100ms)) {
    const nlohmann::json s = status_of(daemon);
    if (s.is_object() && s["pending_confirmation"].is_null()) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  }
  return std::nullopt;
}

TEST(Apply, UnconfirmedLockoutRollsBackAndTheSessionWorksAgain) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 22));
  ASSERT_TRUE(listener.valid());
  Fd ssh(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms));
  ASSERT_TRUE(ssh.valid());
  Fd sshd(tcp_accept(listener.get(), 2000ms));
  ASSERT_TRUE(sshd.valid());
  ASSERT_TRUE(arrives(ssh.get(), sshd.get(), "hello", 2000ms));
  const std::string rules_before = slurp(daemon.dir() + "/rules.toml");

  // A broken file changes nothing and says where.
  ASSERT_TRUE(write(daemon.dir() + "/broken.toml", "[[rule]]\naction = \"alow\"\nport = \"22\"\n"));
  const RunResult broken = daemon.cli("apply " + daemon.dir() + "/broken.toml --confirm 2s");
  EXPECT_EQ(broken.exit_code, 1) << broken.output;
  EXPECT_NE(broken.output.find("broken.toml:2"), std::string::npos) << broken.output;
  EXPECT_EQ(slurp(daemon.dir() + "/rules.toml"), rules_before);

  // The lockout: applied, the session is cut at once.
  ASSERT_TRUE(write(daemon.dir() + "/lockout.toml", kLockout));
  // Taken before the daemon sets its deadline, so that the rollback cannot seem early.
  const auto applied_at = std::chrono::steady_clock::now();
  const RunResult applied = daemon.cli("apply " + daemon.dir() + "/lockout.toml --confirm 2s");
  ASSERT_EQ(applied.exit_code, 0) << applied.output;
  EXPECT_NE(applied.output.find("Applied 1 rule(s)"), std::string::npos) << applied.output;
  EXPECT_NE(applied.output.find("Cut 1 established connection(s)"), std::string::npos)
      << applied.output;
  EXPECT_NE(applied.output.find("portwall confirm` within 2s"), std::string::npos)
      << applied.output;
  const nlohmann::json pending = status_of(daemon);
  ASSERT_TRUE(pending["pending_confirmation"].is_object()) << pending.dump();
  EXPECT_LE(pending["pending_confirmation"]["seconds_left"].get<int>(), 2);
  const std::string pending_text = daemon.cli("status").output;
  EXPECT_NE(pending_text.find("Pending: the rules applied from"), std::string::npos)
      << pending_text;
  // Other rule changes wait for the confirmation.
  const RunResult meanwhile = daemon.cli("allow 9999/tcp");
  EXPECT_EQ(meanwhile.exit_code, 1);
  EXPECT_NE(meanwhile.output.find("waits for `portwall confirm`"), std::string::npos)
      << meanwhile.output;
  // Well inside the 2 s (a LAN delivers in a millisecond).
  EXPECT_FALSE(arrives(ssh.get(), sshd.get(), "while-locked-out", 500ms));

  // No confirm: the previous rules come back by themselves, and the session works again
  // (the data sent while locked out arrives with TCP's retransmission).
  const std::optional<double> settled = wait_until_settled(daemon, 10s);
  ASSERT_TRUE(settled.has_value());
  const double rolled_back_after =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - applied_at).count();
  EXPECT_GE(rolled_back_after, 2.0) << "not before its time";
  EXPECT_EQ(slurp(daemon.dir() + "/rules.toml"), rules_before);
  EXPECT_EQ(status_of(daemon)["rules"][0]["port"], "22");
  EXPECT_TRUE(received(sshd.get(), "while-locked-out", 15000ms));
  EXPECT_TRUE(arrives(ssh.get(), sshd.get(), "back", 5000ms));
  const std::string audit = slurp(daemon.dir() + "/audit.log");
  EXPECT_NE(audit.find("ACTION=\"apply\" RESULT=\"ok\""), std::string::npos) << audit;
  EXPECT_NE(audit.find("ACTION=\"apply-rollback\" RESULT=\"ok\" DETAIL=\"the apply of"), std::string::npos)
      << audit;
  EXPECT_NE(daemon.daemon_output().find("was not confirmed within 2s: rolled back"),
            std::string::npos)
      << daemon.daemon_output();
  std::printf(
      "[apply] %s[apply] status while pending:\n%s[apply] rolled back %.1f s after the "
      "apply; the session's data arrived again\n[apply] audit:\n%s",
      applied.output.c_str(), pending_text.c_str(), rolled_back_after, audit.c_str());
}

TEST(Apply, ConfirmedStaysAndUnconfirmedRollsBackAtTheNextStart) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const std::string with_8080 =
      std::string(kRules) + "\n[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"8080\"\n";
  ASSERT_TRUE(write(daemon.dir() + "/new.toml", with_8080));
  EXPECT_NE(daemon.cli("confirm").exit_code, 0);  // nothing to confirm

  ASSERT_EQ(daemon.cli("apply " + daemon.dir() + "/new.toml --confirm 2s").exit_code, 0);
  const RunResult confirmed = daemon.cli("confirm");
  ASSERT_EQ(confirmed.exit_code, 0) << confirmed.output;
  EXPECT_NE(confirmed.output.find("Confirmed"), std::string::npos) << confirmed.output;
  std::this_thread::sleep_for(3s);  // past the deadline: nothing rolls back
  nlohmann::json s = status_of(daemon);
  EXPECT_TRUE(s["pending_confirmation"].is_null());
  ASSERT_EQ(s["rules"].size(), 4u);
  EXPECT_EQ(s["rules"][3]["port"], "8080");
  EXPECT_EQ(slurp(daemon.dir() + "/rules.toml"), with_8080);
  EXPECT_FALSE(std::filesystem::exists(daemon.dir() + "/rules.toml.unconfirmed"));
  EXPECT_NE(slurp(daemon.dir() + "/audit.log").find("ACTION=\"confirm\" RESULT=\"ok\""), std::string::npos);

  // A hand edit made (and reloaded) while unconfirmed is rolled back too, but kept aside.
  ASSERT_TRUE(write(daemon.dir() + "/lockout.toml", kLockout));
  ASSERT_EQ(daemon.cli("apply " + daemon.dir() + "/lockout.toml --confirm 2s").exit_code, 0);
  const std::string edited = std::string(kLockout) + "\n# edited by hand\n";
  ASSERT_TRUE(write(daemon.dir() + "/rules.toml", edited));
  ASSERT_EQ(daemon.cli("reload").exit_code, 0);
  ASSERT_TRUE(wait_until_settled(daemon, 10s).has_value());
  EXPECT_EQ(slurp(daemon.dir() + "/rules.toml"), with_8080);
  EXPECT_EQ(slurp(daemon.dir() + "/rules.toml.edited-while-unconfirmed"), edited);

  // Unconfirmed when portwalld stops: an offline edit is refused (the next start would undo
  // it), and the next start puts the previous rules back.
  ASSERT_EQ(daemon.cli("apply " + daemon.dir() + "/lockout.toml --confirm 60s").exit_code, 0);
  EXPECT_EQ(status_of(daemon)["rules"].size(), 1u);
  EXPECT_EQ(daemon.stop(), 0);
  const RunResult offline = daemon.cli("--rules " + daemon.dir() + "/rules.toml allow 1234/tcp");
  EXPECT_EQ(offline.exit_code, 1) << offline.output;
  EXPECT_NE(offline.output.find("was never confirmed"), std::string::npos) << offline.output;
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  s = status_of(daemon);
  EXPECT_EQ(s["rules"].size(), 4u);
  EXPECT_EQ(slurp(daemon.dir() + "/rules.toml"), with_8080);
  EXPECT_NE(slurp(daemon.dir() + "/audit.log")
                .find("ACTION=\"apply-rollback\" RESULT=\"ok\" DETAIL=\"an apply was never confirmed"),
            std::string::npos);

  // Unconfirmed, stopped, and the applied file broken meanwhile: the start does not fail on
  // it, since the previous rules come back before anything loads.
  ASSERT_EQ(daemon.cli("apply " + daemon.dir() + "/lockout.toml --confirm 60s").exit_code, 0);
  EXPECT_EQ(daemon.stop(), 0);
  ASSERT_TRUE(write(daemon.dir() + "/rules.toml", "[[rule]]\naction = \"alow\"\n"));
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  EXPECT_EQ(status_of(daemon)["rules"].size(), 4u);
  EXPECT_EQ(slurp(daemon.dir() + "/rules.toml"), with_8080);

  // And when the start fails after the rollback (here: queues that are not consecutive), the
  // rollback is in the audit log all the same.
  ASSERT_EQ(daemon.cli("apply " + daemon.dir() + "/lockout.toml --confirm 60s").exit_code, 0);
  EXPECT_EQ(daemon.stop(), 0);
  const std::string config = slurp(daemon.dir() + "/portwall.toml");
  std::string odd = config;
  odd.replace(odd.find("queues = [100, 101]"), 19, "queues = [100, 102]");
  ASSERT_TRUE(write(daemon.dir() + "/portwall.toml", odd));
  EXPECT_FALSE(daemon.start());
  EXPECT_NE(slurp(daemon.dir() + "/audit.log")
                .find("ACTION=\"apply-rollback\" RESULT=\"ok\" DETAIL=\"an apply was never confirmed before "
                      "portwalld stopped: the previous rules are back in " +
                      daemon.dir() + "/rules.toml; the start then failed: "),
            std::string::npos)
      << slurp(daemon.dir() + "/audit.log");
  EXPECT_EQ(slurp(daemon.dir() + "/rules.toml"), with_8080);
  ASSERT_TRUE(write(daemon.dir() + "/portwall.toml", config));
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  EXPECT_EQ(status_of(daemon)["rules"].size(), 4u);
}

}  // namespace
}  // namespace portwall::lab
