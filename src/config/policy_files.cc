#include "config/policy_files.h"

#include <toml++/toml.h>

#include <tuple>

#include "rules/rule_loader.h"

namespace portwall {
namespace {

std::expected<void, std::string> check_queues(const std::vector<std::uint16_t>& queues) {
  for (std::size_t i = 1; i < queues.size(); ++i) {
    if (queues[i] != queues[i - 1] + 1) {
      return std::unexpected(
          std::string("[daemon] queues must be consecutive numbers in ascending order, e.g. "
                      "[100, 101]: the kernel balances flows over a range"));
    }
  }
  return {};
}

}  // namespace

FileKind file_kind_of(std::string_view text) {
  toml::table doc;
  try {
    doc = toml::parse(text);
  } catch (const toml::parse_error&) {
    return FileKind::rules;
  }
  for (const std::string_view table : kConfigurationTables) {
    if (table != "defaults" && doc.contains(table)) {
      return FileKind::configuration;
    }
  }
  return FileKind::rules;
}

std::vector<std::string> default_override_notes(const std::string& config_file,
                                                const Config& config, const std::string& rules_file,
                                                const RuleSet& rules) {
  std::vector<std::string> notes;
  for (auto [key, rules_given, config_given, effective, configured] :
       {std::tuple{"incoming", rules.has_incoming, config.has_incoming, rules.defaults.incoming,
                   config.defaults.incoming},
        std::tuple{"outgoing", rules.has_outgoing, config.has_outgoing, rules.defaults.outgoing,
                   config.defaults.outgoing},
        std::tuple{"routed", rules.has_routed, config.has_routed, rules.defaults.routed,
                   config.defaults.routed}}) {
    if (rules_given && config_given && effective != configured) {
      notes.push_back(config_file + ": [defaults] " + key + " = \"" + to_string(configured) +
                      "\" is overridden by " + rules_file + "'s \"" + to_string(effective) +
                      "\" (set with portwall default)");
    }
  }
  return notes;
}

std::expected<PolicyFiles, std::string> load_policy_files(const std::string& config_file,
                                                          const std::string& rules_override,
                                                          const std::string& socket_override,
                                                          const RuleSources* previous,
                                                          const FileSystem& fs) {
  const std::optional<FileStamp> config_stamp = fs.stamp(config_file);  // before it is read
  const std::int64_t config_read_at = fs.now_ns();
  auto config = load_config(config_file, fs);
  if (!config) return std::unexpected(to_string(config.error()));
  PolicyFiles loaded;
  loaded.config = std::move(*config);
  if (!socket_override.empty()) loaded.config.daemon.socket = socket_override;
  loaded.rules_file = rules_override.empty() ? loaded.config.daemon.rules : rules_override;
  loaded.rules_dir =
      loaded.config.daemon.rules_dir.empty()
          ? (std::filesystem::path(loaded.rules_file).parent_path() / "rules.d").string()
          : loaded.config.daemon.rules_dir;
  if (previous) loaded.sources = *previous;
  auto rules = load_rules(loaded.rules_file, loaded.rules_dir, &loaded.sources, fs);
  if (!rules) return std::unexpected(to_string(rules.error()));
  loaded.sources.add(config_file, config_stamp, config_read_at);
  loaded.rules = std::move(*rules);
  loaded.notes =
      default_override_notes(config_file, loaded.config, loaded.rules_file, loaded.rules);
  loaded.rules.default_to(loaded.config.defaults);
  if (auto ok = check_queues(loaded.config.daemon.queues); !ok) {
    return std::unexpected(config_file + ": " + ok.error());
  }
  return loaded;
}

}  // namespace portwall
