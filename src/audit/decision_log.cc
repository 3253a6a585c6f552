#include "audit/decision_log.h"

#include <fmt/format.h>
#include <pwd.h>
#include <spdlog/logger.h>

#include <chrono>
#include <nlohmann/json.hpp>

namespace portwall {

std::int64_t unix_now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string user_name(long uid) {
  passwd entry{}, *result = nullptr;
  char buf[1024];
  if (uid >= 0 && getpwuid_r(static_cast<uid_t>(uid), &entry, buf, sizeof buf, &result) == 0 &&
      result) {
    return result->pw_name;
  }
  return std::to_string(uid);
}

std::expected<std::unique_ptr<DecisionLog>, std::string> DecisionLog::open(const std::string& path,
                                                                           LogFormat format,
                                                                           std::size_t capacity,
                                                                           LogTarget target) {
  auto sink = make_log_sink(target, path);
  if (!sink) return std::unexpected(sink.error());
  return std::unique_ptr<DecisionLog>(new DecisionLog(std::move(*sink), format, capacity));
}

DecisionLog::DecisionLog(LogSink sink, LogFormat format, std::size_t capacity)
    : sink_(std::move(sink)),
      logger_(std::make_shared<spdlog::logger>("decisions", sink_.sink)),
      format_(format),
      ring_(capacity) {
  logger_->flush_on(spdlog::level::off);
  writer_ = std::thread([this] { run(); });
}

DecisionLog::~DecisionLog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
}

bool DecisionLog::submit(const LogEvent& event) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (count_ == ring_.size()) {
      ++lost_;
      return false;
    }
    ring_[(head_ + count_) % ring_.size()] = event;
    ++count_;
  }
  wake_.notify_one();
  return true;
}

void DecisionLog::add_suppressed(std::uint64_t count) {
  if (count == 0) return;
  suppressed_pending_.fetch_add(count, std::memory_order_relaxed);
  suppressed_total_.fetch_add(count, std::memory_order_relaxed);
}

bool DecisionLog::reopen() { return sink_.file ? sink_.file->reopen() : true; }

void DecisionLog::write(std::string_view line) { logger_->info(line_for(sink_, line)); }

DecisionLogStats DecisionLog::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const LogFileStats file = sink_.file ? sink_.file->stats() : LogFileStats{};
  return {written_.load(), lost_, suppressed_total_.load(), file.failed_lines, file.reopened};
}

void DecisionLog::run() {
  std::vector<LogEvent> batch;
  batch.reserve(ring_.size());
  for (;;) {
    bool stop = false;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait_for(lock, std::chrono::seconds(1), [this] { return stopping_ || count_ > 0; });
      for (; count_ > 0; --count_, head_ = (head_ + 1) % ring_.size())
        batch.push_back(ring_[head_]);
      stop = stopping_;
    }
    const LogFormat format = format_.load();
    for (const LogEvent& e : batch) {
      write(format == LogFormat::json ? format_json(e) : format_text(e));
    }
    written_.fetch_add(batch.size(), std::memory_order_relaxed);
    batch.clear();
    if (std::uint64_t n = suppressed_pending_.exchange(0)) {
      const std::string when = rfc3339_ms(unix_now_ms());
      if (format == LogFormat::json) {
        write(fmt::format(R"({{"timestamp":"{}","suppressed":{}}})", when, n));
      } else {
        write(fmt::format("{} portwall SUPPRESSED={} (over [log] max_lines_per_second)", when, n));
      }
    }
    logger_->flush();
    if (stop) return;
  }
}

std::expected<std::unique_ptr<AuditLog>, std::string> AuditLog::open(const std::string& path,
                                                                     LogFormat format,
                                                                     LogTarget target) {
  auto sink = make_log_sink(target, path);
  if (!sink) return std::unexpected(sink.error());
  auto log = std::make_unique<AuditLog>();
  log->format_.store(format);
  log->sink_ = std::move(*sink);
  log->logger_ = std::make_shared<spdlog::logger>("audit", log->sink_.sink);
  log->logger_->flush_on(spdlog::level::trace);
  return log;
}

void AuditLog::record(long uid, const std::string& action, const std::string& result,
                      const std::string& detail) {
  const std::string when = rfc3339_ms(unix_now_ms());
  const std::string line =
      format_.load() == LogFormat::json
          ? nlohmann::json{{"timestamp", when}, {"log", "audit"},   {"uid", uid},
                           {"action", action},  {"result", result}, {"detail", detail}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)
          : fmt::format("{} portwall-audit UID={} ACTION={} RESULT={} DETAIL={}", when,
                        log_quoted(std::to_string(uid)), log_quoted(action), log_quoted(result),
                        log_quoted(detail));
  logger_->info(line_for(sink_, line));
}

}  // namespace portwall
