// Rule files: what a valid file means, and what each mistake says, with file:line:column.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "rules/duration.h"
#include "rules/rule_loader.h"
#include "rules/rule_values.h"

#ifndef PORTWALL_SOURCE_DIR
#define PORTWALL_SOURCE_DIR "."
#endif

namespace portwall {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using std::chrono::seconds;

std::string errors_of(std::string_view text) {
  auto r = parse_rules(text, "rules.toml");
  return r ? "ok" : to_string(r.error());
}

TEST(Duration, WholeNumberAndOneUnit) {
  EXPECT_EQ(*parse_duration("500ms"), milliseconds(500));
  EXPECT_EQ(*parse_duration("30s"), seconds(30));
  EXPECT_EQ(*parse_duration("10m"), seconds(600));
  EXPECT_EQ(*parse_duration("2h"), seconds(7200));
  EXPECT_EQ(*parse_duration("5d"), seconds(432000));
}

TEST(Duration, MissingOrUnknownUnitOrSignIsAnError) {
  for (const char* bad : {"30", "30x", "-5s", "s", "", "1.5s"}) {
    auto d = parse_duration(bad);
    ASSERT_FALSE(d) << bad;
    EXPECT_EQ(d.error(), std::string("expected a duration like \"30s\" (a whole number and one of "
                                     "ms, s, m, h, d), got \"") +
                             bad + "\"");
  }
}

TEST(Duration, FormatsInTheLargestExactUnit) {
  EXPECT_EQ(format_duration(seconds(432000)), "5d");
  EXPECT_EQ(format_duration(seconds(90)), "90s");
  EXPECT_EQ(format_duration(milliseconds(1500)), "1500ms");
}

TEST(RuleValues, CidrOfBothFamilies) {
  auto v4 = parse_cidr("10.0.0.0/8");
  ASSERT_TRUE(v4);
  EXPECT_TRUE(v4->contains(*parse_ip_address("10.200.1.2")));
  EXPECT_FALSE(v4->contains(*parse_ip_address("11.0.0.1")));
  EXPECT_FALSE(v4->contains(*parse_ip_address("::ffff:10.0.0.1")));
  auto v6 = parse_cidr("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(*parse_ip_address("2001:db8:1::5")));
  EXPECT_EQ(parse_cidr("192.0.2.7")->prefix_length, 32);
}

TEST(RuleValues, HostBitsSetNamesTheNetworkMeant) {
  EXPECT_EQ(parse_cidr("10.1.2.3/8").error(),
            "\"10.1.2.3/8\" has host bits set; did you mean \"10.0.0.0/8\"?");
  EXPECT_EQ(parse_cidr("10.0.0.0/33").error(), "prefix length must be 0-32, got \"10.0.0.0/33\"");
  EXPECT_EQ(parse_cidr("ten").error(),
            "expected an address, a CIDR prefix, any or @set, got \"ten\"");
}

TEST(RuleValues, PortsRangesListsAndServiceNames) {
  auto p = parse_ports("80,443,8000:8100", Proto::tcp);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->matches(443));
  EXPECT_TRUE(p->matches(8050));
  EXPECT_FALSE(p->matches(8101));
  auto ssh = parse_ports("ssh", Proto::any);
  ASSERT_TRUE(ssh) << ssh.error();
  EXPECT_EQ(ssh->ranges[0], (PortRange{22, 22}));
}

TEST(RuleValues, BadPortsSayWhatWasExpected) {
  EXPECT_EQ(parse_ports("70000", Proto::tcp).error(), "port must be 1-65535, got 70000");
  EXPECT_EQ(parse_ports("0", Proto::tcp).error(), "port must be 1-65535, got 0");
  EXPECT_EQ(parse_ports("9000:8000", Proto::tcp).error(),
            "port range \"9000:8000\" runs backwards; write 8000:9000");
  EXPECT_EQ(parse_ports("nosuchservice", Proto::tcp).error(),
            "unknown port or service \"nosuchservice\" (expected 1-65535, a:b, a list, or a name "
            "from /etc/services)");
  EXPECT_EQ(parse_ports("80,,81", Proto::tcp).error(), "empty item in port list \"80,,81\"");
  EXPECT_EQ(parse_ports("1:2,3:4,5:6,7:8,9:10,11:12,13:14,15:16", Proto::tcp).error(),
            "at most 15 ports in one rule (a range counts as 2), got 16 in "
            "\"1:2,3:4,5:6,7:8,9:10,11:12,13:14,15:16\"");
}

TEST(RuleValues, InterfaceNamesFollowLinuxRules) {
  EXPECT_TRUE(check_interface("eth0"));
  EXPECT_TRUE(check_interface("enp0s31f6"));
  EXPECT_EQ(check_interface("a-very-long-interface").error(),
            "interface name must be 1-15 characters, got \"a-very-long-interface\"");
  EXPECT_EQ(check_interface("eth0:1").error(),
            "interface name \"eth0:1\" may not contain '/', ':' or white space");
}

TEST(RuleLoader, ReadsEveryKeyOfARule) {
  auto set = parse_rules(R"(
[defaults]
incoming = "reject"
outgoing = "deny"

[sets]
admins = ["10.0.0.0/24", "fd00:10::/64"]

[[rule]]
action = "limit"
direction = "in"
proto = "tcp"
from = "@admins"
to = "192.0.2.1"
port = "ssh"
from_port = "1024:65535"
interface = "eth0"
log = true
comment = "admins"
)",
                         "rules.toml");
  ASSERT_TRUE(set) << to_string(set.error());
  EXPECT_TRUE(set->has_defaults);
  EXPECT_EQ(set->defaults.incoming, Action::reject);
  EXPECT_EQ(set->defaults.outgoing, Action::deny);
  ASSERT_EQ(set->rules.size(), 1u);
  const Rule& r = set->rules[0];
  EXPECT_EQ(r.action, Action::limit);
  EXPECT_EQ(r.proto, Proto::tcp);
  EXPECT_EQ(r.from.prefixes.size(), 2u);
  EXPECT_EQ(r.from_text, "@admins");
  EXPECT_EQ(r.to_text, "192.0.2.1");
  EXPECT_EQ(r.port_text, "ssh");
  EXPECT_TRUE(r.port.matches(22));
  EXPECT_TRUE(r.from_port.matches(40000));
  EXPECT_EQ(r.interface, "eth0");
  EXPECT_TRUE(r.log);
  EXPECT_EQ(r.comment, "admins");
  EXPECT_EQ(r.origin.file, "rules.toml");
  EXPECT_EQ(r.origin.line, 9);
}

