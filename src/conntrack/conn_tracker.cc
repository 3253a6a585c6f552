// conn_tracker.cc — see conn_tracker.h. Storage: Flow nodes in chunks of stable addresses with
// a free list, indexed by both directions' keys (as the kernel hashes every entry twice) in an
// open-addressing table of node numbers, and intrusive lists of the flows a new one may replace
// when the table is full (the kernel's early_drop), each in the order the flows joined it.
#include "conntrack/conn_tracker.h"

#include <array>
#include <cstring>
#include <optional>
#include <vector>

#include "conntrack/tcp_state.h"
#include "conntrack/tcp_window.h"

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
  static constexpr std::uint32_t kNil = 0xffffffffu;
  // The eviction lists, first victims first. The kernel's early_drop takes any flow that is not
  // assured; among those, a handshake already reset goes first, then a flow never answered (a
  // spoofed SYN), and only then one answered but still in its handshake: under a flood, a
  // legitimate handshake waiting for its last ACK is the last of them to go. Last of all, as
  // the kernel's garbage collector does near a full table, an assured connection that is over
  // (TIME_WAIT, CLOSE) or offloaded to the kernel (it may have ended unseen): a late packet of
  // it may then find no flow, a lesser harm than refusing a new connection.
  enum : std::uint8_t { kReset, kUnanswered, kAnswered, kOver, kLists, kUnlisted = kLists };
  struct Node {
    Flow flow;
    std::uint32_t number = kNil;  // its place in the chunks, for index entries
    std::uint32_t prev = kNil;    // its eviction list, or the free list (next only)
    std::uint32_t next = kNil;
    bool in_use = false;
    std::uint8_t list = kUnlisted;  // which eviction list holds it
  };
  struct Slot {
    Node* node;
    FlowDirection direction;
  };

  explicit Impl(ConntrackLimits l) : limits(l) {}

  ConntrackLimits limits;
  // Until then, segments of this table's flows may have passed unseen (fail-open bypass): a
  // flow's window cannot be trusted, so every flow that shows up meanwhile becomes liberal.
  Timestamp unseen_until{};
  std::vector<std::unique_ptr<Node[]>> chunks;
  std::uint32_t free_list = kNil;
  std::array<std::uint32_t, kLists> list_head{kNil, kNil, kNil, kNil};
  std::array<std::uint32_t, kLists> list_tail{kNil, kNil, kNil, kNil};
  // The index: open addressing with linear probing, one 4-byte entry per direction of a flow
  // (node number << 1 | direction), at most half full; keys are read from the nodes. About 16
  // to 32 bytes per flow where a node-based map took 176.
  std::vector<std::uint32_t> slots;
  std::size_t entries = 0;
  std::uint64_t index_changes = 0;  // every entry placed or erased (a grown index too)
  // The last key looked up and not found, with the empty slot its probe ended at: while the
  // index has not changed since, that slot is where the key goes, so that open() after a
  // track() that found no flow neither probes nor compares keys again.
  struct Miss {
    FlowKey key;
    std::size_t slot = 0;
    std::uint64_t at_change = ~std::uint64_t{0};
  } last_miss;
  std::size_t live = 0;
  std::size_t cursor = 0;                      // expire() resumes at this node number
  std::function<void(const Flow&)> on_remove;  // for flows marked `counted` or `vouches`
  ConntrackStats stats;

  Node& node_at(std::uint32_t i) { return chunks[i / kChunk][i % kChunk]; }
  const Node& node_at(std::uint32_t i) const { return chunks[i / kChunk][i % kChunk]; }

  // --- The index.
  std::size_t home(const FlowKey& key) const { return FlowKeyHash{}(key) & (slots.size() - 1); }

  bool entry_is(std::uint32_t e, const FlowKey& key) const {
    const FlowKey& k = node_at(e >> 1).flow.key;
    if ((e & 1) == 0) return k == key;
    return k.protocol == key.protocol && k.src == key.dst && k.dst == key.src &&
           k.src_port == key.dst_port && k.dst_port == key.src_port;
  }

  FlowKey key_of(std::uint32_t e) const {
    const FlowKey& k = node_at(e >> 1).flow.key;
    return (e & 1) ? k.reversed() : k;
  }

  // `stop`: where the probe of an absent key ended (the empty slot the key would take).
  std::optional<std::uint32_t> index_find(const FlowKey& key, std::size_t* stop = nullptr) const {
    if (slots.empty()) return std::nullopt;
    const std::size_t mask = slots.size() - 1;
    for (std::size_t i = home(key);; i = (i + 1) & mask) {
      const std::uint32_t e = slots[i];
      if (e == kNil) {
        if (stop) *stop = i;
        return std::nullopt;
      }
      if (entry_is(e, key)) return e;
    }
  }
  // The slot last_miss found for `key`, if nothing changed the index since.
  std::optional<std::size_t> missed_slot(const FlowKey& key) const {
    if (last_miss.at_change != index_changes || !(last_miss.key == key)) return std::nullopt;
    return last_miss.slot;
  }

  void place(std::uint32_t e, const FlowKey& key) {
    const std::size_t mask = slots.size() - 1;
    std::size_t i = home(key);
    while (slots[i] != kNil) i = (i + 1) & mask;
    slots[i] = e;
  }

  // `slot`: where a probe for `key` ended with no change of the index since (missed_slot()).
  void index_insert(std::uint32_t e, const FlowKey& key,
                    std::optional<std::size_t> slot = std::nullopt) {
    if ((entries + 1) * 2 > slots.size()) {
      std::vector<std::uint32_t> old(std::max<std::size_t>(1024, slots.size() * 2), kNil);
      old.swap(slots);
      for (std::uint32_t x : old) {
        if (x != kNil) place(x, key_of(x));
      }
      slot.reset();  // every position moved
    }
    if (slot) {
      slots[*slot] = e;
    } else {
      place(e, key);
    }
    ++entries;
    ++index_changes;
  }

  // Removes entry `e` (whose key is `key`), shifting later entries of its run back so that no
  // lookup ever stops early (backward-shift deletion: no tombstones).
  void index_erase(std::uint32_t e, const FlowKey& key) {
    const std::size_t mask = slots.size() - 1;
    std::size_t i = home(key);
    while (slots[i] != e) i = (i + 1) & mask;
    for (std::size_t j = (i + 1) & mask; slots[j] != kNil; j = (j + 1) & mask) {
      const std::size_t k = home(key_of(slots[j]));
      const bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
      if (stays) continue;
      slots[i] = slots[j];
      i = j;
    }
    slots[i] = kNil;
    --entries;
    ++index_changes;
  }

  // --- Nodes.
  Node* allocate() {
    if (free_list == kNil) {
      const auto base = static_cast<std::uint32_t>(chunks.size() * kChunk);
      chunks.push_back(std::make_unique<Node[]>(kChunk));
      Node* chunk = chunks.back().get();
      for (std::uint32_t i = kChunk; i-- > 0;) {
        chunk[i].number = base + i;
        chunk[i].next = free_list;
        free_list = base + i;
      }
    }
    Node* n = &node_at(free_list);
    free_list = n->next;
    n->next = n->prev = kNil;
    return n;
  }

  void unlist(Node* n) {
    if (n->list == kUnlisted) return;
    (n->prev != kNil ? node_at(n->prev).next : list_head[n->list]) = n->next;
    (n->next != kNil ? node_at(n->next).prev : list_tail[n->list]) = n->prev;
    n->prev = n->next = kNil;
    n->list = kUnlisted;
  }

  void append(Node* n, std::uint8_t list) {
    n->list = list;
    n->prev = list_tail[list];
    n->next = kNil;
    (list_tail[list] != kNil ? node_at(list_tail[list]).next : list_head[list]) = n->number;
    list_tail[list] = n->number;
  }

  static std::uint8_t list_for(const Flow& f) {
    const bool over = f.key.protocol == ipproto::tcp &&
                      (f.tcp_state == TcpState::time_wait || f.tcp_state == TcpState::close);
    if (f.assured) return over || f.offloaded ? kOver : kUnlisted;
    if (over) return kReset;
    return f.replied ? kAnswered : kUnanswered;
  }

  // After the flow's state changed: onto the list it now belongs to (at its end), if another.
  void relist(Node* n) {
    const std::uint8_t list = list_for(n->flow);
    if (list == n->list) return;
    unlist(n);
    if (list != kUnlisted) append(n, list);
  }

  void remove(Node* n) {
    if ((n->flow.counted || n->flow.vouches) && on_remove) on_remove(n->flow);
    unlist(n);
    const FlowKey key = n->flow.key;
    index_erase(n->number << 1, key);
    if (!(key.reversed() == key)) index_erase(n->number << 1 | 1, key.reversed());
    n->in_use = false;
    n->flow = Flow{};
    n->next = free_list;
    free_list = n->number;
    --live;
  }

  std::optional<Slot> find(const FlowKey& key, Timestamp now) {
    std::size_t stop = 0;
    const std::optional<std::uint32_t> e = index_find(key, &stop);
    if (!e) {
      if (!slots.empty()) last_miss = {key, stop, index_changes};
      return std::nullopt;
    }
    Node* n = &node_at(*e >> 1);
    if (n->flow.expires <= now) {
      remove(n);
      ++stats.expired;
      return std::nullopt;
    }
    return Slot{n, (*e & 1) ? FlowDirection::reply : FlowDirection::original};
  }

  // A new node for `key`, indexed both ways, on the list of unanswered flows; nullptr when the
  // table is full of assured flows. The caller relist()s it once its state is set. REQUIRES: no
  // live flow has this key.
  Node* insert(const FlowKey& key);

  // The kernel's ASSURED: the flow proved itself both ways and is never evicted for a new one
  // (until its connection is over).
  void mark_assured(Node* n) {
    n->flow.assured = true;
    relist(n);
  }

  // A non-TCP flow is assured once it was answered and still carries packets 2 s after it
  // began: a stream, not a probe (nf_conntrack_proto_udp.c, stream_ts). ICMP never is.
  void note_stream(Node* n, Timestamp now) {
    Flow& f = n->flow;
    if (f.assured || !f.replied || is_icmp(f.key.protocol)) return;
    if (now - f.opened >= kStreamAfter) mark_assured(n);
  }
  static constexpr Duration kStreamAfter = std::chrono::seconds(2);

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
    if (t.step == TcpStep::ignore) {
      count(f, slot.direction, p, now);
      return {TrackState::established, &f, slot.direction};
    }
    const TcpState old = f.tcp_state;
    TcpState next = t.state;
    // The window (CONNTRACK-NOTES §1.3): a packet far outside it neither moves nor closes the
    // flow. A RST is checked against what its receiver acknowledged first.
    if (now < unseen_until) f.window.liberal = true;
    if (cls == TcpClass::rst) {
      const bool established = old == TcpState::established && f.assured;
      switch (tcp_rst_action(f.window, slot.direction, p, established)) {
        case RstAction::invalid:
          ++stats.invalid;
          return {TrackState::invalid, nullptr, slot.direction};
        case RstAction::keep:
          next = old;  // inexact: the host's challenge ACK decides (RFC 5961 §3.2)
          break;
        case RstAction::close:
          break;
      }
    }
    if (next == TcpState::syn_sent && (old == TcpState::time_wait || old == TcpState::close)) {
      // The tuple is reused by a new connection: the old flow ends here and the SYN is judged
      // by the rules as any new one (the kernel kills the entry and repeats the packet,
      // NF_REPEAT). Carrying the old flow on would let a deleted rule's port in again.
      remove(n);
      return {TrackState::new_flow, nullptr, FlowDirection::original};
    }
    switch (tcp_in_window(f.window, slot.direction, old, p)) {
      case WindowVerdict::invalid:
        ++stats.invalid;
        return {TrackState::invalid, nullptr, slot.direction};
      case WindowVerdict::ignore:
        count(f, slot.direction, p, now);
        return {TrackState::established, &f, slot.direction};
      case WindowVerdict::accept:
        break;
    }
    count(f, slot.direction, p, now);
    // A RST that is the only answer to a SYN: the attempt is over, forget it at once. The RST
    // itself passes, so that the client learns the port is closed.
    if (old == TcpState::syn_sent && cls == TcpClass::rst &&
        slot.direction == FlowDirection::reply && !f.replied) {
      remove(n);
      return {TrackState::established, nullptr, slot.direction};
    }
    if (slot.direction == FlowDirection::reply) f.replied = true;
    // Assured by the ACK that completes the handshake, or, for a flow picked up mid-stream, by
    // a valid packet once the other side answered (nf_conntrack_proto_tcp.c).
    if (!f.assured && f.replied && next == TcpState::established &&
        (old == TcpState::syn_recv || old == TcpState::established)) {
      mark_assured(n);
    }
    f.tcp_state = next;
    relist(n);
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

  static FlowKey quoted_key(const QuotedTuple& q) {
    return {q.protocol, q.src, q.dst, q.src_port, q.dst_port};
  }

  TrackResult track_related(const PacketView& p, Timestamp now) {
    if (!p.has_quoted) {
      ++stats.invalid;
      return {TrackState::invalid, nullptr, FlowDirection::original};
    }
    const QuotedTuple& q = p.quoted;
    // The error goes back to whoever sent the quoted packet (nf_conntrack_inet_error): an
    // error whose destination is not that sender is spoofed.
    if (p.dst != q.src) {
      ++stats.invalid;
      return {TrackState::invalid, nullptr, FlowDirection::original};
    }
    if (auto slot = find(quoted_key(q), now)) {
      return {TrackState::related, &slot->node->flow, slot->direction};
    }
    return {TrackState::no_flow, nullptr, FlowDirection::original};
  }
};

