#include "detect/source_table.h"

#include <algorithm>
#include <array>
#include <deque>
#include <list>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include "detect/spa.h"
#include "packet/packet_view.h"

namespace portwall {
namespace {

struct Touch {
  std::uint32_t port;  // protocol << 16 | port: 22/tcp and 22/udp are different ports
  Timestamp at;
};

// A rate bucket: a generic cell rate algorithm (`tat`: when the bucket is next empty), or for
// every_attempt_counts rates the times of the last attempts.
struct Bucket {
  // The limit rule's key (PolicySnapshot::limit_key, 56 bits); 0: [limits]. `next`:
  // every_attempt_counts: where the next attempt is written. One word for both.
  std::uint64_t rule : 56;
  std::uint64_t next : 8 = 0;
  Timestamp tat{};
  std::array<Timestamp, kMaxAttemptWindow> attempts{};
  Timestamp empty_at{};  // from then on the bucket is as if new: forgetting it loses nothing
};

struct Grant {
  std::uint16_t door;
  Timestamp until;
};

// One knock sequence under way.
struct Progress {
  bool active = false;
  std::uint8_t stage = 0;  // knocks done
  std::uint16_t door = 0, sequence = 0;
  Timestamp started{};
};

struct Source {
  IpAddress address;
  std::uint32_t connections = 0;  // tracked inbound connections it opened
  Progress progress;
  Timestamp last_seen{};
  std::vector<Touch> touches;  // refused ports within the scan window, bounded
  std::vector<Bucket> buckets;
  std::vector<Grant> grants;
};

// A [[knock]] as the table uses it.
struct Door {
  KnockSection config;
  std::vector<std::vector<PortProto>> sequences;  // `sequence` (if any), then the one-time ones
  std::size_t first_one_time = 0;
  std::vector<bool> used;  // per sequence; only one-time sequences are ever used up
};

struct SpaSeen {
  SpaNonce nonce;
  Timestamp forget_at;
};

std::uint32_t key_of(std::uint8_t protocol, std::uint16_t port) {
  return std::uint32_t{protocol} << 16 | port;
}

std::string sequence_text(const std::string& name, const std::vector<PortProto>& sequence) {
  std::string s = name + ":";
  for (std::size_t i = 0; i < sequence.size(); ++i) {
    s += (i ? "," : " ") + to_string(sequence[i]);
  }
  return s;
}

// Would one more event fit the rate? `next` is the bucket's state if it is taken. For
// every_attempt_counts rates the attempt is recorded here, allowed or not.
bool fits(const Rate& rate, Bucket& bucket, Timestamp now, Timestamp& next) {
  const Timestamp tat = bucket.tat;
  if (rate.every_attempt_counts) {
    const Timestamp since = now - rate.per;
    std::size_t recent = 0;
    for (std::size_t i = 0; i < rate.count && i < kMaxAttemptWindow; ++i) {
      recent += bucket.attempts[i] > since && bucket.attempts[i] != Timestamp{};
    }
    bucket.attempts[bucket.next] = now;
    bucket.next = (bucket.next + 1) % std::min<std::size_t>(rate.count, kMaxAttemptWindow);
    next = tat;
    return recent + 1 < rate.count;  // this attempt counts too
  }
  const Duration interval = rate.per / rate.count;
  const std::uint32_t burst = rate.burst ? rate.burst : rate.count;
  next = std::max(tat, now) + interval;
  return next - now <= interval * burst;
}

constexpr std::size_t kMaxSpaNonces = 65536;

}  // namespace

struct SourceTable::Impl {
  std::size_t max_sources;
  SourcePolicy policy;
  std::vector<Door> doors;
  std::unordered_set<std::uint32_t> knock_ports;  // every port of every sequence, SPA ports too
  std::list<Source> by_age;                       // least recently seen first
  std::unordered_map<IpAddress, std::list<Source>::iterator, IpAddressHash> index;
  std::deque<SpaSeen> spa_seen;  // nonces accepted, oldest first
  std::set<SpaNonce> spa_nonces;
  std::vector<IpAddress> infrastructure;
  std::unordered_map<IpAddress, std::uint32_t, IpAddressHash> vouched;  // live connections
  // The IPv6 vouched addresses counted by their block prefix (policy.scan.ipv6_block_prefix):
  // a scanner's prefix that holds one is not blocked as a whole.
  std::unordered_map<IpAddress, std::uint32_t, IpAddressHash> vouched_prefixes;
  IpAddress prefix_of(const IpAddress& a) const { return masked(a, policy.scan.ipv6_block_prefix); }
  void count_vouched_prefix(const IpAddress& a, bool up) {
    if (a.family != Family::ipv6) return;
    if (up) {
      ++vouched_prefixes[prefix_of(a)];
    } else if (auto it = vouched_prefixes.find(prefix_of(a));
               it != vouched_prefixes.end() && --it->second == 0) {
      vouched_prefixes.erase(it);
    }
  }
  // Whether the IPv6 `prefix` (of the block length) holds an address scan detection spares.
  bool prefix_spared(const IpAddress& prefix) const {
    if (vouched_prefixes.contains(prefix)) return true;
    return std::any_of(infrastructure.begin(), infrastructure.end(), [&](const IpAddress& a) {
      return a.family == Family::ipv6 && prefix_of(a) == prefix;
    });
  }

