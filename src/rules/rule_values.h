// rule_values.h — the words of a rule as administrators write them, validated one by one:
// addresses and prefixes, port specifications (numbers, a:b ranges, comma lists, service
// names from /etc/services), interface names. Each returns a value or the message of what
// was expected; the caller adds where.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "rules/rule.h"

namespace portwall {

// "192.0.2.0/24", "2001:db8::/32", or a single address (/32, /128). Host bits set is an error
// that names the network meant.
std::expected<Cidr, std::string> parse_cidr(std::string_view text);

// "22", "8000:8100", "80,443,8000:8100", "ssh", "http,https". `proto` picks the service
// database's protocol (any: tcp, else udp). At most 15 ports, a range counting as two (ufw).
std::expected<PortMatch, std::string> parse_ports(std::string_view text, Proto proto);

// "6/30s", "100/1m": a count of at least 1, a slash, a duration above zero. Burst stays 0.
std::expected<Rate, std::string> parse_rate(std::string_view text);
std::string to_string(const Rate& rate);  // "6/30s" (the burst is written separately)

// Linux interface names: 1-15 bytes, no '/', ':' or white space, not "." or "..".
std::expected<void, std::string> check_interface(std::string_view name);

// A rule's comment: any UTF-8 text (RFC 3629), which is what a TOML string can hold; bytes that
// are not would not survive the rules file.
std::expected<void, std::string> check_comment(std::string_view text);

}  // namespace portwall
