// The packet parser on ICMP and ICMPv6: echo identifiers, and the tuple an error message quotes
// (RFC 792, RFC 4443 §2.4 c). Fixtures: packet_fixtures.h.
#include <gtest/gtest.h>

#include "packet/packet_parser.h"
#include "packet_fixtures.h"

namespace portwall::test {
namespace {

TEST(PacketParser, IcmpEchoRequestCarriesItsIdentifierAsBothPorts) {
  auto p = parse(ipv4_icmp_echo());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, ipproto::icmp);
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->icmp_type, 8);
  EXPECT_EQ(p->icmp_code, 0);
  EXPECT_EQ(p->src_port, 0x1234);
  EXPECT_EQ(p->dst_port, 0x1234);
  EXPECT_FALSE(p->is_icmp_error);
  EXPECT_FALSE(p->has_quoted);
  EXPECT_EQ(p->l4_offset, 20);
  EXPECT_EQ(p->payload_offset, 28);
  EXPECT_EQ(p->payload_length, 4u);
}

TEST(PacketParser, IcmpHeaderShorterThanEightBytesIsTruncated) {
  Bytes b = ipv4_icmp_echo();
  b.resize(24);
  b[3] = 24;  // total length 24: 4 bytes of ICMP
  EXPECT_EQ(error_of(b), "truncated transport header at byte 20");
}

TEST(PacketParser, IcmpPortUnreachableQuotesTheUdpPacket) {
  auto p = parse(ipv4_port_unreachable());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(to_string(p->src), "192.0.2.1");
  EXPECT_EQ(to_string(p->dst), "203.0.113.9");
  EXPECT_EQ(p->icmp_type, 3);
  EXPECT_EQ(p->icmp_code, 3);
  EXPECT_EQ(p->src_port, 0);  // not an echo: no identifier
  EXPECT_TRUE(p->is_icmp_error);
  ASSERT_TRUE(p->has_quoted);
  EXPECT_EQ(p->quoted.protocol, ipproto::udp);
  EXPECT_EQ(to_string(p->quoted.src), "203.0.113.9");
  EXPECT_EQ(to_string(p->quoted.dst), "192.0.2.1");
  EXPECT_EQ(p->quoted.src_port, 5000);
  EXPECT_EQ(p->quoted.dst_port, 53);
  EXPECT_EQ(p->payload_offset, 28);
  EXPECT_EQ(p->payload_length, 28u);
}

TEST(PacketParser, IcmpErrorWithAQuoteTooShortForPortsParsesWithoutTheQuote) {
  Bytes b = ipv4_port_unreachable();
  b.resize(52);  // the quoted IPv4 header and 4 bytes of UDP, not the 8 RFC 792 asks for
  b[3] = 52;
  b[20] = 11;  // time exceeded
  b[21] = 0;
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->icmp_type, 11);
  EXPECT_TRUE(p->is_icmp_error);
  EXPECT_FALSE(p->has_quoted);
  EXPECT_EQ(p->quoted.protocol, 0);
  EXPECT_EQ(p->quoted.src_port, 0);
}

TEST(PacketParser, IcmpErrorQuotingGarbageParsesWithoutTheQuote) {
  Bytes b = ipv4_port_unreachable();
  b[28] = 0x75;  // quoted version 7
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_TRUE(p->is_icmp_error);
  EXPECT_FALSE(p->has_quoted);
}

TEST(PacketParser, IcmpErrorQuotesAnEchoByItsIdentifier) {
  Bytes b = ipv4_port_unreachable();
  b[37] = ipproto::icmp;  // the quoted packet is an echo request, id 0x0102
  b[48] = 8;              // type 8, code 0
  b[49] = 0;
  b[52] = 0x01;
  b[53] = 0x02;
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  ASSERT_TRUE(p->has_quoted);
  EXPECT_EQ(p->quoted.protocol, ipproto::icmp);
  EXPECT_EQ(p->quoted.src_port, 0x0102);
  EXPECT_EQ(p->quoted.dst_port, 0x0102);
}

TEST(PacketParser, Icmpv6EchoRequestCarriesItsIdentifierAsBothPorts) {
  auto p = parse(ipv6_icmp_echo());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->family, Family::ipv6);
  EXPECT_EQ(p->protocol, ipproto::icmpv6);
  EXPECT_TRUE(p->has_l4);
  EXPECT_EQ(p->icmp_type, 128);
  EXPECT_EQ(p->src_port, 42);
  EXPECT_EQ(p->dst_port, 42);
  EXPECT_FALSE(p->is_icmp_error);
  EXPECT_EQ(p->payload_offset, 48);
  EXPECT_EQ(p->payload_length, 4u);
}

TEST(PacketParser, Icmpv6UnreachableQuotesTheIpv6TcpPacket) {
  auto p = parse(ipv6_port_unreachable());
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(to_string(p->src), "2001:db8::1");
  EXPECT_EQ(to_string(p->dst), "2001:db8::9");
  EXPECT_EQ(p->icmp_type, 1);
  EXPECT_EQ(p->icmp_code, 4);
  EXPECT_TRUE(p->is_icmp_error);
  ASSERT_TRUE(p->has_quoted);
  EXPECT_EQ(p->quoted.protocol, ipproto::tcp);
  EXPECT_EQ(to_string(p->quoted.src), "2001:db8::9");
  EXPECT_EQ(to_string(p->quoted.dst), "2001:db8::1");
  EXPECT_EQ(p->quoted.src_port, 40000);
  EXPECT_EQ(p->quoted.dst_port, 443);
}

TEST(PacketParser, IcmpOverTheWrongIpVersionGivesAddressesOnly) {
  Bytes b = ipv4_icmp_echo();
  b[9] = ipproto::icmpv6;  // ICMPv6 inside IPv4
  auto p = parse(b);
  ASSERT_TRUE(p) << to_string(p.error());
  EXPECT_EQ(p->protocol, ipproto::icmpv6);
  EXPECT_FALSE(p->has_l4);
  EXPECT_EQ(p->icmp_type, 0);
}

}  // namespace
}  // namespace portwall::test
