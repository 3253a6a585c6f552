#include "rules/classifier.h"

#include "packet/packet_view.h"

namespace portwall {
namespace {

bool proto_matches(const Rule& rule, std::uint8_t protocol) {
  switch (rule.proto) {
    case Proto::any:
      // A port only means something for TCP and UDP: `allow 53` is tcp and udp, as in ufw.
      if (!rule.port.any() || !rule.from_port.any()) {
        return protocol == ipproto::tcp || protocol == ipproto::udp;
      }
      return true;
    case Proto::tcp:
      return protocol == ipproto::tcp;
    case Proto::udp:
      return protocol == ipproto::udp;
    case Proto::icmp:
      return protocol == ipproto::icmp || protocol == ipproto::icmpv6;
  }
  return false;
}

bool matches(const Rule& rule, const MatchInput& in) {
  return rule.direction == in.direction && proto_matches(rule, in.protocol) &&
         rule.from.matches(in.src) && rule.to.matches(in.dst) && rule.port.matches(in.dst_port) &&
         rule.from_port.matches(in.src_port) &&
         (rule.interface.empty() || rule.interface == in.interface);
}

}  // namespace

Classifier::Classifier(RuleSet rules) : rules_(std::move(rules)) {}

std::optional<std::size_t> Classifier::match(const MatchInput& input) const {
  const std::vector<Rule>& rules = rules_.rules;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    if (matches(rules[i], input)) return i;
  }
  return std::nullopt;
}

Action Classifier::default_action(Direction direction) const {
  return direction == Direction::in ? rules_.defaults.incoming : rules_.defaults.outgoing;
}

}  // namespace portwall
