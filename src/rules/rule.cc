#include "rules/rule.h"

#include <cstdint>

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

const char* to_string(Direction d) { return d == Direction::in ? "in" : "out"; }

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

const std::vector<Cidr>& CidrList::items() const {
  static const std::vector<Cidr> none;
  return items_ ? *items_ : none;
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
