// control_server.h — the daemon side of the control socket (/run/portwall/portwall.sock).
// One thread accepts connections and answers one JSON line per request line. The peer's
// identity comes from the kernel (SO_PEERCRED, SO_PEERGROUPS); the handler decides what that
// peer may do.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace portwall {

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups

  bool in_group(gid_t group) const;
};

using ControlHandler = std::function<nlohmann::json(const nlohmann::json& request, const Peer&)>;

class ControlServer {
 public:
  // Binds `path` (replacing a stale socket file), mode 0660, group `socket_gid` if not -1.
  static std::expected<std::unique_ptr<ControlServer>, std::string> start(
      const std::string& path, ControlHandler handler, gid_t socket_gid = static_cast<gid_t>(-1));
  ~ControlServer();  // stops the thread and removes the socket file

 private:
  ControlServer(std::string path, int fd, ControlHandler handler);
  void run();
  void serve(int client);

  std::string path_;
  int fd_;
  int wake_[2] = {-1, -1};
  ControlHandler handler_;
  std::thread thread_;
};

}  // namespace portwall
