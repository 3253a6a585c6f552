// The packet parser on IPv4, TCP and UDP: what it reads from valid packets, and how it refuses
// broken ones, with the verbatim message and byte offset. Fixtures: packet_fixtures.h.
#include <gtest/gtest.h>

#include "packet/packet_parser.h"
#include "packet_fixtures.h"

namespace portwall::test {
namespace {

TEST(PacketParser, Ipv4TcpSynFieldByField) {
  auto p = parse(ipv4_syn());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->family, Family::ipv4);
  EXPECT_EQ(to_string(p->src), "203.0.113.9");
  EXPECT_EQ(to_string(p->dst), "192.0.2.1");
  EXPECT_EQ(p->protocol, ipproto::tcp);
  EXPECT_EQ(p->ttl, 64);
  EXPECT_EQ(p->ip_length, 52u);
  EXPECT_FALSE(p->is_fragment);
  EXPECT_FALSE(p->more_fragments);
  EXPECT_EQ(p->fragment_id, 0x1234u);
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->src_port, 40000);
  EXPECT_EQ(p->dst_port, 22);
  EXPECT_EQ(p->tcp_flags, tcpflag::syn);
  EXPECT_EQ(p->seq, 100u);
  EXPECT_EQ(p->ack, 0u);
  EXPECT_EQ(p->window, 64240);
  EXPECT_EQ(p->window_scale, 7);
  EXPECT_EQ(p->l4_offset, 20);
  EXPECT_EQ(p->payload_offset, 52);
  EXPECT_EQ(p->payload_length, 0u);
  EXPECT_FALSE(p->is_icmp_error);
}

TEST(PacketParser, Ipv4TcpDataSegmentFieldByField) {
  auto p = parse(ipv4_tcp_data());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->ip_length, 45u);
  EXPECT_EQ(p->tcp_flags, tcpflag::psh | tcpflag::ack);
  EXPECT_EQ(p->seq, 101u);
  EXPECT_EQ(p->ack, 0x01020304u);
  EXPECT_EQ(p->window, 502);
  EXPECT_EQ(p->window_scale, 0xff);  // no SYN, no option
  EXPECT_EQ(p->payload_offset, 40);
  EXPECT_EQ(p->payload_length, 5u);
}

TEST(PacketParser, EthernetPaddingAfterTheDatagramIsIgnored) {
  auto p = parse(concat(ipv4_tcp_data(), {0, 0, 0, 0, 0, 0}));  // 6 bytes of link-layer padding
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->ip_length, 45u);
  EXPECT_EQ(p->payload_offset, 40);
  EXPECT_EQ(p->payload_length, 5u);
}

TEST(PacketParser, EmptyInputIsMalformed) { EXPECT_EQ(error_of({}), "empty packet at byte 0"); }

TEST(PacketParser, VersionNeitherFourNorSixIsMalformed) {
  Bytes b = ipv4_udp();
  b[0] = 0x55;  // version 5
  EXPECT_EQ(error_of(b), "IP version is neither 4 nor 6 at byte 0");
}

TEST(PacketParser, Ipv4HeaderShorterThanTwentyBytesIsTruncated) {
  Bytes b = ipv4_udp();
  b.resize(19);
  EXPECT_EQ(error_of(b), "truncated IP header at byte 0");
}

TEST(PacketParser, Ipv4HeaderLongerThanTheBytesIsTruncated) {
  Bytes b = ipv4_udp();
  b[0] = 0x4f;  // IHL 15: 60 bytes of header in a 32-byte packet
  EXPECT_EQ(error_of(b), "truncated IP header at byte 0");
}

TEST(PacketParser, Ipv4HeaderLengthBelowFiveWordsIsMalformed) {
  Bytes b = ipv4_udp();
  b[0] = 0x44;  // IHL 4
  EXPECT_EQ(error_of(b), "IPv4 header length below 20 bytes at byte 0");
}

TEST(PacketParser, Ipv4TotalLengthBeyondTheBytesIsMalformed) {
  Bytes b = ipv4_udp();
  b[3] = 33;  // one byte more than the 32 present
  EXPECT_EQ(error_of(b), "IP length does not match the packet at byte 2");
}