ConnTracker::ConnTracker(ConntrackLimits limits) : impl_(std::make_unique<Impl>(limits)) {}
ConnTracker::~ConnTracker() = default;

void ConnTracker::note_unseen_packets(Timestamp until) {
  impl_->unseen_until = std::max(impl_->unseen_until, until);
}

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
  if (slot->direction == FlowDirection::reply && !f.replied) {
    f.replied = true;
    m.relist(slot->node);
  }
  m.note_stream(slot->node, now);
  f.expires = now + m.non_tcp_timeout(f);
  return {TrackState::established, &f, slot->direction};
}

ConnTracker::Impl::Node* ConnTracker::Impl::insert(const FlowKey& key) {
  if (live >= limits.max_entries) {
    // The first flow of the first list that has one makes room (the kernel's early_drop looks
    // at the entries of a few hash buckets; the lists find the best victim in one step).
    std::uint8_t list = 0;
    while (list < kLists && list_head[list] == kNil) ++list;
    if (list == kLists) {
      ++stats.refused;
      return nullptr;
    }
    remove(&node_at(list_head[list]));
    ++stats.evicted;
  }
  Node* n = allocate();
  n->in_use = true;
  n->flow = Flow{};
  n->flow.key = key;
  index_insert(n->number << 1, key, missed_slot(key));
  if (!(key.reversed() == key)) index_insert(n->number << 1 | 1, key.reversed());
  append(n, kUnanswered);
  ++live;
  ++stats.inserted;
  return n;
}

