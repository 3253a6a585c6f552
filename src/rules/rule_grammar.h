// rule_grammar.h — ufw's rule words -> a rule change, so that an administrator's habits (and
// fail2ban's ufw action) carry over: `allow 22/tcp`, `deny in on eth0 from 203.0.113.0/24`,
// `insert 1 deny from 198.51.100.7`, `prepend reject from 198.51.100.7`, `delete 3`,
// `delete allow 22/tcp`, `default deny incoming`. Pure: no file, no socket. Every refusal names
// the word that is wrong and what was expected.
#pragma once

#include <cstddef>
#include <expected>
#include <span>
#include <string>

#include "rules/rule.h"

namespace portwall {

struct RuleCommand {
  enum class Kind {
    add,
    insert,
    prepend,
    delete_number,
    delete_rule,
    set_default,
    add_forward,
    delete_forward_number,
    delete_forward
  };
  Kind kind = Kind::add;
  std::size_t number = 0;                       // insert N, delete N (1-based)
  Rule rule;                                    // add, insert, prepend, delete_rule
  Direction default_direction = Direction::in;  // set_default
  Action default_action = Action::deny;         // set_default
  Forward forward;                              // add_forward, delete_forward
  // `route ...`: the rule is a route rule; `route delete N` deletes only a route rule.
  bool route = false;
};

// `words` start at the verb: {"allow", "22/tcp"} or {"insert", "1", "deny", "from", "x"};
// {"forward", "80/tcp", "to", "8080"}, {"forward", "delete", "2"} or {"forward", "delete", ...};
// {"route", "allow", "in", "on", "eth0", "out", "on", "br0", "to", "172.18.0.2", "port", "80"},
// {"route", "delete", "3"}, {"route", "insert", "1", "deny", ...}.
std::expected<RuleCommand, std::string> parse_rule_command(std::span<const std::string> words);

// The words that write `rule` in the full form, as `status` and the audit log show it:
// "allow in proto tcp from any to any port 22 comment 'ssh'".
std::string rule_words(const Rule& rule);

}  // namespace portwall
