// config.cc — see config.h. Every key of DESIGN.md's "Configuration keys", validated where it
// stands; unknown keys and tables are errors.
#include "config/config.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <set>
#include <tuple>

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
               {"queues", "queue_length", "fail_open", "mode", "backend", "inspect", "socket",
                "rules", "rules_dir", "admin_group", "read_group", "state_file", "kernel_blocks"},
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
  if (const toml::node* n = t.get("queue_length")) {
    if (auto v = r.integer(*n, "queue_length", 16, 1 << 20)) {
      d.queue_length = static_cast<std::uint32_t>(*v);
    }
  }
  if (const toml::node* n = t.get("fail_open")) {
    if (auto b = r.boolean(*n, "fail_open")) d.fail_open = *b;
  }
  if (const toml::node* n = t.get("kernel_blocks")) {
    if (auto b = r.boolean(*n, "kernel_blocks")) d.kernel_blocks = *b;
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
        std::pair{"read_group", &d.read_group}, std::pair{"state_file", &d.state_file}}) {
    if (const toml::node* n = t.get(key)) {
      if (auto s = r.string(*n, key)) *field = *s;
    }
  }
}

void read_log(TomlReader& r, const toml::table& t, LogSection& l) {
  r.check_keys(t, {"file", "audit_file", "format", "target", "max_lines_per_second"}, "[log]");
  if (const toml::node* n = t.get("target")) {
    if (auto i = r.choice(*n, "target", {"file", "syslog", "journald"})) {
      l.target = std::array{LogTarget::file, LogTarget::syslog, LogTarget::journald}[*i];
    }
  }
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
  r.check_keys(t, {"incoming", "outgoing", "routed"}, "[defaults]");
  for (auto [key, field, given] : {std::tuple{"incoming", &c.defaults.incoming, &c.has_incoming},
                                   std::tuple{"outgoing", &c.defaults.outgoing, &c.has_outgoing},
                                   std::tuple{"routed", &c.defaults.routed, &c.has_routed}}) {
    if (const toml::node* n = t.get(key)) {
      if (auto i = r.choice(*n, key, {"allow", "deny", "reject"})) {
        *field = std::array{Action::allow, Action::deny, Action::reject}[*i];
      }
      *given = true;
    }
  }
  c.defaults.routed_given = c.has_routed;
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
  r.check_keys(t,
               {"enabled", "distinct_ports", "window", "block", "never_block",
                "new_blocks_per_second", "ipv6_block_prefix"},
               "[scan_detection]");
  if (const toml::node* n = t.get("ipv6_block_prefix")) {
    if (auto v = r.integer(*n, "ipv6_block_prefix", 32, 128))
      s.ipv6_block_prefix = static_cast<std::uint8_t>(*v);
  }
  if (const toml::node* n = t.get("new_blocks_per_second")) {
    if (auto v = r.integer(*n, "new_blocks_per_second", 1, 1 << 20))
      s.new_blocks_per_second = static_cast<std::uint32_t>(*v);
  }
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

// A list of "port/proto" strings; `what` names it in messages.
std::vector<PortProto> read_port_protos(TomlReader& r, const toml::array& list,
                                        const std::string& what) {
  std::vector<PortProto> out;
  for (const toml::node& item : list) {
    auto s = r.string(item, what + " item");
    if (!s) continue;
    if (auto pp = parse_port_proto(*s)) {
      out.push_back(*pp);
    } else {
      r.error(item, "knock must be \"port/tcp\" or \"port/udp\", got \"" + *s + "\"");
    }
  }
  return out;
}

void read_knock_sequences(TomlReader& r, const toml::table& t, KnockSection& k) {
  if (const toml::node* n = t.get("sequence")) {
    const toml::array* list = n->as_array();
    if (!list || list->size() < 2) {
      r.error(*n, "sequence must be an array of at least two \"port/proto\" knocks");
    } else {
      k.sequence = read_port_protos(r, *list, "sequence");
    }
  }
  if (const toml::node* n = t.get("one_time_sequences")) {
    const toml::array* list = n->as_array();
    if (!list || list->empty()) {
      r.error(*n,
              "one_time_sequences must be an array of sequences, e.g. "
              "[[\"7001/tcp\", \"7002/tcp\"], [\"7003/udp\", \"7004/tcp\"]]");
      return;
    }
    for (const toml::node& seq : *list) {
      const toml::array* steps = seq.as_array();
      if (!steps || steps->size() < 2) {
        r.error(seq, "each one-time sequence must be an array of at least two knocks");
        continue;
      }
      k.one_time_sequences.push_back(read_port_protos(r, *steps, "one-time sequence"));
    }
  }
}

// A secret in a file of its own: only its owner (and group) may read it, as sshd demands of a
// private key. Its text, without the line end; nullopt after an error.
// `consequence`: what a reader of the file could do, for the error.
std::optional<std::string> read_secret_file(TomlReader& r, const toml::node& at,
                                            const std::string& key, const std::string& path,
                                            const std::string& consequence, const FileSystem& fs) {
  auto read = fs.read(path, false, 1 << 20);
  if (!read) {
    r.error(at, "cannot read " + path + ": " + read.error());
    return std::nullopt;
  }
  if (read->stamp.mode & (S_IROTH | S_IWOTH | S_IWGRP)) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(read->stamp.mode));
    r.error(at, key + " " + path + " is " +
                    ((read->stamp.mode & S_IROTH) ? "readable" : "writable") +
                    " by users other than its owner (mode " + mode + "): " + consequence +
                    "; chmod 600 " + path + " (or 640 with group portwall)");
    return std::nullopt;
  }
  return without_line_end(std::move(read->text));
}

