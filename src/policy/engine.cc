#include "policy/engine.h"

#include "rules/forward.h"

namespace portwall {
namespace {

// The other end of a tracked flow: its destination if this host opened it, else its source.
const IpAddress& remote_of(const Flow& f) { return f.outbound ? f.key.dst : f.key.src; }

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
  in.interface = hook.direction == Direction::out ? hook.out_interface : hook.in_interface;
  if (hook.direction == Direction::route) in.out_interface = hook.out_interface;
  return in;
}

// Kernel loose pickup (nf_conntrack_tcp_loose): only the ACK class may open a flow mid-stream;
// a FIN or RST without a flow stays invalid.
bool is_syn_ack(const PacketView& p) {
  constexpr std::uint8_t kMask = tcpflag::syn | tcpflag::ack | tcpflag::fin | tcpflag::rst;
  return p.protocol == ipproto::tcp && (p.tcp_flags & kMask) == (tcpflag::syn | tcpflag::ack);
}

bool can_pick_up(const PacketView& p) {
  if (p.protocol != ipproto::tcp) return false;
  const std::uint8_t f = p.tcp_flags;
  return (f & tcpflag::ack) && !(f & (tcpflag::syn | tcpflag::fin | tcpflag::rst));
}

// The decision-log event of a knock outcome.
Event event_of(KnockEvent e) {
  switch (e) {
    case KnockEvent::none:
      return Event::none;
    case KnockEvent::step:
      return Event::knock_step;
    case KnockEvent::opened:
      return Event::knock_open;
    case KnockEvent::failed:
      return Event::knock_fail;
    case KnockEvent::spa_opened:
      return Event::spa_open;
    case KnockEvent::spa_rejected:
      return Event::spa_reject;
    case KnockEvent::spa_replayed:
      return Event::spa_replay;
  }
  return Event::none;
}

}  // namespace

bool is_link_local(const IpAddress& a) {
  return a.family == Family::ipv6 && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80;
}

bool is_neighbour_discovery(const PacketView& p) {
  if (p.family != Family::ipv6 || p.protocol != ipproto::icmpv6 || !p.has_l4) return false;
  // RFC 4861 §6.1.1, §7.1.1: RS 133, RA 134, NS 135, NA 136; valid only with hop limit 255,
  // i.e. never forwarded from off-link. (Redirect, 137, is IcmpPolicy::redirects' business.)
  if (p.icmp_type >= 133 && p.icmp_type <= 136) return p.ttl == 255;
  // MLD (RFC 2710, 3810): query 130, report 131, done 132, v2 report 143, from a link-local
  // source with hop limit 1, as ufw's before6.rules accept them.
  const bool mld =
      p.icmp_type == 130 || p.icmp_type == 131 || p.icmp_type == 132 || p.icmp_type == 143;
  return mld && p.ttl == 1 && is_link_local(p.src);
}

bool is_redirect(const PacketView& p) {
  return p.has_l4 && ((p.protocol == ipproto::icmp && p.icmp_type == 5) ||
                      (p.protocol == ipproto::icmpv6 && p.icmp_type == 137));
}

// A DHCP server's answer to this host's client: udp 67 -> 68, or DHCPv6 from a link-local
// server, 547 -> 546 (ufw's before.rules and before6.rules).
bool is_dhcp_client_reply(const PacketView& p) {
  if (p.protocol != ipproto::udp || !p.has_l4) return false;
  if (p.family == Family::ipv4) return p.src_port == 67 && p.dst_port == 68;
  return p.src_port == 547 && p.dst_port == 546 && is_link_local(p.src);
}

bool is_echo_request(const PacketView& p) {
  return p.has_l4 && ((p.protocol == ipproto::icmp && p.icmp_type == 8) ||
                      (p.protocol == ipproto::icmpv6 && p.icmp_type == 128));
}

