// conn_tracker.cc — see conn_tracker.h. Storage: Flow nodes in chunks of stable addresses with
// a free list, indexed by both directions' keys (as the kernel hashes every entry twice), and
// an intrusive list of unreplied flows in creation order, whose head is the eviction victim.
#include "conntrack/conn_tracker.h"

#include <cstring>
#include <unordered_map>
#include <vector>

#include "conntrack/tcp_state.h"

namespace portwall {
namespace {

constexpr std::size_t kChunk = 1024;

bool is_echo_request(const PacketView& p) {
  return (p.protocol == ipproto::icmp && p.icmp_type == 8) ||
         (p.protocol == ipproto::icmpv6 && p.icmp_type == 128);
}
bool is_echo_reply(const PacketView& p) {
  return (p.protocol == ipproto::icmp && p.icmp_type == 0) ||
         (p.protocol == ipproto::icmpv6 && p.icmp_type == 129);
}
bool is_icmp(std::uint8_t protocol) {
  return protocol == ipproto::icmp || protocol == ipproto::icmpv6;
}

}  // namespace

std::size_t FlowKeyHash::operator()(const FlowKey& k) const noexcept {
  // FNV-1a over the fields; the addresses dominate, ports and protocol mixed in.
  std::uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const std::uint8_t* data, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) h = (h ^ data[i]) * 1099511628211ull;
  };
  mix(k.src.bytes.data(), k.src.size());
  mix(k.dst.bytes.data(), k.dst.size());
  const std::uint8_t rest[5] = {
      k.protocol, static_cast<std::uint8_t>(k.src_port >> 8), static_cast<std::uint8_t>(k.src_port),
      static_cast<std::uint8_t>(k.dst_port >> 8), static_cast<std::uint8_t>(k.dst_port)};
  mix(rest, sizeof rest);
  return static_cast<std::size_t>(h);
}

FlowKey flow_key_of(const PacketView& p) {
  FlowKey k{p.protocol, p.src, p.dst, 0, 0};
  if (p.protocol == ipproto::tcp || p.protocol == ipproto::udp ||
      (is_icmp(p.protocol) && (is_echo_request(p) || is_echo_reply(p)))) {
    k.src_port = p.src_port;
    k.dst_port = p.dst_port;
  }
  return k;
}

const char* to_string(TrackState state) {
  switch (state) {
    case TrackState::new_flow:
      return "new";
    case TrackState::no_flow:
      return "no-flow";
    case TrackState::established:
      return "established";
    case TrackState::related:
      return "related";
    case TrackState::invalid:
      return "invalid";
  }
  return "?";
}

struct ConnTracker::Impl {
  struct Node {
    Flow flow;
    bool in_use = false;
    bool unreplied_listed = false;
    Node* prev = nullptr;  // unreplied list, or the free list (next only)
    Node* next = nullptr;
  };
  struct Slot {
    Node* node;
    FlowDirection direction;
  };

  explicit Impl(ConntrackLimits l) : limits(l) {
    index.reserve(std::min<std::size_t>(l.max_entries, 65536) * 2);
  }

  ConntrackLimits limits;
  std::vector<std::unique_ptr<Node[]>> chunks;
  Node* free_list = nullptr;
  Node* unreplied_head = nullptr;
  Node* unreplied_tail = nullptr;
  std::unordered_map<FlowKey, Slot, FlowKeyHash> index;
  std::size_t live = 0;
  std::size_t cursor = 0;                      // expire() resumes at this node number
  std::function<void(const Flow&)> on_remove;  // for flows marked `counted`
  ConntrackStats stats;

  Node* allocate() {
    if (!free_list) {
      chunks.push_back(std::make_unique<Node[]>(kChunk));
      Node* chunk = chunks.back().get();
      for (std::size_t i = kChunk; i-- > 0;) {
        chunk[i].next = free_list;
        free_list = &chunk[i];
      }
    }
    Node* n = free_list;
    free_list = n->next;
    n->next = n->prev = nullptr;
    return n;
  }

  void unlist(Node* n) {
    if (!n->unreplied_listed) return;
    (n->prev ? n->prev->next : unreplied_head) = n->next;
    (n->next ? n->next->prev : unreplied_tail) = n->prev;
    n->prev = n->next = nullptr;
    n->unreplied_listed = false;
  }