void read_spa(TomlReader& r, const toml::table& t, KnockSection& k, const FileSystem& fs) {
  if (const toml::node* n = t.get("spa_port")) {
    if (auto v = r.integer(*n, "spa_port", 1, 65535)) k.spa_port = static_cast<std::uint16_t>(*v);
  }
  if (const toml::node* n = t.get("spa_window")) {
    if (auto d = r.duration(*n, "spa_window")) k.spa_window = *d;
  }
  bool key_read = false;
  const toml::node* key = t.get("spa_key");
  const toml::node* key_file = t.get("spa_key_file");
  if (key && key_file) r.error(*key_file, "give spa_key or spa_key_file, not both");
  if (key) {
    if (auto s = r.string(*key, "spa_key")) {
      k.spa_key = *s;
      k.spa_key_inline = true;
      key_read = true;
    }
  } else if (key_file) {
    if (auto path = r.string(*key_file, "spa_key_file")) {
      if (auto text = read_secret_file(r, *key_file, "spa_key_file", *path,
                                       "anyone who reads the key opens the door", fs)) {
        k.spa_key = std::move(*text);
        key_read = true;
      }
    }
  }
  if (const toml::node* n = t.get("spa_destinations")) {
    const toml::array* list = n->as_array();
    if (!list) r.error(*n, "spa_destinations must be an array of addresses");
    for (std::size_t i = 0; list && i < list->size(); ++i) {
      const toml::node& item = *list->get(i);
      auto text = r.string(item, "spa_destinations");
      if (!text) continue;
      if (auto a = parse_ip_address(*text)) {
        k.spa_destinations.push_back(*a);
      } else {
        r.error(item, "spa_destinations: not an IPv4 or IPv6 address: \"" + *text + "\"");
      }
    }
  }
  const toml::node* at = key ? key : key_file;
  if (k.spa_port != 0 && !at) {
    r.error(t.source(), "[[knock]] " + k.name + ": spa_port needs spa_key or spa_key_file");
  } else if (at && k.spa_port == 0) {
    r.error(*at, "spa_key needs spa_port, the UDP port the authenticated knock is sent to");
  } else if (key_read && k.spa_key.size() < 16) {
    r.error(*at, "spa key must be at least 16 bytes (try: openssl rand -hex 32)");
  }
}

