#include "cli/service_command.h"

#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "audit/decision_log.h"
#include "control/control_protocol.h"
#include "exposure/ssh_lockout.h"
#include "host/host_sockets.h"
#include "netfilter/command.h"
#include "rules/duration.h"
#include "config/policy_files.h"
#include "rules/rule_writer.h"

namespace portwall {
namespace {

constexpr const char* kUnit = "portwall.service";

int fail(const std::string& message) {
  std::fprintf(stderr, "ERROR: %s\n", message.c_str());
  return kExitBadInput;
}

bool systemd_runs() {
  std::error_code ec;
  return std::filesystem::exists("/run/systemd/system", ec);
}

CommandResult systemctl(const std::vector<std::string>& words) {
  std::vector<std::string> argv = {"systemctl"};
  argv.insert(argv.end(), words.begin(), words.end());
  return run_command(argv);
}

std::string trimmed(std::string text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return text;
}

// What portwalld said when its start failed: its last lines in the journal.
std::string why_not_started() {
  const CommandResult journal =
      run_command({"journalctl", "-u", kUnit, "-n", "12", "--no-pager", "-o", "cat"});
  std::string text = "portwall.service did not start (systemctl status portwall):";
  if (journal.ok()) text += "\n" + trimmed(journal.out);
  return text;
}

// The SSH lockout check of exposure/ssh_lockout.h on this host's sockets: "" or the refusal.
std::string lockout_refusal_here(PolicyFiles& policy_files) {
  const PolicySnapshot policy(std::move(policy_files.rules));  // not needed after the check
  policy_files.rules = {};
  auto here = check_ssh_lockout_here(policy, policy_files.config.knocks);
  if (!here || here->check.problems.empty()) return "";  // no socket table: nothing to judge
  return lockout_refusal(here->check, "portwall enable --force");
}

std::filesystem::path state_folder(const PolicyFiles& policy_files) {
  return std::filesystem::path(policy_files.config.daemon.state_file).parent_path();
}

}  // namespace

int enable_command(const EnableOptions& options) {
  if (!systemd_runs()) {
    return fail(
        "portwall enable starts portwall.service through systemd, which does not run here: "
        "start portwalld yourself (portwalld --config " +
        options.config + ")");
  }
  auto policy_files = load_policy_files(options.config, options.rules_override);
  if (!policy_files) return fail(policy_files.error() + "\nnothing started");
  std::optional<Duration> within;
  if (!options.confirm.empty()) {
    auto d = parse_confirm_window(options.confirm);
    if (!d) return fail(d.error());
    within = *d;
  }
  const bool active = systemctl({"is-active", "--quiet", kUnit}).ok();
  if (active && within) {
    return fail(
        "portwall is active already: --confirm is for starting it (to try new rules on the "
        "running firewall: portwall apply FILE --confirm 60s)");
  }
  if (!active && !options.force) {
    if (const std::string refusal = lockout_refusal_here(*policy_files); !refusal.empty()) {
      return fail("not started: " + refusal);
    }
  }
  const std::filesystem::path state = state_folder(*policy_files);
  std::error_code ec;
  if (options.force && !state.empty()) std::filesystem::remove(state / "first-start", ec);
  const std::string confirm_file = state.empty() ? "" : (state / "enable-confirm").string();
  if (within) {
    if (confirm_file.empty()) return fail("--confirm needs [daemon] state_file (its folder)");
    const nlohmann::json asked = {{"within", options.confirm},
                                  {"by", user_name(static_cast<long>(getuid()))}};
    if (auto ok = write_file_atomically(confirm_file, asked.dump() + "\n"); !ok) {
      return fail(ok.error());
    }
    // Off at boot until confirmed: a reboot after a lockout brings the host back unfiltered.
    (void)systemctl({"disable", "--quiet", kUnit});
  } else if (CommandResult r = systemctl({"enable", "--quiet", kUnit}); !r.ok()) {
    return fail("systemctl enable portwall: " + trimmed(r.err));
  }
  if (!active) {
    if (CommandResult r = systemctl({"start", kUnit}); !r.ok()) {
      if (within) std::filesystem::remove(confirm_file, ec);
      return fail(why_not_started());
    }
  }
  if (options.json) {
    nlohmann::json out = {{"active", true}, {"enabled_at_boot", !within}};
    if (within) out["confirm_within"] = options.confirm;
    std::cout << out.dump() << "\n";
  } else if (within) {
    std::cout << "Firewall is active; run `portwall confirm` within " << options.confirm
              << ", or it stops again by itself (it starts at boot once confirmed)\n";
  } else {
    std::cout << "Firewall is active and enabled on system startup\n";
  }
  return 0;
}

int disable_command(bool json) {
  if (!systemd_runs()) {
    return fail(
        "portwall disable stops portwall.service through systemd, which does not run here: stop "
        "portwalld yourself (SIGTERM)");
  }
  if (CommandResult r = systemctl({"disable", "--quiet", kUnit}); !r.ok()) {
    return fail("systemctl disable portwall: " + trimmed(r.err));
  }
  if (CommandResult r = systemctl({"stop", kUnit}); !r.ok()) {
    return fail("systemctl stop portwall: " + trimmed(r.err));
  }
  if (json) {
    std::cout << nlohmann::json{{"active", false}, {"enabled_at_boot", false}}.dump() << "\n";
  } else {
    std::cout << "Firewall stopped and disabled on system startup\n";
  }
  return 0;
}

std::expected<bool, std::string> enable_at_boot() {
  if (!systemd_runs()) return false;
  const CommandResult r = systemctl({"enable", "--quiet", kUnit});
  if (!r.ok()) return std::unexpected("systemctl enable portwall: " + trimmed(r.err));
  return true;
}

}  // namespace portwall
