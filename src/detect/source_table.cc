#include "detect/source_table.h"

#include <list>
#include <unordered_map>
#include <vector>

namespace portwall {
namespace {

struct AddressHash {
  std::size_t operator()(const IpAddress& a) const noexcept {
    std::uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (std::size_t i = 0; i < a.size(); ++i) h = (h ^ a.bytes[i]) * 1099511628211ull;
    return static_cast<std::size_t>(h ^ static_cast<std::uint8_t>(a.family));
  }
};

// The recent attempts of one source against one limit rule, newest last, at most kRemembered.
struct RuleAttempts {
  std::uint32_t rule = 0;
  std::array<Timestamp, SourceTable::kRemembered> at{};
  std::size_t count = 0;

  std::size_t within(Timestamp since) const {
    std::size_t n = 0;
    for (std::size_t i = 0; i < count; ++i) n += at[i] > since;
    return n;
  }
  void add(Timestamp now) {
    if (count == at.size()) {
      for (std::size_t i = 1; i < count; ++i) at[i - 1] = at[i];
      --count;
    }
    at[count++] = now;
  }
};

struct Touch {
  std::uint32_t port;  // protocol << 16 | port: 22/tcp and 22/udp are different ports
  Timestamp at;
};

struct Source {
  IpAddress address;
  Timestamp last_seen{};
  std::vector<RuleAttempts> rules;  // usually one or two limit rules
  std::vector<Touch> touches;       // refused ports within the scan window, bounded
  Timestamp blocked_until{};
};

}  // namespace

struct SourceTable::Impl {
  std::size_t max_sources;
  LimitPolicy limit;
  ScanPolicy scan;
  std::size_t blocked = 0;   // sources with blocked_until set (maybe expired): fast path when 0
  std::list<Source> by_age;  // least recently seen first
  std::unordered_map<IpAddress, std::list<Source>::iterator, AddressHash> index;
  SourceTableStats stats;

  Source& touch(const IpAddress& address, Timestamp now) {
    if (auto it = index.find(address); it != index.end()) {
      by_age.splice(by_age.end(), by_age, it->second);
      it->second->last_seen = now;
      return *it->second;
    }
    if (index.size() >= max_sources && !by_age.empty()) {
      if (by_age.front().blocked_until != Timestamp{}) --blocked;
      index.erase(by_age.front().address);
      by_age.pop_front();
      ++stats.evicted;
    }
    by_age.push_back(Source{address, now, {}, {}, {}});
    index.emplace(address, std::prev(by_age.end()));
    return by_age.back();
  }
};

SourceTable::SourceTable(std::size_t max_sources, LimitPolicy limit, ScanPolicy scan)
    : impl_(std::make_unique<Impl>()) {
  impl_->max_sources = max_sources;
  impl_->limit = limit;
  impl_->scan = std::move(scan);
}

bool SourceTable::note_refused(const IpAddress& source, std::uint8_t protocol, std::uint16_t port,
                               Timestamp now) {
  Impl& m = *impl_;
  if (!m.scan.enabled) return false;
  for (const Cidr& c : m.scan.never_block) {
    if (c.contains(source)) return false;
  }
  Source& s = m.touch(source, now);
  if (s.blocked_until > now) return false;
  const std::uint32_t key = std::uint32_t{protocol} << 16 | port;
  const Timestamp since = now - m.scan.window;
  std::erase_if(s.touches, [&](const Touch& t) { return t.at <= since || t.port == key; });
  s.touches.push_back({key, now});
  if (s.touches.size() <= m.scan.distinct_ports) return false;
  if (s.blocked_until == Timestamp{}) ++m.blocked;
  s.blocked_until = now + m.scan.block;
  s.touches.clear();
  ++m.stats.blocks;
  return true;
}

bool SourceTable::is_blocked(const IpAddress& address, Timestamp now) {
  Impl& m = *impl_;
  if (m.blocked == 0) return false;
  auto it = m.index.find(address);
  if (it == m.index.end() || it->second->blocked_until == Timestamp{}) return false;
  if (it->second->blocked_until <= now) {
    it->second->blocked_until = Timestamp{};
    --m.blocked;
    return false;
  }
  m.by_age.splice(m.by_age.end(), m.by_age, it->second);  // a blocked scanner stays remembered
  ++m.stats.blocked_packets;
  return true;
}

SourceTable::~SourceTable() = default;

bool SourceTable::allow_new_connection(const IpAddress& source, std::uint32_t rule_number,
                                       Timestamp now) {
  Source& s = impl_->touch(source, now);
  RuleAttempts* attempts = nullptr;
  for (RuleAttempts& r : s.rules) {
    if (r.rule == rule_number) attempts = &r;
  }
  if (!attempts) {
    s.rules.push_back(RuleAttempts{rule_number, {}, 0});
    attempts = &s.rules.back();
  }
  const bool allowed = attempts->within(now - impl_->limit.window) < impl_->limit.max_new;
  attempts->add(now);
  if (!allowed) ++impl_->stats.limit_drops;
  return allowed;
}

std::vector<SourceTable::Block> SourceTable::blocked(Timestamp now) const {
  std::vector<Block> out;
  if (impl_->blocked == 0) return out;
  for (const Source& s : impl_->by_age) {
    if (s.blocked_until > now) out.push_back({s.address, s.blocked_until});
  }
  return out;
}

bool SourceTable::unblock(const IpAddress& address) {
  auto it = impl_->index.find(address);
  if (it == impl_->index.end() || it->second->blocked_until == Timestamp{}) return false;
  it->second->blocked_until = Timestamp{};
  --impl_->blocked;
  return true;
}

std::size_t SourceTable::size() const { return impl_->index.size(); }
const SourceTableStats& SourceTable::stats() const { return impl_->stats; }

}  // namespace portwall
