// config.h — the daemon configuration (portwall.toml) as validated values.
// Defaults are those of DESIGN.md; every key is optional. Unknown keys and tables are errors
// (a typo must not silently fall back to a default).
#pragma once

#include <cstdint>
#include <expected>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.h"
#include "rules/config_error.h"
#include "rules/rule.h"

namespace portwall {

enum class Mode : std::uint8_t { enforce, monitor };
enum class Backend : std::uint8_t { automatic, iptables, nftables };
enum class Inspect : std::uint8_t { full, new_only };
enum class LogFormat : std::uint8_t { text, json };

struct DaemonSection {
  std::vector<std::uint16_t> queues{100};
  bool fail_open = true;
  Mode mode = Mode::enforce;
  Backend backend = Backend::automatic;
  Inspect inspect = Inspect::full;
  std::string socket = "/run/portwall/portwall.sock";
  std::string rules = "/etc/portwall/rules.toml";
  std::string rules_dir;  // "" = <directory of rules>/rules.d
  // Who may use the control socket besides root: members of admin_group may change rules,
  // members of read_group may only read (status, explain, conntrack list/count). The socket
  // belongs to read_group if set, else to admin_group.
  std::string admin_group;
  std::string read_group;
};

struct LogSection {
  std::string file = "/var/log/portwall/portwall.log";
  std::string audit_file = "/var/log/portwall/audit.log";
  LogFormat format = LogFormat::text;
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
};

struct KnockSection {
  std::string name;
  std::vector<std::string> sequence;  // "7000/tcp", validated as port/proto
  Duration window = std::chrono::seconds(10);
  std::string open;  // "22/tcp"
  Duration duration = std::chrono::seconds(30);
};

struct Config {
  DaemonSection daemon;
  LogSection log;
  Defaults defaults;  // the rules file's [defaults], when present, overrides these
  bool has_defaults = false;
  ConntrackSection conntrack;
  ScanDetectionSection scan_detection;
  std::vector<KnockSection> knocks;
};

std::expected<Config, std::vector<ConfigError>> parse_config(std::string_view text,
                                                             std::string_view file_name);
std::expected<Config, std::vector<ConfigError>> load_config(const std::filesystem::path& file);

}  // namespace portwall
