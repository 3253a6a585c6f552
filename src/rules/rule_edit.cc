#include "rules/rule_edit.h"

#include <algorithm>
#include <functional>
#include <tuple>
#include <type_traits>

#include "rules/forward.h"

namespace portwall {
namespace {

std::expected<void, std::string> check_editable(std::size_t number, std::size_t file_rules,
                                                std::size_t total_rules) {
  if (number > total_rules) {
    return std::unexpected("there is no rule " + std::to_string(number) + " (there are " +
                           std::to_string(total_rules) + ")");
  }
  if (number > file_rules) {
    return std::unexpected("rule " + std::to_string(number) +
                           " comes from a file in rules.d; edit that file");
  }
  return {};
}

// What makes two rules the same rule: all that rule_words() says but the comment.
auto identity_of(const Rule& r) {
  return std::tie(r.action, r.direction, r.interface, r.out_interface, r.log, r.proto, r.from_text,
                  r.from_port_text, r.to_text, r.port_text);
}

}  // namespace

bool same_rule(const Rule& a, const Rule& b) { return identity_of(a) == identity_of(b); }

std::size_t rule_hash(const Rule& r) {
  // Field by field, in order (from 10 to any is not from any to 10).
  std::size_t h = 0;
  std::apply(
      [&h](const auto&... field) {
        ((h = (h ^ std::hash<std::decay_t<decltype(field)>>{}(field)) * 0x9e3779b97f4a7c15ull),
         ...);
      },
      identity_of(r));
  return h ^ (h >> 29);
}

std::expected<EditResult, std::string> apply_change(RuleSet file, const RuleCommand& c,
                                                    std::size_t total_rules) {
  const std::size_t file_rules = file.rules.size();
  EditResult result{std::move(file), false, "", "", ""};
  std::vector<Rule>& rules = result.rules.rules;
  auto existing = [&](const Rule& r) {
    return std::find_if(rules.begin(), rules.end(), [&](const Rule& x) { return same_rule(x, r); });
  };
  switch (c.kind) {
    case RuleCommand::Kind::add:
    case RuleCommand::Kind::insert:
    case RuleCommand::Kind::prepend: {
      if (existing(c.rule) != rules.end()) {
        result.summary = "Skipping adding existing rule";
        return result;
      }
      std::size_t at = rules.size();
      if (c.kind == RuleCommand::Kind::prepend) at = 0;
      if (c.kind == RuleCommand::Kind::insert) {
        if (auto ok = check_editable(c.number, file_rules, total_rules); !ok) {
          return std::unexpected("cannot insert at " + std::to_string(c.number) + ": " +
                                 ok.error());
        }
        at = c.number - 1;
      }
      rules.insert(rules.begin() + static_cast<std::ptrdiff_t>(at), c.rule);
      result.changed = true;
      result.summary = "Rule added";
      result.after = rule_words(c.rule);
      return result;
    }
    case RuleCommand::Kind::delete_number: {
      if (auto ok = check_editable(c.number, file_rules, total_rules); !ok) {
        return std::unexpected("cannot delete: " + ok.error());
      }
      if (c.route && rules[c.number - 1].direction != Direction::route) {
        return std::unexpected("cannot delete: rule " + std::to_string(c.number) +
                               " is not a route rule (" + rule_words(rules[c.number - 1]) +
                               "); `delete " + std::to_string(c.number) + "` deletes it");
      }
      result.before = rule_words(rules[c.number - 1]);
      rules.erase(rules.begin() + static_cast<std::ptrdiff_t>(c.number - 1));
      result.changed = true;
      result.summary = "Rule deleted: " + result.before;
      return result;
    }
    case RuleCommand::Kind::delete_rule: {
      auto it = existing(c.rule);
      if (it == rules.end()) {
        result.summary = "Could not delete non-existent rule";
        return result;
      }
      result.before = rule_words(*it);
      rules.erase(it);
      result.changed = true;
      result.summary = "Rule deleted: " + result.before;
      return result;
    }
    case RuleCommand::Kind::set_default: {
      Defaults& d = result.rules.defaults;
      const Direction dir = c.default_direction;
      Action& slot = dir == Direction::in    ? d.incoming
                     : dir == Direction::out ? d.outgoing
                                             : d.routed;
      const char* which = dir == Direction::in    ? "incoming"
                          : dir == Direction::out ? "outgoing"
                                                  : "routed";
      result.before = std::string("default ") + to_string(slot) + " " + which;
      bool& given = dir == Direction::in    ? result.rules.has_incoming
                    : dir == Direction::out ? result.rules.has_outgoing
                                            : result.rules.has_routed;
      result.changed = slot != c.default_action || !given;
      if (dir == Direction::route) d.routed_given = true;
      slot = c.default_action;
      given = true;
      result.after = std::string("default ") + to_string(slot) + " " + which;
      result.summary =
          std::string("Default ") + which + " policy changed to '" + to_string(slot) + "'";
      return result;
    }
    case RuleCommand::Kind::add_forward: {
      std::vector<Forward>& forwards = result.rules.forwards;
      if (std::any_of(forwards.begin(), forwards.end(),
                      [&](const Forward& f) { return same_forward(f, c.forward); })) {
        result.summary = "Skipping adding existing forward";
        return result;
      }
      forwards.push_back(c.forward);
      if (auto conflict = forward_conflict(forwards)) return std::unexpected(conflict->why);
      result.changed = true;
      result.summary = "Forward added";
      result.after = forward_words(c.forward);
      return result;
    }
    case RuleCommand::Kind::delete_forward_number: {
      std::vector<Forward>& forwards = result.rules.forwards;
      if (c.number > forwards.size()) {
        return std::unexpected("cannot delete: the rules file has no forward " +
                               std::to_string(c.number) + " (it has " +
                               std::to_string(forwards.size()) +
                               "; forwards from rules.d are edited there)");
      }
      result.before = forward_words(forwards[c.number - 1]);
      forwards.erase(forwards.begin() + static_cast<std::ptrdiff_t>(c.number - 1));
      result.changed = true;
      result.summary = "Forward deleted: " + result.before;
      return result;
    }
    case RuleCommand::Kind::delete_forward: {
      std::vector<Forward>& forwards = result.rules.forwards;
      auto it = std::find_if(forwards.begin(), forwards.end(),
                             [&](const Forward& f) { return same_forward(f, c.forward); });
      if (it == forwards.end()) {
        result.summary = "Could not delete non-existent forward";
        return result;
      }
      result.before = forward_words(*it);
      forwards.erase(it);
      result.changed = true;
      result.summary = "Forward deleted: " + result.before;
      return result;
    }
  }
  return std::unexpected(std::string("unknown change"));
}

}  // namespace portwall
