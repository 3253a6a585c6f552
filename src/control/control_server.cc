#include "control/control_server.h"

#include <endian.h>
#include <fcntl.h>
#include <malloc.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "control/control_protocol.h"

namespace portwall {

struct ControlServer::Connection {
  int fd = -1;
  Peer peer;
  std::string in;   // bytes of a request line not complete yet
  std::string out;  // answers not yet taken by the client: out[sent..]
  std::size_t sent = 0;
  std::chrono::steady_clock::time_point last_request;
  bool closing = false;     // close once `out` is written
  bool discarding = false;  // inside a request line that was too long
};

namespace {

// Deeper than any request of the protocol needs ({"command": ..., "words": [...]} is 2), and
// shallow enough that copying or printing a request, which nlohmann::json does by recursion,
// stays far from the stack's end: a 1 MiB line of '[' overflowed it in the explain handler.
constexpr int kMaxRequestDepth = 8;
// An answer this large leaves a large tree freed behind it: the heap is trimmed then.
constexpr std::size_t kTrimAfter = std::size_t{1} << 20;

// Whether `line` nests arrays and objects deeper than `max_depth`, read in one pass without
// recursion; brackets inside strings do not count. Checked before the line is parsed.
bool nested_deeper_than(std::string_view line, int max_depth) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (const char c : line) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

std::string answer_request_line(const ControlHandler& handler, std::string_view line,
                                const Peer& peer) {
  nlohmann::json response;
  if (nested_deeper_than(line, kMaxRequestDepth)) {
    return error_response("bad request: nested deeper than " + std::to_string(kMaxRequestDepth) +
                          " levels")
        .dump();
  }
  const nlohmann::json request = nlohmann::json::parse(line, nullptr, false);
  if (request.is_discarded() || !request.is_object() || !request.contains("command") ||
      !request["command"].is_string()) {
    response = error_response("bad request: expected a JSON object with \"command\"");
  } else {
    try {
      response = handler(request, peer);
    } catch (const std::exception& e) {  // a handler bug must not take the daemon down
      response = error_response(std::string("internal error: ") + e.what());
    }
  }
  // Strings a client sent may not be UTF-8: replace rather than throw.
  std::string text = response.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // The tree of a large answer (status or blocked list at 100,000 entries: 100 MB and more of
  // small nodes) goes now; write_pending() hands its pages back once the text is sent.
  response = nlohmann::json();
  return text;
}

std::expected<std::unique_ptr<ControlServer>, std::string> ControlServer::start(
    const std::string& path, ControlHandler handler, gid_t socket_gid, ControlLimits limits) {
  auto server = listen(path, socket_gid, limits);
  if (server) (*server)->serve(std::move(handler));
  return server;
}

std::expected<std::unique_ptr<ControlServer>, std::string> ControlServer::listen(
    const std::string& path, gid_t socket_gid, ControlLimits limits) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) {
    return std::unexpected("socket path too long: " + path);
  }
  std::error_code ignored;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
  const int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  unlink(path.c_str());  // a stale socket of an earlier run
  const mode_t old = umask(0117);
  const int bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  umask(old);
  if (bound < 0 || ::listen(fd, 64) < 0) {
    const std::string err = std::strerror(errno);
    close(fd);
    return std::unexpected("cannot listen on " + path + ": " + err);
  }
  if (auto ok = set_socket_access(path, socket_gid, static_cast<gid_t>(-1)); !ok) {
    close(fd);
    return std::unexpected(ok.error());
  }
  return std::unique_ptr<ControlServer>(new ControlServer(path, fd, limits));
}

