// classifier.h — the compiled, immutable form of a RuleSet that answers "which rule decides?".
// Built once per load and shared read-only by every queue thread
// (std::shared_ptr<const Classifier>); match() never allocates.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

#include "packet/ip_address.h"
#include "rules/rule.h"

namespace portwall {

// What a rule can look at for a packet that starts a flow.
struct MatchInput {
  Direction direction = Direction::in;
  std::uint8_t protocol = 0;  // IANA number (ipproto::tcp, ...)
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;  // 0 for protocols without ports
  std::string_view interface;                // IN= for direction in, OUT= for out; may be empty
};

class Classifier {
 public:
  explicit Classifier(RuleSet rules);

  // Index into rules() of the first rule that matches, if any. First match wins.
  std::optional<std::size_t> match(const MatchInput& input) const;

  // The default action for a direction (allow, deny or reject).
  Action default_action(Direction direction) const;

  const RuleSet& rule_set() const { return rules_; }

 private:
  RuleSet rules_;
};

}  // namespace portwall
