#include "policy/policy_snapshot.h"

#include <vector>

#include "rules/rule_edit.h"

namespace portwall {

void PolicySnapshot::inherit_hits(const PolicySnapshot& previous) {
  const std::vector<Rule>& now = rule_set().rules;
  const std::vector<Rule>& before = previous.rule_set().rules;
  std::vector<bool> taken(before.size(), false);
  for (std::size_t i = 0; i < now.size(); ++i) {
    for (std::size_t j = 0; j < before.size(); ++j) {
      if (taken[j] || !same_rule(now[i], before[j])) continue;
      taken[j] = true;
      hits_[i].packets.store(previous.hits_[j].packets.load(std::memory_order_relaxed));
      hits_[i].bytes.store(previous.hits_[j].bytes.load(std::memory_order_relaxed));
      break;
    }
  }
}

}  // namespace portwall
