// rule_loader.cc — see rule_loader.h. Walks the TOML document with TomlReader, validating every
// value where it stands so that each error points at its own line and column.
#include "rules/rule_loader.h"

#include <algorithm>
#include <filesystem>

#include "rules/forward.h"
#include "rules/huge_pages.h"
#include "rules/rule_values.h"
#include "rules/toml_reader.h"

namespace portwall {
namespace {

std::optional<Action> read_default(TomlReader& r, const toml::node& node, std::string_view key) {
  auto i = r.choice(node, key, {"allow", "deny", "reject"});
  if (!i) return std::nullopt;
  return std::array{Action::allow, Action::deny, Action::reject}[*i];
}

void read_defaults(TomlReader& r, const toml::node& node, RuleSet& set) {
  const toml::table* t = node.as_table();
  if (!t) return r.error(node, "[defaults] must be a table");
  r.check_keys(*t, {"incoming", "outgoing", "routed"}, "[defaults]");
  if (const toml::node* n = t->get("incoming")) {
    if (auto a = read_default(r, *n, "incoming")) set.defaults.incoming = *a;
    set.has_incoming = true;
  }
  if (const toml::node* n = t->get("outgoing")) {
    if (auto a = read_default(r, *n, "outgoing")) set.defaults.outgoing = *a;
    set.has_outgoing = true;
  }
  if (const toml::node* n = t->get("routed")) {
    if (auto a = read_default(r, *n, "routed")) set.defaults.routed = *a;
    set.defaults.routed_given = true;
    set.has_routed = true;
  }
}

void read_icmp(TomlReader& r, const toml::node& node, RuleSet& set) {
  const toml::table* t = node.as_table();
  if (!t) return r.error(node, "[icmp] must be a table");
  r.check_keys(*t, {"echo_request", "dhcp_client", "redirects"}, "[icmp]");
  for (const auto& [key, slot] : {std::pair{"echo_request", &set.icmp.echo_request},
                                  std::pair{"dhcp_client", &set.icmp.dhcp_client},
                                  std::pair{"redirects", &set.icmp.redirects}}) {
    if (const toml::node* n = t->get(key)) {
      if (auto b = r.boolean(*n, key)) *slot = *b;
    }
  }
  set.has_icmp = true;
}

void read_sets(TomlReader& r, const toml::node& node, RuleSet& set) {
  const toml::table* t = node.as_table();
  if (!t) return r.error(node, "[sets] must be a table of name = [\"CIDR\", ...]");
  for (auto&& [key, value] : *t) {
    const toml::array* list = value.as_array();
    if (!list) {
      r.error(value, "set '" + std::string(key.str()) + "' must be an array of addresses");
      continue;
    }
    std::vector<Cidr> prefixes;
    for (const toml::node& item : *list) {
      auto text = r.string(item, "set '" + std::string(key.str()) + "' item");
      if (!text) continue;
      if (auto c = parse_cidr(*text)) {
        prefixes.push_back(*c);
      } else {
        r.error(item, c.error());
      }
    }
    if (!set.sets.emplace(std::string(key.str()), std::move(prefixes)).second) {
      r.error(key.source(), "set '" + std::string(key.str()) + "' is already defined");
    }
  }
}

// Where set files come from in one load, and what the load before read (to reuse the
// prefixes of a set file that has not changed) and this one reads (to record).
struct SetFileReading {
  SetFileScope scope;
  const FileSystem& fs;
  const RuleSources* previous = nullptr;
  RuleSources* record = nullptr;
};

// Whether `path` is `root` or lies below it; both are canonical.
bool inside(const std::filesystem::path& path, const std::filesystem::path& root) {
  auto [r, p] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return r == root.end() || (std::next(r) == root.end() && r->empty());  // "/etc/portwall/"
}

// A set file's text: one address or network per line; '#' starts a comment. Errors name
// file:line:column, without the line's text (the file may not be the administrator's to show).
CidrList parse_set_file(TomlReader& r, const std::filesystem::path& path, std::string_view rest) {
  std::vector<Cidr> out;
  out.reserve(rest.size() / 12);  // about a line's worth of bytes per entry
  int number = 0;
  std::size_t errors = 0;
  while (!rest.empty()) {
    const std::size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
    ++number;
    if (auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    const auto first = line.find_first_not_of(" \t\r");
    if (first == std::string_view::npos) continue;
    const auto last = line.find_last_not_of(" \t\r");
    const std::string_view token = line.substr(first, last - first + 1);
    if (auto c = parse_cidr(token)) {
      out.push_back(*c);
    } else if (++errors <= 20) {  // a broken file says where, without drowning the reader
      const bool address = parse_ip_address(token.substr(0, token.find('/'))).has_value();
      const bool prefix_ok = c.error().find("host bits") != std::string::npos;
      r.errors().push_back(ConfigError{path.string(), number, static_cast<int>(first) + 1,
                                       !address    ? "not an address or network"
                                       : prefix_ok ? "host bits set beyond the prefix length"
                                                   : "the prefix length is out of range"});
    }
  }
  if (errors > 20) {
    r.errors().push_back(ConfigError{path.string(), 0, 0,
                                     std::to_string(errors - 20) + " more bad line(s) not shown"});
  }
  out.shrink_to_fit();
  return out;
}

// A set file, if it may be read (SetFileScope): its prefixes, reused from the previous load
// when the file has the same stamp, else read and parsed; otherwise the error, said at `where`.
std::optional<CidrList> read_set_file(TomlReader& r, const toml::node& where,
                                      const std::filesystem::path& path,
                                      const SetFileReading& reading) {
  const SetFileScope& scope = reading.scope;
  const FileSystem& fs = reading.fs;
  const auto resolved = fs.real_path(path);
  if (!resolved) {
    r.error(where, "cannot read set file " + path.string() + ": " + resolved.error());
    return std::nullopt;
  }
  const std::filesystem::path& real = *resolved;
  bool allowed = false;
  std::string roots;
  for (const std::filesystem::path& root : scope.roots) {
    if (root.empty()) continue;
    const auto real_root = fs.real_path(root, false);
    if (!real_root) continue;
    allowed = allowed || inside(real, *real_root);
    roots += (roots.empty() ? "" : " or ") + real_root->string();
  }
  if (!allowed) {
    r.error(where, "set file " + path.string() + " is outside " +
                       (roots.empty() ? std::string("the rules' directory") : roots) +
                       ": set files are read from the rules' own directories only");
    return std::nullopt;
  }
  // The same stamp as at the last load: the same bytes, so the same prefixes, shared.
  std::optional<FileStamp> stamp = fs.stamp(real);
  const CidrList* known =
      stamp && reading.previous ? reading.previous->set_file(real.string(), *stamp) : nullptr;
  std::optional<CidrList> prefixes;
  if (known) {
    prefixes = *known;
  } else {
    // Not through a symlink put at the checked path since: it could lead outside the roots.
    auto read = fs.read(real, true, kMaxSetFileBytes, /*no_follow=*/true);
    if (!read) {
      const bool what_it_is =
          read.error() == "not a regular file" || read.error().starts_with("larger than");
      r.error(where, (what_it_is ? "set file " + path.string() + " is "
                                 : "cannot read set file " + path.string() + ": ") +
                         read.error());
      return std::nullopt;
    }
    stamp = read->stamp;
    prefixes = parse_set_file(r, path, read->text);
  }
  if (reading.record) {
    const std::int64_t now = fs.now_ns();
    reading.record->add(real.string(), stamp, now, true, *prefixes);
    // The name as written too: a symlink pointed at another list changes no file it resolved to.
    if (path != real) reading.record->add(path.string(), fs.stamp(path), now);
  }
  return prefixes;
}

// [[set]] tables: name, entries (inline) and/or file (one entry per line).
void read_set_tables(TomlReader& r, const toml::node& node, const SetFileReading& reading,
                     RuleSet& set) {
  const toml::array* list = node.as_array();
  if (!list) return r.error(node, "named sets are written as [[set]] tables");
  for (const toml::node& item : *list) {
    const toml::table* t = item.as_table();
    if (!t) {
      r.error(item, "each [[set]] must be a table");
      continue;
    }
    r.check_keys(*t, {"name", "entries", "file"}, "[[set]]");
    const toml::node* name_node = t->get("name");
    auto name = name_node ? r.string(*name_node, "name") : std::nullopt;
    if (!name_node) r.error(t->source(), "[[set]] needs a name");
    if (!name) continue;
    std::vector<Cidr> prefixes;
    if (const toml::node* n = t->get("entries")) {
      if (const toml::array* entries = n->as_array()) {
        for (const toml::node& e : *entries) {
          auto text = r.string(e, "set '" + *name + "' entry");
          if (!text) continue;
          if (auto c = parse_cidr(*text)) {
            prefixes.push_back(*c);
          } else {
            r.error(e, c.error());
          }
        }
      } else {
        r.error(*n, "entries must be an array of addresses or networks");
      }
    }
    const std::size_t inline_entries = prefixes.size();
    CidrList from_file;
    if (const toml::node* n = t->get("file")) {
      if (auto file = r.string(*n, "file")) {
        std::filesystem::path path(*file);
        if (path.is_relative()) path = reading.scope.base / path;
        if (auto read = read_set_file(r, *n, path, reading)) from_file = std::move(*read);
        set.set_files[*name] = {*file, inline_entries};
      }
    }
    if (!t->get("entries") && !t->get("file")) {
      r.error(t->source(), "[[set]] " + *name + " needs entries = [...] or file = \"...\"");
    }
    // Without inline entries the set is the set file's list itself, shared with the next load
    // while the file stays the same.
    CidrList all = std::move(from_file);
    if (inline_entries > 0) {
      prefixes.insert(prefixes.end(), all.begin(), all.end());
      all = std::move(prefixes);
    }
    if (!set.sets.emplace(*name, std::move(all)).second) {
      r.error(*name_node, "set '" + *name + "' is already defined");
    }
  }
}

// from/to: "any", "@set", an address or a prefix.
void read_address(TomlReader& r, const toml::node& node, std::string_view key, const RuleSet& set,
                  AddressMatch& out, CompactText& text_out) {
  auto text = r.string(node, key);
  if (!text) return;
  text_out = *text;
  if (*text == "any") return;
  if (!text->empty() && (*text)[0] == '@') {
    auto it = set.sets.find(text->substr(1));
    if (it == set.sets.end()) {
      return r.error(
          node, "unknown set '" + text->substr(1) + "'; define it under [sets] or as a [[set]]");
    }
    out.any = false;
    out.prefixes = it->second;
    return;
  }
  auto cidr = parse_cidr(*text);
  if (!cidr) return r.error(node, std::string(key) + ": " + cidr.error());
  out.any = false;
  out.prefixes = {*cidr};
}

template <typename Text>
void read_ports(TomlReader& r, const toml::node& node, std::string_view key, Proto proto,
                PortMatch& out, Text& text_out) {
  std::string text;
  if (node.is_integer()) {
    auto v = r.integer(node, key, 1, 65535);
    if (!v) return;
    text = std::to_string(*v);
  } else if (auto s = r.string(node, key)) {
    text = *s;
  } else {
    return;
  }
  if (proto == Proto::icmp) {
    return r.error(node, std::string(key) + " needs proto tcp, udp or any; ICMP has no ports");
  }
  auto ports = parse_ports(text, proto);
  if (!ports) return r.error(node, ports.error());
  out = std::move(*ports);
  text_out = text;
}

// `rate` and `burst`: only for limit rules, whose default is ufw's 6 per 30 s.
void read_rate(TomlReader& r, const toml::table& t, Rule& rule) {
  for (const char* key : {"rate", "burst"}) {
    if (const toml::node* n = t.get(key); n && rule.action != Action::limit) {
      r.error(*n, std::string(key) + " applies to action \"limit\" only");
      return;
    }
  }
  if (const toml::node* n = t.get("rate")) {
    if (auto text = r.string(*n, "rate")) {
      if (auto rate = parse_rate(*text)) {
        rule.rate = *rate;
      } else {
        r.error(*n, rate.error());
      }
    }
  }
  if (const toml::node* n = t.get("burst")) {
    if (auto b = r.integer(*n, "burst", 1, 1'000'000)) {
      if (rule.rate.count == 0) rule.rate = Rate{6, std::chrono::seconds(30), 0};
      rule.rate.burst = static_cast<std::uint32_t>(*b);
    }
  }
}

// `interface` and `comment` of a [[rule]] (CompactText) or a [[forward]] (std::string),
// validated.
template <typename Text>
void read_interface(TomlReader& r, const toml::table& t, Text& out,
                    std::string_view key = "interface") {
  const toml::node* n = t.get(key);
  if (!n) return;
  if (auto name = r.string(*n, key)) {
    if (auto ok = check_interface(*name); !ok) return r.error(*n, ok.error());
    out = *name;
  }
}

template <typename Text>
void read_comment(TomlReader& r, const toml::table& t, Text& out) {
  const toml::node* n = t.get("comment");
  if (!n) return;
  if (auto c = r.string(*n, "comment")) {
    if (auto ok = check_comment(*c); !ok) return r.error(*n, ok.error());
    out = *c;
  }
}

// `file`: r.file(), made once for every rule of the file to share.
void read_rule(TomlReader& r, const toml::node& node, RuleSet& set, const CompactText& file) {
  const toml::table* t = node.as_table();
  if (!t) return r.error(node, "each [[rule]] must be a table");
  r.check_keys(*t,
               {"action", "direction", "proto", "from", "to", "port", "from_port", "interface",
                "out_interface", "log", "comment", "rate", "burst"},
               "[[rule]]");
  Rule rule;
  rule.origin = {file, static_cast<int>(t->source().begin.line),
                 static_cast<int>(t->source().begin.column)};
  if (const toml::node* n = t->get("action")) {
    if (auto i = r.choice(*n, "action", {"allow", "deny", "reject", "limit"})) {
      rule.action = std::array{Action::allow, Action::deny, Action::reject, Action::limit}[*i];
    }
  } else {
    r.error(t->source(), "[[rule]] needs an action (allow | deny | reject | limit)");
  }
  if (const toml::node* n = t->get("direction")) {
    if (auto i = r.choice(*n, "direction", {"in", "out", "route"})) {
      rule.direction = std::array{Direction::in, Direction::out, Direction::route}[*i];
    }
  }
  if (const toml::node* n = t->get("proto")) {
    if (auto i = r.choice(*n, "proto", {"any", "tcp", "udp", "icmp"})) {
      rule.proto = std::array{Proto::any, Proto::tcp, Proto::udp, Proto::icmp}[*i];
    }
  }
  if (const toml::node* n = t->get("from"))
    read_address(r, *n, "from", set, rule.from, rule.from_text);
  if (const toml::node* n = t->get("to")) read_address(r, *n, "to", set, rule.to, rule.to_text);
  if (const toml::node* n = t->get("port"))
    read_ports(r, *n, "port", rule.proto, rule.port, rule.port_text);
  if (const toml::node* n = t->get("from_port")) {
    read_ports(r, *n, "from_port", rule.proto, rule.from_port, rule.from_port_text);
  }
  read_interface(r, *t, rule.interface);
  // A routed packet has both an incoming and an outgoing interface (ufw's `route ... in on X
  // out on Y`); `interface` is the incoming one.
  if (const toml::node* n = t->get("out_interface"); n && rule.direction != Direction::route) {
    r.error(*n,
            "out_interface is for route rules (direction = \"route\"); an outgoing rule "
            "names its interface with interface");
  }
  read_interface(r, *t, rule.out_interface, "out_interface");
  if (const toml::node* n = t->get("log")) {
    if (auto b = r.boolean(*n, "log")) rule.log = *b;
  }
  read_comment(r, *t, rule.comment);
  read_rate(r, *t, rule);
  set.rules.push_back(std::move(rule));
}

// [[forward]]: proto ("tcp", "udp" or "any"), port (public), to ("PORT", "ADDR", "ADDR:PORT",
// "[IPV6]:PORT"), interface, comment.
void read_forward(TomlReader& r, const toml::node& node, RuleSet& set) {
  const toml::table* t = node.as_table();
  if (!t) return r.error(node, "each [[forward]] must be a table");
  r.check_keys(*t, {"proto", "port", "to", "interface", "comment"}, "[[forward]]");
  Forward f;
  f.origin = {r.file(), static_cast<int>(t->source().begin.line),
              static_cast<int>(t->source().begin.column)};
  if (const toml::node* n = t->get("proto")) {
    if (auto i = r.choice(*n, "proto", {"any", "tcp", "udp"})) {
      f.proto = std::array{Proto::any, Proto::tcp, Proto::udp}[*i];
    }
  }
  PortMatch port;
  std::string port_text;
  if (const toml::node* n = t->get("port")) {
    read_ports(r, *n, "port", f.proto, port, port_text);
    if (!port_text.empty()) {
      if (port.ranges.size() != 1 || port.ranges[0].first != port.ranges[0].last) {
        r.error(*n, "a forward takes one port, got \"" + port_text + "\"");
      } else {
        f.port = port.ranges[0].first;
      }
    }
  } else {
    r.error(t->source(), "[[forward]] needs a port (the public one)");
  }
  if (const toml::node* n = t->get("to")) {
    std::string text;
    if (n->is_integer()) {
      if (auto v = r.integer(*n, "to", 1, 65535)) text = std::to_string(*v);
    } else if (auto s = r.string(*n, "to")) {
      text = *s;
    }
    if (!text.empty()) {
      if (auto ok = parse_forward_destination(text, f); !ok) r.error(*n, "to: " + ok.error());
    }
  } else {
    r.error(t->source(), "[[forward]] needs to = \"PORT\", \"ADDR\" or \"ADDR:PORT\"");
  }
  read_interface(r, *t, f.interface);
  read_comment(r, *t, f.comment);
  if (f.port && f.redirect() && f.to_port == f.port) {
    r.error(t->source(), "[[forward]] would send port " + std::to_string(f.port) + " to itself");
  }
  set.forwards.push_back(std::move(f));
}

// Parses one document; `known_sets` are the sets of files loaded before it (drop-ins may use
// the main file's sets). The result's `sets` holds only the sets this document defines.
std::expected<RuleSet, std::vector<ConfigError>> parse_document(
    std::string_view text, std::string_view file_name,
    const std::map<std::string, CidrList>& known_sets, bool drop_in,
    const SetFileReading& reading) {
  TomlReader r(file_name);
  auto doc = r.parse(text);
  if (!doc) return std::unexpected(std::move(r.errors()));
  RuleSet set;
  set.sets = known_sets;
  r.check_keys(*doc, {"defaults", "icmp", "sets", "set", "rule", "forward"}, "a rule file");
  if (const toml::node* n = doc->get("icmp")) {
    if (drop_in) {
      r.error(*n, "[icmp] belongs in the main rules file only");
    } else {
      read_icmp(r, *n, set);
    }
  }
  if (const toml::node* n = doc->get("defaults")) {
    if (drop_in) {
      r.error(*n, "[defaults] belongs in the main rules file only");
    } else {
      read_defaults(r, *n, set);
    }
  }
  if (const toml::node* n = doc->get("sets")) read_sets(r, *n, set);  // before rules: @names
  if (const toml::node* n = doc->get("set")) read_set_tables(r, *n, reading, set);
  if (const toml::node* n = doc->get("rule")) {
    if (const toml::array* rules = n->as_array()) {
      reserve_in_huge_pages(set.rules, rules->size());
      const CompactText file = r.file();
      for (const toml::node& rule : *rules) read_rule(r, rule, set, file);
    } else {
      r.error(*n, "rules are written as [[rule]] tables");
    }
  }
  if (const toml::node* n = doc->get("forward")) {
    if (const toml::array* forwards = n->as_array()) {
      for (const toml::node& forward : *forwards) read_forward(r, forward, set);
    } else {
      r.error(*n, "forwards are written as [[forward]] tables");
    }
    if (auto conflict = forward_conflict(set.forwards)) {
      const Origin& where = set.forwards[conflict->index].origin;
      r.errors().push_back(ConfigError{where.file.str(), where.line, where.column, conflict->why});
    }
  }
  if (!r.ok()) return std::unexpected(std::move(r.errors()));
  for (const auto& [name, prefixes] : known_sets) set.sets.erase(name);
  return set;
}

}  // namespace

std::expected<RuleSet, std::vector<ConfigError>> parse_rules(
    std::string_view text, std::string_view file_name, const std::optional<SetFileScope>& scope,
    const FileSystem& fs) {
  if (scope) return parse_document(text, file_name, {}, false, SetFileReading{*scope, fs});
  std::filesystem::path base = std::filesystem::path(file_name).parent_path();
  if (base.empty()) base = ".";
  return parse_document(text, file_name, {}, false, SetFileReading{SetFileScope{base, {base}}, fs});
}

bool RuleSources::unchanged(const FileSystem& fs) const {
  return std::all_of(files.begin(), files.end(),
                     [&](const File& f) { return !f.racy && fs.stamp(f.path) == f.stamp; });
}

const CidrList* RuleSources::set_file(const std::string& real_path, const FileStamp& stamp) const {
  for (const File& f : files) {
    // A file read racily may have changed within the same stamp: read again.
    if (f.set_file && !f.racy && f.path == real_path && f.stamp == stamp) return &f.set;
  }
  return nullptr;
}

void RuleSources::add(std::string path, std::optional<FileStamp> stamp, std::int64_t read_at_ns,
                      bool set_file, CidrList set) {
  const bool changed_just_now = stamp && racy(*stamp, read_at_ns);
  files.push_back({std::move(path), stamp, set_file, std::move(set), changed_just_now});
}

void RuleSources::restamp(const std::string& path, const FileStamp& written) {
  for (File& f : files) {
    if (f.path != path) continue;
    f.stamp = written;
    f.racy = false;  // a new inode portwalld made: its bytes are the ones it wrote
  }
}

RuleSet rules_file_part(const RuleSet& in_force, const RuleSources& sources) {
  RuleSet part;
  part.defaults = in_force.defaults;
  part.has_incoming = in_force.has_incoming;
  part.has_outgoing = in_force.has_outgoing;
  part.has_routed = in_force.has_routed;
  part.icmp = in_force.icmp;
  part.has_icmp = in_force.has_icmp;
  const auto rules_end = in_force.rules.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                      sources.main_rules, in_force.rules.size()));
  reserve_in_huge_pages(part.rules, sources.main_rules + 1);  // room for the rule an `allow` adds
  part.rules.assign(in_force.rules.begin(), rules_end);
  const auto forwards_end =
      in_force.forwards.begin() +
      static_cast<std::ptrdiff_t>(std::min(sources.main_forwards, in_force.forwards.size()));
  part.forwards.assign(in_force.forwards.begin(), forwards_end);
  for (const std::string& name : sources.main_sets) {
    if (auto it = in_force.sets.find(name); it != in_force.sets.end()) part.sets.insert(*it);
    if (auto it = in_force.set_files.find(name); it != in_force.set_files.end()) {
      part.set_files.insert(*it);
    }
  }
  return part;
}

