// reexec_test.cc — SIGUSR2: portwalld executes its binary again in place, as the package's
// upgrade asks it to (issue 15: "rules in force throughout"). The queues are handed over across
// execve, so no packet passes unjudged while the new image starts: a storm of connection
// attempts to a denied port, fired across the re-exec, gets nothing through, and an established
// connection goes on.
#include <csignal>
#include <regex>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

nlohmann::json status_of(const Daemon& daemon) {
  return nlohmann::json::parse(daemon.cli("--json status").output, nullptr, false);
}

TEST(Reexec, SigusrTwoReexecutesInPlaceAndNoPacketPassesUnjudged) {
  Lab lab;
  // With a group for the control socket: the new image cannot chown it (its capabilities are
  // those the first one kept), so the socket itself is handed over.
  Daemon daemon(lab, kRules, "admin_group = \"adm\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const std::string socket = daemon.dir() + "/portwall.sock";
  const std::string before = run("stat -c '%a %G %i' " + socket).output;
  Fd ssh_listener(tcp_listen(lab.srv(), "0.0.0.0", 22));
  Fd denied_listener(tcp_listen(lab.srv(), "0.0.0.0", 2323));
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms));
  Fd server(tcp_accept(ssh_listener.get(), 2000ms));
  ASSERT_TRUE(client.valid() && server.valid());
  const pid_t pid = daemon.pid();
  ASSERT_EQ(count_of(daemon.daemon_output(), "portwalld: ready"), 1u);

  std::pair<int, int> storm;
  std::thread attempts(
      [&] { storm = connection_storm(lab.cli(), lab.srv_v4(), 2323, 2ms, for_a_while(1500ms)); });
  std::this_thread::sleep_for(400ms);
  const auto signalled = std::chrono::steady_clock::now();
  daemon.signal(SIGUSR2);
  bool again = false;
  for (int i = 0; i < 100 && !again; ++i) {
    again = count_of(daemon.daemon_output(), "portwalld: ready") == 2;
    if (!again) std::this_thread::sleep_for(20ms);
  }
  const double took =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - signalled)
          .count();
  attempts.join();
  ASSERT_TRUE(again) << daemon.daemon_output();
  std::printf(
      "[ figure ] re-exec: ready again within %.0f ms; %d connection attempts to a denied "
      "port across it, %d connected\n",
      took, storm.first, storm.second);

  // The same process, the queues adopted (nothing rebound), nothing let through.
  EXPECT_EQ(daemon.pid(), pid);
  EXPECT_EQ(kill(pid, 0), 0);
  const std::string said = daemon.daemon_output();
  EXPECT_NE(said.find("re-executing " + std::string(PORTWALLD_BIN) + " (SIGUSR2)"),
            std::string::npos)
      << said;
  EXPECT_EQ(said.find("failed"), std::string::npos) << said;
  EXPECT_GE(storm.first, 100);
  EXPECT_EQ(storm.second, 0);
  const nlohmann::json s = status_of(daemon);
  EXPECT_EQ(s["counters"]["uninspected"], 0) << s.dump();
  // The control socket is the same file, mode and group.
  EXPECT_EQ(run("stat -c '%a %G %i' " + socket).output, before);
  EXPECT_EQ(before.substr(0, 8), "660 adm ");

  // The established connection goes on (picked up mid-stream), both ways.
  ASSERT_TRUE(send_all(client.get(), "after the re-exec\n"));
  const auto got = receive(server.get(), 3000ms);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "after the re-exec\n");
  ASSERT_TRUE(send_all(server.get(), "and back\n"));
  EXPECT_EQ(receive(client.get(), 3000ms).value_or(""), "and back\n");
  EXPECT_NE(slurp(daemon.dir() + "/audit.log").find("ACTION=\"reexec\" RESULT=\"ok\""), std::string::npos);
  // And it still stops clean.
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_EQ(input_hooks(diversion_rules(lab)), 0u);
}

}  // namespace
}  // namespace portwall::lab

namespace portwall::lab {
namespace {

// The tracked connections are handed over too: one idle for longer than the pickup grace
// (a second here) goes on after the re-exec; without the handover its next packet, a
// mid-stream one with no flow after the grace, would be dropped as invalid.
TEST(Reexec, AnIdleConnectionOutlivesThePickupGrace) {
  Lab lab;
  Daemon daemon(lab, kRules, "", "[conntrack]\npickup_grace = \"1s\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 22));
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms));
  Fd server(tcp_accept(listener.get(), 2000ms));
  ASSERT_TRUE(client.valid() && server.valid());
  ASSERT_TRUE(send_all(client.get(), "before\n"));
  ASSERT_EQ(receive(server.get(), 2000ms).value_or(""), "before\n");
  std::this_thread::sleep_for(1500ms);  // the first image's grace is over as well
  daemon.signal(SIGUSR2);
  bool again = false;
  for (int i = 0; i < 100 && !again; ++i) {
    again = count_of(daemon.daemon_output(), "portwalld: ready") == 2;
    if (!again) std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(again) << daemon.daemon_output();
  // Every flow handed over was taken over (the lab's own neighbour discovery makes a few more).
  const std::string said = daemon.daemon_output();
  std::smatch m;
  ASSERT_TRUE(std::regex_search(said, m, std::regex("handing over ([0-9]+) tracked"))) << said;
  const int handed = std::stoi(m[1]);
  int taken = 0;
  const std::regex took("took over ([0-9]+) tracked");
  for (std::sregex_iterator it(said.begin(), said.end(), took), end; it != end; ++it) {
    taken += std::stoi((*it)[1]);
  }
  EXPECT_GE(handed, 1);
  EXPECT_EQ(taken, handed) << said;
  std::this_thread::sleep_for(2000ms);  // idle past the new image's grace
  ASSERT_TRUE(send_all(client.get(), "after an idle re-exec\n"));
  EXPECT_EQ(receive(server.get(), 3000ms).value_or(""), "after an idle re-exec\n");
  ASSERT_TRUE(send_all(server.get(), "and back\n"));
  EXPECT_EQ(receive(client.get(), 3000ms).value_or(""), "and back\n");
  EXPECT_EQ(daemon.log().find("REASON=invalid"), std::string::npos) << daemon.log();
}

}  // namespace
}  // namespace portwall::lab
