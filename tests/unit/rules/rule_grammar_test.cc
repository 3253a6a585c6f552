// ufw's rule words, as administrators and fail2ban's ufw action type them.
#include "rules/rule_grammar.h"

#include <gtest/gtest.h>

#include <sstream>
#include <vector>

#include "test_words.h"

namespace portwall {
namespace {

using test::split;

RuleCommand parse_ok(const std::string& line) {
  const auto words = split(line);
  auto c = parse_rule_command(words);
  EXPECT_TRUE(c) << line << ": " << (c ? "" : c.error());
  return c ? *c : RuleCommand{};
}

std::string error_of(const std::vector<std::string>& words) {
  auto c = parse_rule_command(words);
  return c ? "accepted" : c.error();
}
std::string error_of(const std::string& line) { return error_of(split(line)); }

TEST(RuleGrammar, SimpleFormPortAndProtocol) {
  const RuleCommand c = parse_ok("allow 22/tcp");
  EXPECT_EQ(c.kind, RuleCommand::Kind::add);
  EXPECT_EQ(c.rule.action, Action::allow);
  EXPECT_EQ(c.rule.direction, Direction::in);
  EXPECT_EQ(c.rule.proto, Proto::tcp);
  EXPECT_EQ(c.rule.port_text, "22");
  EXPECT_TRUE(c.rule.port.matches(22));
  EXPECT_TRUE(c.rule.from.any);
  EXPECT_EQ(rule_words(c.rule), "allow in proto tcp from any to any port 22");
}

TEST(RuleGrammar, SimpleFormWithoutProtocolMeansTcpAndUdp) {
  const RuleCommand c = parse_ok("allow 53");
  EXPECT_EQ(c.rule.proto, Proto::any);
  EXPECT_TRUE(c.rule.port.matches(53));
}

TEST(RuleGrammar, SimpleFormRangesListsAndServices) {
  EXPECT_TRUE(parse_ok("allow 8000:8100/udp").rule.port.matches(8050));
  EXPECT_TRUE(parse_ok("allow 80,443/tcp").rule.port.matches(443));
  EXPECT_TRUE(parse_ok("allow http").rule.port.matches(80));
  const RuleCommand limit = parse_ok("limit ssh");
  EXPECT_EQ(limit.rule.action, Action::limit);
  EXPECT_TRUE(limit.rule.port.matches(22));
}

TEST(RuleGrammar, FullFormFromDesignMd) {
  const auto words = std::vector<std::string>{
      "allow", "from", "10.0.0.0/8", "to", "any", "port", "5432", "proto", "tcp", "comment", "db"};
  auto c = parse_rule_command(words);
  ASSERT_TRUE(c) << c.error();
  EXPECT_FALSE(c->rule.from.any);
  EXPECT_TRUE(c->rule.from.matches(*parse_ip_address("10.9.8.7")));
  EXPECT_TRUE(c->rule.port.matches(5432));
  EXPECT_EQ(c->rule.proto, Proto::tcp);
  EXPECT_EQ(c->rule.comment, "db");
  EXPECT_EQ(rule_words(c->rule),
            "allow in proto tcp from 10.0.0.0/8 to any port 5432 comment 'db'");
}

TEST(RuleGrammar, InterfaceDirectionAndLog) {
  const RuleCommand c = parse_ok("deny in on eth0 log from 203.0.113.0/24");
  EXPECT_EQ(c.rule.interface, "eth0");
  EXPECT_TRUE(c.rule.log);
  EXPECT_EQ(c.rule.from_text, "203.0.113.0/24");
  const RuleCommand out = parse_ok("reject out to any port 25 proto tcp");
  EXPECT_EQ(out.rule.direction, Direction::out);
  EXPECT_EQ(out.rule.action, Action::reject);
}

TEST(RuleGrammar, Ipv6AddressesAndSourcePorts) {
  const RuleCommand c = parse_ok("allow proto udp from 2001:db8::/32 port 123 to any port 123");
  EXPECT_TRUE(c.rule.from.matches(*parse_ip_address("2001:db8::1")));
  EXPECT_TRUE(c.rule.from_port.matches(123));
}

TEST(RuleGrammar, InsertPrependDeleteAndDefault) {
  const RuleCommand insert = parse_ok("insert 1 deny from 198.51.100.7");
  EXPECT_EQ(insert.kind, RuleCommand::Kind::insert);
  EXPECT_EQ(insert.number, 1u);
  EXPECT_EQ(insert.rule.action, Action::deny);
  EXPECT_EQ(parse_ok("prepend reject from 198.51.100.7").kind, RuleCommand::Kind::prepend);
  const RuleCommand del = parse_ok("delete 3");
  EXPECT_EQ(del.kind, RuleCommand::Kind::delete_number);
  EXPECT_EQ(del.number, 3u);
  EXPECT_EQ(parse_ok("delete allow 22/tcp").kind, RuleCommand::Kind::delete_rule);
  const RuleCommand def = parse_ok("default reject outgoing");
  EXPECT_EQ(def.kind, RuleCommand::Kind::set_default);
  EXPECT_EQ(def.default_action, Action::reject);
  EXPECT_EQ(def.default_direction, Direction::out);
  EXPECT_EQ(parse_ok("default deny").default_direction, Direction::in);
}

TEST(RuleGrammar, Fail2bansUfwActionWorksUnchanged) {
  // action.d/ufw.conf: ufw prepend reject from <ip> to any comment "by Fail2Ban after ..."
  const std::vector<std::string> ban = {
      "prepend", "reject", "from",    "192.0.2.66",
      "to",      "any",    "comment", "by Fail2Ban after 5 attempts against sshd"};
  auto c = parse_rule_command(ban);
  ASSERT_TRUE(c) << c.error();
  EXPECT_EQ(c->rule.comment, "by Fail2Ban after 5 attempts against sshd");
  const std::vector<std::string> unban = {"delete", "reject", "from", "192.0.2.66", "to", "any"};
  ASSERT_TRUE(parse_rule_command(unban));
}

struct WrongInput {
  const char* line;
  const char* message;
};

const WrongInput kWrong[] = {
    {"", "expected a command, got nothing"},
    {"alow 22/tcp",
     "unknown command \"alow\"; expected allow, deny, reject, limit, insert, "
     "prepend, delete, default, forward or route"},
    {"allow", "expected a port (22/tcp), a service or from/to after \"allow\""},
    {"allow 70000/tcp", "port must be 1-65535, got 70000"},
    {"allow 0", "port must be 1-65535, got 0"},
    {"allow 22/sctp", "expected PORT/tcp or PORT/udp, got \"22/sctp\""},
    {"allow 22/icmp", "expected PORT/tcp or PORT/udp, got \"22/icmp\""},
    {"allow 9000:8000/tcp", "port range \"9000:8000\" runs backwards; write 8000:9000"},
    {"allow nosuchservice",
     "unknown port or service \"nosuchservice\" (expected 1-65535, a:b, a "
     "list, or a name from /etc/services)"},
    {"allow 22/tcp extra", "unexpected \"extra\" after the rule"},
    {"allow 80,,81/tcp", "empty item in port list \"80,,81\""},
    {"allow from", "from needs an address, a network or any, got nothing"},
    {"allow from 10.0.0.0/33", "prefix length must be 0-32, got \"10.0.0.0/33\""},
    {"allow from 10.1.2.3/8", "\"10.1.2.3/8\" has host bits set; did you mean \"10.0.0.0/8\"?"},
    {"allow from example.com",
     "expected an address, a CIDR prefix, any or @set, got "
     "\"example.com\""},
    {"allow from @admins",
     "address sets (\"@admins\") are defined in the rules file, not on the "
     "command line"},
    {"allow to", "to needs an address, a network or any, got nothing"},
    {"allow to any port", "port needs a port, a range a:b, a list or a service name, got nothing"},
    {"allow to any port 65536", "port must be 1-65535, got 65536"},
    {"allow port 22", "port belongs after from ADDR or to ADDR (e.g. to any port 22)"},
    {"allow proto", "proto needs tcp, udp, icmp or any, got nothing"},
    {"allow proto gre", "proto must be tcp, udp, icmp or any, got \"gre\""},
    {"allow proto icmp to any port 22", "a port needs proto tcp, udp or any; ICMP has no ports"},
    {"allow in on", "on needs an interface name, got nothing"},
    {"allow in on eth0:1 22",
     "interface name \"eth0:1\" may hold only letters, digits, '_', '.' and '-'"},
    {"allow in on averyveryverylongname 22",
     "interface name must be 1-15 characters, got \"averyveryverylongname\""},
    {"allow from any frm 10.0.0.1", "unexpected \"frm\"; expected proto, from, to, comment or log"},
    {"allow comment", "comment needs a text, got nothing"},
    {"allow to any comment", "comment needs a text, got nothing"},
    {"insert", "insert needs a rule number and a rule"},
    {"insert x allow 22",
     "insert needs a rule number (1, 2, ... as `status numbered` shows), got "
     "\"x\""},
    {"insert 0 allow 22",
     "insert needs a rule number (1, 2, ... as `status numbered` shows), got "
     "\"0\""},
    {"insert 1", "expected allow, deny, reject or limit, got nothing"},
    {"insert 1 permit 22", "expected allow, deny, reject or limit, got \"permit\""},
    {"prepend", "expected allow, deny, reject or limit, got nothing"},
    {"delete", "delete needs a rule number or a rule"},
    {"delete three",
     "delete needs a rule number (1, 2, ... as `status numbered` shows), got "
     "\"three\""},
    {"delete 3 4", "unexpected \"4\" after delete 3"},
    {"default", "default needs allow, deny or reject"},
    {"default limit", "default must be allow, deny or reject, got \"limit\""},
    {"default deny inbound", "expected incoming, outgoing or routed, got \"inbound\""},
    {"default deny incoming now", "unexpected \"now\" after the default"},
};

// Found by fuzz_cli_grammar: the comment went into the rules file and came back as other text.
TEST(RuleGrammar, ACommentThatIsNotUtf8IsRefused) {
  const std::vector<std::string> words = {"allow", "22/tcp", "comment", "caf\xe9"};
  EXPECT_EQ(error_of(words), "comment must be UTF-8 text; byte 4 is not");
  EXPECT_EQ(error_of(std::vector<std::string>{"allow", "22/tcp", "comment", "caf\xc3\xa9"}),
            "accepted");
}

TEST(RuleGrammar, EveryWrongInputNamesTheWordAndWhatWasExpected) {
  for (const WrongInput& w : kWrong) {
    EXPECT_EQ(error_of(w.line), w.message) << "input: " << w.line;
  }
  EXPECT_GE(std::size(kWrong), 30u);
}

}  // namespace
}  // namespace portwall
