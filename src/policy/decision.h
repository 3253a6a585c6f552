// decision.h — what the policy says about one packet: the verdict, why, and which rule.
// Values only; the vocabulary of the decision log line (DESIGN.md "Decision log line").
#pragma once

#include <cstddef>
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
  rate_limit,
  table_full,  // a new flow found the connection table full of assured flows
  blocked,     // its source is on the block list by hand (`portwall blocked add`) or by CrowdSec
};
inline constexpr std::size_t kVerdicts = 3;  // the number of Verdict values
inline constexpr std::size_t kReasons = 9;   // the number of Reason values

// What a decision did to the source's defense state, worth a log line of its own.
enum class Event : std::uint8_t {
  none,
  blocked,       // this packet made its source a scanner: it is blocked from now on
  knock_step,    // a right knock, the sequence goes on
  knock_open,    // a knock sequence completed: its ports are open for this source
  knock_fail,    // a wrong knock (or too late): the source's progress is reset
  spa_open,      // an authenticated knock opened the door
  spa_reject,    // an SPA packet with a bad MAC, malformed or stale
  spa_replay,    // an SPA packet seen before
  rule_rate,     // a limit rule's rate is used up
  source_rate,   // [limits] new_connections per source is used up
  source_flows,  // [limits] max_connections_per_source reached
};

const char* to_string(Verdict verdict);  // "ACCEPT", "DROP", "REJECT"
const char* to_string(Reason reason);    // "rule", "default", "state", "invalid", ...
const char* to_string(Event event);      // "", "block", "knock-step", "knock-open", ...

// allow and limit accept, deny drops, reject rejects.
Verdict verdict_of(Action action);

struct Decision {
  Verdict verdict = Verdict::drop;
  Reason reason = Reason::invalid;
  std::uint32_t rule_number = 0;  // 1-based; 0: no rule decided
  bool log = false;               // this decision belongs in the decision log
  Event event = Event::none;
  std::uint16_t door = 0;  // knock events: index of the [[knock]] in the configuration
  bool offload = false;    // inspect = "new": the connection's later packets may skip the queue
  // An ICMP error quoting a flow this queue's table does not hold: not decided yet, the other
  // queues' tables are asked (Engine::related_decision), then Engine::settle_related decides.
  bool ask_other_queues = false;
  // A blocked source's line: how many of its packets it stands for (COUNT= in the log line),
  // the first one and then those dropped since the last line (detect/blocked_log_gate.h).
  std::uint32_t count = 0;
  bool by_feed = false;  // REASON=blocked by the feed's (CrowdSec's) block: BY=crowdsec
  // A new forwarded or published connection: the host's port the client asked for, by which it
  // was judged (PUBLIC_DPT= in the log line, beside the container's DST= and DPT=); 0: none.
  std::uint16_t public_port = 0;
};

}  // namespace portwall
