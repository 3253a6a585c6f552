// policy_snapshot.h — one generation of the compiled rules plus its hit counters.
// Immutable rules, shared by every queue thread through std::shared_ptr<const ...>; a reload
// builds a new snapshot and swaps it whole, so no thread ever sees half a rule set.
// Counters are relaxed atomics: several queue threads add to them, `status` reads them.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <unordered_map>

#include "rules/classifier.h"

namespace portwall {

struct RuleHits {
  std::atomic<std::uint64_t> packets{0};
  std::atomic<std::uint64_t> bytes{0};
};

class PolicySnapshot {
 public:
  // `previous`: the generation this one replaces, whose compiled address sets are reused
  // where the lists are the same (Classifier).
  explicit PolicySnapshot(RuleSet rules, const PolicySnapshot* previous = nullptr);

  const Classifier& classifier() const { return classifier_; }
  const RuleSet& rule_set() const { return classifier_.rule_set(); }

  // REQUIRES: 1 <= number <= rules().size().
  void count_hit(std::uint32_t number, std::uint64_t bytes) const {
    RuleHits& h = hits_[number - 1];
    h.packets.fetch_add(1, std::memory_order_relaxed);
    h.bytes.fetch_add(bytes, std::memory_order_relaxed);
  }
  const RuleHits& hits(std::uint32_t number) const { return hits_[number - 1]; }

  // The key of a `limit` rule's rate buckets: the rule's identity, not its number, so that a
  // source's history stays with its rule when an insert or delete renumbers the rules (and
  // never passes to the rule that takes the number). 56 bits (kLimitKeyMask), never 0 (that is
  // [limits]'). REQUIRES:
  // rule `number` is a limit rule.
  std::uint64_t limit_key(std::uint32_t number) const;

  // Carries the counters of rules that are still there (the same rule, wherever it moved)
  // over from the generation this one replaces, so that a reload or an edit does not zero
  // them. Call before the snapshot is published.
  void inherit_hits(const PolicySnapshot& previous);

 private:
  Classifier classifier_;
  std::unique_ptr<RuleHits[]> hits_;
  std::unordered_map<std::uint32_t, std::uint64_t> limit_keys_;  // by rule number
};

}  // namespace portwall