Engine::Engine(std::shared_ptr<const PolicySnapshot> policy, EngineOptions options)
    : policy_(std::move(policy)),
      options_(options),
      conntrack_(options.conntrack),
      sources_(options.sources
                   ? options.sources
                   : std::make_shared<SourceTable>(options.max_sources, options.sources_policy)),
      blocks_(options.blocks ? options.blocks : std::make_shared<BlockList>()),
      blocked_log_(options.blocked_log ? options.blocked_log : std::make_shared<BlockedLogGate>()),
      published_(options.published ? options.published : std::make_shared<const PublishedSet>()),
      block_reader_(*blocks_) {
  options_.sources.reset();
  options_.blocks.reset();
  options_.blocked_log.reset();
  options_.published.reset();
  conntrack_.set_on_remove([this](const Flow& f) {
    if (f.counted) sources_->connection_closed(f.key.src);
    if (f.vouches) sources_->unvouch(remote_of(f));
  });
}

bool Engine::should_vouch(const Flow& f) {
  // A routed flow has no remote of this host's: it vouches for nobody.
  return f.key.protocol == ipproto::tcp && f.assured && !f.cut && !f.routed &&
         f.tcp_state == TcpState::established;
}

void Engine::note_vouch(Flow& f) {
  const bool vouch = should_vouch(f);
  if (vouch == f.vouches) return;
  f.vouches = vouch;
  const IpAddress& remote = remote_of(f);
  vouch ? sources_->vouch(remote) : sources_->unvouch(remote);
}

Decision Engine::refused(const PacketView& p, const HookInfo& hook, Timestamp now, Decision d) {
  const bool has_port = p.protocol == ipproto::tcp || p.protocol == ipproto::udp;
  if (hook.direction == Direction::in && has_port &&
      touched_refused(p.src, p.protocol, p.dst_port, now)) {
    return count({Verdict::drop, Reason::scan_block, d.rule_number, true, Event::blocked});
  }
  return count(d);
}

bool Engine::touched_refused(const IpAddress& source, std::uint8_t protocol, std::uint16_t port,
                             Timestamp now) {
  const std::uint8_t length = sources_->note_refused(source, protocol, port, now);
  if (length == 0) return false;
  // Beyond the rate of new scan blocks, or with the list full, the scanner is not blocked; its
  // packets are still judged by the rules, which refused it.
  const BlockAdded added =
      blocks_->add(source, now + sources_->block_duration(), BlockReason::scan, now, length);
  if (added == BlockAdded::refused_rate || added == BlockAdded::refused_full) return false;
  counters_.add(Counter::scan_blocks);
  return true;
}

void Engine::note_closed_port(const PacketView& p, Timestamp now) {
  // The host's own "nothing listens here": a RST answering a SYN it never accepted, or an ICMP
  // port unreachable quoting a UDP datagram. The remote touched a closed port.
  if (p.protocol == ipproto::tcp && (p.tcp_flags & tcpflag::rst)) {
    const Flow* f = conntrack_.lookup(flow_key_of(p), now);
    if (f && f->tcp_state == TcpState::syn_sent && f->key.src == p.dst) {
      touched_refused(p.dst, ipproto::tcp, p.src_port, now);
    }
    return;
  }
  const bool port_unreachable =
      (p.protocol == ipproto::icmp && p.icmp_type == 3 && p.icmp_code == 3) ||
      (p.protocol == ipproto::icmpv6 && p.icmp_type == 1 && p.icmp_code == 4);
  if (port_unreachable && p.has_quoted && p.quoted.protocol == ipproto::udp &&
      p.quoted.src == p.dst) {
    touched_refused(p.quoted.src, ipproto::udp, p.quoted.dst_port, now);
  }
}

Decision Engine::count(Decision d) {
  counters_.add_decision(d.verdict, d.reason);
  switch (d.verdict) {
    case Verdict::accept:
      counters_.add(Counter::accepted);
      break;
    case Verdict::drop:
      counters_.add(Counter::dropped);
      break;
    case Verdict::reject:
      counters_.add(Counter::rejected);
      break;
  }
  return d;
}

Decision Engine::decide_malformed() {
  counters_.add(Counter::received);
  counters_.add(Counter::malformed);
  return count({Verdict::drop, Reason::invalid, 0, true});
}

