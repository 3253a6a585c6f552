// control_client.h — the CLI side of the control socket: one request, one response.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <string>

namespace portwall {

struct ControlFailure {
  std::string message;  // "cannot connect to /run/portwall/portwall.sock: No such file ..."
};

// Sends `request` and returns the daemon's response object (which may itself say ok:false).
// Fails when the daemon cannot be reached or answers something that is not JSON.
std::expected<nlohmann::json, ControlFailure> control_request(const std::string& socket_path,
                                                              const nlohmann::json& request,
                                                              int timeout_seconds = 10);

}  // namespace portwall
