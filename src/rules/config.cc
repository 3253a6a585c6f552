// config.cc — see config.h. Every key of DESIGN.md's "Configuration keys", validated where it
// stands; unknown keys and tables are errors.
#include "rules/config.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "rules/rule_values.h"
#include "rules/toml_reader.h"

namespace portwall {
namespace {

const toml::table* table_of(TomlReader& r, const toml::node& node, std::string_view name) {
  const toml::table* t = node.as_table();
  if (!t) r.error(node, "[" + std::string(name) + "] must be a table");
  return t;
}

void read_daemon(TomlReader& r, const toml::table& t, DaemonSection& d) {
  r.check_keys(t,
               {"queues", "fail_open", "mode", "backend", "inspect", "socket", "rules", "rules_dir",
                "admin_group", "read_group"},
               "[daemon]");
  if (const toml::node* n = t.get("queues")) {
    const toml::array* list = n->as_array();
    if (!list || list->empty()) {
      r.error(*n, "queues must be a non-empty array of queue numbers, e.g. [100, 101]");
    } else {
      std::vector<std::uint16_t> queues;
      for (const toml::node& q : *list) {
        if (auto v = r.integer(q, "queue number", 0, 65535)) {
          if (std::find(queues.begin(), queues.end(), *v) != queues.end()) {
            r.error(q, "queue " + std::to_string(*v) + " is listed twice");
          }
          queues.push_back(static_cast<std::uint16_t>(*v));
        }
      }
      d.queues = queues;
    }
  }
  if (const toml::node* n = t.get("fail_open")) {
    if (auto b = r.boolean(*n, "fail_open")) d.fail_open = *b;
  }
  if (const toml::node* n = t.get("mode")) {
    if (auto i = r.choice(*n, "mode", {"enforce", "monitor"}))
      d.mode = *i ? Mode::monitor : Mode::enforce;
  }
  if (const toml::node* n = t.get("backend")) {
    if (auto i = r.choice(*n, "backend", {"auto", "iptables", "nftables"})) {
      d.backend = std::array{Backend::automatic, Backend::iptables, Backend::nftables}[*i];
    }
  }
  if (const toml::node* n = t.get("inspect")) {
    if (auto i = r.choice(*n, "inspect", {"full", "new"}))
      d.inspect = *i ? Inspect::new_only : Inspect::full;
  }
  for (auto [key, field] :
       {std::pair{"socket", &d.socket}, std::pair{"rules", &d.rules},
        std::pair{"rules_dir", &d.rules_dir}, std::pair{"admin_group", &d.admin_group},
        std::pair{"read_group", &d.read_group}}) {
    if (const toml::node* n = t.get(key)) {
      if (auto s = r.string(*n, key)) *field = *s;
    }
  }
}

void read_log(TomlReader& r, const toml::table& t, LogSection& l) {
  r.check_keys(t, {"file", "audit_file", "format", "max_lines_per_second"}, "[log]");
  if (const toml::node* n = t.get("file")) {
    if (auto s = r.string(*n, "file")) l.file = *s;
  }
  if (const toml::node* n = t.get("audit_file")) {
    if (auto s = r.string(*n, "audit_file")) l.audit_file = *s;
  }
  if (const toml::node* n = t.get("format")) {
    if (auto i = r.choice(*n, "format", {"text", "json"}))
      l.format = *i ? LogFormat::json : LogFormat::text;
  }
  if (const toml::node* n = t.get("max_lines_per_second")) {
    if (auto v = r.integer(*n, "max_lines_per_second", 0, 1'000'000)) {
      l.max_lines_per_second = static_cast<std::uint32_t>(*v);
    }
  }
}

void read_defaults(TomlReader& r, const toml::table& t, Config& c) {
  r.check_keys(t, {"incoming", "outgoing"}, "[defaults]");
  for (auto [key, field] :
       {std::pair{"incoming", &c.defaults.incoming}, std::pair{"outgoing", &c.defaults.outgoing}}) {
    if (const toml::node* n = t.get(key)) {
      if (auto i = r.choice(*n, key, {"allow", "deny", "reject"})) {
        *field = std::array{Action::allow, Action::deny, Action::reject}[*i];
      }
    }
  }
  c.has_defaults = true;
}

void read_conntrack(TomlReader& r, const toml::table& t, ConntrackSection& c) {
  r.check_keys(t, {"max_entries", "tcp_established_timeout", "udp_timeout", "pickup_grace"},
               "[conntrack]");
  if (const toml::node* n = t.get("max_entries")) {
    if (auto v = r.integer(*n, "max_entries", 16, 1 << 26))
      c.max_entries = static_cast<std::uint32_t>(*v);
  }
  for (auto [key, field] :
       {std::pair{"tcp_established_timeout", &c.tcp_established_timeout},
        std::pair{"udp_timeout", &c.udp_timeout}, std::pair{"pickup_grace", &c.pickup_grace}}) {
    if (const toml::node* n = t.get(key)) {
      if (auto d = r.duration(*n, key)) *field = *d;
    }
  }
}

void read_scan(TomlReader& r, const toml::table& t, ScanDetectionSection& s) {
  r.check_keys(t, {"enabled", "distinct_ports", "window", "block", "never_block"},
               "[scan_detection]");
  if (const toml::node* n = t.get("never_block")) {
    if (const toml::array* list = n->as_array()) {
      for (const toml::node& item : *list) {
        auto text = r.string(item, "never_block item");
        if (!text) continue;
        if (auto c = parse_cidr(*text)) {
          s.never_block.push_back(*c);
        } else {
          r.error(item, "never_block: " + c.error());
        }
      }
    } else {
      r.error(*n, "never_block must be an array of addresses or networks");
    }
  }
  if (const toml::node* n = t.get("enabled")) {
    if (auto b = r.boolean(*n, "enabled")) s.enabled = *b;
  }
  if (const toml::node* n = t.get("distinct_ports")) {
    if (auto v = r.integer(*n, "distinct_ports", 2, 65535))
      s.distinct_ports = static_cast<std::uint32_t>(*v);
  }
  if (const toml::node* n = t.get("window")) {
    if (auto d = r.duration(*n, "window")) s.window = *d;
  }
  if (const toml::node* n = t.get("block")) {
    if (auto d = r.duration(*n, "block")) s.block = *d;
  }
}

// "7000/tcp": a port and tcp or udp.
bool valid_port_proto(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  const std::string_view proto = text.substr(slash + 1);
  if (proto != "tcp" && proto != "udp") return false;
  auto port = parse_ports(text.substr(0, slash), proto == "tcp" ? Proto::tcp : Proto::udp);
  return port && port->ranges.size() == 1 && port->ranges[0].first == port->ranges[0].last;
}

void read_knock(TomlReader& r, const toml::node& node, std::vector<KnockSection>& knocks) {
  const toml::table* t = node.as_table();
  if (!t) return r.error(node, "each [[knock]] must be a table");
  r.check_keys(*t, {"name", "sequence", "window", "open", "duration"}, "[[knock]]");
  KnockSection k;
  if (const toml::node* n = t->get("name")) {
    if (auto s = r.string(*n, "name")) k.name = *s;
  } else {
    r.error(t->source(), "[[knock]] needs a name");
  }
  if (const toml::node* n = t->get("sequence")) {
    const toml::array* list = n->as_array();
    if (!list || list->size() < 2) {
      r.error(*n, "sequence must be an array of at least two \"port/proto\" knocks");
    } else {
      for (const toml::node& item : *list) {
        auto s = r.string(item, "sequence item");
        if (!s) continue;
        if (!valid_port_proto(*s)) {
          r.error(item, "knock must be \"port/tcp\" or \"port/udp\", got \"" + *s + "\"");
        }
        k.sequence.push_back(*s);
      }
    }
  } else {
    r.error(t->source(), "[[knock]] needs a sequence");
  }
  if (const toml::node* n = t->get("open")) {
    if (auto s = r.string(*n, "open")) {
      if (!valid_port_proto(*s))
        r.error(*n, "open must be \"port/tcp\" or \"port/udp\", got \"" + *s + "\"");
      k.open = *s;
    }
  } else {
    r.error(t->source(), "[[knock]] needs open = \"port/proto\"");
  }
  if (const toml::node* n = t->get("window")) {
    if (auto d = r.duration(*n, "window")) k.window = *d;
  }
  if (const toml::node* n = t->get("duration")) {
    if (auto d = r.duration(*n, "duration")) k.duration = *d;
  }
  knocks.push_back(std::move(k));
}

}  // namespace

std::expected<Config, std::vector<ConfigError>> parse_config(std::string_view text,
                                                             std::string_view file_name) {
  TomlReader r(file_name);
  auto doc = r.parse(text);
  if (!doc) return std::unexpected(std::move(r.errors()));
  Config c;
  r.check_keys(*doc, {"daemon", "log", "defaults", "conntrack", "scan_detection", "knock"},
               "the configuration");
  if (const toml::node* n = doc->get("daemon")) {
    if (auto* t = table_of(r, *n, "daemon")) read_daemon(r, *t, c.daemon);
  }
  if (const toml::node* n = doc->get("log")) {
    if (auto* t = table_of(r, *n, "log")) read_log(r, *t, c.log);
  }
  if (const toml::node* n = doc->get("defaults")) {
    if (auto* t = table_of(r, *n, "defaults")) read_defaults(r, *t, c);
  }
  if (const toml::node* n = doc->get("conntrack")) {
    if (auto* t = table_of(r, *n, "conntrack")) read_conntrack(r, *t, c.conntrack);
  }
  if (const toml::node* n = doc->get("scan_detection")) {
    if (auto* t = table_of(r, *n, "scan_detection")) read_scan(r, *t, c.scan_detection);
  }
  if (const toml::node* n = doc->get("knock")) {
    if (const toml::array* list = n->as_array()) {
      for (const toml::node& k : *list) read_knock(r, k, c.knocks);
    } else {
      r.error(*n, "knock sequences are written as [[knock]] tables");
    }
  }
  if (!r.ok()) return std::unexpected(std::move(r.errors()));
  return c;
}

std::expected<Config, std::vector<ConfigError>> load_config(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return std::unexpected(std::vector<ConfigError>{
        {file.string(), 0, 0, std::string("cannot read: ") + std::strerror(errno)}});
  }
  std::stringstream s;
  s << in.rdbuf();
  return parse_config(s.str(), file.string());
}

}  // namespace portwall
