// What a load of the rules records (RuleSources) and the rules file's part of the rules in force:
// portwalld makes a rule change to the rules in force instead of parsing 10^5 rules again, and
// reuses a set file that has not changed. Each shortcut must give what a full load gives.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "rules/classifier.h"
#include "rules/forward.h"
#include "rules/rule_edit.h"
#include "rules/rule_grammar.h"
#include "rules/rule_loader.h"
#include "rules/rule_values.h"
#include "rules/rule_writer.h"
#include "test_dir.h"

namespace portwall {
namespace {

namespace fs = std::filesystem;

class RuleSourcesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directory(dir_ / "rules.d");
    write("blocklist.txt", "192.0.2.0/24\n198.51.100.7\n2001:db8::/48\n");
    write("rules.toml",
          "[defaults]\nincoming = \"reject\"\n"
          "[[set]]\nname = \"blocklist\"\nfile = \"blocklist.txt\"\n"
          "[[rule]]\naction = \"deny\"\nfrom = \"@blocklist\"\n"
          "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"22\"\n"
          "[[forward]]\nproto = \"tcp\"\nport = 8080\nto = \"80\"\n");
    write("rules.d/10-web.toml",
          "[sets]\nweb = [\"203.0.113.0/24\"]\n"
          "[[rule]]\naction = \"deny\"\nfrom = \"@blocklist\"\nport = \"443\"\nproto = \"tcp\"\n"
          "[[rule]]\naction = \"allow\"\nfrom = \"@web\"\nport = \"443\"\nproto = \"tcp\"\n"
          "[[forward]]\nproto = \"udp\"\nport = 5353\nto = \"53\"\n");
    settle();
  }
  // File times advance in clock ticks: a file changed within one of being read counts as
  // changed (racy), so the tests let the files settle before they load.
  static void settle() { std::this_thread::sleep_for(std::chrono::milliseconds(30)); }
  void write(const std::string& name, std::string_view text) { dir_.write(name, text); }
  RuleSet load(RuleSources* sources) {
    auto set = load_rules(dir_ / "rules.toml", dir_ / "rules.d", sources);
    EXPECT_TRUE(set) << to_string(set.error());
    return set ? std::move(*set) : RuleSet{};
  }
  // Each rule in words, with its origin, its rate and the prefixes it resolved to.
  static std::vector<std::string> words(const RuleSet& set) {
    std::vector<std::string> out;
    for (const Rule& r : set.rules) {
      std::string line = rule_words(r) + " @" + r.origin.file + ":" +
                         std::to_string(r.origin.line) + ":" + std::to_string(r.origin.column) +
                         " rate " + std::to_string(r.rate.count) + "/" +
                         std::to_string(r.rate.per.count()) + "+" + std::to_string(r.rate.burst);
      for (const AddressMatch* m : {&r.from, &r.to}) {
        line += " [";
        for (const Cidr& c : m->prefixes) line += to_string(c) + " ";
        line += "]";
      }
      out.push_back(line);
    }
    return out;
  }
  TestDir dir_;
};

TEST_F(RuleSourcesTest, ASetFileThatDidNotChangeIsNotReadAgainOneThatChangedIs) {
  RuleSources sources;
  const RuleSet first = load(&sources);
  ASSERT_EQ(first.sets.at("blocklist").size(), 3u);
  RuleSources again = sources;
  const RuleSet second = load(&again);
  EXPECT_TRUE(second.sets.at("blocklist").shares_with(first.sets.at("blocklist")))
      << "the same list, not a copy read again";
  EXPECT_TRUE(second.rules[0].from.prefixes.shares_with(first.sets.at("blocklist")));

  write("blocklist.txt", "192.0.2.0/24\n");
  const RuleSet third = load(&again);
  EXPECT_FALSE(third.sets.at("blocklist").shares_with(first.sets.at("blocklist")));
  EXPECT_EQ(third.sets.at("blocklist").size(), 1u) << "the file as it is now";
}

TEST_F(RuleSourcesTest, UnchangedSeesEveryFileTheLoadRead) {
  RuleSources sources;
  load(&sources);
  EXPECT_TRUE(sources.unchanged());
  EXPECT_EQ(sources.main_rules, 2u);
  EXPECT_EQ(sources.main_forwards, 1u);
  EXPECT_EQ(sources.main_sets, std::vector<std::string>{"blocklist"});

  for (const char* name : {"rules.toml", "blocklist.txt", "rules.d/10-web.toml"}) {
    RuleSources s;
    load(&s);
    const std::string text = [&] {
      std::ifstream in(dir_ / name);
      return std::string(std::istreambuf_iterator<char>(in), {});
    }();
    write(name, text);  // the same bytes, a new file: it may have been anything meanwhile
    settle();
    EXPECT_FALSE(s.unchanged()) << name;
  }
  RuleSources s;
  load(&s);
  write("rules.d/20-new.toml", "[[rule]]\naction = \"allow\"\nport = \"25\"\n");
  settle();
  EXPECT_FALSE(s.unchanged()) << "a drop-in added";
  load(&s);
  fs::remove(dir_ / "rules.d/20-new.toml");
  settle();
  EXPECT_FALSE(s.unchanged()) << "a drop-in removed";

  // A drop-in written in place: the folder's stamp stays, the file's does not.
  load(&s);
  ASSERT_TRUE(s.unchanged());
  std::ofstream(dir_ / "rules.d/10-web.toml", std::ios::app) << "# edited\n";
  settle();
  EXPECT_FALSE(s.unchanged()) << "a drop-in edited in place";
}

