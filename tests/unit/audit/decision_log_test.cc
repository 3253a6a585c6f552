// The decision log writer: lines reach the file, a full ring loses and counts, reopen follows
// logrotate.
#include "audit/decision_log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

namespace portwall {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("pw-log-" + std::to_string(getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

LogEvent event() {
  LogEvent e;
  e.unix_ms = 1795473667123;
  e.decision = {Verdict::drop, Reason::default_policy, 0, true};
  e.src = *parse_ip_address("10.200.1.2");
  e.dst = *parse_ip_address("10.200.1.1");
  e.protocol = ipproto::udp;
  e.src_port = 4000;
  e.dst_port = 5354;
  return e;
}

TEST(DecisionLog, WritesSubmittedEventsAsLines) {
  TempDir dir;
  {
    auto log = DecisionLog::open((dir.path / "sub/portwall.log").string(), LogFormat::text);
    ASSERT_TRUE(log) << log.error();
    EXPECT_TRUE((*log)->submit(event()));
    EXPECT_TRUE((*log)->submit(event()));
  }  // the destructor drains the ring
  const std::string text = slurp(dir.path / "sub/portwall.log");
  EXPECT_EQ(text,
            "2026-11-23T22:41:07.123Z portwall ACTION=DROP RULE=- REASON=default DIR=in IN= OUT= "
            "SRC=10.200.1.2 DST=10.200.1.1 LEN=0 PROTO=UDP SPT=4000 DPT=5354\n"
            "2026-11-23T22:41:07.123Z portwall ACTION=DROP RULE=- REASON=default DIR=in IN= OUT= "
            "SRC=10.200.1.2 DST=10.200.1.1 LEN=0 PROTO=UDP SPT=4000 DPT=5354\n");
}

TEST(DecisionLog, SuppressedLinesAreSummarised) {
  TempDir dir;
  {
    auto log = DecisionLog::open((dir.path / "p.log").string(), LogFormat::text);
    ASSERT_TRUE(log);
    (*log)->add_suppressed(41);
    EXPECT_EQ((*log)->stats().suppressed, 41u);
  }
  EXPECT_NE(slurp(dir.path / "p.log").find("portwall SUPPRESSED=41 "), std::string::npos);
}

TEST(DecisionLog, ReopenFollowsARotatedFile) {
  TempDir dir;
  auto log = DecisionLog::open((dir.path / "p.log").string(), LogFormat::json);
  ASSERT_TRUE(log);
  fs::rename(dir.path / "p.log", dir.path / "p.log.1");
  ASSERT_TRUE((*log)->reopen());
  ASSERT_TRUE((*log)->submit(event()));
  log->reset();
  EXPECT_NE(slurp(dir.path / "p.log").find("\"dpt\":5354"), std::string::npos);
  EXPECT_EQ(slurp(dir.path / "p.log.1"), "");
}

TEST(LogQuoted, EscapesWhatCouldSplitALineOrEndAField) {
  EXPECT_EQ(log_quoted("allow 22/tcp"), "\"allow 22/tcp\"");
  EXPECT_EQ(log_quoted("a\"b\\c\nd\re\tf"), R"("a\"b\\c\nd\re\tf")");
  EXPECT_EQ(log_quoted(std::string("\x01\x7f\x1b", 3)), R"("\x01\x7f\x1b")");
  EXPECT_EQ(log_quoted("grüße"), "\"grüße\"") << "UTF-8 stays readable";
}

// A refused change once wrote the caller's words as they came: a newline in them began a
// forged line of the caller's choosing.
TEST(AuditLog, AnEventIsOneLineWhateverItsValuesHold) {
  TempDir dir;
  const std::string forged =
      "allow x\n2026-12-05T10:00:00.000Z portwall-audit UID=\"0\" ACTION=\"reload\" "
      "RESULT=\"ok\" DETAIL=\"all fine\"";
  {
    auto log = AuditLog::open((dir.path / "audit.log").string());
    ASSERT_TRUE(log) << log.error();
    (*log)->record(1000, "change\nACTION=\"x\"", "refused", "command=" + log_quoted(forged) +
                                                              " line 1\nline 2");
  }
  const std::string text = slurp(dir.path / "audit.log");
  ASSERT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
  EXPECT_NE(text.find(R"( portwall-audit UID="1000" ACTION="change\nACTION=\"x\"" )"
                      R"(RESULT="refused" DETAIL="command=\"allow x\\n2026)"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find(R"( line 1\nline 2")"), std::string::npos) << text;
}

TEST(AuditLog, TheJsonFormatIsOneObjectPerLine) {
  TempDir dir;
  {
    auto log = AuditLog::open((dir.path / "audit.log").string(), LogFormat::json);
    ASSERT_TRUE(log) << log.error();
    (*log)->record(0, "change", "ok", "two\nlines and a bad byte \xff");
    (*log)->set_format(LogFormat::text);
    (*log)->record(0, "reload", "ok", "text again");
  }
  std::istringstream lines(slurp(dir.path / "audit.log"));
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  ASSERT_TRUE(j.is_object()) << line;
  EXPECT_EQ(j["log"], "audit");
  EXPECT_EQ(j["uid"], 0);
  EXPECT_EQ(j["action"], "change");
  EXPECT_EQ(j["result"], "ok");
  EXPECT_EQ(j["detail"].get<std::string>().substr(0, 9), "two\nlines");
  ASSERT_TRUE(std::getline(lines, line));
  EXPECT_NE(line.find(R"(portwall-audit UID="0" ACTION="reload" RESULT="ok" DETAIL="text again")"),
            std::string::npos)
      << line;
}

TEST(DecisionLog, UnwritablePathIsAnErrorNamingIt) {
  auto log = DecisionLog::open("/proc/portwall/x.log", LogFormat::text);
  ASSERT_FALSE(log);
  EXPECT_NE(log.error().find("/proc/portwall/x.log"), std::string::npos) << log.error();
}

}  // namespace
}  // namespace portwall
