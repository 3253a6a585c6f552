// lab.h — the wire-test lab: two network namespaces joined by veth (tools/lab.sh), portwalld
// running in the server one, and sockets opened inside either namespace. Everything a test
// creates is removed by destructors, also when an assertion fails.
#pragma once

#include <sys/types.h>

#include <array>
#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace portwall::lab {

using namespace std::chrono_literals;

// A source port for `explain` probes: above ip_local_port_range (32768-60999), so no real
// connection a test opens can hold it and turn the answer into "tracked connection".
inline constexpr const char* kProbePort = "61999";

struct RunResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};
// Runs a shell command line (bounded by `timeout`), capturing its output.
RunResult run(const std::string& command, std::chrono::seconds timeout = 20s);

// Enters a network namespace for the calling thread while alive; sockets made meanwhile stay
// in that namespace after it ends.
class NetnsScope {
 public:
  explicit NetnsScope(const std::string& netns);
  ~NetnsScope();
  NetnsScope(const NetnsScope&) = delete;
  NetnsScope& operator=(const NetnsScope&) = delete;

 private:
  int original_ = -1;
};

// Namespaces NAME-srv (10.200.N.1, fd00:200:N::1) and NAME-cli (.2, ::2), and a second client
// NAME-cl2 (10.200.N.130, fd00:200:N:1::2) that reaches the server at 10.200.N.129 and
// fd00:200:N:1::1.
class Lab {
 public:
  // fleet: also NAME-srvb (a second server, 10.200.N.3, fd00:200:N::3) and NAME-lapi (a
  // CrowdSec Local API, 10.200.N.10), on one bridge with the client and the server (10.200.N.1):
  // tools/lab.sh.
  enum class Shape { plain, fleet };
  explicit Lab(Shape shape = Shape::plain);  // NAME = pw-it<pid>, N = pid % 200 + 10
  ~Lab();
  std::string srv() const { return name_ + "-srv"; }
  std::string cli() const { return name_ + "-cli"; }
  std::string cl2() const { return name_ + "-cl2"; }
  std::string srvb() const { return name_ + "-srvb"; }  // fleet only
  std::string lapi() const { return name_ + "-lapi"; }  // fleet only
  std::string srvb_v4() const;
  std::string lapi_v4() const;
  std::string net_v4() const;  // "10.200.N."
  std::string cl2_v4() const;
  std::string srv_v4_for_cl2() const;
  std::string srv_v6_for_cl2() const;
  std::string cl2_v6() const;
  std::string srv_v4() const;
  std::string cli_v4() const;
  std::string srv_v6() const;
  std::string cli_v6() const;
  std::string name() const { return name_; }
  // Gives cl2 `count` more IPv4 addresses (10.200.N.131 and up, same route to the server), so
  // that its connections meet both queues (the queue-balance hash is over the addresses);
  // returns them, or throws when one cannot be added.
  std::vector<std::string> add_cl2_addresses(int count) const;
  // A command line run inside a namespace.
  RunResult in(const std::string& netns, const std::string& command,
               std::chrono::seconds timeout = 20s) const;

 private:
  std::string name_;
  int net_;
};

// portwalld in the lab's server namespace with the given rules, its own socket and logs.
class Daemon {
 public:
  // `extra_daemon_keys`: lines added to the [daemon] table of its configuration;
  // `extra_sections`: tables added after it ([[knock]], [limits], ...; a [log] table there
  // replaces the default one). The state file lives in the daemon's directory. `prelude`:
  // shell commands run first in a mount namespace of the daemon's own (private propagation),
  // e.g. to put a test's socket where syslog(3) or the journal expects theirs.
  // `netns`: another namespace of the lab to run in (the fleet's second server), else srv().
  Daemon(const Lab& lab, const std::string& rules_toml, const std::string& extra_daemon_keys = "",
         const std::string& extra_sections = "", const std::string& prelude = "",
         const std::string& netns = "");
  ~Daemon();  // SIGTERM if still running
  bool ready() const { return ready_; }
  // Starts portwalld again with the same configuration, rules and state (after stop()).
  bool start();
  // Words put before portwalld on its command line at the next start(), e.g. `setpriv
  // --bounding-set=-net_raw` to start it with fewer capabilities.
  void set_exec_prefix(const std::string& prefix) { exec_prefix_ = prefix; }
  // SIGTERM and wait; the exit status (or -1).
  int stop();
  // Waits (bounded) for portwalld to exit by itself; its exit status, or -1 if it still runs.
  int wait_for_exit(std::chrono::milliseconds wait);
  void signal(int sig) const;
  pid_t pid() const { return pid_; }
  RunResult cli(const std::string& args) const;  // `portwall --socket ... ARGS` in the namespace
  std::string log() const;                       // the decision log's content
  std::string daemon_output() const;             // portwalld's stderr
  // Waits (8 s at most) until portwalld has received nothing new for a second: the lab's fresh
  // addresses announce themselves (neighbour discovery, MLD) in their first seconds.
  void wait_until_quiet() const;
  std::string dir() const { return dir_; }