Decision Engine::decide(const PacketView& p, const HookInfo& given, Timestamp now,
                        const PacketExtras& extras) {
  // In the forward hook both directions of a forwarded connection come by: the one from the
  // forward's destination is the reply direction, which this host's policy sees as outgoing
  // (its remote is the client: blocks and scan detection look at the client, never at the
  // destination).
  // A published connection's reply comes from the container likewise.
  HookInfo oriented;
  const bool reply =
      given.forwarded &&
      (given.published
           ? from_published(*published_->get(), p.protocol, p.src, p.src_port)
           : from_forward_destination(policy_->rule_set().forwards, p.protocol, p.src, p.src_port));
  const HookInfo& hook =
      reply ? (oriented = given, oriented.direction = Direction::out, oriented) : given;
  counters_.add(Counter::received);
  // The kernel reassembles before our hooks (IPv4 always, IPv6 because the diversion rule
  // loads conntrack's defragmentation), so a fragment here is an anomaly: drop it. So is an
  // IPv6 type 0 routing header, whatever its segments left (RFC 5095; ufw's before6.rules).
  if (p.is_fragment || p.routing_type0 ||
      (!p.has_l4 && (p.protocol == ipproto::tcp || p.protocol == ipproto::udp))) {
    return count({Verdict::drop, Reason::invalid, 0, true});
  }
  if (is_neighbour_discovery(p)) return count({Verdict::accept, Reason::default_policy, 0, false});
  // Redirects rewrite the host's routes: refused unless [icmp] redirects = true.
  if (given.direction == Direction::in && is_redirect(p)) {
    const bool allowed = policy_->rule_set().icmp.redirects;
    return count({allowed ? Verdict::accept : Verdict::drop, Reason::default_policy, 0, !allowed});
  }
  // A blocked source: everything from it (and to it) is dropped, open connections included;
  // logged on its first packet, then once a minute with a count.
  // Routed traffic has no local end: a block of either end drops it.
  const IpAddress& remote =
      hook.direction == Direction::in ||
              (hook.direction == Direction::route && block_reader_.contains(p.src, now))
          ? p.src
          : p.dst;
  if (const std::optional<BlockEntry> block = block_reader_.find(remote, now)) {
    const Flow* kept = conntrack_.lookup(flow_key_of(p), now);
    if (!kept || !kept->outlives_block) {
      counters_.add(Counter::scan_blocked);
      const std::uint64_t n = blocked_log_->note(remote, now);
      Decision d{Verdict::drop,
                 block->reason == BlockReason::scan ? Reason::scan_block : Reason::blocked, 0,
                 n > 0};
      d.count = static_cast<std::uint32_t>(std::min<std::uint64_t>(n, UINT32_MAX));
      d.by_feed = block->reason == BlockReason::crowdsec;
      return count(d);
    }
  }

  if (hook.direction == Direction::out) {
    note_closed_port(p, now);
    // An ICMP error the host sends about a packet it received (port unreachable for a closed
    // UDP port or a rejected one, ...): it leaves, as the kernel's RELATED does for ufw.
    if (p.is_icmp_error && p.has_quoted && p.quoted.src == p.dst && p.quoted.dst == p.src) {
      return count({Verdict::accept, Reason::state, 0, false});
    }
  }
  const TrackResult tracked = conntrack_.track(p, now);
  if (Flow* f = tracked.flow;
      f && f->counted && (f->tcp_state == TcpState::time_wait || f->tcp_state == TcpState::close)) {
    // A closed connection no longer counts toward its source's cap (as nf_conncount).
    sources_->connection_closed(f->key.src);
    f->counted = false;
  }
  if (Flow* f = tracked.flow; f && f->key.protocol == ipproto::tcp) note_vouch(*f);
  switch (tracked.state) {
    case TrackState::established:
    case TrackState::related: {
      if (Flow* f = tracked.flow; f && f->cut) {
        // Cut by a rule change or a block: dropped until it ends, its first packet logged.
        f->expires = std::min(f->expires, now + kCutKept);
        const bool log = !f->cut_logged;
        f->cut_logged = true;
        return count({Verdict::drop, f->rule_number ? Reason::rule : Reason::default_policy,
                      f->rule_number, log});
      }
      Decision d{Verdict::accept, Reason::state, tracked.flow ? tracked.flow->rule_number : 0,
                 false};
      // Forwarded and routed connections are never offloaded: the forward hook has no offload
      // rule.
      if (Flow* f = tracked.flow; options_.offload && f && !hook.forwarded &&
                                  hook.direction != Direction::route &&
                                  tracked.state == TrackState::established) {
        const bool settled = f->key.protocol == ipproto::tcp
                                 ? f->tcp_state == TcpState::established && f->assured
                                 : f->replied;
        if (settled) {
          // The kernel passes the rest; a flush of the offload marks (blocks, reloads) brings
          // the connection back, and mid-stream pickup adopts it again if this entry is gone.
          d.offload = true;
          // Its later segments go unseen: if it comes back, its window is stale (as a pickup),
          // and it may end unseen: it may make room for a new flow.
          f->window.liberal = true;
          if (!f->offloaded) conntrack_.mark_offloaded(*f);
        }
      }
      return count(d);
    }
    case TrackState::invalid:  // NULL, XMAS, SYN+FIN ...: stealth probes count as touches
      return refused(p, hook, now, {Verdict::drop, Reason::invalid, 0, true});
    case TrackState::no_flow:  // bare ACK, FIN: another probe, unless picked up
      if (p.is_icmp_error) {
        // It quotes a flow this table does not hold; another queue's may (EngineOptions).
        if (options_.other_queues) {
          Decision ask{Verdict::drop, Reason::invalid, 0, true};
          ask.ask_other_queues = true;
          return ask;
        }
        return count({Verdict::drop, Reason::invalid, 0, true});
      }
      // The host's own reset for a connection it never had (REJECT's answer, or the kernel's
      // for a closed port) says only "no": it leaves whatever the outgoing policy.
      if (hook.direction == Direction::out && p.protocol == ipproto::tcp &&
          (p.tcp_flags & tcpflag::rst)) {
        return count({Verdict::accept, Reason::state, 0, false});
      }
      if (hook.direction == Direction::out && !hook.forwarded && is_syn_ack(p)) {
        return adopt_handshake(p, hook, now);
      }
      if (now < options_.pickup_until && can_pick_up(p)) return pick_up(p, hook, now, extras);
      return refused(p, hook, now, {Verdict::drop, Reason::invalid, 0, true});
    case TrackState::new_flow:
      return judge_new(p, hook, now, false, extras);
  }
  return count({Verdict::drop, Reason::invalid, 0, true});
}

