// reopenable_file_sink.h — an spdlog sink that appends to a log file and keeps doing so through
// what happens to files on a server: logrotate moving it (SIGUSR1, or noticed within a second),
// someone deleting it (a new file is opened at the same path), a full disk (lines that could not
// be written are counted, never queued without bound; writing resumes when space returns).
// spdlog 1.10's file sinks have no public reopen and hide write errors, hence this.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace portwall {

struct LogFileStats {
  std::uint64_t failed_lines = 0;  // lines the file system refused (disk full, I/O error)
  std::uint64_t reopened = 0;      // times the file was opened again at its path
};

class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Throws spdlog::spdlog_ex when the file cannot be opened (at start-up: a process boundary).
  // `check_every`: how often a flush looks whether the path still names the open file.
  explicit ReopenableFileSink(std::string path,
                              std::chrono::milliseconds check_every = std::chrono::seconds(1));
  ~ReopenableFileSink() override;

  // Closes and opens the path again; false (and keeps writing to the old file) on failure.
  bool reopen();
  LogFileStats stats() const;

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  bool reopen_locked();
  // REQUIRES: mutex_ held. The path no longer names the open file (removed or moved away).
  bool replaced_locked() const;

  std::string path_;
  int fd_ = -1;
  std::string pending_;  // formatted lines not yet written
  std::chrono::milliseconds check_every_;
  std::chrono::steady_clock::time_point last_check_{};
  std::atomic<std::uint64_t> failed_lines_{0};
  std::atomic<std::uint64_t> reopened_{0};
};

}  // namespace portwall
