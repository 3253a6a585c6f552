#include "rules/published_ports.h"

#include <charconv>
#include <sstream>

#include "packet/packet_view.h"
#include "rules/forward.h"

namespace portwall {
namespace {

std::optional<std::uint16_t> port_number(std::string_view text) {
  unsigned n = 0;
  const auto r = std::from_chars(text.data(), text.data() + text.size(), n);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || n == 0 || n > 65535) {
    return std::nullopt;
  }
  return static_cast<std::uint16_t>(n);
}

// The words of a rule, a quoted one (a comment: `--comment "a b"`) as one word.
std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    std::size_t end = line.find(' ');
    if (line.front() == '"') {
      const std::size_t close = line.find('"', 1);
      end = close == std::string_view::npos ? std::string_view::npos : line.find(' ', close);
    }
    if (end != 0) out.push_back(line.substr(0, end));
    if (end == std::string_view::npos) break;
    line.remove_prefix(end + 1);
  }
  return out;
}

// One `-A CHAIN ... -j DNAT --to-destination DEST` line, or nothing.
std::optional<PublishedPort> parse_line(std::string_view line) {
  const std::vector<std::string_view> w = words_of(line);
  if (w.size() < 2 || w[0] != "-A" || w[1].starts_with("PORTWALL_")) return std::nullopt;
  PublishedPort p;
  p.chain = std::string(w[1]);
  std::optional<std::uint16_t> dport;
  std::string_view destination;
  bool dnat = false;
  for (std::size_t i = 2; i < w.size(); ++i) {
    const bool has_value = i + 1 < w.size();
    // A negated match of the port or the address ("all but ...") is no published port.
    if (w[i] == "!" && has_value && w[i + 1] != "-i") return std::nullopt;
    if (w[i] == "-p" && has_value) {
      if (w[i + 1] == "tcp") {
        p.forward.proto = Proto::tcp;
      } else if (w[i + 1] == "udp") {
        p.forward.proto = Proto::udp;
      } else {
        return std::nullopt;  // sctp, all: not a port this host judges
      }
    } else if (w[i] == "--dport" && has_value) {
      dport = port_number(w[i + 1]);  // a range "8000:8010" is none
      if (!dport) return std::nullopt;
    } else if (w[i] == "-j" && has_value) {
      dnat = w[i + 1] == "DNAT";
    } else if (w[i] == "--to-destination" && has_value) {
      destination = w[i + 1];
    } else if (w[i] == "-d" && has_value) {
      const std::string_view d = w[i + 1];
      const std::size_t slash = d.find('/');
      const std::string_view length = slash == std::string_view::npos ? "" : d.substr(slash + 1);
      auto a = parse_ip_address(d.substr(0, slash));
      if (!a || (!length.empty() && length != (a->size() == 4 ? "32" : "128"))) {
        return std::nullopt;  // a network of this host's: not one published address
      }
      p.host_address = *a;
    } else if (w[i] == "!" && i + 2 < w.size() && w[i + 1] == "-i") {
      p.bridge = std::string(w[i + 2]);
    }
  }
  if (!dnat || !dport || p.forward.proto == Proto::any || destination.empty()) return std::nullopt;
  p.forward.port = *dport;
  // "ADDR", "ADDR:PORT", "[V6]:PORT"; a port range ("ADDR:80-81") is no single port.
  if (destination.find('-') != std::string_view::npos) return std::nullopt;
  if (!parse_forward_destination(destination, p.forward) || !p.forward.to_address) {
    return std::nullopt;
  }
  p.forward.comment = p.chain;
  return p;
}

}  // namespace

bool operator==(const PublishedPort& a, const PublishedPort& b) {
  return same_forward(a.forward, b.forward) && a.host_address == b.host_address &&
         a.chain == b.chain && a.bridge == b.bridge;
}

std::vector<PublishedPort> parse_published_ports(std::string_view nat_rules) {
  std::vector<PublishedPort> out;
  while (!nat_rules.empty()) {
    const std::size_t end = nat_rules.find('\n');
    if (auto p = parse_line(nat_rules.substr(0, end))) out.push_back(std::move(*p));
    if (end == std::string_view::npos) break;
    nat_rules.remove_prefix(end + 1);
  }
  return out;
}

std::string published_words(const PublishedPort& p) {
  std::string s = p.host_address
                      ? (p.host_address->size() == 16 ? "[" + to_string(*p.host_address) + "]:"
                                                      : to_string(*p.host_address) + ":")
                      : std::string();
  s += std::to_string(p.forward.port) + "/" + to_string(p.forward.proto) + " -> " +
       forward_destination(p.forward) + " (" + p.chain + ")";
  return s;
}

bool leads_to(const PublishedPort& p, std::uint8_t protocol, const IpAddress& dst,
              std::uint16_t dst_port) {
  const Proto proto = protocol == ipproto::tcp   ? Proto::tcp
                      : protocol == ipproto::udp ? Proto::udp
                                                 : Proto::icmp;
  return p.forward.proto == proto && p.forward.to_port == dst_port && p.forward.to_address == dst;
}

const PublishedPort* published_of(const std::vector<PublishedPort>& ports, std::uint8_t protocol,
                                  const IpAddress& dst, std::uint16_t dst_port) {
  for (const PublishedPort& p : ports) {
    if (leads_to(p, protocol, dst, dst_port)) return &p;
  }
  return nullptr;
}

bool from_published(const std::vector<PublishedPort>& ports, std::uint8_t protocol,
                    const IpAddress& src, std::uint16_t src_port) {
  return published_of(ports, protocol, src, src_port) != nullptr;
}

}  // namespace portwall