void read_knock(TomlReader& r, const toml::node& node, std::vector<KnockSection>& knocks,
                const FileSystem& fs) {
  const toml::table* t = node.as_table();
  if (!t) return r.error(node, "each [[knock]] must be a table");
  r.check_keys(*t,
               {"name", "sequence", "one_time_sequences", "window", "open", "duration", "spa_port",
                "spa_key", "spa_key_file", "spa_window", "spa_destinations"},
               "[[knock]]");
  KnockSection k;
  if (const toml::node* n = t->get("name")) {
    if (auto s = r.string(*n, "name")) k.name = *s;
  } else {
    r.error(t->source(), "[[knock]] needs a name");
  }
  read_knock_sequences(r, *t, k);
  read_spa(r, *t, k, fs);
  if (!t->get("sequence") && !t->get("one_time_sequences") && !t->get("spa_port")) {
    r.error(t->source(), "[[knock]] needs a sequence (or one_time_sequences, or spa_port)");
  }
  if (const toml::node* n = t->get("open")) {
    const toml::array* list = n->as_array();
    if (list) {
      k.open = read_port_protos(r, *list, "open");
    } else if (auto s = r.string(*n, "open")) {
      if (auto pp = parse_port_proto(*s)) {
        k.open.push_back(*pp);
      } else {
        r.error(*n, "open must be \"port/tcp\" or \"port/udp\", got \"" + *s + "\"");
      }
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

void read_limits(TomlReader& r, const toml::table& t, LimitsSection& l) {
  r.check_keys(t,
               {"new_connections", "new_connections_burst", "max_connections_per_source",
                "max_sources", "max_blocks"},
               "[limits]");
  if (const toml::node* n = t.get("new_connections")) {
    if (auto text = r.string(*n, "new_connections")) {
      if (auto rate = parse_rate(*text)) {
        l.new_connections = *rate;
      } else {
        r.error(*n, "new_connections: " + rate.error());
      }
    }
  }
  if (const toml::node* n = t.get("new_connections_burst")) {
    if (auto v = r.integer(*n, "new_connections_burst", 1, 1'000'000)) {
      if (l.new_connections.count == 0) {
        r.error(*n, "new_connections_burst needs new_connections = \"N/duration\"");
      }
      l.new_connections.burst = static_cast<std::uint32_t>(*v);
    }
  }
  if (const toml::node* n = t.get("max_connections_per_source")) {
    if (auto v = r.integer(*n, "max_connections_per_source", 0, 1 << 26))
      l.max_connections_per_source = static_cast<std::uint32_t>(*v);
  }
  if (const toml::node* n = t.get("max_sources")) {
    if (auto v = r.integer(*n, "max_sources", 16, 1 << 24))
      l.max_sources = static_cast<std::uint32_t>(*v);
  }
  if (const toml::node* n = t.get("max_blocks")) {
    if (auto v = r.integer(*n, "max_blocks", 16, 1 << 24))
      l.max_blocks = static_cast<std::uint32_t>(*v);
  }
}

void read_metrics(TomlReader& r, const toml::table& t, MetricsSection& m) {
  r.check_keys(t, {"textfile", "interval"}, "[metrics]");
  if (const toml::node* n = t.get("textfile")) {
    if (auto s = r.string(*n, "textfile")) {
      if (!s->empty() && !s->ends_with(".prom")) {
        r.error(*n, "textfile: node_exporter reads only files ending in .prom");
      }
      m.textfile = *s;
    }
  }
  if (const toml::node* n = t.get("interval")) {
    if (auto d = r.duration(*n, "interval")) {
      if (*d < std::chrono::seconds(1)) r.error(*n, "interval: at least \"1s\"");
      m.interval = *d;
    }
  }
}

void read_crowdsec(TomlReader& r, const toml::table& t, CrowdSecSection& c, const FileSystem& fs) {
  r.check_keys(t,
               {"lapi_url", "api_key_file", "interval", "full_pull_every", "ca_file", "login",
                "password_file", "push_manual"},
               "[crowdsec]");
  if (const toml::node* n = t.get("lapi_url")) {
    if (auto s = r.string(*n, "lapi_url")) {
      if (!s->empty() && !s->starts_with("http://") && !s->starts_with("https://")) {
        r.error(*n, "lapi_url: an http:// or https:// address, got \"" + *s + "\"");
      }
      c.lapi_url = *s;
    }
  }
  if (const toml::node* n = t.get("interval")) {
    if (auto d = r.duration(*n, "interval")) {
      if (*d < std::chrono::seconds(1) || *d > std::chrono::hours(1)) {
        r.error(*n, "interval: from \"1s\" to \"1h\"");
      }
      c.interval = *d;
    }
  }
  if (const toml::node* n = t.get("full_pull_every")) {
    if (auto d = r.duration(*n, "full_pull_every")) {
      if (*d < std::chrono::seconds(1) || *d > std::chrono::hours(24)) {
        r.error(*n, "full_pull_every: from \"1s\" to \"24h\"");
      }
      c.full_pull_every = *d;
    }
  }
  if (const toml::node* n = t.get("ca_file")) {
    if (auto s = r.string(*n, "ca_file")) c.ca_file = *s;
  }
  if (const toml::node* n = t.get("login")) {
    if (auto s = r.string(*n, "login")) c.login = *s;
  }
  if (const toml::node* n = t.get("push_manual")) {
    if (auto b = r.boolean(*n, "push_manual")) c.push_manual = *b;
  }
  for (auto [key, path, secret] : {std::tuple{"api_key_file", &c.api_key_file, &c.api_key},
                                   std::tuple{"password_file", &c.password_file, &c.password}}) {
    const toml::node* n = t.get(key);
    if (!n) continue;
    auto s = r.string(*n, key);
    if (!s) continue;
    *path = *s;
    if (s->empty() || c.lapi_url.empty()) continue;
    if (auto text = read_secret_file(r, *n, key, *s, "anyone who reads it holds the secret", fs)) {
      if (text->empty()) r.error(*n, std::string(key) + " " + *s + " is empty");
      *secret = std::move(*text);
    }
  }
  if (c.lapi_url.empty()) return;
  if (c.api_key_file.empty()) {
    r.error(t.source(),
            "[crowdsec] lapi_url needs api_key_file, the bouncer's key (cscli "
            "bouncers add portwall -o raw > FILE; chmod 600 FILE)");
  }
  if (!c.login.empty() && c.password_file.empty()) {
    r.error(t.source(), "[crowdsec] login needs password_file, the machine's password");
  }
}

}  // namespace

std::optional<PortProto> parse_port_proto(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view proto = text.substr(slash + 1);
  if (proto != "tcp" && proto != "udp") return std::nullopt;
  auto port = parse_ports(text.substr(0, slash), proto == "tcp" ? Proto::tcp : Proto::udp);
  if (!port || port->ranges.size() != 1 || port->ranges[0].first != port->ranges[0].last) {
    return std::nullopt;
  }
  return PortProto{static_cast<std::uint8_t>(proto == "tcp" ? 6 : 17), port->ranges[0].first};
}

std::string to_string(const PortProto& p) {
  return std::to_string(p.port) + (p.protocol == 17 ? "/udp" : "/tcp");
}

namespace {

// [daemon] and [log]: all the CLI needs of a configuration.
void read_daemon_and_log(TomlReader& r, const toml::table& doc, Config& c) {
  if (const toml::node* n = doc.get("daemon")) {
    if (auto* t = table_of(r, *n, "daemon")) read_daemon(r, *t, c.daemon);
  }
  if (const toml::node* n = doc.get("log")) {
    if (auto* t = table_of(r, *n, "log")) read_log(r, *t, c.log);
  }
}

}  // namespace

std::expected<Config, std::vector<ConfigError>> parse_config(std::string_view text,
                                                             std::string_view file_name,
                                                             const FileSystem& fs) {
  TomlReader r(file_name);
  auto doc = r.parse(text);
  if (!doc) return std::unexpected(std::move(r.errors()));
  Config c;
  r.check_keys(*doc, kConfigurationTables, "the configuration");
  read_daemon_and_log(r, *doc, c);
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
      for (const toml::node& k : *list) read_knock(r, k, c.knocks, fs);
    } else {
      r.error(*n, "knock sequences are written as [[knock]] tables");
    }
  }
  if (const toml::node* n = doc->get("limits")) {
    if (auto* t = table_of(r, *n, "limits")) read_limits(r, *t, c.limits);
  }
  if (const toml::node* n = doc->get("metrics")) {
    if (auto* t = table_of(r, *n, "metrics")) read_metrics(r, *t, c.metrics);
  }
  if (const toml::node* n = doc->get("crowdsec")) {
    if (auto* t = table_of(r, *n, "crowdsec")) read_crowdsec(r, *t, c.crowdsec, fs);
  }
  if (!r.ok()) return std::unexpected(std::move(r.errors()));
  return c;
}

