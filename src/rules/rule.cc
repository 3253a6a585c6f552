#include "rules/rule.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <new>
#include <stdexcept>

#include "rules/config_error.h"

namespace portwall {

const char* to_string(Action a) {
  switch (a) {
    case Action::allow:
      return "allow";
    case Action::deny:
      return "deny";
    case Action::reject:
      return "reject";
    case Action::limit:
      return "limit";
  }
  return "?";
}

const char* to_string(Direction d) {
  return d == Direction::in ? "in" : d == Direction::out ? "out" : "route";
}

const char* to_string(Proto p) {
  switch (p) {
    case Proto::any:
      return "any";
    case Proto::tcp:
      return "tcp";
    case Proto::udp:
      return "udp";
    case Proto::icmp:
      return "icmp";
  }
  return "?";
}

bool Cidr::contains(const IpAddress& a) const {
  if (a.family != network.family) return false;
  const std::size_t whole = prefix_length / 8;
  for (std::size_t i = 0; i < whole; ++i) {
    if (a.bytes[i] != network.bytes[i]) return false;
  }
  const unsigned rest = prefix_length % 8;
  if (rest == 0) return true;
  const std::uint8_t mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a.bytes[whole] & mask) == network.bytes[whole];
}

std::string to_string(const Cidr& c) {
  return to_string(c.network) + "/" + std::to_string(c.prefix_length);
}

CidrList::CidrList(std::vector<Cidr> prefixes) {
  if (prefixes.size() == 1) {
    std::memcpy(storage_, &prefixes[0], sizeof(Cidr));
    kind_ = Kind::one;
  } else if (!prefixes.empty()) {
    new (storage_) Shared(std::make_shared<const std::vector<Cidr>>(std::move(prefixes)));
    kind_ = Kind::shared;
  }
}

CidrList::CidrList(const CidrList& other) : kind_(other.kind_) {
  if (kind_ == Kind::shared) {
    new (storage_) Shared(other.shared());
  } else {
    std::memcpy(storage_, other.storage_, sizeof storage_);
  }
}

CidrList::CidrList(CidrList&& other) noexcept : kind_(other.kind_) {
  if (kind_ == Kind::shared) {
    new (storage_) Shared(std::move(other.shared()));
    other.shared().~Shared();
  } else {
    std::memcpy(storage_, other.storage_, sizeof storage_);
  }
  other.kind_ = Kind::none;
}

CidrList& CidrList::operator=(CidrList other) noexcept {
  this->~CidrList();
  new (this) CidrList(std::move(other));
  return *this;
}

CidrList::~CidrList() {
  if (kind_ == Kind::shared) shared().~Shared();
  kind_ = Kind::none;
}

std::span<const Cidr> CidrList::items() const {
  switch (kind_) {
    case Kind::none:
      return {};
    case Kind::one:
      return {std::launder(reinterpret_cast<const Cidr*>(storage_)), 1};
    case Kind::shared:
      return *shared();
  }
  return {};
}

const void* CidrList::identity() const { return kind_ == Kind::shared ? shared().get() : nullptr; }

PortRanges::PortRanges(PortRanges&& other) noexcept : size_(other.size_) {
  std::copy_n(other.in_place_, kInPlace, in_place_);  // the ranges, or the block's address
  other.size_ = 0;
}

PortRanges& PortRanges::operator=(PortRanges other) noexcept {
  this->~PortRanges();
  new (this) PortRanges(std::move(other));
  return *this;
}

PortRanges::~PortRanges() {
  if (size_ > kInPlace) delete[] heap();
  size_ = 0;
}

void PortRanges::assign(const PortRange* from, std::size_t n) {
  if (n > kInPlace) {
    std::size_t capacity = kInPlace + 1;
    while (capacity < n) capacity *= 2;
    set_heap(new PortRange[capacity]);
  }
  size_ = static_cast<std::uint16_t>(n);
  std::copy_n(from, n, data());
}

void PortRanges::push_back(PortRange r) {
  if (size_ == UINT16_MAX) throw std::length_error("more than 65535 port ranges");
  if (size_ < kInPlace) {
    in_place_[size_++] = r;
    return;
  }
  // Out of place from the fourth on: the block grows when the size passes a power of two.
  if (size_ == kInPlace || (size_ & (size_ - 1)) == 0) {
    const std::size_t capacity = size_ == kInPlace ? kInPlace + 1 : std::size_t{size_} * 2;
    auto* grown = new PortRange[capacity];
    std::copy_n(data(), size_, grown);
    if (size_ > kInPlace) delete[] heap();
    set_heap(grown);
  }
  heap()[size_++] = r;
}

bool AddressMatch::matches(const IpAddress& address) const {
  if (any) return true;
  for (const Cidr& c : prefixes) {
    if (c.contains(address)) return true;
  }
  return false;
}

bool PortMatch::matches(std::uint16_t port) const {
  if (ranges.empty()) return true;
  for (const PortRange& r : ranges) {
    if (port >= r.first && port <= r.last) return true;
  }
  return false;
}

std::string to_string(const ConfigError& e) {
  std::string out = e.file;
  if (e.line > 0) out += ":" + std::to_string(e.line) + ":" + std::to_string(e.column);
  return out + ": " + e.message;
}

std::string to_string(const std::vector<ConfigError>& errors) {
  std::string out;
  for (const ConfigError& e : errors) out += (out.empty() ? "" : "\n") + to_string(e);
  return out;
}

}  // namespace portwall
