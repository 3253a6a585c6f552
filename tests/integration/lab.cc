#include "integration/lab.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

namespace portwall::lab {
namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

sockaddr_storage make_address(const std::string& address, int port, socklen_t* len) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, address.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    *len = sizeof *v4;
  } else if (inet_pton(AF_INET6, address.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    *len = sizeof *v6;
  } else {
    throw std::runtime_error("bad address " + address);
  }
  return ss;
}

int socket_in(const std::string& netns, int family, int type) {
  NetnsScope scope(netns);
  return socket(family, type | SOCK_CLOEXEC, 0);
}

}  // namespace

RunResult run(const std::string& command, std::chrono::seconds timeout) {
  const std::string line = "timeout -k 2 " + std::to_string(timeout.count()) + " sh -c '" + [&] {
    std::string quoted;
    for (char c : command) quoted += c == '\'' ? "'\\''" : std::string(1, c);
    return quoted;
  }() + "' 2>&1";
  RunResult r;
  FILE* pipe = popen(line.c_str(), "r");
  if (!pipe) return r;
  char buf[4096];
  std::size_t n;
  while ((n = fread(buf, 1, sizeof buf, pipe)) > 0) r.output.append(buf, n);
  const int status = pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

NetnsScope::NetnsScope(const std::string& netns) {
  original_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  const int target = open(("/run/netns/" + netns).c_str(), O_RDONLY | O_CLOEXEC);
  if (original_ < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
    if (target >= 0) close(target);
    throw std::runtime_error("cannot enter netns " + netns + ": " + std::strerror(errno));
  }
  close(target);
}

NetnsScope::~NetnsScope() {
  if (original_ >= 0) {
    setns(original_, CLONE_NEWNET);
    close(original_);
  }
}

Lab::Lab(Shape shape) : name_("pw-it" + std::to_string(getpid())), net_(getpid() % 200 + 10) {
  const RunResult r = run(std::string(PORTWALL_SOURCE_DIR) + "/tools/lab.sh up " + name_ + " " +
                          std::to_string(net_) + (shape == Shape::fleet ? " fleet" : ""));
  if (r.exit_code != 0) throw std::runtime_error("lab up failed: " + r.output);
}

Lab::~Lab() { run(std::string(PORTWALL_SOURCE_DIR) + "/tools/lab.sh down " + name_); }

std::vector<std::string> Lab::add_cl2_addresses(int count) const {
  const std::string prefix = cl2_v4().substr(0, cl2_v4().rfind('.') + 1);
  std::vector<std::string> added;
  for (int i = 0; i < count; ++i) {
    added.push_back(prefix + std::to_string(131 + i));
    const RunResult r = in(cl2(), "ip addr add " + added.back() + "/25 dev cl20");
    if (r.exit_code != 0) throw std::runtime_error("adding " + added.back() + ": " + r.output);
  }
  return added;
}

std::string Lab::net_v4() const { return "10.200." + std::to_string(net_) + "."; }
std::string Lab::srvb_v4() const { return net_v4() + "3"; }
std::string Lab::lapi_v4() const { return net_v4() + "10"; }
std::string Lab::srv_v4() const { return "10.200." + std::to_string(net_) + ".1"; }
std::string Lab::cli_v4() const { return "10.200." + std::to_string(net_) + ".2"; }
std::string Lab::srv_v6() const { return "fd00:200:" + std::to_string(net_) + "::1"; }
std::string Lab::cl2_v4() const { return "10.200." + std::to_string(net_) + ".130"; }
std::string Lab::srv_v4_for_cl2() const { return "10.200." + std::to_string(net_) + ".129"; }
std::string Lab::srv_v6_for_cl2() const { return "fd00:200:" + std::to_string(net_) + ":1::1"; }
std::string Lab::cl2_v6() const { return "fd00:200:" + std::to_string(net_) + ":1::2"; }
std::string Lab::cli_v6() const { return "fd00:200:" + std::to_string(net_) + "::2"; }

RunResult Lab::in(const std::string& netns, const std::string& command,
                  std::chrono::seconds timeout) const {
  return run("ip netns exec " + netns + " sh -c '" + command + "'", timeout);
}

bool testing_nftables() {
  const char* backend = std::getenv("PORTWALL_TEST_BACKEND");
  return backend && std::string_view(backend) == "nftables";
}

std::string diversion_rules(const Lab& lab, bool ipv6) {
  if (testing_nftables()) return lab.in(lab.srv(), "nft list table inet portwall").output;
  return lab.in(lab.srv(), ipv6 ? "ip6tables-save" : "iptables-save").output;
}

namespace {

std::size_t lines_with(const std::string& text, std::initializer_list<std::string_view> any) {
  std::size_t n = 0;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    for (std::string_view needle : any) {
      if (line.find(needle) != std::string::npos) {
        ++n;
        break;
      }
    }
  }
  return n;
}

}  // namespace