namespace {

std::expected<FileText, std::vector<ConfigError>> read_config_text(
    const std::filesystem::path& file, const FileSystem& fs) {
  auto read = fs.read(file, false);
  if (!read) {
    return std::unexpected(
        std::vector<ConfigError>{{file.string(), 0, 0, "cannot read: " + read.error()}});
  }
  return std::move(*read);
}

}  // namespace

std::expected<Config, std::vector<ConfigError>> load_config(const std::filesystem::path& file,
                                                            const FileSystem& fs) {
  auto read = read_config_text(file, fs);
  if (!read) return std::unexpected(std::move(read.error()));
  auto config = parse_config(read->text, file.string(), fs);
  if (config && (read->stamp.mode & S_IROTH)) {
    for (const KnockSection& k : config->knocks) {
      if (!k.spa_key_inline) continue;
      return std::unexpected(std::vector<ConfigError>{
          {file.string(), 0, 0,
           "[[knock]] " + k.name + " has its spa_key inline and " + file.string() +
               " is readable by every user: anyone who reads it opens the door; chmod 640 " +
               file.string() + " (root:portwall) or move the key to a spa_key_file of mode 600"}});
    }
  }
  return config;
}

std::expected<Config, std::vector<ConfigError>> load_config_paths(const std::filesystem::path& file,
                                                                  const FileSystem& fs) {
  auto read = read_config_text(file, fs);
  if (!read) return std::unexpected(std::move(read.error()));
  TomlReader r(file.string());
  auto doc = r.parse(read->text);
  if (!doc) return std::unexpected(std::move(r.errors()));
  Config c;
  read_daemon_and_log(r, *doc, c);
  if (!r.ok()) return std::unexpected(std::move(r.errors()));
  return c;
}