Decision Engine::judge_new(const PacketView& packet, const HookInfo& hook, Timestamp now,
                           bool pickup, const PacketExtras& extras) {
  // A forwarded or redirected connection is judged by the port the client asked for, not by
  // where the forward sends it: rules, knock doors and scan detection all see the public port.
  // The flow is tracked as it really is (after NAT).
  PacketView asked;
  const PacketView& p = (hook.forwarded || hook.redirected) && public_port_of(packet, hook)
                            ? (asked = packet, asked.dst_port = public_port_of(packet, hook), asked)
                            : packet;
  // [icmp]: ping and the DHCP client's answers pass whatever [defaults] say (ufw's
  // before.rules); a ping opens a flow, so that its reply passes by state. A routed ping passes
  // too, as ufw-before-forward lets it.
  if (hook.direction != Direction::out && !pickup) {
    const IcmpPolicy& icmp = policy_->rule_set().icmp;
    if ((icmp.echo_request && is_echo_request(p)) ||
        (hook.direction == Direction::in && icmp.dhcp_client && is_dhcp_client_reply(p))) {
      const Decision d{Verdict::accept, Reason::default_policy, 0, false};
      if (is_echo_request(p) && !open_flow(packet, hook, now, d, false)) {
        return count({Verdict::drop, Reason::table_full, 0, true});
      }
      return count(d);
    }
  }
  const bool inbound_attempt = hook.direction == Direction::in && !pickup &&
                               (p.protocol == ipproto::tcp || p.protocol == ipproto::udp);
  Event knock_event = Event::none;
  std::uint16_t door = 0;
  if (inbound_attempt) {
    // Knocks first: they are dropped and never answered, whatever the rules say of the port.
    const KnockResult k = sources_->knock(p.src, p.dst, p.protocol, p.dst_port, extras.l4_payload,
                                          now, extras.unix_seconds);
    knock_event = event_of(k.event);
    door = k.door;
    if (k.is_knock) {
      counters_.add(Counter::knocks);
      const bool worth_logging = k.event != KnockEvent::none && k.event != KnockEvent::step;
      return count({Verdict::drop, Reason::knock, 0, worth_logging, knock_event, door});
    }
    // A door a knock opened for this source lets it in, whatever the rules say.
    if (const std::size_t opened = sources_->granted(p.src, p.protocol, p.dst_port, now)) {
      Decision d{Verdict::accept,
                 Reason::knock,
                 0,
                 true,
                 Event::none,
                 static_cast<std::uint16_t>(opened - 1)};
      if (Decision limited = admit(p, now, 0, nullptr, d); limited.verdict != Verdict::accept) {
        return count(limited);
      }
      Flow* flow = open_flow(packet, hook, now, d, pickup);
      if (!flow) return count({Verdict::drop, Reason::table_full, 0, true});
      flow->by_knock = true;
      counters_.add(Counter::knock_opened);
      return count(d);
    }
  }
  std::optional<Decision> by_route =
      hook.published ? route_rule_decision(packet, hook) : std::nullopt;
  Decision d = by_route ? *by_route : classify(p, hook, now, pickup);
  if (p.dst_port != packet.dst_port) d.public_port = p.dst_port;
  if (hook.published && !by_route && d.verdict == Verdict::accept) {
    // Several host ports published to the same container port (`-p 80:80 -p 8080:80`): which
    // one the client asked for is not known after the DNAT, so each must be allowed.
    const PolicySnapshot& policy = *policy_;
    for (const PublishedPort& other : *published_->get()) {
      if (other.forward.port == p.dst_port ||
          !leads_to(other, packet.protocol, packet.dst, packet.dst_port)) {
        continue;
      }
      MatchInput in = match_input(p, hook);
      in.dst_port = other.forward.port;
      const std::optional<std::size_t> index = policy.classifier().match(in);
      const Verdict v = index ? verdict_of(policy.rule_set().rules[*index].action)
                              : verdict_of(policy.classifier().default_action(Direction::in));
      if (v != Verdict::accept) {
        d = {v, index ? Reason::rule : Reason::default_policy,
             index ? static_cast<std::uint32_t>(*index + 1) : 0, true};
        d.public_port = other.forward.port;
        break;
      }
    }
  }
  if (knock_event == Event::knock_fail) {
    d.event = knock_event;
    d.door = door;
    d.log = true;
  }
  if (d.verdict != Verdict::accept) {
    // A connection picked up is no attempt of its remote: never a touch toward scan detection.
    const Decision r = pickup ? count(d) : refused(p, hook, now, d);
    if (monitor_ && (r.reason == Reason::rule || r.reason == Reason::default_policy)) {
      open_flow(packet, hook, now, r, pickup);
    }
    return r;
  }
  if (!open_flow(packet, hook, now, d, pickup))
    return count({Verdict::drop, Reason::table_full, d.rule_number, true});
  if (pickup) counters_.add(Counter::picked_up);
  return count(d);
}