TEST(PacketParser, Ipv4TotalLengthBelowTheHeaderIsMalformed) {
  Bytes b = ipv4_udp();
  b[3] = 19;  // below IHL * 4 = 20
  EXPECT_EQ(error_of(b), "IP length does not match the packet at byte 2");
}

TEST(PacketParser, Ipv4OptionsAreSkippedByTheHeaderLength) {
  Bytes b = ipv4_udp();
  b[0] = 0x46;                                         // IHL 6: one word of options
  b[3] = 36;                                           // total length 36
  b.insert(b.begin() + 20, {0x01, 0x01, 0x01, 0x00});  // 20: NOP, NOP, NOP, end of options
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->l4_offset, 24);
  EXPECT_EQ(p->dst_port, 53);
  EXPECT_EQ(p->payload_offset, 32);
}

TEST(PacketParser, Ipv4FirstFragmentCarriesTheTransportHeader) {
  Bytes b = ipv4_syn();
  b[6] = 0x20;  // MF, offset 0
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_TRUE(p->is_fragment);
  EXPECT_TRUE(p->more_fragments);
  EXPECT_EQ(p->fragment_offset, 0u);
  EXPECT_EQ(p->fragment_id, 0x1234u);
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->src_port, 40000);
  EXPECT_EQ(p->dst_port, 22);
}

TEST(PacketParser, Ipv4LaterFragmentHasNoTransportHeaderAndIsNoError) {
  Bytes b = ipv4_udp();
  b[6] = 0x00;        // no MF: the last fragment
  b[7] = 0xb9;        // offset 185 * 8 = 1480
  b[22] = b[23] = 0;  // what would be a UDP destination port 0 is just data here
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_TRUE(p->is_fragment);
  EXPECT_FALSE(p->more_fragments);
  EXPECT_EQ(p->fragment_offset, 1480u);
  EXPECT_EQ(p->fragment_id, 1u);
  EXPECT_EQ(p->protocol, ipproto::udp);
  EXPECT_FALSE(p->has_l4);
  EXPECT_EQ(p->src_port, 0);
  EXPECT_EQ(p->dst_port, 0);
}

TEST(PacketParser, CaptureShorterThanTheDatagramIsCheckedAgainstTheWireLength) {
  Bytes b = ipv4_syn();
  b[2] = 0x04;  // total length 1076: 1024 bytes of payload the copy range cut off
  b[3] = 0x34;
  EXPECT_EQ(error_of(b), "IP length does not match the packet at byte 2");
  auto p = parse_packet(b, 1076);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->ip_length, 1076u);
  EXPECT_EQ(p->payload_offset, 52);
  EXPECT_EQ(p->payload_length, 1024u);
  EXPECT_EQ(p->window_scale, 7);
}

TEST(PacketParser, TcpHeaderShorterThanTwentyBytesIsTruncated) {
  Bytes b = ipv4_syn();
  b.resize(30);  // 10 bytes of TCP header
  b[3] = 30;     // total length 30
  EXPECT_EQ(error_of(b), "truncated transport header at byte 20");
}

TEST(PacketParser, TcpDataOffsetBelowFiveIsMalformed) {
  Bytes b = ipv4_syn();
  b[32] = 0x40;  // data offset 4
  EXPECT_EQ(error_of(b), "bad TCP data offset at byte 32");
}

TEST(PacketParser, TcpDataOffsetBeyondTheSegmentIsMalformed) {
  Bytes b = ipv4_syn();
  b[32] = 0x90;  // data offset 9: 36 bytes of header in a 32-byte segment
  EXPECT_EQ(error_of(b), "bad TCP data offset at byte 32");
}

TEST(PacketParser, TcpSourcePortZeroIsMalformed) {
  Bytes b = ipv4_syn();
  b[20] = b[21] = 0;
  EXPECT_EQ(error_of(b), "TCP port 0 at byte 20");
}

TEST(PacketParser, TcpPortZeroIsMalformed) {
  Bytes b = ipv4_syn();
  b[22] = b[23] = 0;  // destination port 0
  EXPECT_EQ(error_of(b), "TCP port 0 at byte 20");
}

