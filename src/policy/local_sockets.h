// local_sockets.h — this host's TCP sockets as a connection picked up mid-stream needs them
// (DESIGN.md "A restart never cuts established connections"): the local endpoints that listen
// (0.0.0.0 and :: for every address) and the connections established. A connection met
// mid-stream whose local end listens was opened by the remote (inbound); one the host holds
// from any other local port, an ephemeral one, was the host's own connect (outbound); one the
// host does not hold at all is no connection (an ACK scan, or a stray segment). A value: the
// daemon reads the sockets (host/host_sockets.h) and hands a copy to every queue thread.
#pragma once

#include <cstdint>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "conntrack/flow.h"
#include "packet/ip_address.h"

namespace portwall {

struct LocalEndpoint {
  IpAddress address;
  std::uint16_t port = 0;
};

class LocalSockets {
 public:
  LocalSockets() = default;
  // `connections`: established ones, each keyed local -> remote (FlowKey, protocol TCP).
  LocalSockets(const std::vector<LocalEndpoint>& listening,
               const std::vector<FlowKey>& connections);

  // True when a socket listens on `port` at `address`, or at its family's wildcard (an IPv6
  // wildcard socket also takes IPv4 unless it is v6-only, which /proc does not say: counted).
  bool listening(const IpAddress& address, std::uint16_t port) const;
  // True when the host holds an established connection from `local` to `remote`.
  bool connected(const IpAddress& local, std::uint16_t local_port, const IpAddress& remote,
                 std::uint16_t remote_port) const;

 private:
  std::unordered_multimap<std::uint16_t, IpAddress> listening_;
  std::unordered_set<FlowKey, FlowKeyHash> connected_;
};

// An IPv4-mapped IPv6 address (::ffff:a.b.c.d, as a dual-stack socket shows an IPv4 peer in
// /proc/net/tcp6) as the IPv4 address it is; any other address as it is.
IpAddress unmapped(const IpAddress& address);

}  // namespace portwall
