// packet_parser.cc — see packet_parser.h. Every read goes through Reader, which checks the
// length first; offsets in errors are from the start of the packet.
#include "packet/packet_parser.h"

#include <algorithm>
#include <cstring>

namespace portwall {
namespace {

constexpr int kMaxExtensions = 8;  // IPv6 extension headers walked before giving up

std::uint16_t be16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] << 8 | p[1]); }
std::uint32_t be32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

std::unexpected<ParseError> fail(ParseErrorKind kind, std::size_t offset) {
  return std::unexpected(ParseError{kind, static_cast<std::uint16_t>(offset)});
}

bool is_icmp_error(std::uint8_t protocol, std::uint8_t type) {
  if (protocol == ipproto::icmp) {
    // RFC 792: unreachable 3, source quench 4, redirect 5, time exceeded 11, parameter 12.
    return type == 3 || type == 4 || type == 5 || type == 11 || type == 12;
  }
  return type >= 1 && type <= 4;  // RFC 4443 §2.1: error messages are types 0-127; 1-4 defined
}

bool is_echo(std::uint8_t protocol, std::uint8_t type) {
  return protocol == ipproto::icmp ? (type == 8 || type == 0) : (type == 128 || type == 129);
}

bool is_ipv6_extension(std::uint8_t next) {
  return next == 0 || next == 43 || next == 44 || next == 60 || next == 51;
}

// The network layer of a packet (outer or quoted): addresses, protocol, where L4 starts.
struct IpLayer {
  Family family = Family::ipv4;
  IpAddress src, dst;
  std::uint8_t protocol = 0;
  std::uint8_t ttl = 0;
  std::size_t l4 = 0;            // offset of the L4 header
  std::size_t end = 0;           // end of what can be read: the datagram, within the bytes
  std::size_t declared_end = 0;  // end of the datagram as its header states it
  std::uint32_t ip_length = 0;
  bool is_fragment = false, more_fragments = false;
  std::uint32_t fragment_offset = 0, fragment_id = 0;
  bool routing_type0 = false;
};

// Parses the IP header(s) at `base`. `quoted`: inside an ICMP error, where the datagram is
// truncated by design, so the stated length may exceed the bytes present.
// `wire`: the datagram's length on the wire, when the capture holds only its first bytes.
std::expected<IpLayer, ParseError> parse_ip(std::span<const std::uint8_t> b, std::size_t base,
                                            bool quoted, std::size_t wire) {
  IpLayer ip;
  if (b.size() <= base) return fail(ParseErrorKind::empty, base);
  const std::uint8_t version = b[base] >> 4;
  if (version == 4) {
    if (b.size() - base < 20) return fail(ParseErrorKind::truncated_ip_header, base);
    const std::uint8_t* h = b.data() + base;
    const std::size_t ihl = (h[0] & 0x0f) * 4u;
    if (ihl < 20) return fail(ParseErrorKind::bad_ihl, base);
    if (b.size() - base < ihl) return fail(ParseErrorKind::truncated_ip_header, base);
    const std::size_t total = be16(h + 2);
    if (total < ihl || (!quoted && total > wire - base)) {
      return fail(ParseErrorKind::bad_total_length, base + 2);
    }
    ip.family = Family::ipv4;
    ip.src = IpAddress::v4(h + 12);
    ip.dst = IpAddress::v4(h + 16);
    ip.protocol = h[9];
    ip.ttl = h[8];
    ip.ip_length = static_cast<std::uint32_t>(total);
    const std::uint16_t frag = be16(h + 6);
    ip.more_fragments = frag & 0x2000;
    ip.fragment_offset = (frag & 0x1fffu) * 8u;
    ip.is_fragment = ip.more_fragments || ip.fragment_offset != 0;
    ip.fragment_id = be16(h + 4);
    ip.l4 = base + ihl;
    // Bytes past the total length are link-layer padding.
    ip.declared_end = quoted ? b.size() : base + total;
    ip.end = std::min(ip.declared_end, b.size());
    return ip;
  }
  if (version != 6) return fail(ParseErrorKind::bad_version, base);
  if (b.size() - base < 40) return fail(ParseErrorKind::truncated_ip_header, base);
  const std::uint8_t* h = b.data() + base;
  const std::size_t payload = be16(h + 4);
  if (!quoted && payload > wire - base - 40) {
    return fail(ParseErrorKind::bad_total_length, base + 4);
  }
  ip.family = Family::ipv6;
  ip.src = IpAddress::v6(h + 8);
  ip.dst = IpAddress::v6(h + 24);
  ip.ttl = h[7];
  ip.ip_length = static_cast<std::uint32_t>(40 + payload);
  ip.declared_end = quoted ? b.size() : base + 40 + payload;
  ip.end = std::min(ip.declared_end, b.size());
  std::uint8_t next = h[6];
  std::size_t at = base + 40;
  // RFC 8200 §4: walk the extension headers to the upper-layer header, bounded.
  for (int walked = 0; is_ipv6_extension(next); ++walked) {
    if (walked == kMaxExtensions) return fail(ParseErrorKind::too_many_extensions, at);
    if (ip.end < at + 8) return fail(ParseErrorKind::truncated_extension, at);
    const std::uint8_t* e = b.data() + at;
    std::size_t len = next == 51 ? (e[1] + 2u) * 4u : (e[1] + 1u) * 8u;  // AH: RFC 4302 §2.2
    if (next == 44) {  // RFC 8200 §4.5: fixed 8 bytes
      len = 8;
      const std::uint16_t off = be16(e + 2);
      ip.is_fragment = true;
      ip.fragment_offset = (off >> 3) * 8u;
      ip.more_fragments = off & 1;
      ip.fragment_id = be32(e + 4);
    }
    if (ip.end - at < len) return fail(ParseErrorKind::truncated_extension, at);
    if (next == 43 && e[2] == 0) ip.routing_type0 = true;  // RFC 8200 §4.4: routing type
    next = e[0];
    at += len;
  }
  ip.protocol = next;
  ip.l4 = at;
  return ip;
}

