// The daemon configuration (portwall.toml): every key optional, DESIGN.md's defaults, and every
// mistake named with file:line:column.
#include "config/config.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "config/policy_files.h"
#include "rules/rule_values.h"

namespace portwall {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

// "ok", or every error, one per line.
std::string errors_of(std::string_view text) {
  auto c = parse_config(text, "portwall.toml");
  return c ? "ok" : to_string(c.error());
}

TEST(ParseConfig, EmptyFileMeansEveryDefaultOfTheDesign) {
  auto c = parse_config("", "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->daemon.queues, (std::vector<std::uint16_t>{100, 101}));
  EXPECT_TRUE(c->daemon.fail_open);
  EXPECT_EQ(c->daemon.mode, Mode::enforce);
  EXPECT_EQ(c->daemon.backend, Backend::automatic);
  EXPECT_EQ(c->daemon.inspect, Inspect::full);
  EXPECT_EQ(c->daemon.socket, "/run/portwall/portwall.sock");
  EXPECT_EQ(c->daemon.rules, "/etc/portwall/rules.toml");
  EXPECT_EQ(c->daemon.rules_dir, "");
  EXPECT_EQ(c->daemon.admin_group, "");
  EXPECT_EQ(c->daemon.read_group, "");
  EXPECT_EQ(c->log.file, "/var/log/portwall/portwall.log");
  EXPECT_EQ(c->log.audit_file, "/var/log/portwall/audit.log");
  EXPECT_EQ(c->log.format, LogFormat::text);
  EXPECT_EQ(c->log.max_lines_per_second, 100u);
  EXPECT_FALSE(c->has_defaults());
  EXPECT_EQ(c->defaults.incoming, Action::deny);
  EXPECT_EQ(c->defaults.outgoing, Action::allow);
  EXPECT_EQ(c->conntrack.max_entries, 262144u);
  EXPECT_EQ(c->conntrack.tcp_established_timeout, hours(5 * 24));
  EXPECT_EQ(c->conntrack.udp_timeout, seconds(30));
  EXPECT_EQ(c->conntrack.pickup_grace, seconds(60));
  EXPECT_TRUE(c->scan_detection.enabled);
  EXPECT_EQ(c->scan_detection.distinct_ports, 10u);
  EXPECT_EQ(c->scan_detection.window, seconds(5));
  EXPECT_EQ(c->scan_detection.block, minutes(10));
  EXPECT_TRUE(c->scan_detection.never_block.empty());
  EXPECT_TRUE(c->knocks.empty());
}

TEST(ParseConfig, DaemonSectionEveryKey) {
  auto c = parse_config(R"([daemon]
queues = [7, 8]
fail_open = false
mode = "monitor"
backend = "nftables"
inspect = "new"
socket = "/tmp/pw.sock"
rules = "/tmp/rules.toml"
rules_dir = "/tmp/rules.d"
admin_group = "netadmin"
read_group = "adm"
kernel_blocks = false
)",
                        "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->daemon.queues, (std::vector<std::uint16_t>{7, 8}));
  EXPECT_FALSE(c->daemon.fail_open);
  EXPECT_FALSE(c->daemon.kernel_blocks);
  EXPECT_TRUE(Config{}.daemon.kernel_blocks);
  EXPECT_EQ(c->daemon.mode, Mode::monitor);
  EXPECT_EQ(c->daemon.backend, Backend::nftables);
  EXPECT_EQ(c->daemon.inspect, Inspect::new_only);
  EXPECT_EQ(c->daemon.socket, "/tmp/pw.sock");
  EXPECT_EQ(c->daemon.rules, "/tmp/rules.toml");
  EXPECT_EQ(c->daemon.rules_dir, "/tmp/rules.d");
  EXPECT_EQ(c->daemon.admin_group, "netadmin");
  EXPECT_EQ(c->daemon.read_group, "adm");
}

TEST(ParseConfig, EveryBackendName) {
  EXPECT_EQ(parse_config("[daemon]\nbackend = \"auto\"\n", "p")->daemon.backend,
            Backend::automatic);
  EXPECT_EQ(parse_config("[daemon]\nbackend = \"iptables\"\n", "p")->daemon.backend,
            Backend::iptables);
  EXPECT_EQ(parse_config("[daemon]\nbackend = \"nftables\"\n", "p")->daemon.backend,
            Backend::nftables);
}

TEST(ParseConfig, LogSectionEveryKey) {
  auto c = parse_config(R"([log]
file = "/tmp/pw.log"
audit_file = "/tmp/audit.log"
format = "json"
max_lines_per_second = 0
)",
                        "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->log.file, "/tmp/pw.log");
  EXPECT_EQ(c->log.audit_file, "/tmp/audit.log");
  EXPECT_EQ(c->log.format, LogFormat::json);
  EXPECT_EQ(c->log.max_lines_per_second, 0u);
}

TEST(ParseConfig, DefaultsSectionBothDirections) {
  auto c = parse_config("[defaults]\nincoming = \"reject\"\noutgoing = \"deny\"\n", "p");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_TRUE(c->has_defaults());
  EXPECT_EQ(c->defaults.incoming, Action::reject);
  EXPECT_EQ(c->defaults.outgoing, Action::deny);
}

TEST(ParseConfig, ConntrackSectionEveryKey) {
  auto c = parse_config(R"([conntrack]
max_entries = 1024
tcp_established_timeout = "2h"
udp_timeout = "45s"
pickup_grace = "500ms"
)",
                        "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->conntrack.max_entries, 1024u);
  EXPECT_EQ(c->conntrack.tcp_established_timeout, hours(2));
  EXPECT_EQ(c->conntrack.udp_timeout, seconds(45));
  EXPECT_EQ(c->conntrack.pickup_grace, milliseconds(500));
}

TEST(ParseConfig, ScanDetectionSectionEveryKey) {
  auto c = parse_config(R"([scan_detection]
enabled = false
distinct_ports = 20
window = "2s"
block = "1h"
never_block = ["192.0.2.10", "2001:db8::/32"]
)",
                        "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_FALSE(c->scan_detection.enabled);
  EXPECT_EQ(c->scan_detection.distinct_ports, 20u);
  EXPECT_EQ(c->scan_detection.window, seconds(2));
  EXPECT_EQ(c->scan_detection.block, hours(1));
  EXPECT_EQ(c->scan_detection.never_block,
            (std::vector<Cidr>{*parse_cidr("192.0.2.10/32"), *parse_cidr("2001:db8::/32")}));
}

TEST(ParseConfig, KnockSectionEveryKey) {
  auto c = parse_config(R"([[knock]]
name = "ssh"
sequence = ["7000/tcp", "8000/udp", "9000/tcp"]
window = "15s"
open = "22/tcp"
duration = "1m"
)",
                        "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  ASSERT_EQ(c->knocks.size(), 1u);
  const KnockSection& k = c->knocks[0];
  EXPECT_EQ(k.name, "ssh");
  EXPECT_EQ(k.sequence, (std::vector<PortProto>{{6, 7000}, {17, 8000}, {6, 9000}}));
  EXPECT_EQ(k.window, seconds(15));
  EXPECT_EQ(k.open, (std::vector<PortProto>{{6, 22}}));
  EXPECT_EQ(k.duration, minutes(1));
  EXPECT_EQ(to_string(k.sequence[1]), "8000/udp");
}

TEST(ParseConfig, KnockOneTimeSequencesSpaAndSeveralOpenPorts) {
  auto c = parse_config(R"([[knock]]
name = "ssh"
one_time_sequences = [["7001/tcp", "7002/tcp"], ["7003/udp", "7004/tcp"]]
open = ["22/tcp", "2222/tcp"]
spa_port = 62201
spa_key = "0123456789abcdef0123"
spa_window = "20s"
)",
                        "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  const KnockSection& k = c->knocks.at(0);
  EXPECT_TRUE(k.sequence.empty());
  ASSERT_EQ(k.one_time_sequences.size(), 2u);
  EXPECT_EQ(k.one_time_sequences[1], (std::vector<PortProto>{{17, 7003}, {6, 7004}}));
  EXPECT_EQ(k.open, (std::vector<PortProto>{{6, 22}, {6, 2222}}));
  EXPECT_EQ(k.spa_port, 62201);
  EXPECT_EQ(k.spa_key, "0123456789abcdef0123");
  EXPECT_EQ(k.spa_window, seconds(20));
}

TEST(ParseConfig, SpaMistakesAreNamed) {
  EXPECT_EQ(errors_of("[[knock]]\nname = \"x\"\nspa_port = 62201\nopen = \"22/tcp\"\n"),
            "portwall.toml:1:1: [[knock]] x: spa_port needs spa_key or spa_key_file");
  EXPECT_EQ(errors_of("[[knock]]\nname = \"x\"\nspa_port = 62201\nspa_key = \"short\"\n"
                      "open = \"22/tcp\"\n"),
            "portwall.toml:4:11: spa key must be at least 16 bytes (try: openssl rand -hex 32)");
  EXPECT_EQ(errors_of("[[knock]]\nname = \"x\"\nspa_port = 62201\nspa_key_file = "
                      "\"/nonexistent/key\"\nopen = \"22/tcp\"\n"),
            "portwall.toml:4:16: cannot read /nonexistent/key: No such file or directory");
}

TEST(ParseConfig, LimitsSectionEveryKey) {
  auto c = parse_config(R"([limits]
new_connections = "20/1m"
new_connections_burst = 30
max_connections_per_source = 100
max_sources = 1000
max_blocks = 500
)",
                        "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->limits.new_connections, (Rate{20, minutes(1), 30}));
  EXPECT_EQ(c->limits.max_connections_per_source, 100u);
  EXPECT_EQ(c->limits.max_sources, 1000u);
  EXPECT_EQ(c->limits.max_blocks, 500u);
  EXPECT_EQ(errors_of("[limits]\nnew_connections = \"20\"\n"),
            "portwall.toml:2:19: new_connections: expected a rate like \"6/30s\" (connections, "
            "a slash, a duration), got \"20\"");
}

TEST(ParseConfig, KnockWindowAndDurationHaveDefaults) {
  auto c = parse_config(
      "[[knock]]\nname = \"ssh\"\nsequence = [\"7000/tcp\", \"8000/tcp\"]\n"
      "open = \"ssh/tcp\"\n",
      "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->knocks.at(0).window, seconds(10));
  EXPECT_EQ(c->knocks.at(0).duration, seconds(30));
}

TEST(ParseConfig, SeveralKnocksKeepTheirOrder) {
  auto c = parse_config(
      "[[knock]]\nname = \"a\"\nsequence = [\"1/tcp\", \"2/tcp\"]\nopen = \"22/tcp\"\n"
      "[[knock]]\nname = \"b\"\nsequence = [\"3/udp\", \"4/udp\"]\nopen = \"80/tcp\"\n",
      "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  ASSERT_EQ(c->knocks.size(), 2u);
  EXPECT_EQ(c->knocks[0].name, "a");
  EXPECT_EQ(c->knocks[1].name, "b");
}

TEST(ParseConfig, UnknownTableListsTheExpectedTables) {
  EXPECT_EQ(errors_of("[deamon]\n"),
            "portwall.toml:1:2: unknown key 'deamon' in the configuration; expected one of "
            "daemon, log, defaults, conntrack, scan_detection, knock, limits, metrics, crowdsec");
}

TEST(ParseConfig, UnknownKeyInASectionListsTheExpectedKeys) {
  EXPECT_EQ(
      errors_of("[daemon]\nqueue = [100]\n"),
      "portwall.toml:2:1: unknown key 'queue' in [daemon]; expected one of queues, "
      "queue_length, fail_open, mode, backend, inspect, socket, rules, rules_dir, admin_group, "
      "read_group, state_file, kernel_blocks");
  EXPECT_EQ(errors_of("[conntrack]\ntcp_timeout = \"5d\"\n"),
            "portwall.toml:2:1: unknown key 'tcp_timeout' in [conntrack]; expected one of "
            "max_entries, tcp_established_timeout, udp_timeout, pickup_grace");
}

TEST(ParseConfig, SectionMustBeATable) {
  EXPECT_EQ(errors_of("daemon = 1\n"), "portwall.toml:1:10: [daemon] must be a table");
}

TEST(ParseConfig, QueueAboveRangeIsNamed) {
  EXPECT_EQ(errors_of("[daemon]\nqueues = [70000]\n"),
            "portwall.toml:2:11: queue number must be 0-65535, got 70000");
}

TEST(ParseConfig, NegativeQueueIsNamed) {
  EXPECT_EQ(errors_of("[daemon]\nqueues = [100, -1]\n"),
            "portwall.toml:2:16: queue number must be 0-65535, got -1");
}

TEST(ParseConfig, QueueMustBeAnInteger) {
  EXPECT_EQ(errors_of("[daemon]\nqueues = [\"100\"]\n"),
            "portwall.toml:2:11: queue number must be an integer, got a string");
}

TEST(ParseConfig, EmptyOrMissingQueueListIsAnError) {
  EXPECT_EQ(
      errors_of("[daemon]\nqueues = []\n"),
      "portwall.toml:2:10: queues must be a non-empty array of queue numbers, e.g. [100, 101]");
  EXPECT_EQ(
      errors_of("[daemon]\nqueues = 100\n"),
      "portwall.toml:2:10: queues must be a non-empty array of queue numbers, e.g. [100, 101]");
}

TEST(ParseConfig, DuplicateQueueIsNamed) {
  EXPECT_EQ(errors_of("[daemon]\nqueues = [100, 101, 100]\n"),
            "portwall.toml:2:21: queue 100 is listed twice");
}

TEST(ParseConfig, BadModeListsTheModes) {
  EXPECT_EQ(errors_of("[daemon]\nmode = \"audit\"\n"),
            "portwall.toml:2:8: mode must be enforce | monitor, got \"audit\"");
}

TEST(ParseConfig, BadBackendInspectAndFormatListTheirChoices) {
  EXPECT_EQ(errors_of("[daemon]\nbackend = \"ipfw\"\ninspect = \"all\"\n[log]\nformat = \"xml\"\n"),
            "portwall.toml:2:11: backend must be auto | iptables | nftables, got \"ipfw\"\n"
            "portwall.toml:3:11: inspect must be full | new, got \"all\"\n"
            "portwall.toml:5:10: format must be text | json, got \"xml\"");
}

TEST(ParseConfig, BooleanMustBeTrueOrFalse) {
  EXPECT_EQ(errors_of("[daemon]\nfail_open = \"yes\"\n"),
            "portwall.toml:2:13: fail_open must be true or false, got a string");
}

TEST(ParseConfig, LimitIsNotADefaultPolicy) {
  EXPECT_EQ(errors_of("[defaults]\noutgoing = \"limit\"\n"),
            "portwall.toml:2:12: outgoing must be allow | deny | reject, got \"limit\"");
}

TEST(ParseConfig, DurationWithoutUnitIsNamed) {
  EXPECT_EQ(errors_of("[conntrack]\nudp_timeout = \"30\"\n"),
            "portwall.toml:2:15: udp_timeout: expected a duration like \"30s\" (a whole number "
            "and one of ms, s, m, h, d), got \"30\"");
}

TEST(ParseConfig, DurationMustBeAString) {
  EXPECT_EQ(errors_of("[scan_detection]\nwindow = 5\n"),
            "portwall.toml:2:10: window must be a string, got an integer");
}

TEST(ParseConfig, NumbersOutsideTheirBoundsAreNamed) {
  EXPECT_EQ(errors_of("[conntrack]\nmax_entries = 3\n"),
            "portwall.toml:2:15: max_entries must be 16-67108864, got 3");
  EXPECT_EQ(errors_of("[scan_detection]\ndistinct_ports = 1\n"),
            "portwall.toml:2:18: distinct_ports must be 2-65535, got 1");
  EXPECT_EQ(errors_of("[log]\nmax_lines_per_second = 2000000\n"),
            "portwall.toml:2:24: max_lines_per_second must be 0-1000000, got 2000000");
}

TEST(ParseConfig, NeverBlockWithHostBitsNamesTheNetworkMeant) {
  EXPECT_EQ(errors_of("[scan_detection]\nnever_block = [\"10.1.2.3/8\"]\n"),
            "portwall.toml:2:16: never_block: \"10.1.2.3/8\" has host bits set; did you mean "
            "\"10.0.0.0/8\"?");
}

TEST(ParseConfig, NeverBlockMustBeAnArray) {
  EXPECT_EQ(errors_of("[scan_detection]\nnever_block = \"10.0.0.0/8\"\n"),
            "portwall.toml:2:15: never_block must be an array of addresses or networks");
}

TEST(ParseConfig, KnockNeedsNameSequenceAndOpen) {
  EXPECT_EQ(errors_of("[[knock]]\nwindow = \"5s\"\n"),
            "portwall.toml:1:1: [[knock]] needs a name\n"
            "portwall.toml:1:1: [[knock]] needs a sequence (or one_time_sequences, or spa_port)\n"
            "portwall.toml:1:1: [[knock]] needs open = \"port/proto\"");
}

TEST(ParseConfig, KnockSequenceNeedsAtLeastTwoKnocks) {
  EXPECT_EQ(errors_of("[[knock]]\nname = \"x\"\nsequence = [\"7000/tcp\"]\nopen = \"22/tcp\"\n"),
            "portwall.toml:3:12: sequence must be an array of at least two \"port/proto\" "
            "knocks");
}

TEST(ParseConfig, KnockMustBePortSlashTcpOrUdp) {
  EXPECT_EQ(errors_of("[[knock]]\nname = \"x\"\nsequence = [\"7000/icmp\", \"8000\", "
                      "\"70000/tcp\", \"7000:7001/tcp\"]\nopen = \"22/tcp\"\n"),
            "portwall.toml:3:13: knock must be \"port/tcp\" or \"port/udp\", got \"7000/icmp\"\n"
            "portwall.toml:3:26: knock must be \"port/tcp\" or \"port/udp\", got \"8000\"\n"
            "portwall.toml:3:34: knock must be \"port/tcp\" or \"port/udp\", got \"70000/tcp\"\n"
            "portwall.toml:3:47: knock must be \"port/tcp\" or \"port/udp\", got "
            "\"7000:7001/tcp\"");
}

TEST(ParseConfig, KnockItemMustBeAString) {
  EXPECT_EQ(
      errors_of("[[knock]]\nname = \"x\"\nsequence = [7000, \"8000/tcp\"]\nopen = \"22/tcp\"\n"),
      "portwall.toml:3:13: sequence item must be a string, got an integer");
}

TEST(ParseConfig, KnockOpenMustBePortSlashTcpOrUdp) {
  EXPECT_EQ(errors_of("[[knock]]\nname = \"x\"\nsequence = [\"7000/tcp\", \"8000/tcp\"]\n"
                      "open = \"22\"\n"),
            "portwall.toml:4:8: open must be \"port/tcp\" or \"port/udp\", got \"22\"");
}

TEST(ParseConfig, KnockDurationIsValidated) {
  EXPECT_EQ(errors_of("[[knock]]\nname = \"x\"\nsequence = [\"7000/tcp\", \"8000/tcp\"]\n"
                      "open = \"22/tcp\"\nduration = \"forever\"\n"),
            "portwall.toml:5:12: duration: expected a duration like \"30s\" (a whole number and "
            "one of ms, s, m, h, d), got \"forever\"");
}

TEST(ParseConfig, SingleKnockTableSaysToWriteDoubleBrackets) {
  EXPECT_EQ(errors_of("[knock]\nname = \"x\"\n"),
            "portwall.toml:1:1: knock sequences are written as [[knock]] tables");
}

TEST(ParseConfig, UnquotedWordGetsTheHintAboutQuoting) {
  EXPECT_EQ(errors_of("[daemon]\nmode = monitor\n"),
            "portwall.toml:2:8: Error while parsing value: could not determine value type "
            "(strings must be quoted: proto = \"tcp\")");
  EXPECT_EQ(errors_of("[daemon]\nbackend = nftables\n"),
            "portwall.toml:2:12: Error while parsing floating-point: expected 'nan', saw 'nf' "
            "(strings must be quoted: proto = \"tcp\")");
}

TEST(ParseConfig, SeveralErrorsAreCollectedAtOnce) {
  EXPECT_EQ(errors_of("[daemon]\nqueues = [100, 100]\nmode = \"audit\"\n"
                      "[conntrack]\nudp_timeout = \"30\"\n"),
            "portwall.toml:2:16: queue 100 is listed twice\n"
            "portwall.toml:3:8: mode must be enforce | monitor, got \"audit\"\n"
            "portwall.toml:5:15: udp_timeout: expected a duration like \"30s\" (a whole number "
            "and one of ms, s, m, h, d), got \"30\"");
}

TEST(LoadConfig, MissingFileSaysSo) {
  char name[] = "/tmp/portwall-config-test-XXXXXX";
  ASSERT_NE(mkdtemp(name), nullptr);
  const std::filesystem::path file = std::filesystem::path(name) / "portwall.toml";
  auto c = load_config(file);
  std::filesystem::remove_all(name);
  ASSERT_FALSE(c);
  EXPECT_EQ(to_string(c.error()), file.string() + ": cannot read: No such file or directory");
}

// The SPA key opens the door for whoever holds it: as sshd refuses a private key that others
// can read, portwall refuses a key file (or an inline key in a configuration file) they can.
TEST(LoadConfig, AnSpaKeyOtherUsersCanReadIsRefused) {
  char name[] = "/tmp/portwall-config-test-XXXXXX";
  ASSERT_NE(mkdtemp(name), nullptr);
  const std::filesystem::path dir(name);
  const std::string key = (dir / "spa.key").string();
  std::ofstream(key) << "0123456789abcdef0123\n";
  const std::filesystem::path file = dir / "portwall.toml";
  std::ofstream(file) << "[[knock]]\nname = \"spa\"\nspa_port = 62201\nspa_key_file = \"" << key
                      << "\"\nopen = \"22/tcp\"\n";
  std::vector<std::pair<mode_t, std::string>> seen;
  for (mode_t mode : {0644, 0604, 0620, 0602, 0600, 0640, 0400}) {
    chmod(key.c_str(), mode);
    auto c = load_config(file);
    seen.emplace_back(mode, c ? "ok" : to_string(c.error()));
  }
  chmod(file.c_str(), 0644);
  std::ofstream(file) << "[[knock]]\nname = \"spa\"\nspa_port = 62201\n"
                         "spa_key = \"0123456789abcdef0123\"\nopen = \"22/tcp\"\n";
  auto inline_public = load_config(file);
  chmod(file.c_str(), 0640);
  auto inline_private = load_config(file);
  std::filesystem::remove_all(dir);
  const std::string where = file.string() + ":4:16: spa_key_file " + key;
  EXPECT_EQ(seen[0].second, where +
                                " is readable by users other than its owner (mode 0644): "
                                "anyone who reads the key opens the door; chmod 600 " +
                                key + " (or 640 with group portwall)");
  EXPECT_NE(seen[1].second.find("is readable by users other than its owner (mode 0604)"),
            std::string::npos)
      << seen[1].second;
  EXPECT_NE(seen[2].second.find("is writable by users other than its owner (mode 0620)"),
            std::string::npos)
      << seen[2].second;
  EXPECT_NE(seen[3].second.find("(mode 0602)"), std::string::npos) << seen[3].second;
  EXPECT_EQ(seen[4].second, "ok") << "0600";
  EXPECT_EQ(seen[5].second, "ok") << "0640: readable by the group (root or portwall)";
  EXPECT_EQ(seen[6].second, "ok") << "0400";
  ASSERT_FALSE(inline_public);
  EXPECT_EQ(to_string(inline_public.error()),
            file.string() + ": [[knock]] spa has its spa_key inline and " + file.string() +
                " is readable by every user: anyone who reads it opens the door; chmod 640 " +
                file.string() + " (root:portwall) or move the key to a spa_key_file of mode 600");
  EXPECT_TRUE(inline_private) << to_string(inline_private.error());
}

TEST(ParseConfig, SpaDestinationsAreAddresses) {
  auto c = parse_config(
      "[[knock]]\nname = \"spa\"\nspa_port = 62201\nspa_key = \"0123456789abcdef0123\"\n"
      "open = \"22/tcp\"\nspa_destinations = [\"192.0.2.80\", \"2001:db8::80\"]\n",
      "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(
      c->knocks.at(0).spa_destinations,
      (std::vector<IpAddress>{*parse_ip_address("192.0.2.80"), *parse_ip_address("2001:db8::80")}));
  EXPECT_EQ(errors_of("[[knock]]\nname = \"spa\"\nspa_port = 62201\nspa_key = "
                      "\"0123456789abcdef0123\"\nopen = \"22/tcp\"\nspa_destinations = "
                      "[\"gateway\"]\n"),
            "portwall.toml:6:21: spa_destinations: not an IPv4 or IPv6 address: \"gateway\"");
}

TEST(ParseConfig, MetricsTextfileAndIntervalAreReadAndChecked) {
  auto c = parse_config(
      "[metrics]\ntextfile = \"/var/lib/prometheus/node-exporter/pw.prom\"\n"
      "interval = \"30s\"\n",
      "portwall.toml");
  ASSERT_TRUE(c) << to_string(c.error());
  EXPECT_EQ(c->metrics.textfile, "/var/lib/prometheus/node-exporter/pw.prom");
  EXPECT_EQ(c->metrics.interval, std::chrono::seconds(30));
  auto none = parse_config("", "portwall.toml");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->metrics.textfile, "");
  EXPECT_EQ(none->metrics.interval, std::chrono::seconds(15));
  EXPECT_EQ(errors_of("[metrics]\ntextfile = \"/tmp/pw.txt\"\n"),
            "portwall.toml:2:12: textfile: node_exporter reads only files ending in .prom");
  EXPECT_EQ(errors_of("[metrics]\ninterval = \"500ms\"\n"),
            "portwall.toml:2:12: interval: at least \"1s\"");
}

TEST(ParseConfig, LogTargetIsFileSyslogOrJournald) {
  EXPECT_EQ(parse_config("", "portwall.toml")->log.target, LogTarget::file);
  EXPECT_EQ(parse_config("[log]\ntarget = \"syslog\"\n", "portwall.toml")->log.target,
            LogTarget::syslog);
  EXPECT_EQ(parse_config("[log]\ntarget = \"journald\"\n", "portwall.toml")->log.target,
            LogTarget::journald);
  EXPECT_EQ(errors_of("[log]\ntarget = \"kafka\"\n"),
            "portwall.toml:2:10: target must be file | syslog | journald, got \"kafka\"");
}

// A reload applies the rules and the defenses; what portwalld reads once is named, so that the
// administrator knows a restart is needed.
TEST(ParseConfig, KeysNeedingARestartAreNamed) {
  auto running = parse_config("[daemon]\nqueues = [100, 101]\n", "portwall.toml");
  ASSERT_TRUE(running);
  auto same = parse_config("[daemon]\nqueues = [100, 101]\n[scan_detection]\nblock = \"1h\"\n",
                           "portwall.toml");
  ASSERT_TRUE(same);
  EXPECT_TRUE(keys_needing_restart(*running, *same).empty());
  auto fresh = parse_config(
      "[daemon]\nqueues = [100]\nfail_open = false\nrules = \"/srv/rules.toml\"\n"
      "[log]\nfile = \"/srv/pw.log\"\n[conntrack]\nmax_entries = 1000\n",
      "portwall.toml");
  ASSERT_TRUE(fresh) << to_string(fresh.error());
  EXPECT_EQ(keys_needing_restart(*running, *fresh),
            (std::vector<std::string>{"[daemon] queues", "[daemon] fail_open", "[log] file",
                                      "[conntrack] max_entries"}));
}

// `portwall check FILE` once guessed from line prefixes, so a configuration holding only
// [metrics] (or dotted keys) was read as rules.
TEST(FileKind, ATableOnlyAConfigurationHasMakesItOne) {
  EXPECT_EQ(file_kind_of("[metrics]\ninterval = \"10s\"\n"), FileKind::configuration);
  EXPECT_EQ(file_kind_of("metrics.interval = \"10s\"\n"), FileKind::configuration);
  EXPECT_EQ(file_kind_of("daemon = { queues = [100] }\n"), FileKind::configuration);
  EXPECT_EQ(file_kind_of("  [log]\n"), FileKind::configuration);
  EXPECT_EQ(file_kind_of("[defaults]\nincoming = \"deny\"\n"), FileKind::rules);
  EXPECT_EQ(file_kind_of("[[rule]]\naction = \"allow\"\nport = \"22\"\n"), FileKind::rules);
  EXPECT_EQ(file_kind_of("[[rule]\n"), FileKind::rules) << "broken: its errors say where";
}

}  // namespace
}  // namespace portwall