std::expected<std::string, std::string> set_socket_access(const std::string& path, gid_t group,
                                                          gid_t readers) {
  if (chmod(path.c_str(), 0660) != 0) {
    return std::unexpected("cannot chmod " + path + ": " + std::strerror(errno));
  }
  if (group != static_cast<gid_t>(-1) && chown(path.c_str(), static_cast<uid_t>(-1), group) < 0) {
    return std::unexpected("cannot give " + path + " to its group: " + std::strerror(errno));
  }
  if (readers == static_cast<gid_t>(-1) || readers == group) {
    removexattr(path.c_str(), "system.posix_acl_access");  // an earlier run's, if any
    return std::string();
  }
  // The access ACL as the kernel takes it (linux/posix_acl_xattr.h): version 2, then entries
  // {tag, perm, id} sorted by tag: owner rw, owning group rw, the readers' group rw, mask rw,
  // others nothing.
  struct Entry {
    std::uint16_t tag, perm;
    std::uint32_t id;
  };
  constexpr std::uint32_t kUndefined = ~0u;
  const Entry entries[] = {{0x01, 6, kUndefined},
                           {0x04, 6, kUndefined},
                           {0x08, 6, static_cast<std::uint32_t>(readers)},
                           {0x10, 6, kUndefined},
                           {0x20, 0, kUndefined}};
  std::string acl(4, '\0');
  const std::uint32_t version = htole32(2);  // the kernel reads the xattr little-endian
  std::memcpy(acl.data(), &version, 4);
  for (const Entry& e : entries) {
    const std::uint16_t tag = htole16(e.tag), perm = htole16(e.perm);
    const std::uint32_t id = htole32(e.id);
    char raw[8];
    std::memcpy(raw, &tag, 2);
    std::memcpy(raw + 2, &perm, 2);
    std::memcpy(raw + 4, &id, 4);
    acl.append(raw, sizeof raw);
  }
  if (setxattr(path.c_str(), "system.posix_acl_access", acl.data(), acl.size(), 0) == 0) {
    return std::string();
  }
  const int error = errno;
  if (error != EOPNOTSUPP) {
    return std::unexpected("cannot let group " + std::to_string(readers) + " use " + path + ": " +
                           std::strerror(error));
  }
  // Opening the socket to every local user instead would let anyone fill its connections:
  // it stays the administrators', and this is said.
  return path + ": its file system has no ACLs, so only the members of read_group who are " +
         "also in admin_group can connect (/run, the default, is tmpfs, which has them)";
}

std::expected<std::unique_ptr<ControlServer>, std::string> ControlServer::adopt(
    const std::string& path, int fd, ControlLimits limits) {
  sockaddr_un addr{};
  socklen_t len = sizeof addr;
  int listening = 0;
  socklen_t opt_len = sizeof listening;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 ||
      addr.sun_family != AF_UNIX ||
      std::strncmp(addr.sun_path, path.c_str(), sizeof addr.sun_path) != 0 ||
      getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &opt_len) != 0 || !listening) {
    close(fd);
    return std::unexpected("the control socket handed over is not " + path + " listening");
  }
  fcntl(fd, F_SETFD, FD_CLOEXEC);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return std::unique_ptr<ControlServer>(new ControlServer(path, fd, limits));
}

int ControlServer::release() {
  stop_thread();
  const int kept = fd_;
  fd_ = -1;
  if (kept >= 0) fcntl(kept, F_SETFD, 0);
  return kept;
}

void ControlServer::stop_thread() {
  if (wake_[1] >= 0) {
    const char c = 'x';
    (void)!write(wake_[1], &c, 1);
  }
  if (thread_.joinable()) thread_.join();
}

ControlServer::ControlServer(std::string path, int fd, ControlLimits limits)
    : path_(std::move(path)), fd_(fd), limits_(limits) {
  if (pipe2(wake_, O_CLOEXEC) < 0) wake_[0] = wake_[1] = -1;
}

void ControlServer::serve(ControlHandler handler) {
  if (thread_.joinable()) return;
  handler_ = std::move(handler);
  thread_ = std::thread([this] { run(); });
}

ControlServer::~ControlServer() {
  stop_thread();
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
  if (fd_ < 0) return;  // released: the socket lives on in the next image
  close(fd_);
  unlink(path_.c_str());
}

bool Peer::in_group(gid_t group) const {
  if (group == static_cast<gid_t>(-1)) return false;
  return gid == group || std::find(groups.begin(), groups.end(), group) != groups.end();
}

ControlServer::Stats ControlServer::stats() const {
  std::lock_guard<std::mutex> lock(stats_mutex_);
  return stats_;
}

