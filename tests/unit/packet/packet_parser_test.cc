// The packet parser: what it reads from valid packets, and how it refuses broken ones.
// Fixtures are byte arrays annotated field by field.
#include "packet/packet_parser.h"

#include <gtest/gtest.h>

#include <vector>

namespace portwall {
namespace {

using Bytes = std::vector<std::uint8_t>;

std::expected<PacketView, ParseError> parse(const Bytes& b) { return parse_packet(b); }
std::string error_of(const Bytes& b) {
  auto r = parse(b);
  return r ? "parsed" : to_string(r.error());
}

// IPv4 + TCP SYN 203.0.113.9:40000 -> 192.0.2.1:22 with options MSS, window scale 7, SACK.
Bytes ipv4_syn() {
  return {
      0x45, 0x00, 0x00, 0x34,  // version 4, IHL 5, TOS, total length 52
      0x12, 0x34, 0x40, 0x00,  // id 0x1234, DF, offset 0
      0x40, 0x06, 0x00, 0x00,  // TTL 64, protocol TCP, checksum (not checked)
      203,  0,    113,  9,     // source 203.0.113.9
      192,  0,    2,    1,     // destination 192.0.2.1
      0x9c, 0x40, 0x00, 0x16,  // source port 40000, destination port 22
      0x00, 0x00, 0x00, 0x64,  // sequence number 100
      0x00, 0x00, 0x00, 0x00,  // acknowledgement 0
      0x80, 0x02, 0xfa, 0xf0,  // data offset 8 (32 bytes), flags SYN, window 64240
      0x00, 0x00, 0x00, 0x00,  // checksum, urgent pointer
      0x02, 0x04, 0x05, 0xb4,  // option MSS 1460
      0x01, 0x03, 0x03, 0x07,  // NOP, window scale 7
      0x01, 0x01, 0x04, 0x02,  // NOP, NOP, SACK permitted
  };
}

// IPv4 + UDP 10.0.0.1:5000 -> 10.0.0.2:53 with 4 payload bytes.
Bytes ipv4_udp() {
  return {
      0x45, 0x00, 0x00, 0x20,  // version 4, IHL 5, total length 32
      0x00, 0x01, 0x00, 0x00,  // id 1, no flags
      0x40, 0x11, 0x00, 0x00,  // TTL 64, protocol UDP
      10,   0,    0,    1,     // source
      10,   0,    0,    2,     // destination
      0x13, 0x88, 0x00, 0x35,  // source port 5000, destination port 53
      0x00, 0x0c, 0x00, 0x00,  // UDP length 12, checksum
      'a',  'b',  'c',  'd',   // payload
  };
}

// IPv6 header (40 bytes) 2001:db8::9 -> 2001:db8::1 with the given next header and payload.
Bytes ipv6(std::uint8_t next, const Bytes& payload) {
  Bytes b = {
      0x60,
      0x00,
      0x00,
      0x00,  // version 6, traffic class, flow label
      static_cast<std::uint8_t>(payload.size() >> 8),
      static_cast<std::uint8_t>(payload.size()),
      next,
      0x40,  // payload length, next header, hop limit 64
      0x20,
      0x01,
      0x0d,
      0xb8,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0x09,  // source 2001:db8::9
      0x20,
      0x01,
      0x0d,
      0xb8,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0x01,  // destination 2001:db8::1
  };
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

Bytes tcp_header(std::uint16_t sport, std::uint16_t dport, std::uint8_t flags) {
  return {static_cast<std::uint8_t>(sport >> 8),
          static_cast<std::uint8_t>(sport),
          static_cast<std::uint8_t>(dport >> 8),
          static_cast<std::uint8_t>(dport),
          0,
          0,
          0,
          1,  // sequence 1
          0,
          0,
          0,
          0,  // acknowledgement
          0x50,
          flags,
          0x10,
          0,  // data offset 5, flags, window 4096
          0,
          0,
          0,
          0};  // checksum, urgent
}

TEST(PacketParser, Ipv4TcpSynFieldByField) {
  auto p = parse(ipv4_syn());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->family, Family::ipv4);
  EXPECT_EQ(to_string(p->src), "203.0.113.9");
  EXPECT_EQ(to_string(p->dst), "192.0.2.1");
  EXPECT_EQ(p->protocol, ipproto::tcp);
  EXPECT_EQ(p->ttl, 64);
  EXPECT_EQ(p->ip_length, 52u);
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->src_port, 40000);
  EXPECT_EQ(p->dst_port, 22);
  EXPECT_EQ(p->tcp_flags, tcpflag::syn);
  EXPECT_EQ(p->seq, 100u);
  EXPECT_EQ(p->window, 64240);
  EXPECT_EQ(p->window_scale, 7);
  EXPECT_EQ(p->l4_offset, 20);
  EXPECT_EQ(p->payload_offset, 52);
  EXPECT_EQ(p->payload_length, 0u);
  EXPECT_FALSE(p->is_fragment);
}

TEST(PacketParser, EthernetPaddingAfterTheDatagramIsIgnored) {
  Bytes b = ipv4_udp();
  b.insert(b.end(), {0, 0, 0, 0, 0, 0});
  auto p = parse(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->payload_length, 4u);
}

TEST(PacketParser, EmptyPacketIsMalformed) { EXPECT_EQ(error_of({}), "empty packet at byte 0"); }

TEST(PacketParser, VersionNeitherFourNorSixIsMalformed) {
  Bytes b = ipv4_udp();
  b[0] = 0x55;
  EXPECT_EQ(error_of(b), "IP version is neither 4 nor 6 at byte 0");
}

TEST(PacketParser, ShortIpv4HeaderIsTruncated) {
  EXPECT_EQ(error_of({0x45, 0, 0, 20, 0, 0}), "truncated IP header at byte 0");
}

TEST(PacketParser, Ipv4HeaderLengthBelowTwentyIsMalformed) {
  Bytes b = ipv4_udp();
  b[0] = 0x44;
  EXPECT_EQ(error_of(b), "IPv4 header length below 20 bytes at byte 0");
}

TEST(PacketParser, Ipv4TotalLengthBeyondTheBytesIsMalformed) {
  Bytes b = ipv4_udp();
  b[3] = 0x40;  // 64 > 32 bytes present
  EXPECT_EQ(error_of(b), "IP length does not match the packet at byte 2");
}

TEST(PacketParser, Ipv4TotalLengthBelowTheHeaderIsMalformed) {
  Bytes b = ipv4_udp();
  b[3] = 0x10;  // 16 < IHL*4
  EXPECT_EQ(error_of(b), "IP length does not match the packet at byte 2");
}

TEST(PacketParser, Ipv4OptionsAreSkippedByHeaderLength) {
  Bytes b = ipv4_udp();
  b[0] = 0x46;                                         // IHL 6: one word of options
  b.insert(b.begin() + 20, {0x01, 0x01, 0x01, 0x00});  // NOP NOP NOP EOL
  b[3] = 36;
  auto p = parse(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->l4_offset, 24);
  EXPECT_EQ(p->dst_port, 53);
}

TEST(PacketParser, Ipv4FirstFragmentCarriesPorts) {
  Bytes b = ipv4_udp();
  b[6] = 0x20;  // MF, offset 0
  auto p = parse(b);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->is_fragment);
  EXPECT_TRUE(p->more_fragments);
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->dst_port, 53);
}

