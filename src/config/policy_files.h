// policy_files.h — everything portwalld loads at start and on reload: the configuration, then
// the rules file it names (or the one given on the command line) with its rules.d drop-ins.
// One function, so that `portwalld --check`, `portwall check CONFIG` and a reload agree.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "rules/rule.h"
#include "rules/rule_loader.h"

namespace portwall {

struct PolicyFiles {
  Config config;
  RuleSet rules;  // the rules file's [defaults] over the configuration's, key by key
  std::string rules_file, rules_dir;
  // What loads but may surprise: a [defaults] key of the configuration that the rules file
  // overrides with another value. Said by portwalld and by both checks.
  std::vector<std::string> notes;
  // Every file the rules came from, and the configuration file, with their stamps: while none
  // has changed, a change made through portwalld needs no new parse. (Files the configuration
  // names, an spa_key_file, are read again at a reload only.)
  RuleSources sources;
};

// What `portwall check FILE` checks FILE as, by the tables it holds: a table only a
// configuration has ([daemon], [log], [conntrack], [scan_detection], [[knock]], [limits],
// [metrics]) makes it one; anything else is a rules file (and a file that does not parse is
// checked as rules, whose errors say where).
enum class FileKind { configuration, rules };
FileKind file_kind_of(std::string_view text);

// PolicyFiles::notes: a [defaults] key `rules` (the rules file, before its defaults are merged)
// holds that overrides the configuration's with another value.
std::vector<std::string> default_override_notes(const std::string& config_file,
                                                const Config& config, const std::string& rules_file,
                                                const RuleSet& rules);

// Where portwalld reads its policy: the configuration, and what its command line puts over it.
struct PolicyPaths {
  std::string config;
  std::string rules_override;   // --rules
  std::string socket_override;  // --socket
};

// Empty overrides keep what the configuration says. The error lists every problem found.
// `previous`: the sources of the last load, whose unchanged set files are not read again.
// Every file is read from `fs`.
std::expected<PolicyFiles, std::string> load_policy_files(
    const std::string& config_file, const std::string& rules_override = "",
    const std::string& socket_override = "", const RuleSources* previous = nullptr,
    const FileSystem& fs = FileSystem::disk());
inline std::expected<PolicyFiles, std::string> load_policy_files(
    const PolicyPaths& paths, const RuleSources* previous = nullptr,
    const FileSystem& fs = FileSystem::disk()) {
  return load_policy_files(paths.config, paths.rules_override, paths.socket_override, previous, fs);
}

}  // namespace portwall
