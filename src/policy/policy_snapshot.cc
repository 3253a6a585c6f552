#include "policy/policy_snapshot.h"

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "detect/source_table.h"
#include "rules/rule_edit.h"

namespace portwall {

PolicySnapshot::PolicySnapshot(RuleSet rules, const PolicySnapshot* previous)
    : classifier_(std::move(rules), previous ? &previous->classifier_ : nullptr),
      hits_(std::make_unique<RuleHits[]>(classifier_.rule_set().rules.size())) {
  const std::vector<Rule>& all = rule_set().rules;
  for (std::size_t i = 0; i < all.size(); ++i) {
    if (all[i].action != Action::limit) continue;
    // Identical limit rules share a key: only the first of them ever matches.
    const std::uint64_t key = rule_hash(all[i]) & kLimitKeyMask;
    limit_keys_[static_cast<std::uint32_t>(i + 1)] = key ? key : 1;
  }
}

std::uint64_t PolicySnapshot::limit_key(std::uint32_t number) const {
  const auto it = limit_keys_.find(number);
  return it == limit_keys_.end() ? 1 : it->second;
}

void PolicySnapshot::inherit_hits(const PolicySnapshot& previous) {
  const std::vector<Rule>& now = rule_set().rules;
  const std::vector<Rule>& before = previous.rule_set().rules;
  auto take = [&](std::size_t i, std::size_t j) {
    hits_[i].packets.store(previous.hits_[j].packets.load(std::memory_order_relaxed));
    hits_[i].bytes.store(previous.hits_[j].bytes.load(std::memory_order_relaxed));
  };
  // A change adds, moves or deletes a rule or a few: the rules before it and after it are the
  // same rules in the same order, found in one pass from each end.
  std::size_t head = 0, tail = 0;
  while (head < now.size() && head < before.size() && same_rule(now[head], before[head])) {
    take(head, head);
    ++head;
  }
  while (tail < now.size() - head && tail < before.size() - head &&
         same_rule(now[now.size() - 1 - tail], before[before.size() - 1 - tail])) {
    take(now.size() - 1 - tail, before.size() - 1 - tail);
    ++tail;
  }
  // The rest by identity, in order, so that every rule finds its predecessor by a binary
  // search (a pairwise search took 13 s at 100,000 rules): the same rule twice takes the first
  // one left. Sorted by hash, confirmed with same_rule.
  const std::size_t before_end = before.size() - tail, now_end = now.size() - tail;
  std::vector<std::pair<std::size_t, std::size_t>> by_hash;  // (hash, position)
  by_hash.reserve(before_end - head);
  for (std::size_t j = head; j < before_end; ++j) by_hash.emplace_back(rule_hash(before[j]), j);
  std::sort(by_hash.begin(), by_hash.end());
  std::vector<bool> taken(before.size());
  std::vector<std::size_t> first_left(by_hash.size());  // per run of one hash: where to look
  for (std::size_t k = 0; k < by_hash.size(); ++k) first_left[k] = k;
  for (std::size_t i = head; i < now_end; ++i) {
    const std::size_t hash = rule_hash(now[i]);
    const auto run =
        std::lower_bound(by_hash.begin(), by_hash.end(), std::pair{hash, std::size_t{0}});
    if (run == by_hash.end() || run->first != hash) continue;
    const auto start = static_cast<std::size_t>(run - by_hash.begin());
    std::size_t k = first_left[start];
    while (k < by_hash.size() && by_hash[k].first == hash && taken[by_hash[k].second]) ++k;
    first_left[start] = k;  // copies of one rule are taken in order: each lookup stays short
    for (; k < by_hash.size() && by_hash[k].first == hash; ++k) {
      const std::size_t j = by_hash[k].second;
      if (taken[j] || !same_rule(before[j], now[i])) continue;
      taken[j] = true;
      take(i, j);
      break;
    }
  }
}

}  // namespace portwall
