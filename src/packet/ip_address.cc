#include "packet/ip_address.h"

#include <arpa/inet.h>

namespace portwall {

std::optional<IpAddress> parse_ip_address(std::string_view text) {
  if (text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  char buf[INET6_ADDRSTRLEN];
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  IpAddress a;
  if (inet_pton(AF_INET, buf, a.bytes.data()) == 1) {
    a.family = Family::ipv4;
    return a;
  }
  if (inet_pton(AF_INET6, buf, a.bytes.data()) == 1) {
    a.family = Family::ipv6;
    return a;
  }
  return std::nullopt;
}

std::string to_string(const IpAddress& address) {
  char buf[INET6_ADDRSTRLEN];
  int af = address.family == Family::ipv4 ? AF_INET : AF_INET6;
  if (!inet_ntop(af, address.bytes.data(), buf, sizeof buf)) return "?";
  return buf;
}

}  // namespace portwall
