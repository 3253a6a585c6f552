// control_server.h — the daemon side of the control socket (/run/portwall/portwall.sock).
// One thread accepts connections and answers one JSON line per request line. The peer's uid
// comes from SO_PEERCRED: root, or the daemon's own uid, or a member of the admin group may
// send requests; everyone else gets code 3.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <expected>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

namespace portwall {

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

using ControlHandler = std::function<nlohmann::json(const nlohmann::json& request, const Peer&)>;

class ControlServer {
 public:
  // Binds `path` (replacing a stale socket file), mode 0660, group `admin_gid` if not -1.
  static std::expected<std::unique_ptr<ControlServer>, std::string> start(
      const std::string& path, ControlHandler handler, gid_t admin_gid = static_cast<gid_t>(-1));
  ~ControlServer();  // stops the thread and removes the socket file

 private:
  ControlServer(std::string path, int fd, ControlHandler handler, gid_t admin_gid);
  void run();
  void serve(int client);
  bool authorized(const Peer& peer) const;

  std::string path_;
  int fd_;
  int wake_[2] = {-1, -1};
  ControlHandler handler_;
  gid_t admin_gid_;
  std::thread thread_;
};

}  // namespace portwall
