// control_client.h — the CLI side of the control socket: one request, one response.
#pragma once

#include <cerrno>
#include <expected>
#include <nlohmann/json.hpp>
#include <string>

namespace portwall {

struct ControlFailure {
  std::string message;  // "cannot connect to /run/portwall/portwall.sock: No such file ..."
  int error = 0;        // errno of the failed step
  // Nobody is listening (no socket file, or a stale one): the daemon is not running.
  bool daemon_absent() const { return error == ENOENT || error == ECONNREFUSED; }
  bool denied() const { return error == EACCES || error == EPERM; }
};

// Sends `request` and returns the daemon's response object (which may itself say ok:false).
// Fails when the daemon cannot be reached or answers something that is not JSON.
std::expected<nlohmann::json, ControlFailure> control_request(const std::string& socket_path,
                                                              const nlohmann::json& request,
                                                              int timeout_seconds = 10);

}  // namespace portwall