std::size_t input_hooks(const std::string& rules) {
  return lines_with(rules, {"-A INPUT -j PORTWALL_INPUT", "table inet portwall {"});
}

std::size_t queue_rules(const std::string& rules) {
  return lines_with(rules, {"-j NFQUEUE", " queue to ", " queue flags "});
}

bool has_offload_accept(const std::string& rules) {
  return lines_with(rules, {"-m connmark --mark 0x400000/0x400000 -j ACCEPT",
                            "ct mark & 0x00400000 == 0x00400000 accept"}) > 0;
}

Daemon::Daemon(const Lab& lab, const std::string& rules_toml, const std::string& extra_daemon_keys,
               const std::string& extra_sections, const std::string& prelude,
               const std::string& netns)
    : lab_(lab), netns_(netns.empty() ? lab.srv() : netns), prelude_(prelude) {
  char templ[] = "/tmp/portwall-it.XXXXXX";
  if (!mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
  dir_ = templ;
  std::ofstream(dir_ + "/rules.toml") << rules_toml;
  // PORTWALL_TEST_BACKEND=nftables runs the same tests on the other diversion backend (the nft
  // suite runs them so in a Debian kernel under qemu: tests/nft/); a test that names its own
  // backend keeps it.
  std::string backend_key;
  if (const char* backend = std::getenv("PORTWALL_TEST_BACKEND");
      backend && *backend && extra_daemon_keys.find("backend") == std::string::npos) {
    backend_key = std::string("backend = \"") + backend + "\"\n";
  }
  std::ofstream(dir_ + "/portwall.toml")
      << "[daemon]\nqueues = [100, 101]\nrules = \"" << dir_ << "/rules.toml\"\nsocket = \"" << dir_
      << "/portwall.sock\"\nstate_file = \"" << dir_ << "/state.json\"\n"
      << backend_key << extra_daemon_keys;
  if (extra_sections.find("[log]") == std::string::npos) {
    std::ofstream(dir_ + "/portwall.toml", std::ios::app)
        << "[log]\nfile = \"" << dir_ << "/portwall.log\"\naudit_file = \"" << dir_
        << "/audit.log\"\n";
  }
  std::ofstream(dir_ + "/portwall.toml", std::ios::app) << extra_sections;
  start();
}

bool Daemon::start() {
  if (pid_ > 0) return ready_;
  ready_ = false;
  const std::string err = dir_ + "/portwalld.err";
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  const std::string config = dir_ + "/portwall.toml";
  const std::string& ns = netns_;
  const char* argv[] = {"ip",          "netns",    "exec",         ns.c_str(),
                        PORTWALLD_BIN, "--config", config.c_str(), nullptr};
  // With a prelude: ip netns exec NS unshare -m sh -c 'PRELUDE; exec portwalld ...'; each step
  // execs the next, so pid_ is still portwalld's.
  const std::string script =
      prelude_ + "\nexec " + exec_prefix_ + " " + PORTWALLD_BIN + " --config " + config;
  const char* wrapped[] = {"ip",      "netns",   "exec",          ns.c_str(),
                           "unshare", "--mount", "--propagation", "private",
                           "sh",      "-c",      script.c_str(),  nullptr};
  if (posix_spawnp(&pid_, "ip", &actions, nullptr,
                   const_cast<char**>(prelude_.empty() && exec_prefix_.empty() ? argv : wrapped),
                   environ) != 0) {
    pid_ = -1;
  }
  posix_spawn_file_actions_destroy(&actions);
  // `ip netns exec` execs portwalld in place: pid_ is portwalld's pid.
  for (int i = 0; i < 100 && pid_ > 0; ++i) {
    if (cli("status").exit_code == 0) {
      ready_ = true;
      break;
    }
    int status;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  return ready_;
}

Daemon::~Daemon() {
  stop();
  run("rm -rf " + dir_);
}

void Daemon::signal(int sig) const {
  if (pid_ > 0) kill(pid_, sig);
}

// portwalld's exit code from a wait status. The exit codes tools/test.sh gives the sanitizers
// (86 AddressSanitizer, 87 UndefinedBehaviorSanitizer, 88 ThreadSanitizer) fail the test whose
// daemon it was, whether or not the test looks at the code: a leak or a race is reported at exit.
int Daemon::exit_code(int status) const {
  const int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (code >= 86 && code <= 88) {
    ADD_FAILURE() << "portwalld's sanitizer report (exit " << code << "):\n" << daemon_output();
  }
  return code;
}

int Daemon::stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 100; ++i) {  // at most 10 s, then SIGKILL
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return exit_code(status);
    }
    std::this_thread::sleep_for(100ms);
  }
  kill(pid_, SIGKILL);
  waitpid(pid_, &status, 0);
  pid_ = -1;
  return -1;
}

