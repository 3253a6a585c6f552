// infrastructure.h — the addresses this host depends on: its own, its default gateways' and
// its resolvers'. Scan detection never blocks them on its own (a forged scan "from" the
// gateway would otherwise cut the server off: the self-denial of service of psad-style
// blockers); `portwall blocked add` still can. The parsers are pure; read_infrastructure()
// reads this network namespace's tables (`proc`) and resolver files (`etc`, `run`).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "packet/ip_address.h"

namespace portwall {

struct Infrastructure {
  std::vector<IpAddress> own, gateways, resolvers;
  std::vector<IpAddress> all() const;  // the three lists, each address once
  friend bool operator==(const Infrastructure&, const Infrastructure&) = default;
};

// Gateways of the routes in /proc/net/route (IPv4, addresses in host byte order, hex) and
// /proc/net/ipv6_route (IPv6, hex), default routes and others alike, without duplicates.
std::vector<IpAddress> parse_ipv4_route_gateways(std::string_view proc_net_route);
std::vector<IpAddress> parse_ipv6_route_gateways(std::string_view proc_net_ipv6_route);
// The `nameserver` lines of a resolv.conf (a zone index, fe80::1%eth0, is dropped).
std::vector<IpAddress> parse_resolv_conf(std::string_view text);

// This namespace's addresses (getifaddrs), route gateways, and the resolvers of
// `etc`/resolv.conf and, behind systemd-resolved's stub, `run`/systemd/resolve/resolv.conf.
// What cannot be read is left out.
Infrastructure read_infrastructure(const std::string& proc = "/proc",
                                   const std::string& etc = "/etc",
                                   const std::string& run = "/run");

}  // namespace portwall
