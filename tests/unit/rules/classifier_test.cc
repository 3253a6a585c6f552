// The classifier: which rule decides a packet that starts a flow. First match wins.
#include "rules/classifier.h"

#include <gtest/gtest.h>

#include <random>

#include "packet/packet_view.h"
#include "rules/rule_loader.h"

namespace portwall {
namespace {

Classifier classifier(std::string_view rules_toml) {
  auto set = parse_rules(rules_toml, "rules.toml");
  EXPECT_TRUE(set) << (set ? "" : to_string(set.error()));
  return Classifier(set ? *set : RuleSet{});
}

// An incoming packet on eth0 to 192.0.2.1 from source port 40000.
struct Packet {
  MatchInput m;

  explicit Packet(std::uint8_t protocol) {
    m.direction = Direction::in;
    m.protocol = protocol;
    m.src = *parse_ip_address("203.0.113.9");
    m.dst = *parse_ip_address("192.0.2.1");
    m.src_port = protocol == ipproto::tcp || protocol == ipproto::udp ? 40000 : 0;
    m.interface = "eth0";
  }
  Packet& out() {
    m.direction = Direction::out;
    return *this;
  }
  Packet& from(const char* address) {
    m.src = *parse_ip_address(address);
    return *this;
  }
  Packet& to(const char* address) {
    m.dst = *parse_ip_address(address);
    return *this;
  }
  Packet& port(std::uint16_t p) {
    m.dst_port = p;
    return *this;
  }
  Packet& from_port(std::uint16_t p) {
    m.src_port = p;
    return *this;
  }
  Packet& on(std::string_view interface) {
    m.interface = interface;
    return *this;
  }
  operator const MatchInput&() const { return m; }
};

Packet tcp() { return Packet(ipproto::tcp); }
Packet udp() { return Packet(ipproto::udp); }

TEST(Classifier, NoRulesMatchNothing) {
  const Classifier c = classifier("");
  EXPECT_EQ(c.match(tcp().port(22)), std::nullopt);
}

TEST(Classifier, FirstMatchWins) {
  const Classifier c = classifier(R"(
[[rule]]
action = "deny"
from = "198.51.100.0/24"
[[rule]]
action = "allow"
proto = "tcp"
port = "22"
[[rule]]
action = "reject"
proto = "tcp"
port = "22"
)");
  EXPECT_EQ(c.match(tcp().from("198.51.100.7").port(22)), 0u);
  EXPECT_EQ(c.match(tcp().port(22)), 1u) << "the later rule for port 22 is never reached";
}

TEST(Classifier, NoMatchingRuleIsNullopt) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"22\"\n");
  EXPECT_EQ(c.match(tcp().port(23)), std::nullopt);
  EXPECT_EQ(c.match(udp().port(22)), std::nullopt);
}

TEST(Classifier, RuleMatchesOnlyItsDirection) {
  const Classifier c = classifier(
      "[[rule]]\naction = \"allow\"\ndirection = \"out\"\n[[rule]]\naction = \"deny\"\n");
  EXPECT_EQ(c.match(tcp().port(80)), 1u);
  EXPECT_EQ(c.match(tcp().out().port(80)), 0u);
}

TEST(Classifier, DirectionDefaultsToIn) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\n");
  EXPECT_EQ(c.match(tcp()), 0u);
  EXPECT_EQ(c.match(tcp().out()), std::nullopt);
}

TEST(Classifier, ProtoAnyWithoutPortsMatchesEveryProtocol) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\n");
  EXPECT_EQ(c.match(tcp()), 0u);
  EXPECT_EQ(c.match(udp()), 0u);
  EXPECT_EQ(c.match(Packet(ipproto::icmp)), 0u);
  EXPECT_EQ(c.match(Packet(47)), 0u) << "GRE";
}

TEST(Classifier, ProtoAnyWithAPortMatchesOnlyTcpAndUdp) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nport = \"53\"\n");
  EXPECT_EQ(c.match(tcp().port(53)), 0u);
  EXPECT_EQ(c.match(udp().port(53)), 0u);
  EXPECT_EQ(c.match(Packet(ipproto::icmp)), std::nullopt);
  EXPECT_EQ(c.match(Packet(132).port(53)), std::nullopt) << "SCTP has ports, but not in ufw";
}

TEST(Classifier, ProtoAnyWithASourcePortMatchesOnlyTcpAndUdp) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nfrom_port = \"123\"\n");
  EXPECT_EQ(c.match(udp().from_port(123)), 0u);
  EXPECT_EQ(c.match(Packet(ipproto::icmp)), std::nullopt);
}