Flow* ConnTracker::open(const PacketView& p, Timestamp now, std::uint32_t rule_number,
                        bool picked_up) {
  Impl& m = *impl_;
  const FlowKey key = flow_key_of(p);
  // Right after track() found no flow for this key (the usual way here), it is still absent.
  if (!m.missed_slot(key)) {
    if (auto existing = m.find(key, now)) return &existing->node->flow;
  }
  Impl::Node* made = m.insert(key);
  if (!made) return nullptr;
  Flow& f = made->flow;
  f.last_seen = f.opened = now;
  f.rule_number = rule_number;
  f.picked_up = picked_up;
  f.packets[0] = 1;
  f.bytes[0] = p.ip_length;
  if (p.protocol == ipproto::tcp) {
    f.tcp_state = picked_up ? TcpState::established : TcpState::syn_sent;
    tcp_window_open(f.window, FlowDirection::original, p, picked_up);
    m.set_tcp_timeout(f, now);
  } else {
    f.expires = now + m.non_tcp_timeout(f);
  }
  m.relist(made);
  return &f;
}

bool ConnTracker::restore(const Flow& flow, Timestamp now) {
  Impl& m = *impl_;
  if (flow.expires <= now || m.find(flow.key, now)) return false;
  Impl::Node* made = m.insert(flow.key);
  if (!made) return false;
  Flow& f = made->flow;
  f = flow;
  f.opened = now;  // not handed over: a stream is judged from the new image's start
  // Its segments went by while no image judged them: the windows start over, liberally.
  f.window = TcpWindows{};
  f.window.liberal = true;
  f.counted = false;  // the per-source counts start empty in the new image
  f.last_seen = now;
  m.relist(made);
  return true;
}

