#include "policy/engine.h"

namespace portwall {
namespace {

MatchInput match_input(const PacketView& p, const HookInfo& hook) {
  MatchInput in;
  in.direction = hook.direction;
  in.protocol = p.protocol;
  in.src = p.src;
  in.dst = p.dst;
  if (p.protocol == ipproto::tcp || p.protocol == ipproto::udp) {
    in.src_port = p.src_port;
    in.dst_port = p.dst_port;
  }
  in.interface = hook.direction == Direction::in ? hook.in_interface : hook.out_interface;
  return in;
}

// Kernel loose pickup (nf_conntrack_tcp_loose): only the ACK class may open a flow mid-stream;
// a FIN or RST without a flow stays invalid.
bool can_pick_up(const PacketView& p) {
  if (p.protocol != ipproto::tcp) return false;
  const std::uint8_t f = p.tcp_flags;
  return (f & tcpflag::ack) && !(f & (tcpflag::syn | tcpflag::fin | tcpflag::rst));
}

}  // namespace

bool is_neighbour_discovery(const PacketView& p) {
  // RFC 4861 §6.1.1, §7.1.1: RS 133, RA 134, NS 135, NA 136, redirect 137; valid only with
  // hop limit 255, i.e. never forwarded from off-link.
  return p.family == Family::ipv6 && p.protocol == ipproto::icmpv6 && p.has_l4 &&
         p.icmp_type >= 133 && p.icmp_type <= 137 && p.ttl == 255;
}

Engine::Engine(std::shared_ptr<const PolicySnapshot> policy, EngineOptions options)
    : policy_(std::move(policy)),
      options_(options),
      conntrack_(options.conntrack),
      sources_(options.max_sources, LimitPolicy{}, options.scan) {}

Decision Engine::refused(const PacketView& p, const HookInfo& hook, Timestamp now, Decision d) {
  const bool has_port = p.protocol == ipproto::tcp || p.protocol == ipproto::udp;
  if (hook.direction == Direction::in && has_port &&
      sources_.note_refused(p.src, p.protocol, p.dst_port, now)) {
    counters_.scan_blocks.fetch_add(1, std::memory_order_relaxed);
    return count({Verdict::drop, Reason::scan_block, d.rule_number, true});
  }
  return count(d);
}

Decision Engine::count(Decision d) {
  switch (d.verdict) {
    case Verdict::accept:
      counters_.accepted.fetch_add(1, std::memory_order_relaxed);
      break;
    case Verdict::drop:
      counters_.dropped.fetch_add(1, std::memory_order_relaxed);
      break;
    case Verdict::reject:
      counters_.rejected.fetch_add(1, std::memory_order_relaxed);
      break;
  }
  return d;
}

Decision Engine::decide_malformed() {
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  counters_.malformed.fetch_add(1, std::memory_order_relaxed);
  return count({Verdict::drop, Reason::invalid, 0, true});
}

Decision Engine::decide(const PacketView& p, const HookInfo& hook, Timestamp now) {
  counters_.received.fetch_add(1, std::memory_order_relaxed);
  // The kernel reassembles before our hooks (IPv4 always, IPv6 because the diversion rule
  // loads conntrack's defragmentation), so a fragment here is an anomaly: drop it.
  if (p.is_fragment || (!p.has_l4 && (p.protocol == ipproto::tcp || p.protocol == ipproto::udp))) {
    return count({Verdict::drop, Reason::invalid, 0, true});
  }
  if (is_neighbour_discovery(p)) return count({Verdict::accept, Reason::default_policy, 0, false});
  // A blocked scanner: everything from it (and to it) is dropped, open connections included.
  if (sources_.is_blocked(hook.direction == Direction::in ? p.src : p.dst, now)) {
    counters_.scan_blocked.fetch_add(1, std::memory_order_relaxed);
    return count({Verdict::drop, Reason::scan_block, 0, false});
  }

  const TrackResult tracked = conntrack_.track(p, now);
  switch (tracked.state) {
    case TrackState::established:
    case TrackState::related:
      return count(
          {Verdict::accept, Reason::state, tracked.flow ? tracked.flow->rule_number : 0, false});
    case TrackState::invalid:  // NULL, XMAS, SYN+FIN ...: stealth probes count as touches
      return refused(p, hook, now, {Verdict::drop, Reason::invalid, 0, true});
    case TrackState::no_flow:  // bare ACK, FIN: another probe, unless picked up
      if (now < options_.pickup_until && can_pick_up(p)) return judge_new(p, hook, now, true);
      return refused(p, hook, now, {Verdict::drop, Reason::invalid, 0, true});
    case TrackState::new_flow:
      return judge_new(p, hook, now, false);
  }
  return count({Verdict::drop, Reason::invalid, 0, true});
}

Decision Engine::judge_new(const PacketView& p, const HookInfo& hook, Timestamp now, bool pickup) {
  const PolicySnapshot& policy = *policy_;
  const std::optional<std::size_t> index = policy.classifier().match(match_input(p, hook));
  Decision d;
  if (index) {
    const Rule& rule = policy.rule_set().rules[*index];
    d.rule_number = static_cast<std::uint32_t>(*index + 1);
    d.reason = Reason::rule;
    d.verdict = verdict_of(rule.action);
    d.log = d.verdict != Verdict::accept || rule.log;
    policy.count_hit(d.rule_number, p.ip_length);
    // ufw's `limit`: allowed, but not more than 6 new connections per source in 30 s. A flow
    // picked up mid-stream is not a new connection attempt.
    if (rule.action == Action::limit && !pickup &&
        !sources_.allow_new_connection(p.src, d.rule_number, now)) {
      counters_.rate_limited.fetch_add(1, std::memory_order_relaxed);
      return count({Verdict::drop, Reason::rate_limit, d.rule_number, true});
    }
  } else {
    d.reason = Reason::default_policy;
    d.verdict = verdict_of(policy.classifier().default_action(hook.direction));
    d.log = d.verdict != Verdict::accept;
  }
  if (d.verdict != Verdict::accept) return refused(p, hook, now, d);
  if (!conntrack_.open(p, now, d.rule_number, pickup)) {
    counters_.table_full.fetch_add(1, std::memory_order_relaxed);
    return count({Verdict::drop, Reason::invalid, d.rule_number, true});
  }
  if (pickup) counters_.picked_up.fetch_add(1, std::memory_order_relaxed);
  return count(d);
}

}  // namespace portwall
