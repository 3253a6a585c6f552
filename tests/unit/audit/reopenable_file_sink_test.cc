// The log file sink: a removed or moved file is replaced by a new one at the same path, and a
// disk that refuses writes costs counted lines, not memory or a crash.
#include "audit/reopenable_file_sink.h"

#include <gtest/gtest.h>
#include <spdlog/logger.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace portwall {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("pw-sink-" + std::to_string(getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::shared_ptr<spdlog::logger> logger_on(std::shared_ptr<ReopenableFileSink> sink) {
  sink->set_pattern("%v");
  auto logger = std::make_shared<spdlog::logger>("test", sink);
  logger->flush_on(spdlog::level::trace);
  return logger;
}

TEST(ReopenableFileSink, ARemovedLogFileIsCreatedAgainAtItsPath) {
  TempDir dir;
  const fs::path path = dir.path / "portwall.log";
  auto sink = std::make_shared<ReopenableFileSink>(path.string(), std::chrono::milliseconds(0));
  auto logger = logger_on(sink);
  logger->info("one");
  fs::remove(path);
  logger->info("two");
  EXPECT_EQ(slurp(path), "two\n");
  EXPECT_EQ(sink->stats().reopened, 1u);
  EXPECT_EQ(sink->stats().failed_lines, 0u);
}

TEST(ReopenableFileSink, AMovedLogFileIsFollowedByANewOneWithoutASignal) {
  TempDir dir;
  const fs::path path = dir.path / "portwall.log";
  auto sink = std::make_shared<ReopenableFileSink>(path.string(), std::chrono::milliseconds(0));
  auto logger = logger_on(sink);
  logger->info("before rotation");
  fs::rename(path, dir.path / "portwall.log.1");
  logger->info("after rotation");
  EXPECT_EQ(slurp(dir.path / "portwall.log.1"), "before rotation\n");
  EXPECT_EQ(slurp(path), "after rotation\n");
}

TEST(ReopenableFileSink, LinesAFullDiskRefusesAreCountedAndDropped) {
  // /dev/full answers every write with ENOSPC, as a full file system does.
  auto sink = std::make_shared<ReopenableFileSink>("/dev/full");
  auto logger = logger_on(sink);
  for (int i = 0; i < 100; ++i) logger->info("a line that will not fit");
  EXPECT_EQ(sink->stats().failed_lines, 100u);
}

}  // namespace
}  // namespace portwall
