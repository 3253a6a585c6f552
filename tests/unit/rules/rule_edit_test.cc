// Rule changes with ufw's semantics, and the rules file written back atomically.
#include "rules/rule_edit.h"

#include <gtest/gtest.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "rules/rule_loader.h"
#include "rules/rule_values.h"
#include "rules/rule_writer.h"

namespace portwall {
namespace {

namespace fs = std::filesystem;

RuleCommand change(std::vector<std::string> words) {
  auto c = parse_rule_command(words);
  EXPECT_TRUE(c) << (c ? "" : c.error());
  return c ? *c : RuleCommand{};
}

RuleSet base() {
  auto set = parse_rules(R"(
[defaults]
incoming = "deny"
[sets]
admins = ["10.0.0.0/24", "fd00:10::/64"]
[[rule]]
action = "allow"
proto = "tcp"
port = "22"
comment = "ssh"
[[rule]]
action = "allow"
from = "@admins"
port = "5432"
[[rule]]
action = "reject"
direction = "out"
proto = "tcp"
to = "192.0.2.0/24"
port = "25"
from_port = "1024:65535"
interface = "eth0"
log = true
)",
                         "rules.toml");
  EXPECT_TRUE(set);
  return *set;
}

TEST(RuleWriter, WrittenRulesLoadBackTheSame) {
  const RuleSet original = base();
  const std::string text = write_rules(original);
  auto again = parse_rules(text, "written.toml");
  ASSERT_TRUE(again) << to_string(again.error()) << "\n" << text;
  ASSERT_EQ(again->rules.size(), original.rules.size());
  for (std::size_t i = 0; i < original.rules.size(); ++i) {
    EXPECT_EQ(rule_words(again->rules[i]), rule_words(original.rules[i]));
  }
  EXPECT_EQ(again->sets, original.sets);
  EXPECT_EQ(again->defaults.incoming, Action::deny);
  EXPECT_EQ(write_rules(*again), text) << "writing is stable";
}

TEST(RuleWriter, LimitRateAndBurstSurvive) {
  RuleSet set = base();
  set.rules[0].action = Action::limit;
  set.rules[0].rate = Rate{20, std::chrono::minutes(1), 40};
  auto again = parse_rules(write_rules(set), "w.toml");
  ASSERT_TRUE(again) << to_string(again.error());
  EXPECT_EQ(again->rules[0].rate, set.rules[0].rate);
}

TEST(RuleWriter, QuotesAndBackslashesInCommentsSurvive) {
  RuleSet set = base();
  set.rules[0].comment = "by Fail2Ban after 5 \"attempts\" \\ sshd";
  auto again = parse_rules(write_rules(set), "w.toml");
  ASSERT_TRUE(again);
  EXPECT_EQ(again->rules[0].comment, set.rules[0].comment);
}

// portwalld keeps the rules it wrote instead of parsing them again, with these lines as origins:
// they must be what parsing the text says.
TEST(RuleWriter, RuleLinesAreTheOriginsLoadingTheTextGives) {
  RuleSet set = base();
  set.rules[0].comment = "a \"quoted\" \\ back-slashed Grüße";
  set.rules[1].action = Action::limit;
  set.rules[1].rate = Rate{20, std::chrono::minutes(1), 40};
  set.has_icmp = true;
  WrittenLines lines;
  const std::string text = write_rules(set, &lines);
  auto again = parse_rules(text, "w.toml");
  ASSERT_TRUE(again) << to_string(again.error()) << "\n" << text;
  ASSERT_EQ(lines.rules.size(), again->rules.size());
  for (std::size_t i = 0; i < lines.rules.size(); ++i) {
    EXPECT_EQ(lines.rules[i], again->rules[i].origin.line) << "rule " << i + 1 << "\n" << text;
    EXPECT_EQ(1, again->rules[i].origin.column);
  }
  EXPECT_EQ(again->rules[0].comment, set.rules[0].comment);
}

// The rules are written by hand (toml++'s formatter took 100 ms for 10^5 rules) in the very form
// its formatter gives, so that a file written before reads the same after: literal strings where
// they can be, escapes where they cannot, keys in order.
TEST(RuleWriter, ARuleIsWrittenAsTomlPlusPlusWritesIt) {
  for (const std::string comment :
       {"plain", "it's", "a \"quoted\" \\ path", "Grüße", "tab\there", "both ' and \""}) {
    RuleSet set;
    Rule r = base().rules[0];
    r.comment = comment;
    r.interface = "eth0";
    r.log = true;
    r.action = Action::limit;
    r.rate = Rate{20, std::chrono::minutes(1), 40};
    set.rules = {r};
    toml::table t{{"action", "limit"}, {"direction", "in"}, {"proto", "tcp"}, {"port", "22"},
                  {"interface", "eth0"}, {"log", true},       {"comment", comment},
                  {"rate", to_string(r.rate)}, {"burst", 40}};
    std::ostringstream expected;
    expected << "\n[[rule]]\n" << toml::toml_formatter(t) << "\n";
    const std::string text = write_rules(set);
    EXPECT_EQ(text.substr(text.find("\n[[rule]]")), expected.str()) << comment;
  }
}

class AtomicWrite : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override {
    fs::permissions(dir, fs::perms::owner_all);
    fs::remove_all(dir);
  }
  fs::path dir = fs::temp_directory_path() / ("pw-write-" + std::to_string(getpid()));
};

