// classifier.h — the compiled, immutable form of a RuleSet that answers "which rule decides?".
// Built once per load and shared read-only by every queue thread
// (std::shared_ptr<const Classifier>); match() never allocates.
//
// Compiled as a tuple space (as Open vSwitch does): rules are grouped by the shape of what they
// match exactly (direction, family, source and destination prefix lengths, whether a protocol
// and a destination port are given); each group is a hash table from the masked packet fields
// to the rules that have them, in rule order. A packet costs one lookup per group, and the
// groups are visited in order of their first rule so that the search stops as soon as no group
// can hold an earlier match. The cost follows the number of rule shapes, not of rules: 100,000
// `deny from ADDR` rules are one group. Conditions that are not indexed (source ports,
// interfaces, port ranges too wide to spread, large address lists) are checked on the
// candidates; large address lists through an AddressSet, whose cost does not grow with size.
#pragma once

#include <cstdint>
#include <memory>
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
  std::string_view interface;                // IN= for direction in and route, OUT= for out
  std::string_view out_interface;            // route: OUT=; may be empty
};

// For tests: the bits of a key's fingerprint the index keeps. Fewer make different keys share
// fingerprints, as two keys of 10^5 rarely do with all 32; a lookup must then still find the
// first matching rule.
struct ClassifierTuning {
  std::uint32_t fingerprint_mask = 0xffffffff;
};

class Classifier {
 public:
  // `previous`: the classifier this one replaces; address sets compiled from a list both share
  // (a set file that did not change) are taken over instead of compiled again. It need not
  // outlive this one.
  explicit Classifier(RuleSet rules, const Classifier* previous = nullptr,
                      ClassifierTuning tuning = {});
  ~Classifier();
  Classifier(Classifier&&) noexcept;
  Classifier& operator=(Classifier&&) noexcept;

  // Index into rules() of the first rule that matches, if any. First match wins.
  std::optional<std::size_t> match(const MatchInput& input) const;

  // The default action for a direction (allow, deny or reject).
  Action default_action(Direction direction) const;

  const RuleSet& rule_set() const { return rules_; }
  std::size_t groups() const;  // rule shapes (for benchmarks and status)

 private:
  struct Index;
  RuleSet rules_;
  std::unique_ptr<Index> index_;
};

}  // namespace portwall
