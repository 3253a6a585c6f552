#include "audit/log_sink.h"

#include <spdlog/sinks/syslog_sink.h>
#include <spdlog/sinks/systemd_sink.h>
#include <syslog.h>

namespace portwall {

std::expected<LogSink, std::string> make_log_sink(LogTarget target, const std::string& path) {
  try {
    LogSink out;
    switch (target) {
      case LogTarget::file:
        out.file = std::make_shared<ReopenableFileSink>(path);
        out.sink = out.file;
        break;
      case LogTarget::syslog:
        // openlog() is per process: one identifier for both logs; lines say which log they are
        // ("portwall ACTION=..." or "portwall-audit UID=...").
        out.sink = std::make_shared<spdlog::sinks::syslog_sink_mt>(kLogIdentifier, LOG_PID,
                                                                   LOG_DAEMON, false);
        out.own_timestamp = false;
        break;
      case LogTarget::journald:
        out.sink = std::make_shared<spdlog::sinks::systemd_sink_mt>(kLogIdentifier, false);
        out.own_timestamp = false;
        break;
    }
    out.sink->set_pattern("%v");  // lines are formatted by portwall
    return out;
  } catch (const spdlog::spdlog_ex& e) {
    return std::unexpected(std::string(e.what()));
  }
}

std::string_view line_for(const LogSink& sink, std::string_view line) {
  if (sink.own_timestamp || line.empty() || line.front() == '{') return line;
  const std::size_t space = line.find(' ');
  return space == std::string_view::npos ? line : line.substr(space + 1);
}

}  // namespace portwall
