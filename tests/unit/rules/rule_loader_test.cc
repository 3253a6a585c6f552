// Rule files: what a valid file means, and what each mistake says, with file:line:column.
#include "rules/rule_loader.h"

#include <sys/stat.h>

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

#include "rules/rule_values.h"
#include "rules/rule_writer.h"
#include "test_dir.h"

namespace portwall {
namespace {

namespace fs = std::filesystem;

// "ok", or every error of the document, one per line.
std::string errors_of(std::string_view text) {
  auto r = parse_rules(text, "rules.toml");
  return r ? "ok" : to_string(r.error());
}

RuleSet parsed(std::string_view text) {
  auto r = parse_rules(text, "rules.toml");
  EXPECT_TRUE(r) << (r ? "" : to_string(r.error()));
  return r ? *r : RuleSet{};
}

IpAddress ip(const char* text) { return *parse_ip_address(text); }

TEST(ParseRules, EmptyFileHasNoRulesAndTheBuiltInDefaults) {
  const RuleSet set = parsed("");
  EXPECT_TRUE(set.rules.empty());
  EXPECT_FALSE(set.has_defaults());
  EXPECT_EQ(set.defaults.incoming, Action::deny);
  EXPECT_EQ(set.defaults.outgoing, Action::allow);
}

TEST(ParseRules, LeftOutKeysMeanInAnyProtoAnyAddressAnyPortNoLog) {
  const RuleSet set = parsed("[[rule]]\naction = \"allow\"\n");
  ASSERT_EQ(set.rules.size(), 1u);
  const Rule& r = set.rules[0];
  EXPECT_EQ(r.action, Action::allow);
  EXPECT_EQ(r.direction, Direction::in);
  EXPECT_EQ(r.proto, Proto::any);
  EXPECT_TRUE(r.from.any);
  EXPECT_TRUE(r.to.any);
  EXPECT_TRUE(r.port.any());
  EXPECT_TRUE(r.from_port.any());
  EXPECT_EQ(r.interface, "");
  EXPECT_FALSE(r.log);
  EXPECT_EQ(r.comment, "");
  EXPECT_EQ(r.from_text, "any");
  EXPECT_EQ(r.to_text, "any");
  EXPECT_EQ(r.port_text, "");
  EXPECT_EQ(r.from_port_text, "");
}

TEST(ParseRules, EveryKeyOfARuleIsRead) {
  const RuleSet set = parsed(R"([[rule]]
action = "reject"
direction = "out"
proto = "udp"
from = "192.0.2.0/24"
to = "2001:db8::1"
port = "53"
from_port = "1024:65535"
interface = "eth1"
log = true
comment = "dns out"
)");
  ASSERT_EQ(set.rules.size(), 1u);
  const Rule& r = set.rules[0];
  EXPECT_EQ(r.action, Action::reject);
  EXPECT_EQ(r.direction, Direction::out);
  EXPECT_EQ(r.proto, Proto::udp);
  EXPECT_FALSE(r.from.any);
  EXPECT_EQ(r.from.prefixes, (std::vector<Cidr>{*parse_cidr("192.0.2.0/24")}));
  EXPECT_EQ(r.to.prefixes, (std::vector<Cidr>{*parse_cidr("2001:db8::1/128")}));
  EXPECT_EQ(r.port.ranges, (std::vector<PortRange>{{53, 53}}));
  EXPECT_EQ(r.from_port.ranges, (std::vector<PortRange>{{1024, 65535}}));
  EXPECT_EQ(r.interface, "eth1");
  EXPECT_TRUE(r.log);
  EXPECT_EQ(r.comment, "dns out");
  EXPECT_EQ(r.from_text, "192.0.2.0/24");
  EXPECT_EQ(r.to_text, "2001:db8::1");
  EXPECT_EQ(r.port_text, "53");
  EXPECT_EQ(r.from_port_text, "1024:65535");
}

TEST(ParseRules, EveryActionIsKnown) {
  const RuleSet set = parsed(
      "[[rule]]\naction = \"allow\"\n[[rule]]\naction = \"deny\"\n"
      "[[rule]]\naction = \"reject\"\n[[rule]]\naction = \"limit\"\n");
  ASSERT_EQ(set.rules.size(), 4u);
  EXPECT_EQ(set.rules[0].action, Action::allow);
  EXPECT_EQ(set.rules[1].action, Action::deny);
  EXPECT_EQ(set.rules[2].action, Action::reject);
  EXPECT_EQ(set.rules[3].action, Action::limit);
}

TEST(ParseRules, RulesKeepTheirOrderAndOrigin) {
  const RuleSet set = parsed(
      "[[rule]]\naction = \"deny\"\ncomment = \"first\"\n\n"
      "[[rule]]\naction = \"allow\"\ncomment = \"second\"\n");
  ASSERT_EQ(set.rules.size(), 2u);
  EXPECT_EQ(set.rules[0].comment, "first");
  EXPECT_EQ(set.rules[0].origin.file, "rules.toml");
  EXPECT_EQ(set.rules[0].origin.line, 1);
  EXPECT_EQ(set.rules[0].origin.column, 1);
  EXPECT_EQ(set.rules[1].comment, "second");
  EXPECT_EQ(set.rules[1].origin.line, 5);
}

TEST(ParseRules, DefaultsTableOverridesBothDirections) {
  const RuleSet set = parsed("[defaults]\nincoming = \"reject\"\noutgoing = \"deny\"\n");
  EXPECT_TRUE(set.has_defaults());
  EXPECT_EQ(set.defaults.incoming, Action::reject);
  EXPECT_EQ(set.defaults.outgoing, Action::deny);
}

TEST(ParseRules, DefaultsTableWithOneDirectionKeepsTheOther) {
  const RuleSet set = parsed("[defaults]\nincoming = \"allow\"\n");
  EXPECT_TRUE(set.has_defaults());
  EXPECT_EQ(set.defaults.incoming, Action::allow);
  EXPECT_EQ(set.defaults.outgoing, Action::allow);
}

TEST(ParseRules, LimitIsNotADefaultPolicy) {
  EXPECT_EQ(errors_of("[defaults]\nincoming = \"limit\"\n"),
            "rules.toml:2:12: incoming must be allow | deny | reject, got \"limit\"");
}

TEST(ParseRules, UnknownKeyInDefaultsListsTheExpectedKeys) {
  EXPECT_EQ(errors_of("[defaults]\ninbound = \"deny\"\n"),
            "rules.toml:2:1: unknown key 'inbound' in [defaults]; expected one of incoming, "
            "outgoing, routed");
}

TEST(ParseRules, SetIsUsedWithAtName) {
  const RuleSet set = parsed(R"([sets]
admins = ["10.0.0.0/24", "fd00:10::/64"]

[[rule]]
action = "allow"
from = "@admins"
to = "@admins"
)");
  ASSERT_EQ(set.sets.count("admins"), 1u);
  EXPECT_EQ(set.sets.at("admins"),
            (std::vector<Cidr>{*parse_cidr("10.0.0.0/24"), *parse_cidr("fd00:10::/64")}));
  const Rule& r = set.rules.at(0);
  EXPECT_FALSE(r.from.any);
  EXPECT_EQ(r.from.prefixes, set.sets.at("admins"));
  EXPECT_EQ(r.from_text, "@admins");
  EXPECT_TRUE(r.from.matches(ip("10.0.0.9")));
  EXPECT_TRUE(r.from.matches(ip("fd00:10::9")));
  EXPECT_FALSE(r.from.matches(ip("10.0.1.9")));
  EXPECT_EQ(r.to_text, "@admins");
}

TEST(ParseRules, SetMayBeDefinedAfterTheRulesThatUseIt) {
  const RuleSet set = parsed(
      "[[rule]]\naction = \"allow\"\nfrom = \"@office\"\n\n[sets]\noffice = [\"192.0.2.0/24\"]\n");
  EXPECT_TRUE(set.rules.at(0).from.matches(ip("192.0.2.5")));
}

TEST(ParseRules, UnknownSetSaysWhereToDefineIt) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nfrom = \"@nobody\"\n"),
            "rules.toml:3:8: unknown set 'nobody'; define it under [sets] or as a [[set]]");
}

