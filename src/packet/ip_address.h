// ip_address.h — an IPv4 or IPv6 address as 16 bytes plus its family.
// IPv4 addresses are stored in the first four bytes, the rest zero, so that equality
// and hashing need no branch on family. Value type, no allocation.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace portwall {

enum class Family : std::uint8_t { ipv4 = 4, ipv6 = 6 };

struct IpAddress {
  std::array<std::uint8_t, 16> bytes{};
  Family family = Family::ipv4;

  static IpAddress v4(const std::uint8_t* four) {
    IpAddress a;
    std::memcpy(a.bytes.data(), four, 4);
    a.family = Family::ipv4;
    return a;
  }
  static IpAddress v6(const std::uint8_t* sixteen) {
    IpAddress a;
    std::memcpy(a.bytes.data(), sixteen, 16);
    a.family = Family::ipv6;
    return a;
  }
  std::size_t size() const { return family == Family::ipv4 ? 4 : 16; }

  friend bool operator==(const IpAddress&, const IpAddress&) = default;
};

// FNV-1a over the address bytes, for hash tables keyed by address.
struct IpAddressHash {
  std::size_t operator()(const IpAddress& a) const noexcept {
    std::uint64_t h = 1469598103934665603ull;
    for (std::size_t i = 0; i < a.size(); ++i) h = (h ^ a.bytes[i]) * 1099511628211ull;
    return static_cast<std::size_t>(h ^ static_cast<std::uint8_t>(a.family));
  }
};

// The address with every bit past the first `length` cleared: its network of that length.
inline IpAddress masked(IpAddress a, unsigned length) {
  const unsigned bits = a.family == Family::ipv4 ? 32 : 128;
  if (length >= bits) return a;
  unsigned whole = length / 8;
  if (length % 8) a.bytes[whole++] &= static_cast<std::uint8_t>(0xff00u >> (length % 8));
  std::memset(a.bytes.data() + whole, 0, 16 - whole);
  return a;
}

// "192.0.2.1" or "2001:db8::1" (inet_pton); nullopt when it is neither.
std::optional<IpAddress> parse_ip_address(std::string_view text);
// Canonical text (inet_ntop).
std::string to_string(const IpAddress& address);

}  // namespace portwall
