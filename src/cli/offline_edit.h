// offline_edit.h — a rule change applied to the rules file when no daemon is running, with the
// same grammar, semantics and atomic write as the daemon's live path.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace portwall {

// Where the CLI finds portwalld and the rules file it edits: the configuration's [daemon]
// socket and rules, as portwalld reads them, unless the command line names them. A
// configuration that does not exist or may not be read leaves the defaults; so does a broken
// one, with a warning.
struct CliSetup {
  std::string socket, rules;
  std::string rules_dir;         // the drop-in folder; "" = <folder of rules>/rules.d
  std::optional<Config> config;  // the configuration read ([daemon] and [log]), if any
  std::string warning;           // why a configuration that exists was not used
  // The rules file is a guess: a configuration exists but could not be used and --rules was
  // not given. Nothing is to be edited then.
  bool rules_unsure = false;
};
CliSetup cli_setup(const std::string& config_file, const std::optional<std::string>& socket,
                   const std::optional<std::string>& rules);

// A change made with no daemon running, recorded as the daemon records its own (user, pid,
// what) in the audit log the configuration names, marked offline. "" when recorded, else why
// it was not (no configuration read, or the log could not be opened).
std::string audit_offline_edit(const CliSetup& setup, const std::string& action,
                               const std::string& detail);

// {"changed", "summary", "before", "after"} as the daemon answers, or what was wrong.
// `rules_dir` "" is <folder of rules_file>/rules.d, as portwalld reads it. `configured`: the
// configuration's [defaults], in force for the keys the rules file does not hold (what
// `default` changes, and its "before").
std::expected<nlohmann::json, std::string> edit_rules_file(const std::vector<std::string>& words,
                                                           const std::string& rules_file,
                                                           const std::string& rules_dir = "",
                                                           const Defaults& configured = {});

}  // namespace portwall
