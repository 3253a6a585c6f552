#include "rules/rule_values.h"

#include <netdb.h>

#include <cctype>
#include <charconv>

#include "rules/duration.h"

namespace portwall {
namespace {

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

std::expected<std::uint16_t, std::string> parse_port_number(std::string_view text) {
  unsigned long value = 0;
  auto [rest, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc::result_out_of_range ||
      (ec == std::errc() && rest == text.data() + text.size() && (value < 1 || value > 65535))) {
    return std::unexpected("port must be 1-65535, got " + std::string(text));
  }
  if (ec != std::errc() || rest != text.data() + text.size()) {
    return std::unexpected(std::string());  // not a number: maybe a service name
  }
  return static_cast<std::uint16_t>(value);
}

// getservbyname_r over /etc/services (netbase); proto any tries tcp, then udp.
std::expected<std::uint16_t, std::string> lookup_service(std::string_view name, Proto proto) {
  const std::string n(name);
  const char* protos[2] = {proto == Proto::udp ? "udp" : "tcp",
                           proto == Proto::any ? "udp" : nullptr};
  for (const char* p : protos) {
    if (!p) continue;
    servent entry{}, *result = nullptr;
    char buf[1024];
    if (getservbyname_r(n.c_str(), p, &entry, buf, sizeof buf, &result) == 0 && result) {
      return ntohs(static_cast<std::uint16_t>(result->s_port));
    }
  }
  return std::unexpected("unknown port or service " + quoted(name) +
                         " (expected 1-65535, a:b, a list, or a name from /etc/services)");
}

std::expected<std::uint16_t, std::string> parse_one_port(std::string_view text, Proto proto) {
  auto number = parse_port_number(text);
  if (number) return *number;
  if (!number.error().empty()) return std::unexpected(number.error());
  return lookup_service(text, proto);
}

}  // namespace

std::expected<Cidr, std::string> parse_cidr(std::string_view text) {
  const std::size_t slash = text.find('/');
  const std::string_view addr = text.substr(0, slash);
  const auto address = parse_ip_address(addr);
  if (!address) {
    return std::unexpected("expected an address, a CIDR prefix, any or @set, got " + quoted(text));
  }
  const unsigned max = address->family == Family::ipv4 ? 32 : 128;
  unsigned length = max;
  if (slash != std::string_view::npos) {
    const std::string_view len = text.substr(slash + 1);
    auto [rest, ec] = std::from_chars(len.data(), len.data() + len.size(), length);
    if (ec != std::errc() || rest != len.data() + len.size() || len.empty() || length > max) {
      return std::unexpected("prefix length must be 0-" + std::to_string(max) + ", got " +
                             quoted(text));
    }
  }
  Cidr c{*address, static_cast<std::uint8_t>(length)};
  Cidr network = c;
  for (unsigned bit = length; bit < max; ++bit) {
    network.network.bytes[bit / 8] &= static_cast<std::uint8_t>(~(0x80u >> (bit % 8)));
  }
  if (!(network.network == c.network)) {
    return std::unexpected(quoted(text) + " has host bits set; did you mean " +
                           quoted(to_string(network)) + "?");
  }
  return c;
}

std::expected<PortMatch, std::string> parse_ports(std::string_view text, Proto proto) {
  PortMatch match;
  int count = 0;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    const std::string_view item = text.substr(start, comma - start);
    if (item.empty()) return std::unexpected("empty item in port list " + quoted(text));
    const std::size_t colon = item.find(':');
    PortRange range;
    if (colon == std::string_view::npos) {
      auto port = parse_one_port(item, proto);
      if (!port) return std::unexpected(port.error());
      range = {*port, *port};
      count += 1;
    } else {
      auto first = parse_one_port(item.substr(0, colon), proto);
      if (!first) return std::unexpected(first.error());
      auto last = parse_one_port(item.substr(colon + 1), proto);
      if (!last) return std::unexpected(last.error());
      if (*first > *last) {
        return std::unexpected("port range " + quoted(item) + " runs backwards; write " +
                               std::to_string(*last) + ":" + std::to_string(*first));
      }
      range = {*first, *last};
      count += 2;
    }
    // Past the bound the rest is still read (its errors and its count are said), not kept: a
    // list of 100,000 items is refused without holding them.
    if (count <= 15) match.ranges.push_back(range);
    start = comma + 1;
  }
  if (count > 15) {
    return std::unexpected("at most 15 ports in one rule (a range counts as 2), got " +
                           std::to_string(count) + " in " + quoted(text));
  }
  return match;
}

std::expected<Rate, std::string> parse_rate(std::string_view text) {
  const std::string expected =
      "expected a rate like \"6/30s\" (connections, a slash, a duration), got " + quoted(text);
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::unexpected(expected);
  unsigned long count = 0;
  auto [rest, ec] = std::from_chars(text.data(), text.data() + slash, count);
  if (ec != std::errc() || rest != text.data() + slash) return std::unexpected(expected);
  if (count < 1 || count > 1'000'000) {
    return std::unexpected("rate must allow 1 to 1000000 connections, got " + quoted(text));
  }
  auto per = parse_duration(text.substr(slash + 1));
  if (!per) return std::unexpected(expected);
  if (*per <= Duration::zero()) return std::unexpected("rate needs a duration above zero");
  return Rate{static_cast<std::uint32_t>(count), *per, 0};
}

std::string to_string(const Rate& rate) {
  return std::to_string(rate.count) + "/" + format_duration(rate.per);
}

std::expected<void, std::string> check_interface(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") {
    return std::unexpected("interface name must be 1-15 characters, got " + quoted(name));
  }
  // The kernel forbids '/', ':' and white space; portwall also keeps to the characters real
  // names use, so that a name is safe wherever it is pasted (nft text, iptables-restore lines,
  // log lines): a quote or ';' once added nft statements through `forward in on`.
  for (char c : name) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
    if (!ok) {
      return std::unexpected("interface name " + quoted(name) +
                             " may hold only letters, digits, '_', '.' and '-'");
    }
  }
  return {};
}

// Written here: neither the standard library nor toml++'s public API validates UTF-8.
std::expected<void, std::string> check_comment(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto b = static_cast<unsigned char>(text[i]);
    // One line of text: a newline or other control character would not survive the rules
    // file's TOML (a multi-line string drops a leading newline) nor the one-line status.
    if ((b < 0x20 && b != '\t') || b == 0x7f) {
      return std::unexpected("comment must be one line of text; byte " + std::to_string(i + 1) +
                             " is a control character");
    }
    // RFC 3629 §4: the length from the lead byte, then the range of the second byte (no
    // overlong forms, no surrogates, nothing above U+10FFFF); later bytes are 80-BF.
    std::size_t length = 1;
    unsigned char low = 0x80, high = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) {
      length = 2;
    } else if (b >= 0xe0 && b <= 0xef) {
      length = 3;
      if (b == 0xe0) low = 0xa0;
      if (b == 0xed) high = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      length = 4;
      if (b == 0xf0) low = 0x90;
      if (b == 0xf4) high = 0x8f;
    } else if (b >= 0x80) {
      length = 0;
    }
    bool ok = length != 0 && text.size() - i >= length;
    for (std::size_t k = 1; ok && k < length; ++k) {
      const auto c = static_cast<unsigned char>(text[i + k]);
      ok = k == 1 ? c >= low && c <= high : c >= 0x80 && c <= 0xbf;
    }
    if (!ok) {
      return std::unexpected("comment must be UTF-8 text; byte " + std::to_string(i + 1) +
                             " is not");
    }
    i += length;
  }
  return {};
}

}  // namespace portwall