void Engine::open_pickup(Timestamp until, std::shared_ptr<const LocalSockets> sockets) {
  options_.pickup_until = std::max(options_.pickup_until, until);
  if (sockets) options_.sockets = std::move(sockets);
}

Decision Engine::pick_up(const PacketView& p, const HookInfo& hook, Timestamp now,
                         const PacketExtras& extras) {
  if (hook.forwarded || hook.direction == Direction::route || !options_.sockets) {
    return judge_new(p, hook, now, true, extras);
  }
  const bool arriving = hook.direction == Direction::in;
  const IpAddress& local = arriving ? p.dst : p.src;
  const IpAddress& remote = arriving ? p.src : p.dst;
  const std::uint16_t local_port = arriving ? p.dst_port : p.src_port;
  const std::uint16_t remote_port = arriving ? p.src_port : p.dst_port;
  if (!options_.sockets->connected(local, local_port, remote, remote_port)) {
    return refused(p, hook, now, {Verdict::drop, Reason::invalid, 0, true});
  }
  const bool inbound = options_.sockets->listening(local, local_port);
  if (inbound == arriving) return judge_new(p, hook, now, true, extras);
  // It travels against its connection: judged, and its flow tracked, from the other side.
  PacketView opener = p;
  std::swap(opener.src, opener.dst);
  std::swap(opener.src_port, opener.dst_port);
  opener.seq = p.ack;
  opener.ack = p.seq;
  HookInfo turned = hook;
  turned.direction = inbound ? Direction::in : Direction::out;
  std::swap(turned.in_interface, turned.out_interface);
  return judge_new(opener, turned, now, true, extras);
}