// The tuple of the packet an ICMP error quotes; false if it is too short to tell.
bool parse_quoted(std::span<const std::uint8_t> b, std::size_t base, QuotedTuple* out) {
  auto ip = parse_ip(b, base, true, b.size());
  if (!ip || ip->fragment_offset != 0) return false;
  if (b.size() < ip->l4 + 8) return false;  // RFC 792: IP header + first 64 bits of data
  const std::uint8_t* l4 = b.data() + ip->l4;
  out->protocol = ip->protocol;
  out->src = ip->src;
  out->dst = ip->dst;
  if (ip->protocol == ipproto::tcp || ip->protocol == ipproto::udp) {
    out->src_port = be16(l4);
    out->dst_port = be16(l4 + 2);
  } else if ((ip->protocol == ipproto::icmp || ip->protocol == ipproto::icmpv6) &&
             is_echo(ip->protocol, l4[0])) {
    out->src_port = out->dst_port = be16(l4 + 4);
  }
  return true;
}

// TCP options of a SYN (RFC 7323 §2.2 window scale); stops quietly at anything malformed,
// as the kernel's tcp_options() does.
std::uint8_t window_scale(const std::uint8_t* opt, std::size_t len) {
  std::size_t i = 0;
  while (i < len) {
    const std::uint8_t kind = opt[i];
    if (kind == 0) break;  // end of options
    if (kind == 1) {       // no-op
      ++i;
      continue;
    }
    if (i + 1 >= len) break;
    const std::uint8_t olen = opt[i + 1];
    if (olen < 2 || olen > len - i) break;
    if (kind == 3 && olen == 3) return opt[i + 2] > 14 ? 14 : opt[i + 2];
    i += olen;
  }
  return 0xff;
}