TEST(ParseRules, SetItemWithHostBitsNamesTheNetworkMeant) {
  EXPECT_EQ(errors_of("[sets]\nadmins = [\"10.0.0.0/24\", \"10.0.1.1/24\"]\n"),
            "rules.toml:2:26: \"10.0.1.1/24\" has host bits set; did you mean \"10.0.1.0/24\"?");
}

TEST(ParseRules, SetMustBeAnArray) {
  EXPECT_EQ(errors_of("[sets]\nadmins = \"10.0.0.0/24\"\n"),
            "rules.toml:2:10: set 'admins' must be an array of addresses");
}

TEST(ParseRules, AddressWithHostBitsNamesKeyAndNetworkMeant) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nto = \"2001:db8::1/32\"\n"),
            "rules.toml:3:6: to: \"2001:db8::1/32\" has host bits set; did you mean "
            "\"2001:db8::/32\"?");
}

TEST(ParseRules, IntegerPortIsAccepted) {
  const RuleSet set = parsed("[[rule]]\naction = \"allow\"\nport = 22\n");
  EXPECT_EQ(set.rules.at(0).port.ranges, (std::vector<PortRange>{{22, 22}}));
  EXPECT_EQ(set.rules.at(0).port_text, "22");
}

TEST(ParseRules, ServiceNamePortKeepsTheNameForDisplay) {
  const RuleSet set = parsed("[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"ssh\"\n");
  EXPECT_EQ(set.rules.at(0).port.ranges, (std::vector<PortRange>{{22, 22}}));
  EXPECT_EQ(set.rules.at(0).port_text, "ssh");
}