TEST(Classifier, TcpAndUdpRulesMatchOnlyTheirProtocol) {
  const Classifier c = classifier(
      "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\n[[rule]]\naction = \"deny\"\n"
      "proto = \"udp\"\n");
  EXPECT_EQ(c.match(tcp()), 0u);
  EXPECT_EQ(c.match(udp()), 1u);
  EXPECT_EQ(c.match(Packet(ipproto::icmp)), std::nullopt);
}

TEST(Classifier, IcmpMatchesIcmpAndIcmpv6) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nproto = \"icmp\"\n");
  EXPECT_EQ(c.match(Packet(ipproto::icmp)), 0u);
  EXPECT_EQ(c.match(Packet(ipproto::icmpv6).from("2001:db8::1").to("2001:db8::2")), 0u);
  EXPECT_EQ(c.match(tcp()), std::nullopt);
  EXPECT_EQ(c.match(udp()), std::nullopt);
}

TEST(Classifier, FromMatchesTheSourcePrefix) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nfrom = \"10.0.0.0/8\"\n");
  EXPECT_EQ(c.match(tcp().from("10.200.0.1")), 0u);
  EXPECT_EQ(c.match(tcp().from("11.0.0.1")), std::nullopt);
  EXPECT_EQ(c.match(tcp().from("192.0.2.1").to("10.0.0.1")), std::nullopt)
      << "the destination does not count";
}

TEST(Classifier, ToMatchesTheDestinationPrefix) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nto = \"192.0.2.0/28\"\n");
  EXPECT_EQ(c.match(tcp().to("192.0.2.15")), 0u);
  EXPECT_EQ(c.match(tcp().to("192.0.2.16")), std::nullopt);
}

TEST(Classifier, SingleAddressMatchesOnlyItself) {
  const Classifier c = classifier("[[rule]]\naction = \"deny\"\nfrom = \"198.51.100.7\"\n");
  EXPECT_EQ(c.match(tcp().from("198.51.100.7")), 0u);
  EXPECT_EQ(c.match(tcp().from("198.51.100.8")), std::nullopt);
}

TEST(Classifier, Ipv6Prefix) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nfrom = \"2001:db8::/32\"\n");
  EXPECT_EQ(c.match(tcp().from("2001:db8:ffff::5").to("2001:db8::1")), 0u);
  EXPECT_EQ(c.match(tcp().from("2001:db9::5").to("2001:db8::1")), std::nullopt);
}

TEST(Classifier, Ipv4RuleNeverMatchesIpv6) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nfrom = \"0.0.0.0/0\"\n");
  EXPECT_EQ(c.match(tcp().from("198.51.100.7")), 0u);
  EXPECT_EQ(c.match(tcp().from("::ffff:198.51.100.7").to("2001:db8::1")), std::nullopt);
}

TEST(Classifier, SetMatchesEitherFamily) {
  const Classifier c = classifier(
      "[sets]\nadmins = [\"10.0.0.0/24\", \"fd00:10::/64\"]\n"
      "[[rule]]\naction = \"allow\"\nfrom = \"@admins\"\n");
  EXPECT_EQ(c.match(tcp().from("10.0.0.9")), 0u);
  EXPECT_EQ(c.match(tcp().from("fd00:10::9").to("2001:db8::1")), 0u);
  EXPECT_EQ(c.match(tcp().from("10.0.1.9")), std::nullopt);
}

TEST(Classifier, PortRangeAndList) {
  const Classifier c =
      classifier("[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"80,443,8000:8100\"\n");
  EXPECT_EQ(c.match(tcp().port(80)), 0u);
  EXPECT_EQ(c.match(tcp().port(443)), 0u);
  EXPECT_EQ(c.match(tcp().port(8100)), 0u);
  EXPECT_EQ(c.match(tcp().port(8101)), std::nullopt);
}

TEST(Classifier, FromPortMatchesTheSourcePort) {
  const Classifier c =
      classifier("[[rule]]\naction = \"allow\"\nproto = \"udp\"\nfrom_port = \"123\"\n");
  EXPECT_EQ(c.match(udp().from_port(123).port(40000)), 0u);
  EXPECT_EQ(c.match(udp().from_port(124).port(123)), std::nullopt)
      << "the destination port does not count";
}

