// log_sink.h — where the decision and audit logs go, [log] target: a file portwalld owns
// (reopened after logrotate, failures counted), the local syslog (/dev/log, facility daemon),
// or the systemd journal (its native socket). Syslog and the journal stamp each line with their
// own time, so lines sent there leave out portwall's leading timestamp; both carry the
// identifier "portwalld", as its own messages on stderr do under systemd.
#pragma once

#include <expected>
#include <memory>
#include <string>
#include <string_view>

#include "audit/reopenable_file_sink.h"
#include "config/config.h"

namespace portwall {

struct LogSink {
  std::shared_ptr<spdlog::sinks::sink> sink;
  std::shared_ptr<ReopenableFileSink> file;  // the same sink when the target is a file, else null
  bool own_timestamp = true;                 // lines start with portwall's RFC 3339 time
};

inline constexpr const char* kLogIdentifier = "portwalld";

// `path` is used only for LogTarget::file. The error says what could not be opened.
std::expected<LogSink, std::string> make_log_sink(LogTarget target, const std::string& path);

// A text line as the sink wants it: without its leading "TIMESTAMP " when the sink stamps lines
// itself. JSON lines keep their "timestamp" field either way.
std::string_view line_for(const LogSink& sink, std::string_view line);

}  // namespace portwall
