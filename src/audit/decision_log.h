// decision_log.h — the decision log (/var/log/portwall/portwall.log) and its writer thread.
// Queue threads hand events over with submit(), which never blocks on I/O: a bounded ring
// under a briefly held mutex; when the ring is full the event is counted as lost. The writer
// thread formats (text or JSON) and writes through spdlog, and says how many lines the rate
// limit suppressed. Thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_trail.h"
#include "audit/log_event.h"
#include "audit/log_sink.h"
#include "config/config.h"

namespace spdlog {
class logger;
}

namespace portwall {

struct DecisionLogStats {
  std::uint64_t written = 0;
  std::uint64_t lost = 0;          // ring full
  std::uint64_t suppressed = 0;    // refused by the rate limit (reported by the queue threads)
  std::uint64_t write_failed = 0;  // lines the file system refused (disk full)
  std::uint64_t reopened = 0;      // the file was opened again (rotated, removed, SIGUSR1)
};

class DecisionLog {
 public:
  // `path` is the file for LogTarget::file, unused for the others.
  static std::expected<std::unique_ptr<DecisionLog>, std::string> open(
      const std::string& path, LogFormat format, std::size_t capacity = 4096,
      LogTarget target = LogTarget::file);
  ~DecisionLog();

  // Never blocks on I/O. False when the ring is full (the event is counted as lost).
  bool submit(const LogEvent& event);
  // Lines the rate limiters refused; written as one summary line by the writer thread.
  void add_suppressed(std::uint64_t count);
  bool reopen();
  void set_format(LogFormat format) { format_.store(format); }
  DecisionLogStats stats() const;

 private:
  DecisionLog(LogSink sink, LogFormat format, std::size_t capacity);
  void run();
  void write(std::string_view line);

  LogSink sink_;
  std::shared_ptr<spdlog::logger> logger_;
  std::atomic<LogFormat> format_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<LogEvent> ring_;
  std::size_t head_ = 0, count_ = 0;
  bool stopping_ = false;
  std::uint64_t lost_ = 0;
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> suppressed_pending_{0};
  std::atomic<std::uint64_t> suppressed_total_{0};
  std::thread writer_;
};

// The change log (/var/log/portwall/audit.log): who changed what, when. Synchronous; called
// from the control and signal paths, never from a queue thread.
class AuditLog final : public AuditTrail {
 public:
  static std::expected<std::unique_ptr<AuditLog>, std::string> open(
      const std::string& path, LogFormat format = LogFormat::text,
      LogTarget target = LogTarget::file);
  // One line per event, every value quoted and escaped (log_quoted):
  // 2026-11-23T22:41:07.123Z portwall-audit UID="0" ACTION="reload" RESULT="ok" DETAIL="..."
  // or with [log] format = "json" one object:
  // {"timestamp":"...","log":"audit","uid":0,"action":"reload","result":"ok","detail":"..."}
  void record(long uid, const std::string& action, const std::string& result,
              const std::string& detail) override;
  void set_format(LogFormat format) { format_.store(format); }
  bool reopen() { return sink_.file ? sink_.file->reopen() : true; }
  LogFileStats file_stats() const { return sink_.file ? sink_.file->stats() : LogFileStats{}; }
  std::uint64_t failed_lines() const override { return file_stats().failed_lines; }

 private:
  LogSink sink_;
  std::shared_ptr<spdlog::logger> logger_;
  std::atomic<LogFormat> format_{LogFormat::text};
};

std::int64_t unix_now_ms();

// The login name of `uid` for an audit line's "user=", or its number when it has none.
std::string user_name(long uid);

}  // namespace portwall