std::vector<std::string> keys_needing_restart(const Config& running, const Config& fresh) {
  std::vector<std::string> keys;
  auto note = [&](bool changed, const char* key) {
    if (changed) keys.emplace_back(key);
  };
  const DaemonSection &a = running.daemon, &b = fresh.daemon;
  note(a.queues != b.queues, "[daemon] queues");
  note(a.queue_length != b.queue_length, "[daemon] queue_length");
  note(a.fail_open != b.fail_open, "[daemon] fail_open");
  note(a.backend != b.backend, "[daemon] backend");
  note(a.inspect != b.inspect, "[daemon] inspect");
  note(a.socket != b.socket, "[daemon] socket");
  note(a.admin_group != b.admin_group, "[daemon] admin_group");
  note(a.read_group != b.read_group, "[daemon] read_group");
  note(a.state_file != b.state_file, "[daemon] state_file");
  note(a.kernel_blocks != b.kernel_blocks, "[daemon] kernel_blocks");
  const LogSection &l = running.log, &m = fresh.log;
  note(l.file != m.file, "[log] file");
  note(l.audit_file != m.audit_file, "[log] audit_file");
  note(l.target != m.target, "[log] target");
  note(l.max_lines_per_second != m.max_lines_per_second, "[log] max_lines_per_second");
  const ConntrackSection &c = running.conntrack, &d = fresh.conntrack;
  note(c.max_entries != d.max_entries, "[conntrack] max_entries");
  note(c.tcp_established_timeout != d.tcp_established_timeout,
       "[conntrack] tcp_established_timeout");
  note(c.udp_timeout != d.udp_timeout, "[conntrack] udp_timeout");
  note(c.pickup_grace != d.pickup_grace, "[conntrack] pickup_grace");
  return keys;
}

}  // namespace portwall
