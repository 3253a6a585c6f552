// AddressSet: membership of v4 and v6 networks of every prefix length, against a plain scan.
#include "rules/address_set.h"

#include <gtest/gtest.h>

#include <random>

#include "rules/rule_values.h"

namespace portwall {
namespace {

IpAddress ip(const char* text) { return *parse_ip_address(text); }

TEST(AddressSet, NetworksOfBothFamiliesAndEveryLength) {
  const AddressSet s({*parse_cidr("10.0.0.0/8"), *parse_cidr("192.0.2.7/32"),
                      *parse_cidr("2001:db8::/32"), *parse_cidr("2001:db8:1:2::5/128"),
                      *parse_cidr("198.51.100.0/25")});
  EXPECT_TRUE(s.contains(ip("10.255.1.2")));
  EXPECT_TRUE(s.contains(ip("192.0.2.7")));
  EXPECT_FALSE(s.contains(ip("192.0.2.8")));
  EXPECT_TRUE(s.contains(ip("198.51.100.127")));
  EXPECT_FALSE(s.contains(ip("198.51.100.128")));
  EXPECT_TRUE(s.contains(ip("2001:db8:ffff::1")));
  EXPECT_FALSE(s.contains(ip("2001:db9::1")));
  EXPECT_FALSE(s.contains(ip("11.0.0.1")));
  EXPECT_FALSE(s.contains(ip("::a00:1"))) << "an IPv6 address is never an IPv4 network";
  EXPECT_EQ(s.size(), 5u);
}

TEST(AddressSet, TheWholeSpaceAndTheZeroNetwork) {
  const AddressSet all({*parse_cidr("0.0.0.0/0")});
  EXPECT_TRUE(all.contains(ip("203.0.113.9")));
  EXPECT_FALSE(all.contains(ip("2001:db8::1")));
  const AddressSet zero({*parse_cidr("0.0.0.0/32"), *parse_cidr("::/128")});
  EXPECT_TRUE(zero.contains(ip("0.0.0.0")));
  EXPECT_TRUE(zero.contains(ip("::")));
  EXPECT_FALSE(zero.contains(ip("0.0.0.1")));
  EXPECT_FALSE(AddressSet().contains(ip("0.0.0.0")));
}

TEST(AddressSet, AgreesWithAPlainScanOnRandomNetworks) {
  std::mt19937 rng(3);
  std::vector<Cidr> nets;
  for (int i = 0; i < 2000; ++i) {
    Cidr c;
    if (i % 3) {
      const std::uint8_t b[4] = {static_cast<std::uint8_t>(rng() % 4 + 10),
                                 static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
                                 static_cast<std::uint8_t>(rng())};
      c.prefix_length = static_cast<std::uint8_t>(rng() % 33);
      c.network = IpAddress::v4(b);
    } else {
      std::uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, static_cast<std::uint8_t>(rng() % 4)};
      for (int k = 5; k < 16; ++k) b[k] = static_cast<std::uint8_t>(rng());
      c.prefix_length = static_cast<std::uint8_t>(rng() % 129);
      c.network = IpAddress::v6(b);
    }
    // Host bits cleared, as parse_cidr guarantees.
    auto text = to_string(c.network) + "/" + std::to_string(c.prefix_length);
    for (std::size_t bit = c.prefix_length; bit < c.network.size() * 8; ++bit) {
      c.network.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80 >> (bit % 8)));
    }
    nets.push_back(c);
  }
  const AddressSet s(nets);
  for (int i = 0; i < 20000; ++i) {
    const IpAddress probe = nets[rng() % nets.size()].network;
    IpAddress a = probe;
    a.bytes[a.size() - 1] ^= static_cast<std::uint8_t>(rng());
    bool expected = false;
    for (const Cidr& c : nets) expected = expected || c.contains(a);
    ASSERT_EQ(s.contains(a), expected) << to_string(a);
  }
}

}  // namespace
}  // namespace portwall
