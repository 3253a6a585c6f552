// first_start_test.cc — issue 15, point 3: the first start cannot lock the administrator out.
// With the package's `first-start` file beside the state file, portwalld checks the SSH server's
// ports and its open sessions against the rules before it touches the kernel, and refuses to
// start (exit 78) when they would be locked out; `portwall enable --confirm` leaves an
// `enable-confirm` file, and portwalld stops again by itself unless `portwall confirm` comes.
// The "SSH server" is this test process, named sshd for the while (its sockets then belong to
// a process called sshd, as /proc shows them to portwalld).
#include <sys/prctl.h>

#include <filesystem>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

// The test process under another name while alive (PR_SET_NAME names the calling thread, and
// /proc/PID/comm shows the main thread's, where gtest runs the tests).
class ProcessName {
 public:
  explicit ProcessName(const char* name) {
    prctl(PR_GET_NAME, saved_);
    prctl(PR_SET_NAME, name);
  }
  ~ProcessName() { prctl(PR_SET_NAME, saved_); }

 private:
  char saved_[17] = {};
};

bool carries(int from, int to, const std::string& data) {
  if (!send_all(from, data)) return false;
  std::string got;
  for (int i = 0; i < 30 && got.find(data) == std::string::npos; ++i) {
    if (auto part = receive(to, 100ms)) got += *part;
  }
  return got.find(data) != std::string::npos;
}

bool exists(const std::string& path) { return std::filesystem::exists(path); }

TEST(FirstStart, RulesThatLockSshOutAreRefusedBeforeTheKernelIsTouchedThenAllowedItStarts) {
  Lab lab;
  Daemon daemon(lab, kRules);  // allows 22/tcp only, as the shipped rules
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  ASSERT_EQ(daemon.stop(), 0);
  const std::string marker = daemon.dir() + "/first-start";
  std::ofstream(marker) << "# as the package leaves it\n";

  ProcessName sshd("sshd");
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 2222));
  ASSERT_TRUE(listener.valid());
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 2222, 2000ms));
  Fd session(tcp_accept(listener.get(), 2000ms));
  ASSERT_TRUE(client.valid() && session.valid());

  // Refused, with what would be locked out and the way on; nothing installed, exit 78.
  EXPECT_FALSE(daemon.start());
  const std::string said = daemon.daemon_output();
  EXPECT_NE(said.find("not started: these rules would lock SSH out:"), std::string::npos) << said;
  EXPECT_NE(said.find("the SSH server listens on 2222/tcp (0.0.0.0), and nobody may reach it"),
            std::string::npos)
      << said;
  EXPECT_NE(said.find("the SSH session from " + lab.cli_v4() + " port"), std::string::npos) << said;
  EXPECT_NE(said.find("Allow SSH first (portwall allow 2222/tcp), or start anyway with "
                      "`portwall enable --force`"),
            std::string::npos)
      << said;
  EXPECT_EQ(lab.in(lab.srv(), "iptables-save").output.find("PORTWALL"), std::string::npos);
  const RunResult direct = lab.in(
      lab.srv(), std::string(PORTWALLD_BIN) + " --config " + daemon.dir() + "/portwall.toml");
  EXPECT_EQ(direct.exit_code, 78) << direct.output;
  EXPECT_TRUE(exists(marker));
  EXPECT_NE(slurp(daemon.dir() + "/audit.log").find("ACTION=\"start\" RESULT=\"refused\""),
            std::string::npos);
  EXPECT_TRUE(carries(client.get(), session.get(), "still unfiltered\n"));

  // The administrator allows the port: the start goes through, the session goes on (picked up
  // mid-stream), the check is not asked again, and the rules are in force.
  std::ofstream(daemon.dir() + "/rules.toml", std::ios::app)
      << "\n[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"2222\"\n";
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  EXPECT_NE(daemon.daemon_output().find(
                "first start: SSH stays reachable on 2222/tcp (everyone); 1 open SSH session(s) "
                "go on"),
            std::string::npos)
      << daemon.daemon_output();
  EXPECT_FALSE(exists(marker));
  EXPECT_TRUE(carries(client.get(), session.get(), "filtered now, and still here\n"));
  EXPECT_TRUE(carries(session.get(), client.get(), "both ways\n"));
  Fd other(tcp_listen(lab.srv(), "0.0.0.0", 2323));
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), lab.srv_v4(), 2323, 1500ms)).valid());
}

TEST(FirstStart, AnEnableNotConfirmedInTimeStopsTheFirewallAndAConfirmedOneStays) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  ASSERT_EQ(daemon.stop(), 0);
  const std::string confirm_file = daemon.dir() + "/enable-confirm";
  std::ofstream(confirm_file) << R"({"within": "2s", "by": "alice"})"
                              << "\n";
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  const RunResult shown = daemon.cli("status");
  EXPECT_NE(shown.output.find("Pending: the firewall that alice enabled stops again in"),
            std::string::npos)
      << shown.output;
  EXPECT_NE(lab.in(lab.srv(), "iptables-save").output.find("PORTWALL"), std::string::npos);

  // No confirmation: it stops by itself, clean, its rules gone, the check asked for next time.
  const auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(daemon.wait_for_exit(6000ms), 0) << daemon.daemon_output();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("[ figure ] the unconfirmed enable stopped %.1f s after the start (asked: 2s)\n",
              took);
  EXPECT_EQ(lab.in(lab.srv(), "iptables-save").output.find("PORTWALL"), std::string::npos);
  EXPECT_TRUE(exists(daemon.dir() + "/first-start"));
  EXPECT_FALSE(exists(confirm_file));
  const std::string audit = slurp(daemon.dir() + "/audit.log");
  EXPECT_NE(audit.find("ACTION=\"enable-rollback\" RESULT=\"ok\""), std::string::npos) << audit;
  EXPECT_NE(daemon.daemon_output().find("the enable by alice was not confirmed within 2s"),
            std::string::npos);

  // Confirmed in time: it stays.
  std::filesystem::remove(daemon.dir() + "/first-start");
  // Room for a loaded machine between the start and the confirmation.
  std::ofstream(confirm_file) << R"({"within": "8s", "by": "alice"})"
                              << "\n";
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  const RunResult confirmed = daemon.cli("confirm");
  EXPECT_EQ(confirmed.exit_code, 0) << confirmed.output;
  EXPECT_NE(confirmed.output.find("Confirmed: the firewall stays active"), std::string::npos)
      << confirmed.output;
  EXPECT_FALSE(exists(confirm_file));
  EXPECT_EQ(daemon.wait_for_exit(9000ms), -1);  // still running past the 8 s
  EXPECT_TRUE(
      nlohmann::json::parse(daemon.cli("--json status").output)["pending_enable"].is_null());
  EXPECT_NE(daemon.cli("confirm").output.find("nothing to confirm"), std::string::npos);
}

}  // namespace
}  // namespace portwall::lab
