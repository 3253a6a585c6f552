// rule_loader.h — rule files (TOML) -> a validated RuleSet.
// A file holds `[defaults]` (incoming/outgoing), `[sets]` (name = ["CIDR", ...]) and ordered
// `[[rule]]` tables. Every error is collected (not just the first) with file:line:column.
// Service names are looked up in /etc/services (getservbyname_r).
#pragma once

#include <expected>
#include <filesystem>
#include <string_view>
#include <vector>

#include "rules/config_error.h"
#include "rules/rule.h"

namespace portwall {

// Parses one rule document. `file_name` is only used in errors and Rule::origin.
std::expected<RuleSet, std::vector<ConfigError>> parse_rules(std::string_view text,
                                                             std::string_view file_name);

// Loads `main_file`, then every `*.toml` in `drop_in_dir` (if it exists) in alphabetical order,
// skipping names that begin with a dot, as nft's include globs do. Their rules are appended in that
// order; their sets are merged (a name defined twice is an error); [defaults] in a drop-in is an
// error. One broken file fails the whole load.
std::expected<RuleSet, std::vector<ConfigError>> load_rules(
    const std::filesystem::path& main_file, const std::filesystem::path& drop_in_dir = {});

}  // namespace portwall