RuleSet with_rules_file_part(const RuleSet& in_force, RuleSources& sources, RuleSet part,
                             const WrittenLines& lines) {
  const CompactText file = sources.main_file;  // one text every rule shares
  for (std::size_t i = 0; i < part.rules.size(); ++i) {
    part.rules[i].origin = {file, i < lines.rules.size() ? lines.rules[i] : 0, 1};
  }
  for (std::size_t i = 0; i < part.forwards.size(); ++i) {
    part.forwards[i].origin = {file, i < lines.forwards.size() ? lines.forwards[i] : 0, 1};
  }
  RuleSet all = std::move(part);
  const std::size_t rules = all.rules.size(), forwards = all.forwards.size();
  // The drop-ins' rules and forwards follow, as a load appends them.
  all.rules.insert(all.rules.end(),
                   in_force.rules.begin() + static_cast<std::ptrdiff_t>(std::min(
                                                sources.main_rules, in_force.rules.size())),
                   in_force.rules.end());
  all.forwards.insert(
      all.forwards.end(),
      in_force.forwards.begin() +
          static_cast<std::ptrdiff_t>(std::min(sources.main_forwards, in_force.forwards.size())),
      in_force.forwards.end());
  for (const auto& [name, prefixes] : in_force.sets) all.sets.emplace(name, prefixes);
  for (const auto& [name, file] : in_force.set_files) all.set_files.emplace(name, file);
  sources.main_rules = rules;
  sources.main_forwards = forwards;
  return all;
}