std::optional<Decision> Engine::related_decision(const PacketView& p, Timestamp now) const {
  const Flow* f = conntrack_.related_flow(p, now);
  if (!f) return std::nullopt;
  if (f->cut) {
    return Decision{Verdict::drop, f->rule_number ? Reason::rule : Reason::default_policy,
                    f->rule_number, false};
  }
  return Decision{Verdict::accept, Reason::state, f->rule_number, false};
}

Decision Engine::settle_related(const std::optional<Decision>& found) {
  return count(found ? *found : Decision{Verdict::drop, Reason::invalid, 0, true});
}

// The host answers a SYN (its SYN/ACK leaves) whose flow is gone: evicted while the answer was
// on its way (under a flood, the table turns over faster than a handshake through the queue),
// or never made (the SYN passed a full queue with fail-open). The host saw that SYN, so the
// connection is judged as the SYN would have been: by the rules for the remote reaching this
// port (limits aside: the SYN met them); never a scan touch, it is this host's own packet.
Decision Engine::adopt_handshake(const PacketView& p, const HookInfo& hook, Timestamp now) {
  PacketView syn = p;
  std::swap(syn.src, syn.dst);
  std::swap(syn.src_port, syn.dst_port);
  syn.tcp_flags = tcpflag::syn;
  syn.seq = p.ack - 1;
  syn.ack = 0;
  syn.window = 0;
  syn.window_scale = 0xff;
  HookInfo in = hook;
  in.direction = Direction::in;
  in.in_interface = hook.out_interface;
  in.out_interface = {};
  const Decision d = classify(syn, in, now, true);
  if (d.verdict != Verdict::accept) return count({Verdict::drop, d.reason, d.rule_number, d.log});
  Flow* flow = open_flow(syn, in, now, d, false);
  if (!flow) return count({Verdict::drop, Reason::table_full, d.rule_number, true});
  flow->window.liberal = true;  // the SYN's window and options are not known
  conntrack_.track(p, now);     // the SYN/ACK itself: SYN_RECV, answered
  counters_.add(Counter::picked_up);
  return count({Verdict::accept, Reason::state, d.rule_number, false});
}

Decision Engine::admit(const PacketView& p, Timestamp now, std::uint64_t limit_key,
                       const Rate* rule_rate, const Decision& d) {
  const std::uint32_t rule_number = d.rule_number;
  switch (sources_->admit(p.src, limit_key, rule_rate, now, &counted_inbound_)) {
    case Admission::admitted:
      return d;
    case Admission::rule_rate:
      counters_.add(Counter::rate_limited);
      return {Verdict::drop, Reason::rate_limit, rule_number, true, Event::rule_rate};
    case Admission::source_rate:
      counters_.add(Counter::rate_limited);
      return {Verdict::drop, Reason::rate_limit, rule_number, true, Event::source_rate};
    case Admission::source_flows:
      counters_.add(Counter::rate_limited);
      return {Verdict::drop, Reason::rate_limit, rule_number, true, Event::source_flows};
  }
  return d;
}

Flow* Engine::open_flow(const PacketView& p, const HookInfo& hook, Timestamp now, const Decision& d,
                        bool pickup) {
  Flow* flow = conntrack_.open(p, now, d.rule_number, pickup);
  if (!flow) {
    counters_.add(Counter::table_full);
    if (counted_inbound_) sources_->connection_closed(p.src);
    counted_inbound_ = false;
    return nullptr;
  }
  flow->counted = counted_inbound_;
  counted_inbound_ = false;
  flow->outbound = hook.direction == Direction::out;
  flow->routed = hook.direction == Direction::route;
  flow->forwarded = hook.forwarded;
  flow->redirected = hook.redirected;
  flow->published = hook.published;
  flow->interface_id =
      interface_id(hook.direction == Direction::out ? hook.out_interface : hook.in_interface);
  if (flow->routed || flow->published) flow->out_interface_id = interface_id(hook.out_interface);
  return flow;
}