TEST(ParseRules, IntegerPortAboveRangeNamesLineAndColumn) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nport = 70000\n"),
            "rules.toml:3:8: port must be 1-65535, got 70000");
}

TEST(ParseRules, StringPortAboveRangeNamesLineAndColumn) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nport = \"80,70000\"\n"),
            "rules.toml:3:8: port must be 1-65535, got 70000");
}

TEST(ParseRules, FromPortErrorsNameTheirPlace) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nfrom_port = \"2000:1000\"\n"),
            "rules.toml:3:13: port range \"2000:1000\" runs backwards; write 1000:2000");
}

TEST(ParseRules, PortWithProtoIcmpIsAnError) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nproto = \"icmp\"\nport = \"22\"\n"),
            "rules.toml:4:8: port needs proto tcp, udp or any; ICMP has no ports");
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nproto = \"icmp\"\nfrom_port = 22\n"),
            "rules.toml:4:13: from_port needs proto tcp, udp or any; ICMP has no ports");
}

TEST(ParseRules, PortMustBeANumberOrAString) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nport = 22.5\n"),
            "rules.toml:3:8: port must be a string, got a number");
}

TEST(ParseRules, BadInterfaceNameIsNamed) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\ninterface = \"eth0:1\"\n"),
            "rules.toml:3:13: interface name \"eth0:1\" may hold only letters, digits, '_', '.' and '-'");
}

TEST(ParseRules, WrongTypesSayWhatWasExpected) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nlog = \"yes\"\ncomment = 5\n"),
            "rules.toml:3:7: log must be true or false, got a string\n"
            "rules.toml:4:11: comment must be a string, got an integer");
}

TEST(ParseRules, UnknownChoiceListsTheChoices) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\ndirection = \"inbound\"\nproto = \"gre\"\n"),
            "rules.toml:3:13: direction must be in | out | route, got \"inbound\"\n"
            "rules.toml:4:9: proto must be any | tcp | udp | icmp, got \"gre\"");
}

TEST(ParseRules, UnknownKeyListsTheExpectedKeys) {
  EXPECT_EQ(
      errors_of("[[rule]]\naction = \"allow\"\nports = \"22\"\n"),
      "rules.toml:3:1: unknown key 'ports' in [[rule]]; expected one of action, direction, "
      "proto, from, to, port, from_port, interface, out_interface, log, comment, rate, burst");
}

TEST(ParseRules, UnknownTableListsTheExpectedTables) {
  EXPECT_EQ(errors_of("[rules]\nx = 1\n"),
            "rules.toml:1:2: unknown key 'rules' in a rule file; expected one of defaults, icmp, "
            "sets, set, rule, forward");
}

