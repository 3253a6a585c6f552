// packet_fixtures.h — valid packets for the parser tests, as raw bytes annotated field by field.
// Client 203.0.113.9 / 2001:db8::9, server 192.0.2.1 / 2001:db8::1 (documentation ranges).
// Checksums are zero: the parser does not check them. Each test mutates a copy.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

#include "packet/packet_parser.h"

namespace portwall::test {

using Bytes = std::vector<std::uint8_t>;

inline std::expected<PacketView, ParseError> parse(const Bytes& b) { return parse_packet(b); }

// The verbatim error message, or "parsed" when there was none.
inline std::string error_of(const Bytes& b) {
  auto p = parse(b);
  return p ? "parsed" : to_string(p.error());
}

inline Bytes concat(Bytes head, const Bytes& tail) {
  head.insert(head.end(), tail.begin(), tail.end());
  return head;
}

// IPv4 + TCP SYN 203.0.113.9:40000 -> 192.0.2.1:22 with options MSS, window scale 7, SACK.
inline Bytes ipv4_syn() {
  return {
      0x45, 0x00, 0x00, 0x34,  //  0: version 4, IHL 5, TOS 0, total length 52
      0x12, 0x34, 0x40, 0x00,  //  4: id 0x1234, DF, fragment offset 0
      0x40, 0x06, 0x00, 0x00,  //  8: TTL 64, protocol TCP, header checksum
      203,  0,    113,  9,     // 12: source 203.0.113.9
      192,  0,    2,    1,     // 16: destination 192.0.2.1
      0x9c, 0x40, 0x00, 0x16,  // 20: source port 40000, destination port 22
      0x00, 0x00, 0x00, 0x64,  // 24: sequence number 100
      0x00, 0x00, 0x00, 0x00,  // 28: acknowledgement number 0
      0x80, 0x02, 0xfa, 0xf0,  // 32: data offset 8 (32 bytes), flags SYN, window 64240
      0x00, 0x00, 0x00, 0x00,  // 36: checksum, urgent pointer
      0x02, 0x04, 0x05, 0xb4,  // 40: option MSS (kind 2, length 4) 1460
      0x01, 0x03, 0x03, 0x07,  // 44: NOP, window scale (kind 3, length 3) shift 7
      0x01, 0x01, 0x04, 0x02,  // 48: NOP, NOP, SACK permitted (kind 4, length 2)
  };
}

// IPv4 + TCP PSH|ACK 203.0.113.9:40000 -> 192.0.2.1:22 carrying "hello".
inline Bytes ipv4_tcp_data() {
  return {
      0x45, 0x00, 0x00, 0x2d,  //  0: version 4, IHL 5, TOS 0, total length 45
      0x12, 0x35, 0x40, 0x00,  //  4: id 0x1235, DF, fragment offset 0
      0x40, 0x06, 0x00, 0x00,  //  8: TTL 64, protocol TCP, header checksum
      203,  0,    113,  9,     // 12: source 203.0.113.9
      192,  0,    2,    1,     // 16: destination 192.0.2.1
      0x9c, 0x40, 0x00, 0x16,  // 20: source port 40000, destination port 22
      0x00, 0x00, 0x00, 0x65,  // 24: sequence number 101
      0x01, 0x02, 0x03, 0x04,  // 28: acknowledgement number 0x01020304
      0x50, 0x18, 0x01, 0xf6,  // 32: data offset 5 (20 bytes), flags PSH|ACK, window 502
      0x00, 0x00, 0x00, 0x00,  // 36: checksum, urgent pointer
      'h',  'e',  'l',  'l',   // 40: payload
      'o',                     // 44
  };
}

// IPv4 + UDP 203.0.113.9:5000 -> 192.0.2.1:53 with 4 payload bytes.
inline Bytes ipv4_udp() {
  return {
      0x45, 0x00, 0x00, 0x20,  //  0: version 4, IHL 5, TOS 0, total length 32
      0x00, 0x01, 0x00, 0x00,  //  4: id 1, no flags, fragment offset 0
      0x40, 0x11, 0x00, 0x00,  //  8: TTL 64, protocol UDP, header checksum
      203,  0,    113,  9,     // 12: source 203.0.113.9
      192,  0,    2,    1,     // 16: destination 192.0.2.1
      0x13, 0x88, 0x00, 0x35,  // 20: source port 5000, destination port 53
      0x00, 0x0c, 0x00, 0x00,  // 24: UDP length 12, checksum
      'a',  'b',  'c',  'd',   // 28: payload
  };
}

// IPv4 + ICMP echo request 203.0.113.9 -> 192.0.2.1, identifier 0x1234, sequence 1.
inline Bytes ipv4_icmp_echo() {
  return {
      0x45, 0x00, 0x00, 0x20,  //  0: version 4, IHL 5, TOS 0, total length 32
      0x00, 0x02, 0x00, 0x00,  //  4: id 2, no flags, fragment offset 0
      0x40, 0x01, 0x00, 0x00,  //  8: TTL 64, protocol ICMP, header checksum
      203,  0,    113,  9,     // 12: source 203.0.113.9
      192,  0,    2,    1,     // 16: destination 192.0.2.1
      0x08, 0x00, 0x00, 0x00,  // 20: type 8 (echo request), code 0, checksum
      0x12, 0x34, 0x00, 0x01,  // 24: identifier 0x1234, sequence 1
      'p',  'i',  'n',  'g',   // 28: payload
  };
}

// IPv4 + ICMP port unreachable 192.0.2.1 -> 203.0.113.9, quoting ipv4_udp()'s first 28 bytes:
// the server tells the client nothing listens on 53.
inline Bytes ipv4_port_unreachable() {
  return {
      0x45, 0xc0, 0x00, 0x38,  //  0: version 4, IHL 5, TOS 0xc0, total length 56
      0x00, 0x03, 0x00, 0x00,  //  4: id 3, no flags, fragment offset 0
      0x40, 0x01, 0x00, 0x00,  //  8: TTL 64, protocol ICMP, header checksum
      192,  0,    2,    1,     // 12: source 192.0.2.1
      203,  0,    113,  9,     // 16: destination 203.0.113.9
      0x03, 0x03, 0x00, 0x00,  // 20: type 3 (destination unreachable), code 3 (port), checksum
      0x00, 0x00, 0x00, 0x00,  // 24: unused
      0x45, 0x00, 0x00, 0x20,  // 28: quoted IPv4: version 4, IHL 5, total length 32
      0x00, 0x01, 0x00, 0x00,  // 32: quoted id 1, no flags
      0x40, 0x11, 0x00, 0x00,  // 36: quoted TTL 64, protocol UDP
      203,  0,    113,  9,     // 40: quoted source 203.0.113.9
      192,  0,    2,    1,     // 44: quoted destination 192.0.2.1
      0x13, 0x88, 0x00, 0x35,  // 48: quoted UDP source port 5000, destination port 53
      0x00, 0x0c, 0x00, 0x00,  // 52: quoted UDP length 12, checksum
  };
}

// IPv6 header 2001:db8::9 -> 2001:db8::1, hop limit 64, followed by `payload`.
inline Bytes ipv6(std::uint8_t next_header, const Bytes& payload) {
  Bytes b = {
      0x60, 0x00, 0x00, 0x00,  //  0: version 6, traffic class 0, flow label 0
      0x00, 0x00, 0x00, 0x40,  //  4: payload length (below), next header (below), hop limit 64
      0x20, 0x01, 0x0d, 0xb8,  //  8: source 2001:db8::9
      0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x09,  //
      0x20, 0x01, 0x0d, 0xb8,  // 24: destination 2001:db8::1
      0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x00,  //
      0x00, 0x00, 0x00, 0x01,  //
  };
  b[4] = static_cast<std::uint8_t>(payload.size() >> 8);
  b[5] = static_cast<std::uint8_t>(payload.size());
  b[6] = next_header;
  return concat(b, payload);
}

// The same, 2001:db8::1 -> 2001:db8::9: from the server.
inline Bytes ipv6_from_server(std::uint8_t next_header, const Bytes& payload) {
  Bytes b = ipv6(next_header, payload);
  b[23] = 0x01;
  b[39] = 0x09;
  return b;
}

// TCP SYN 40000 -> 443, no options.
inline Bytes tcp_syn_443() {
  return {
      0x9c, 0x40, 0x01, 0xbb,  //  0: source port 40000, destination port 443
      0x00, 0x00, 0x03, 0xe8,  //  4: sequence number 1000
      0x00, 0x00, 0x00, 0x00,  //  8: acknowledgement number 0
      0x50, 0x02, 0xff, 0xff,  // 12: data offset 5, flags SYN, window 65535
      0x00, 0x00, 0x00, 0x00,  // 16: checksum, urgent pointer
  };
}

// IPv6 + TCP SYN 2001:db8::9:40000 -> 2001:db8::1:443.
inline Bytes ipv6_syn() { return ipv6(ipproto::tcp, tcp_syn_443()); }

// IPv6 + hop-by-hop + destination options + fragment (first, more follow) + UDP 5000 -> 53.
inline Bytes ipv6_extensions_udp() {
  return ipv6(0, {
                     60,   0x00, 0x01, 0x04,  // 40: hop-by-hop: next dest. options, length 8,
                     0x00, 0x00, 0x00, 0x00,  // 44:   PadN of 4
                     44,   0x00, 0x01, 0x04,  // 48: destination options: next fragment, length 8,
                     0x00, 0x00, 0x00, 0x00,  // 52:   PadN of 4
                     17,   0x00, 0x00, 0x01,  // 56: fragment: next UDP, reserved, offset 0, M
                     0xde, 0xad, 0xbe, 0xef,  // 60:   identification 0xdeadbeef
                     0x13, 0x88, 0x00, 0x35,  // 64: UDP source port 5000, destination port 53
                     0x00, 0x0c, 0x00, 0x00,  // 68: UDP length 12, checksum
                     'a',  'b',  'c',  'd',   // 72: payload
                 });
}

// IPv6 + ICMPv6 echo request 2001:db8::9 -> 2001:db8::1, identifier 0x002a, sequence 7.
inline Bytes ipv6_icmp_echo() {
  return ipv6(ipproto::icmpv6, {
                                   0x80, 0x00, 0x00, 0x00,  // 40: type 128 (echo request), code 0
                                   0x00, 0x2a, 0x00, 0x07,  // 44: identifier 42, sequence 7
                                   0x70, 0x69, 0x6e, 0x67,  // 48: payload "ping"
                               });
}

// IPv6 + ICMPv6 destination unreachable (port) 2001:db8::1 -> 2001:db8::9, quoting ipv6_syn().
inline Bytes ipv6_port_unreachable() {
  const Bytes icmp = {
      0x01, 0x04, 0x00, 0x00,  // 40: type 1 (destination unreachable), code 4 (port), checksum
      0x00, 0x00, 0x00, 0x00,  // 44: unused
  };
  return ipv6_from_server(ipproto::icmpv6, concat(icmp, ipv6_syn()));  // 48: the quoted packet
}

}  // namespace portwall::test
