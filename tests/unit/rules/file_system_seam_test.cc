// The loaders reach files only through the FileSystem they are given: the rules, their drop-ins,
// set files, the configuration and an spa_key_file all come from a MemoryFileSystem here, with
// no file on disk, and what a load records (RuleSources) is judged against the same one.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/policy_files.h"
#include "memory_file_system.h"
#include "rules/rule_loader.h"
#include "test_dir.h"

namespace portwall {
namespace {

using std::chrono::seconds;

class FileSystemSeam : public ::testing::Test {
 protected:
  void SetUp() override {
    fs_.write("/etc/portwall/portwall.toml",
              "[daemon]\nrules = \"/etc/portwall/rules.toml\"\n[defaults]\nincoming = \"deny\"\n",
              0640);
    fs_.write("/etc/portwall/rules.toml",
              "[[set]]\nname = \"bad\"\nfile = \"bad.txt\"\n"
              "[[rule]]\naction = \"deny\"\nfrom = \"@bad\"\n"
              "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"22\"\n");
    fs_.write("/etc/portwall/bad.txt", "192.0.2.0/24\n198.51.100.7\n");
    fs_.write("/etc/portwall/rules.d/10-web.toml",
              "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"443\"\n");
    fs_.write("/etc/portwall/rules.d/.20-hidden.toml", "not toml at all [[[");
    fs_.write("/etc/portwall/rules.d/README", "not toml either [[[");
    fs_.advance(seconds(1));  // files older than a clock tick: not racy
  }
  std::expected<PolicyFiles, std::string> load(const RuleSources* previous = nullptr) {
    return load_policy_files("/etc/portwall/portwall.toml", "", "", previous, fs_);
  }
  MemoryFileSystem fs_;
};

TEST_F(FileSystemSeam, RulesDropInsAndSetFilesAreReadFromTheFileSystemGiven) {
  auto loaded = load();
  ASSERT_TRUE(loaded) << loaded.error();
  ASSERT_EQ(loaded->rules.rules.size(), 3u);
  EXPECT_EQ(loaded->rules.rules[2].port_text, "443");
  EXPECT_EQ(loaded->rules.rules[2].origin.file, "/etc/portwall/rules.d/10-web.toml");
  EXPECT_EQ(loaded->rules.sets.at("bad").size(), 2u);
  EXPECT_EQ(loaded->rules.defaults.incoming, Action::deny) << "the configuration's [defaults]";
  EXPECT_EQ(fs_.reads_of("/etc/portwall/rules.d/.20-hidden.toml"), 0) << "dot files are skipped";
  EXPECT_EQ(fs_.reads_of("/etc/portwall/rules.d/README"), 0) << "only *.toml";
}

TEST_F(FileSystemSeam, AnUnchangedSetFileIsNotReadAgainAndAChangeToAnyFileShows) {
  auto first = load();
  ASSERT_TRUE(first) << first.error();
  EXPECT_TRUE(first->sources.unchanged(fs_));
  auto second = load(&first->sources);
  ASSERT_TRUE(second) << second.error();
  EXPECT_EQ(fs_.reads_of("/etc/portwall/bad.txt"), 1) << "the same stamp: its prefixes shared";
  EXPECT_TRUE(second->rules.sets.at("bad").shares_with(first->rules.sets.at("bad")));

  fs_.write("/etc/portwall/bad.txt", "203.0.113.0/24\n");
  EXPECT_FALSE(second->sources.unchanged(fs_)) << "a set file replaced";
  auto third = load(&second->sources);
  ASSERT_TRUE(third) << third.error();
  EXPECT_EQ(fs_.reads_of("/etc/portwall/bad.txt"), 2);
  EXPECT_EQ(third->rules.sets.at("bad").size(), 1u);

  fs_.advance(seconds(1));
  auto fourth = load(&third->sources);
  ASSERT_TRUE(fourth);
  EXPECT_TRUE(fourth->sources.unchanged(fs_));
  fs_.write("/etc/portwall/rules.d/30-new.toml", "");
  EXPECT_FALSE(fourth->sources.unchanged(fs_)) << "a drop-in added: the folder's stamp moved";
}

TEST_F(FileSystemSeam, AFileWrittenWithinAClockTickOfTheLoadCountsAsChanged) {
  fs_.write("/etc/portwall/rules.toml", "[[rule]]\naction = \"allow\"\nport = \"80\"\n");
  auto loaded = load();  // same instant as the write: a second write could keep the stamp
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_FALSE(loaded->sources.unchanged(fs_));
}

TEST_F(FileSystemSeam, ASetFileOutsideTheRulesFoldersIsRefusedBeforeItIsRead) {
  fs_.write("/etc/shadow", "root:x:0:0\n", 0600);
  fs_.write("/etc/portwall/rules.toml",
            "[[set]]\nname = \"s\"\nfile = \"/etc/shadow\"\n"
            "[[rule]]\naction = \"deny\"\nfrom = \"@s\"\n");
  auto loaded = load();
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error(),
            "/etc/portwall/rules.toml:3:8: set file /etc/shadow is outside /etc/portwall or "
            "/etc/portwall/rules.d: set files are read from the rules' own directories only");
  EXPECT_EQ(fs_.reads_of("/etc/shadow"), 0);
}

TEST_F(FileSystemSeam, AMissingRulesFileSaysWhereAndWhy) {
  fs_.erase("/etc/portwall/rules.toml");
  auto loaded = load();
  ASSERT_FALSE(loaded);
  EXPECT_EQ(loaded.error(), "/etc/portwall/rules.toml: cannot read: No such file or directory");
}

TEST_F(FileSystemSeam, AnSpaKeyFileOthersMayReadIsRefusedAndAPrivateOneIsRead) {
  const std::string knock =
      "[[knock]]\nname = \"ssh\"\nspa_port = 62201\nspa_key_file = \"/etc/portwall/spa.key\"\n"
      "open = \"22/tcp\"\n";
  fs_.write("/etc/portwall/portwall.toml",
            "[daemon]\nrules = \"/etc/portwall/rules.toml\"\n" + knock, 0640);
  fs_.write("/etc/portwall/spa.key", "0123456789abcdef0123456789abcdef\n", 0644);
  auto loaded = load();
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("spa_key_file /etc/portwall/spa.key is readable by users other "
                                "than its owner (mode 0644)"),
            std::string::npos)
      << loaded.error();
  fs_.write("/etc/portwall/spa.key", "0123456789abcdef0123456789abcdef\n", 0600);
  loaded = load();
  ASSERT_TRUE(loaded) << loaded.error();
  EXPECT_EQ(loaded->config.knocks.at(0).spa_key, "0123456789abcdef0123456789abcdef");
}