std::uint16_t Engine::public_port_of(const PacketView& p, const HookInfo& hook) const {
  if (hook.direction != Direction::in) return 0;
  if (hook.published) {
    const PublishedPort* port = published_of(*published_->get(), p.protocol, p.dst, p.dst_port);
    return port ? port->forward.port : 0;
  }
  const Forward* f =
      forward_of(policy_->rule_set().forwards, p.protocol, p.dst, p.dst_port, hook.redirected);
  return f ? f->port : 0;
}

std::optional<Decision> Engine::route_rule_decision(const PacketView& p, const HookInfo& hook) {
  const PolicySnapshot& policy = *policy_;
  HookInfo routed = hook;
  routed.direction = Direction::route;
  const std::optional<std::size_t> index = policy.classifier().match(match_input(p, routed));
  if (!index) return std::nullopt;
  const Rule& rule = policy.rule_set().rules[*index];
  Decision d;
  d.rule_number = static_cast<std::uint32_t>(*index + 1);
  d.reason = Reason::rule;
  d.verdict = verdict_of(rule.action);
  d.log = d.verdict != Verdict::accept || rule.log;
  policy.count_hit(d.rule_number, p.ip_length);
  return d;
}

std::uint8_t Engine::interface_id(std::string_view name) {
  if (name.empty()) return 0;
  for (std::size_t i = 0; i < interfaces_.size(); ++i) {
    if (interfaces_[i] == name) return static_cast<std::uint8_t>(i + 1);
  }
  if (interfaces_.size() + 1 >= kUnknownInterface) return kUnknownInterface;
  interfaces_.emplace_back(name);
  return static_cast<std::uint8_t>(interfaces_.size());
}

std::vector<HandedFlow> Engine::hand_over(Timestamp now) const {
  std::vector<HandedFlow> out;
  conntrack_.for_each([&](const Flow& f) {
    if (f.expires <= now) return;
    auto name = [&](std::uint8_t id) {
      return id != 0 && id != kUnknownInterface ? interfaces_[id - 1] : std::string();
    };
    out.push_back({f, name(f.interface_id), name(f.out_interface_id)});
  });
  return out;
}

std::size_t Engine::take_over(const std::vector<HandedFlow>& flows, Timestamp now) {
  std::size_t taken = 0;
  for (const HandedFlow& h : flows) {
    Flow f = h.flow;
    f.interface_id = interface_id(h.interface);
    f.out_interface_id = f.routed || f.published ? interface_id(h.out_interface) : 0;
    f.vouches = should_vouch(f);  // the source table starts empty in the new image
    const bool restored = conntrack_.restore(f, now);
    if (restored && f.vouches) sources_->vouch(remote_of(f));
    taken += restored;
  }
  return taken;
}