void ConnTracker::expire(Timestamp now, std::size_t budget) {
  Impl& m = *impl_;
  const std::size_t slots = m.chunks.size() * kChunk;
  if (slots == 0) return;
  for (std::size_t i = 0; i < budget && i < slots; ++i) {
    if (m.cursor >= slots) m.cursor = 0;
    Impl::Node* n = &m.node_at(static_cast<std::uint32_t>(m.cursor++));
    if (n->in_use && n->flow.expires <= now) {
      m.remove(n);
      ++m.stats.expired;
    }
  }
}

const Flow* ConnTracker::lookup(const FlowKey& key, Timestamp now) const {
  for (const FlowKey& k : {key, key.reversed()}) {
    if (auto e = impl_->index_find(k)) {
      const Flow& f = impl_->node_at(*e >> 1).flow;
      if (f.expires > now) return &f;
    }
  }
  return nullptr;
}

const Flow* ConnTracker::related_flow(const PacketView& p, Timestamp now) const {
  if (!p.is_icmp_error || !p.has_quoted || p.dst != p.quoted.src) return nullptr;
  const std::optional<std::uint32_t> e = impl_->index_find(Impl::quoted_key(p.quoted));
  if (!e) return nullptr;
  const Flow& f = impl_->node_at(*e >> 1).flow;
  return f.expires > now ? &f : nullptr;
}