TEST(RuleLoader, DefaultsWhenKeysAreLeftOut) {
  auto set = parse_rules("[[rule]]\naction = \"allow\"\n", "rules.toml");
  ASSERT_TRUE(set);
  EXPECT_FALSE(set->has_defaults);
  EXPECT_EQ(set->defaults.incoming, Action::deny);
  EXPECT_EQ(set->rules[0].direction, Direction::in);
  EXPECT_EQ(set->rules[0].proto, Proto::any);
  EXPECT_TRUE(set->rules[0].from.any);
  EXPECT_TRUE(set->rules[0].port.any());
}

TEST(RuleLoader, PortAboveRangeNamesLineAndColumn) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nport = 70000\n"),
            "rules.toml:3:8: port must be 1-65535, got 70000");
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nport = \"70000\"\n"),
            "rules.toml:3:8: port must be 1-65535, got 70000");
}

TEST(RuleLoader, UnquotedWordGetsAHintToQuoteIt) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nproto = tcp\n"),
            "rules.toml:3:10: Error while parsing boolean: expected 'true', saw 'tc' (strings "
            "must be quoted: proto = \"tcp\")");
}

TEST(RuleLoader, EveryMistakeIsReportedNotJustTheFirst) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"alow\"\nprot = \"tcp\"\nfrom = \"10.1.2.3/8\"\n"
                      "\n[[rule]]\nproto = \"icmp\"\nport = \"22\"\n"),
            "rules.toml:3:1: unknown key 'prot' in [[rule]]; expected one of action, direction, "
            "proto, from, to, port, from_port, interface, log, comment\n"
            "rules.toml:2:10: action must be allow | deny | reject | limit, got \"alow\"\n"
            "rules.toml:4:8: from: \"10.1.2.3/8\" has host bits set; did you mean "
            "\"10.0.0.0/8\"?\n"
            "rules.toml:6:1: [[rule]] needs an action (allow | deny | reject | limit)\n"
            "rules.toml:8:8: port needs proto tcp, udp or any; ICMP has no ports");
}

TEST(RuleLoader, UnknownSetAndUnknownTopLevelTable) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nfrom = \"@nobody\"\n"),
            "rules.toml:3:8: unknown set 'nobody'; define it under [sets]");
  EXPECT_EQ(errors_of("[rules]\nx = 1\n"),
            "rules.toml:1:2: unknown key 'rules' in a rule file; expected one of defaults, sets, "
            "rule");
}