// [icmp]: ufw's before.rules as a table the administrator reads and changes.
TEST(ParseRules, IcmpTableDefaultsLikeUfwAndTakesBooleans) {
  const RuleSet none = parsed("");
  EXPECT_TRUE(none.icmp.echo_request);
  EXPECT_TRUE(none.icmp.dhcp_client);
  EXPECT_FALSE(none.icmp.redirects);
  EXPECT_FALSE(none.has_icmp);
  const RuleSet set = parsed("[icmp]\necho_request = false\nredirects = true\n");
  EXPECT_TRUE(set.has_icmp);
  EXPECT_FALSE(set.icmp.echo_request);
  EXPECT_TRUE(set.icmp.dhcp_client);
  EXPECT_TRUE(set.icmp.redirects);
  EXPECT_NE(errors_of("[icmp]\nping = true\n").find("rules.toml:2:1: unknown key 'ping' in [icmp]"),
            std::string::npos)
      << errors_of("[icmp]\nping = true\n");
  EXPECT_NE(errors_of("[icmp]\nredirects = \"no\"\n").find("rules.toml:2:"), std::string::npos)
      << errors_of("[icmp]\nredirects = \"no\"\n");
  const std::string written = write_rules(set);
  EXPECT_NE(written.find("[icmp]"), std::string::npos) << written;
  const RuleSet again = parsed(written);
  EXPECT_EQ(again.icmp, set.icmp);
  EXPECT_TRUE(again.has_icmp);
}

TEST(ParseRules, SingleRuleTableSaysToWriteDoubleBrackets) {
  EXPECT_EQ(errors_of("[rule]\naction = \"allow\"\n"),
            "rules.toml:1:1: rules are written as [[rule]] tables");
}

TEST(ParseRules, MissingActionNamesTheRule) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\n\n[[rule]]\nport = \"22\"\n"),
            "rules.toml:4:1: [[rule]] needs an action (allow | deny | reject | limit)");
}

TEST(ParseRules, UnquotedWordGetsTheHintAboutQuoting) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nproto = tcp\n"),
            "rules.toml:3:10: Error while parsing boolean: expected 'true', saw 'tc' (strings "
            "must be quoted: proto = \"tcp\")");
}

TEST(ParseRules, UnquotedWordOfAnyKindGetsTheHint) {
  EXPECT_EQ(errors_of("[[rule]]\naction = allow\n"),
            "rules.toml:2:10: Error while parsing value: could not determine value type (strings "
            "must be quoted: proto = \"tcp\")");
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nproto = icmp\n"),
            "rules.toml:3:10: Error while parsing floating-point: expected 'inf', saw 'ic' "
            "(strings must be quoted: proto = \"tcp\")");
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nport = 22/tcp\n"),
            "rules.toml:3:8: Error while parsing value: could not determine value type (strings "
            "must be quoted: proto = \"tcp\")");
}

TEST(ParseRules, SyntaxErrorStaysOnOneLine) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\ndirection = in\n"),
            "rules.toml:3:15: Error while parsing floating-point: expected 'inf', saw 'in\\n' "
            "(strings must be quoted: proto = \"tcp\")");
}

TEST(ParseRules, SeveralErrorsAreCollectedAtOnce) {
  EXPECT_EQ(
      errors_of(R"([[rule]]
action = "alow"
prot = "tcp"
from = "10.1.2.3/8"

[[rule]]
proto = "icmp"
port = "22"
)"),
      "rules.toml:3:1: unknown key 'prot' in [[rule]]; expected one of action, direction, "
      "proto, from, to, port, from_port, interface, out_interface, log, comment, rate, burst\n"
      "rules.toml:2:10: action must be allow | deny | reject | limit, got \"alow\"\n"
      "rules.toml:4:8: from: \"10.1.2.3/8\" has host bits set; did you mean "
      "\"10.0.0.0/8\"?\n"
      "rules.toml:6:1: [[rule]] needs an action (allow | deny | reject | limit)\n"
      "rules.toml:8:8: port needs proto tcp, udp or any; ICMP has no ports");
}

