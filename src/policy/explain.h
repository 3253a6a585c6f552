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
  std::string interface;      // owns the name MatchInput::interface points to
  std::string out_interface;  // route: owns MatchInput::out_interface's name
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

// The flow of the connection table a probe belongs to, as the packet path will judge it.
struct TrackedFlow {
  std::optional<TcpState> state;  // TCP's
  bool cut = false;               // cut by a policy change: dropped until it ends
  std::uint32_t rule_number = 0;  // the rule that denied it when it was cut (0: none)
  bool outlives_block = false;    // kept by `blocked add --keep-established`
  static TrackedFlow of(const Flow& f) {
    TrackedFlow t{std::nullopt, f.cut, f.rule_number, f.outlives_block};
    if (f.key.protocol == ipproto::tcp) t.state = f.tcp_state;
    return t;
  }
};

// `tracked`: the flow the probe belongs to, if the connection table holds one (state decides).
Explanation explain(const PolicySnapshot& policy, const Probe& probe,
                    const std::optional<TrackedFlow>& tracked, const DefenseFacts& defenses = {});

}  // namespace portwall
