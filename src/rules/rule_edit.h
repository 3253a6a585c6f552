// rule_edit.h — one rule change applied to the rules file's RuleSet, with ufw's semantics:
// adding a rule that exists already or deleting one that does not is no error but changes
// nothing; positions are the numbers `status numbered` shows. Pure: the caller loads, saves
// and reloads.
#pragma once

#include <expected>
#include <string>

#include "rules/rule.h"
#include "rules/rule_grammar.h"

namespace portwall {

struct EditResult {
  RuleSet rules;  // the rules file after the change
  bool changed = false;
  std::string summary;        // "Rule added", "Skipping adding existing rule", "Rule deleted: ..."
  std::string before, after;  // the rule (in words) before and after, for the audit log
};

// `file` is the CLI-managed rules file (moved in: 10^5 rules are not copied); `total_rules`
// counts its rules plus those of the drop-in files that follow them (numbers past the file's
// own rules belong to drop-ins).
std::expected<EditResult, std::string> apply_change(RuleSet file, const RuleCommand& change,
                                                    std::size_t total_rules);

// Two rules are the same rule when they match the same packets with the same action; the
// comment does not count (fail2ban deletes its ban without repeating the comment).
bool same_rule(const Rule& a, const Rule& b);
// A hash of what same_rule compares: equal for the same rule, and for another rule only by
// chance (compare with same_rule). The same in every process of one build.
std::size_t rule_hash(const Rule& rule);

}  // namespace portwall
