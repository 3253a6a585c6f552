// With no daemon running, a change edits the rules file the same way the daemon would.
#include "cli/offline_edit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "audit/log_event.h"
#include "config/policy_files.h"
#include "rules/rule_loader.h"

namespace portwall {
namespace {

namespace fs = std::filesystem;

class OfflineEdit : public ::testing::Test {
 protected:
  void SetUp() override { fs::create_directories(dir); }
  void TearDown() override { fs::remove_all(dir); }
  std::string text() {
    std::ifstream in(file);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  fs::path dir = fs::temp_directory_path() / ("pw-offline-" + std::to_string(getpid()));
  std::string file = (dir / "rules.toml").string();
};

TEST_F(OfflineEdit, CreatesEditsAndKeepsAValidFile) {
  auto added = edit_rules_file({"allow", "22/tcp", "comment", "ssh"}, file);
  ASSERT_TRUE(added) << added.error();
  EXPECT_EQ((*added)["summary"], "Rule added");
  auto inserted = edit_rules_file({"insert", "1", "deny", "from", "198.51.100.7"}, file);
  ASSERT_TRUE(inserted) << inserted.error();
  auto loaded = load_rules(file);
  ASSERT_TRUE(loaded) << to_string(loaded.error());
  ASSERT_EQ(loaded->rules.size(), 2u);
  EXPECT_EQ(loaded->rules[0].from_text, "198.51.100.7");
  EXPECT_EQ(loaded->rules[1].comment, "ssh");
  auto deleted = edit_rules_file({"delete", "1"}, file);
  ASSERT_TRUE(deleted);
  EXPECT_EQ(load_rules(file)->rules.size(), 1u);
}

// portwall.toml owns [defaults]; the rules file overrides a key only after `portwall default`.
TEST_F(OfflineEdit, ARuleChangeNeverWritesDefaultsOnlyPortwallDefaultDoesAndOnlyItsKey) {
  const std::string config = (dir / "portwall.toml").string();
  std::ofstream(config) << "[daemon]\nrules = \"" << file
                        << "\"\n[defaults]\nincoming = \"reject\"\noutgoing = \"deny\"\n";
  ASSERT_TRUE(edit_rules_file({"allow", "22/tcp"}, file));
  EXPECT_EQ(text().find("\n[defaults]\n"), std::string::npos) << text();
  auto loaded = load_policy_files(config);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->rules.defaults.incoming, Action::reject) << "the configuration's, untouched";
  EXPECT_EQ(loaded->rules.defaults.outgoing, Action::deny);
  EXPECT_TRUE(loaded->notes.empty());

  ASSERT_TRUE(edit_rules_file({"default", "allow", "outgoing"}, file));
  EXPECT_NE(text().find("[defaults]\noutgoing = 'allow'"), std::string::npos) << text();
  EXPECT_EQ(text().find("incoming"), std::string::npos) << text();
  ASSERT_TRUE(edit_rules_file({"deny", "23/tcp"}, file));
  EXPECT_NE(text().find("outgoing = 'allow'"), std::string::npos) << "written back: " << text();
  loaded = load_policy_files(config);
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->rules.defaults.incoming, Action::reject);
  EXPECT_EQ(loaded->rules.defaults.outgoing, Action::allow) << "portwall default overrides";
  ASSERT_EQ(loaded->notes.size(), 1u);
  EXPECT_NE(loaded->notes[0].find("[defaults] outgoing = \"deny\" is overridden by " + file +
                                  "'s \"allow\""),
            std::string::npos)
      << loaded->notes[0];
}

TEST_F(OfflineEdit, RefusedChangesLeaveTheFileAlone) {
  ASSERT_TRUE(edit_rules_file({"allow", "22/tcp"}, file));
  const std::string before = text();
  auto bad = edit_rules_file({"allow", "70000/tcp"}, file);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "port must be 1-65535, got 70000");
  auto missing = edit_rules_file({"delete", "5"}, file);
  ASSERT_FALSE(missing);
  EXPECT_EQ(missing.error(), "cannot delete: there is no rule 5 (there are 1)");
  EXPECT_EQ(text(), before);
}

TEST_F(OfflineEdit, ABrokenFileIsNeverOverwritten) {
  std::ofstream(file) << "[[rule]]\naction = allow\n";
  auto r = edit_rules_file({"allow", "80/tcp"}, file);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("fix the rules file first:"), std::string::npos) << r.error();
  EXPECT_EQ(text(), "[[rule]]\naction = allow\n");
}

