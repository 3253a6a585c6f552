#include "rules/toml_reader.h"

#include "rules/duration.h"

namespace portwall {
namespace {

std::string type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::table:
      return "a table";
    default:
      return "a date or time";
  }
}

}  // namespace

std::optional<toml::table> TomlReader::parse(std::string_view text) {
  try {
    return toml::parse(text, std::string_view(file_));
  } catch (const toml::parse_error& e) {
    std::string message;
    // toml++ quotes the character it stopped at, which may be a newline ("saw 'in\n'"): escape
    // it so that each error stays on one line.
    for (char c : e.description()) {
      if (c == '\n') {
        message += "\\n";
      } else if (c == '\r') {
        message += "\\r";
      } else {
        message += c;
      }
    }
    // toml++ reads an unquoted word as a broken boolean ("expected 'true', saw 'tc'"), a broken
    // inf or nan ("expected 'inf', saw 'ic'"), or a value of no type at all ("allow").
    for (std::string_view unquoted : {"boolean", "bare", "expected 'inf'", "expected 'nan'",
                                      "could not determine value type"}) {
      if (message.find(unquoted) != std::string::npos) {
        message += " (strings must be quoted: proto = \"tcp\")";
        break;
      }
    }
    error(e.source(), message);
    return std::nullopt;
  }
}

void TomlReader::error(const toml::source_region& where, std::string message) {
  errors_.push_back({file_, static_cast<int>(where.begin.line),
                     static_cast<int>(where.begin.column), std::move(message)});
}

void TomlReader::error(std::string message) {
  errors_.push_back({file_, 0, 0, std::move(message)});
}

void TomlReader::check_keys(const toml::table& table, std::span<const std::string_view> allowed,
                            std::string_view what) {
  for (auto&& [key, value] : table) {
    bool known = false;
    for (std::string_view a : allowed) known = known || key.str() == a;
    if (known) continue;
    std::string list;
    for (std::string_view a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    error(key.source(), "unknown key '" + std::string(key.str()) + "' in " + std::string(what) +
                            "; expected one of " + list);
  }
}

std::optional<std::string> TomlReader::string(const toml::node& node, std::string_view key) {
  if (auto s = node.value<std::string>(); s && node.is_string()) return *s;
  error(node, std::string(key) + " must be a string, got " + type_name(node));
  return std::nullopt;
}

std::optional<bool> TomlReader::boolean(const toml::node& node, std::string_view key) {
  if (node.is_boolean()) return node.as_boolean()->get();
  error(node, std::string(key) + " must be true or false, got " + type_name(node));
  return std::nullopt;
}

std::optional<std::int64_t> TomlReader::integer(const toml::node& node, std::string_view key,
                                                std::int64_t min, std::int64_t max) {
  if (!node.is_integer()) {
    error(node, std::string(key) + " must be an integer, got " + type_name(node));
    return std::nullopt;
  }
  const std::int64_t v = node.as_integer()->get();
  if (v < min || v > max) {
    error(node, std::string(key) + " must be " + std::to_string(min) + "-" + std::to_string(max) +
                    ", got " + std::to_string(v));
    return std::nullopt;
  }
  return v;
}

std::optional<Duration> TomlReader::duration(const toml::node& node, std::string_view key) {
  auto text = string(node, key);
  if (!text) return std::nullopt;
  auto d = parse_duration(*text);
  if (!d) {
    error(node, std::string(key) + ": " + d.error());
    return std::nullopt;
  }
  return *d;
}

std::optional<std::size_t> TomlReader::choice(const toml::node& node, std::string_view key,
                                              std::initializer_list<std::string_view> choices) {
  auto text = string(node, key);
  if (!text) return std::nullopt;
  std::size_t i = 0;
  std::string list;
  for (std::string_view c : choices) {
    if (*text == c) return i;
    list += (list.empty() ? "" : " | ") + std::string(c);
    ++i;
  }
  error(node, std::string(key) + " must be " + list + ", got \"" + *text + "\"");
  return std::nullopt;
}

}  // namespace portwall
