// explain.h — `portwall explain`: which rule, default or connection would decide a packet that
// nobody sent. The probe is written as administrators write flows:
//   tcp 203.0.113.9:40000 -> 192.0.2.1:22 [in|out] [on IFACE]      ([2001:db8::9]:40000 for v6)
// Pure: the daemon supplies the rules and whether a flow is tracked.
#pragma once

#include <expected>
#include <optional>
#include <span>
#include <string>

#include "conntrack/flow.h"
#include "policy/decision.h"
#include "policy/policy_snapshot.h"

namespace portwall {

struct Probe {
  MatchInput input;
  std::string interface;  // owns the name MatchInput::interface points to
  FlowKey key() const;
};

std::expected<Probe, std::string> parse_probe(std::span<const std::string> words);

struct Explanation {
  Decision decision;
  std::string rule;  // the deciding rule in words, if a rule decides
  std::string why;   // one sentence
};

// What the defenses know of the probe's source and port (the daemon asks its tables).
struct DefenseFacts {
  std::string blocked;           // non-empty: the source (inbound) or destination is blocked; why
  bool blocked_by_hand = false;  // that block was added with `portwall blocked add`
  std::string knock_port;        // non-empty: the port belongs to this [[knock]]: a knock
  std::string opened_by;         // non-empty: this [[knock]] opened the port for the source
  std::string limit;             // non-empty: a limit refuses the probe now; which
  std::string limits_note;       // non-empty: the limits that apply to it (rate, per-source caps)
};

// `tracked`: the probe belongs to a flow the connection table holds (state decides).
Explanation explain(const PolicySnapshot& policy, const Probe& probe,
                    std::optional<TcpState> tracked_state, bool tracked,
                    const DefenseFacts& defenses = {});

}  // namespace portwall
