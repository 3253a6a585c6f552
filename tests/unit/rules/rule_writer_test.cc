// The atomic rules-file write: a writer killed at any instant leaves the old file or the new
// one on disk, whole, never a mix or a truncated file.
#include "rules/rule_writer.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

namespace portwall {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A version of the file big enough that a write takes many system calls.
std::string version(char tag) {
  std::string text;
  for (int i = 0; i < 20000; ++i) {
    text += "# version ";
    text += tag;
    text += " line\n";
  }
  return text;
}

TEST(WriteFileAtomically, AWriterKilledAtAnyInstantLeavesTheOldOrTheNewFileWhole) {
  const fs::path dir = fs::temp_directory_path() / ("pw-atomic-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path path = dir / "rules.toml";
  const std::string a = version('A'), b = version('B');
  ASSERT_TRUE(write_file_atomically(path, a));
  // How long a whole write takes in a child here (ASan or a loaded machine make it several
  // times slower): the kills are spread over twice that, so that they land before the rename
  // and after it whatever the machine's speed.
  auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      (void)write_file_atomically(path, i % 2 ? a : b);
      _exit(0);
    }
    waitpid(child, nullptr, 0);
  }
  ASSERT_TRUE(write_file_atomically(path, a));
  const auto whole = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::steady_clock::now() - started) /
                     3;
  const unsigned spread = std::max<unsigned>(1000, static_cast<unsigned>(2 * whole.count()));
  std::mt19937 random(42);
  int old_seen = 0, new_seen = 0, torn = 0;
  constexpr int kKills = 200;
  for (int i = 0; i < kKills; ++i) {
    const std::string& before = slurp(path) == a ? a : b;
    const std::string& after = &before == &a ? b : a;
    const pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) {
      (void)write_file_atomically(path, after);
      _exit(0);
    }
    // Anywhere from before the first write to after the rename.
    std::this_thread::sleep_for(std::chrono::microseconds(random() % spread));
    kill(child, SIGKILL);
    waitpid(child, nullptr, 0);
    const std::string now = slurp(path);
    if (now == before) {
      ++old_seen;
    } else if (now == after) {
      ++new_seen;
    } else {
      ++torn;
    }
  }
  fs::remove_all(dir);
  std::printf(
      "[ figure ] %d kills over 0-%u us (a write takes %lld us): old file %d, new file "
      "%d, torn %d\n",
      kKills, spread, static_cast<long long>(whole.count()), old_seen, new_seen, torn);
  EXPECT_EQ(torn, 0);
  EXPECT_GT(old_seen, 0);  // the kills landed before the rename ...
  EXPECT_GT(new_seen, 0);  // ... and after it
}

TEST(WriteFileAtomically, AFailedWriteLeavesTheOldFile) {
  const fs::path dir = fs::temp_directory_path() / ("pw-atomic-ro-" + std::to_string(getpid()));
  fs::create_directories(dir);
  const fs::path path = dir / "rules.toml";
  ASSERT_TRUE(write_file_atomically(path, "old\n"));
  // No temporary file can be made in a directory that does not exist.
  auto failed = write_file_atomically(dir / "missing" / "rules.toml", "new\n");
  ASSERT_FALSE(failed);
  EXPECT_NE(failed.error().find("cannot create a temporary file in"), std::string::npos);
  EXPECT_EQ(slurp(path), "old\n");
  fs::remove_all(dir);
}

}  // namespace
}  // namespace portwall
