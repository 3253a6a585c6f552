#include "host/infrastructure.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>

#include "exposure/listening_sockets.h"
#include "rules/rule_writer.h"

namespace portwall {
namespace {

void add_once(std::vector<IpAddress>& list, const IpAddress& a) {
  if (std::find(list.begin(), list.end(), a) == list.end()) list.push_back(a);
}

template <typename Each>
void for_each_line(std::string_view text, Each each) {
  while (!text.empty()) {
    const std::size_t nl = text.find('\n');
    each(text.substr(0, nl));
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

bool all_zero(const IpAddress& a) {
  return std::all_of(a.bytes.begin(), a.bytes.end(), [](std::uint8_t b) { return b == 0; });
}

std::string slurp(const std::string& path) {
  return read_text_file(path).value_or(std::string());
}

}  // namespace

std::vector<IpAddress> parse_ipv4_route_gateways(std::string_view proc_net_route) {
  std::vector<IpAddress> out;
  for_each_line(proc_net_route, [&](std::string_view line) {
    const auto f = fields_of(line);
    if (f.size() < 4 || f[2].size() != 8) return;  // the header, or a short line
    std::uint32_t gateway = 0, flags = 0;
    if (std::from_chars(f[2].data(), f[2].data() + 8, gateway, 16).ec != std::errc{} ||
        std::from_chars(f[3].data(), f[3].data() + f[3].size(), flags, 16).ec != std::errc{}) {
      return;
    }
    // The kernel prints the network-order word as a number of this host's byte order: its
    // bytes in memory are the address's.
    std::uint8_t bytes[4];
    std::memcpy(bytes, &gateway, 4);
    const IpAddress a = IpAddress::v4(bytes);
    if ((flags & 0x2) && !all_zero(a)) add_once(out, a);  // RTF_GATEWAY
  });
  return out;
}

std::vector<IpAddress> parse_ipv6_route_gateways(std::string_view proc_net_ipv6_route) {
  std::vector<IpAddress> out;
  for_each_line(proc_net_ipv6_route, [&](std::string_view line) {
    // destination, its length, source, its length, next hop, metric, refs, use, flags, device
    const auto f = fields_of(line);
    if (f.size() < 10 || f[4].size() != 32) return;
    std::uint32_t flags = 0;
    if (std::from_chars(f[8].data(), f[8].data() + f[8].size(), flags, 16).ec != std::errc{}) {
      return;
    }
    std::uint8_t bytes[16];
    for (int i = 0; i < 16; ++i) {
      if (std::from_chars(f[4].data() + 2 * i, f[4].data() + 2 * i + 2, bytes[i], 16).ec !=
          std::errc{}) {
        return;
      }
    }
    const IpAddress a = IpAddress::v6(bytes);
    if ((flags & 0x2) && !all_zero(a)) add_once(out, a);
  });
  return out;
}

std::vector<IpAddress> parse_resolv_conf(std::string_view text) {
  std::vector<IpAddress> out;
  for_each_line(text, [&](std::string_view line) {
    const auto f = fields_of(line);
    if (f.size() < 2 || f[0] != "nameserver") return;
    std::string_view address = f[1];
    if (const std::size_t zone = address.find('%'); zone != std::string_view::npos) {
      address = address.substr(0, zone);
    }
    if (auto a = parse_ip_address(address)) add_once(out, *a);
  });
  return out;
}

std::vector<IpAddress> Infrastructure::all() const {
  std::vector<IpAddress> out = own;
  for (const auto* list : {&gateways, &resolvers}) {
    for (const IpAddress& a : *list) add_once(out, a);
  }
  return out;
}

Infrastructure read_infrastructure(const std::string& proc, const std::string& etc,
                                   const std::string& run) {
  Infrastructure in;
  if (ifaddrs* list = nullptr; getifaddrs(&list) == 0) {
    for (const ifaddrs* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr) continue;
      if (i->ifa_addr->sa_family == AF_INET) {
        const auto* sin = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
        add_once(in.own, IpAddress::v4(reinterpret_cast<const std::uint8_t*>(&sin->sin_addr)));
      } else if (i->ifa_addr->sa_family == AF_INET6) {
        const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
        add_once(in.own, IpAddress::v6(sin6->sin6_addr.s6_addr));
      }
    }
    freeifaddrs(list);
  }
  in.gateways = parse_ipv4_route_gateways(slurp(proc + "/net/route"));
  for (const IpAddress& a : parse_ipv6_route_gateways(slurp(proc + "/net/ipv6_route"))) {
    add_once(in.gateways, a);
  }
  in.resolvers = parse_resolv_conf(slurp(etc + "/resolv.conf"));
  for (const IpAddress& a : parse_resolv_conf(slurp(run + "/systemd/resolve/resolv.conf"))) {
    add_once(in.resolvers, a);
  }
  return in;
}

}  // namespace portwall