TEST(PacketParser, Ipv4LaterFragmentHasNoTransportHeaderAndIsNoError) {
  Bytes b = ipv4_udp();
  b[6] = 0x00;
  b[7] = 0xb9;  // offset 185 * 8 = 1480
  auto p = parse(b);
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->is_fragment);
  EXPECT_EQ(p->fragment_offset, 1480u);
  EXPECT_FALSE(p->has_l4);
  EXPECT_EQ(p->dst_port, 0);
}

TEST(PacketParser, CaptureShorterThanTheDatagramParsesWithTheWireLength) {
  Bytes b = ipv4_syn();
  b[2] = 0x04;  // total length 1076: 1024 bytes of payload that the copy range cut off
  b[3] = 0x34;
  EXPECT_EQ(error_of(b), "IP length does not match the packet at byte 2");
  auto p = parse_packet(b, 1076);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->ip_length, 1076u);
  EXPECT_EQ(p->payload_length, 1024u);
  EXPECT_EQ(p->window_scale, 7);
}

TEST(PacketParser, ShortTcpHeaderIsTruncated) {
  Bytes b = ipv4_syn();
  b.resize(30);
  b[3] = 30;
  EXPECT_EQ(error_of(b), "truncated transport header at byte 20");
}

TEST(PacketParser, TcpDataOffsetBelowFiveIsMalformed) {
  Bytes b = ipv4_syn();
  b[32] = 0x40;
  EXPECT_EQ(error_of(b), "bad TCP data offset at byte 32");
}