int Daemon::wait_for_exit(std::chrono::milliseconds wait) {
  if (pid_ <= 0) return -1;
  int status = 0;
  for (auto until = std::chrono::steady_clock::now() + wait;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms)) {
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      ready_ = false;
      return exit_code(status);
    }
  }
  return -1;
}

RunResult Daemon::cli(const std::string& args) const {
  // The test's own configuration: never the host's /etc/portwall/portwall.toml.
  return lab_.in(netns_, std::string(PORTWALL_BIN) + " --config " + dir_ +
                             "/portwall.toml --socket " + dir_ + "/portwall.sock " + args);
}

void Daemon::wait_until_quiet() const {
  for (int i = 0, last = -1, same = 0; i < 40 && same < 5; ++i) {
    const nlohmann::json s = nlohmann::json::parse(cli("--json status").output, nullptr, false);
    const int received = s.is_object() ? s["counters"]["received"].get<int>() : -1;
    same = received == last ? same + 1 : 0;
    last = received;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::string Daemon::log() const { return slurp(dir_ + "/portwall.log"); }
std::string Daemon::daemon_output() const { return slurp(dir_ + "/portwalld.err"); }

Fd::~Fd() {
  if (fd_ >= 0) close(fd_);
}

int tcp_listen(const std::string& netns, const std::string& address, int port) {
  socklen_t len;
  sockaddr_storage ss = make_address(address, port, &len);
  const int fd = socket_in(netns, ss.ss_family, SOCK_STREAM);
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(fd, 16) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

std::pair<int, int> connection_storm(const std::string& netns, const std::string& address, int port,
                                     std::chrono::milliseconds every,
                                     const std::function<bool()>& go_on) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  inet_pton(AF_INET, address.c_str(), &to.sin_addr);
  std::vector<int> fds;
  {
    NetnsScope scope(netns);
    while (go_on() && fds.size() < 4000) {
      const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
      connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to);
      fds.push_back(fd);
      std::this_thread::sleep_for(every);
    }
  }
  std::this_thread::sleep_for(1500ms);  // a SYN that got through is answered long before this
  int connected = 0;
  for (int fd : fds) {
    pollfd p{fd, POLLOUT, 0};
    int err = -1;
    socklen_t len = sizeof err;
    if (poll(&p, 1, 0) == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 && err == 0) {
      ++connected;
    }
    close(fd);
  }
  return {static_cast<int>(fds.size()), connected};
}

std::function<bool()> for_a_while(std::chrono::milliseconds how_long) {
  auto until = std::make_shared<std::optional<std::chrono::steady_clock::time_point>>();
  return [until, how_long] {
    if (!*until) *until = std::chrono::steady_clock::now() + how_long;
    return std::chrono::steady_clock::now() < **until;
  };
}

EchoedConnection::EchoedConnection(Fd client, Fd server, std::chrono::milliseconds every,
                                   std::chrono::milliseconds patience, std::function<int()> bucket)
    : client_(std::move(client)), server_(std::move(server)) {
  echo_ = std::thread([this] {
    char buf[4096];
    while (!done_) {
      pollfd p{server_.get(), POLLIN, 0};
      if (poll(&p, 1, 100) != 1) continue;
      const ssize_t n = recv(server_.get(), buf, sizeof buf, 0);
      if (n <= 0) return;
      send_all(server_.get(), std::string(buf, static_cast<std::size_t>(n)));
    }
  });
  talker_ = std::thread([this, every, patience, bucket = std::move(bucket)] {
    for (int i = 0; !done_ && i < 1000; ++i) {
      const auto at = static_cast<std::size_t>(std::clamp(bucket(), 0, 7));
      const std::string text = "round-trip-" + std::to_string(i);
      std::string got;
      bool ok = send_all(client_.get(), text);
      while (ok && got.size() < text.size()) {
        auto chunk = receive(client_.get(), patience);
        if (!chunk || chunk->empty())
          ok = false;
        else
          got += *chunk;
      }
      (ok && got == text ? ok_ : failed_)[at]++;
      std::this_thread::sleep_for(every);
    }
  });
}

EchoedConnection::~EchoedConnection() { stop(); }

void EchoedConnection::stop() {
  done_ = true;
  if (talker_.joinable()) talker_.join();
  if (echo_.joinable()) echo_.join();
}

int EchoedConnection::total_ok() const {
  int n = 0;
  for (const auto& x : ok_) n += x.load();
  return n;
}

int EchoedConnection::total_failed() const {
  int n = 0;
  for (const auto& x : failed_) n += x.load();
  return n;
}

int tcp_accept(int listener, std::chrono::milliseconds wait) {
  pollfd p{listener, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) != 1) return -1;
  return accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
}

