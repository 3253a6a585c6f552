// Port forwards as administrators write them: words, TOML, conflicts, and which forward a
// packet seen after NAT belongs to.
#include "rules/forward.h"

#include <gtest/gtest.h>

#include "packet/packet_view.h"
#include "rules/rule_edit.h"
#include "rules/rule_grammar.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"

namespace portwall {
namespace {

Forward parsed(std::vector<std::string> words) {
  auto f = parse_forward(words);
  EXPECT_TRUE(f.has_value()) << (f ? "" : f.error());
  return f.value_or(Forward{});
}

std::string refusal(std::vector<std::string> words) {
  auto f = parse_forward(words);
  EXPECT_FALSE(f.has_value());
  return f ? "" : f.error();
}

TEST(Forward, ARedirectADnatAndAnIpv6DestinationInWords) {
  const Forward redirect = parsed({"80/tcp", "to", "8080"});
  EXPECT_TRUE(redirect.redirect());
  EXPECT_EQ(redirect.proto, Proto::tcp);
  EXPECT_EQ(redirect.port, 80);
  EXPECT_EQ(redirect.to_port, 8080);
  EXPECT_EQ(forward_words(redirect), "forward 80/tcp to 8080");

  const Forward dnat =
      parsed({"in", "on", "eth0", "https", "to", "10.0.0.5:8443", "comment", "web app"});
  EXPECT_FALSE(dnat.redirect());
  EXPECT_EQ(dnat.proto, Proto::any);
  EXPECT_EQ(dnat.port, 443);
  EXPECT_EQ(dnat.interface, "eth0");
  EXPECT_EQ(to_string(*dnat.to_address), "10.0.0.5");
  EXPECT_EQ(forward_words(dnat), "forward in on eth0 443 to 10.0.0.5:8443 comment 'web app'");

  const Forward v6 = parsed({"53/udp", "to", "[fd00::5]:5353"});
  EXPECT_EQ(forward_destination(v6), "[fd00::5]:5353");
  const Forward same_port = parsed({"25/tcp", "to", "fd00::25"});
  EXPECT_EQ(same_port.to_port, 25);
  EXPECT_EQ(forward_destination(same_port), "[fd00::25]:25");
}

TEST(Forward, BadWordsSayWhatWasExpected) {
  EXPECT_NE(refusal({"80/tcp", "to", "80"}).find("to itself"), std::string::npos);
  EXPECT_NE(refusal({"80:90/tcp", "to", "8080"}).find("one port"), std::string::npos);
  EXPECT_NE(refusal({"80/icmp", "to", "8080"}).find("PORT/tcp or PORT/udp"), std::string::npos);
  EXPECT_NE(refusal({"80/tcp", "8080"}).find("expected to DEST"), std::string::npos);
  EXPECT_NE(refusal({"80/tcp", "to"}).find("needs a destination"), std::string::npos);
  EXPECT_NE(refusal({"80/tcp", "to", "10.0.0.300:80"}).find("expected PORT, ADDR"),
            std::string::npos);
  EXPECT_NE(refusal({"80/tcp", "to", "[fd00::5"}).find("no ]"), std::string::npos);
  EXPECT_NE(refusal({"in", "eth0", "80", "to", "8080"}).find("in on IFACE"), std::string::npos);
  // Issue 17, point 4: the name was pasted inside quotes into the nftables table.
  EXPECT_NE(refusal({"in", "on", "x\";drop;#", "80", "to", "8080"}).find("may hold only"),
            std::string::npos);
  EXPECT_NE(refusal({"80/tcp", "to", "8080", "extra"}).find("unexpected \"extra\""),
            std::string::npos);
  EXPECT_NE(refusal({"80/tcp", "to", ""}).find("got nothing"), std::string::npos);
  EXPECT_NE(refusal({"80/tcp", "to", "127.0.0.1:8080"}).find("is a redirect"), std::string::npos);
  EXPECT_NE(refusal({"80/tcp", "to", "[::1]:8080"}).find("is a redirect"), std::string::npos);
}

TEST(Forward, TwoForwardsMayNotShareAPublicPortOrADestination) {
  std::vector<Forward> f = {parsed({"80/tcp", "to", "8080"}), parsed({"80/udp", "to", "8081"})};
  EXPECT_FALSE(forward_conflict(f)) << "tcp and udp do not overlap";
  f.push_back(parsed({"80", "to", "9090"}));
  auto conflict = forward_conflict(f);
  ASSERT_TRUE(conflict);
  EXPECT_EQ(conflict->index, 2u);
  EXPECT_NE(conflict->why.find("takes the port of forward 1"), std::string::npos);
  f.pop_back();
  f.push_back(parsed({"8000/tcp", "to", "8080"}));
  conflict = forward_conflict(f);
  ASSERT_TRUE(conflict);
  EXPECT_NE(conflict->why.find("sends to the same place as forward 1"), std::string::npos);
  // The same port on two interfaces is two forwards.
  EXPECT_FALSE(forward_conflict({parsed({"in", "on", "eth0", "443/tcp", "to", "10.0.0.5:443"}),
                                 parsed({"in", "on", "eth1", "443/tcp", "to", "10.0.0.6:443"})}));
}

TEST(Forward, APacketAfterNatIsFoundByItsDestinationOrTheRedirectMark) {
  const std::vector<Forward> f = {parsed({"80/tcp", "to", "8080"}),
                                  parsed({"443/tcp", "to", "10.0.0.5:8443"})};
  const IpAddress host = *parse_ip_address("192.0.2.1");
  const IpAddress backend = *parse_ip_address("10.0.0.5");
  EXPECT_EQ(forward_of(f, ipproto::tcp, host, 8080, true), &f[0]);
  EXPECT_EQ(forward_of(f, ipproto::tcp, host, 8080, false), nullptr) << "a direct connection";
  EXPECT_EQ(forward_of(f, ipproto::udp, host, 8080, true), nullptr);
  EXPECT_EQ(forward_of(f, ipproto::tcp, backend, 8443, false), &f[1]);
  EXPECT_EQ(forward_of(f, ipproto::tcp, backend, 443, false), nullptr);
}

TEST(Forward, KeptInTheRulesFileAndReadBackWithWhereErrorsAre) {
  RuleSet set;
  set.forwards = {parsed({"80/tcp", "to", "8080", "comment", "web"}),
                  parsed({"in", "on", "eth0", "443", "to", "[fd00::5]:8443"})};
  const std::string text = write_rules(set);
  auto back = parse_rules(text, "rules.toml");
  ASSERT_TRUE(back.has_value()) << to_string(back.error()) << text;
  ASSERT_EQ(back->forwards.size(), 2u);
  EXPECT_EQ(forward_words(back->forwards[0]), "forward 80/tcp to 8080 comment 'web'");
  EXPECT_EQ(forward_words(back->forwards[1]), "forward in on eth0 443 to [fd00::5]:8443");

  auto broken = parse_rules(
      "[[forward]]\nport = 80\nto = \"8080\"\n\n[[forward]]\nproto = \"sctp\"\nport = \"80:90\"\n"
      "to = \"nowhere:x\"\n",
      "rules.toml");
  ASSERT_FALSE(broken.has_value());
  const std::string errors = to_string(broken.error());
  EXPECT_NE(errors.find("rules.toml:6"), std::string::npos) << errors;  // proto
  EXPECT_NE(errors.find("rules.toml:7"), std::string::npos) << errors;  // port
  EXPECT_NE(errors.find("rules.toml:8"), std::string::npos) << errors;  // to
  auto clash = parse_rules(
      "[[forward]]\nport = 80\nto = 8080\n\n[[forward]]\nport = 80\nto = 9090\n", "rules.toml");
  ASSERT_FALSE(clash.has_value());
  EXPECT_NE(to_string(clash.error()).find("rules.toml:5"), std::string::npos)
      << to_string(clash.error());
}

TEST(Forward, AddedAndDeletedAsRuleChangesAre) {
  RuleSet file;
  auto add = parse_rule_command(std::vector<std::string>{"forward", "80/tcp", "to", "8080"});
  ASSERT_TRUE(add.has_value()) << add.error();
  auto added = apply_change(file, *add, 0);
  ASSERT_TRUE(added.has_value()) << added.error();
  EXPECT_TRUE(added->changed);
  EXPECT_EQ(added->summary, "Forward added");
  EXPECT_EQ(added->after, "forward 80/tcp to 8080");
  auto again = apply_change(added->rules, *add, 0);
  ASSERT_TRUE(again.has_value());
  EXPECT_FALSE(again->changed);
  auto clash = parse_rule_command(std::vector<std::string>{"forward", "80/tcp", "to", "9090"});
  ASSERT_TRUE(clash.has_value());
  EXPECT_FALSE(apply_change(added->rules, *clash, 0).has_value());

  auto by_number = parse_rule_command(std::vector<std::string>{"forward", "delete", "1"});
  ASSERT_TRUE(by_number.has_value()) << by_number.error();
  auto deleted = apply_change(added->rules, *by_number, 0);
  ASSERT_TRUE(deleted.has_value());
  EXPECT_EQ(deleted->summary, "Forward deleted: forward 80/tcp to 8080");
  EXPECT_TRUE(deleted->rules.forwards.empty());
  EXPECT_FALSE(apply_change(deleted->rules, *by_number, 0).has_value()) << "no forward 1";
  auto by_words =
      parse_rule_command(std::vector<std::string>{"forward", "delete", "80/tcp", "to", "8080"});
  ASSERT_TRUE(by_words.has_value()) << by_words.error();
  EXPECT_TRUE(apply_change(added->rules, *by_words, 0)->changed);
}

}  // namespace
}  // namespace portwall
