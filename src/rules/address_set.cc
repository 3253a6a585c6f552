#include "rules/address_set.h"

#include <bit>

namespace portwall {
namespace {

std::uint32_t v4_of(const IpAddress& a) {
  return std::uint32_t{a.bytes[0]} << 24 | std::uint32_t{a.bytes[1]} << 16 |
         std::uint32_t{a.bytes[2]} << 8 | a.bytes[3];
}

std::uint32_t mask4(std::uint8_t length) {
  return length == 0 ? 0 : ~std::uint32_t{0} << (32 - length);
}

std::uint64_t word(const IpAddress& a, int first) {
  std::uint64_t w = 0;
  for (int i = 0; i < 8; ++i) w = w << 8 | a.bytes[first + i];
  return w;
}

std::uint64_t mask64(int bits) {  // the top `bits` of a word, 0 <= bits <= 64
  return bits <= 0 ? 0 : bits >= 64 ? ~std::uint64_t{0} : ~std::uint64_t{0} << (64 - bits);
}

std::uint64_t mix(std::uint64_t x) {  // splitmix64's finalizer
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ull;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Power-of-two slot count for `n` keys at a load of at most one half.
std::size_t slots_for(std::size_t n) { return std::bit_ceil(std::max<std::size_t>(2 * n, 8)); }

}  // namespace

bool AddressSet::Table4::contains(std::uint32_t key) const {
  if (key == 0) return has_zero;
  const std::size_t m = slots.size() - 1;
  for (std::size_t i = mix(key) & m;; i = (i + 1) & m) {
    if (slots[i] == key) return true;
    if (slots[i] == 0) return false;
  }
}

void AddressSet::Table4::insert(std::uint32_t key) {
  if (key == 0) {
    has_zero = true;
    return;
  }
  const std::size_t m = slots.size() - 1;
  for (std::size_t i = mix(key) & m;; i = (i + 1) & m) {
    if (slots[i] == key) return;
    if (slots[i] == 0) {
      slots[i] = key;
      return;
    }
  }
}

bool AddressSet::Table6::contains(const Key6& key) const {
  if (key == Key6{}) return has_zero;
  const std::size_t m = slots.size() - 1;
  for (std::size_t i = mix(key.hi ^ mix(key.lo)) & m;; i = (i + 1) & m) {
    if (slots[i] == key) return true;
    if (slots[i] == Key6{}) return false;
  }
}

void AddressSet::Table6::insert(const Key6& key) {
  if (key == Key6{}) {
    has_zero = true;
    return;
  }
  const std::size_t m = slots.size() - 1;
  for (std::size_t i = mix(key.hi ^ mix(key.lo)) & m;; i = (i + 1) & m) {
    if (slots[i] == key) return;
    if (slots[i] == Key6{}) {
      slots[i] = key;
      return;
    }
  }
}

AddressSet::AddressSet(std::span<const Cidr> networks) : size_(networks.size()) {
  std::array<std::size_t, 33> count4{};
  std::array<std::size_t, 129> count6{};
  for (const Cidr& c : networks) {
    if (c.network.family == Family::ipv4) {
      ++count4[std::min<std::uint8_t>(c.prefix_length, 32)];
    } else {
      ++count6[std::min<std::uint8_t>(c.prefix_length, 128)];
    }
  }
  std::array<int, 33> at4{};
  std::array<int, 129> at6{};
  at4.fill(-1);
  at6.fill(-1);
  for (int len = 32; len >= 0; --len) {
    if (!count4[len]) continue;
    at4[len] = static_cast<int>(v4_.size());
    v4_.push_back({static_cast<std::uint8_t>(len), false,
                   std::vector<std::uint32_t>(slots_for(count4[len]))});
  }
  for (int len = 128; len >= 0; --len) {
    if (!count6[len]) continue;
    at6[len] = static_cast<int>(v6_.size());
    v6_.push_back(
        {static_cast<std::uint8_t>(len), false, std::vector<Key6>(slots_for(count6[len]))});
  }
  for (const Cidr& c : networks) {
    if (c.network.family == Family::ipv4) {
      const std::uint8_t len = std::min<std::uint8_t>(c.prefix_length, 32);
      v4_[at4[len]].insert(v4_of(c.network) & mask4(len));
    } else {
      const std::uint8_t len = std::min<std::uint8_t>(c.prefix_length, 128);
      v6_[at6[len]].insert(
          {word(c.network, 0) & mask64(len), word(c.network, 8) & mask64(len - 64)});
    }
  }
}

bool AddressSet::contains(const IpAddress& address) const {
  if (address.family == Family::ipv4) {
    const std::uint32_t a = v4_of(address);
    for (const Table4& t : v4_) {
      if (t.contains(a & mask4(t.length))) return true;
    }
    return false;
  }
  const std::uint64_t hi = word(address, 0), lo = word(address, 8);
  for (const Table6& t : v6_) {
    if (t.contains({hi & mask64(t.length), lo & mask64(t.length - 64)})) return true;
  }
  return false;
}

std::size_t AddressSet::memory_bytes() const {
  std::size_t bytes = sizeof *this;
  for (const Table4& t : v4_) bytes += sizeof t + t.slots.capacity() * sizeof(std::uint32_t);
  for (const Table6& t : v6_) bytes += sizeof t + t.slots.capacity() * sizeof(Key6);
  return bytes;
}

}  // namespace portwall
