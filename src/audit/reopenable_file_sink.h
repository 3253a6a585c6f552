// reopenable_file_sink.h — an spdlog sink that appends to a file and can reopen it after
// logrotate moved it (SIGUSR1). spdlog 1.10's file sinks have no public reopen, hence this.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <cstdio>
#include <mutex>
#include <string>

namespace portwall {

class ReopenableFileSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  // Throws spdlog::spdlog_ex when the file cannot be opened (at start-up: a process boundary).
  explicit ReopenableFileSink(std::string path);
  ~ReopenableFileSink() override;

  // Closes and opens the path again; false (and keeps writing to the old file) on failure.
  bool reopen();

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override;

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace portwall