// The CLI takes the daemon's socket and rules file from its configuration unless told, as
// portwalld does; an offline change is audited where the configuration says.
TEST_F(OfflineEdit, TheConfigurationNamesSocketRulesAndTheAuditLog) {
  const std::string config = (dir / "portwall.toml").string();
  const std::string audit = (dir / "audit.log").string();
  std::ofstream(config) << "[daemon]\nsocket = \"" << (dir / "pw.sock").string() << "\"\nrules = \""
                        << file << "\"\n[log]\naudit_file = \"" << audit << "\"\n";
  const CliSetup setup = cli_setup(config, std::nullopt, std::nullopt);
  EXPECT_EQ(setup.socket, (dir / "pw.sock").string());
  EXPECT_EQ(setup.rules, file);
  EXPECT_TRUE(setup.warning.empty());
  const CliSetup told = cli_setup(config, "/run/other.sock", "/etc/other.toml");
  EXPECT_EQ(told.socket, "/run/other.sock");
  EXPECT_EQ(told.rules, "/etc/other.toml");

  EXPECT_EQ(audit_offline_edit(setup, "change", "command=" + log_quoted("allow 22/tcp")), "");
  std::ifstream in(audit);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_NE(line.find(" portwall-audit UID=\"" + std::to_string(getuid()) + "\"" +
                      " ACTION=\"change\" RESULT=\"ok\" DETAIL=\"user="),
            std::string::npos)
      << line;
  EXPECT_NE(line.find(" pid=" + std::to_string(getpid()) +
                      R"( command=\"allow 22/tcp\" offline=\"portwalld was not running\"")"),
            std::string::npos)
      << line;
}

TEST_F(OfflineEdit, WithoutAReadableConfigurationTheDefaultsApplyAndNothingIsAudited) {
  const CliSetup none = cli_setup((dir / "absent.toml").string(), std::nullopt, std::nullopt);
  EXPECT_EQ(none.socket, "/run/portwall/portwall.sock");
  EXPECT_EQ(none.rules, "/etc/portwall/rules.toml");
  EXPECT_TRUE(none.warning.empty());
  EXPECT_EQ(audit_offline_edit(none, "change", "x"),
            "not recorded in the audit log: no configuration was read");
  // A broken one: the defaults, and a warning that says where.
  const std::string broken = (dir / "broken.toml").string();
  std::ofstream(broken) << "[daemon]\nrulez = 1\n";
  const CliSetup warned = cli_setup(broken, std::nullopt, std::nullopt);
  EXPECT_EQ(warned.rules, "/etc/portwall/rules.toml");
  EXPECT_NE(warned.warning.find("broken.toml:2:1: unknown key 'rulez'"), std::string::npos)
      << warned.warning;
  EXPECT_TRUE(warned.rules_unsure);  // nothing may be edited on that guess
  EXPECT_FALSE(cli_setup(broken, std::nullopt, file).rules_unsure);
  EXPECT_FALSE(none.rules_unsure);
}

// The CLI reads [daemon] and [log] only: a key file only root may read, or a table it does not
// need, does not keep it from finding the daemon.
TEST_F(OfflineEdit, OnlyDaemonAndLogAreReadNeverTheSpaKey) {
  const std::string config = (dir / "portwall.toml").string();
  std::ofstream(config) << "[daemon]\nsocket = \"/run/x.sock\"\nrules_dir = \"/etc/x.d\"\n"
                        << "[[knock]]\nname = \"spa\"\nspa_port = 62201\n"
                        << "spa_key_file = \"" << (dir / "absent.key").string() << "\"\n";
  const CliSetup setup = cli_setup(config, std::nullopt, std::nullopt);
  EXPECT_TRUE(setup.warning.empty()) << setup.warning;
  EXPECT_EQ(setup.socket, "/run/x.sock");
  EXPECT_EQ(setup.rules_dir, "/etc/x.d");
}

// Offline edits number rules across the drop-in folder portwalld reads.
TEST_F(OfflineEdit, TheConfiguredDropInFolderCountsInRuleNumbers) {
  fs::create_directories(dir / "elsewhere.d");
  std::ofstream((dir / "elsewhere.d" / "10-extra.toml").string())
      << "[[rule]]\naction = \"allow\"\nport = \"443\"\nproto = \"tcp\"\n";
  ASSERT_TRUE(edit_rules_file({"allow", "22/tcp"}, file));
  auto beyond = edit_rules_file({"delete", "3"}, file, (dir / "elsewhere.d").string());
  ASSERT_FALSE(beyond);
  EXPECT_EQ(beyond.error(), "cannot delete: there is no rule 3 (there are 2)");
}

}  // namespace
}  // namespace portwall