  void remove(Node* n) {
    if (n->flow.counted && on_remove) on_remove(n->flow);
    unlist(n);
    index.erase(n->flow.key);
    index.erase(n->flow.key.reversed());
    n->in_use = false;
    n->flow = Flow{};
    n->next = free_list;
    free_list = n;
    --live;
  }

  Node* node_at(std::size_t i) { return &chunks[i / kChunk][i % kChunk]; }

  std::optional<Slot> find(const FlowKey& key, Timestamp now) {
    auto it = index.find(key);
    if (it == index.end()) return std::nullopt;
    if (it->second.node->flow.expires <= now) {
      remove(it->second.node);
      ++stats.expired;
      return std::nullopt;
    }
    return it->second;
  }

  void mark_replied(Node* n) {
    if (n->flow.replied) return;
    n->flow.replied = true;
    unlist(n);
  }

  Duration non_tcp_timeout(const Flow& f) const {
    if (f.key.protocol == ipproto::udp)
      return f.replied ? limits.udp_replied : limits.udp_unreplied;
    if (is_icmp(f.key.protocol)) return limits.icmp;
    return limits.generic;
  }

  void set_tcp_timeout(Flow& f, Timestamp now) {
    Duration t = tcp_timeout(f.tcp_state, limits);
    // Picked-up flows: capped until the peer proves the flow is real (kernel: UNACK cap).
    if (f.picked_up && !f.replied && t > limits.tcp_unacked) t = limits.tcp_unacked;
    f.expires = now + t;
  }

  TrackResult advance_tcp(Slot slot, const PacketView& p, Timestamp now) {
    Node* n = slot.node;
    Flow& f = n->flow;
    const TcpClass cls = tcp_class(p.tcp_flags);
    const TcpTransition t = tcp_transition(f.tcp_state, slot.direction, cls);
    if (t.step == TcpStep::invalid) {
      ++stats.invalid;
      return {TrackState::invalid, nullptr, slot.direction};
    }
    count(f, slot.direction, p, now);
    if (t.step == TcpStep::ignore) return {TrackState::established, &f, slot.direction};
    const TcpState old = f.tcp_state;
    // A RST that is the only answer to a SYN: the attempt is over, forget it at once. The RST
    // itself passes, so that the client learns the port is closed.
    if (old == TcpState::syn_sent && cls == TcpClass::rst &&
        slot.direction == FlowDirection::reply && !f.replied) {
      remove(n);
      return {TrackState::established, nullptr, slot.direction};
    }
    if (slot.direction == FlowDirection::reply) mark_replied(n);
    if (old == TcpState::syn_recv && t.state == TcpState::established) f.assured = true;
    f.tcp_state = t.state;
    // A retransmitted SYN does not renew the timeout (nf_conntrack_proto_tcp.c).
    const bool retransmitted_syn = old == TcpState::syn_sent && cls == TcpClass::syn;
    if (!retransmitted_syn) set_tcp_timeout(f, now);
    return {TrackState::established, &f, slot.direction};
  }

  static void count(Flow& f, FlowDirection d, const PacketView& p, Timestamp now) {
    f.last_seen = now;
    f.packets[static_cast<int>(d)] += 1;
    f.bytes[static_cast<int>(d)] += p.ip_length;
  }

  TrackResult track_related(const PacketView& p, Timestamp now) {
    if (!p.has_quoted) {
      ++stats.invalid;
      return {TrackState::invalid, nullptr, FlowDirection::original};
    }
    const QuotedTuple& q = p.quoted;
    const FlowKey key{q.protocol, q.src, q.dst, q.src_port, q.dst_port};
    // The error goes back to whoever sent the quoted packet (nf_conntrack_inet_error): an
    // error whose destination is not that sender is spoofed.
    if (auto slot = find(key, now); slot && p.dst == q.src) {
      return {TrackState::related, &slot->node->flow, slot->direction};
    }
    ++stats.invalid;
    return {TrackState::invalid, nullptr, FlowDirection::original};
  }
};

