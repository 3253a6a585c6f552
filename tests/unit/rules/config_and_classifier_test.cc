// The daemon configuration's keys, and the classifier's first-match semantics.
#include <gtest/gtest.h>

#include <filesystem>

#include "packet/packet_view.h"
#include "rules/classifier.h"
#include "rules/config.h"
#include "rules/rule_loader.h"

#ifndef PORTWALL_SOURCE_DIR
#define PORTWALL_SOURCE_DIR "."
#endif

namespace portwall {
namespace {

using std::chrono::seconds;

std::string config_errors(std::string_view text) {
  auto c = parse_config(text, "portwall.toml");
  return c ? "ok" : to_string(c.error());
}

TEST(Config, EmptyFileMeansTheDesignDefaults) {
  auto c = parse_config("", "portwall.toml");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->daemon.queues, std::vector<std::uint16_t>{100});
  EXPECT_TRUE(c->daemon.fail_open);
  EXPECT_EQ(c->daemon.mode, Mode::enforce);
  EXPECT_EQ(c->daemon.backend, Backend::automatic);
  EXPECT_EQ(c->daemon.socket, "/run/portwall/portwall.sock");
  EXPECT_EQ(c->log.file, "/var/log/portwall/portwall.log");
  EXPECT_EQ(c->log.max_lines_per_second, 100u);
  EXPECT_EQ(c->conntrack.max_entries, 262144u);
  EXPECT_EQ(c->conntrack.tcp_established_timeout, seconds(432000));
  EXPECT_EQ(c->conntrack.pickup_grace, seconds(60));
  EXPECT_FALSE(c->has_defaults);
}

TEST(Config, ShippedConfigIsValidAndMatchesTheDesign) {
  auto c = load_config(std::filesystem::path(PORTWALL_SOURCE_DIR) / "rules/portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->daemon.queues, (std::vector<std::uint16_t>{100, 101}));
  EXPECT_EQ(c->scan_detection.distinct_ports, 10u);
  EXPECT_EQ(c->scan_detection.block, seconds(600));
}

TEST(Config, EverySectionIsRead) {
  auto c = parse_config(R"(
[daemon]
queues = [7, 8]
fail_open = false
mode = "monitor"
backend = "iptables"
inspect = "new"
socket = "/tmp/pw.sock"
rules = "/tmp/rules.toml"
[log]
format = "json"
max_lines_per_second = 0
[defaults]
incoming = "reject"
[conntrack]
max_entries = 1024
udp_timeout = "45s"
[scan_detection]
enabled = false
window = "2s"
[[knock]]
name = "ssh"
sequence = ["7000/tcp", "8000/udp", "9000/tcp"]
open = "22/tcp"
duration = "1m"
)",
                        "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->daemon.queues, (std::vector<std::uint16_t>{7, 8}));
  EXPECT_FALSE(c->daemon.fail_open);
  EXPECT_EQ(c->daemon.mode, Mode::monitor);
  EXPECT_EQ(c->daemon.backend, Backend::iptables);
  EXPECT_EQ(c->daemon.inspect, Inspect::new_only);
  EXPECT_EQ(c->log.format, LogFormat::json);
  EXPECT_TRUE(c->has_defaults);
  EXPECT_EQ(c->defaults.incoming, Action::reject);
  EXPECT_EQ(c->conntrack.max_entries, 1024u);
  EXPECT_EQ(c->conntrack.udp_timeout, seconds(45));
  EXPECT_FALSE(c->scan_detection.enabled);
  ASSERT_EQ(c->knocks.size(), 1u);
  EXPECT_EQ(c->knocks[0].sequence.size(), 3u);
  EXPECT_EQ(c->knocks[0].duration, seconds(60));
}

TEST(Config, MistakesNameTheirPlace) {
  EXPECT_EQ(
      config_errors("[daemon]\nqueues = []\n"),
      "portwall.toml:2:10: queues must be a non-empty array of queue numbers, e.g. [100, 101]");
  EXPECT_EQ(config_errors("[daemon]\nqueues = [100, 100]\n"),
            "portwall.toml:2:16: queue 100 is listed twice");
  EXPECT_EQ(config_errors("[daemon]\nqueues = [70000]\n"),
            "portwall.toml:2:11: queue number must be 0-65535, got 70000");
  EXPECT_EQ(config_errors("[daemon]\nmode = \"audit\"\n"),
            "portwall.toml:2:8: mode must be enforce | monitor, got \"audit\"");
  EXPECT_EQ(config_errors("[conntrack]\nudp_timeout = \"30\"\n"),
            "portwall.toml:2:15: udp_timeout: expected a duration like \"30s\" (a whole number "
            "and one of ms, s, m, h, d), got \"30\"");
  EXPECT_EQ(config_errors("[conntrack]\nmax_entries = 3\n"),
            "portwall.toml:2:15: max_entries must be 16-67108864, got 3");
  EXPECT_EQ(config_errors("[deamon]\n"),
            "portwall.toml:1:2: unknown key 'deamon' in the configuration; expected one of "
            "daemon, log, defaults, conntrack, scan_detection, knock");
  EXPECT_EQ(config_errors("[[knock]]\nname = \"x\"\nsequence = [\"7000/icmp\", \"8000/tcp\"]\n"
                          "open = \"22/tcp\"\n"),
            "portwall.toml:3:13: knock must be \"port/tcp\" or \"port/udp\", got \"7000/icmp\"");
}

// Classifier: rules from TOML, packets as MatchInput.
Classifier classifier(std::string_view text) {
  auto set = parse_rules(text, "rules.toml");
  EXPECT_TRUE(set) << (set ? "" : to_string(set.error()));
  return Classifier(set ? *set : RuleSet{});
}

MatchInput in(std::uint8_t protocol, const char* src, std::uint16_t dport,
              std::uint16_t sport = 40000, const char* dst = "192.0.2.1") {
  MatchInput m;
  m.direction = Direction::in;
  m.protocol = protocol;
  m.src = *parse_ip_address(src);
  m.dst = *parse_ip_address(dst);
  m.src_port = sport;
  m.dst_port = dport;
  m.interface = "eth0";
  return m;
}

TEST(Classifier, FirstMatchWinsAndNoMatchIsNullopt) {
  const Classifier c = classifier(R"(
[[rule]]
action = "deny"
from = "198.51.100.0/24"
[[rule]]
action = "allow"
proto = "tcp"
port = "22"
)");
  EXPECT_EQ(c.match(in(ipproto::tcp, "198.51.100.7", 22)), 0u);
  EXPECT_EQ(c.match(in(ipproto::tcp, "203.0.113.9", 22)), 1u);
  EXPECT_EQ(c.match(in(ipproto::tcp, "203.0.113.9", 23)), std::nullopt);
  EXPECT_EQ(c.match(in(ipproto::udp, "203.0.113.9", 22)), std::nullopt);
}

TEST(Classifier, PortWithoutProtoMeansTcpAndUdpOnly) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nport = \"53\"\n");
  EXPECT_EQ(c.match(in(ipproto::tcp, "10.0.0.1", 53)), 0u);
  EXPECT_EQ(c.match(in(ipproto::udp, "10.0.0.1", 53)), 0u);
  EXPECT_EQ(c.match(in(ipproto::icmp, "10.0.0.1", 0)), std::nullopt);
}

