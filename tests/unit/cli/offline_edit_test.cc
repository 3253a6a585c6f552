// With no daemon running, a change edits the rules file the same way the daemon would.
#include "cli/offline_edit.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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

}  // namespace
}  // namespace portwall
