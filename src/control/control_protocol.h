// control_protocol.h — the control socket's wire format: one JSON object per line.
// Request: {"command": "status", ...}. Response: {"ok": true, "result": ...} or
// {"ok": false, "error": "what went wrong", "code": N} with N a CLI exit code (DESIGN.md).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace portwall {

inline constexpr int kExitBadInput = 1;
inline constexpr int kExitUnreachable = 2;
inline constexpr int kExitUnauthorized = 3;

inline nlohmann::json ok_response(nlohmann::json result) {
  return {{"ok", true}, {"result", std::move(result)}};
}
inline nlohmann::json error_response(const std::string& message, int code = kExitBadInput) {
  return {{"ok", false}, {"error", message}, {"code", code}};
}

}  // namespace portwall
