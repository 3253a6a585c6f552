// The packet parser on IPv6: the fixed header, the walk over extension headers (RFC 8200 §4)
// and fragments. Fixtures: packet_fixtures.h.
#include <gtest/gtest.h>

#include "packet/packet_parser.h"
#include "packet_fixtures.h"

namespace portwall::test {
namespace {

// An 8-byte destination options header (next header `next`, PadN of 4).
Bytes destination_options(std::uint8_t next) { return {next, 0x00, 0x01, 0x04, 0, 0, 0, 0}; }

TEST(PacketParser, Ipv6TcpFieldByField) {
  auto p = parse(ipv6_syn());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->family, Family::ipv6);
  EXPECT_EQ(to_string(p->src), "2001:db8::9");
  EXPECT_EQ(to_string(p->dst), "2001:db8::1");
  EXPECT_EQ(p->protocol, ipproto::tcp);
  EXPECT_EQ(p->ttl, 64);
  EXPECT_EQ(p->ip_length, 60u);
  EXPECT_FALSE(p->is_fragment);
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->src_port, 40000);
  EXPECT_EQ(p->dst_port, 443);
  EXPECT_EQ(p->tcp_flags, tcpflag::syn);
  EXPECT_EQ(p->seq, 1000u);
  EXPECT_EQ(p->window, 65535);
  EXPECT_EQ(p->window_scale, 0xff);  // a SYN without the option
  EXPECT_EQ(p->l4_offset, 40);
  EXPECT_EQ(p->payload_offset, 60);
  EXPECT_EQ(p->payload_length, 0u);
}

TEST(PacketParser, Ipv6HeaderShorterThanFortyBytesIsTruncated) {
  Bytes b = ipv6_syn();
  b.resize(39);
  EXPECT_EQ(error_of(b), "truncated IP header at byte 0");
}

TEST(PacketParser, Ipv6WalksHopByHopDestinationOptionsAndFragmentHeaders) {
  auto p = parse(ipv6_extensions_udp());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, ipproto::udp);
  EXPECT_EQ(p->ip_length, 40u + 36u);
  EXPECT_TRUE(p->is_fragment);
  EXPECT_TRUE(p->more_fragments);
  EXPECT_EQ(p->fragment_offset, 0u);
  EXPECT_EQ(p->fragment_id, 0xdeadbeefu);
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->l4_offset, 64);
  EXPECT_EQ(p->src_port, 5000);
  EXPECT_EQ(p->dst_port, 53);
  EXPECT_EQ(p->payload_offset, 72);
  EXPECT_EQ(p->payload_length, 4u);
}

TEST(PacketParser, Ipv6LaterFragmentHasNoTransportHeaderAndIsNoError) {
  auto p = parse(ipv6(44, {
                              17, 0x00, 0x05, 0xc8,    // 40: fragment: next UDP, offset 185, no M
                              0x00, 0x00, 0x00, 0x07,  // 44:   identification 7
                              0x00, 0x00, 0x00, 0x00,  // 48: data: would be UDP port 0
                              0x00, 0x00, 0x00, 0x00,  // 52
                          }));
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, ipproto::udp);
  EXPECT_TRUE(p->is_fragment);
  EXPECT_FALSE(p->more_fragments);
  EXPECT_EQ(p->fragment_offset, 1480u);
  EXPECT_EQ(p->fragment_id, 7u);
  EXPECT_FALSE(p->has_l4);
  EXPECT_EQ(p->dst_port, 0);
}

TEST(PacketParser, ExtensionHeaderLongerThanThePacketIsTruncated) {
  EXPECT_EQ(error_of(ipv6(0,
                          {
                              17, 0x01, 0x00, 0x00,    // 40: hop-by-hop: next UDP, length 16
                              0x00, 0x00, 0x00, 0x00,  // 44:   only 8 bytes present
                          })),
            "truncated IPv6 extension header at byte 40");
}

