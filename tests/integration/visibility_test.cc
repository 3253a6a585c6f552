// visibility_test.cc — issue 16, point 4: what is dropped can be seen. A blocked source's
// packets are logged with the block's reason (its first packet, then once a minute with a
// count: the minute is the unit tests' business), and `explain` names the block and its end.
#include <cstdio>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

TEST_F(Wire, ABlockedSourcesFirstPacketIsLoggedWithTheBlocksReasonThenHeldBack) {
  const RunResult added = daemon.cli("blocked add " + lab.cli_v4() + " for 1h");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  const RunResult sent =
      lab.in(lab.cli(), "hping3 -S -p 22 -c 20 -i u20000 " + lab.srv_v4() + " 2>&1", 20s);
  ASSERT_NE(sent.output.find("20 packets transmitted"), std::string::npos) << sent.output;
  ASSERT_TRUE(log_has({"ACTION=DROP", "REASON=blocked", "SRC=" + lab.cli_v4() + " "}))
      << daemon.log();
  int lines = 0;
  std::istringstream log(daemon.log());
  for (std::string line; std::getline(log, line);) {
    lines += line.find("SRC=" + lab.cli_v4() + " ") != std::string::npos;
  }
  const nlohmann::json s = status();
  std::printf("[blocked-log] 20 SYNs from a blocked source: %d log line(s), scan_blocked=%s\n",
              lines, s["counters"]["scan_blocked"].dump().c_str());
  EXPECT_EQ(lines, 1) << daemon.log();
  EXPECT_GE(s["counters"]["scan_blocked"].get<int>(), 20);
  const RunResult why =
      daemon.cli("explain tcp " + lab.cli_v4() + ":40000 \"->\" " + lab.srv_v4() + ":22");
  EXPECT_NE(why.output.find("DROP"), std::string::npos) << why.output;
  EXPECT_NE(why.output.find("blocked"), std::string::npos) << why.output;
  EXPECT_NE(why.output.find("until 20"), std::string::npos) << "the block's end\n" << why.output;
}

}  // namespace
}  // namespace portwall::lab
