#include "policy/decision.h"

namespace portwall {

Verdict verdict_of(Action action) {
  switch (action) {
    case Action::allow:
    case Action::limit:
      return Verdict::accept;
    case Action::deny:
      return Verdict::drop;
    case Action::reject:
      return Verdict::reject;
  }
  return Verdict::drop;
}

const char* to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::accept:
      return "ACCEPT";
    case Verdict::drop:
      return "DROP";
    case Verdict::reject:
      return "REJECT";
  }
  return "?";
}

const char* to_string(Reason reason) {
  switch (reason) {
    case Reason::rule:
      return "rule";
    case Reason::default_policy:
      return "default";
    case Reason::state:
      return "state";
    case Reason::invalid:
      return "invalid";
    case Reason::scan_block:
      return "scan-block";
    case Reason::knock:
      return "knock";
    case Reason::rate_limit:
      return "rate-limit";
    case Reason::table_full:
      return "table-full";
    case Reason::blocked:
      return "blocked";
  }
  return "?";
}

const char* to_string(Event event) {
  switch (event) {
    case Event::none:
      return "";
    case Event::blocked:
      return "block";
    case Event::knock_step:
      return "knock-step";
    case Event::knock_open:
      return "knock-open";
    case Event::knock_fail:
      return "knock-fail";
    case Event::spa_open:
      return "spa-open";
    case Event::spa_reject:
      return "spa-reject";
    case Event::spa_replay:
      return "spa-replay";
    case Event::rule_rate:
      return "rule-rate";
    case Event::source_rate:
      return "source-rate";
    case Event::source_flows:
      return "source-connections";
  }
  return "?";
}

}  // namespace portwall