 private:
  int exit_code(int wait_status) const;
  const Lab& lab_;
  std::string netns_;
  std::string dir_;
  std::string prelude_;
  std::string exec_prefix_;
  pid_t pid_ = -1;
  bool ready_ = false;
};

// The diversion backend the daemons of the wire tests use: nftables when PORTWALL_TEST_BACKEND
// says so (the nft suite, tests/nft/), else iptables.
bool testing_nftables();
// The server's diversion rules as their backend lists them: iptables-save (ip6tables-save with
// `ipv6`), or the nftables table `inet portwall` (both families).
std::string diversion_rules(const Lab& lab, bool ipv6 = false);
// In such a listing: the hooks into portwall's rules (iptables: jumps from INPUT; nftables:
// the table), the rules that queue (both directions count), the inspect = "new" accept of
// offloaded connections.
std::size_t input_hooks(const std::string& rules);
std::size_t queue_rules(const std::string& rules);
bool has_offload_accept(const std::string& rules);

// Non-blocking connection attempts from `netns` to IPv4 ADDRESS:PORT, one every `every` while
// `go_on()` says so (4,000 at most), kept open and checked 1.5 s after the last: how many were
// made, and how many connected. For "nothing gets through, ever, across X".
std::pair<int, int> connection_storm(const std::string& netns, const std::string& address, int port,
                                     std::chrono::milliseconds every,
                                     const std::function<bool()>& go_on);
// A go_on for connection_storm: true for `how_long` from the first call.
std::function<bool()> for_a_while(std::chrono::milliseconds how_long);

// Sockets in a namespace. Every wait is bounded.
int tcp_listen(const std::string& netns, const std::string& address, int port);
// Accepts one connection within `wait`; -1 if none came.
int tcp_accept(int listener, std::chrono::milliseconds wait);
// Connects within `wait`; the socket or -1 (refused, timed out). From `source` (an address of
// the namespace) when given, and from `source_port` when not 0 (SO_REUSEADDR: a port whose
// last connection is in TIME_WAIT may be used again).
int tcp_connect(const std::string& netns, const std::string& address, int port,
                std::chrono::milliseconds wait, int* error = nullptr,
                const std::string& source = "", int source_port = 0);
int udp_bind(const std::string& netns, const std::string& address, int port);
bool udp_send(const std::string& netns, const std::string& address, int port,
              const std::string& data);
// A UDP socket of `netns` bound to `source` (any port) and connected to address:port: one flow
// for as long as it lives; -1 on failure.
int udp_connect(const std::string& netns, const std::string& source, const std::string& address,
                int port);
// Receives one datagram on `fd` within `wait` and sends it back to where it came from.
bool udp_echo_one(int fd, std::chrono::milliseconds wait);
// One datagram within `wait`, or nullopt.
std::optional<std::string> receive(int fd, std::chrono::milliseconds wait);
bool send_all(int fd, const std::string& data);

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd();
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& other) noexcept : fd_(other.fd_) { other.fd_ = -1; }
  Fd& operator=(Fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }

 private:
  int fd_;
};

// An established connection kept busy: the server side echoes what it reads; the client sends
// a numbered message every `every` (1,000 at most) and waits `patience` for it to come back.
// Each round trip counts as ok or failed in the bucket `bucket()` names when it starts (a test's
// phase, 0..7). Stops when destroyed or stop()ped.
class EchoedConnection {
 public:
  EchoedConnection(
      Fd client, Fd server, std::chrono::milliseconds every, std::chrono::milliseconds patience,
      std::function<int()> bucket = [] { return 0; });
  ~EchoedConnection();
  EchoedConnection(const EchoedConnection&) = delete;
  EchoedConnection& operator=(const EchoedConnection&) = delete;
  void stop();
  int ok(int bucket = 0) const { return ok_[static_cast<std::size_t>(bucket)].load(); }
  int failed(int bucket = 0) const { return failed_[static_cast<std::size_t>(bucket)].load(); }
  int total_ok() const;
  int total_failed() const;

 private:
  Fd client_, server_;
  std::atomic<bool> done_{false};
  std::array<std::atomic<int>, 8> ok_{}, failed_{};
  std::thread echo_, talker_;
};

}  // namespace portwall::lab
