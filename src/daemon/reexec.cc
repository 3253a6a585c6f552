// reexec.cc — SIGUSR2: portwalld executes its binary again in place (same PID, so systemd sees
// no restart), as an upgrade needs, without a moment in which a packet passes unjudged. The
// queue sockets stay open across execve (PORTWALL_QUEUE_FDS=NUMBER=FD,...) and so stay bound:
// what arrives meanwhile waits in the kernel's queue and is judged by the new image, which
// adopts them; the diversion rules are never removed (the new image replaces them in one
// transaction). Tracked connections are picked up again as after a restart (pickup_grace).
#include <fcntl.h>
#include <sys/mman.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <optional>

#include "daemon/daemon.h"

namespace portwall {
namespace {

constexpr const char* kQueueFds = "PORTWALL_QUEUE_FDS";
constexpr const char* kControlFd = "PORTWALL_CONTROL_FD";

constexpr const char* kFlowFds = "PORTWALL_FLOW_FDS";
constexpr const char* kForwardingOurs = "PORTWALL_FORWARDING_OURS";  // "4", "6", "46"

// A descriptor number from the environment, if it names an open descriptor.
std::optional<int> open_fd(std::string_view text) {
  int fd = -1;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), fd);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || fd < 3) return std::nullopt;
  if (fcntl(fd, F_GETFD) < 0) return std::nullopt;
  return fd;
}

// "NUMBER=FD,..." from the environment: the open descriptors by queue number.
std::map<std::uint16_t, int> fds_by_queue(const char* name) {
  std::map<std::uint16_t, int> out;
  const char* text = std::getenv(name);
  std::string_view rest(text ? text : "");
  while (!rest.empty()) {
    const std::string_view item = rest.substr(0, rest.find(','));
    rest.remove_prefix(std::min(rest.size(), item.size() + 1));
    const std::size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    unsigned number = 0;
    const auto r = std::from_chars(item.data(), item.data() + eq, number);
    const auto fd = open_fd(item.substr(eq + 1));
    if (r.ec != std::errc() || number > 65535 || !fd) continue;
    out[static_cast<std::uint16_t>(number)] = *fd;
  }
  return out;
}

// The flows in a memfd that stays open across execve, -1 on failure (then they are picked up
// again as after a restart).
int flows_in_memfd(const std::vector<HandedFlow>& flows) {
  const int fd = memfd_create("portwall-flows", 0);
  if (fd < 0) return -1;
  const std::string text = encode_flows(flows, SteadyClock().now());
  for (std::size_t at = 0; at < text.size();) {
    const ssize_t n = write(fd, text.data() + at, text.size() - at);
    if (n <= 0) {
      close(fd);
      return -1;
    }
    at += static_cast<std::size_t>(n);
  }
  return fd;
}

}  // namespace

Handover take_handover() {
  Handover out;
  out.queues = fds_by_queue(kQueueFds);
  out.flows = fds_by_queue(kFlowFds);
  if (const char* text = std::getenv(kControlFd)) out.control = open_fd(text).value_or(-1);
  if (const char* text = std::getenv(kForwardingOurs)) {
    const std::string_view ours(text);
    out.forwarding_ours = {ours.find('4') != ours.npos, ours.find('6') != ours.npos};
  }
  // Not for the programs this one runs (iptables).
  for (const char* name : {kQueueFds, kFlowFds, kControlFd, kForwardingOurs}) unsetenv(name);
  return out;
}

std::vector<HandedFlow> read_handed_flows(int fd, std::size_t most) {
  // Bounded by what a full table writes (about 120 bytes a flow), whatever the file says.
  const std::size_t limit = std::max<std::size_t>(most, 1) * 256;
  std::string text;
  char chunk[65536];
  for (off_t at = 0; text.size() < limit;) {
    const ssize_t n = pread(fd, chunk, sizeof chunk, at);
    if (n <= 0) break;
    text.append(chunk, static_cast<std::size_t>(n));
    at += n;
  }
  close(fd);
  return decode_flows(text, SteadyClock().now(), most);
}

int Daemon::reexec() {
  std::string binary = argv_.empty() ? "" : argv_.front();
  if (binary.empty() || binary.front() != '/') binary = "/proc/self/exe";
  if (access(binary.c_str(), X_OK) != 0) {
    say("SIGUSR2: cannot execute " + binary + " (" + std::strerror(errno) + "); going on");
    return -1;
  }
  say("re-executing " + binary + " (SIGUSR2): the queues and the diversion rules stay");
  sd_notify(0, "RELOADING=1");
  audit_log_->record(static_cast<long>(getuid()), "reexec", "ok", binary);
  // The control socket too: bound, and given to its group, by the first image (the new one
  // may lack CAP_CHOWN: NoNewPrivileges keeps execve from granting what the old one dropped).
  const int control = control_server_->release();
  control_server_.reset();
  stop_crowdsec();   // its thread ends; the new image pulls every decision again
  control_.reset();  // it holds the audit log, which goes below
  // Each queue's socket and its tracked flows, so that idle connections go on too.
  std::string handed, flows;
  std::size_t flow_count = 0;
  for (auto& w : workers_) {
    w->stop();
    const std::uint16_t number = w->queue_number();
    const std::vector<HandedFlow> tracked = w->hand_over();
    if (const int fd = flows_in_memfd(tracked); fd >= 0) {
      flows += (flows.empty() ? "" : ",") + std::to_string(number) + "=" + std::to_string(fd);
      flow_count += tracked.size();
    }
    const int fd = w->take_queue()->release();
    if (fd < 0) continue;
    fcntl(fd, F_SETFD, 0);  // open across execve
    handed += (handed.empty() ? "" : ",") + std::to_string(number) + "=" + std::to_string(fd);
  }
  say("handing over " + std::to_string(flow_count) + " tracked connection(s)");
  workers_.clear();
  if (blocks_) save_defense_state(true);
  decision_log_.reset();  // every line queued so far is written
  audit_log_.reset();
  setenv(kQueueFds, handed.c_str(), 1);
  setenv(kFlowFds, flows.c_str(), 1);
  if (control >= 0) setenv(kControlFd, std::to_string(control).c_str(), 1);
  const std::string ours =
      std::string(forwarding_turned_on_[0] ? "4" : "") + (forwarding_turned_on_[1] ? "6" : "");
  if (!ours.empty()) setenv(kForwardingOurs, ours.c_str(), 1);
  std::vector<char*> argv;
  for (std::string& a : argv_) argv.push_back(a.data());
  argv.push_back(nullptr);
  execv(binary.c_str(), argv.data());
  // Only on failure. The queues are closed with this process; with the diversion removed the
  // host is as after a stop, and systemd (Restart=on-failure) starts portwalld again.
  say("re-executing " + binary + " failed: " + std::strerror(errno) + "; stopping");
  return 1;
}

}  // namespace portwall