TEST(PacketParser, TcpDataOffsetPastTheSegmentIsMalformed) {
  Bytes b = ipv4_syn();
  b[32] = 0xf0;  // 60 bytes of header in a 32-byte segment
  EXPECT_EQ(error_of(b), "bad TCP data offset at byte 32");
}

TEST(PacketParser, TcpPortZeroIsMalformed) {
  Bytes b = ipv4_syn();
  b[22] = b[23] = 0;  // destination port 0
  EXPECT_EQ(error_of(b), "TCP port 0 at byte 20");
  b = ipv4_syn();
  b[20] = b[21] = 0;  // source port 0
  EXPECT_EQ(error_of(b), "TCP port 0 at byte 20");
}

TEST(PacketParser, BrokenTcpOptionsStopQuietly) {
  Bytes b = ipv4_syn();
  b[41] = 0x00;  // MSS option length 0: parsing stops, as the kernel's tcp_options()
  auto p = parse(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->window_scale, 0xff);
}

TEST(PacketParser, WindowScaleIsClampedToFourteen) {
  Bytes b = ipv4_syn();
  b[47] = 20;  // the window scale's shift count
  auto p = parse(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->window_scale, 14);  // RFC 7323 §2.3
}

TEST(PacketParser, UdpFieldByField) {
  auto p = parse(ipv4_udp());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->protocol, ipproto::udp);
  EXPECT_EQ(p->src_port, 5000);
  EXPECT_EQ(p->dst_port, 53);
  EXPECT_EQ(p->payload_offset, 28);
  EXPECT_EQ(p->payload_length, 4u);
}

TEST(PacketParser, UdpSourcePortZeroMeansNoPortAndIsLegal) {
  Bytes b = ipv4_udp();
  b[20] = b[21] = 0;
  auto p = parse(b);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->src_port, 0);
}

TEST(PacketParser, UdpDestinationPortZeroIsMalformed) {
  Bytes b = ipv4_udp();
  b[22] = b[23] = 0;
  EXPECT_EQ(error_of(b), "UDP destination port 0 at byte 22");
}

TEST(PacketParser, UdpLengthOutsideItsDatagramIsMalformed) {
  Bytes b = ipv4_udp();
  b[25] = 7;  // below the 8-byte header
  EXPECT_EQ(error_of(b), "bad UDP length at byte 24");
  b[25] = 13;  // one byte more than present
  EXPECT_EQ(error_of(b), "bad UDP length at byte 24");
}

Bytes ipv4_icmp(const Bytes& icmp) {
  Bytes b = {0x45, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x01, 0, 0, 192, 0, 2, 1, 203, 0, 113, 9};
  b.insert(b.end(), icmp.begin(), icmp.end());
  b[3] = static_cast<std::uint8_t>(b.size());
  return b;
}