std::expected<RuleSet, std::vector<ConfigError>> load_rules(
    const std::filesystem::path& main_file, const std::filesystem::path& drop_in_dir,
    RuleSources* sources, const FileSystem& fs) {
  RuleSources record;
  auto text = fs.read(main_file);
  if (!text) {
    return std::unexpected(std::vector<ConfigError>{
        ConfigError{main_file.string(), 0, 0, "cannot read: " + text.error()}});
  }
  record.add(main_file.string(), text->stamp, fs.now_ns());
  record.main_file = main_file.string();
  std::filesystem::path base = main_file.parent_path();
  if (base.empty()) base = ".";
  const SetFileScope scope{base, {base, drop_in_dir}};
  const SetFileReading main_reading{scope, fs, sources, &record};
  auto set = parse_document(text->text, main_file.string(), {}, false, main_reading);
  if (!set) return set;
  record.main_rules = set->rules.size();
  record.main_forwards = set->forwards.size();
  for (const auto& [name, prefixes] : set->sets) record.main_sets.push_back(name);
  if (!drop_in_dir.empty()) {
    // The folder's stamp moves when a drop-in is added, removed or renamed.
    record.add(drop_in_dir.string(), fs.stamp(drop_in_dir), fs.now_ns());
  }
  std::vector<std::filesystem::path> files;
  if (auto names = drop_in_dir.empty() ? std::nullopt : fs.list(drop_in_dir)) {
    for (const std::string& name : *names) {  // sorted: alphabetical, as nft's include globs
      if (name.empty() || name[0] == '.' || std::filesystem::path(name).extension() != ".toml") {
        continue;
      }
      files.push_back(drop_in_dir / name);
    }
  }
  std::vector<ConfigError> errors;
  for (const auto& file : files) {
    auto drop_text = fs.read(file);
    if (!drop_text) {
      errors.push_back(ConfigError{file.string(), 0, 0, "cannot read: " + drop_text.error()});
      continue;
    }
    record.add(file.string(), drop_text->stamp, fs.now_ns());
    // A drop-in sees the sets defined so far (main file, earlier drop-ins).
    auto drop = parse_document(
        drop_text->text, file.string(), set->sets, true,
        SetFileReading{SetFileScope{drop_in_dir, scope.roots}, fs, sources, &record});
    if (!drop) {
      errors.insert(errors.end(), drop.error().begin(), drop.error().end());
      continue;
    }
    set->sets.merge(drop->sets);
    set->set_files.merge(drop->set_files);
    for (Rule& rule : drop->rules) set->rules.push_back(std::move(rule));
    for (Forward& f : drop->forwards) set->forwards.push_back(std::move(f));
  }
  if (!errors.empty()) return std::unexpected(std::move(errors));
  if (auto conflict = forward_conflict(set->forwards)) {
    const Origin& where = set->forwards[conflict->index].origin;
    return std::unexpected(std::vector<ConfigError>{
        ConfigError{where.file.str(), where.line, where.column, conflict->why}});
  }
  if (sources) *sources = std::move(record);
  return set;
}

}  // namespace portwall