RecheckResult Engine::recheck(Timestamp now, Denied denied, const std::optional<Cidr>& spared) {
  RecheckResult result;
  const PolicySnapshot& policy = *policy_;
  conntrack_.update_each([&](Flow& f) {
    if (f.by_knock || f.interface_id == kUnknownInterface || f.expires <= now) return;
    // A TCP connection already closed is not cut again (its entry only waits out TIME_WAIT).
    if (f.key.protocol == ipproto::tcp &&
        (f.tcp_state == TcpState::time_wait || f.tcp_state == TcpState::close)) {
      return;
    }
    MatchInput in;
    in.direction = f.routed ? Direction::route : f.outbound ? Direction::out : Direction::in;
    in.protocol = f.key.protocol;
    in.src = f.key.src;
    in.dst = f.key.dst;
    if (f.key.protocol == ipproto::tcp || f.key.protocol == ipproto::udp) {
      in.src_port = f.key.src_port;
      in.dst_port = f.key.dst_port;
    }
    if (f.interface_id) in.interface = interfaces_[f.interface_id - 1];
    if ((f.routed || f.published) && f.out_interface_id == kUnknownInterface) return;
    if (f.out_interface_id) in.out_interface = interfaces_[f.out_interface_id - 1];
    std::optional<std::size_t> index;
    if (f.published) {
      // As judge_new: a route rule about the container first, else the host's public port.
      MatchInput routed = in;
      routed.direction = Direction::route;
      index = policy.classifier().match(routed);
      if (!index) {
        if (const PublishedPort* port =
                published_of(*published_->get(), f.key.protocol, f.key.dst, f.key.dst_port)) {
          in.dst_port = port->forward.port;
        }
        in.out_interface = {};
      }
    } else if (!f.outbound && (f.forwarded || f.redirected)) {
      if (const Forward* forward = forward_of(policy.rule_set().forwards, f.key.protocol, f.key.dst,
                                              f.key.dst_port, f.redirected)) {
        in.dst_port = forward->port;
      }
    }
    if (!index) index = policy.classifier().match(in);
    const Verdict verdict = index ? verdict_of(policy.rule_set().rules[*index].action)
                                  : verdict_of(policy.classifier().default_action(in.direction));
    const std::uint32_t rule_number = index ? static_cast<std::uint32_t>(*index + 1) : 0;
    const IpAddress& remote = remote_of(f);
    const bool blocked =
        block_reader_.contains(remote, now) || (f.routed && block_reader_.contains(f.key.dst, now));
    if (!blocked) f.outlives_block = false;  // a later block of its remote decides anew
    const bool rules_deny = verdict != Verdict::accept;
    if (!rules_deny) f.kept = false;  // allowed again: nothing to keep it from
    const bool block_denies = blocked && !f.outlives_block;
    // A flow kept with --keep-established is denied only by a block.
    if (!block_denies && (!rules_deny || f.kept)) {
      if (!rules_deny) f.rule_number = rule_number;
      if (f.cut) {
        // Its packets were dropped meanwhile: the windows may be stale, as after a pickup.
        f.cut = f.cut_logged = false;
        f.window.liberal = true;
        ++result.restored;
      }
      return;
    }
    if (f.cut) return;
    if (denied == Denied::leave) {
      if (rules_deny) ++result.kept;  // a blocked one is dropped by its block anyway
      return;
    }
    const bool spare = blocked && spared && spared->contains(remote);
    if (denied == Denied::keep && (!block_denies || spare)) {
      f.kept = f.kept || rules_deny;
      f.outlives_block = f.outlives_block || spare;
      ++result.kept;
      return;
    }
    f.cut = true;
    f.cut_logged = false;
    note_vouch(f);
    f.rule_number = block_denies ? 0 : rule_number;
    f.expires = std::min(f.expires, now + kCutKept);
    result.cut.push_back(f.key);
  });
  return result;
}

Decision Engine::classify(const PacketView& p, const HookInfo& hook, Timestamp now, bool pickup) {
  const PolicySnapshot& policy = *policy_;
  const std::optional<std::size_t> index = policy.classifier().match(match_input(p, hook));
  Decision d;
  const Rule* rule = nullptr;
  if (index) {
    rule = &policy.rule_set().rules[*index];
    d.rule_number = static_cast<std::uint32_t>(*index + 1);
    d.reason = Reason::rule;
    d.verdict = verdict_of(rule->action);
    d.log = d.verdict != Verdict::accept || rule->log;
    policy.count_hit(d.rule_number, p.ip_length);
  } else {
    d.reason = Reason::default_policy;
    d.verdict = verdict_of(policy.classifier().default_action(hook.direction));
    d.log = d.verdict != Verdict::accept;
  }
  // Limits apply to new inbound connections the policy accepts; a flow picked up mid-stream
  // is not a new connection attempt. `limit` rules default to ufw's 6 per 30 s.
  // Routed connections: only a `route limit` rule's rate (the per-source caps are this host's).
  if (d.verdict != Verdict::accept || hook.direction == Direction::out || pickup) return d;
  if (hook.direction == Direction::route && !(rule && rule->action == Action::limit)) return d;
  const Rate* rate = nullptr;
  std::uint64_t limit_key = 0;
  if (rule && rule->action == Action::limit) {
    rate = rule->rate.count ? &rule->rate : &kUfwLimit;
    limit_key = policy.limit_key(d.rule_number);
  }
  return admit(p, now, limit_key, rate, d);
}

}  // namespace portwall
