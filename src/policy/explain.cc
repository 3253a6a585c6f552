#include "policy/explain.h"

#include <charconv>

#include "rules/rule_grammar.h"

namespace portwall {
namespace {

std::string q(std::string_view w) { return "\"" + std::string(w) + "\""; }

// "192.0.2.1:22", "192.0.2.1", "[2001:db8::1]:22", "2001:db8::1".
std::expected<std::pair<IpAddress, std::uint16_t>, std::string> endpoint(const std::string& w,
                                                                         bool has_ports) {
  std::string host = w, port;
  if (!w.empty() && w[0] == '[') {
    const auto close = w.find(']');
    if (close == std::string::npos) return std::unexpected("missing ] in " + q(w));
    host = w.substr(1, close - 1);
    if (close + 1 < w.size()) {
      if (w[close + 1] != ':') return std::unexpected("expected [ADDRESS]:PORT, got " + q(w));
      port = w.substr(close + 2);
    }
  } else if (std::count(w.begin(), w.end(), ':') == 1) {
    host = w.substr(0, w.find(':'));
    port = w.substr(w.find(':') + 1);
  }
  auto address = parse_ip_address(host);
  if (!address) return std::unexpected("expected an address (with :PORT), got " + q(w));
  std::uint16_t number = 0;
  if (!port.empty()) {
    unsigned value = 0;
    auto [rest, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || rest != port.data() + port.size() || value < 1 || value > 65535) {
      return std::unexpected("port must be 1-65535, got " + q(port));
    }
    number = static_cast<std::uint16_t>(value);
  }
  if (has_ports && number == 0)
    return std::unexpected("tcp and udp need ADDRESS:PORT, got " + q(w));
  return std::pair{*address, number};
}

}  // namespace

FlowKey Probe::key() const {
  return {input.protocol, input.src, input.dst, input.src_port, input.dst_port};
}

std::expected<Probe, std::string> parse_probe(std::span<const std::string> w) {
  const std::string usage =
      "expected PROTO SRC[:PORT] ->|to DST[:PORT] [in|out|route] [on IFACE] [out on IFACE]";
  // An unquoted -> is "-" and a redirection to a file named after the destination: say so.
  if (w.size() >= 3 && w[2] == "-") {
    return std::unexpected(std::string(
        "the shell took the > of an unquoted -> as a redirection (the output went to a file "
        "named after the destination): write to instead, or '->' in quotes"));
  }
  // "to" is the arrow a shell leaves alone.
  if (w.size() < 4 || (w[2] != "->" && w[2] != "to")) return std::unexpected(usage);
  Probe p;
  if (w[0] == "tcp")
    p.input.protocol = ipproto::tcp;
  else if (w[0] == "udp")
    p.input.protocol = ipproto::udp;
  else if (w[0] == "icmp")
    p.input.protocol = ipproto::icmp;
  else
    return std::unexpected("protocol must be tcp, udp or icmp, got " + q(w[0]));
  const bool ports = p.input.protocol != ipproto::icmp;
  auto src = endpoint(w[1], ports);
  if (!src) return std::unexpected(src.error());
  auto dst = endpoint(w[3], ports);
  if (!dst) return std::unexpected(dst.error());
  if (src->first.family != dst->first.family) {
    return std::unexpected(std::string("source and destination must both be IPv4 or both IPv6"));
  }
  if (p.input.protocol == ipproto::icmp && src->first.family == Family::ipv6) {
    p.input.protocol = ipproto::icmpv6;
  }
  p.input.src = src->first;
  p.input.src_port = src->second;
  p.input.dst = dst->first;
  p.input.dst_port = dst->second;
  std::size_t i = 4;
  if (i < w.size() && (w[i] == "in" || w[i] == "out" || w[i] == "route")) {
    p.input.direction = w[i] == "in"    ? Direction::in
                        : w[i] == "out" ? Direction::out
                                        : Direction::route;
    ++i;
  }
  if (i < w.size() && w[i] == "on") {
    if (i + 1 >= w.size()) return std::unexpected(std::string("on needs an interface name"));
    p.interface = w[i + 1];
    i += 2;
  }
  // A routed packet's outgoing interface: `route on eth0 out on br0`.
  if (p.input.direction == Direction::route && i + 1 < w.size() && w[i] == "out" &&
      w[i + 1] == "on") {
    if (i + 2 >= w.size()) return std::unexpected(std::string("out on needs an interface name"));
    p.out_interface = w[i + 2];
    i += 3;
  }
  if (i != w.size()) return std::unexpected("unexpected " + q(w[i]) + "; " + usage);
  return p;
}

Explanation explain(const PolicySnapshot& policy, const Probe& probe,
                    const std::optional<TrackedFlow>& tracked, const DefenseFacts& defenses) {
  Explanation e;
  MatchInput input = probe.input;
  input.interface = probe.interface;
  input.out_interface = probe.out_interface;
  if (input.direction == Direction::route && !policy.rule_set().judges_routed()) {
    e.decision = {Verdict::accept, Reason::default_policy, 0, false};
    e.why =
        "routed traffic is not judged (no route rule and no [defaults] routed): portwalld "
        "never sees it, and the kernel's FORWARD chain decides";
    return e;
  }
  // As the packet path: a block drops everything but a connection kept through it, and a cut
  // connection is dropped whatever the rules say now.
  const bool kept_through_block = tracked && tracked->outlives_block;
  if (!defenses.blocked.empty() && !kept_through_block) {
    e.decision = {Verdict::drop, defenses.blocked_by_hand ? Reason::blocked : Reason::scan_block, 0,
                  false};
    e.why = defenses.blocked + ": every packet is dropped, open connections too";
    return e;
  }
  if (tracked) {
    const std::string connection =
        tracked->state ? std::string(" (") + to_string(*tracked->state) + ")" : std::string();
    if (tracked->cut) {
      const std::uint32_t rule = tracked->rule_number;
      e.decision = {Verdict::drop, rule ? Reason::rule : Reason::default_policy, rule, false};
      e.why = "it belongs to a connection" + connection + " cut when the policy changed (" +
              (rule ? "rule " + std::to_string(rule) + " denied it"
                    : std::string("the default policy or a block denied it")) +
              "): its packets are dropped until it ends";
      return e;
    }
    e.decision = {Verdict::accept, Reason::state, 0, false};
    e.why = "it belongs to a tracked connection" + connection;
    e.why += kept_through_block && !defenses.blocked.empty()
                 ? ", kept through the block (" + defenses.blocked + ")"
                 : std::string(", which passes by state whatever the rules say");
    return e;
  }
  if (!defenses.knock_port.empty()) {
    e.decision = {Verdict::drop, Reason::knock, 0, false};
    e.why = "the port is a knock of [[knock]] \"" + defenses.knock_port +
            "\": dropped silently, whatever the rules say";
    return e;
  }
  if (!defenses.opened_by.empty()) {
    e.decision = {Verdict::accept, Reason::knock, 0, true};
    e.why = "[[knock]] \"" + defenses.opened_by + "\" opened the port for this source";
  }
  const Classifier& c = policy.classifier();
  if (auto index = c.match(input); index && defenses.opened_by.empty()) {
    const Rule& rule = policy.rule_set().rules[*index];
    const Verdict v = verdict_of(rule.action);
    e.decision = {v, Reason::rule, static_cast<std::uint32_t>(*index + 1), rule.log};
    e.rule = rule_words(rule);
    e.why = "rule " + std::to_string(*index + 1) + " is the first that matches (" +
            rule.origin.file + ":" + std::to_string(rule.origin.line) + ")";
  } else if (defenses.opened_by.empty()) {
    const Action a = c.default_action(input.direction);
    const Verdict v = a == Action::allow    ? Verdict::accept
                      : a == Action::reject ? Verdict::reject
                                            : Verdict::drop;
    e.decision = {v, Reason::default_policy, 0, v != Verdict::accept};
    e.why = std::string("no rule matches, so the default ") +
            (input.direction == Direction::in    ? "incoming"
             : input.direction == Direction::out ? "outgoing"
                                                 : "routed") +
            " policy (" + to_string(a) + ") decides";
  }
  if (e.decision.verdict == Verdict::accept && !defenses.limits_note.empty()) {
    e.why += "; " + defenses.limits_note;
  }
  if (e.decision.verdict == Verdict::accept && !defenses.limit.empty()) {
    e.decision = {Verdict::drop, Reason::rate_limit, e.decision.rule_number, true};
    e.why += "; but right now " + defenses.limit + ", so a new connection is dropped";
  }
  return e;
}

}  // namespace portwall
