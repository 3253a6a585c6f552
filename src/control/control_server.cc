#include "control/control_server.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "control/control_protocol.h"

namespace portwall {
namespace {

constexpr std::size_t kMaxRequest = 1 << 20;  // a request line longer than this is refused

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

std::expected<std::unique_ptr<ControlServer>, std::string> ControlServer::start(
    const std::string& path, ControlHandler handler, gid_t socket_gid) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return std::unexpected("socket path too long: " + path);
  }
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  unlink(path.c_str());  // a stale socket of an earlier run
  const mode_t old = umask(0117);
  const int bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (bound < 0 || listen(fd, 16) < 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    return std::unexpected("cannot listen on " + path + ": " + err);
  }
  chmod(path.c_str(), 0660);
  if (socket_gid != static_cast<gid_t>(-1) &&
      chown(path.c_str(), static_cast<uid_t>(-1), socket_gid) < 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    return std::unexpected("cannot give " + path + " to its group: " + err);
  }
  return std::unique_ptr<ControlServer>(new ControlServer(path, fd, std::move(handler)));
}

ControlServer::ControlServer(std::string path, int fd, ControlHandler handler)
    : path_(std::move(path)), fd_(fd), handler_(std::move(handler)) {
  if (pipe2(wake_, O_CLOEXEC) < 0) wake_[0] = wake_[1] = -1;
  thread_ = std::thread([this] { run(); });
}

ControlServer::~ControlServer() {
  if (wake_[1] >= 0) {
    const char c = 'x';
    (void)!write(wake_[1], &c, 1);
  }
  thread_.join();
  close(fd_);
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
  unlink(path_.c_str());
}

bool Peer::in_group(gid_t group) const {
  if (group == static_cast<gid_t>(-1)) return false;
  return gid == group || std::find(groups.begin(), groups.end(), group) != groups.end();
}

void ControlServer::run() {
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}};
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    serve(client);
    close(client);
  }
}

void ControlServer::serve(int client) {
  timeval timeout{5, 0};  // a stuck client must not hold the control thread
  setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  ucred cred{};
  socklen_t len = sizeof cred;
  getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len);
  Peer peer{cred.pid, cred.uid, cred.gid, {}};
  gid_t groups[256];
  socklen_t groups_len = sizeof groups;
  if (getsockopt(client, SOL_SOCKET, SO_PEERGROUPS, groups, &groups_len) == 0) {
    peer.groups.assign(groups, groups + groups_len / sizeof(gid_t));
  }

  std::string buffer;
  char chunk[4096];
  for (;;) {
    std::size_t newline;
    while ((newline = buffer.find('\n')) == std::string::npos) {
      const ssize_t n = recv(client, chunk, sizeof chunk, 0);
      if (n <= 0) return;
      buffer.append(chunk, static_cast<std::size_t>(n));
      if (buffer.size() > kMaxRequest) {
        write_all(client, error_response("request too long").dump() + "\n");
        return;
      }
    }
    const std::string line = buffer.substr(0, newline);
    buffer.erase(0, newline + 1);
    nlohmann::json response;
    {
      const nlohmann::json request = nlohmann::json::parse(line, nullptr, false);
      if (request.is_discarded() || !request.is_object() || !request.contains("command") ||
          !request["command"].is_string()) {
        response = error_response("bad request: expected a JSON object with \"command\"");
      } else {
        try {
          response = handler_(request, peer);
        } catch (const std::exception& e) {  // a handler bug must not take the daemon down
          response = error_response(std::string("internal error: ") + e.what());
        }
      }
    }
    if (!write_all(client, response.dump() + "\n")) return;
  }
}

}  // namespace portwall