TEST(PacketParser, IcmpEchoCarriesItsIdentifierAsBothPorts) {
  auto p = parse(ipv4_icmp({8, 0, 0, 0, 0x12, 0x34, 0, 1}));  // echo request, id 0x1234, seq 1
  ASSERT_TRUE(p);
  EXPECT_EQ(p->icmp_type, 8);
  EXPECT_EQ(p->src_port, 0x1234);
  EXPECT_EQ(p->dst_port, 0x1234);
  EXPECT_FALSE(p->is_icmp_error);
}

TEST(PacketParser, IcmpPortUnreachableQuotesTheUdpPacket) {
  // 192.0.2.1 tells 203.0.113.9 that its UDP 10.0.0.1:5000 -> 10.0.0.2:53 did not arrive.
  Bytes icmp = {3, 3, 0, 0, 0, 0, 0, 0};  // type 3 code 3, checksum, unused
  Bytes quoted = ipv4_udp();
  icmp.insert(icmp.end(), quoted.begin(), quoted.begin() + 28);  // IP header + 8 bytes
  auto p = parse(ipv4_icmp(icmp));
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_TRUE(p->is_icmp_error);
  ASSERT_TRUE(p->has_quoted);
  EXPECT_EQ(p->quoted.protocol, ipproto::udp);
  EXPECT_EQ(to_string(p->quoted.src), "10.0.0.1");
  EXPECT_EQ(to_string(p->quoted.dst), "10.0.0.2");
  EXPECT_EQ(p->quoted.src_port, 5000);
  EXPECT_EQ(p->quoted.dst_port, 53);
}

TEST(PacketParser, IcmpErrorWithAShortQuoteParsesWithoutTheQuote) {
  Bytes icmp = {11, 0, 0, 0, 0, 0, 0, 0};  // time exceeded
  Bytes quoted = ipv4_udp();
  icmp.insert(icmp.end(), quoted.begin(), quoted.begin() + 22);  // header + 2 bytes only
  auto p = parse(ipv4_icmp(icmp));
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->is_icmp_error);
  EXPECT_FALSE(p->has_quoted);
}

TEST(PacketParser, ShortIcmpHeaderIsTruncated) {
  EXPECT_EQ(error_of(ipv4_icmp({8, 0, 0, 0})), "truncated transport header at byte 20");
}

TEST(PacketParser, Ipv6TcpFieldByField) {
  auto p = parse(ipv6(ipproto::tcp, tcp_header(40000, 443, tcpflag::syn)));
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->family, Family::ipv6);
  EXPECT_EQ(to_string(p->src), "2001:db8::9");
  EXPECT_EQ(to_string(p->dst), "2001:db8::1");
  EXPECT_EQ(p->ttl, 64);
  EXPECT_EQ(p->ip_length, 60u);
  EXPECT_EQ(p->dst_port, 443);
  EXPECT_EQ(p->l4_offset, 40);
}

TEST(PacketParser, Ipv6WalksExtensionHeadersToTheTransport) {
  Bytes payload = {
      60,           0, 1,    4,    0, 0, 0,    0,     // hop-by-hop: next dest-opts, len 0, PadN
      44,           0, 1,    4,    0, 0, 0,    0,     // destination options: next fragment, PadN
      ipproto::udp, 0, 0x00, 0x01, 0, 0, 0x2a, 0x2a,  // fragment: next UDP, offset 0, M, id
  };
  const Bytes udp = {0x13, 0x88, 0x00, 0x35, 0x00, 0x08, 0, 0};  // 5000 -> 53, length 8
  payload.insert(payload.end(), udp.begin(), udp.end());
  auto p = parse(ipv6(0, payload));
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, ipproto::udp);
  EXPECT_TRUE(p->is_fragment);
  EXPECT_TRUE(p->more_fragments);
  EXPECT_EQ(p->fragment_id, 0x2a2au);
  EXPECT_EQ(p->l4_offset, 64);
  EXPECT_EQ(p->dst_port, 53);
}

