// packet_parser.h — raw IP bytes (as NFQUEUE hands them over) -> PacketView.
// Checks every length before reading it; a truncated or inconsistent packet comes back as a
// ParseError naming what was wrong and at which byte offset, never read past its end.
// No allocation, no system call: safe on the packet hot path and under a fuzzer.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include "packet/packet_view.h"

namespace portwall {

enum class ParseErrorKind : std::uint8_t {
  empty,                // zero bytes
  bad_version,          // first nibble is neither 4 nor 6
  truncated_ip_header,  // fewer bytes than the IP header needs
  bad_ihl,              // IPv4 IHL < 5
  bad_total_length,     // IPv4 total length < IHL*4 or > captured bytes; IPv6 payload length >
                        // captured
  truncated_extension,  // an IPv6 extension header runs past the end
  too_many_extensions,  // more IPv6 extension headers than portwall walks (bound: 8)
  truncated_l4_header,  // fewer bytes than the TCP/UDP/ICMP header needs
  bad_tcp_data_offset,  // TCP data offset < 5 or past the end of the segment
  tcp_port_zero,        // TCP source or destination port 0
  bad_udp_length,       // UDP length < 8 or > bytes present
  udp_dst_port_zero,    // UDP destination port 0
};

struct ParseError {
  ParseErrorKind kind;
  std::uint16_t offset = 0;  // byte offset where the problem was found
};

// Human-readable, for logs and tests: "truncated TCP header at byte 20".
std::string to_string(const ParseError& error);
const char* to_string(ParseErrorKind kind);

std::expected<PacketView, ParseError> parse_packet(std::span<const std::uint8_t> bytes);
// The same for a capture that holds only the first bytes of a longer datagram (NFQUEUE's copy
// range): lengths are checked against `wire_length`, reads stay within `bytes`, and payload
// lengths are those the headers state.
std::expected<PacketView, ParseError> parse_packet(std::span<const std::uint8_t> bytes,
                                                   std::size_t wire_length);

}  // namespace portwall