TEST(Classifier, InterfaceMatchesOnlyThatInterface) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\ninterface = \"eth1\"\n");
  EXPECT_EQ(c.match(tcp().on("eth1")), 0u);
  EXPECT_EQ(c.match(tcp().on("eth0")), std::nullopt);
  EXPECT_EQ(c.match(tcp().on("")), std::nullopt) << "an unknown interface is not eth1";
}

TEST(Classifier, RuleWithoutInterfaceMatchesEveryInterface) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\n");
  EXPECT_EQ(c.match(tcp().on("wg0")), 0u);
  EXPECT_EQ(c.match(tcp().on("")), 0u);
}

TEST(Classifier, EveryConditionMustHold) {
  const Classifier c = classifier(R"(
[[rule]]
action = "allow"
proto = "tcp"
from = "10.0.0.0/8"
to = "192.0.2.1"
port = "22"
interface = "eth0"
)");
  EXPECT_EQ(c.match(tcp().from("10.0.0.1").port(22)), 0u);
  EXPECT_EQ(c.match(tcp().from("10.0.0.1").port(22).on("eth1")), std::nullopt);
  EXPECT_EQ(c.match(tcp().from("10.0.0.1").port(22).to("192.0.2.2")), std::nullopt);
  EXPECT_EQ(c.match(tcp().from("11.0.0.1").port(22)), std::nullopt);
  EXPECT_EQ(c.match(udp().from("10.0.0.1").port(22)), std::nullopt);
}

TEST(Classifier, DefaultActionByDirection) {
  const Classifier c = classifier("[defaults]\nincoming = \"reject\"\noutgoing = \"deny\"\n");
  EXPECT_EQ(c.default_action(Direction::in), Action::reject);
  EXPECT_EQ(c.default_action(Direction::out), Action::deny);
}

TEST(Classifier, DefaultActionWithoutDefaultsTableIsDenyInAllowOut) {
  const Classifier c = classifier("");
  EXPECT_EQ(c.default_action(Direction::in), Action::deny);
  EXPECT_EQ(c.default_action(Direction::out), Action::allow);
}