TEST(PacketParser, Ipv6LaterFragmentHasNoTransportHeader) {
  const Bytes payload = {ipproto::udp,
                         0,
                         0x05,
                         0xc8,
                         0,
                         0,
                         0,
                         1,  // offset 185, no M
                         1,
                         2,
                         3,
                         4,
                         5,
                         6,
                         7,
                         8};
  auto p = parse(ipv6(44, payload));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->fragment_offset, 1480u);
  EXPECT_FALSE(p->has_l4);
}

TEST(PacketParser, TruncatedExtensionHeaderIsMalformed) {
  EXPECT_EQ(error_of(ipv6(0, {ipproto::udp, 1, 0, 0, 0, 0, 0, 0})),  // says 16 bytes, has 8
            "truncated IPv6 extension header at byte 40");
}

TEST(PacketParser, MoreThanEightExtensionHeadersAreRefused) {
  Bytes payload;
  for (int i = 0; i < 9; ++i) payload.insert(payload.end(), {60, 0, 1, 4, 0, 0, 0, 0});
  EXPECT_EQ(error_of(ipv6(60, payload)), "more than 8 IPv6 extension headers at byte 104");
}

TEST(PacketParser, Ipv6PayloadLengthBeyondTheBytesIsMalformed) {
  Bytes b = ipv6(ipproto::tcp, tcp_header(1, 2, tcpflag::ack));
  b[5] = 21;
  EXPECT_EQ(error_of(b), "IP length does not match the packet at byte 4");
}

TEST(PacketParser, Ipv6NoNextHeaderHasNoTransport) {
  auto p = parse(ipv6(59, {}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->protocol, 59);
  EXPECT_FALSE(p->has_l4);
}

TEST(PacketParser, Icmpv6UnreachableQuotesTheIpv6TcpPacket) {
  Bytes icmp = {1, 4, 0, 0, 0, 0, 0, 0};  // destination unreachable, port unreachable
  const Bytes quoted = ipv6(ipproto::tcp, tcp_header(40000, 8080, tcpflag::syn));
  icmp.insert(icmp.end(), quoted.begin(), quoted.end());
  auto p = parse(ipv6(ipproto::icmpv6, icmp));
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_TRUE(p->is_icmp_error);
  ASSERT_TRUE(p->has_quoted);
  EXPECT_EQ(p->quoted.protocol, ipproto::tcp);
  EXPECT_EQ(p->quoted.src_port, 40000);
  EXPECT_EQ(p->quoted.dst_port, 8080);
}

TEST(PacketParser, Icmpv6EchoReplyCarriesItsIdentifier) {
  auto p = parse(ipv6(ipproto::icmpv6, {129, 0, 0, 0, 0x00, 0x2a, 0, 7}));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->icmp_type, 129);
  EXPECT_EQ(p->src_port, 42);
}

// Every truncation and many mutations of every fixture: the parser answers, never reads past
// the end (ASan in the fuzz build), and never claims a payload beyond the bytes.
TEST(PacketParser, TruncatedAndMutatedInputsNeverOverrun) {
  std::vector<Bytes> fixtures = {ipv4_syn(), ipv4_udp(),
                                 ipv6(ipproto::tcp, tcp_header(1, 2, tcpflag::syn)),
                                 ipv4_icmp({8, 0, 0, 0, 0, 1, 0, 1})};
  std::uint32_t state = 12345;
  auto next = [&state] { return state = state * 1664525u + 1013904223u; };
  std::size_t parsed = 0;
  for (const Bytes& f : fixtures) {
    for (std::size_t n = 0; n <= f.size(); ++n) {
      auto p = parse_packet(std::span(f.data(), n));
      if (p) {
        EXPECT_LE(p->payload_offset + p->payload_length, n);
      }
    }
    for (int i = 0; i < 5000; ++i) {
      Bytes m = f;
      for (int k = 0; k < 3; ++k) m[next() % m.size()] = static_cast<std::uint8_t>(next());
      auto p = parse(m);
      if (p) {
        ++parsed;
        EXPECT_LE(p->payload_offset + p->payload_length, m.size());
      }
    }
  }
  EXPECT_GT(parsed, 0u);
}

}  // namespace
}  // namespace portwall
