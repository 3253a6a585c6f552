#include "audit/log_event.h"

#include <fmt/format.h>

#include <ctime>
#include <nlohmann/json.hpp>

#include "detect/block_list.h"

namespace portwall {
namespace {

const char* proto_name(std::uint8_t protocol) {
  switch (protocol) {
    case ipproto::tcp:
      return "TCP";
    case ipproto::udp:
      return "UDP";
    case ipproto::icmp:
      return "ICMP";
    case ipproto::icmpv6:
      return "ICMPv6";
  }
  return nullptr;
}

bool has_ports(std::uint8_t protocol) {
  return protocol == ipproto::tcp || protocol == ipproto::udp;
}

bool is_icmp(std::uint8_t protocol) {
  return protocol == ipproto::icmp || protocol == ipproto::icmpv6;
}

// The source of an in-kernel line: the block's address, or its range.
std::string kernel_src(const LogEvent& e) {
  return e.src_prefix == 0 ? to_string(e.src) : range_text(Cidr{e.src, e.src_prefix});
}

}  // namespace

std::string tcp_flag_letters(std::uint8_t flags) {
  static constexpr struct {
    std::uint8_t bit;
    char letter;
  } kOrder[] = {{tcpflag::syn, 'S'}, {tcpflag::ack, 'A'}, {tcpflag::fin, 'F'}, {tcpflag::rst, 'R'},
                {tcpflag::psh, 'P'}, {tcpflag::urg, 'U'}, {tcpflag::ece, 'E'}, {tcpflag::cwr, 'C'}};
  std::string out;
  for (const auto& f : kOrder) {
    if (flags & f.bit) out += f.letter;
  }
  return out.empty() ? "0" : out;
}

std::string rfc3339_ms(std::int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  return fmt::format("{}.{:03}Z", buf, unix_ms % 1000);
}

std::string format_text(const LogEvent& e) {
  std::string line = fmt::format(
      "{} portwall ACTION={}{} RULE={} REASON={} DIR={}", rfc3339_ms(e.unix_ms),
      to_string(e.decision.verdict), e.monitor ? " MODE=monitor" : "",
      e.decision.rule_number ? std::to_string(e.decision.rule_number) : std::string("-"),
      to_string(e.decision.reason), to_string(e.direction));
  // IN= and OUT= as the kernel's LOG target prints them: empty when not applicable.
  line += fmt::format(" IN={} OUT={}", e.in_interface, e.out_interface);
  if (e.malformed) return line + " MALFORMED=1";
  if (e.in_kernel) {
    line += fmt::format(" SRC={} IN_KERNEL=1 COUNT={}", kernel_src(e), e.decision.count);
    return e.decision.by_feed ? line + " BY=crowdsec" : line;
  }
  line += fmt::format(" SRC={} DST={} LEN={}", to_string(e.src), to_string(e.dst), e.length);
  if (const char* name = proto_name(e.protocol)) {
    line += fmt::format(" PROTO={}", name);
  } else {
    line += fmt::format(" PROTO={}", e.protocol);
  }
  if (has_ports(e.protocol)) line += fmt::format(" SPT={} DPT={}", e.src_port, e.dst_port);
  // A forwarded or published connection: the host's port the client asked for.
  if (e.decision.public_port) line += fmt::format(" PUBLIC_DPT={}", e.decision.public_port);
  if (e.protocol == ipproto::tcp) line += " FLAGS=" + tcp_flag_letters(e.tcp_flags);
  if (is_icmp(e.protocol)) line += fmt::format(" TYPE={} CODE={}", e.icmp_type, e.icmp_code);
  if (e.decision.event != Event::none)
    line += fmt::format(" EVENT={}", to_string(e.decision.event));
  if (e.knock[0]) line += fmt::format(" KNOCK={}", e.knock);
  if (e.decision.count > 1) line += fmt::format(" COUNT={}", e.decision.count);
  if (e.decision.by_feed) line += " BY=crowdsec";
  return line;
}

std::string format_json(const LogEvent& e) {
  nlohmann::json j;
  j["timestamp"] = rfc3339_ms(e.unix_ms);
  j["action"] = to_string(e.decision.verdict);
  if (e.monitor) j["mode"] = "monitor";
  j["rule"] = e.decision.rule_number ? nlohmann::json(e.decision.rule_number) : nlohmann::json();
  j["reason"] = to_string(e.decision.reason);
  j["dir"] = to_string(e.direction);
  j["in"] = e.in_interface;
  j["out"] = e.out_interface;
  if (e.malformed) {
    j["malformed"] = true;
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  if (e.in_kernel) {
    j["src"] = kernel_src(e);
    j["in_kernel"] = true;
    j["count"] = e.decision.count;
    if (e.decision.by_feed) j["by"] = "crowdsec";
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  j["src"] = to_string(e.src);
  j["dst"] = to_string(e.dst);
  j["len"] = e.length;
  const char* name = proto_name(e.protocol);
  j["proto"] = name ? nlohmann::json(name) : nlohmann::json(e.protocol);
  if (has_ports(e.protocol)) {
    j["spt"] = e.src_port;
    j["dpt"] = e.dst_port;
    if (e.decision.public_port) j["public_dpt"] = e.decision.public_port;
  }
  if (e.protocol == ipproto::tcp) j["flags"] = tcp_flag_letters(e.tcp_flags);
  if (is_icmp(e.protocol)) {
    j["type"] = e.icmp_type;
    j["code"] = e.icmp_code;
  }
  if (e.decision.event != Event::none) j["event"] = to_string(e.decision.event);
  if (e.knock[0]) j["knock"] = e.knock;
  if (e.decision.count > 1) j["count"] = e.decision.count;
  if (e.decision.by_feed) j["by"] = "crowdsec";
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace portwall

namespace portwall {

std::string log_quoted(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out += '"';
  for (const char c : value) {
    const auto byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (byte < 0x20 || byte == 0x7f) {
          out += fmt::format("\\x{:02x}", byte);
        } else {
          out += c;
        }
    }
  }
  out += '"';
  return out;
}

}  // namespace portwall