TEST(ConfigErrorText, WithoutAPositionNamesOnlyTheFile) {
  EXPECT_EQ(to_string(ConfigError{"rules.toml", 0, 0, "cannot read: Permission denied"}),
            "rules.toml: cannot read: Permission denied");
  EXPECT_EQ(to_string(ConfigError{"rules.toml", 4, 8, "port must be 1-65535, got 70000"}),
            "rules.toml:4:8: port must be 1-65535, got 70000");
}

// load_rules: a main file and a drop-in directory, in a fresh temporary directory per test.
class LoadRules : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directory(dir_ / "rules.d"); }
  void write(const std::string& name, std::string_view text) { dir_.write(name, text); }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::expected<RuleSet, std::vector<ConfigError>> load() {
    return load_rules(dir_ / "rules.toml", dir_ / "rules.d");
  }
  std::vector<std::string> comments(const RuleSet& set) {
    std::vector<std::string> out;
    for (const Rule& r : set.rules) out.push_back(r.comment.str());
    return out;
  }

  TestDir dir_;
};

TEST_F(LoadRules, MainFileAloneWithoutDropInDirectory) {
  write("rules.toml", "[[rule]]\naction = \"allow\"\ncomment = \"main\"\n");
  auto set = load_rules(dir_ / "rules.toml");
  ASSERT_TRUE(set) << to_string(set.error());
  EXPECT_EQ(comments(*set), std::vector<std::string>{"main"});
  EXPECT_EQ(set->rules[0].origin.file, path("rules.toml"));
}

TEST_F(LoadRules, DropInsAreAppendedInAlphabeticalOrder) {
  write("rules.toml", "[[rule]]\naction = \"allow\"\ncomment = \"main\"\n");
  write("rules.d/20-b.toml", "[[rule]]\naction = \"deny\"\ncomment = \"b\"\n");
  write("rules.d/10-a.toml",
        "[[rule]]\naction = \"allow\"\ncomment = \"a1\"\n[[rule]]\naction = \"allow\"\n"
        "comment = \"a2\"\n");
  write("rules.d/30-c.toml", "[[rule]]\naction = \"reject\"\ncomment = \"c\"\n");
  auto set = load();
  ASSERT_TRUE(set) << to_string(set.error());
  EXPECT_EQ(comments(*set), (std::vector<std::string>{"main", "a1", "a2", "b", "c"}));
  EXPECT_EQ(set->rules[3].origin.file, path("rules.d/20-b.toml"));
  EXPECT_EQ(set->rules[3].origin.line, 1);
}

TEST_F(LoadRules, DotFilesAndFilesNotEndingInTomlAreSkipped) {
  write("rules.toml", "[[rule]]\naction = \"allow\"\ncomment = \"main\"\n");
  write("rules.d/.hidden.toml", "not toml at all [[[");
  write("rules.d/notes.txt", "not toml at all [[[");
  write("rules.d/10-a.toml.bak", "not toml at all [[[");
  write("rules.d/10-a.toml~", "not toml at all [[[");
  write("rules.d/10-a.toml", "[[rule]]\naction = \"deny\"\ncomment = \"a\"\n");
  auto set = load();
  ASSERT_TRUE(set) << to_string(set.error());
  EXPECT_EQ(comments(*set), (std::vector<std::string>{"main", "a"}));
}

TEST_F(LoadRules, DropInMayUseTheMainFilesSet) {
  write("rules.toml", "[sets]\nadmins = [\"10.0.0.0/8\"]\n");
  write("rules.d/10-a.toml", "[[rule]]\naction = \"allow\"\nfrom = \"@admins\"\n");
  auto set = load();
  ASSERT_TRUE(set) << to_string(set.error());
  ASSERT_EQ(set->rules.size(), 1u);
  EXPECT_EQ(set->rules[0].from.prefixes, (std::vector<Cidr>{*parse_cidr("10.0.0.0/8")}));
}

