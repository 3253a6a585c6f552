// Where the logs go: lines for syslog and the journal lose portwall's own timestamp.
#include "audit/log_sink.h"

#include <gtest/gtest.h>

namespace portwall {
namespace {

TEST(LogSink, SyslogAndJournalLinesLeaveOutTheTimestampFileLinesKeepIt) {
  const std::string line = "2026-11-23T22:41:07.123Z portwall ACTION=DROP RULE=7";
  LogSink file;
  EXPECT_EQ(line_for(file, line), line);
  LogSink journal;
  journal.own_timestamp = false;
  EXPECT_EQ(line_for(journal, line), "portwall ACTION=DROP RULE=7");
  const std::string json = R"({"timestamp":"2026-11-23T22:41:07.123Z","action":"DROP"})";
  EXPECT_EQ(line_for(journal, json), json);  // JSON keeps its timestamp field
}

TEST(LogSink, AFileTargetOpensAReopenableFileTheOthersNone) {
  const std::string path = ::testing::TempDir() + "/log_sink_test.log";
  auto file = make_log_sink(LogTarget::file, path);
  ASSERT_TRUE(file) << file.error();
  EXPECT_TRUE(file->file != nullptr);
  EXPECT_TRUE(file->own_timestamp);
  auto syslog = make_log_sink(LogTarget::syslog, "");
  ASSERT_TRUE(syslog) << syslog.error();
  EXPECT_EQ(syslog->file, nullptr);
  EXPECT_FALSE(syslog->own_timestamp);
  auto bad = make_log_sink(LogTarget::file, "/proc/portwall/x.log");
  EXPECT_FALSE(bad);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace portwall
