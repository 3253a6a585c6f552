// listening_sockets.h — the kernel's socket tables as /proc/net/{tcp,tcp6,udp,udp6} print them,
// parsed into the sockets that wait for traffic from outside: TCP in LISTEN, UDP bound and not
// connected (`ss -lntu`). Also the ephemeral port range (/proc/sys/net/ipv4/ip_local_port_range)
// and the "socket:[INODE]" links of /proc/PID/fd that name a socket's owner. Pure: the texts
// come from the caller (host_sockets.h reads them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "packet/ip_address.h"
#include "rules/rule.h"

namespace portwall {

struct ListeningSocket {
  Proto proto = Proto::tcp;  // tcp or udp
  IpAddress address;         // 0.0.0.0 or :: when bound to every address
  std::uint16_t port = 0;
  std::uint32_t uid = 0;
  std::uint64_t inode = 0;  // names the socket in /proc/PID/fd ("socket:[inode]")
  friend bool operator==(const ListeningSocket&, const ListeningSocket&) = default;
};

struct SocketOwner {
  int pid = 0;
  std::string command;  // /proc/PID/comm
  friend bool operator==(const SocketOwner&, const SocketOwner&) = default;
};

// A listening socket with the processes that hold it (host/host_sockets.h finds them).
struct HostSocket {
  ListeningSocket socket;
  // Several when the socket is shared (fork) or with SO_REUSEPORT groups, each its own socket.
  std::vector<SocketOwner> owners;
};

// One /proc/net table: `proto` tcp or udp, `v6` for the tcp6/udp6 files. Lines of another shape
// (the header) are skipped. Addresses are printed by the kernel as host-order 32-bit words in
// hex, so 127.0.0.1 reads "0100007F" on little-endian machines; this is undone here.
std::vector<ListeningSocket> parse_proc_net(std::string_view text, Proto proto, bool v6);

// A TCP connection in ESTABLISHED ("01"), as /proc/net/tcp and tcp6 print it: what the SSH
// lockout check looks at (exposure/ssh_lockout.h).
struct TcpConnection {
  IpAddress local;
  std::uint16_t local_port = 0;
  IpAddress remote;
  std::uint16_t remote_port = 0;
  std::uint64_t inode = 0;
  friend bool operator==(const TcpConnection&, const TcpConnection&) = default;
};
std::vector<TcpConnection> parse_established(std::string_view text, bool v6);
// Every TCP connection a segment may still belong to: all states but LISTEN, TIME_WAIT, CLOSE.
std::vector<TcpConnection> parse_connected(std::string_view text, bool v6);

// A line of a /proc table split on runs of spaces and tabs (host/infrastructure reads routes
// with it too).
std::vector<std::string_view> fields_of(std::string_view line);

// True when `address` is the wildcard of its family (0.0.0.0 or ::).
bool is_wildcard(const IpAddress& address);

// The ephemeral range, "32768\t60999\n"; nullopt for anything else.
std::optional<PortRange> parse_port_range(std::string_view text);

// "socket:[12345]" → 12345; nullopt for any other link ("pipe:[1]", "/dev/null").
std::optional<std::uint64_t> socket_inode(std::string_view link);

}  // namespace portwall
