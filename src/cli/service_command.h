// service_command.h — `portwall enable [--force] [--confirm DURATION]` and `portwall disable`,
// as ufw's: the firewall started and enabled at boot, or stopped and disabled, through systemd's
// portwall.service. `enable` first checks that the rules do not lock SSH out (sshd's ports and
// the open sessions, exposure/ssh_lockout.h) and refuses unless --force. With --confirm it starts
// the firewall without enabling it at boot, and portwalld stops again by itself unless `portwall
// confirm` comes in time (the daemon's first_start.cc); the confirmation enables it at boot.
#pragma once

#include <expected>
#include <string>

#include "cli/offline_edit.h"

namespace portwall {

struct EnableOptions {
  std::string config;          // portwalld's configuration (its rules and state folder)
  std::string rules_override;  // --rules, or ""
  bool force = false;
  std::string confirm;  // "" or a duration
  bool json = false;
};

// The exit code; messages printed.
int enable_command(const EnableOptions& options);
int disable_command(bool json);
// After portwalld confirmed an enable: the unit starts at boot from now on. True when enabled,
// false without systemd (nothing to enable), or why systemctl refused.
std::expected<bool, std::string> enable_at_boot();

}  // namespace portwall
