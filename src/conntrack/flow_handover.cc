#include "conntrack/flow_handover.h"

#include <charconv>
#include <sstream>

namespace portwall {
namespace {

constexpr std::string_view kVersion = "portwall-flows 1";

// The marks of a flow, one letter each when set (set_marks reads them back).
std::string marks_of(const Flow& f) {
  std::string out;
  for (const auto& [letter, set] :
       {std::pair{'r', f.replied}, std::pair{'a', f.assured}, std::pair{'p', f.picked_up},
        std::pair{'o', bool{f.outbound}}, std::pair{'n', bool{f.by_knock}},
        std::pair{'k', bool{f.cut}}, std::pair{'c', bool{f.cut_logged}},
        std::pair{'l', bool{f.outlives_block}}, std::pair{'f', bool{f.forwarded}},
        std::pair{'d', bool{f.redirected}}, std::pair{'K', bool{f.kept}},
        std::pair{'O', bool{f.offloaded}}, std::pair{'R', bool{f.routed}},
        std::pair{'P', bool{f.published}}}) {
    if (set) out += letter;
  }
  return out.empty() ? "-" : out;
}

void set_marks(Flow& f, std::string_view marks) {
  auto has = [&](char c) { return marks.find(c) != std::string_view::npos; };
  f.replied = has('r');
  f.assured = has('a');
  f.picked_up = has('p');
  f.outbound = has('o');
  f.by_knock = has('n');
  f.cut = has('k');
  f.cut_logged = has('c');
  f.outlives_block = has('l');
  f.forwarded = has('f');
  f.redirected = has('d');
  f.kept = has('K');
  f.offloaded = has('O');
  f.routed = has('R');
  f.published = has('P');
}

template <typename T>
bool number(std::string_view text, T* out) {
  const auto r = std::from_chars(text.data(), text.data() + text.size(), *out);
  return r.ec == std::errc() && r.ptr == text.data() + text.size();
}

std::vector<std::string_view> words_of(std::string_view line) {
  std::vector<std::string_view> out;
  while (!line.empty()) {
    const std::size_t space = line.find(' ');
    out.push_back(line.substr(0, space));
    if (space == std::string_view::npos) break;
    line.remove_prefix(space + 1);
  }
  return out;
}

}  // namespace

std::string encode_flows(const std::vector<HandedFlow>& flows, Timestamp now) {
  std::ostringstream out;
  out << kVersion << '\n';
  for (const HandedFlow& h : flows) {
    const Flow& f = h.flow;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(f.expires - now).count();
    if (left <= 0) continue;
    out << unsigned{f.key.protocol} << ' ' << to_string(f.key.src) << ' ' << f.key.src_port << ' '
        << to_string(f.key.dst) << ' ' << f.key.dst_port << ' '
        << static_cast<unsigned>(f.tcp_state) << ' ' << marks_of(f) << ' ' << f.rule_number << ' '
        << f.packets[0] << ' ' << f.packets[1] << ' ' << f.bytes[0] << ' ' << f.bytes[1] << ' '
        << left << ' ' << (h.interface.empty() ? "-" : h.interface);
    // A routed flow's outgoing interface: a 15th word (an image without it reads 14).
    if (f.routed || f.published) out << ' ' << (h.out_interface.empty() ? "-" : h.out_interface);
    out << '\n';
  }
  return out.str();
}

std::vector<HandedFlow> decode_flows(std::string_view text, Timestamp now, std::size_t most) {
  std::vector<HandedFlow> out;
  const std::size_t first = text.find('\n');
  if (text.substr(0, first) != kVersion || first == std::string_view::npos) return out;
  text.remove_prefix(first + 1);
  while (!text.empty() && out.size() < most) {
    const std::size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    const std::vector<std::string_view> w = words_of(line);
    if (w.size() != 14 && w.size() != 15) continue;
    HandedFlow h;
    Flow& f = h.flow;
    unsigned protocol = 0, state = 0;
    long long left = 0;
    auto src = parse_ip_address(w[1]);
    auto dst = parse_ip_address(w[3]);
    if (!number(w[0], &protocol) || protocol > 255 || !src || !dst || src->family != dst->family ||
        !number(w[2], &f.key.src_port) || !number(w[4], &f.key.dst_port) || !number(w[5], &state) ||
        state > static_cast<unsigned>(TcpState::syn_sent2) || !number(w[7], &f.rule_number) ||
        !number(w[8], &f.packets[0]) || !number(w[9], &f.packets[1]) ||
        !number(w[10], &f.bytes[0]) || !number(w[11], &f.bytes[1]) || !number(w[12], &left) ||
        left <= 0) {
      continue;
    }
    f.key.protocol = static_cast<std::uint8_t>(protocol);
    f.key.src = *src;
    f.key.dst = *dst;
    f.tcp_state = static_cast<TcpState>(state);
    set_marks(f, w[6] == "-" ? std::string_view{} : w[6]);
    f.expires = now + std::chrono::milliseconds(left);
    f.last_seen = now;
    if (w[13] != "-") h.interface = std::string(w[13]);
    if (w.size() == 15 && w[14] != "-") h.out_interface = std::string(w[14]);
    out.push_back(std::move(h));
  }
  return out;
}

}  // namespace portwall