TEST_F(RuleSourcesTest, AFileChangedWithinAClockTickOfTheLoadCountsAsChanged) {
  fs::remove(dir_ / "rules.d/10-web.toml");
  write("rules.toml", "[[rule]]\naction = \"allow\"\nport = \"22\"\nproto = \"tcp\"\n");
  RuleSources s;
  load(&s);  // at once: another write in this tick could leave the stamp as it is
  EXPECT_FALSE(s.unchanged());
  settle();
  load(&s);
  EXPECT_TRUE(s.unchanged());
}

TEST_F(RuleSourcesTest, ASetFileSymlinkPointedElsewhereIsAChange) {
  fs::remove(dir_ / "rules.d/10-web.toml");
  write("list-a.txt", "192.0.2.1\n");
  write("list-b.txt", "192.0.2.2\n198.51.100.0/24\n");
  fs::create_symlink("list-a.txt", dir_ / "current.txt");
  write("rules.toml",
        "[[set]]\nname = \"l\"\nfile = \"current.txt\"\n[[rule]]\naction = \"deny\"\nfrom = \"@l\"\n");
  settle();
  RuleSources s;
  EXPECT_EQ(load(&s).sets.at("l").size(), 1u);
  ASSERT_TRUE(s.unchanged());
  fs::remove(dir_ / "current.txt");
  fs::create_symlink("list-b.txt", dir_ / "current.txt");  // a list rotated by its link
  EXPECT_FALSE(s.unchanged());
  EXPECT_EQ(load(&s).sets.at("l").size(), 2u) << "the list the link names now";
}

// The shortcut portwalld takes for `portwall allow|insert|delete|default`: the rules file's
// part of the rules in force, changed, written, and put back in front of the drop-ins' rules.
// It must give exactly what loading the written files gives, origins included.
TEST_F(RuleSourcesTest, AChangeToTheRulesFilePartGivesWhatLoadingTheWrittenFilesGives) {
  for (const std::vector<std::string>& change :
       {std::vector<std::string>{"allow", "7777/tcp"}, {"insert", "1", "deny", "from", "10.0.0.1"},
        {"delete", "2"}, {"default", "allow", "outgoing"}, {"forward", "9090/tcp", "to", "90"},
        {"prepend", "reject", "25/tcp", "comment", "a \"quoted\" note"},
        {"limit", "2222/tcp"}, {"default", "deny", "incoming"}}) {
    SCOPED_TRACE(change[0]);
    RuleSources sources;
    RuleSet in_force = load(&sources);
    in_force.default_to(Defaults{Action::deny, Action::allow});
    auto command = parse_rule_command(change);
    ASSERT_TRUE(command) << command.error();
    auto edit = apply_change(rules_file_part(in_force, sources), *command, in_force.rules.size());
    ASSERT_TRUE(edit) << edit.error();
    ASSERT_TRUE(edit->changed);
    WrittenLines lines;
    ASSERT_TRUE(write_file_atomically(dir_ / "rules.toml", write_rules(edit->rules, &lines)));
    RuleSet made = with_rules_file_part(in_force, sources, std::move(edit->rules), lines);
    made.default_to(Defaults{Action::deny, Action::allow});

    RuleSources loaded_sources;
    RuleSet loaded = load(&loaded_sources);
    loaded.default_to(Defaults{Action::deny, Action::allow});
    EXPECT_EQ(words(made), words(loaded));
    EXPECT_EQ(made.sets, loaded.sets);
    EXPECT_EQ(made.defaults.incoming, loaded.defaults.incoming);
    EXPECT_EQ(made.defaults.outgoing, loaded.defaults.outgoing);
    EXPECT_EQ(made.has_outgoing, loaded.has_outgoing);
    EXPECT_EQ(made.has_incoming, loaded.has_incoming);
    EXPECT_EQ(made.icmp, loaded.icmp);
    EXPECT_EQ(made.set_files.size(), loaded.set_files.size());
    ASSERT_EQ(made.forwards.size(), loaded.forwards.size());
    for (std::size_t i = 0; i < made.forwards.size(); ++i) {
      EXPECT_EQ(forward_words(made.forwards[i]), forward_words(loaded.forwards[i]));
      EXPECT_EQ(made.forwards[i].origin.file, loaded.forwards[i].origin.file);
      EXPECT_EQ(made.forwards[i].origin.line, loaded.forwards[i].origin.line);
      EXPECT_EQ(made.forwards[i].origin.column, loaded.forwards[i].origin.column);
    }
    EXPECT_EQ(sources.main_rules, loaded_sources.main_rules);
    EXPECT_EQ(sources.main_forwards, loaded_sources.main_forwards);
    SetUp();  // the next change starts from the same files
  }
}

// A classifier built with the one before takes over its compiled set, which must then live
// as long as the new one needs it.
TEST(ClassifierReuse, AnAddressSetTakenOverOutlivesTheClassifierItCameFrom) {
  std::vector<Cidr> many;
  for (std::uint32_t i = 0; i < 1000; ++i) {
    many.push_back(*parse_cidr("10.1." + std::to_string(i / 256) + "." + std::to_string(i % 256)));
  }
  RuleSet rules;
  Rule deny;
  deny.action = Action::deny;
  deny.from = {false, CidrList(many)};
  rules.rules.push_back(deny);
  auto first = std::make_unique<Classifier>(rules);
  Classifier second(rules, first.get());
  first.reset();
  MatchInput in;
  in.protocol = 6;
  in.src = *parse_ip_address("10.1.3.200");
  in.dst = *parse_ip_address("192.0.2.1");
  in.dst_port = 22;
  EXPECT_EQ(second.match(in), std::optional<std::size_t>{0});
  in.src = *parse_ip_address("10.1.4.0");
  EXPECT_EQ(second.match(in), std::nullopt);
}

}  // namespace
}  // namespace portwall
