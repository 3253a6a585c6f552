#include "policy/local_sockets.h"

#include <algorithm>

namespace portwall {

IpAddress unmapped(const IpAddress& a) {
  if (a.family != Family::ipv6) return a;
  constexpr std::uint8_t kPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!std::equal(std::begin(kPrefix), std::end(kPrefix), a.bytes.begin())) return a;
  return IpAddress::v4(a.bytes.data() + 12);
}

LocalSockets::LocalSockets(const std::vector<LocalEndpoint>& listening,
                           const std::vector<FlowKey>& connections) {
  for (const LocalEndpoint& e : listening) listening_.emplace(e.port, unmapped(e.address));
  for (const FlowKey& k : connections) {
    connected_.insert({ipproto::tcp, unmapped(k.src), unmapped(k.dst), k.src_port, k.dst_port});
  }
}

bool LocalSockets::listening(const IpAddress& address, std::uint16_t port) const {
  const auto [first, last] = listening_.equal_range(port);
  for (auto it = first; it != last; ++it) {
    const IpAddress& bound = it->second;
    if (bound == address) return true;
    const bool wildcard = std::all_of(bound.bytes.begin(), bound.bytes.begin() + bound.size(),
                                      [](std::uint8_t b) { return b == 0; });
    if (wildcard && (bound.family == Family::ipv6 || bound.family == address.family)) return true;
  }
  return false;
}

bool LocalSockets::connected(const IpAddress& local, std::uint16_t local_port,
                             const IpAddress& remote, std::uint16_t remote_port) const {
  return connected_.contains({ipproto::tcp, local, remote, local_port, remote_port});
}

}  // namespace portwall
