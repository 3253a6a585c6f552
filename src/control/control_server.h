// control_server.h — the daemon side of the control socket (/run/portwall/portwall.sock).
// One thread serves every connection (poll, non-blocking sockets) and answers one JSON line per
// request line, so that a slow, idle or hostile client never holds up another one. The peer's
// identity comes from the kernel (SO_PEERCRED, SO_PEERGROUPS); the handler decides what that
// peer may do. Bounded: connections, request size, unread answers, idle time.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
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

struct ControlLimits {
  std::size_t max_connections = 64;   // beyond it the connection idle longest is closed
  std::size_t max_request = 1 << 20;  // a longer request line is answered with an error
  // Answers a client has not read: beyond it, its next request closes it (one answer may be
  // larger).
  std::size_t max_unread = 8 << 20;
  std::chrono::milliseconds idle_timeout{30000};  // no complete request for this long: closed
};

// The answer line (without newline) to one request line: the handler's response, or the
// protocol's error for a line that is not a JSON object with a "command" string. Never throws.
std::string answer_request_line(const ControlHandler& handler, std::string_view line,
                                const Peer& peer);

// Who may connect to the socket file at `path`: mode 0660, owner root, group `group` (if not
// -1), and, when `readers` is another group, that group too through a POSIX ACL entry, so that
// neither the administrators' group nor the readers' needs to be in the other. Where the file
// system has no ACLs the socket stays 0660 and the note (the value) says that readers outside
// the administrators' group cannot connect. Run while portwalld may still chown.
std::expected<std::string, std::string> set_socket_access(const std::string& path, gid_t group,
                                                          gid_t readers);

class ControlServer {
 public:
  // Binds `path` (replacing a stale socket file), mode 0660, group `socket_gid` if not -1, and
  // serves it with `handler`.
  static std::expected<std::unique_ptr<ControlServer>, std::string> start(
      const std::string& path, ControlHandler handler, gid_t socket_gid = static_cast<gid_t>(-1),
      ControlLimits limits = {});
  // Binds only: connections wait in the backlog until serve(). For a daemon that binds while it
  // still has the privileges the socket's group needs, and serves once it is set up.
  static std::expected<std::unique_ptr<ControlServer>, std::string> listen(
      const std::string& path, gid_t socket_gid = static_cast<gid_t>(-1),
      ControlLimits limits = {});
  // A socket listen() bound in an earlier image of this process and handed over across execve
  // (portwalld's re-exec): served as it is, its file untouched (set_socket_access() after, for
  // an access that changed). An error if `fd`
  // is not a listening socket bound to `path`.
  static std::expected<std::unique_ptr<ControlServer>, std::string> adopt(
      const std::string& path, int fd, ControlLimits limits = {});
  void serve(ControlHandler handler);  // starts the thread; once
  // Stops serving and gives the listening socket up, open across execve, its file left in
  // place; the server is done then. -1 on failure.
  int release();
  ~ControlServer();  // stops the thread and removes the socket file (unless released)

  struct Stats {
    std::uint64_t accepted = 0, requests = 0, refused_too_long = 0, closed_idle = 0,
                  closed_over_limit = 0, closed_unread = 0;
  };
  Stats stats() const;

 private:
  struct Connection;
  ControlServer(std::string path, int fd, ControlLimits limits);
  void run();
  void stop_thread();
  void accept_one(std::vector<Connection>& connections);
  // Reads what the client sent and answers every complete line; false: close it.
  bool read_and_answer(Connection& c);
  bool write_pending(Connection& c);  // false: close it

  std::string path_;
  int fd_;
  int wake_[2] = {-1, -1};
  ControlHandler handler_;
  ControlLimits limits_;
  Stats stats_;
  mutable std::mutex stats_mutex_;
  std::thread thread_;
};

}  // namespace portwall
