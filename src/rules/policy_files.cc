#include "rules/policy_files.h"

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

std::expected<PolicyFiles, std::string> load_policy_files(const std::string& config_file,
                                                          const std::string& rules_override,
                                                          const std::string& socket_override) {
  auto config = load_config(config_file);
  if (!config) return std::unexpected(to_string(config.error()));
  PolicyFiles loaded;
  loaded.config = std::move(*config);
  if (!socket_override.empty()) loaded.config.daemon.socket = socket_override;
  loaded.rules_file = rules_override.empty() ? loaded.config.daemon.rules : rules_override;
  loaded.rules_dir =
      loaded.config.daemon.rules_dir.empty()
          ? (std::filesystem::path(loaded.rules_file).parent_path() / "rules.d").string()
          : loaded.config.daemon.rules_dir;
  auto rules = load_rules(loaded.rules_file, loaded.rules_dir);
  if (!rules) return std::unexpected(to_string(rules.error()));
  loaded.rules = std::move(*rules);
  for (auto [key, rules_given, config_given, effective, configured] :
       {std::tuple{"incoming", loaded.rules.has_incoming, loaded.config.has_incoming,
                   loaded.rules.defaults.incoming, loaded.config.defaults.incoming},
        std::tuple{"outgoing", loaded.rules.has_outgoing, loaded.config.has_outgoing,
                   loaded.rules.defaults.outgoing, loaded.config.defaults.outgoing}}) {
    if (rules_given && config_given && effective != configured) {
      loaded.notes.push_back(config_file + ": [defaults] " + key + " = \"" +
                             to_string(configured) + "\" is overridden by " +
                             loaded.rules_file + "'s \"" + to_string(effective) +
                             "\" (set with portwall default)");
    }
  }
  loaded.rules.default_to(loaded.config.defaults);
  if (auto ok = check_queues(loaded.config.daemon.queues); !ok) {
    return std::unexpected(config_file + ": " + ok.error());
  }
  return loaded;
}

}  // namespace portwall