  // Scan detection leaves it alone, whatever it touches.
  bool spared(const IpAddress& a) const {
    if (vouched.contains(a)) return true;
    return std::find(infrastructure.begin(), infrastructure.end(), a) != infrastructure.end();
  }

  Source* find(const IpAddress& address) {
    auto it = index.find(address);
    return it == index.end() ? nullptr : &*it->second;
  }

  Source& touch(const IpAddress& address, Timestamp now, SourceTable& table) {
    if (auto it = index.find(address); it != index.end()) {
      by_age.splice(by_age.end(), by_age, it->second);
      it->second->last_seen = now;
      return *it->second;
    }
    if (index.size() >= max_sources && !by_age.empty()) evict_one(now, table);
    by_age.push_back(Source{});
    by_age.back().address = address;
    by_age.back().last_seen = now;
    index.emplace(address, std::prev(by_age.end()));
    return by_age.back();
  }

  // Until when forgetting `s` would lose something: a door, a bucket, a knock under way, a
  // counted connection. At or before `now`: it holds nothing.
  Timestamp holds_until(const Source& s) const {
    if (s.connections > 0) return Timestamp::max();
    Timestamp until{};
    for (const Grant& g : s.grants) until = std::max(until, g.until);
    for (const Bucket& b : s.buckets) until = std::max(until, b.empty_at);
    if (s.progress.active && s.progress.door < doors.size()) {
      until = std::max(until, s.progress.started + doors[s.progress.door].config.window);
    }
    return until;
  }

  // Makes room for one source. Looks at the idle longest few: the first that holds nothing
  // goes; those that hold something go to the back of the line (seen again later). When all
  // of them hold something, the one whose holding ends soonest goes.
  static constexpr int kLookAt = 16;
  void evict_one(Timestamp now, SourceTable& table) {
    auto victim = by_age.end();
    Timestamp victim_until = Timestamp::max();
    for (int i = 0; i < kLookAt && !by_age.empty(); ++i) {
      auto it = by_age.begin();
      if (it == victim) break;  // went round: every entry was looked at
      const Timestamp until = holds_until(*it);
      if (until <= now) {
        victim = it;
        victim_until = until;
        break;
      }
      if (victim == by_age.end() || until < victim_until) {
        victim = it;
        victim_until = until;
      }
      by_age.splice(by_age.end(), by_age, it);
    }
    if (victim == by_age.end()) return;
    if (victim_until > now) table.stats_.evicted_holding.fetch_add(1, std::memory_order_relaxed);
    table.grants_.fetch_sub(victim->grants.size(), std::memory_order_relaxed);
    index.erase(victim->address);
    by_age.erase(victim);
    table.stats_.evicted.fetch_add(1, std::memory_order_relaxed);
  }

