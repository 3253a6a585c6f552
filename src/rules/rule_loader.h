// rule_loader.h — rule files (TOML) -> a validated RuleSet.
// A file holds `[defaults]` (incoming/outgoing), `[sets]` (name = ["CIDR", ...]) and ordered
// `[[rule]]` tables. Every error is collected (not just the first) with file:line:column.
// Service names are looked up in /etc/services (getservbyname_r).
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string_view>
#include <vector>

#include "fs/file_system.h"
#include "rules/config_error.h"
#include "rules/rule.h"
#include "rules/rule_writer.h"

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
// `scope`, its directory is the set files' base and only root. Set files are read from `fs`.
std::expected<RuleSet, std::vector<ConfigError>> parse_rules(
    std::string_view text, std::string_view file_name,
    const std::optional<SetFileScope>& scope = std::nullopt,
    const FileSystem& fs = FileSystem::disk());

// What one load of the rules read, so that the next can tell what changed and reuse what did
// not: every file with the stamp it had (the rules file, the drop-in folder, whose stamp moves
// when a file is added or removed, each drop-in, each set file by its real path, with the
// prefixes it gave), and which part of the RuleSet the rules file itself gave (its rules and
// forwards come first; the part `portwall allow` edits).
struct RuleSources {
  struct File {
    std::string path;
    std::optional<FileStamp> stamp;  // none: it was not there
    bool set_file = false;
    CidrList set;  // a set file's prefixes
    // Changed within a clock tick of being read: a write in that same tick could leave the
    // stamp as it was (file times advance in steps of a few milliseconds), so the file counts
    // as changed, as git treats a "racily clean" file.
    bool racy = false;
  };
  std::vector<File> files;
  std::string main_file;  // the rules file
  std::size_t main_rules = 0, main_forwards = 0;
  std::vector<std::string> main_sets;  // the names of the sets the rules file defines

  // Records file `path`, read with `stamp` (none: it was not there) at `read_at_ns`
  // (FileSystem::now_ns()).
  void add(std::string path, std::optional<FileStamp> stamp, std::int64_t read_at_ns,
           bool set_file = false, CidrList set = {});
  // Whether every file still has its stamp in `fs` and none was read racily: loading again
  // would read the same bytes.
  bool unchanged(const FileSystem& fs = FileSystem::disk()) const;
  // The prefixes set file `real_path` gave, if it was read with this stamp.
  const CidrList* set_file(const std::string& real_path, const FileStamp& stamp) const;
  // File `path` is now what portwalld wrote, with stamp `written` (write_file_atomically's).
  void restamp(const std::string& path, const FileStamp& written);
};

// The part of `in_force` (loaded as `sources` records) that the rules file gave: its rules,
// forwards and sets, its [icmp] and the [defaults] keys it holds (the others as in force), as
// `portwall allow` edits it.
RuleSet rules_file_part(const RuleSet& in_force, const RuleSources& sources);
// `in_force` with its rules file part replaced by `part`, written as text whose rules and
// forwards start on `lines` (their origins now); `sources` then counts the new part.
RuleSet with_rules_file_part(const RuleSet& in_force, RuleSources& sources, RuleSet part,
                             const WrittenLines& lines);

// Loads `main_file`, then every `*.toml` in `drop_in_dir` (if it exists) in alphabetical order,
// skipping names that begin with a dot, as nft's include globs do. Their rules are appended in that
// order; their sets are merged (a name defined twice is an error); [defaults] in a drop-in is an
// error. One broken file fails the whole load. Set files may come from the main file's
// directory and from `drop_in_dir`.
// With `sources`, set files whose stamp is the one recorded there are not read again, and on
// success `sources` becomes the record of this load.
// Every file is read from `fs`.
std::expected<RuleSet, std::vector<ConfigError>> load_rules(
    const std::filesystem::path& main_file, const std::filesystem::path& drop_in_dir = {},
    RuleSources* sources = nullptr, const FileSystem& fs = FileSystem::disk());

}  // namespace portwall
