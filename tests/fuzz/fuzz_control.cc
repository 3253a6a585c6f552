// fuzz_control.cc — the control socket as a client reaches it: a ControlServer (public API only)
// on a socket in a temporary directory, started once; each input is written to a fresh
// connection, the write side shut down, and every response read back.
//
// The handler is portwalld's own ControlService, over a fake firewall and a file system in
// memory (no file on disk is read or written).
//
// Checked: every request line gets exactly one response line, in order (a last line without
// its newline may get one or none); each response is a JSON object with "ok", and a refusal
// carries "error" and an exit code 1-3; the peer is this process (SO_PEERCRED); afterwards the
// rules file in memory loads and holds the rules in force.
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "control/control_protocol.h"
#include "control/control_server.h"
#include "control/control_service.h"
#include "control/fake_live_firewall.h"
#include "fuzz_checks.h"
#include "memory_file_system.h"
#include "rules/rule_grammar.h"

namespace {

using namespace portwall;
using fuzz::check;
using nlohmann::json;

// portwalld's own dispatcher (ControlService: roles, status, changes, apply, explain, blocks,
// conntrack, ports) over a firewall in memory: the rules in a MemoryFileSystem, one engine
// behind a FakeLiveFirewall, a fake clock and audit trail. Made anew for every input, so that
// the changes of one input do not pile up into the next.
constexpr const char* kRules = R"(
[[rule]]
action = "allow"
proto = "tcp"
port = 22
comment = "ssh"

[[rule]]
action = "deny"
from = "198.51.100.0/24"
)";

struct Firewall {
  MemoryFileSystem fs;
  FakeClock clock;
  FakeAuditTrail audit;
  PolicyPaths paths{.config = "/fuzz/portwall.toml", .rules_override = "", .socket_override = ""};
  std::shared_ptr<SourceTable> sources = std::make_shared<SourceTable>(1024);
  std::shared_ptr<BlockList> blocks = std::make_shared<BlockList>(64);
  std::unique_ptr<FakeLiveFirewall> live;
  std::unique_ptr<ControlService> service;

  Firewall() {
    fs.write("/fuzz/portwall.toml", "[daemon]\nrules = \"/fuzz/rules.toml\"\n");
    fs.write("/fuzz/rules.toml", kRules);
    fs.advance(std::chrono::seconds(1));
    auto loaded = load_policy_files(paths, nullptr, fs);
    check(loaded.has_value(), "the built-in rules load", loaded ? "" : loaded.error());
    live = std::make_unique<FakeLiveFirewall>(*loaded, sources, blocks, clock, 1);
    service = std::make_unique<ControlService>(
        ControlSetup{.live = *live,
                     .audit = audit,
                     .clock = clock,
                     .say = [](const std::string&) {},
                     .sources = sources,
                     .blocks = blocks,
                     .paths = paths,
                     .fs = fs,
                     .started = loaded->config,
                     .sources_in_force = std::move(loaded->sources),
                     .own_uid = getuid(),
                     .audit_uid = static_cast<long>(getuid())});
  }
};
std::atomic<Firewall*> current{nullptr};

json handle(const json& request, const Peer& peer) {
  check(peer.pid == getpid() && peer.uid == getuid(), "the peer is this process");
  return current.load()->service->handle(request, peer);
}

struct Server {
  std::string dir, socket;
  std::unique_ptr<ControlServer> server;

  Server() {
    char path[] = "/tmp/portwall-fuzz-control-XXXXXX";
    check(mkdtemp(path) != nullptr, "a scratch directory");
    dir = path;
    socket = dir + "/portwall.sock";
    // Answers of any size stay unread until the input is all written (exchange() reads as it
    // writes, but one input may ask for status hundreds of times over growing rules).
    ControlLimits limits;
    limits.max_unread = std::size_t{1} << 40;
    auto started = ControlServer::start(socket, handle, static_cast<gid_t>(-1), limits);
    check(started.has_value(), "the control server starts", started ? "" : started.error());
    server = std::move(*started);
  }
  ~Server() {
    server.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

// Writes `input` and reads until the server closes, both at once, so that neither side blocks
// on a full socket buffer. Returns what was read.
std::string exchange(const std::string& path, const std::uint8_t* data, std::size_t size) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  check(fd >= 0, "a client socket");
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  while (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
    // The listen backlog is full only when the server is slow; wait and retry.
    check(errno == EAGAIN || errno == EINTR, "connect", std::strerror(errno));
    usleep(1000);
  }
  std::string out;
  std::size_t sent = 0;
  bool shut = false;
  char buffer[65536];
  for (;;) {
    if (sent == size && !shut) {
      shutdown(fd, SHUT_WR);
      shut = true;
    }
    pollfd p{fd, static_cast<short>(POLLIN | (shut ? 0 : POLLOUT)), 0};
    if (poll(&p, 1, 30'000) <= 0) check(errno == EINTR, "the server answers within 30 s");
    if (p.revents & POLLOUT) {
      const ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
      if (n > 0) {
        sent += static_cast<std::size_t>(n);
      } else if (n < 0 && errno == EPIPE) {
        sent = size;  // the server closed (a request too long): read what it said
      }
    }
    if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
      const ssize_t n = recv(fd, buffer, sizeof buffer, 0);
      if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) break;
      if (n > 0) out.append(buffer, static_cast<std::size_t>(n));
    }
  }
  close(fd);
  return out;
}

void check_response(const std::string& line) {
  const json r = json::parse(line, nullptr, false);
  check(!r.is_discarded() && r.is_object(), "a response is a JSON object", line);
  check(r.contains("ok") && r["ok"].is_boolean(), "a response says ok", line);
  if (r["ok"]) {
    check(r.contains("result"), "an answer has a result", line);
  } else {
    check(r.contains("error") && r["error"].is_string(), "a refusal says why", line);
    check(r.contains("code") && r["code"].is_number_integer() && r["code"] >= 1 && r["code"] <= 3,
          "a refusal carries an exit code 1-3", line);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Server server;
  Firewall firewall;
  current.store(&firewall);
  const std::string out = exchange(server.socket, data, size);
  current.store(nullptr);
  std::size_t lines = 0;
  for (std::size_t i = 0; i < size; ++i) lines += data[i] == '\n';
  const bool partial = size > 0 && data[size - 1] != '\n';

  std::size_t responses = 0;
  std::size_t start = 0;
  for (std::size_t nl; (nl = out.find('\n', start)) != std::string::npos; start = nl + 1) {
    check_response(out.substr(start, nl - start));
    ++responses;
  }
  check(start == out.size(), "every response ends with a newline", out.substr(start));
  check(responses >= lines && responses <= lines + (partial ? 1 : 0),
        "one response per request line",
        std::to_string(lines) + " line(s), " + std::to_string(responses) + " response(s)");
  // Whatever was asked, the rules file left behind loads, and holds the rules in force.
  auto again = load_policy_files(firewall.paths, nullptr, firewall.fs);
  check(again.has_value(), "the rules file left behind loads", again ? "" : again.error());
  auto words = [](const RuleSet& set) {
    std::vector<std::string> all;
    for (const Rule& r : set.rules) all.push_back(rule_words(r));
    return all;
  };
  check(words(again->rules) == words(firewall.live->snapshot()->rule_set()),
        "the rules file holds the rules in force, in order");
  return 0;
}
