// address_set.h — a large set of IPv4 and IPv6 networks compiled for lookup whose cost does not
// grow with the number of entries: one open-addressing hash table per prefix length present,
// probed with the address masked to that length. A lookup costs one probe per distinct prefix
// length (typically 1-3), whether the set holds ten networks or ten million.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <vector>

#include "packet/ip_address.h"
#include "rules/rule.h"

namespace portwall {

class AddressSet {
 public:
  AddressSet() = default;
  explicit AddressSet(std::span<const Cidr> networks);
  explicit AddressSet(const std::vector<Cidr>& networks)
      : AddressSet(std::span<const Cidr>(networks)) {}

  bool contains(const IpAddress& address) const;
  std::size_t size() const { return size_; }
  std::size_t memory_bytes() const;

 private:
  // Keys are masked addresses; 0 marks an empty slot, so the all-zero network is a flag.
  struct Table4 {
    std::uint8_t length = 0;
    bool has_zero = false;
    std::vector<std::uint32_t> slots;
    bool contains(std::uint32_t key) const;
    void insert(std::uint32_t key);
  };
  struct Key6 {
    std::uint64_t hi = 0, lo = 0;
    friend bool operator==(const Key6&, const Key6&) = default;
  };
  struct Table6 {
    std::uint8_t length = 0;
    bool has_zero = false;
    std::vector<Key6> slots;
    bool contains(const Key6& key) const;
    void insert(const Key6& key);
  };
  std::vector<Table4> v4_;  // longest prefix first (any order works: membership only)
  std::vector<Table6> v6_;
  std::size_t size_ = 0;
};

}  // namespace portwall