void ConnTracker::mark_offloaded(const Flow& flow) {
  Impl& m = *impl_;
  const std::optional<std::uint32_t> e = m.index_find(flow.key);
  if (!e) return;
  Impl::Node* n = &m.node_at(*e >> 1);
  n->flow.offloaded = true;
  m.relist(n);
}

void ConnTracker::clear() {
  Impl& m = *impl_;
  for (std::size_t i = 0; i < m.chunks.size() * kChunk; ++i) {
    Impl::Node* n = &m.node_at(static_cast<std::uint32_t>(i));
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
    const Impl::Node* n = &m.node_at(static_cast<std::uint32_t>(i));
    if (n->in_use) visit(n->flow);
  }
}

std::size_t ConnTracker::for_each_slot(std::size_t first, std::size_t slots,
                                       const std::function<void(const Flow&)>& visit) const {
  Impl& m = *impl_;
  const std::size_t total = m.chunks.size() * kChunk;
  const std::size_t end = std::min(total, first + slots);
  for (std::size_t i = first; i < end; ++i) {
    const Impl::Node* n = &m.node_at(static_cast<std::uint32_t>(i));
    if (n->in_use) visit(n->flow);
  }
  return end >= total ? kEnd : end;
}

void ConnTracker::update_each(const std::function<void(Flow&)>& visit) {
  Impl& m = *impl_;
  for (std::size_t i = 0; i < m.chunks.size() * kChunk; ++i) {
    Impl::Node* n = &m.node_at(static_cast<std::uint32_t>(i));
    if (n->in_use) visit(n->flow);
  }
}

}  // namespace portwall
