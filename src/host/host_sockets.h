// host_sockets.h — what listens in this network namespace, and which processes own it, as
// `ss -lntup` shows it: the four /proc/net socket tables, and every /proc/PID/fd link that
// names one of their sockets. A process that exits meanwhile, or whose fds cannot be read, is
// skipped; the socket then has no owner. `proc` is the proc file system's root (tests give a
// recorded tree).
#pragma once

#include <expected>
#include <optional>
#include <string>
#include <vector>

#include "exposure/listening_sockets.h"

namespace portwall {

struct SocketOwner {
  int pid = 0;
  std::string command;  // /proc/PID/comm
  friend bool operator==(const SocketOwner&, const SocketOwner&) = default;
};

struct HostSocket {
  ListeningSocket socket;
  // Several when the socket is shared (fork) or with SO_REUSEPORT groups, each its own socket.
  std::vector<SocketOwner> owners;
};

// Sockets in /proc order (tcp, tcp6, udp, udp6); an error when none of the tables can be read.
std::expected<std::vector<HostSocket>, std::string> read_host_sockets(
    const std::string& proc = "/proc");
std::optional<PortRange> read_ephemeral_range(const std::string& proc = "/proc");

}  // namespace portwall