TEST_F(LoadRules, DropInMayUseAnEarlierDropInsSetAndItsSetsAreMerged) {
  write("rules.toml", "[sets]\nadmins = [\"10.0.0.0/8\"]\n");
  write("rules.d/10-a.toml", "[sets]\noffice = [\"192.0.2.0/24\"]\n");
  write("rules.d/20-b.toml", "[[rule]]\naction = \"allow\"\nfrom = \"@office\"\n");
  auto set = load();
  ASSERT_TRUE(set) << to_string(set.error());
  EXPECT_EQ(set->sets.size(), 2u);
  EXPECT_TRUE(set->rules.at(0).from.matches(*parse_ip_address("192.0.2.9")));
}

TEST_F(LoadRules, DropInCannotUseALaterDropInsSet) {
  write("rules.toml", "");
  write("rules.d/10-a.toml", "[[rule]]\naction = \"allow\"\nfrom = \"@office\"\n");
  write("rules.d/20-b.toml", "[sets]\noffice = [\"192.0.2.0/24\"]\n");
  auto set = load();
  ASSERT_FALSE(set);
  EXPECT_EQ(to_string(set.error()),
            path("rules.d/10-a.toml") +
                ":3:8: unknown set 'office'; define it under [sets] or as a [[set]]");
}

TEST_F(LoadRules, DefaultsInADropInIsAnError) {
  write("rules.toml", "[defaults]\nincoming = \"deny\"\n");
  write("rules.d/10-a.toml", "[[rule]]\naction = \"allow\"\n\n[defaults]\nincoming = \"allow\"\n");
  auto set = load();
  ASSERT_FALSE(set);
  EXPECT_EQ(to_string(set.error()),
            path("rules.d/10-a.toml") + ":4:1: [defaults] belongs in the main rules file only");
}

TEST_F(LoadRules, SetDefinedAgainInADropInIsAnError) {
  write("rules.toml", "[sets]\nadmins = [\"10.0.0.0/8\"]\n");
  write("rules.d/10-a.toml", "[sets]\nadmins = [\"192.0.2.0/24\"]\n");
  auto set = load();
  ASSERT_FALSE(set);
  EXPECT_EQ(to_string(set.error()),
            path("rules.d/10-a.toml") + ":2:1: set 'admins' is already defined");
}

TEST_F(LoadRules, BrokenDropInFailsTheWholeLoad) {
  write("rules.toml", "[[rule]]\naction = \"allow\"\n");
  write("rules.d/10-a.toml", "[[rule]]\naction = \"allow\"\n");
  write("rules.d/20-b.toml", "[[rule]]\naction = \"allow\"\nport = 0\n");
  auto set = load();
  ASSERT_FALSE(set);
  EXPECT_EQ(to_string(set.error()),
            path("rules.d/20-b.toml") + ":3:8: port must be 1-65535, got 0");
}

TEST_F(LoadRules, ErrorsOfEveryBrokenDropInAreReported) {
  write("rules.toml", "");
  write("rules.d/10-a.toml", "[[rule]]\naction = \"allow\"\nport = 0\n");
  write("rules.d/20-b.toml", "[[rule]]\nport = \"22\"\n");
  auto set = load();
  ASSERT_FALSE(set);
  EXPECT_EQ(to_string(set.error()),
            path("rules.d/10-a.toml") + ":3:8: port must be 1-65535, got 0\n" +
                path("rules.d/20-b.toml") +
                ":1:1: [[rule]] needs an action (allow | deny | reject | limit)");
}

TEST_F(LoadRules, BrokenMainFileIsReportedWithItsPath) {
  write("rules.toml", "[[rule]]\naction = \"allow\"\nport = 70000\n");
  auto set = load();
  ASSERT_FALSE(set);
  EXPECT_EQ(to_string(set.error()), path("rules.toml") + ":3:8: port must be 1-65535, got 70000");
}

TEST_F(LoadRules, MissingMainFileSaysSo) {
  auto set = load_rules(dir_ / "nope.toml", dir_ / "rules.d");
  ASSERT_FALSE(set);
  EXPECT_EQ(to_string(set.error()), path("nope.toml") + ": cannot read: No such file or directory");
}

TEST_F(LoadRules, MissingDropInDirectoryIsFine) {
  write("rules.toml", "[[rule]]\naction = \"allow\"\n");
  auto set = load_rules(dir_ / "rules.toml", dir_ / "absent.d");
  ASSERT_TRUE(set) << to_string(set.error());
  EXPECT_EQ(set->rules.size(), 1u);
}

