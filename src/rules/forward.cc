#include "rules/forward.h"

#include <algorithm>

#include "packet/packet_view.h"
#include "rules/rule_values.h"

namespace portwall {
namespace {

std::string q(std::string_view word) { return "\"" + std::string(word) + "\""; }

// One port: a number or a service name, not a range or a list.
std::expected<std::uint16_t, std::string> one_port(std::string_view text, Proto proto) {
  auto ports = parse_ports(text, proto);
  if (!ports) return std::unexpected(ports.error());
  if (ports->ranges.size() != 1 || ports->ranges[0].first != ports->ranges[0].last) {
    return std::unexpected("a forward takes one port, got " + q(text));
  }
  return ports->ranges[0].first;
}

std::string port_of(const Forward& f) {
  return std::to_string(f.port) +
         (f.proto == Proto::any ? "" : std::string("/") + to_string(f.proto));
}

}  // namespace

std::string forward_destination(const Forward& f) {
  if (!f.to_address) return std::to_string(f.to_port);
  const std::string address = to_string(*f.to_address);
  return (f.to_address->family == Family::ipv6 ? "[" + address + "]" : address) + ":" +
         std::to_string(f.to_port);
}

std::string forward_words(const Forward& f) {
  std::string s = "forward";
  if (!f.interface.empty()) s += " in on " + f.interface;
  s += " " + port_of(f) + " to " + forward_destination(f);
  if (!f.comment.empty()) s += " comment '" + f.comment + "'";
  return s;
}

std::expected<void, std::string> parse_forward_destination(std::string_view text, Forward& f) {
  if (text.empty()) return std::unexpected(std::string("to needs a destination, got nothing"));
  std::string_view address = text, port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::unexpected("no ] in " + q(text));
    address = text.substr(1, close - 1);
    if (close + 1 < text.size()) {
      if (text[close + 1] != ':') return std::unexpected("expected :PORT after ] in " + q(text));
      port = text.substr(close + 2);
    }
  } else if (std::count(text.begin(), text.end(), ':') == 1) {
    const auto colon = text.find(':');
    address = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  if (auto a = parse_ip_address(address)) {
    if ((a->family == Family::ipv4 && a->bytes[0] == 127) || to_string(*a) == "::1") {
      return std::unexpected("a forward to loopback (" + q(text) +
                             ") is a redirect: write the port only, e.g. to 8080");
    }
    f.to_address = *a;
    if (port.empty()) {
      f.to_port = f.port;
      return {};
    }
  } else if (port.empty() && text.front() != '[' && address.find(':') == std::string_view::npos &&
             address.find('.') == std::string_view::npos) {
    // Only a port: this host.
    f.to_address.reset();
    port = text;
  } else {
    return std::unexpected("expected PORT, ADDR, ADDR:PORT or [IPV6]:PORT, got " + q(text));
  }
  auto p = one_port(port, f.proto);
  if (!p) return std::unexpected(p.error());
  f.to_port = *p;
  return {};
}

std::expected<Forward, std::string> parse_forward(std::span<const std::string> w) {
  Forward f;
  std::size_t i = 0;
  auto fail = [](std::string m) { return std::unexpected(std::move(m)); };
  const std::string usage =
      "forward [in on IFACE] PORT[/tcp|/udp] to PORT|ADDR|ADDR:PORT [comment TEXT]";
  if (i < w.size() && w[i] == "in") {
    if (i + 2 >= w.size() || w[i + 1] != "on") return fail("expected in on IFACE: " + usage);
    if (auto ok = check_interface(w[i + 2]); !ok) return fail(ok.error());
    f.interface = w[i + 2];
    i += 3;
  }
  if (i >= w.size()) return fail("expected the public port: " + usage);
  std::string port = w[i++];
  if (const auto slash = port.find('/'); slash != std::string::npos) {
    const std::string proto = port.substr(slash + 1);
    if (proto != "tcp" && proto != "udp") {
      return fail("expected PORT/tcp or PORT/udp, got " + q(w[i - 1]));
    }
    f.proto = proto == "tcp" ? Proto::tcp : Proto::udp;
    port.resize(slash);
  }
  auto p = one_port(port, f.proto);
  if (!p) return fail(p.error());
  f.port = *p;
  if (i >= w.size() || w[i] != "to") return fail("expected to DEST after the port: " + usage);
  if (++i >= w.size()) return fail("to needs a destination: " + usage);
  if (auto ok = parse_forward_destination(w[i++], f); !ok) return fail(ok.error());
  if (i < w.size() && w[i] == "comment") {
    if (i + 1 >= w.size()) return fail("comment needs a text");
    if (auto ok = check_comment(w[i + 1]); !ok) return fail(ok.error());
    f.comment = w[i + 1];
    i += 2;
  }
  if (i != w.size()) return fail("unexpected " + q(w[i]) + ": " + usage);
  if (f.redirect() && f.to_port == f.port) {
    return fail("forward " + std::to_string(f.port) + " to " + std::to_string(f.port) +
                " would send the port to itself");
  }
  return f;
}

bool protocols_overlap(Proto a, Proto b) { return a == Proto::any || b == Proto::any || a == b; }

bool same_forward(const Forward& a, const Forward& b) {
  return a.proto == b.proto && a.port == b.port && a.interface == b.interface &&
         a.to_address == b.to_address && a.to_port == b.to_port;
}

std::optional<ForwardConflict> forward_conflict(const std::vector<Forward>& forwards) {
  for (std::size_t i = 0; i < forwards.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const Forward& a = forwards[j];
      const Forward& b = forwards[i];
      if (!protocols_overlap(a.proto, b.proto)) continue;
      const bool same_public = a.port == b.port && (a.interface.empty() || b.interface.empty() ||
                                                    a.interface == b.interface);
      if (same_public) {
        return ForwardConflict{i, "forward " + std::to_string(i + 1) + " (" + forward_words(b) +
                                      ") takes the port of forward " + std::to_string(j + 1) +
                                      " (" + forward_words(a) + ")"};
      }
      if (a.to_address == b.to_address && a.to_port == b.to_port) {
        return ForwardConflict{i, "forward " + std::to_string(i + 1) + " (" + forward_words(b) +
                                      ") sends to the same place as forward " +
                                      std::to_string(j + 1) + " (" + forward_words(a) +
                                      "): a forwarded connection could not tell its public port"};
      }
    }
  }
  return std::nullopt;
}

bool from_forward_destination(const std::vector<Forward>& forwards, std::uint8_t protocol,
                              const IpAddress& src, std::uint16_t src_port) {
  return forward_of(forwards, protocol, src, src_port, false) != nullptr;
}

const Forward* forward_of(const std::vector<Forward>& forwards, std::uint8_t protocol,
                          const IpAddress& dst, std::uint16_t dst_port, bool redirected) {
  const Proto proto = protocol == ipproto::tcp   ? Proto::tcp
                      : protocol == ipproto::udp ? Proto::udp
                                                 : Proto::icmp;
  if (proto == Proto::icmp) return nullptr;
  for (const Forward& f : forwards) {
    if (!protocols_overlap(f.proto, proto) || f.to_port != dst_port) continue;
    if (redirected ? f.redirect() : (f.to_address && *f.to_address == dst)) return &f;
  }
  return nullptr;
}

}  // namespace portwall