TEST(Classifier, KeepsTheRuleSetItWasBuiltFrom) {
  const Classifier c = classifier("[[rule]]\naction = \"limit\"\ncomment = \"ssh\"\n");
  ASSERT_EQ(c.rule_set().rules.size(), 1u);
  EXPECT_EQ(c.rule_set().rules[0].action, Action::limit);
  EXPECT_EQ(c.rule_set().rules[0].comment, "ssh");
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

// The compiled classifier against the plain first-match scan it replaces, on random rule sets
// (every kind of condition, both families, big address lists) and random packets.
std::optional<std::size_t> first_match_by_scan(const RuleSet& set, const MatchInput& in) {
  for (std::size_t i = 0; i < set.rules.size(); ++i) {
    const Rule& r = set.rules[i];
    bool proto = false;
    switch (r.proto) {
      case Proto::any:
        proto = (r.port.any() && r.from_port.any()) || in.protocol == 6 || in.protocol == 17;
        break;
      case Proto::tcp:
        proto = in.protocol == 6;
        break;
      case Proto::udp:
        proto = in.protocol == 17;
        break;
      case Proto::icmp:
        proto = in.protocol == 1 || in.protocol == 58;
        break;
    }
    if (r.direction == in.direction && proto && r.from.matches(in.src) && r.to.matches(in.dst) &&
        r.port.matches(in.dst_port) && r.from_port.matches(in.src_port) &&
        (r.interface.empty() || r.interface == in.interface)) {
      return i;
    }
  }
  return std::nullopt;
}

IpAddress random_address(std::mt19937& rng, bool v6) {
  if (v6) {
    std::uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
    b[15] = static_cast<std::uint8_t>(rng() % 8);
    b[5] = static_cast<std::uint8_t>(rng() % 2);
    return IpAddress::v6(b);
  }
  const std::uint8_t b[4] = {10, static_cast<std::uint8_t>(rng() % 2),
                             static_cast<std::uint8_t>(rng() % 4),
                             static_cast<std::uint8_t>(rng() % 8)};
  return IpAddress::v4(b);
}

Cidr random_network(std::mt19937& rng, bool v6) {
  Cidr c{random_address(rng, v6), 0};
  const std::uint8_t lengths4[] = {8, 16, 24, 30, 32};
  const std::uint8_t lengths6[] = {32, 40, 64, 126, 128};
  c.prefix_length = v6 ? lengths6[rng() % 5] : lengths4[rng() % 5];
  for (std::size_t bit = c.prefix_length; bit < c.network.size() * 8; ++bit) {
    c.network.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
  }
  return c;
}

AddressMatch random_match(std::mt19937& rng) {
  AddressMatch m;
  if (rng() % 2) return m;
  m.any = false;
  const std::size_t n = rng() % 5 == 0 ? 40 : 1 + rng() % 3;  // sometimes a set
  std::vector<Cidr> prefixes;
  for (std::size_t i = 0; i < n; ++i) prefixes.push_back(random_network(rng, rng() % 3 == 0));
  m.prefixes = std::move(prefixes);
  return m;
}

PortMatch random_ports(std::mt19937& rng) {
  PortMatch p;
  switch (rng() % 4) {
    case 0:
      break;
    case 1:
      p.ranges = {{static_cast<std::uint16_t>(20 + rng() % 6), 0}};
      p.ranges[0].last = p.ranges[0].first;
      break;
    case 2:
      p.ranges = {{20, static_cast<std::uint16_t>(22 + rng() % 4)}, {80, 80}};
      break;
    case 3:
      p.ranges = {{1, 1000}};  // too wide to spread
      break;
  }
  return p;
}

// Random rule sets against the plain first-match scan; `tuning` as the classifier is told.
void agrees_with_the_scan(ClassifierTuning tuning) {
  std::mt19937 rng(42);
  for (int round = 0; round < 60; ++round) {
    RuleSet set;
    const int n = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) {
      Rule r;
      r.direction = rng() % 4 == 0 ? Direction::out : Direction::in;
      r.proto = static_cast<Proto>(rng() % 4);
      r.from = random_match(rng);
      r.to = random_match(rng);
      if (r.proto != Proto::icmp) {
        r.port = random_ports(rng);
        if (rng() % 6 == 0) r.from_port.ranges = {{1024, 65535}};
      }
      if (rng() % 8 == 0) r.interface = "eth0";
      set.rules.push_back(r);
    }
    const Classifier c(set, nullptr, tuning);
    for (int k = 0; k < 400; ++k) {
      MatchInput in;
      const bool v6 = rng() % 3 == 0;
      in.direction = rng() % 4 == 0 ? Direction::out : Direction::in;
      const std::uint8_t protos[] = {6, 17, static_cast<std::uint8_t>(v6 ? 58 : 1), 47};
      in.protocol = protos[rng() % 4];
      in.src = random_address(rng, v6);
      in.dst = random_address(rng, v6);
      if (in.protocol == 6 || in.protocol == 17) {
        in.src_port = static_cast<std::uint16_t>(rng() % 2 ? 40000 : 53);
        in.dst_port = static_cast<std::uint16_t>(18 + rng() % 70);
      }
      in.interface = rng() % 2 ? "eth0" : "eth1";
      ASSERT_EQ(c.match(in), first_match_by_scan(set, in)) << "round " << round << " probe " << k;
    }
  }
}

TEST(CompiledClassifier, AgreesWithTheFirstMatchScan) { agrees_with_the_scan({}); }

// The index keeps a fingerprint of each key, not the key: with one or three bits of it, most
// keys share a fingerprint, and every run a lookup meets must still be looked at.
TEST(CompiledClassifier, AgreesWithTheScanWhenFingerprintsCollide) {
  agrees_with_the_scan({.fingerprint_mask = 0x1});
  agrees_with_the_scan({.fingerprint_mask = 0x7});
}

TEST(CompiledClassifier, ManyRulesOfOneShapeAreOneGroup) {
  RuleSet set;
  for (std::uint32_t i = 0; i < 5000; ++i) {
    Rule r;
    r.action = Action::deny;
    const std::uint8_t b[4] = {198, 18, static_cast<std::uint8_t>(i >> 8),
                               static_cast<std::uint8_t>(i)};
    r.from = {false, {Cidr{IpAddress::v4(b), 32}}};
    set.rules.push_back(r);
  }
  const Classifier c(set);
  EXPECT_EQ(c.groups(), 1u);
  MatchInput in;
  in.protocol = 6;
  const std::uint8_t hit[4] = {198, 18, 19, 135};  // rule 5000 (index 4999)
  in.src = IpAddress::v4(hit);
  in.dst = IpAddress::v4(hit);
  EXPECT_EQ(c.match(in), 4999u);
}

}  // namespace
}  // namespace portwall