void ControlServer::run() {
  using Clock = std::chrono::steady_clock;
  std::vector<Connection> connections;
  std::vector<pollfd> fds;
  for (;;) {
    fds.assign({{fd_, POLLIN, 0}, {wake_[0], POLLIN, 0}});
    for (const Connection& c : connections) {
      fds.push_back({c.fd, static_cast<short>(c.out.empty() ? POLLIN : POLLIN | POLLOUT), 0});
    }
    if (poll(fds.data(), fds.size(), 1000) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (fds[1].revents) break;
    const Clock::time_point now = Clock::now();
    for (std::size_t i = 0; i < connections.size(); ++i) {
      Connection& c = connections[i];
      const short ev = fds[i + 2].revents;
      bool keep = true;
      if (ev & POLLOUT) keep = write_pending(c);
      if (keep && (ev & (POLLIN | POLLHUP | POLLERR)) && !c.closing) keep = read_and_answer(c);
      if (keep && !c.out.empty()) keep = write_pending(c);
      if (keep && c.closing && c.out.empty()) keep = false;
      if (keep && now - c.last_request > limits_.idle_timeout) {
        keep = false;
        std::lock_guard<std::mutex> lock(stats_mutex_);
        ++stats_.closed_idle;
      }
      if (!keep) {
        close(c.fd);
        c.fd = -1;
      }
    }
    std::erase_if(connections, [](const Connection& c) { return c.fd < 0; });
    if (fds[0].revents & POLLIN) accept_one(connections);
  }
  for (Connection& c : connections) close(c.fd);
}

void ControlServer::accept_one(std::vector<Connection>& connections) {
  const int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (client < 0) return;
  if (connections.size() >= limits_.max_connections) {
    // Many idle connections must not lock out the administrator: the one idle longest goes.
    auto idlest = std::min_element(
        connections.begin(), connections.end(),
        [](const Connection& a, const Connection& b) { return a.last_request < b.last_request; });
    close(idlest->fd);
    connections.erase(idlest);
    std::lock_guard<std::mutex> lock(stats_mutex_);
    ++stats_.closed_over_limit;
  }
  Connection c;
  c.fd = client;
  c.last_request = std::chrono::steady_clock::now();
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(client, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
    close(client);  // no identity, no service
    return;
  }
  c.peer = Peer{cred.pid, cred.uid, cred.gid, {}};
  gid_t groups[256];
  socklen_t groups_len = sizeof groups;
  if (getsockopt(client, SOL_SOCKET, SO_PEERGROUPS, groups, &groups_len) == 0) {
    c.peer.groups.assign(groups, groups + groups_len / sizeof(gid_t));
  }
  connections.push_back(std::move(c));
  std::lock_guard<std::mutex> lock(stats_mutex_);
  ++stats_.accepted;
}

bool ControlServer::read_and_answer(Connection& c) {
  char chunk[4096];
  for (int reads = 0; reads < 64; ++reads) {  // then let the other connections have a turn
    const ssize_t n = recv(c.fd, chunk, sizeof chunk, 0);
    if (n == 0) {  // the client is done sending: answer what came, then close
      c.closing = true;
      return true;
    }
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    std::string_view got(chunk, static_cast<std::size_t>(n));
    if (c.discarding) {  // the rest of a line that was too long: thrown away up to its end
      const std::size_t end = got.find('\n');
      if (end == std::string_view::npos) continue;
      got.remove_prefix(end + 1);
      c.discarding = false;
    }
    c.in.append(got);
    std::size_t begin = 0, newline;
    while ((newline = c.in.find('\n', begin)) != std::string::npos) {
      // Bounded before each answer, not after: one answer may be larger than the bound (status
      // with 100,000 rules is ~15 MiB), but a client that asks on without reading is closed.
      if (c.out.size() - c.sent > limits_.max_unread) {
        std::lock_guard<std::mutex> lock(stats_mutex_);
        ++stats_.closed_unread;
        return false;
      }
      const std::string_view line(c.in.data() + begin, newline - begin);
      if (c.sent > 0) {  // what the client took goes before more is added behind it
        c.out.erase(0, c.sent);
        c.sent = 0;
      }
      c.out += answer_request_line(handler_, line, c.peer);
      c.out += '\n';
      c.last_request = std::chrono::steady_clock::now();
      begin = newline + 1;
      std::lock_guard<std::mutex> lock(stats_mutex_);
      ++stats_.requests;
    }
    c.in.erase(0, begin);
    if (c.in.size() > limits_.max_request) {
      // Answered at once; the line's remaining bytes are read and dropped, never stored.
      c.out += error_response("request too long").dump() + "\n";
      c.in.clear();
      c.discarding = true;
      std::lock_guard<std::mutex> lock(stats_mutex_);
      ++stats_.refused_too_long;
    }
  }
  return true;
}

bool ControlServer::write_pending(Connection& c) {
  // From where the last send stopped: erasing what was sent moved the rest every time (an
  // answer of 15 MiB went out in some hundred sends).
  while (c.sent < c.out.size()) {
    const ssize_t n = send(c.fd, c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    c.sent += static_cast<std::size_t>(n);
  }
  // All taken: a large answer's room goes back now, not when the client hangs up, and with it
  // what making it freed (its tree), which stays in the heap, counted as portwalld's memory,
  // until trimmed. Trimmed here, after the send: a trim before it was undone by the answer's
  // text and this copy of it, made in the room it had handed back.
  if (c.out.capacity() > kTrimAfter) {
    std::string().swap(c.out);
    malloc_trim(0);
  } else {
    c.out.clear();
  }
  c.sent = 0;
  return true;
}

}  // namespace portwall