TEST_F(LoadRules, DefaultsComeFromTheMainFile) {
  write("rules.toml", "[defaults]\nincoming = \"reject\"\n");
  write("rules.d/10-a.toml", "[[rule]]\naction = \"allow\"\n");
  auto set = load();
  ASSERT_TRUE(set) << to_string(set.error());
  EXPECT_TRUE(set->has_defaults());
  EXPECT_EQ(set->defaults.incoming, Action::reject);
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(ParseRules, LimitRuleRateAndBurst) {
  const RuleSet set = parsed(
      "[[rule]]\naction = \"limit\"\nport = \"22\"\nproto = \"tcp\"\nrate = \"20/1m\"\n"
      "burst = 40\n[[rule]]\naction = \"limit\"\nport = \"23\"\nproto = \"tcp\"\nburst = 10\n"
      "[[rule]]\naction = \"limit\"\nport = \"24\"\nproto = \"tcp\"\n");
  ASSERT_EQ(set.rules.size(), 3u);
  EXPECT_EQ(set.rules[0].rate, (Rate{20, std::chrono::minutes(1), 40}));
  EXPECT_EQ(set.rules[1].rate, (Rate{6, std::chrono::seconds(30), 10})) << "ufw's rate, own burst";
  EXPECT_EQ(set.rules[2].rate.count, 0u) << "ufw's limit";
  EXPECT_EQ(to_string(set.rules[0].rate), "20/1m");
}

TEST(ParseRules, RateMistakesAreNamed) {
  EXPECT_EQ(errors_of("[[rule]]\naction = \"allow\"\nrate = \"20/1m\"\n"),
            "rules.toml:3:8: rate applies to action \"limit\" only");
  EXPECT_EQ(errors_of("[[rule]]\naction = \"limit\"\nrate = \"20 per minute\"\n"),
            "rules.toml:3:8: expected a rate like \"6/30s\" (connections, a slash, a duration), "
            "got \"20 per minute\"");
  EXPECT_EQ(errors_of("[[rule]]\naction = \"limit\"\nrate = \"0/1m\"\n"),
            "rules.toml:3:8: rate must allow 1 to 1000000 connections, got \"0/1m\"");
  EXPECT_EQ(errors_of("[[rule]]\naction = \"limit\"\nburst = 0\n"),
            "rules.toml:3:9: burst must be 1-1000000, got 0");
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

class SetFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    char templ[] = "/tmp/portwall-sets-test-XXXXXX";
    dir = mkdtemp(templ);
  }
  void TearDown() override { fs::remove_all(dir); }
  std::string write(const std::string& name, const std::string& text) {
    std::ofstream(dir / name) << text;
    return (dir / name).string();
  }
  fs::path dir;
};

TEST_F(SetFiles, NamedSetWithInlineEntriesAndAFileRelativeToTheRules) {
  write("blocklist.txt",
        "# from the abuse feed\n203.0.113.0/24\n\n  198.51.100.7  # one host\n2001:db8:bad::/48\n");
  const std::string rules = write("rules.toml",
                                  "[[set]]\nname = \"blocklist\"\nentries = [\"192.0.2.9\"]\n"
                                  "file = \"blocklist.txt\"\n\n[[rule]]\naction = \"deny\"\n"
                                  "from = \"@blocklist\"\n");
  auto set = load_rules(rules, "");
  ASSERT_TRUE(set) << to_string(set.error());
  ASSERT_EQ(set->sets.at("blocklist").size(), 4u);
  EXPECT_EQ(set->rules.at(0).from.prefixes.size(), 4u);
  EXPECT_TRUE(set->rules[0].from.matches(ip("198.51.100.7")));
  EXPECT_TRUE(set->rules[0].from.matches(ip("2001:db8:bad::1")));
  EXPECT_EQ(set->rules[0].from_text, "@blocklist");
  // Written back, the file's entries stay in the file.
  const std::string written = write_rules(*set);
  EXPECT_NE(written.find("[[set]]\nentries = [ '192.0.2.9/32' ]\nfile = 'blocklist.txt'\n"
                         "name = 'blocklist'"),
            std::string::npos)
      << written;
  write("rules.toml", written);
  auto again = load_rules(rules, "");
  ASSERT_TRUE(again) << to_string(again.error());
  EXPECT_EQ(again->sets.at("blocklist"), set->sets.at("blocklist"));
  EXPECT_EQ(written.find("203.0.113.0/24"), std::string::npos);
}

