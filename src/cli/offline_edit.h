// offline_edit.h — a rule change applied to the rules file when no daemon is running, with the
// same grammar, semantics and atomic write as the daemon's live path.
#pragma once

#include <expected>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace portwall {

// {"changed", "summary", "before", "after"} as the daemon answers, or what was wrong.
std::expected<nlohmann::json, std::string> edit_rules_file(const std::vector<std::string>& words,
                                                           const std::string& rules_file);

}  // namespace portwall