  void grant(Source& s, std::uint16_t door, Timestamp now, SourceTable& table) {
    const Timestamp until = now + doors[door].config.duration;
    for (Grant& g : s.grants) {
      if (g.door == door) {
        g.until = until;
        return;
      }
    }
    s.grants.push_back({door, until});
    table.grants_.fetch_add(1, std::memory_order_relaxed);
  }
};

SourceTable::SourceTable(std::size_t max_sources, SourcePolicy policy)
    : impl_(std::make_unique<Impl>()) {
  impl_->max_sources = std::max<std::size_t>(max_sources, 1);
  configure(std::move(policy));
}

SourceTable::~SourceTable() = default;

void SourceTable::configure(SourcePolicy policy) {
  const std::vector<std::string> used = used_one_time_sequences();
  std::lock_guard<std::mutex> lock(mutex_);
  Impl& m = *impl_;
  std::vector<std::string> old_names;
  for (const Door& d : m.doors) old_names.push_back(d.config.name);
  const std::uint8_t old_prefix = m.policy.scan.ipv6_block_prefix;
  m.policy = std::move(policy);
  if (m.policy.scan.ipv6_block_prefix != old_prefix) {
    m.vouched_prefixes.clear();
    for (const auto& [a, n] : m.vouched) {
      if (a.family == Family::ipv6) m.vouched_prefixes[m.prefix_of(a)] += n;
    }
  }
  m.doors.clear();
  m.knock_ports.clear();
  for (const KnockSection& k : m.policy.knocks) {
    Door d;
    d.config = k;
    if (!k.sequence.empty()) d.sequences.push_back(k.sequence);
    d.first_one_time = d.sequences.size();
    for (const auto& seq : k.one_time_sequences) d.sequences.push_back(seq);
    d.used.assign(d.sequences.size(), false);
    for (std::size_t i = d.first_one_time; i < d.sequences.size(); ++i) {
      d.used[i] =
          std::find(used.begin(), used.end(), sequence_text(k.name, d.sequences[i])) != used.end();
    }
    for (const auto& seq : d.sequences) {
      for (const PortProto& pp : seq) m.knock_ports.insert(key_of(pp.protocol, pp.port));
    }
    if (k.spa_port != 0) m.knock_ports.insert(key_of(ipproto::udp, k.spa_port));
    m.doors.push_back(std::move(d));
  }
  // Progress starts over; open doors stay open if their knock still exists.
  std::size_t grants = 0;
  for (Source& s : m.by_age) {
    s.progress = {};
    std::erase_if(s.grants, [&](Grant& g) {
      const std::string& name = g.door < old_names.size() ? old_names[g.door] : std::string();
      for (std::size_t i = 0; i < m.doors.size(); ++i) {
        if (m.doors[i].config.name == name) {
          g.door = static_cast<std::uint16_t>(i);
          return false;
        }
      }
      return true;
    });
    grants += s.grants.size();
  }
  grants_.store(grants, std::memory_order_relaxed);
  has_knocks_.store(!m.doors.empty(), std::memory_order_relaxed);
  has_limits_.store(m.policy.new_connections.count != 0 || m.policy.max_connections_per_source != 0,
                    std::memory_order_relaxed);
}

std::uint8_t SourceTable::note_refused(const IpAddress& source, std::uint8_t protocol,
                                       std::uint16_t port, Timestamp now) {
  std::lock_guard<std::mutex> lock(mutex_);
  Impl& m = *impl_;
  const ScanPolicy& scan = m.policy.scan;
  if (!scan.enabled) return 0;
  const std::uint32_t key = key_of(protocol, port);
  if (m.knock_ports.contains(key)) return 0;
  for (const Cidr& c : scan.never_block) {
    if (c.contains(source)) return 0;
  }
  // An IPv6 scanner's touches count for its whole prefix: rotating through the addresses one
  // attacker owns does not reset the count.
  const bool v6 = source.family == Family::ipv6;
  const std::uint8_t length = v6 ? scan.ipv6_block_prefix : 32;
  const IpAddress counted = v6 ? m.prefix_of(source) : source;
  Source& s = m.touch(counted, now, *this);
  const Timestamp since = now - scan.window;
  std::erase_if(s.touches, [&](const Touch& t) { return t.at <= since || t.port == key; });
  s.touches.push_back({key, now});
  if (s.touches.size() <= scan.distinct_ports) return 0;
  s.touches.clear();
  s.touches.shrink_to_fit();
  if (m.spared(source)) {
    stats_.scan_spared.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }
  // A prefix that holds the host's infrastructure, a vouched peer or a never_block network:
  // the address alone.
  if (v6 && length < 128) {
    const bool holds_never_block =
        std::any_of(scan.never_block.begin(), scan.never_block.end(), [&](const Cidr& c) {
          return c.network.family == Family::ipv6 &&
                 (c.prefix_length >= length ? masked(c.network, length) == counted
                                            : c.contains(counted));
        });
    if (holds_never_block || m.prefix_spared(counted)) return 128;
  }
  return length;
}

void SourceTable::trust(std::vector<IpAddress> infrastructure) {
  std::lock_guard<std::mutex> lock(mutex_);
  impl_->infrastructure = std::move(infrastructure);
}

std::vector<IpAddress> SourceTable::trusted() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return impl_->infrastructure;
}

void SourceTable::vouch(const IpAddress& remote) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++impl_->vouched[remote];
  impl_->count_vouched_prefix(remote, true);
}

