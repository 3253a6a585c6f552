// packet_view.h — what the parser learned about one packet, by value.
// Holds no pointer into the packet: the view outlives the receive buffer. Fields that do
// not apply to the packet's protocol are zero. Produced by parse_packet (packet_parser.h).
#pragma once

#include <cstdint>

#include "packet/ip_address.h"

namespace portwall {

// IANA protocol numbers of the L4 protocols portwall understands.
namespace ipproto {
inline constexpr std::uint8_t icmp = 1;
inline constexpr std::uint8_t tcp = 6;
inline constexpr std::uint8_t udp = 17;
inline constexpr std::uint8_t icmpv6 = 58;
}  // namespace ipproto

// TCP header flag bits (RFC 9293 §3.1, plus ECE/CWR of RFC 3168).
namespace tcpflag {
inline constexpr std::uint8_t fin = 0x01;
inline constexpr std::uint8_t syn = 0x02;
inline constexpr std::uint8_t rst = 0x04;
inline constexpr std::uint8_t psh = 0x08;
inline constexpr std::uint8_t ack = 0x10;
inline constexpr std::uint8_t urg = 0x20;
inline constexpr std::uint8_t ece = 0x40;
inline constexpr std::uint8_t cwr = 0x80;
}  // namespace tcpflag

// The transport tuple an ICMP/ICMPv6 error quotes (RFC 792, RFC 4443 §2.4 c): the header
// of the packet that caused the error, in that packet's direction.
struct QuotedTuple {
  std::uint8_t protocol = 0;
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;  // TCP/UDP ports; for quoted echo: id in both
};

struct PacketView {
  Family family = Family::ipv4;
  IpAddress src, dst;
  std::uint8_t protocol = 0;    // final upper-layer protocol after IPv6 extension headers
  std::uint8_t ttl = 0;         // TTL or hop limit
  std::uint32_t ip_length = 0;  // whole IP datagram in bytes (IPv4 total length, IPv6 40 + payload)

  // Fragments. A non-first fragment carries no L4 header: has_l4 is false.
  bool is_fragment = false;
  bool more_fragments = false;
  std::uint32_t fragment_offset = 0;  // in bytes
  std::uint32_t fragment_id = 0;
  // An IPv6 routing header of type 0 (source routing, deprecated by RFC 5095 for the
  // amplification it allows); portwall drops these as ufw's before6.rules do.
  bool routing_type0 = false;

  bool has_l4 = false;                       // the L4 header below was parsed
  std::uint16_t src_port = 0, dst_port = 0;  // TCP/UDP; for ICMP echo both hold the identifier

  // TCP.
  std::uint8_t tcp_flags = 0;
  std::uint32_t seq = 0, ack = 0;
  std::uint16_t window = 0;
  std::uint8_t window_scale = 0xff;  // from a SYN's option; 0xff: absent

  // ICMP / ICMPv6.
  std::uint8_t icmp_type = 0, icmp_code = 0;
  bool is_icmp_error = false;  // destination unreachable, time exceeded, ... (quotes a packet)
  bool has_quoted = false;     // the quoted header was long enough to read a tuple
  QuotedTuple quoted;

  std::uint16_t l4_offset = 0;       // byte offset of the L4 header in the packet
  std::uint16_t payload_offset = 0;  // byte offset of the L4 payload
  std::uint32_t payload_length = 0;  // L4 payload bytes (as the headers state them)
};

}  // namespace portwall
