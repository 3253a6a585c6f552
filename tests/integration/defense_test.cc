// defense_test.cc — portwall's inline defenses on the wire (issue 4): per-source limits.
#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

TEST(Limit, TenQuickConnectionsToALimitPortLetSixThrough) {
  Lab lab;
  Daemon daemon(lab, "[[rule]]\naction = \"limit\"\nproto = \"tcp\"\nport = \"2222\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 2222));
  ASSERT_TRUE(listener.valid());
  std::vector<Fd> open;
  int connected = 0;
  for (int i = 0; i < 10; ++i) {
    Fd c(tcp_connect(lab.cli(), lab.srv_v4(), 2222, 500ms));
    if (c.valid()) {
      ++connected;
      open.push_back(std::move(c));
    }
  }
  EXPECT_EQ(connected, 6);
  const nlohmann::json s = nlohmann::json::parse(daemon.cli("--json status").output);
  EXPECT_GE(s["counters"]["rate_limited"].get<int>(), 4);
  for (auto until = std::chrono::steady_clock::now() + 5s;
       daemon.log().find("REASON=rate-limit") == std::string::npos &&
       std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(daemon.log().find("ACTION=DROP RULE=1 REASON=rate-limit DIR=in"), std::string::npos)
      << daemon.log();
}

}  // namespace
}  // namespace portwall::lab

namespace portwall::lab {
namespace {

TEST(ScanDetection, NmapSynScanGetsTheScannerBlocked) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  // Before the scan the client reaches ssh.
  Fd before(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms));
  ASSERT_TRUE(before.valid());
  const RunResult scan = lab.in(
      lab.cli(),
      "nmap -sS -T4 -Pn -n --max-retries 1 --max-rtt-timeout 200ms --host-timeout 8s -p 1-40 " +
          lab.srv_v4(),
      60s);
  EXPECT_EQ(scan.exit_code, 0) << scan.output;
  const nlohmann::json s = nlohmann::json::parse(daemon.cli("--json status").output);
  EXPECT_EQ(s["counters"]["scan_blocks"].get<int>(), 1) << s.dump();
  // Blocked: a new connection from the scanner gets nowhere, the open one is cut.
  int error = 0;
  Fd after(tcp_connect(lab.cli(), lab.srv_v4(), 22, 1500ms, &error));
  EXPECT_FALSE(after.valid());
  for (auto until = std::chrono::steady_clock::now() + 5s;
       daemon.log().find("REASON=scan-block") == std::string::npos &&
       std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_NE(daemon.log().find("REASON=scan-block"), std::string::npos) << daemon.log();

  // The administrator sees the block and lifts it: the client gets in again.
  const nlohmann::json list = nlohmann::json::parse(daemon.cli("--json blocked list").output);
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["address"], lab.cli_v4());
  EXPECT_EQ(list[0]["reason"], "scan");
  EXPECT_EQ(list[0]["expires"].get<std::string>().size(), 24u) << "RFC 3339 with milliseconds";
  const RunResult removed = daemon.cli("blocked remove " + lab.cli_v4());
  EXPECT_EQ(removed.output, "Unblocked " + lab.cli_v4() + "\n");
  Fd again(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms));
  EXPECT_TRUE(again.valid());
}

}  // namespace
}  // namespace portwall::lab