int tcp_connect(const std::string& netns, const std::string& address, int port,
                std::chrono::milliseconds wait, int* error, const std::string& source,
                int source_port) {
  socklen_t len;
  sockaddr_storage ss = make_address(address, port, &len);
  const int fd = socket_in(netns, ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK);
  int err = 0;
  socklen_t from_len;
  const bool bound = !source.empty() || source_port != 0;
  sockaddr_storage from{};
  if (bound) {
    from = make_address(source.empty() ? (ss.ss_family == AF_INET6 ? "::" : "0.0.0.0") : source,
                        source_port, &from_len);
    const int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  }
  if (bound && bind(fd, reinterpret_cast<sockaddr*>(&from), from_len) != 0) {
    err = errno;
  } else if (connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0 && errno != EINPROGRESS) {
    err = errno;
  } else {
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, static_cast<int>(wait.count())) != 1) {
      err = ETIMEDOUT;
    } else {
      socklen_t l = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
    }
  }
  if (error) *error = err;
  if (err != 0) {
    close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

int udp_bind(const std::string& netns, const std::string& address, int port) {
  socklen_t len;
  sockaddr_storage ss = make_address(address, port, &len);
  const int fd = socket_in(netns, ss.ss_family, SOCK_DGRAM);
  if (bind(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool udp_send(const std::string& netns, const std::string& address, int port,
              const std::string& data) {
  socklen_t len;
  sockaddr_storage ss = make_address(address, port, &len);
  Fd fd(socket_in(netns, ss.ss_family, SOCK_DGRAM));
  return sendto(fd.get(), data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&ss), len) ==
         static_cast<ssize_t>(data.size());
}

int udp_connect(const std::string& netns, const std::string& source, const std::string& address,
                int port) {
  const int fd = udp_bind(netns, source, 0);
  if (fd < 0) return -1;
  socklen_t len;
  sockaddr_storage to = make_address(address, port, &len);
  if (connect(fd, reinterpret_cast<sockaddr*>(&to), len) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

bool udp_echo_one(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) != 1) return false;
  char buf[65536];
  sockaddr_storage from{};
  socklen_t len = sizeof from;
  const ssize_t n = recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
  if (n < 0) return false;
  return sendto(fd, buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len) ==
         n;
}

std::optional<std::string> receive(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (poll(&p, 1, static_cast<int>(wait.count())) != 1) return std::nullopt;
  char buf[65536];
  const ssize_t n = recv(fd, buf, sizeof buf, 0);
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<std::size_t>(n));
}

bool send_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace portwall::lab