TEST(Classifier, IcmpMeansBothFamilies) {
  const Classifier c = classifier("[[rule]]\naction = \"allow\"\nproto = \"icmp\"\n");
  EXPECT_EQ(c.match(in(ipproto::icmp, "10.0.0.1", 0, 0)), 0u);
  EXPECT_EQ(c.match(in(ipproto::icmpv6, "2001:db8::1", 0, 0, "2001:db8::2")), 0u);
  EXPECT_EQ(c.match(in(ipproto::tcp, "10.0.0.1", 80)), std::nullopt);
}

TEST(Classifier, DirectionInterfaceSourcePortAndIpv6) {
  const Classifier c = classifier(R"(
[[rule]]
action = "allow"
direction = "out"
[[rule]]
action = "allow"
interface = "eth1"
[[rule]]
action = "allow"
proto = "udp"
from_port = "123"
[[rule]]
action = "allow"
from = "2001:db8::/32"
)");
  EXPECT_EQ(c.match(in(ipproto::udp, "10.0.0.1", 123, 123)), 2u) << "out and eth1 skipped";
  EXPECT_EQ(c.match(in(ipproto::udp, "10.0.0.1", 123, 124)), std::nullopt);
  EXPECT_EQ(c.match(in(ipproto::tcp, "2001:db8::5", 80, 40000, "2001:db8::1")), 3u);
  MatchInput out = in(ipproto::tcp, "192.0.2.1", 80);
  out.direction = Direction::out;
  EXPECT_EQ(c.match(out), 0u);
}

TEST(Classifier, DefaultsByDirection) {
  const Classifier c = classifier("[defaults]\nincoming = \"reject\"\noutgoing = \"deny\"\n");
  EXPECT_EQ(c.default_action(Direction::in), Action::reject);
  EXPECT_EQ(c.default_action(Direction::out), Action::deny);
}

}  // namespace
}  // namespace portwall
