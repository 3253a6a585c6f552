#include "rules/rule_writer.h"

#include <toml++/toml.h>

#include <algorithm>
#include <sstream>

#include "rules/forward.h"
#include "rules/rule_values.h"

namespace portwall {
namespace {

// `text` as a TOML string, as toml++'s formatter writes one: a literal string ('...') when it
// holds no apostrophe and no control character but tab, else a basic string ("...") with quotes,
// backslashes and control characters escaped (TOML 1.0, String). UTF-8 stays as it is.
void append_quoted(std::string& out, std::string_view text) {
  const bool literal = std::none_of(text.begin(), text.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return c == '\'' || (u < 0x20 && c != '\t') || u == 0x7f;
  });
  if (literal) {
    out += '\'';
    out += text;
    out += '\'';
    return;
  }
  out += '"';
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\b':
        out += "\\b";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\f':
        out += "\\f";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (u < 0x20 || u == 0x7f) {
          static constexpr char kHex[] = "0123456789ABCDEF";
          out += "\\u00";
          out += kHex[u >> 4];
          out += kHex[u & 15];
        } else {
          out += c;
        }
    }
  }
  out += '"';
}

void append_key(std::string& out, std::string_view key, std::string_view value) {
  out += key;
  out += " = ";
  append_quoted(out, value);
  out += '\n';
}

// One [[rule]] table, its keys in alphabetical order (as a toml::table writes them).
void append_rule(std::string& out, const Rule& r) {
  out += "\n[[rule]]\n";
  append_key(out, "action", to_string(r.action));
  if (r.rate.burst != 0) out += "burst = " + std::to_string(r.rate.burst) + "\n";
  if (!r.comment.empty()) append_key(out, "comment", r.comment);
  append_key(out, "direction", to_string(r.direction));
  if (r.from_text != "any") append_key(out, "from", r.from_text);
  if (!r.from_port_text.empty()) append_key(out, "from_port", r.from_port_text);
  if (!r.interface.empty()) append_key(out, "interface", r.interface);
  if (r.log) out += "log = true\n";
  if (!r.out_interface.empty()) append_key(out, "out_interface", r.out_interface);
  if (!r.port_text.empty()) append_key(out, "port", r.port_text);
  if (r.proto != Proto::any) append_key(out, "proto", to_string(r.proto));
  if (r.rate.count != 0) append_key(out, "rate", to_string(r.rate));
  if (r.to_text != "any") append_key(out, "to", r.to_text);
}

}  // namespace

std::string write_rules(const RuleSet& set, WrittenLines* lines) {
  std::ostringstream out;
  out << "# portwall rules, written by portwall; see portwall(8).\n"
         "# Rules are ordered and the first match wins; [defaults] applies when none matches.\n\n";
  // Only the keys the file had (or `portwall default` set): the others stay portwall.toml's.
  toml::table defaults;
  if (set.has_incoming) defaults.insert("incoming", to_string(set.defaults.incoming));
  if (set.has_outgoing) defaults.insert("outgoing", to_string(set.defaults.outgoing));
  if (set.has_routed) defaults.insert("routed", to_string(set.defaults.routed));
  if (!defaults.empty()) out << "[defaults]\n" << toml::toml_formatter(defaults) << "\n";
  if (set.has_icmp) {
    toml::table icmp{{"echo_request", set.icmp.echo_request},
                     {"dhcp_client", set.icmp.dhcp_client},
                     {"redirects", set.icmp.redirects}};
    out << "[icmp]\n" << toml::toml_formatter(icmp) << "\n";
  }
  toml::table sets;
  std::string set_tables;
  for (const auto& [name, prefixes] : set.sets) {
    auto file = set.set_files.find(name);
    const std::size_t inline_entries =
        file == set.set_files.end() ? prefixes.size() : file->second.inline_entries;
    toml::array list;
    for (std::size_t i = 0; i < inline_entries && i < prefixes.size(); ++i) {
      list.push_back(to_string(prefixes[i]));
    }
    if (file == set.set_files.end()) {
      sets.insert(name, std::move(list));
      continue;
    }
    // A set kept in its own file stays there: only its name, inline entries and file here.
    toml::table t{{"name", name}};
    if (!list.empty()) t.insert("entries", std::move(list));
    t.insert("file", file->second.path);
    std::ostringstream table;
    table << "\n[[set]]\n" << toml::toml_formatter(t) << "\n";
    set_tables += table.str();
  }
  if (!sets.empty()) out << "\n[sets]\n" << toml::toml_formatter(sets) << "\n";
  out << set_tables;
  std::string text = out.str();
  // Lines are counted as the tables are written: each one's origin in the text (the line of its
  // header, which follows an empty line), what loading the text would say.
  int line = static_cast<int>(std::count(text.begin(), text.end(), '\n')) + 1;
  if (lines) *lines = {};
  auto append = [&](std::vector<int> WrittenLines::*which, const std::string& table) {
    if (lines) ((*lines).*which).push_back(line + 1);
    line += static_cast<int>(std::count(table.begin(), table.end(), '\n'));
    text += table;
  };
  std::string table;
  for (const Rule& r : set.rules) {
    table.clear();
    append_rule(table, r);
    append(&WrittenLines::rules, table);
  }
  for (const Forward& f : set.forwards) {
    toml::table t{{"proto", to_string(f.proto)},
                  {"port", static_cast<std::int64_t>(f.port)},
                  {"to", forward_destination(f)}};
    if (!f.interface.empty()) t.insert("interface", f.interface);
    if (!f.comment.empty()) t.insert("comment", f.comment);
    std::ostringstream written;
    written << "\n[[forward]]\n" << toml::toml_formatter(t) << "\n";
    append(&WrittenLines::forwards, written.str());
  }
  return text;
}

}  // namespace portwall
