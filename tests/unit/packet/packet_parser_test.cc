// The packet parser against broken input in bulk: every truncation and many deterministic
// mutations of every valid fixture. It answers, reads nothing past the end (ASan/UBSan in this
// build, the fuzz target in tests/fuzz for more), and never states a payload beyond the bytes.
// Field-by-field behaviour: ipv4_test.cc, ipv6_test.cc, icmp_test.cc.
#include "packet/packet_parser.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <random>
#include <span>
#include <vector>

#include "packet_fixtures.h"

namespace portwall::test {
namespace {

constexpr int kMutationsPerFixture = 20000;

std::vector<Bytes> valid_fixtures() {
  return {ipv4_syn(),
          ipv4_tcp_data(),
          ipv4_udp(),
          ipv4_icmp_echo(),
          ipv4_port_unreachable(),
          ipv6_syn(),
          ipv6_extensions_udp(),
          ipv6_icmp_echo(),
          ipv6_port_unreachable()};
}

// Parses `bytes`; false if a view came back whose payload lies past the end of the input.
bool payload_within_input(std::span<const std::uint8_t> bytes) {
  auto p = parse_packet(bytes);
  if (!p) return true;
  return std::size_t{p->payload_offset} + p->payload_length <= bytes.size() &&
         p->l4_offset <= bytes.size();
}

TEST(PacketParser, EveryValidFixtureParses) {
  for (const Bytes& f : valid_fixtures()) EXPECT_EQ(error_of(f), "parsed");
}

TEST(PacketParser, EveryTruncationOfAValidPacketIsHandled) {
  for (const Bytes& f : valid_fixtures()) {
    for (std::size_t n = 0; n <= f.size(); ++n) {
      // A fresh buffer of exactly n bytes, so that ASan sees any read past the end.
      const Bytes prefix(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(n));
      EXPECT_TRUE(payload_within_input(prefix)) << "prefix of " << n << " of " << f.size();
    }
    // The whole datagram but the last byte is always an error: every fixture's lengths are
    // exact, so one of them must now point past the end.
    const Bytes short_by_one(f.begin(), f.end() - 1);
    EXPECT_FALSE(parse(short_by_one));
  }
}

TEST(PacketParser, MutatedPacketsAreHandled) {
  // Values that steer the parser into its branches: versions, IHL, extension headers,
  // protocols, lengths at their limits.
  static constexpr std::uint8_t kInteresting[] = {0x00, 0x01, 0x05, 0x06, 0x08, 0x11, 0x2c, 0x3a,
                                                  0x3b, 0x3c, 0x33, 0x45, 0x4f, 0x60, 0x7f, 0xff};
  std::mt19937 rng(20240601);
  std::size_t parsed = 0, refused = 0, overruns = 0;
  for (const Bytes& f : valid_fixtures()) {
    std::uniform_int_distribution<std::size_t> position(0, f.size() - 1);
    Bytes m;
    for (int i = 0; i < kMutationsPerFixture; ++i) {
      m = f;
      const int changes = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < changes; ++k) {
        const std::uint32_t r = rng();
        m[position(rng)] =
            (r & 1) ? static_cast<std::uint8_t>(r >> 8) : kInteresting[(r >> 8) % 16];
      }
      // Sometimes cut short as well; a buffer of exactly that size, for ASan to see overruns.
      const std::size_t n = rng() % 8 == 0 ? position(rng) : m.size();
      const Bytes input(m.begin(), m.begin() + static_cast<std::ptrdiff_t>(n));
      auto p = parse(input);
      (p ? parsed : refused) += 1;
      if (!payload_within_input(input)) {
        ADD_FAILURE() << "payload past the end, mutation " << i << " of a " << f.size()
                      << "-byte fixture";
        if (++overruns == 10) return;
      }
      // The capture-range path reads only the bytes too, whatever length the wire claims.
      (void)parse_packet(input, input.size() + 1024);
    }
  }
  // Both outcomes occur: the mutations reach past the first check.
  EXPECT_GT(parsed, 0u);
  EXPECT_GT(refused, 0u);
}

}  // namespace
}  // namespace portwall::test
