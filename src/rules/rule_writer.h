// rule_writer.h — a RuleSet back to the TOML that rule_loader reads, and the atomic write
// that puts it on disk (temp file in the same directory, fsync, rename, fsync of the
// directory), so that a crash leaves either the old file or the new one, never half of one.
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

// Replaces `path` with `text` atomically; the error names the path and the step that failed.
// With `written`, the stamp of the file it wrote (taken through its descriptor after the rename).
std::expected<void, std::string> write_file_atomically(const std::filesystem::path& path,
                                                       const std::string& text,
                                                       FileStamp* written = nullptr);

// The whole of `path`; the error names the path and why it could not be read.
std::expected<std::string, std::string> read_text_file(const std::filesystem::path& path);

}  // namespace portwall
