// The kernel's socket tables, recorded from a namespace with listeners on wildcard and specific
// IPv4 and IPv6 addresses, a connected UDP socket and an established TCP connection.
#include "exposure/listening_sockets.h"

#include <gtest/gtest.h>

namespace portwall {
namespace {

constexpr const char* kTcp =
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode\n"
    "   0: 0109C80A:C17B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "57228591 1 000000004af1cb86 100 0 0 10 0\n"
    "   1: 0100007F:0277 00000000:0000 0A 00000000:00000001 00:00000000 00000000     0        0 "
    "57228585 2 0000000086d52c74 100 0 0 10 0\n"
    "   2: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 "
    "57228584 1 000000008cf03b85 100 0 0 10 0\n"
    "   3: 0100007F:E980 0100007F:0277 01 00000000:00000000 00:00000000 00000000     0        0 "
    "57228592 2 000000008e564fb5 20 0 0 10 -1\n"
    "   4: 0100007F:0277 0100007F:E980 01 00000000:00000000 00:00000000 00000000     0        0 0 "
    "1 0000000054690038 20 0 0 10 -1\n";

constexpr const char* kTcp6 =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
    "   0: 000200FD000001000000000001000000:20FB 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000     0        0 57228587 1 000000004d1ee413 100 0 0 10 "
    "0\n"
    "   1: 00000000000000000000000000000000:0050 00000000000000000000000000000000:0000 0A "
    "00000000:00000000 00:00000000 00000000  1000        0 57228586 1 0000000092019c16 100 0 0 10 "
    "0\n";

constexpr const char* kUdp =
    "   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout "
    "inode ref pointer drops\n"
    " 3688: 0109C80A:9C40 0109C80A:0035 01 00000000:00000000 00:00000000 00000000     0        0 "
    "57228590 2 0000000025923b02 0\n"
    "12893: 0109C80A:0035 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 "
    "57228588 2 00000000425910bd 0\n";

constexpr const char* kUdp6 =
    "  sl  local_address                         remote_address                        st "
    "tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops\n"
    " 1809: 00000000000000000000000000000000:14E9 00000000000000000000000000000000:0000 07 "
    "00000000:00000000 00:00000000 00000000     0        0 57228589 2 00000000d61d62b9 0\n";

IpAddress ip(const char* text) { return *parse_ip_address(text); }

TEST(ListeningSockets, TcpListenersOnWildcardAndSpecificIpv4AddressesNotConnections) {
  const auto s = parse_proc_net(kTcp, Proto::tcp, false);
  ASSERT_EQ(s.size(), 3u);
  EXPECT_EQ(s[0], (ListeningSocket{Proto::tcp, ip("10.200.9.1"), 49531, 0, 57228591}));
  EXPECT_EQ(s[1], (ListeningSocket{Proto::tcp, ip("127.0.0.1"), 631, 0, 57228585}));
  EXPECT_EQ(s[2], (ListeningSocket{Proto::tcp, ip("0.0.0.0"), 22, 0, 57228584}));
  EXPECT_TRUE(is_wildcard(s[2].address));
  EXPECT_FALSE(is_wildcard(s[1].address));
}

TEST(ListeningSockets, Ipv6AddressesComeBackInNetworkOrder) {
  const auto s = parse_proc_net(kTcp6, Proto::tcp, true);
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(to_string(s[0].address), "fd00:200:1::1");
  EXPECT_EQ(s[0].port, 8443);
  EXPECT_EQ(to_string(s[1].address), "::");
  EXPECT_EQ(s[1].port, 80);
  EXPECT_EQ(s[1].uid, 1000u);
  EXPECT_TRUE(is_wildcard(s[1].address));
}

TEST(ListeningSockets, UdpCountsUnconnectedSocketsOnly) {
  const auto v4 = parse_proc_net(kUdp, Proto::udp, false);
  ASSERT_EQ(v4.size(), 1u);  // the connected one (to 10.200.9.1:53) answers one peer only
  EXPECT_EQ(v4[0], (ListeningSocket{Proto::udp, ip("10.200.9.1"), 53, 0, 57228588}));
  const auto v6 = parse_proc_net(kUdp6, Proto::udp, true);
  ASSERT_EQ(v6.size(), 1u);
  EXPECT_EQ(v6[0].port, 5353);
  EXPECT_TRUE(is_wildcard(v6[0].address));
}

TEST(ListeningSockets, LinesOfAnotherShapeAreSkipped) {
  EXPECT_TRUE(parse_proc_net("", Proto::tcp, false).empty());
  EXPECT_TRUE(
      parse_proc_net("garbage\n 0: nothing here at all, really, ten fields\n", Proto::tcp, false)
          .empty());
  // A v6 line read as v4 (and the reverse) is not taken for an address.
  EXPECT_TRUE(parse_proc_net(kTcp6, Proto::tcp, false).empty());
  EXPECT_TRUE(parse_proc_net(kTcp, Proto::tcp, true).empty());
}

TEST(ListeningSockets, EstablishedConnectionsBothEndsWithTheirInode) {
  const auto c = parse_established(kTcp, false);
  ASSERT_EQ(c.size(), 2u);  // the listeners are not connections
  EXPECT_EQ(c[0], (TcpConnection{ip("127.0.0.1"), 59776, ip("127.0.0.1"), 631, 57228592}));
  // Not accepted yet: the kernel shows no inode.
  EXPECT_EQ(c[1], (TcpConnection{ip("127.0.0.1"), 631, ip("127.0.0.1"), 59776, 0}));
  EXPECT_TRUE(parse_established(kTcp6, true).empty());
  EXPECT_TRUE(parse_established(kTcp6, false).empty());
}

TEST(ListeningSockets, EphemeralRangeAndSocketLinks) {
  const auto range = parse_port_range("32768\t60999\n");
  ASSERT_TRUE(range);
  EXPECT_EQ(range->first, 32768);
  EXPECT_EQ(range->last, 60999);
  EXPECT_FALSE(parse_port_range("60999 32768"));
  EXPECT_FALSE(parse_port_range("1 2 3"));
  EXPECT_EQ(socket_inode("socket:[57228584]"), 57228584u);
  EXPECT_FALSE(socket_inode("pipe:[12]"));
  EXPECT_FALSE(socket_inode("/dev/null"));
  EXPECT_FALSE(socket_inode("socket:[]"));
}

}  // namespace
}  // namespace portwall
