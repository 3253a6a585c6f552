// test_packets.h — PacketView builders for unit tests: a client and a server, by direction.
#pragma once

#include "packet/packet_view.h"

namespace portwall::test {

inline const IpAddress kClient = *parse_ip_address("203.0.113.9");
inline const IpAddress kServer = *parse_ip_address("192.0.2.1");
inline const IpAddress kClient6 = *parse_ip_address("2001:db8::9");
inline const IpAddress kServer6 = *parse_ip_address("2001:db8::1");

inline PacketView tcp(const IpAddress& src, std::uint16_t sport, const IpAddress& dst,
                      std::uint16_t dport, std::uint8_t flags) {
  PacketView p;
  p.family = src.family;
  p.src = src;
  p.dst = dst;
  p.protocol = ipproto::tcp;
  p.ip_length = 60;
  p.has_l4 = true;
  p.src_port = sport;
  p.dst_port = dport;
  p.tcp_flags = flags;
  return p;
}
// Client 40000 -> server 22 (original), and back (reply).
inline PacketView orig(std::uint8_t flags) { return tcp(kClient, 40000, kServer, 22, flags); }
inline PacketView reply(std::uint8_t flags) { return tcp(kServer, 22, kClient, 40000, flags); }

inline PacketView udp(const IpAddress& src, std::uint16_t sport, const IpAddress& dst,
                      std::uint16_t dport) {
  PacketView p = tcp(src, sport, dst, dport, 0);
  p.protocol = ipproto::udp;
  return p;
}

inline PacketView icmp_echo(const IpAddress& src, const IpAddress& dst, std::uint8_t type,
                            std::uint16_t id) {
  PacketView p;
  p.family = src.family;
  p.src = src;
  p.dst = dst;
  p.protocol = src.family == Family::ipv4 ? ipproto::icmp : ipproto::icmpv6;
  p.ip_length = 84;
  p.has_l4 = true;
  p.icmp_type = type;
  p.src_port = p.dst_port = id;
  return p;
}

// An ICMP error sent from `from` to `to`, quoting the packet `quoted`.
inline PacketView icmp_error(const IpAddress& from, const IpAddress& to, const PacketView& quoted) {
  PacketView p = icmp_echo(from, to, 3, 0);
  p.src_port = p.dst_port = 0;
  p.icmp_code = 3;
  p.is_icmp_error = true;
  p.has_quoted = true;
  p.quoted = {quoted.protocol, quoted.src, quoted.dst, quoted.src_port, quoted.dst_port};
  return p;
}

}  // namespace portwall::test
