#include "audit/reopenable_file_sink.h"

#include <fcntl.h>
#include <spdlog/common.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>

namespace portwall {
namespace {

// What may wait in memory while the disk refuses it; beyond it lines are counted as failed.
constexpr std::size_t kMaxPending = 1 << 20;

int open_append(const std::string& path) {
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  // O_APPEND: safe beside logrotate's copytruncate.
  return ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
}

}  // namespace

ReopenableFileSink::ReopenableFileSink(std::string path, std::chrono::milliseconds check_every)
    : path_(std::move(path)), check_every_(check_every) {
  fd_ = open_append(path_);
  if (fd_ < 0) throw spdlog::spdlog_ex("cannot open log file " + path_, errno);
}

ReopenableFileSink::~ReopenableFileSink() {
  flush_();
  if (fd_ >= 0) ::close(fd_);
}

bool ReopenableFileSink::reopen() {
  std::lock_guard<std::mutex> lock(mutex_);
  return reopen_locked();
}

bool ReopenableFileSink::reopen_locked() {
  const int fresh = open_append(path_);
  if (fresh < 0) return false;
  ::close(fd_);
  fd_ = fresh;
  reopened_.fetch_add(1, std::memory_order_relaxed);
  return true;
}

bool ReopenableFileSink::replaced_locked() const {
  struct stat open_file {
  }, at_path{};
  if (fstat(fd_, &open_file) != 0) return true;
  if (stat(path_.c_str(), &at_path) != 0) return true;  // deleted (or its directory)
  return open_file.st_ino != at_path.st_ino || open_file.st_dev != at_path.st_dev;
}

LogFileStats ReopenableFileSink::stats() const {
  return {failed_lines_.load(std::memory_order_relaxed), reopened_.load(std::memory_order_relaxed)};
}

void ReopenableFileSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  if (pending_.size() + formatted.size() > kMaxPending) {
    failed_lines_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  pending_.append(formatted.data(), formatted.size());
  if (pending_.size() >= 64 * 1024) flush_();
}

void ReopenableFileSink::flush_() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_check_ >= check_every_) {
    last_check_ = now;
    if (replaced_locked()) reopen_locked();  // logrotate without SIGUSR1, or an rm
  }
  std::size_t done = 0;
  while (done < pending_.size()) {
    const ssize_t n = ::write(fd_, pending_.data() + done, pending_.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  if (done < pending_.size()) {
    // The disk refused the rest (ENOSPC, EIO): count its lines and let them go, so that memory
    // stays bounded; a partly written line is completed by nothing, as with any full disk.
    const auto rest =
        std::count(pending_.begin() + static_cast<std::ptrdiff_t>(done), pending_.end(), '\n');
    failed_lines_.fetch_add(static_cast<std::uint64_t>(std::max<std::ptrdiff_t>(rest, 1)),
                            std::memory_order_relaxed);
  }
  pending_.clear();
}

}  // namespace portwall