TEST_F(SetFiles, BadLinesAreNamedByFileAndLine) {
  write("bad.txt", "10.0.0.0/8\n10.1.2.3/8\nnot-an-address\n");
  const std::string rules = write("rules.toml", "[[set]]\nname = \"x\"\nfile = \"bad.txt\"\n");
  auto set = load_rules(rules, "");
  ASSERT_FALSE(set);
  const std::string text = to_string(set.error());
  EXPECT_NE(text.find((dir / "bad.txt").string() + ":2:1: host bits set beyond the prefix length"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find((dir / "bad.txt").string() + ":3:1: not an address or network"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("not-an-address"), std::string::npos) << "never quoted: " << text;
  const std::string missing = write("r2.toml", "[[set]]\nname = \"x\"\nfile = \"nope.txt\"\n");
  auto none = load_rules(missing, "");
  ASSERT_FALSE(none);
  EXPECT_NE(to_string(none.error()).find("cannot read set file"), std::string::npos);
}

// Issue 17, point 3: rules text sent to `apply` is parsed by portwalld, as root. A set file
// named there was read wherever it was, and its first lines came back in the error
// (/etc/shadow); /dev/urandom never ended and /dev/zero filled memory.
TEST_F(SetFiles, OnlyRegularFilesInsideTheRulesDirectoriesAreRead) {
  write("ok.txt", "192.0.2.0/24\n");
  fs::create_directories(dir / "rules.d");
  fs::create_symlink("/etc/passwd", dir / "passwd-link.txt");
  mkfifo((dir / "fifo.txt").c_str(), 0600);
  auto errors_for = [&](const std::string& file) {
    const std::string rules =
        write("rules.toml", "[[set]]\nname = \"x\"\nfile = \"" + file + "\"\n");
    auto set = load_rules(rules, dir / "rules.d");
    return set ? std::string() : to_string(set.error());
  };
  EXPECT_EQ(errors_for("ok.txt"), "");
  EXPECT_EQ(errors_for((dir / "ok.txt").string()), "");
  for (const std::string file : {"/etc/passwd", "../../etc/passwd", "passwd-link.txt",
                                 "/dev/urandom", "/dev/zero"}) {
    const std::string text = errors_for(file);
    EXPECT_NE(text.find("is outside " + fs::canonical(dir).string()), std::string::npos)
        << file << ": " << text;
    EXPECT_EQ(text.find("root:"), std::string::npos) << text;
  }
  EXPECT_NE(errors_for("fifo.txt").find("is not a regular file"), std::string::npos);
  // Larger than the bound (sparse: nothing is written).
  fs::resize_file(write("huge.txt", ""), kMaxSetFileBytes + 1);
  EXPECT_NE(errors_for("huge.txt").find("is larger than 256 MiB"), std::string::npos);
  // A drop-in reads from its own directory and from the main file's.
  write("rules.d/local.txt", "198.51.100.0/24\n");
  std::ofstream(dir / "rules.d" / "10-local.toml")
      << "[[set]]\nname = \"local\"\nfile = \"local.txt\"\n"
         "[[set]]\nname = \"main\"\nfile = \"../ok.txt\"\n";
  EXPECT_EQ(errors_for("ok.txt"), "");
  // Rules text with a scope (portwalld's apply): the caller's file name decides nothing.
  auto applied = parse_rules("[[set]]\nname = \"x\"\nfile = \"/etc/shadow\"\n",
                             "/home/mallory/rules.toml", SetFileScope{dir, {dir}});
  ASSERT_FALSE(applied);
  EXPECT_NE(to_string(applied.error()).find("is outside"), std::string::npos);
  EXPECT_EQ(to_string(applied.error()).find("root:"), std::string::npos);
}

}  // namespace
}  // namespace portwall