TEST(RuleLoader, BadDefaultIsNamed) {
  EXPECT_EQ(errors_of("[defaults]\nincoming = \"limit\"\n"),
            "rules.toml:2:12: incoming must be allow | deny | reject, got \"limit\"");
}

class DropIns : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir / "rules.d"); }
  void TearDown() override { fs::remove_all(dir); }
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
  }
  fs::path dir = fs::temp_directory_path() / ("pw-rules-" + std::to_string(getpid()));
};

TEST_F(DropIns, AppendedInAlphabeticalOrderSkippingDotFilesAndOthers) {
  write("rules.toml",
        "[sets]\nadmins = [\"10.0.0.0/8\"]\n[[rule]]\naction = \"allow\"\n"
        "comment = \"main\"\n");
  write("rules.d/20-b.toml", "[[rule]]\naction = \"deny\"\ncomment = \"b\"\n");
  write("rules.d/10-a.toml", "[[rule]]\naction = \"allow\"\nfrom = \"@admins\"\ncomment = \"a\"\n");
  write("rules.d/.hidden.toml", "not toml at all [[[");
  write("rules.d/notes.txt", "not toml at all [[[");
  auto set = load_rules(dir / "rules.toml", dir / "rules.d");
  ASSERT_TRUE(set) << to_string(set.error());
  ASSERT_EQ(set->rules.size(), 3u);
  EXPECT_EQ(set->rules[0].comment, "main");
  EXPECT_EQ(set->rules[1].comment, "a");
  EXPECT_FALSE(set->rules[1].from.any) << "a drop-in may use the main file's sets";
  EXPECT_EQ(set->rules[2].comment, "b");
}

TEST_F(DropIns, OneBrokenDropInFailsTheWholeLoad) {
  write("rules.toml", "[[rule]]\naction = \"allow\"\n");
  write("rules.d/10-a.toml", "[[rule]]\naction = \"allow\"\nport = 0\n");
  auto set = load_rules(dir / "rules.toml", dir / "rules.d");
  ASSERT_FALSE(set);
  EXPECT_EQ(to_string(set.error()),
            (dir / "rules.d/10-a.toml").string() + ":3:8: port must be 1-65535, got 0");
}

TEST_F(DropIns, DefaultsAndDuplicateSetsBelongToOneFileOnly) {
  write("rules.toml", "[sets]\nadmins = [\"10.0.0.0/8\"]\n");
  write("rules.d/10-a.toml", "[defaults]\nincoming = \"allow\"\n[sets]\nadmins = []\n");
  auto set = load_rules(dir / "rules.toml", dir / "rules.d");
  ASSERT_FALSE(set);
  const std::string file = (dir / "rules.d/10-a.toml").string();
  EXPECT_EQ(to_string(set.error()), file +
                                        ":1:1: [defaults] belongs in the main rules file only\n" +
                                        file + ":4:1: set 'admins' is already defined");
}

TEST_F(DropIns, MissingMainFileSaysSoAndMissingDirectoryIsFine) {
  auto missing = load_rules(dir / "nope.toml");
  ASSERT_FALSE(missing);
  EXPECT_EQ(to_string(missing.error()),
            (dir / "nope.toml").string() + ": cannot read: No such file or directory");
  write("rules.toml", "[[rule]]\naction = \"allow\"\n");
  EXPECT_TRUE(load_rules(dir / "rules.toml", dir / "absent.d"));
}

TEST(ShippedRules, EveryShippedRuleFileIsValid) {
  const fs::path root = PORTWALL_SOURCE_DIR;
  std::vector<fs::path> files = {root / "rules/default.toml"};
  for (const auto& e : fs::directory_iterator(root / "rules/examples")) files.push_back(e.path());
  ASSERT_GE(files.size(), 3u);
  for (const fs::path& f : files) {
    auto set = load_rules(f);
    EXPECT_TRUE(set) << f << ": " << (set ? "" : to_string(set.error()));
    if (set) {
      EXPECT_FALSE(set->rules.empty()) << f;
    }
  }
}

TEST(ShippedRules, DefaultAllowsSshInAndDeniesTheRest) {
  auto set = load_rules(fs::path(PORTWALL_SOURCE_DIR) / "rules/default.toml");
  ASSERT_TRUE(set);
  EXPECT_EQ(set->defaults.incoming, Action::deny);
  EXPECT_EQ(set->defaults.outgoing, Action::allow);
  ASSERT_EQ(set->rules.size(), 1u);
  EXPECT_EQ(set->rules[0].action, Action::allow);
  EXPECT_TRUE(set->rules[0].port.matches(22));
}

}  // namespace
}  // namespace portwall