void SourceTable::unvouch(const IpAddress& remote) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = impl_->vouched.find(remote);
  if (it == impl_->vouched.end()) return;
  impl_->count_vouched_prefix(remote, false);
  if (--it->second == 0) impl_->vouched.erase(it);
}

std::size_t SourceTable::vouched() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return impl_->vouched.size();
}

Duration SourceTable::block_duration() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return impl_->policy.scan.block;
}

Admission SourceTable::admit(const IpAddress& source, std::uint64_t rule_key, const Rate* rule_rate,
                             Timestamp now, bool* counted) {
  if (counted) *counted = false;
  // The common case, no limit rule and no [limits]: no lock on the way of a new connection.
  if (!rule_rate && !has_limits_.load(std::memory_order_relaxed)) return Admission::admitted;
  std::lock_guard<std::mutex> lock(mutex_);
  Impl& m = *impl_;
  const Rate& per_source = m.policy.new_connections;
  const std::uint32_t max_flows = m.policy.max_connections_per_source;
  if (!rule_rate && per_source.count == 0 && max_flows == 0) return Admission::admitted;
  Source& s = m.touch(source, now, *this);
  auto bucket = [&](std::uint64_t rule) -> Bucket& {
    rule &= kLimitKeyMask;
    for (Bucket& b : s.buckets) {
      if (b.rule == rule) return b;
    }
    s.buckets.push_back(Bucket{rule});
    return s.buckets.back();
  };
  Bucket* rule_bucket = nullptr;
  Timestamp rule_next{}, source_next{};
  if (rule_rate) {
    rule_bucket = &bucket(rule_key);
    if (rule_rate->every_attempt_counts) rule_bucket->empty_at = now + rule_rate->per;
    if (!fits(*rule_rate, *rule_bucket, now, rule_next)) {
      stats_.rule_rate_drops.fetch_add(1, std::memory_order_relaxed);
      return Admission::rule_rate;
    }
  }
  Bucket* source_bucket = nullptr;
  if (per_source.count != 0) {
    source_bucket = &bucket(0);
    if (rule_rate) rule_bucket = &bucket(rule_key);  // push_back may have moved it
    if (per_source.every_attempt_counts) source_bucket->empty_at = now + per_source.per;
    if (!fits(per_source, *source_bucket, now, source_next)) {
      stats_.source_rate_drops.fetch_add(1, std::memory_order_relaxed);
      return Admission::source_rate;
    }
  }
  if (max_flows != 0 && s.connections >= max_flows) {
    stats_.source_flow_drops.fetch_add(1, std::memory_order_relaxed);
    return Admission::source_flows;
  }
  for (auto [bucket, next] : {std::pair{rule_bucket, rule_next}, {source_bucket, source_next}}) {
    if (!bucket) continue;
    bucket->tat = next;
    bucket->empty_at = std::max(bucket->empty_at, next);
  }
  if (max_flows != 0) {
    ++s.connections;
    if (counted) *counted = true;
  }
  return Admission::admitted;
}

Admission SourceTable::peek(const IpAddress& source, std::uint64_t rule_key, const Rate* rule_rate,
                            Timestamp now) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const Impl& m = *impl_;
  auto it = m.index.find(source);
  if (it == m.index.end()) return Admission::admitted;
  const Source& s = *it->second;
  auto fits_copy = [&](const Rate& rate, std::uint64_t rule) {
    for (const Bucket& b : s.buckets) {
      if (b.rule != (rule & kLimitKeyMask)) continue;
      Bucket copy = b;
      Timestamp next;
      return fits(rate, copy, now, next);
    }
    return true;
  };
  if (rule_rate && !fits_copy(*rule_rate, rule_key)) return Admission::rule_rate;
  if (m.policy.new_connections.count && !fits_copy(m.policy.new_connections, 0)) {
    return Admission::source_rate;
  }
  if (m.policy.max_connections_per_source && s.connections >= m.policy.max_connections_per_source) {
    return Admission::source_flows;
  }
  return Admission::admitted;
}

void SourceTable::connection_closed(const IpAddress& source) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (Source* s = impl_->find(source); s && s->connections > 0) --s->connections;
}