ConnTracker::ConnTracker(ConntrackLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
ConnTracker::~ConnTracker() = default;

TrackResult ConnTracker::track(const PacketView& p, Timestamp now) {
  Impl& m = *impl_;
  if (p.protocol == ipproto::tcp && !tcp_flags_valid(p.tcp_flags)) {
    ++m.stats.invalid;
    return {TrackState::invalid, nullptr, FlowDirection::original};
  }
  if (is_icmp(p.protocol) && p.is_icmp_error) return m.track_related(p, now);

  const std::optional<Impl::Slot> slot = m.find(flow_key_of(p), now);
  if (!slot) {
    if (p.protocol == ipproto::tcp) {
      const bool syn_only = (p.tcp_flags & (tcpflag::syn | tcpflag::ack)) == tcpflag::syn;
      return {syn_only ? TrackState::new_flow : TrackState::no_flow, nullptr,
              FlowDirection::original};
    }
    if (is_icmp(p.protocol) && is_echo_reply(p)) {
      return {TrackState::no_flow, nullptr, FlowDirection::original};
    }
    return {TrackState::new_flow, nullptr, FlowDirection::original};
  }
  if (p.protocol == ipproto::tcp) return m.advance_tcp(*slot, p, now);
  Flow& f = slot->node->flow;
  Impl::count(f, slot->direction, p, now);
  if (slot->direction == FlowDirection::reply) m.mark_replied(slot->node);
  f.expires = now + m.non_tcp_timeout(f);
  return {TrackState::established, &f, slot->direction};
}

Flow* ConnTracker::open(const PacketView& p, Timestamp now, std::uint32_t rule_number,
                        bool picked_up) {
  Impl& m = *impl_;
  const FlowKey key = flow_key_of(p);
  if (auto existing = m.find(key, now)) return &existing->node->flow;
  if (m.live >= m.limits.max_entries) {
    if (!m.unreplied_head) {
      ++m.stats.refused;
      return nullptr;
    }
    m.remove(m.unreplied_head);  // the oldest unreplied flow makes room (kernel early_drop)
    ++m.stats.evicted;
  }
  Impl::Node* n = m.allocate();
  n->in_use = true;
  Flow& f = n->flow;
  f = Flow{};
  f.key = key;
  f.created = f.last_seen = now;
  f.rule_number = rule_number;
  f.picked_up = picked_up;
  f.packets[0] = 1;
  f.bytes[0] = p.ip_length;
  if (p.protocol == ipproto::tcp) {
    f.tcp_state = picked_up ? TcpState::established : TcpState::syn_sent;
    m.set_tcp_timeout(f, now);
  } else {
    f.expires = now + m.non_tcp_timeout(f);
  }
  m.index.emplace(key, Impl::Slot{n, FlowDirection::original});
  if (!(key.reversed() == key))
    m.index.emplace(key.reversed(), Impl::Slot{n, FlowDirection::reply});
  n->unreplied_listed = true;
  n->prev = m.unreplied_tail;
  n->next = nullptr;
  (m.unreplied_tail ? m.unreplied_tail->next : m.unreplied_head) = n;
  m.unreplied_tail = n;
  ++m.live;
  ++m.stats.inserted;
  return &f;
}

void ConnTracker::expire(Timestamp now, std::size_t budget) {
  Impl& m = *impl_;
  const std::size_t slots = m.chunks.size() * kChunk;
  if (slots == 0) return;
  for (std::size_t i = 0; i < budget && i < slots; ++i) {
    if (m.cursor >= slots) m.cursor = 0;
    Impl::Node* n = m.node_at(m.cursor++);
    if (n->in_use && n->flow.expires <= now) {
      m.remove(n);
      ++m.stats.expired;
    }
  }
}

const Flow* ConnTracker::lookup(const FlowKey& key, Timestamp now) const {
  for (const FlowKey& k : {key, key.reversed()}) {
    auto it = impl_->index.find(k);
    if (it != impl_->index.end() && it->second.node->flow.expires > now) {
      return &it->second.node->flow;
    }
  }
  return nullptr;
}

void ConnTracker::clear() {
  Impl& m = *impl_;
  for (std::size_t i = 0; i < m.chunks.size() * kChunk; ++i) {
    Impl::Node* n = m.node_at(i);
    if (n->in_use) m.remove(n);
  }
}

void ConnTracker::set_on_remove(std::function<void(const Flow&)> on_remove) {
  impl_->on_remove = std::move(on_remove);
}

std::size_t ConnTracker::size() const { return impl_->live; }
std::uint32_t ConnTracker::max_entries() const { return impl_->limits.max_entries; }
const ConntrackStats& ConnTracker::stats() const { return impl_->stats; }

void ConnTracker::for_each(const std::function<void(const Flow&)>& visit) const {
  Impl& m = *impl_;
  for (std::size_t i = 0; i < m.chunks.size() * kChunk; ++i) {
    const Impl::Node* n = m.node_at(i);
    if (n->in_use) visit(n->flow);
  }
}

}  // namespace portwall
