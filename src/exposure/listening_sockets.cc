#include "exposure/listening_sockets.h"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace portwall {

std::vector<std::string_view> fields_of(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t at = 0;
  while (at < line.size()) {
    at = line.find_first_not_of(" \t", at);
    if (at == std::string_view::npos) break;
    const std::size_t end = std::min(line.find_first_of(" \t", at), line.size());
    out.push_back(line.substr(at, end - at));
    at = end;
  }
  return out;
}

namespace {

template <typename T>
std::optional<T> number(std::string_view text, int base) {
  T value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// "0100007F:0016" (v4) or 32 hex digits then ":PORT" (v6): each 8-digit group is one 32-bit
// word as the kernel holds it (network byte order in memory), printed as a host-order number.
std::optional<std::pair<IpAddress, std::uint16_t>> endpoint(std::string_view text, bool v6) {
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos || colon != (v6 ? 32u : 8u)) return std::nullopt;
  const auto port = number<std::uint16_t>(text.substr(colon + 1), 16);
  if (!port) return std::nullopt;
  std::uint8_t bytes[16] = {};
  for (std::size_t word = 0; word < colon / 8; ++word) {
    const auto value = number<std::uint32_t>(text.substr(word * 8, 8), 16);
    if (!value) return std::nullopt;
    std::memcpy(bytes + word * 4, &*value, 4);  // back to the memory order the kernel printed
  }
  return std::pair{v6 ? IpAddress::v6(bytes) : IpAddress::v4(bytes), *port};
}

constexpr std::string_view kTcpEstablished = "01";
constexpr std::string_view kTcpListen = "0A";
constexpr std::string_view kUdpUnconnected = "07";

// One line of a /proc/net table, its fields checked: sl local_address rem_address st tx:rx
// tr:when retrnsmt uid timeout inode ...
struct TableLine {
  std::pair<IpAddress, std::uint16_t> local, remote;
  std::string_view state;
  std::uint32_t uid = 0;
  std::uint64_t inode = 0;
};

// Calls `each` with every well-formed line; the header and lines of another shape are skipped.
template <typename Each>
void for_each_line(std::string_view text, bool v6, Each each) {
  while (!text.empty()) {
    const std::size_t newline = text.find('\n');
    const std::string_view line = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view{} : text.substr(newline + 1);
    const std::vector<std::string_view> f = fields_of(line);
    if (f.size() < 10 || f[0].empty() || f[0].back() != ':') continue;
    const auto local = endpoint(f[1], v6);
    const auto remote = endpoint(f[2], v6);
    const auto uid = number<std::uint32_t>(f[7], 10);
    const auto inode = number<std::uint64_t>(f[9], 10);
    if (!local || !remote || !uid || !inode) continue;
    each(TableLine{*local, *remote, f[3], *uid, *inode});
  }
}

}  // namespace

std::vector<ListeningSocket> parse_proc_net(std::string_view text, Proto proto, bool v6) {
  std::vector<ListeningSocket> out;
  for_each_line(text, v6, [&](const TableLine& l) {
    // A connected UDP socket has a remote end: it answers one peer, it does not listen.
    const bool listening =
        proto == Proto::tcp
            ? l.state == kTcpListen
            : l.state == kUdpUnconnected && l.remote.second == 0 && is_wildcard(l.remote.first);
    if (listening) out.push_back({proto, l.local.first, l.local.second, l.uid, l.inode});
  });
  return out;
}

std::vector<TcpConnection> parse_established(std::string_view text, bool v6) {
  std::vector<TcpConnection> out;
  for_each_line(text, v6, [&](const TableLine& l) {
    if (l.state != kTcpEstablished) return;
    out.push_back({l.local.first, l.local.second, l.remote.first, l.remote.second, l.inode});
  });
  return out;
}

std::vector<TcpConnection> parse_connected(std::string_view text, bool v6) {
  // /proc/net/tcp states (include/net/tcp_states.h): 06 TIME_WAIT, 07 CLOSE and 0A LISTEN hold
  // no connection a segment could still belong to; every other state does.
  std::vector<TcpConnection> out;
  for_each_line(text, v6, [&](const TableLine& l) {
    if (l.state == "06" || l.state == "07" || l.state == "0A") return;
    out.push_back({l.local.first, l.local.second, l.remote.first, l.remote.second, l.inode});
  });
  return out;
}

bool is_wildcard(const IpAddress& address) {
  return std::all_of(address.bytes.begin(), address.bytes.begin() + address.size(),
                     [](std::uint8_t b) { return b == 0; });
}

std::optional<PortRange> parse_port_range(std::string_view text) {
  const std::vector<std::string_view> f = fields_of(text.substr(0, text.find('\n')));
  if (f.size() != 2) return std::nullopt;
  const auto first = number<std::uint16_t>(f[0], 10);
  const auto last = number<std::uint16_t>(f[1], 10);
  if (!first || !last || *first > *last) return std::nullopt;
  return PortRange{*first, *last};
}

std::optional<std::uint64_t> socket_inode(std::string_view link) {
  constexpr std::string_view prefix = "socket:[";
  if (!link.starts_with(prefix) || !link.ends_with(']')) return std::nullopt;
  return number<std::uint64_t>(link.substr(prefix.size(), link.size() - prefix.size() - 1), 10);
}

}  // namespace portwall
