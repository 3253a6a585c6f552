// fuzz_checks.h — what the fuzz targets hold the code to, shared between them: an invariant
// that aborts with a message (libFuzzer then keeps the input), and the rules file round trip
// (write_rules, then parse_rules, gives back the same rules) that every rule change relies on.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "rules/rule_edit.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"

namespace portwall::fuzz {

inline void check(bool ok, const char* what, const std::string& detail = "") {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n%s\n", what, detail.c_str());
    std::abort();
  }
}

// The text write_rules makes of `set` loads again, as the same rules, defaults and sets.
inline void check_round_trip(const RuleSet& set, const std::string& file) {
  const std::string text = write_rules(set);
  auto again = parse_rules(text, file);
  check(again.has_value(), "write_rules output loads again",
        text + "\n" + (again ? "" : to_string(again.error())));
  check(again->rules.size() == set.rules.size(), "same number of rules", text);
  for (std::size_t i = 0; i < set.rules.size(); ++i) {
    const Rule& a = set.rules[i];
    const Rule& b = again->rules[i];
    check(same_rule(a, b) && a.comment == b.comment && a.rate == b.rate &&
              a.port.ranges == b.port.ranges && a.from_port.ranges == b.from_port.ranges,
          "a rule written and read back is the same rule", rule_words(a) + "\n" + rule_words(b));
  }
  check(again->defaults.incoming == set.defaults.incoming &&
            again->defaults.outgoing == set.defaults.outgoing,
        "same defaults", text);
  check(again->sets == set.sets, "same sets", text);
}

}  // namespace portwall::fuzz