// Issue 19: the bouncer's key and the machine's password are secrets in files of their own.
TEST_F(FileSystemSeam, CrowdSecSecretsAreReadFromPrivateFilesOnly) {
  const std::string table =
      "[crowdsec]\nlapi_url = \"http://10.200.9.1:8080/\"\n"
      "api_key_file = \"/etc/portwall/crowdsec.key\"\ninterval = \"5s\"\nlogin = \"server-a\"\n"
      "password_file = \"/etc/portwall/crowdsec.password\"\n";
  fs_.write("/etc/portwall/portwall.toml",
            "[daemon]\nrules = \"/etc/portwall/rules.toml\"\n" + table, 0640);
  fs_.write("/etc/portwall/crowdsec.key", "k3y\n", 0644);
  fs_.write("/etc/portwall/crowdsec.password", "pa55\n", 0600);
  auto loaded = load();
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("api_key_file /etc/portwall/crowdsec.key is readable by users "
                                "other than its owner (mode 0644): anyone who reads it holds "
                                "the secret; chmod 600"),
            std::string::npos)
      << loaded.error();
  EXPECT_EQ(loaded.error().find("k3y"), std::string::npos) << "the secret is never shown";
  fs_.write("/etc/portwall/crowdsec.key", "k3y\n", 0600);
  loaded = load();
  ASSERT_TRUE(loaded) << loaded.error();
  const CrowdSecSection& c = loaded->config.crowdsec;
  EXPECT_EQ(c.api_key, "k3y");
  EXPECT_EQ(c.password, "pa55");
  EXPECT_EQ(c.interval, std::chrono::seconds(5));
  EXPECT_TRUE(c.source());
  fs_.write("/etc/portwall/portwall.toml",
            "[daemon]\nrules = \"/etc/portwall/rules.toml\"\n[crowdsec]\nlapi_url = "
            "\"ftp://x\"\nca_fil = \"/x\"\n",
            0640);
  loaded = load();
  ASSERT_FALSE(loaded);
  EXPECT_NE(loaded.error().find("lapi_url: an http:// or https:// address, got \"ftp://x\""),
            std::string::npos)
      << loaded.error();
  EXPECT_NE(loaded.error().find("unknown key 'ca_fil'"), std::string::npos) << loaded.error();
  EXPECT_NE(loaded.error().find("[crowdsec] lapi_url needs api_key_file"), std::string::npos)
      << loaded.error();
}

TEST(MemoryFileSystemWrite, AnAtomicWriteMakesANewInodeAndKeepsTheMode) {
  MemoryFileSystem fs;
  fs.write("/etc/portwall/rules.toml", "old", 0640);
  const FileSystem& seam = fs;  // the defaults are the interface's
  const FileStamp before = *fs.stamp("/etc/portwall/rules.toml");
  FileStamp written;
  ASSERT_TRUE(seam.write_atomically("/etc/portwall/rules.toml", "new", &written));
  EXPECT_NE(written.inode, before.inode);
  EXPECT_EQ(written.mode, 0640u);
  EXPECT_EQ(seam.read("/etc/portwall/rules.toml", true, kMaxReadBytes)->text, "new");
  EXPECT_EQ(seam.write_atomically("/nowhere/rules.toml", "x").error(),
            "cannot create a temporary file in /nowhere: No such file or directory");
}

// A set file's path is resolved and checked against the rules' folders, then read: a symlink
// put at that path in between must not lead the read elsewhere (/etc/shadow).
TEST(DiskFileSystem, ANoFollowReadRefusesASymlinkAtThePath) {
  TestDir dir;
  dir.write("real.txt", "192.0.2.1\n");
  ASSERT_EQ(symlink((dir / "real.txt").c_str(), (dir / "link.txt").c_str()), 0);
  const FileSystem& disk = FileSystem::disk();
  EXPECT_EQ(disk.read(dir / "link.txt", true, kMaxReadBytes, false)->text, "192.0.2.1\n");
  auto refused = disk.read(dir / "link.txt", true, kMaxReadBytes, /*no_follow=*/true);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "Too many levels of symbolic links");
}

TEST(DiskFileSystem, AWriteTakesTheModeAskedAndARemoveSaysWhetherTheFileWasThere) {
  TestDir dir;
  const FileSystem& disk = FileSystem::disk();
  ASSERT_TRUE(disk.write_atomically(dir / "rules.toml.unconfirmed", "x", nullptr, 0600));
  struct stat st {};
  ASSERT_EQ(stat((dir / "rules.toml.unconfirmed").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(disk.remove(dir / "rules.toml.unconfirmed"), true);
  EXPECT_EQ(disk.remove(dir / "rules.toml.unconfirmed"), false);
}

}  // namespace
}  // namespace portwall
