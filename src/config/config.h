// config.h — the daemon configuration (portwall.toml) as validated values.
// Defaults are those of DESIGN.md; every key is optional. Unknown keys and tables are errors
// (a typo must not silently fall back to a default).
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.h"
#include "fs/file_system.h"
#include "rules/config_error.h"
#include "rules/rule.h"

namespace portwall {

enum class Mode : std::uint8_t { enforce, monitor };
enum class Backend : std::uint8_t { automatic, iptables, nftables };
enum class Inspect : std::uint8_t { full, new_only };
enum class LogFormat : std::uint8_t { text, json };
enum class LogTarget : std::uint8_t { file, syslog, journald };

struct DaemonSection {
  // Two: on a busy machine a second queue and thread kept the queue from overflowing
  // (NFQUEUE-NOTES); the kernel balances connections over them by address pair.
  std::vector<std::uint16_t> queues{100, 101};
  // Packets the kernel holds per queue while portwalld judges them; beyond it fail_open
  // decides (accept uninspected, or drop), and `status` counts either.
  std::uint32_t queue_length = 16384;
  bool fail_open = true;
  Mode mode = Mode::enforce;
  Backend backend = Backend::automatic;
  Inspect inspect = Inspect::full;
  std::string socket = "/run/portwall/portwall.sock";
  std::string rules = "/etc/portwall/rules.toml";
  std::string rules_dir;  // "" = <directory of rules>/rules.d
  // Who may use the control socket besides root: members of admin_group may change rules,
  // members of read_group may only read (status, explain, ports, conntrack list/count). The socket
  // belongs to admin_group if set (read_group then has an ACL entry), else to read_group.
  std::string admin_group;
  std::string read_group;
  // What must survive a restart: blocked sources and used one-time knock sequences (JSON,
  // written atomically). "" keeps nothing.
  std::string state_file = "/var/lib/portwall/state.json";
  // Blocked sources' packets are dropped by a kernel set that copies the block list (an ipset,
  // or a named set with nftables) before they reach the queue; false: portwalld drops them.
  bool kernel_blocks = true;
};

struct LogSection {
  std::string file = "/var/log/portwall/portwall.log";
  std::string audit_file = "/var/log/portwall/audit.log";
  LogFormat format = LogFormat::text;
  // file: the two files above; syslog or journald: both logs go there instead (log shippers
  // such as rsyslog, journald, Vector or Filebeat pick them up), and the files are not used.
  LogTarget target = LogTarget::file;
  std::uint32_t max_lines_per_second = 100;
};

struct ConntrackSection {
  std::uint32_t max_entries = 262144;
  Duration tcp_established_timeout = std::chrono::hours(24 * 5);
  Duration udp_timeout = std::chrono::seconds(30);
  Duration pickup_grace = std::chrono::seconds(60);
};

struct ScanDetectionSection {
  bool enabled = true;
  std::uint32_t distinct_ports = 10;
  Duration window = std::chrono::seconds(5);
  Duration block = std::chrono::minutes(10);
  std::vector<Cidr> never_block;  // networks never blocked (monitoring hosts, your office)
  // New scan blocks per second at most (a second's worth at once): a flood of forged scanners
  // cannot fill the block list faster; beyond it, scanners are refused but not blocked.
  std::uint32_t new_blocks_per_second = 100;
  // An IPv6 scanner is blocked with its whole prefix of this length (one attacker owns the
  // /64 its addresses come from), and its touches are counted per prefix; 128: per address.
  std::uint8_t ipv6_block_prefix = 64;
};

// [crowdsec]: portwalld as a bouncer of a CrowdSec Local API (its decisions become blocks)
// and, with machine credentials, as a source (its scan blocks are pushed there as alerts).
struct CrowdSecSection {
  std::string lapi_url;      // "" = off; "http://127.0.0.1:8080/"
  std::string api_key_file;  // the bouncer's key (cscli bouncers add), 0600 or 0640
  std::string api_key;       // read from api_key_file; never logged
  Duration interval = std::chrono::seconds(10);
  // A full pull (startup=true) this often besides the changes: it mends what the stream's
  // changes missed (a LAPI that stores a large batch while bouncers pull can skip some).
  Duration full_pull_every = std::chrono::minutes(10);
  std::string ca_file;  // a CA to trust besides the system's, for https
  // The source: a watcher's login (cscli machines add) and its password file.
  std::string login;
  std::string password_file;
  std::string password;      // read from password_file; never logged
  bool push_manual = false;  // push `portwall blocked add` too, not only scan blocks
  bool enabled() const { return !lapi_url.empty(); }
  bool source() const { return enabled() && !login.empty(); }
  friend bool operator==(const CrowdSecSection&, const CrowdSecSection&) = default;
};

// One port of one transport protocol: a knock, or a port a knock opens ("7000/tcp").
struct PortProto {
  std::uint8_t protocol = 0;  // IANA number: 6 tcp, 17 udp
  std::uint16_t port = 0;
  friend bool operator==(const PortProto&, const PortProto&) = default;
};
std::string to_string(const PortProto& p);  // "7000/tcp"
// "7000/tcp" or "7000/udp"; nullopt for anything else.
std::optional<PortProto> parse_port_proto(std::string_view text);

struct KnockSection {
  std::string name;
  std::vector<PortProto> sequence;  // knockd's sequence; may be empty with the two below
  // knockd's one_time_sequences: each usable once, in any order; used ones are remembered in
  // the state file across restarts.
  std::vector<std::vector<PortProto>> one_time_sequences;
  Duration window = std::chrono::seconds(10);  // the whole sequence within this
  std::vector<PortProto> open;                 // "22/tcp" or ["22/tcp", "2222/tcp"]
  Duration duration = std::chrono::seconds(30);
  // Single-packet authorization (detect/spa.h): one UDP packet to spa_port carrying a
  // timestamp, a nonce, the sender's and the server's address and the port, under HMAC-SHA256
  // with spa_key; fresh within spa_window, each nonce accepted once.
  std::uint16_t spa_port = 0;  // 0: no SPA for this knock
  std::string spa_key;         // the shared key's bytes (spa_key, or read from spa_key_file)
  Duration spa_window = std::chrono::seconds(30);
  // Addresses clients knock at besides the one the packet arrives at: a server behind NAT
  // lists its public address here.
  std::vector<IpAddress> spa_destinations;
  bool spa_key_inline = false;  // spa_key, not spa_key_file: the configuration file must be private
};

// Defenses that apply to every source, across all rules, and the per-source table's bounds.
struct LimitsSection {
  Rate new_connections;                          // per source, across all rules; count 0: off
  std::uint32_t max_connections_per_source = 0;  // tracked inbound flows per source; 0: off
  std::uint32_t max_sources = 65536;             // per-source table entries (oldest idle go first)
  std::uint32_t max_blocks = 65536;              // blocked addresses (soonest to expire go first)
};

// The counters for monitoring: `portwall metrics` prints them on demand; with `textfile` set the
// daemon also writes them there every `interval` (atomically), for node_exporter's textfile
// collector (which reads *.prom files).
struct MetricsSection {
  std::string textfile;  // "" = none
  Duration interval = std::chrono::seconds(15);
};

// The tables of portwall.toml. All but [defaults] are a configuration's only (a rules file may
// hold [defaults] too): `portwall check FILE` tells the two kinds apart by them.
inline constexpr std::string_view kConfigurationTables[] = {
    "daemon", "log",    "defaults", "conntrack", "scan_detection",
    "knock",  "limits", "metrics",  "crowdsec"};

struct Config {
  DaemonSection daemon;
  LogSection log;
  Defaults defaults;  // the rules file's [defaults], when present, overrides these
  bool has_incoming = false, has_outgoing = false, has_routed = false;  // [defaults] keys given
  bool has_defaults() const { return has_incoming || has_outgoing || has_routed; }
  ConntrackSection conntrack;
  ScanDetectionSection scan_detection;
  std::vector<KnockSection> knocks;
  LimitsSection limits;
  MetricsSection metrics;
  CrowdSecSection crowdsec;
};

// An spa_key_file is read from `fs`, and so is the configuration by load_config().
std::expected<Config, std::vector<ConfigError>> parse_config(
    std::string_view text, std::string_view file_name, const FileSystem& fs = FileSystem::disk());
std::expected<Config, std::vector<ConfigError>> load_config(
    const std::filesystem::path& file, const FileSystem& fs = FileSystem::disk());
// Only [daemon] and [log], as the CLI needs them (where the daemon listens, which rules file,
// which audit log): the other tables are not checked and no secret (spa_key_file) is read.
std::expected<Config, std::vector<ConfigError>> load_config_paths(
    const std::filesystem::path& file, const FileSystem& fs = FileSystem::disk());

// The keys ("[daemon] queues", "[log] file", ...) whose change between the running
// configuration and a reloaded one takes effect only at the next start: portwalld reads them
// once (queues and their flags, sockets, log files, table sizes). Empty when none changed.
std::vector<std::string> keys_needing_restart(const Config& running, const Config& fresh);

}  // namespace portwall