KnockResult SourceTable::knock(const IpAddress& source, const IpAddress& destination,
                               std::uint8_t protocol, std::uint16_t port,
                               std::span<const std::uint8_t> payload, Timestamp now,
                               std::int64_t unix_seconds) {
  if (!has_knocks_.load(std::memory_order_relaxed)) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  Impl& m = *impl_;
  const PortProto knocked{protocol, port};

  // An authenticated single-packet knock.
  if (protocol == ipproto::udp) {
    std::optional<std::uint16_t> spa_door;
    for (std::size_t i = 0; i < m.doors.size(); ++i) {
      const KnockSection& k = m.doors[i].config;
      if (k.spa_port != port) continue;
      if (!spa_door) spa_door = static_cast<std::uint16_t>(i);
      auto token = open_spa_packet(k.spa_key, payload);
      if (!token) continue;
      const auto door = static_cast<std::uint16_t>(i);
      // Bound to the sender, the server and the door: a copy sent from elsewhere, to another
      // server sharing the key or to another door opens nothing, and leaves the nonce unused
      // for the genuine packet still on its way.
      const bool to_us = token->destination == destination ||
                         std::find(k.spa_destinations.begin(), k.spa_destinations.end(),
                                   token->destination) != k.spa_destinations.end();
      if (token->source != source || !to_us || token->port != port) {
        stats_.spa_rejected.fetch_add(1, std::memory_order_relaxed);
        stats_.spa_misbound.fetch_add(1, std::memory_order_relaxed);
        return {true, KnockEvent::spa_rejected, door};
      }
      const auto window = std::chrono::duration_cast<std::chrono::seconds>(k.spa_window).count();
      if (token->unix_seconds < unix_seconds - window ||
          token->unix_seconds > unix_seconds + window) {
        stats_.spa_rejected.fetch_add(1, std::memory_order_relaxed);
        return {true, KnockEvent::spa_rejected, door};
      }
      while (!m.spa_seen.empty() &&
             (m.spa_seen.front().forget_at <= now || m.spa_seen.size() >= kMaxSpaNonces)) {
        m.spa_nonces.erase(m.spa_seen.front().nonce);
        m.spa_seen.pop_front();
      }
      if (!m.spa_nonces.insert(token->nonce).second) {
        stats_.spa_replayed.fetch_add(1, std::memory_order_relaxed);
        return {true, KnockEvent::spa_replayed, door};
      }
      // Remembered for as long as the packet could pass as fresh, in either clock direction.
      m.spa_seen.push_back({token->nonce, now + 2 * k.spa_window + std::chrono::seconds(2)});
      generation_.fetch_add(1, std::memory_order_relaxed);  // the state file keeps it
      m.grant(m.touch(source, now, *this), door, now, *this);
      stats_.spa_opened.fetch_add(1, std::memory_order_relaxed);
      return {true, KnockEvent::spa_opened, door};
    }
    if (spa_door) {
      stats_.spa_rejected.fetch_add(1, std::memory_order_relaxed);
      return {true, KnockEvent::spa_rejected, *spa_door};
    }
  }

  const bool is_knock = m.knock_ports.contains(key_of(protocol, port));
  Source* existing = m.find(source);
  if (!is_knock) {
    // Any other new connection in the middle of a sequence ends it.
    if (existing && existing->progress.active) {
      const std::uint16_t door = existing->progress.door;
      existing->progress = {};
      stats_.knock_failed.fetch_add(1, std::memory_order_relaxed);
      return {false, KnockEvent::failed, door};
    }
    return {};
  }
  Source& s = m.touch(source, now, *this);
  Progress& p = s.progress;
  KnockResult result{true, KnockEvent::none, 0};
  if (p.active) {
    const Door& door = m.doors[p.door];
    const auto& sequence = door.sequences[p.sequence];
    if (now - p.started <= door.config.window && sequence[p.stage] == knocked) {
      if (++p.stage < sequence.size()) return {true, KnockEvent::step, p.door};
      const std::uint16_t opened = p.door;
      if (p.sequence >= door.first_one_time) {
        m.doors[opened].used[p.sequence] = true;
        generation_.fetch_add(1, std::memory_order_relaxed);
      }
      p = {};
      m.grant(s, opened, now, *this);
      stats_.knock_opened.fetch_add(1, std::memory_order_relaxed);
      return {true, KnockEvent::opened, opened};
    }
    // The knock just made, sent again (a retransmitted SYN): neither right nor wrong.
    if (now - p.started <= door.config.window && sequence[p.stage - 1] == knocked) return result;
    result = {true, KnockEvent::failed, p.door};
    stats_.knock_failed.fetch_add(1, std::memory_order_relaxed);
    p = {};
  }
  // The first knock of a sequence starts it (also right after a wrong knock).
  for (std::size_t d = 0; d < m.doors.size(); ++d) {
    const Door& door = m.doors[d];
    for (std::size_t i = 0; i < door.sequences.size(); ++i) {
      if (door.used[i] || door.sequences[i].front() != knocked) continue;
      p = {true, 1, static_cast<std::uint16_t>(d), static_cast<std::uint16_t>(i), now};
      if (result.event == KnockEvent::none) result = {true, KnockEvent::step, p.door};
      return result;
    }
  }
  return result;
}