TEST(PacketParser, ExtensionHeaderShorterThanEightBytesIsTruncated) {
  EXPECT_EQ(error_of(ipv6(0,
                          {
                              60, 0x00, 0x01, 0x02,  // 40: hop-by-hop: next dest. options,
                              0x00, 0x00,            // 44:   PadN; 6 bytes in all
                          })),
            "truncated IPv6 extension header at byte 40");
}

TEST(PacketParser, ExtensionHeaderBeyondThePayloadLengthIsTruncated) {
  // The 8 bytes are there, but past the payload length: trailing padding, not the header.
  Bytes b = ipv6(60, destination_options(59));
  b[5] = 0;  // payload length 0
  EXPECT_EQ(error_of(b), "truncated IPv6 extension header at byte 40");
}

TEST(PacketParser, EightExtensionHeadersAreWalked) {
  Bytes payload;
  for (int i = 0; i < 7; ++i) payload = concat(payload, destination_options(60));
  payload = concat(payload, destination_options(59));  // the 8th: no next header
  auto p = parse(ipv6(60, payload));
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, 59);
  EXPECT_EQ(p->l4_offset, 40 + 8 * 8);
}

TEST(PacketParser, NineExtensionHeadersAreTooMany) {
  Bytes payload;
  for (int i = 0; i < 8; ++i) payload = concat(payload, destination_options(60));
  payload = concat(payload, destination_options(59));  // the 9th
  EXPECT_EQ(error_of(ipv6(60, payload)), "more than 8 IPv6 extension headers at byte 104");
}

TEST(PacketParser, Ipv6PayloadLengthBeyondTheBytesIsMalformed) {
  Bytes b = ipv6_syn();
  b[5] = 21;  // one byte more than the 20 present
  EXPECT_EQ(error_of(b), "IP length does not match the packet at byte 4");
}

TEST(PacketParser, Ipv6BytesPastThePayloadLengthAreIgnored) {
  auto p = parse(concat(ipv6_syn(), {0, 0, 0, 0}));  // 4 bytes of link-layer padding
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->ip_length, 60u);
  EXPECT_EQ(p->payload_length, 0u);
}

TEST(PacketParser, Ipv6NoNextHeaderHasNoTransportAndIsNoError) {
  auto p = parse(ipv6(59, {}));
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, 59);
  EXPECT_EQ(p->ip_length, 40u);
  EXPECT_FALSE(p->has_l4);
  EXPECT_EQ(p->dst_port, 0);
}

TEST(PacketParser, RoutingHeaderTypeZeroIsFlaggedWhateverItsSegmentsLeft) {
  for (std::uint8_t segments_left : {1, 0}) {
    auto p = parse(ipv6(43, concat(
                                {
                                    6,    0x02, 0x00, segments_left,  // 40: routing: next TCP,
                                    0x00, 0x00, 0x00, 0x00,           // 44:   length 24, type 0
                                    0xfd, 0x00, 0x00, 0x00,           // 48:   one address,
                                    0x00, 0x00, 0x00, 0x00,           //       fd00::1
                                    0x00, 0x00, 0x00, 0x00,           //
                                    0x00, 0x00, 0x00, 0x01,           //
                                },
                                tcp_syn_443())));  // 64: the TCP SYN
    ASSERT_TRUE(p) << to_string(p.error());
    EXPECT_TRUE(p->routing_type0);
    EXPECT_EQ(p->protocol, ipproto::tcp);
    EXPECT_EQ(p->dst_port, 443);
  }
}

TEST(PacketParser, RoutingHeaderOfAnotherTypeIsNotTypeZero) {
  auto p = parse(ipv6(43, concat({6, 0x00, 0x04, 0x00, 0, 0, 0, 0}, tcp_syn_443())));  // type 4
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_FALSE(p->routing_type0);
}

TEST(PacketParser, Ipv6TcpPortZeroIsMalformedAtItsOffset) {
  Bytes b = ipv6_syn();
  b[42] = b[43] = 0;  // destination port 0
  EXPECT_EQ(error_of(b), "TCP port 0 at byte 40");
}

}  // namespace
}  // namespace portwall::test
