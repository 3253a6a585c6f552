// The decision log line: DESIGN.md's format, field by field.
#include "audit/log_event.h"

#include <gtest/gtest.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "audit/log_rate_limiter.h"

namespace portwall {
namespace {

LogEvent tcp_drop() {
  LogEvent e;
  e.unix_ms = 1795473667123;  // 2026-11-23T22:41:07.123Z
  e.decision = {Verdict::drop, Reason::rule, 7, true};
  e.direction = Direction::in;
  std::strcpy(e.in_interface, "eth0");
  e.src = *parse_ip_address("203.0.113.9");
  e.dst = *parse_ip_address("192.0.2.1");
  e.protocol = ipproto::tcp;
  e.src_port = 51234;
  e.dst_port = 23;
  e.tcp_flags = tcpflag::syn;
  e.length = 60;
  return e;
}

TEST(DecisionLogLine, TextMatchesTheDesignExample) {
  EXPECT_EQ(format_text(tcp_drop()),
            "2026-11-23T22:41:07.123Z portwall ACTION=DROP RULE=7 REASON=rule DIR=in IN=eth0 OUT= "
            "SRC=203.0.113.9 DST=192.0.2.1 LEN=60 PROTO=TCP SPT=51234 DPT=23 FLAGS=S");
}

TEST(DecisionLogLine, ACrowdSecBlockSaysWhoDecided) {
  LogEvent e = tcp_drop();
  e.decision.reason = Reason::blocked;
  e.decision.rule_number = 0;
  e.decision.by_feed = true;
  const std::string line = format_text(e);
  EXPECT_NE(line.find("RULE=- REASON=blocked DIR=in"), std::string::npos) << line;
  EXPECT_TRUE(line.ends_with(" BY=crowdsec")) << line;
  EXPECT_NE(format_json(e).find("\"by\":\"crowdsec\""), std::string::npos) << format_json(e);
  e.decision.by_feed = false;
  EXPECT_EQ(format_text(e).find("BY="), std::string::npos);
}

TEST(DecisionLogLine, MonitorModeSaysSoRightAfterTheAction) {
  LogEvent e = tcp_drop();
  e.monitor = true;
  EXPECT_NE(format_text(e).find(" portwall ACTION=DROP MODE=monitor RULE=7 REASON=rule "),
            std::string::npos)
      << format_text(e);
  EXPECT_NE(format_json(e).find(R"("mode":"monitor")"), std::string::npos) << format_json(e);
  EXPECT_EQ(format_json(tcp_drop()).find("mode"), std::string::npos);
}

TEST(DecisionLogLine, DefaultPolicyHasNoRuleNumber) {
  LogEvent e = tcp_drop();
  e.decision = {Verdict::reject, Reason::default_policy, 0, true};
  EXPECT_NE(format_text(e).find("ACTION=REJECT RULE=- REASON=default"), std::string::npos);
}

TEST(DecisionLogLine, IcmpCarriesTypeAndCodeInsteadOfPorts) {
  LogEvent e = tcp_drop();
  e.protocol = ipproto::icmpv6;
  e.src = *parse_ip_address("2001:db8::9");
  e.dst = *parse_ip_address("2001:db8::1");
  e.icmp_type = 128;
  const std::string line = format_text(e);
  EXPECT_NE(line.find("SRC=2001:db8::9 DST=2001:db8::1 LEN=60 PROTO=ICMPv6 TYPE=128 CODE=0"),
            std::string::npos)
      << line;
  EXPECT_EQ(line.find("SPT="), std::string::npos);
}

TEST(DecisionLogLine, JsonHasTheSameFieldsInLowerCase) {
  const nlohmann::json j = nlohmann::json::parse(format_json(tcp_drop()));
  EXPECT_EQ(j["timestamp"], "2026-11-23T22:41:07.123Z");
  EXPECT_EQ(j["action"], "DROP");
  EXPECT_EQ(j["rule"], 7);
  EXPECT_EQ(j["reason"], "rule");
  EXPECT_EQ(j["dir"], "in");
  EXPECT_EQ(j["in"], "eth0");
  EXPECT_EQ(j["src"], "203.0.113.9");
  EXPECT_EQ(j["dst"], "192.0.2.1");
  EXPECT_EQ(j["proto"], "TCP");
  EXPECT_EQ(j["spt"], 51234);
  EXPECT_EQ(j["dpt"], 23);
  EXPECT_EQ(j["flags"], "S");
}

TEST(DecisionLogLine, MalformedPacketSaysSo) {
  LogEvent e = tcp_drop();
  e.malformed = true;
  e.decision = {Verdict::drop, Reason::invalid, 0, true};
  EXPECT_EQ(format_text(e),
            "2026-11-23T22:41:07.123Z portwall ACTION=DROP RULE=- REASON=invalid DIR=in IN=eth0 "
            "OUT= MALFORMED=1");
}

TEST(TcpFlagLetters, InFixedOrder) {
  EXPECT_EQ(tcp_flag_letters(tcpflag::syn | tcpflag::ack), "SA");
  EXPECT_EQ(tcp_flag_letters(tcpflag::fin | tcpflag::psh | tcpflag::urg), "FPU");
  EXPECT_EQ(tcp_flag_letters(0), "0");
}

TEST(LogRateLimiter, AllowsTheRateThenSuppressesAndCounts) {
  LogRateLimiter limiter(3);
  const Timestamp t0 = Timestamp{} + std::chrono::seconds(100);
  int allowed = 0;
  for (int i = 0; i < 10; ++i) allowed += limiter.allow(t0);
  EXPECT_EQ(allowed, 3);
  EXPECT_EQ(limiter.take_suppressed(), 7u);
  EXPECT_EQ(limiter.take_suppressed(), 0u);
  EXPECT_TRUE(limiter.allow(t0 + std::chrono::milliseconds(400)));  // 1.2 tokens refilled
  EXPECT_FALSE(limiter.allow(t0 + std::chrono::milliseconds(400)));
}

TEST(LogRateLimiter, ZeroMeansUnlimited) {
  LogRateLimiter limiter(0);
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(limiter.allow(Timestamp{}));
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

// What the kernel's set of blocks dropped is known by its counter only: the block's address or
// range for SRC, and the count, even of one packet.
TEST(DecisionLogLine, DropsCountedInTheKernelNameTheBlockAndTheCountOnly) {
  LogEvent e;
  e.unix_ms = 1795473667123;
  e.decision = {Verdict::drop, Reason::scan_block, 0, true};
  e.decision.count = 1;
  e.src = *parse_ip_address("203.0.113.9");
  e.src_prefix = 32;
  e.in_kernel = true;
  EXPECT_EQ(format_text(e),
            "2026-11-23T22:41:07.123Z portwall ACTION=DROP RULE=- REASON=scan-block DIR=in IN= "
            "OUT= SRC=203.0.113.9 IN_KERNEL=1 COUNT=1");
  e.decision.reason = Reason::blocked;
  e.decision.by_feed = true;
  e.decision.count = 4000;
  e.src = *parse_ip_address("2001:db8:7::");
  e.src_prefix = 48;
  EXPECT_TRUE(format_text(e).ends_with(" SRC=2001:db8:7::/48 IN_KERNEL=1 COUNT=4000 BY=crowdsec"))
      << format_text(e);
  const nlohmann::json j = nlohmann::json::parse(format_json(e));
  EXPECT_EQ(j["src"], "2001:db8:7::/48");
  EXPECT_EQ(j["in_kernel"], true);
  EXPECT_EQ(j["count"], 4000);
  EXPECT_EQ(j["by"], "crowdsec");
  EXPECT_FALSE(j.contains("dst"));
}

}  // namespace
}  // namespace portwall
