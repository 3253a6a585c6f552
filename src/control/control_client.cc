#include "control/control_client.h"

#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace portwall {

std::expected<nlohmann::json, ControlFailure> control_request(const std::string& socket_path,
                                                              const nlohmann::json& request,
                                                              int timeout_seconds) {
  sockaddr_un addr{};
  if (socket_path.size() >= sizeof addr.sun_path) {
    return std::unexpected(ControlFailure{"socket path too long: " + socket_path});
  }
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return std::unexpected(ControlFailure{std::string("socket: ") + std::strerror(errno)});
  timeval timeout{timeout_seconds, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  auto fail = [&](const std::string& what) {
    const int error = errno;
    const std::string err = what + ": " + std::strerror(error);
    close(fd);
    return std::unexpected(ControlFailure{err, error});
  };
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    if (errno == EACCES) {
      // The socket's mode keeps out whoever is neither root nor in its group: say whose it is.
      struct stat st {};
      std::string owner;
      if (stat(socket_path.c_str(), &st) == 0) {
        group entry{}, *found = nullptr;
        char buf[1024];
        if (getgrgid_r(st.st_gid, &entry, buf, sizeof buf, &found) == 0 && found) {
          owner = std::string(" (only root and the members of group ") + found->gr_name +
                  (getxattr(socket_path.c_str(), "system.posix_acl_access", nullptr, 0) > 0
                       ? " and of the read group"
                       : "") +
                  " may use it: [daemon] admin_group, read_group)";
        }
      }
      errno = EACCES;  // what the caller is told (stat and getgrgid_r may have changed it)
      return fail("not authorized to use " + socket_path + owner);
    }
    return fail("cannot connect to " + socket_path + " (is portwalld running?)");
  }
  // Words from the command line may not be UTF-8: sent with U+FFFD rather than thrown over.
  const std::string line =
      request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = send(fd, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("cannot send to " + socket_path);
    sent += static_cast<std::size_t>(n);
  }
  std::string reply;
  char chunk[8192];
  while (reply.find('\n') == std::string::npos) {
    const ssize_t n = recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("no answer from " + socket_path);
    if (n == 0) break;
    reply.append(chunk, static_cast<std::size_t>(n));
  }
  close(fd);
  nlohmann::json parsed = nlohmann::json::parse(reply, nullptr, false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return std::unexpected(ControlFailure{"the daemon's answer is not JSON: " + reply});
  }
  return parsed;
}

}  // namespace portwall
