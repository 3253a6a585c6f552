// rule_loader.h — rule files (TOML) -> a validated RuleSet.
// A file holds `[defaults]` (incoming/outgoing), `[sets]` (name = ["CIDR", ...]) and ordered
// `[[rule]]` tables. Every error is collected (not just the first) with file:line:column.
// Service names are looked up in /etc/services (getservbyname_r).
#pragma once

#include <expected>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "rules/config_error.h"
#include "rules/rule.h"

namespace portwall {

// Where `[[set]] file = "..."` may be read from. A relative path starts at `base`; the file,
// its symlinks resolved, must lie inside one of `roots`, be a regular file and hold at most
// kMaxSetFileBytes. portwalld reads set files as root for whoever may `apply` rules text, so a
// set file elsewhere (/etc/shadow, /dev/urandom) is refused before it is opened, and a bad line
// is reported by its line and column, never quoted.
struct SetFileScope {
  std::filesystem::path base;
  std::vector<std::filesystem::path> roots;
};
inline constexpr std::uintmax_t kMaxSetFileBytes = std::uintmax_t{256} << 20;

// Parses one rule document. `file_name` is used in errors and Rule::origin, and, without a
// `scope`, its directory is the set files' base and only root.
std::expected<RuleSet, std::vector<ConfigError>> parse_rules(
    std::string_view text, std::string_view file_name,
    const std::optional<SetFileScope>& scope = std::nullopt);

// Loads `main_file`, then every `*.toml` in `drop_in_dir` (if it exists) in alphabetical order,
// skipping names that begin with a dot, as nft's include globs do. Their rules are appended in that
// order; their sets are merged (a name defined twice is an error); [defaults] in a drop-in is an
// error. One broken file fails the whole load. Set files may come from the main file's
// directory and from `drop_in_dir`.
std::expected<RuleSet, std::vector<ConfigError>> load_rules(
    const std::filesystem::path& main_file, const std::filesystem::path& drop_in_dir = {});

}  // namespace portwall