TEST(PacketParser, MalformedTcpOptionStopsTheOptionsButNotTheParse) {
  Bytes b = ipv4_syn();
  b[41] = 0x00;  // MSS option length 0: the walk stops there, as the kernel's tcp_options()
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->window_scale, 0xff);
  EXPECT_EQ(p->dst_port, 22);
}

TEST(PacketParser, TcpOptionRunningPastTheHeaderStopsTheOptions) {
  Bytes b = ipv4_syn();
  b[41] = 0x28;  // MSS option length 40: past the 12 bytes of options
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->window_scale, 0xff);
}

TEST(PacketParser, WindowScaleWithTheWrongLengthIsIgnored) {
  Bytes b = ipv4_syn();
  b[46] = 0x02;  // window scale length 2; the next "option" (7) has length 1: the walk stops
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->window_scale, 0xff);
}

TEST(PacketParser, WindowScaleIsClampedToFourteen) {
  Bytes b = ipv4_syn();
  b[47] = 20;  // shift count 20
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->window_scale, 14);  // RFC 7323 §2.3
}

TEST(PacketParser, WindowScaleIsReadOnlyFromASyn) {
  Bytes b = ipv4_syn();
  b[33] = tcpflag::ack;  // the same options on a bare ACK
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->window_scale, 0xff);
}

TEST(PacketParser, UdpFieldByField) {
  auto p = parse(ipv4_udp());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, ipproto::udp);
  EXPECT_EQ(to_string(p->src), "203.0.113.9");
  EXPECT_EQ(to_string(p->dst), "192.0.2.1");
  EXPECT_EQ(p->ip_length, 32u);
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->src_port, 5000);
  EXPECT_EQ(p->dst_port, 53);
  EXPECT_EQ(p->l4_offset, 20);
  EXPECT_EQ(p->payload_offset, 28);
  EXPECT_EQ(p->payload_length, 4u);
  EXPECT_EQ(p->window_scale, 0xff);
}

TEST(PacketParser, UdpLengthShorterThanTheDatagramStatesThePayload) {
  Bytes b = ipv4_udp();
  b[25] = 10;  // UDP length 10: 2 payload bytes; the other 2 are padding
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->payload_length, 2u);
}

TEST(PacketParser, UdpSourcePortZeroMeansNoPortAndIsLegal) {
  Bytes b = ipv4_udp();
  b[20] = b[21] = 0;  // RFC 768: source port 0 when no reply is expected
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->src_port, 0);
  EXPECT_EQ(p->dst_port, 53);
}

TEST(PacketParser, UdpDestinationPortZeroIsMalformed) {
  Bytes b = ipv4_udp();
  b[22] = b[23] = 0;
  EXPECT_EQ(error_of(b), "UDP destination port 0 at byte 22");
}

TEST(PacketParser, UdpLengthBelowItsHeaderIsMalformed) {
  Bytes b = ipv4_udp();
  b[25] = 7;
  EXPECT_EQ(error_of(b), "bad UDP length at byte 24");
}

TEST(PacketParser, UdpLengthBeyondTheBytesIsMalformed) {
  Bytes b = ipv4_udp();
  b[25] = 13;  // one byte more than the 12 present
  EXPECT_EQ(error_of(b), "bad UDP length at byte 24");
}

TEST(PacketParser, UdpHeaderShorterThanEightBytesIsTruncated) {
  Bytes b = ipv4_udp();
  b.resize(27);
  b[3] = 27;  // total length 27: 7 bytes of UDP header
  EXPECT_EQ(error_of(b), "truncated transport header at byte 20");
}

TEST(PacketParser, UnknownTransportGivesAddressesOnly) {
  Bytes b = ipv4_udp();
  b[9] = 47;  // GRE
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, 47);
  EXPECT_EQ(to_string(p->dst), "192.0.2.1");
  EXPECT_FALSE(p->has_l4);
  EXPECT_EQ(p->dst_port, 0);
}

}  // namespace
}  // namespace portwall::test
