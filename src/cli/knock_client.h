// knock_client.h — `portwall knock`: the client side of port knocking. Sends a knock sequence
// the way knockd's `knock` does (a TCP SYN from a non-blocking connect that is closed at once,
// or a one-byte UDP datagram, per port), or one authenticated SPA datagram (detect/spa.h).
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "packet/ip_address.h"
#include "config/config.h"

namespace portwall {

// "7000", "7000/tcp", "7000/udp" or knockd's "7000:udp"; a bare port has `default_protocol`.
std::expected<PortProto, std::string> parse_knock(std::string_view text,
                                                  std::uint8_t default_protocol);

// Sends each knock to `host` (a name or address; `family` AF_UNSPEC, AF_INET or AF_INET6),
// waiting `delay` between knocks.
std::expected<void, std::string> send_knocks(const std::string& host,
                                             const std::vector<PortProto>& knocks,
                                             std::chrono::milliseconds delay, int family);

// Sends one SPA datagram for `key` to host:port, stamped with the current time and a random
// nonce, bound to the address it is sent to and the one it is sent from: `source` when given
// (a client behind NAT states the address the server will see), else the local address the
// kernel picks for the route.
std::expected<void, std::string> send_spa(const std::string& host, std::uint16_t port,
                                          std::string_view key, int family,
                                          const std::optional<IpAddress>& source);

}  // namespace portwall
