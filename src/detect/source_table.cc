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

struct Source {
  IpAddress address;
  Timestamp last_seen{};
  std::vector<RuleAttempts> rules;  // usually one or two limit rules
};

}  // namespace

struct SourceTable::Impl {
  std::size_t max_sources;
  LimitPolicy limit;
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
      index.erase(by_age.front().address);
      by_age.pop_front();
      ++stats.evicted;
    }
    by_age.push_back(Source{address, now, {}});
    index.emplace(address, std::prev(by_age.end()));
    return by_age.back();
  }
};

SourceTable::SourceTable(std::size_t max_sources, LimitPolicy limit)
    : impl_(std::make_unique<Impl>()) {
  impl_->max_sources = max_sources;
  impl_->limit = limit;
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

std::size_t SourceTable::size() const { return impl_->index.size(); }
const SourceTableStats& SourceTable::stats() const { return impl_->stats; }

}  // namespace portwall
