// forward.h — port forwarding (the Forward values of rule.h) as administrators write it: `forward
// 80/tcp to 8080` (a local redirect) and `forward in on eth0 443/tcp to 10.0.0.5:8443` (DNAT to
// another host, with the masquerade that brings its answers back). Values and their words only:
// portwalld installs them as kernel NAT rules (netfilter/), and judges forwarded connections by the
// public port.
#pragma once

#include <cstdint>
#include <expected>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "packet/ip_address.h"
#include "rules/rule.h"

namespace portwall {

// "forward in on eth0 443/tcp to 10.0.0.5:8443 comment 'web'", as status and the audit log
// show it, and as `portwall forward` takes it.
std::string forward_words(const Forward& forward);
// "10.0.0.5:8443", "[fd00::5]:8443", or "8080" for a redirect.
std::string forward_destination(const Forward& forward);

// The words after `forward`: [in on IFACE] PORT[/tcp|/udp] to DEST [comment TEXT], DEST being
// PORT (this host), ADDR (same port), ADDR:PORT or [IPV6]:PORT. A port is a number or a
// service name.
std::expected<Forward, std::string> parse_forward(std::span<const std::string> words);
// "8443", "10.0.0.5", "10.0.0.5:8443", "[fd00::5]:8443" into `forward` (to_port defaults to
// the public port when only an address is given).
std::expected<void, std::string> parse_forward_destination(std::string_view text, Forward& forward);

bool protocols_overlap(Proto a, Proto b);
// The same forward: the same public side and the same destination (comments aside).
bool same_forward(const Forward& a, const Forward& b);
// Why `forwards` cannot all be installed (two claim the same public port, or send to the same
// destination, which would make a forwarded connection's public port ambiguous): the later
// forward's index and the reason; or nothing.
struct ForwardConflict {
  std::size_t index = 0;
  std::string why;
};
std::optional<ForwardConflict> forward_conflict(const std::vector<Forward>& forwards);

// The forward a packet seen after NAT belongs to: a redirect (the packet carried the redirect
// mark) to its local port, or a DNAT to its destination. Null when none.
const Forward* forward_of(const std::vector<Forward>& forwards, std::uint8_t protocol,
                          const IpAddress& dst, std::uint16_t dst_port, bool redirected);
// A forwarded packet that comes from a forward's destination: its connection's reply direction.
bool from_forward_destination(const std::vector<Forward>& forwards, std::uint8_t protocol,
                              const IpAddress& src, std::uint16_t src_port);

}  // namespace portwall
