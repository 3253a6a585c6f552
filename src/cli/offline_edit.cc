#include "cli/offline_edit.h"

#include <filesystem>

#include "rules/rule_edit.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"

namespace portwall {

std::expected<nlohmann::json, std::string> edit_rules_file(const std::vector<std::string>& words,
                                                           const std::string& rules_file) {
  auto parsed = parse_rule_command(words);
  if (!parsed) return std::unexpected(parsed.error());
  RuleSet own;
  std::size_t total = 0;
  if (std::filesystem::exists(rules_file)) {
    auto loaded = load_rules(rules_file);
    if (!loaded) return std::unexpected("fix the rules file first:\n" + to_string(loaded.error()));
    own = std::move(*loaded);
    const auto dir = std::filesystem::path(rules_file).parent_path() / "rules.d";
    auto merged = load_rules(rules_file, dir);
    if (!merged) return std::unexpected("fix the rules first:\n" + to_string(merged.error()));
    total = merged->rules.size();
  }
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