std::expected<void, ParseError> parse_l4(std::span<const std::uint8_t> b, const IpLayer& ip,
                                         PacketView& p) {
  const std::size_t at = ip.l4;
  const std::size_t avail = ip.end > at ? ip.end - at : 0;  // readable
  const std::size_t declared = ip.declared_end > at ? ip.declared_end - at : 0;
  const std::uint8_t* h = b.data() + at;
  p.l4_offset = static_cast<std::uint16_t>(at);
  switch (ip.protocol) {
    case ipproto::tcp: {
      if (avail < 20) return fail(ParseErrorKind::truncated_l4_header, at);
      const std::size_t doff = (h[12] >> 4) * 4u;
      if (doff < 20 || doff > declared) return fail(ParseErrorKind::bad_tcp_data_offset, at + 12);
      p.src_port = be16(h);
      p.dst_port = be16(h + 2);
      if (p.src_port == 0 || p.dst_port == 0) return fail(ParseErrorKind::tcp_port_zero, at);
      p.seq = be32(h + 4);
      p.ack = be32(h + 8);
      p.tcp_flags = h[13];
      p.window = be16(h + 14);
      if (p.tcp_flags & tcpflag::syn)
        p.window_scale = window_scale(h + 20, std::min(doff, avail) - 20);
      p.payload_offset = static_cast<std::uint16_t>(at + doff);
      p.payload_length = static_cast<std::uint32_t>(declared - doff);
      break;
    }
    case ipproto::udp: {
      if (avail < 8) return fail(ParseErrorKind::truncated_l4_header, at);
      const std::size_t len = be16(h + 4);
      if (len < 8 || len > declared) return fail(ParseErrorKind::bad_udp_length, at + 4);
      p.src_port = be16(h);  // 0 is legal: "no port" (RFC 768)
      p.dst_port = be16(h + 2);
      if (p.dst_port == 0) return fail(ParseErrorKind::udp_dst_port_zero, at + 2);
      p.payload_offset = static_cast<std::uint16_t>(at + 8);
      p.payload_length = static_cast<std::uint32_t>(len - 8);
      break;
    }
    case ipproto::icmp:
    case ipproto::icmpv6: {
      if (ip.protocol == ipproto::icmp && ip.family != Family::ipv4) return {};
      if (ip.protocol == ipproto::icmpv6 && ip.family != Family::ipv6) return {};
      if (avail < 8) return fail(ParseErrorKind::truncated_l4_header, at);
      p.icmp_type = h[0];
      p.icmp_code = h[1];
      if (is_echo(ip.protocol, p.icmp_type)) p.src_port = p.dst_port = be16(h + 4);
      p.is_icmp_error = is_icmp_error(ip.protocol, p.icmp_type);
      p.payload_offset = static_cast<std::uint16_t>(at + 8);
      p.payload_length = static_cast<std::uint32_t>(declared - 8);
      if (p.is_icmp_error) {
        p.has_quoted = parse_quoted(b.first(ip.end), at + 8, &p.quoted);
      }
      break;
    }
    default:
      return {};  // unknown L4: addresses only
  }
  p.has_l4 = true;
  return {};
}

}  // namespace

const char* to_string(ParseErrorKind kind) {
  switch (kind) {
    case ParseErrorKind::empty:
      return "empty packet";
    case ParseErrorKind::bad_version:
      return "IP version is neither 4 nor 6";
    case ParseErrorKind::truncated_ip_header:
      return "truncated IP header";
    case ParseErrorKind::bad_ihl:
      return "IPv4 header length below 20 bytes";
    case ParseErrorKind::bad_total_length:
      return "IP length does not match the packet";
    case ParseErrorKind::truncated_extension:
      return "truncated IPv6 extension header";
    case ParseErrorKind::too_many_extensions:
      return "more than 8 IPv6 extension headers";
    case ParseErrorKind::truncated_l4_header:
      return "truncated transport header";
    case ParseErrorKind::bad_tcp_data_offset:
      return "bad TCP data offset";
    case ParseErrorKind::tcp_port_zero:
      return "TCP port 0";
    case ParseErrorKind::bad_udp_length:
      return "bad UDP length";
    case ParseErrorKind::udp_dst_port_zero:
      return "UDP destination port 0";
  }
  return "?";
}

std::string to_string(const ParseError& error) {
  return std::string(to_string(error.kind)) + " at byte " + std::to_string(error.offset);
}

std::expected<PacketView, ParseError> parse_packet(std::span<const std::uint8_t> bytes) {
  return parse_packet(bytes, bytes.size());
}

std::expected<PacketView, ParseError> parse_packet(std::span<const std::uint8_t> bytes,
                                                   std::size_t wire_length) {
  if (bytes.empty()) return fail(ParseErrorKind::empty, 0);
  auto ip = parse_ip(bytes, 0, false, std::max(wire_length, bytes.size()));
  if (!ip) return std::unexpected(ip.error());
  PacketView p;
  p.family = ip->family;
  p.src = ip->src;
  p.dst = ip->dst;
  p.protocol = ip->protocol;
  p.ttl = ip->ttl;
  p.ip_length = ip->ip_length;
  p.is_fragment = ip->is_fragment;
  p.more_fragments = ip->more_fragments;
  p.fragment_offset = ip->fragment_offset;
  p.fragment_id = ip->fragment_id;
  p.routing_type0 = ip->routing_type0;
  // A non-first fragment carries no transport header (RFC 791, RFC 8200 §4.5).
  if (ip->fragment_offset != 0) return p;
  if (auto ok = parse_l4(bytes, *ip, p); !ok) return std::unexpected(ok.error());
  return p;
}

}  // namespace portwall
