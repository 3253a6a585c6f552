#include "cli/offline_edit.h"

#include <unistd.h>

#include <filesystem>

#include "audit/decision_log.h"
#include "rules/rule_edit.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"

namespace portwall {

CliSetup cli_setup(const std::string& config_file, const std::optional<std::string>& socket,
                   const std::optional<std::string>& rules) {
  CliSetup setup;
  Config defaults;
  if (::access(config_file.c_str(), R_OK) == 0) {
    if (auto loaded = load_config_paths(config_file); loaded) {
      setup.config = std::move(*loaded);
    } else {
      setup.warning = to_string(loaded.error()) + "\n(the default socket and rules file apply)";
    }
  }
  const Config& used = setup.config ? *setup.config : defaults;
  setup.socket = socket.value_or(used.daemon.socket);
  setup.rules = rules.value_or(used.daemon.rules);
  if (!rules) setup.rules_dir = used.daemon.rules_dir;
  setup.rules_unsure = !setup.warning.empty() && !rules;
  return setup;
}

std::string audit_offline_edit(const CliSetup& setup, const std::string& action,
                               const std::string& detail) {
  if (!setup.config) return "not recorded in the audit log: no configuration was read";
  const LogSection& log = setup.config->log;
  auto audit = AuditLog::open(log.audit_file, log.format, log.target);
  if (!audit) return "not recorded in the audit log: " + audit.error();
  const long uid = static_cast<long>(getuid());
  (*audit)->record(uid, action, "ok",
                   "user=" + user_name(uid) + " pid=" + std::to_string(getpid()) + " " + detail +
                       " offline=" + log_quoted("portwalld was not running"));
  return "";
}

std::expected<nlohmann::json, std::string> edit_rules_file(const std::vector<std::string>& words,
                                                           const std::string& rules_file,
                                                           const std::string& rules_dir,
                                                           const Defaults& configured) {
  auto parsed = parse_rule_command(words);
  if (!parsed) return std::unexpected(parsed.error());
  RuleSet own;
  std::size_t total = 0;
  if (std::filesystem::exists(rules_file)) {
    auto loaded = load_rules(rules_file);
    if (!loaded) return std::unexpected("fix the rules file first:\n" + to_string(loaded.error()));
    own = std::move(*loaded);
    const auto dir = rules_dir.empty() ? std::filesystem::path(rules_file).parent_path() / "rules.d"
                                       : std::filesystem::path(rules_dir);
    auto merged = load_rules(rules_file, dir);
    if (!merged) return std::unexpected("fix the rules first:\n" + to_string(merged.error()));
    total = merged->rules.size();
  }
  own.default_to(configured);
  auto edit = apply_change(own, *parsed, total);
  if (!edit) return std::unexpected(edit.error());
  if (edit->changed) {
    if (auto ok = write_file_atomically(rules_file, write_rules(edit->rules)); !ok) {
      return std::unexpected(ok.error());
    }
  }
  return nlohmann::json{{"changed", edit->changed},
                        {"summary", edit->summary},
                        {"before", edit->before},
                        {"after", edit->after}};
}

}  // namespace portwall
