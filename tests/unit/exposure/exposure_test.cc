// Who can reach a listening port: the incoming rules walked in order for a new connection.
#include "exposure/exposure.h"

#include <gtest/gtest.h>

#include "rules/rule_loader.h"

namespace portwall {
namespace {

RuleSet rules_of(const std::string& toml) {
  auto r = parse_rules(toml, "rules.toml");
  EXPECT_TRUE(r);
  return r ? *r : RuleSet{};
}

IpAddress ip(const char* text) { return *parse_ip_address(text); }

const char* kRules = R"(
[defaults]
incoming = "deny"

[[rule]]
action = "allow"
proto = "tcp"
port = "22"

[[rule]]
action = "limit"
proto = "tcp"
port = "2222"

[[rule]]
action = "allow"
proto = "tcp"
port = "5432"
from = "10.0.0.0/8"

[[rule]]
action = "allow"
proto = "tcp"
port = "8080"

[[rule]]
action = "deny"
port = "80"
from = "203.0.113.0/24"

[[rule]]
action = "allow"
port = "80"
)";

TEST(Exposure, TheFirstRuleForEverySourceDecidesEarlierPartialOnesLetSomeIn) {
  const RuleSet rules = rules_of(kRules);
  const IpAddress any4 = ip("0.0.0.0");
  Exposure ssh = exposure_of(rules, {}, Proto::tcp, any4, 22);
  EXPECT_EQ(ssh.reach, Reach::everyone);
  EXPECT_EQ(ssh.rule, 1u);
  EXPECT_EQ(exposure_of(rules, {}, Proto::tcp, any4, 2222).reach, Reach::limited);
  Exposure db = exposure_of(rules, {}, Proto::tcp, ip("::"), 5432);
  EXPECT_EQ(db.reach, Reach::some);
  EXPECT_EQ(db.rule, 0u);  // everyone else: the default policy
  EXPECT_EQ(db.partial, std::vector<std::uint32_t>{3});
  // A partial deny before the allow: everyone else still gets in.
  Exposure web = exposure_of(rules, {}, Proto::tcp, any4, 80);
  EXPECT_EQ(web.reach, Reach::everyone);
  EXPECT_EQ(web.rule, 6u);
  EXPECT_EQ(exposure_of(rules, {}, Proto::udp, any4, 80).rule, 6u);  // proto any
  Exposure closed = exposure_of(rules, {}, Proto::tcp, any4, 3306);
  EXPECT_EQ(closed.reach, Reach::nobody);
  EXPECT_EQ(closed.rule, 0u);
  EXPECT_EQ(exposure_of(rules, {}, Proto::udp, any4, 22).reach, Reach::nobody);  // tcp only
}

TEST(Exposure, LoopbackIsThisHostOnlyAndAKnockOpensAClosedPort) {
  const RuleSet rules = rules_of(kRules);
  EXPECT_EQ(exposure_of(rules, {}, Proto::tcp, ip("127.0.0.1"), 3306).reach, Reach::local);
  EXPECT_EQ(exposure_of(rules, {}, Proto::tcp, ip("::1"), 22).reach, Reach::local);
  KnockSection knock;
  knock.name = "db";
  knock.open = {{6, 3306}};
  Exposure e = exposure_of(rules, {knock}, Proto::tcp, ip("10.0.0.1"), 3306);
  EXPECT_EQ(e.reach, Reach::knock);
  EXPECT_EQ(e.knocks, std::vector<std::string>{"db"});
  EXPECT_EQ(exposure_of(rules, {knock}, Proto::udp, ip("10.0.0.1"), 3306).reach, Reach::nobody);
}

TEST(Exposure, ARuleForOtherAddressesOrAnInterfaceOnlyLetsSomeIn) {
  const RuleSet rules = rules_of(R"(
[[rule]]
action = "allow"
proto = "tcp"
port = "443"
to = "192.0.2.1"

[[rule]]
action = "allow"
proto = "tcp"
port = "993"
interface = "eth1"
)");
  EXPECT_EQ(exposure_of(rules, {}, Proto::tcp, ip("192.0.2.1"), 443).reach, Reach::everyone);
  EXPECT_EQ(exposure_of(rules, {}, Proto::tcp, ip("192.0.2.2"), 443).reach, Reach::nobody);
  EXPECT_EQ(exposure_of(rules, {}, Proto::tcp, ip("0.0.0.0"), 443).reach, Reach::some);
  EXPECT_EQ(exposure_of(rules, {}, Proto::tcp, ip("0.0.0.0"), 993).reach, Reach::some);
}

TEST(Exposure, AllowsWithoutAListenerAreListed) {
  const RuleSet rules = rules_of(kRules);
  const std::vector<ListeningSocket> sockets = {
      {Proto::tcp, ip("0.0.0.0"), 22, 0, 1},
      {Proto::tcp, ip("127.0.0.1"), 8080, 0, 2},  // loopback: not reachable through the rule
      {Proto::udp, ip("::"), 80, 0, 3},
  };
  // 2222 (limit), 5432 and 8080 have no outside listener; 80 is heard over UDP.
  EXPECT_EQ(allows_without_listener(rules, sockets), (std::vector<std::uint32_t>{2, 3, 4}));
}

TEST(Exposure, PortClasses) {
  const std::optional<PortRange> range = PortRange{32768, 60999};
  EXPECT_STREQ(port_class(22, range), "well-known");
  EXPECT_STREQ(port_class(5432, range), "registered");
  EXPECT_STREQ(port_class(40000, range), "ephemeral");
  EXPECT_STREQ(port_class(61000, range), "dynamic");
  EXPECT_STREQ(port_class(40000, std::nullopt), "registered");
}

}  // namespace
}  // namespace portwall
