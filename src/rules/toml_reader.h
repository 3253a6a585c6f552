// toml_reader.h — reading a toml++ document while collecting errors with file:line:column.
// Shared by the rule loader and the config loader: typed reads of values, unknown-key checks,
// and the syntax error of toml++ turned into a ConfigError with a hint.
#pragma once

#include <toml++/toml.h>

#include <initializer_list>
#include <optional>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "clock/clock.h"
#include "rules/config_error.h"

namespace portwall {

class TomlReader {
 public:
  explicit TomlReader(std::string_view file) : file_(file) {}

  // Parses the text; on a syntax error records it and returns nullopt.
  std::optional<toml::table> parse(std::string_view text);

  void error(const toml::source_region& where, std::string message);
  void error(const toml::node& where, std::string message) {
    error(where.source(), std::move(message));
  }
  void error(std::string message);  // no position

  // Every key of `table` must be one of `allowed`; `what` names the table ("[[rule]]").
  void check_keys(const toml::table& table, std::initializer_list<std::string_view> allowed,
                  std::string_view what) {
    check_keys(table, std::span<const std::string_view>(allowed.begin(), allowed.size()), what);
  }
  void check_keys(const toml::table& table, std::span<const std::string_view> allowed,
                  std::string_view what);

  std::optional<std::string> string(const toml::node& node, std::string_view key);
  std::optional<bool> boolean(const toml::node& node, std::string_view key);
  std::optional<std::int64_t> integer(const toml::node& node, std::string_view key,
                                      std::int64_t min, std::int64_t max);
  std::optional<Duration> duration(const toml::node& node, std::string_view key);
  // One of `choices`: the index.
  std::optional<std::size_t> choice(const toml::node& node, std::string_view key,
                                    std::initializer_list<std::string_view> choices);

  const std::string& file() const { return file_; }
  bool ok() const { return errors_.empty(); }
  std::vector<ConfigError>& errors() { return errors_; }

 private:
  std::string file_;
  std::vector<ConfigError> errors_;
};

}  // namespace portwall
