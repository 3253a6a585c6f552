// monitor_test.cc — issue 8, monitor mode: every packet decided and logged as enforce mode would
// (ACTION=DROP MODE=monitor) but accepted, counted as what enforcement would have stopped;
// `portwall mode enforce|monitor` switches live, holds through a rule change, and is audited.
#include <regex>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

TEST(Monitor, PassesWhatEnforceDropsLogsItAndSwitchesLive) {
  Lab lab;
  Daemon daemon(lab, kRules, "mode = \"monitor\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 2323));  // no rule allows 2323
  ASSERT_TRUE(listener.valid());

  // Monitor: the connection the default policy denies gets through, and says so in the log.
  Fd passed(tcp_connect(lab.cli(), lab.srv_v4(), 2323, 2000ms));
  EXPECT_TRUE(passed.valid());
  EXPECT_TRUE(log_line_with(daemon, {"ACTION=DROP MODE=monitor", "REASON=default", "DPT=2323"}))
      << daemon.log();
  nlohmann::json status = nlohmann::json::parse(daemon.cli("--json status").output);
  EXPECT_EQ(status["mode"], "monitor");
  EXPECT_GE(status["counters"]["monitor_passed"].get<int>(), 1);
  EXPECT_GE(status["counters"]["dropped"].get<int>(), 1);  // counted as decided
  const std::string text = daemon.cli("status").output;
  EXPECT_NE(text.find("Monitor mode: "), std::string::npos) << text;
  std::printf("[monitor] status:\n%s[monitor] log:\n%s", text.c_str(), daemon.log().c_str());

  // Enforce, live: the same connection is dropped now.
  const RunResult enforce = daemon.cli("mode enforce");
  ASSERT_EQ(enforce.exit_code, 0) << enforce.output;
  EXPECT_NE(enforce.output.find("Mode: enforce"), std::string::npos) << enforce.output;
  // The connection monitor mode let in, which the rules deny, is cut as enforcement starts
  // (with whatever else monitor mode let in meanwhile: the hosts' own MLD reports).
  EXPECT_TRUE(std::regex_search(enforce.output, std::regex("Cut [1-9][0-9]* established")))
      << enforce.output;
  const std::string flows = daemon.cli("conntrack list").output;
  EXPECT_TRUE(std::regex_search(flows, std::regex("dport=2323 .*\\[CUT\\]"))) << flows;
  Fd dropped(tcp_connect(lab.cli(), lab.srv_v4(), 2323, 1000ms));
  EXPECT_FALSE(dropped.valid());
  // A rule change reloads; the live mode holds over the configuration's.
  ASSERT_EQ(daemon.cli("allow 2424/tcp").exit_code, 0);
  status = nlohmann::json::parse(daemon.cli("--json status").output);
  EXPECT_EQ(status["mode"], "enforce");
  EXPECT_EQ(status["mode_set_by"], "portwall mode");
  Fd still_dropped(tcp_connect(lab.cli(), lab.srv_v4(), 2323, 1000ms));
  EXPECT_FALSE(still_dropped.valid());

  // Back to monitor; bad words are refused; both switches are audited.
  EXPECT_EQ(daemon.cli("mode monitor").exit_code, 0);
  Fd passes_again(tcp_connect(lab.cli(), lab.srv_v4(), 2323, 2000ms));
  EXPECT_TRUE(passes_again.valid());
  EXPECT_NE(daemon.cli("mode bogus").exit_code, 0);
  const std::string audit = slurp(daemon.dir() + "/audit.log");
  EXPECT_NE(audit.find("ACTION=\"mode\" RESULT=\"ok\" DETAIL=\"pid="), std::string::npos) << audit;
  EXPECT_NE(audit.find("monitor -> enforce"), std::string::npos) << audit;
  EXPECT_NE(audit.find("enforce -> monitor"), std::string::npos) << audit;
  std::printf("[monitor] passed in monitor mode, dropped in enforce mode; monitor_passed=%d\n",
              status["counters"]["monitor_passed"].get<int>());
}

}  // namespace
}  // namespace portwall::lab
