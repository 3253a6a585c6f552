// `portwall explain`: the probe's words, and the answer for rules, defaults and state.
#include "policy/explain.h"

#include <gtest/gtest.h>

#include <sstream>

#include "rules/rule_loader.h"
#include "test_words.h"

namespace portwall {
namespace {

using test::split;

std::string probe_error(const std::string& line) {
  const auto words = split(line);
  auto p = parse_probe(words);
  return p ? "parsed" : p.error();
}

Probe probe(const std::string& line) {
  const auto words = split(line);
  auto p = parse_probe(words);
  EXPECT_TRUE(p) << line << ": " << (p ? "" : p.error());
  return p ? *p : Probe{};
}

PolicySnapshot policy() {
  auto set = parse_rules(R"(
[defaults]
outgoing = "reject"
[[rule]]
action = "allow"
proto = "tcp"
port = "22"
[[rule]]
action = "deny"
from = "2001:db8:bad::/48"
)",
                         "rules.toml");
  EXPECT_TRUE(set);
  return PolicySnapshot(*set);
}

TEST(Explain, ParsesBothFamiliesDirectionAndInterface) {
  const Probe v4 = probe("tcp 203.0.113.9:40000 -> 192.0.2.1:22");
  EXPECT_EQ(v4.input.protocol, ipproto::tcp);
  EXPECT_EQ(v4.input.src_port, 40000);
  EXPECT_EQ(v4.input.dst_port, 22);
  EXPECT_EQ(v4.input.direction, Direction::in);
  const Probe v6 = probe("udp [2001:db8::9]:5000 -> [2001:db8::1]:53 out on eth1");
  EXPECT_EQ(v6.input.src.family, Family::ipv6);
  EXPECT_EQ(v6.input.direction, Direction::out);
  EXPECT_EQ(v6.interface, "eth1");
  EXPECT_EQ(probe("icmp 2001:db8::9 -> 2001:db8::1").input.protocol, ipproto::icmpv6);
  // "to" for the arrow, which a shell would take as a redirection unquoted.
  const Probe to = probe("tcp 203.0.113.9:40000 to 192.0.2.1:22 in");
  EXPECT_EQ(to.input.dst_port, 22);
  EXPECT_EQ(to.input.dst, v4.input.dst);
}

TEST(Explain, WrongProbesSayWhatWasExpected) {
  EXPECT_EQ(probe_error("tcp 1.2.3.4:1"),
            "expected PROTO SRC[:PORT] ->|to DST[:PORT] [in|out|route] [on IFACE] [out on IFACE]");
  // What the CLI gets from `portwall explain tcp 1.2.3.4:1 -> 5.6.7.8:22` in a shell.
  EXPECT_EQ(probe_error("tcp 1.2.3.4:1 - in on eth0"), probe_error("tcp 1.2.3.4:1 -"));
  EXPECT_EQ(probe_error("tcp 1.2.3.4:1 -"),
            "the shell took the > of an unquoted -> as a redirection (the output went to a file "
            "named after the destination): write to instead, or '->' in quotes");
  EXPECT_EQ(probe_error("gre 1.2.3.4 -> 5.6.7.8"),
            "protocol must be tcp, udp or icmp, got \"gre\"");
  EXPECT_EQ(probe_error("tcp 1.2.3.4:0 -> 5.6.7.8:22"), "port must be 1-65535, got \"0\"");
  EXPECT_EQ(probe_error("tcp host:1 -> 5.6.7.8:22"),
            "expected an address (with :PORT), got \"host:1\"");
  EXPECT_EQ(probe_error("tcp 1.2.3.4:1 -> [2001:db8::1]:22"),
            "source and destination must both be IPv4 or both IPv6");
  EXPECT_EQ(probe_error("tcp 1.2.3.4:1 -> 5.6.7.8:22 sideways"),
            "unexpected \"sideways\"; expected PROTO SRC[:PORT] ->|to DST[:PORT] [in|out|route] "
            "[on IFACE] [out on IFACE]");
}

TEST(Explain, FirstMatchingRuleDecides) {
  const Explanation e =
      explain(policy(), probe("tcp 203.0.113.9:40000 -> 192.0.2.1:22"), std::nullopt);
  EXPECT_EQ(e.decision.verdict, Verdict::accept);
  EXPECT_EQ(e.decision.rule_number, 1u);
  EXPECT_EQ(e.rule, "allow in proto tcp from any to any port 22");
  EXPECT_EQ(e.why, "rule 1 is the first that matches (rules.toml:4)");
}

TEST(Explain, NoRuleMeansTheDefaultOfThatDirection) {
  const Explanation e =
      explain(policy(), probe("udp 192.0.2.1:5000 -> 198.51.100.1:53 out"), std::nullopt);
  EXPECT_EQ(e.decision.verdict, Verdict::reject);
  EXPECT_EQ(e.decision.reason, Reason::default_policy);
  EXPECT_EQ(e.why, "no rule matches, so the default outgoing policy (reject) decides");
}

TEST(Explain, ATrackedConnectionPassesByState) {
  const Explanation e = explain(policy(), probe("tcp 192.0.2.1:22 -> 203.0.113.9:40000"),
                                TrackedFlow{TcpState::established});
  EXPECT_EQ(e.decision.reason, Reason::state);
  EXPECT_EQ(e.why,
            "it belongs to a tracked connection (ESTABLISHED), which passes by state whatever the "
            "rules say");
}

// A connection a rule change or a block cut is dropped until it ends: explain says so, as the
// packet path does (it once answered ACCEPT by state).
TEST(Explain, ACutConnectionIsDroppedAndSaysWhatCutIt) {
  Explanation e = explain(policy(), probe("tcp 203.0.113.9:40000 -> 192.0.2.1:22"),
                          TrackedFlow{TcpState::established, true, 0});
  EXPECT_EQ(e.decision.verdict, Verdict::drop);
  EXPECT_EQ(e.decision.reason, Reason::default_policy);
  EXPECT_EQ(e.why,
            "it belongs to a connection (ESTABLISHED) cut when the policy changed (the default "
            "policy or a block denied it): its packets are dropped until it ends");
  e = explain(policy(), probe("tcp 203.0.113.9:40000 -> 192.0.2.1:22"),
              TrackedFlow{TcpState::established, true, 2});
  EXPECT_EQ(e.decision.reason, Reason::rule);
  EXPECT_EQ(e.decision.rule_number, 2u);
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(ExplainDefenses, ABlockedSourceIsDroppedBeforeAnythingElse) {
  DefenseFacts f;
  f.blocked = "203.0.113.9 is blocked (scan) until 2026-12-03T10:00:00.000Z";
  const Explanation e =
      explain(policy(), probe("tcp 203.0.113.9:40000 -> 192.0.2.1:22"), TrackedFlow{}, f);
  EXPECT_EQ(e.decision.verdict, Verdict::drop);
  EXPECT_EQ(e.decision.reason, Reason::scan_block);
  EXPECT_EQ(e.why, f.blocked + ": every packet is dropped, open connections too");
  // But a connection kept through the block (blocked add --keep-established) passes.
  TrackedFlow kept{TcpState::established};
  kept.outlives_block = true;
  const Explanation k = explain(policy(), probe("tcp 203.0.113.9:40000 -> 192.0.2.1:22"), kept, f);
  EXPECT_EQ(k.decision.verdict, Verdict::accept);
  EXPECT_EQ(k.decision.reason, Reason::state);
  EXPECT_NE(k.why.find("kept through the block (" + f.blocked + ")"), std::string::npos) << k.why;
}

TEST(ExplainDefenses, KnockPortsAndOpenedDoors) {
  DefenseFacts knock;
  knock.knock_port = "ssh";
  Explanation e = explain(policy(), probe("tcp 203.0.113.9:40000 -> 192.0.2.1:7000"), std::nullopt, knock);
  EXPECT_EQ(e.decision.reason, Reason::knock);
  EXPECT_EQ(e.decision.verdict, Verdict::drop);
  EXPECT_EQ(e.why,
            "the port is a knock of [[knock]] \"ssh\": dropped silently, whatever the "
            "rules say");
  DefenseFacts opened;
  opened.opened_by = "web";
  e = explain(policy(), probe("tcp 203.0.113.9:40000 -> 192.0.2.1:8443"), std::nullopt,
              opened);
  EXPECT_EQ(e.decision.verdict, Verdict::accept);
  EXPECT_EQ(e.decision.reason, Reason::knock);
  EXPECT_EQ(e.why, "[[knock]] \"web\" opened the port for this source");
}

TEST(ExplainDefenses, LimitsAreNamedAndAUsedUpLimitDrops) {
  DefenseFacts f;
  f.limits_note = "[limits] allows 20/1m new connections per source";
  Explanation e =
      explain(policy(), probe("tcp 203.0.113.9:40000 -> 192.0.2.1:22"), std::nullopt, f);
  EXPECT_EQ(e.decision.verdict, Verdict::accept);
  EXPECT_NE(e.why.find("; [limits] allows 20/1m new connections per source"), std::string::npos);
  f.limit = "this source used up [limits] new_connections";
  e = explain(policy(), probe("tcp 203.0.113.9:40000 -> 192.0.2.1:22"), std::nullopt, f);
  EXPECT_EQ(e.decision.verdict, Verdict::drop);
  EXPECT_EQ(e.decision.reason, Reason::rate_limit);
  EXPECT_EQ(e.decision.rule_number, 1u);
  EXPECT_NE(e.why.find("but right now this source used up [limits] new_connections"),
            std::string::npos)
      << e.why;
}

}  // namespace
}  // namespace portwall
