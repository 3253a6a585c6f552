// rule_writer.h — a RuleSet back to the TOML that rule_loader reads (FileSystem::
// write_atomically puts it on disk, so that a crash leaves the old file or the new one).
// Comments of a hand-written file are not kept: the CLI-managed file is regenerated, as ufw's.
#pragma once

#include <expected>
#include <filesystem>
#include <string>
#include <vector>

#include "fs/file_system.h"
#include "rules/rule.h"

namespace portwall {

// The line each [[rule]] and each [[forward]] starts on in a written text, in order: their
// origins once the text is loaded.
struct WrittenLines {
  std::vector<int> rules, forwards;
};

// The rules file for `set`: [defaults], [sets], then every rule in order. Loading the text
// gives back the same rules. With `lines`, where each rule and forward starts in the text.
std::string write_rules(const RuleSet& set, WrittenLines* lines = nullptr);

}  // namespace portwall
