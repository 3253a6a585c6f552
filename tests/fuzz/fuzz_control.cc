// fuzz_control.cc — the control socket as a client reaches it: a ControlServer (public API only)
// on a socket in a temporary directory, started once; each input is written to a fresh
// connection, the write side shut down, and every response read back.
//
// The handler decodes requests as portwalld's does (src/daemon: status_report.cc Daemon::handle,
// rule_changes.cc, state_queries.cc), with the same field reads, and calls the same pure pieces
// a Daemon would (rule grammar, rule edit and the rules file round trip, the explain probe,
// addresses and durations), without the queue threads, logs and files a full Daemon needs.
//
// Checked: every request line gets exactly one response line, in order (a last line without
// its newline may get one or none); each response is a JSON object with "ok", and a refusal
// carries "error" and an exit code 1-3; the peer is this process (SO_PEERCRED).
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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
#include "exposure/ports_report.h"
#include "fuzz_checks.h"
#include "policy/explain.h"
#include "rules/duration.h"
#include "rules/rule_grammar.h"

namespace {

using namespace portwall;
using fuzz::check;
using nlohmann::json;

const RuleSet& base_rules() {
  static const RuleSet set = [] {
    auto r = parse_rules(R"(
[[rule]]
action = "allow"
proto = "tcp"
port = 22
comment = "ssh"

[[rule]]
action = "deny"
from = "198.51.100.0/24"
)",
                         "/etc/portwall/rules.toml");
    check(r.has_value(), "the built-in rules load");
    return *r;
  }();
  return set;
}

const PolicySnapshot& snapshot() {
  static const PolicySnapshot s(base_rules());
  return s;
}

// As Daemon::change (rule_changes.cc), on base_rules instead of the rules file.
json change(const json& request) {
  std::vector<std::string> words;
  if (request.contains("words") && request["words"].is_array()) {
    for (const auto& w : request["words"]) {
      if (w.is_string()) words.push_back(w.get<std::string>());
    }
  }
  auto parsed = parse_rule_command(words);
  if (!parsed) return error_response(parsed.error());
  auto edit = apply_change(base_rules(), *parsed, base_rules().rules.size() + 1);
  if (!edit) return error_response(edit.error());
  if (edit->changed) fuzz::check_round_trip(edit->rules, "/etc/portwall/rules.toml");
  return ok_response({{"changed", edit->changed},
                      {"summary", edit->summary},
                      {"before", edit->before},
                      {"after", edit->after}});
}

// As Daemon::explain_request (state_queries.cc), with no flow tracked.
json explain_request(const json& request) {
  std::vector<std::string> words;
  for (const auto& w : request.value("words", json::array())) {
    if (w.is_string()) words.push_back(w.get<std::string>());
  }
  auto probe = parse_probe(words);
  if (!probe) return error_response(probe.error());
  const Explanation e = explain(snapshot(), *probe, std::nullopt);
  json j = {{"verdict", to_string(e.decision.verdict)},
            {"reason", to_string(e.decision.reason)},
            {"why", e.why}};
  j["rule"] = e.decision.rule_number ? json(e.decision.rule_number) : json();
  if (!e.rule.empty()) j["rule_text"] = e.rule;
  return ok_response(j);
}

// As Daemon::ports_request: the caller's sockets judged by the rules, never an exception.
json ports_request(const json& request) {
  const auto sockets = sockets_of(request.value("sockets", json()));
  if (!sockets) return error_response("bad request: \"sockets\" must be a list of sockets");
  static const std::vector<KnockSection> kNoKnocks;
  return ok_response(ports_report(*sockets, {snapshot().rule_set(), kNoKnocks, "rules.toml",
                                             "portwalld"},
                                  std::nullopt));
}

// As Daemon::conntrack_request, on an empty table.
json conntrack_request(const json& request) {
  const std::string action = request.value("action", "count");
  if (action != "count" && action != "list" && action != "flush") {
    return error_response("conntrack takes list, count or flush, got \"" + action + "\"");
  }
  json j = {{"count", 0}};
  if (action == "list") j["flows"] = json::array();
  if (action == "flush") j["flushed"] = 0;
  return ok_response(j);
}

// As Daemon::blocked_request, without a block list.
json blocked_request(const json& request) {
  const std::string action = request.value("action", "list");
  if (action == "list") return ok_response(json::array());
  if (action != "remove" && action != "add") {
    return error_response("blocked takes list, add ADDR [for DURATION] or remove ADDR, got \"" +
                          action + "\"");
  }
  const std::string text = request.value("address", "");
  const std::optional<IpAddress> address = parse_ip_address(text);
  if (!address) return error_response("blocked " + action + " needs an address");
  if (action == "remove")
    return ok_response({{"removed", false}, {"address", to_string(*address)}});
  const std::string for_text = request.value("for", "");
  if (!for_text.empty()) {
    auto d = parse_duration(for_text);
    if (!d) return error_response("blocked add ADDR for DURATION: " + d.error());
    if (*d <= Duration::zero()) return error_response("blocked add: the duration must be above 0");
  }
  return ok_response({{"added", true}, {"address", to_string(*address)}});
}

// As Daemon::handle (status_report.cc): the read-only test, then the dispatch.
json handle(const json& request, const Peer& peer) {
  check(peer.pid == getpid() && peer.uid == getuid(), "the peer is this process");
  const std::string command = request["command"].get<std::string>();
  const bool reads_only = command == "status" || command == "explain" || command == "ports" ||
                          (command == "conntrack" && request.value("action", "count") != "flush") ||
                          (command == "blocked" && request.value("action", "list") == "list");
  (void)reads_only;  // every peer here is this process, which may do everything
  if (command == "status" || command == "reload") {
    json rules = json::array();
    for (const Rule& r : snapshot().rule_set().rules) rules.push_back(rule_words(r));
    return ok_response({{"rules", rules}});
  }
  if (command == "change") return change(request);
  if (command == "explain") return explain_request(request);
  if (command == "ports") return ports_request(request);
  if (command == "conntrack") return conntrack_request(request);
  if (command == "blocked") return blocked_request(request);
  return error_response("unknown command '" + command + "'");
}

struct Server {
  std::string dir, socket;
  std::unique_ptr<ControlServer> server;

  Server() {
    char path[] = "/tmp/portwall-fuzz-control-XXXXXX";
    check(mkdtemp(path) != nullptr, "a scratch directory");
    dir = path;
    socket = dir + "/portwall.sock";
    auto started = ControlServer::start(socket, handle);
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
  const std::string out = exchange(server.socket, data, size);
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
  return 0;
}