std::size_t SourceTable::granted(const IpAddress& source, std::uint8_t protocol, std::uint16_t port,
                                 Timestamp now) {
  if (grants_.load(std::memory_order_relaxed) == 0) return 0;
  std::lock_guard<std::mutex> lock(mutex_);
  Impl& m = *impl_;
  Source* s = m.find(source);
  if (!s) return 0;
  const PortProto wanted{protocol, port};
  std::size_t door = 0;
  std::erase_if(s->grants, [&](const Grant& g) {
    if (g.until <= now) {
      grants_.fetch_sub(1, std::memory_order_relaxed);
      return true;
    }
    const auto& open = m.doors[g.door].config.open;
    if (!door && std::find(open.begin(), open.end(), wanted) != open.end()) door = g.door + 1u;
    return false;
  });
  return door;
}

std::string SourceTable::door_name(std::size_t index) const {
  std::lock_guard<std::mutex> lock(mutex_);
  return index < impl_->doors.size() ? impl_->doors[index].config.name : std::string();
}

std::size_t SourceTable::knock_door_of(std::uint8_t protocol, std::uint16_t port) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const PortProto pp{protocol, port};
  for (std::size_t d = 0; d < impl_->doors.size(); ++d) {
    const Door& door = impl_->doors[d];
    if (protocol == ipproto::udp && door.config.spa_port == port) return d + 1;
    for (const auto& seq : door.sequences) {
      if (std::find(seq.begin(), seq.end(), pp) != seq.end()) return d + 1;
    }
  }
  return 0;
}

std::vector<std::string> SourceTable::used_one_time_sequences() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> out;
  for (const Door& d : impl_->doors) {
    for (std::size_t i = d.first_one_time; i < d.sequences.size(); ++i) {
      if (d.used[i]) out.push_back(sequence_text(d.config.name, d.sequences[i]));
    }
  }
  return out;
}

void SourceTable::restore_used_one_time_sequences(const std::vector<std::string>& used) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (Door& d : impl_->doors) {
    for (std::size_t i = d.first_one_time; i < d.sequences.size(); ++i) {
      const std::string text = sequence_text(d.config.name, d.sequences[i]);
      if (std::find(used.begin(), used.end(), text) != used.end()) d.used[i] = true;
    }
  }
}

std::vector<SeenSpaNonce> SourceTable::used_spa_nonces(Timestamp now) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<SeenSpaNonce> out;
  for (const SpaSeen& s : impl_->spa_seen) {
    if (s.forget_at > now) out.push_back({s.nonce, s.forget_at});
  }
  return out;
}

void SourceTable::restore_used_spa_nonces(const std::vector<SeenSpaNonce>& used, Timestamp now) {
  std::lock_guard<std::mutex> lock(mutex_);
  Impl& m = *impl_;
  std::vector<SeenSpaNonce> sorted;
  for (const SeenSpaNonce& u : used) {
    if (u.forget_at > now && !m.spa_nonces.contains(u.nonce)) sorted.push_back(u);
  }
  std::sort(sorted.begin(), sorted.end(),
            [](const SeenSpaNonce& a, const SeenSpaNonce& b) { return a.forget_at < b.forget_at; });
  if (sorted.size() > kMaxSpaNonces) sorted.erase(sorted.begin(), sorted.end() - kMaxSpaNonces);
  for (const SeenSpaNonce& u : sorted) {
    m.spa_nonces.insert(u.nonce);
    m.spa_seen.push_back({u.nonce, u.forget_at});
  }
  // Oldest first, as knock() expects when it forgets.
  std::sort(m.spa_seen.begin(), m.spa_seen.end(),
            [](const SpaSeen& a, const SpaSeen& b) { return a.forget_at < b.forget_at; });
}

std::uint64_t SourceTable::generation() const {
  return generation_.load(std::memory_order_relaxed);
}

std::size_t SourceTable::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return impl_->index.size();
}

std::size_t SourceTable::max_sources() const { return impl_->max_sources; }
const SourceTableStats& SourceTable::stats() const { return stats_; }

}  // namespace portwall