TEST_F(AtomicWrite, ReplacesTheFileAndLeavesNoTemporaryBehind) {
  const fs::path file = dir / "rules.toml";
  std::ofstream(file) << "old";
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  ASSERT_TRUE(write_file_atomically(file, "new\n"));
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  EXPECT_EQ(s.str(), "new\n");
  EXPECT_EQ(fs::status(file).permissions() & fs::perms::all,
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read)
      << "the file keeps its mode";
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator()), 1);
}

TEST_F(AtomicWrite, FailureNamesThePathAndKeepsTheOldFile) {
  auto r = write_file_atomically(dir / "missing-dir" / "rules.toml", "x");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), "cannot create a temporary file in " + (dir / "missing-dir").string() +
                           ": No such file or directory");
}

TEST(RuleEdit, AddAppendsAndAnExistingRuleIsSkipped) {
  auto r = apply_change(base(), change({"allow", "80/tcp"}), 3);
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->changed);
  ASSERT_EQ(r->rules.rules.size(), 4u);
  EXPECT_EQ(r->rules.rules[3].port_text, "80");
  EXPECT_EQ(r->after, "allow in proto tcp from any to any port 80");
  auto again = apply_change(r->rules, change({"allow", "80/tcp"}), 4);
  ASSERT_TRUE(again);
  EXPECT_FALSE(again->changed);
  EXPECT_EQ(again->summary, "Skipping adding existing rule");
}

TEST(RuleEdit, InsertAndPrependPutTheRuleBeforeTheNumber) {
  auto r = apply_change(base(), change({"insert", "2", "deny", "from", "198.51.100.7"}), 3);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rules.rules[1].from_text, "198.51.100.7");
  auto p = apply_change(base(), change({"prepend", "reject", "from", "192.0.2.66"}), 3);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->rules.rules[0].from_text, "192.0.2.66");
}

TEST(RuleEdit, DeleteByNumberAndByRule) {
  auto r = apply_change(base(), change({"delete", "1"}), 3);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->before, "allow in proto tcp from any to any port 22 comment 'ssh'");
  EXPECT_EQ(r->rules.rules.size(), 2u);
  auto byrule = apply_change(base(), change({"delete", "allow", "22/tcp"}), 3);
  ASSERT_TRUE(byrule);
  EXPECT_TRUE(byrule->changed) << "the comment does not count";
  EXPECT_EQ(byrule->rules.rules.size(), 2u);
  auto absent = apply_change(base(), change({"delete", "allow", "23/tcp"}), 3);
  ASSERT_TRUE(absent);
  EXPECT_FALSE(absent->changed);
  EXPECT_EQ(absent->summary, "Could not delete non-existent rule");
}

TEST(RuleEdit, NumbersOutsideTheFileAreRefused) {
  EXPECT_EQ(apply_change(base(), change({"delete", "9"}), 3).error(),
            "cannot delete: there is no rule 9 (there are 3)");
  EXPECT_EQ(apply_change(base(), change({"delete", "4"}), 5).error(),
            "cannot delete: rule 4 comes from a file in rules.d; edit that file");
  EXPECT_EQ(apply_change(base(), change({"insert", "7", "allow", "80"}), 3).error(),
            "cannot insert at 7: there is no rule 7 (there are 3)");
}

TEST(RuleEdit, DefaultChangesOneDirection) {
  auto r = apply_change(base(), change({"default", "reject", "outgoing"}), 3);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->rules.defaults.outgoing, Action::reject);
  EXPECT_EQ(r->rules.defaults.incoming, Action::deny);
  EXPECT_EQ(r->summary, "Default outgoing policy changed to 'reject'");
  EXPECT_EQ(r->before, "default allow outgoing");
}

}  // namespace
}  // namespace portwall
