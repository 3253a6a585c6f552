// decision.h — what the policy says about one packet: the verdict, why, and which rule.
// Values only; the vocabulary of the decision log line (DESIGN.md "Decision log line").
#pragma once

#include <cstdint>

#include "rules/rule.h"

namespace portwall {

enum class Verdict : std::uint8_t { accept, drop, reject };
enum class Reason : std::uint8_t {
  rule,
  default_policy,
  state,
  invalid,
  scan_block,
  knock,
  rate_limit
};

const char* to_string(Verdict verdict);  // "ACCEPT", "DROP", "REJECT"
const char* to_string(Reason reason);    // "rule", "default", "state", "invalid", ...

// allow and limit accept, deny drops, reject rejects.
Verdict verdict_of(Action action);

struct Decision {
  Verdict verdict = Verdict::drop;
  Reason reason = Reason::invalid;
  std::uint32_t rule_number = 0;  // 1-based; 0: no rule decided
  bool log = false;               // this decision belongs in the decision log
};

}  // namespace portwall
