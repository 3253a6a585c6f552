#include "audit/reopenable_file_sink.h"

#include <spdlog/common.h>

#include <filesystem>

namespace portwall {
namespace {

std::FILE* open_append(const std::string& path) {
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  return std::fopen(path.c_str(), "ae");  // O_APPEND: safe beside copytruncate; close-on-exec
}

}  // namespace

ReopenableFileSink::ReopenableFileSink(std::string path) : path_(std::move(path)) {
  file_ = open_append(path_);
  if (!file_) throw spdlog::spdlog_ex("cannot open log file " + path_, errno);
}

ReopenableFileSink::~ReopenableFileSink() {
  if (file_) std::fclose(file_);
}

bool ReopenableFileSink::reopen() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::FILE* fresh = open_append(path_);
  if (!fresh) return false;
  std::fclose(file_);
  file_ = fresh;
  return true;
}

void ReopenableFileSink::sink_it_(const spdlog::details::log_msg& msg) {
  spdlog::memory_buf_t formatted;
  formatter_->format(msg, formatted);
  std::fwrite(formatted.data(), 1, formatted.size(), file_);
}

void ReopenableFileSink::flush_() { std::fflush(file_); }

}  // namespace portwall
