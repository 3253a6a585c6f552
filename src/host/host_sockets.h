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
#include "exposure/ssh_lockout.h"
#include "policy/local_sockets.h"

namespace portwall {

// Sockets in /proc order (tcp, tcp6, udp, udp6); an error when none of the tables can be read.
std::expected<std::vector<HostSocket>, std::string> read_host_sockets(
    const std::string& proc = "/proc");
std::optional<PortRange> read_ephemeral_range(const std::string& proc = "/proc");

// The TCP sockets of this network namespace, listening and connected (/proc/net/tcp and tcp6),
// for the connections picked up mid-stream; nullopt when neither table can be read.
std::optional<LocalSockets> read_local_sockets(const std::string& proc = "/proc");

// What the SSH server holds, for the lockout check (exposure/ssh_lockout.h): its listening TCP
// sockets and the established connections of its processes (a session each), found as `ss -tnp`
// finds them, through the /proc/PID/fd links of the processes named sshd (or dropbear). Another
// root process's fds can be read only with CAP_SYS_PTRACE (the kernel refuses a process with
// fewer capabilities than its target): when an SSH server runs but its fds cannot be read,
// `owners_read` is false and its sockets are taken to be those on the ssh port, 22.
struct SshSockets {
  bool server_running = false;
  bool owners_read = true;
  std::vector<ListeningSocket> listeners;
  std::vector<TcpConnection> sessions;
};
std::expected<SshSockets, std::string> read_ssh_sockets(const std::string& proc = "/proc");

// The interface that holds `address` in this network namespace (getifaddrs), or "".
std::string interface_with_address(const IpAddress& address);

// The SSH lockout check (exposure/ssh_lockout.h) on this host's SSH server and sessions, each
// session with the interface of its local address. `owners_read` as SshSockets says.
struct LockoutHere {
  LockoutCheck check;
  bool owners_read = true;
};
std::expected<LockoutHere, std::string> check_ssh_lockout_here(
    const PolicySnapshot& policy, const std::vector<KnockSection>& knocks);

}  // namespace portwall
