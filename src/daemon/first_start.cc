// first_start.cc — starting without locking the administrator out (DESIGN.md "Promises to the
// administrator"). Two files beside the state file say what a start must do:
//   first-start     left by the package on a fresh install, and by an enable that was not
//                   confirmed: the start checks sshd's ports and the open SSH sessions against
//                   the rules (exposure/ssh_lockout.h) and refuses (exit 78) if they would lock
//                   SSH out; `portwall enable --force` removes it to start anyway.
//   enable-confirm  written by `portwall enable --confirm DURATION`: unless `portwall confirm`
//                   comes within DURATION, portwalld stops again (its diversion rules go) and
//                   leaves `first-start` for the next start.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>

#include "audit/log_event.h"
#include "control/control_protocol.h"
#include "daemon/daemon.h"
#include "exposure/ssh_lockout.h"
#include "host/host_sockets.h"
#include "rules/duration.h"
#include "rules/rule_writer.h"

namespace portwall {
namespace {

constexpr const char* kMarkerText =
    "# portwalld checks at its next start that its rules do not lock SSH out (sshd's ports, the\n"
    "# open SSH sessions), and refuses to start if they would. `portwall enable --force` skips\n"
    "# the check. Left by the package's installation, or by an enable that was not confirmed.\n";

}  // namespace

std::string Daemon::state_path(const char* name) const {
  const std::string& state = loaded_.config.daemon.state_file;
  if (state.empty()) return "";
  return (std::filesystem::path(state).parent_path() / name).string();
}

std::string Daemon::refuse_first_start_lockout() {
  const std::string marker = state_path("first-start");
  std::error_code ec;
  if (marker.empty() || !std::filesystem::exists(marker, ec)) return "";
  // The rules compiled once, here rather than in start(): the check reads what filters.
  compile_policy();
  auto here = check_ssh_lockout_here(*policy_, settings()->knocks);
  if (!here) {
    say("first start: cannot tell whether the rules lock SSH out (" + here.error() + "); starting");
    return "";
  }
  if (!here->owners_read) {
    say("first start: sshd's sockets cannot be read here (no CAP_SYS_PTRACE): checking port 22");
  }
  const LockoutCheck& check = here->check;
  if (check.problems.empty()) {
    say("first start: " + lockout_summary(check));
    first_start_checked_ = true;
    return "";
  }
  return lockout_refusal(check, "portwall enable --force");
}

void Daemon::first_start_done() {
  if (!first_start_checked_) return;
  if (unlink(state_path("first-start").c_str()) != 0 && errno != ENOENT) {
    say("cannot remove " + state_path("first-start") + ": " + std::strerror(errno) +
        " (the next start checks for an SSH lockout again)");
  }
}

void Daemon::arm_enable_confirmation() {
  const std::string file = state_path("enable-confirm");
  if (file.empty()) return;
  auto text = read_text_file(file);
  if (!text) return;
  const nlohmann::json asked = nlohmann::json::parse(*text, nullptr, false);
  const std::string within = asked.is_object() ? asked.value("within", std::string()) : "";
  const auto duration = parse_duration(within);
  if (!duration) {
    say("ignoring " + file + ": it says no duration (\"within\": \"60s\")");
    unlink(file.c_str());
    return;
  }
  PendingEnable pending;
  pending.file = file;
  pending.within = within;
  pending.by = asked.value("by", std::string("?"));
  // The deadline is kept in the file: a restart (a crash, Restart=) keeps it, not a fresh one.
  std::int64_t deadline_ms = asked.value("deadline_unix_ms", std::int64_t{0});
  const std::int64_t now_ms = clock_.unix_ms();
  if (deadline_ms == 0) {
    deadline_ms = now_ms + std::chrono::duration_cast<std::chrono::milliseconds>(*duration).count();
    nlohmann::json kept = asked;
    kept["deadline_unix_ms"] = deadline_ms;
    (void)write_file_atomically(file, kept.dump() + "\n");
  }
  pending.deadline_unix_ms = deadline_ms;
  pending.deadline =
      clock_.now() + std::chrono::milliseconds(std::max<std::int64_t>(0, deadline_ms - now_ms));
  control_->arm_enable(pending);
  say("enabled by " + pending.by + ": stopping again at " + rfc3339_ms(deadline_ms) +
      " unless `portwall confirm`");
  audit_log_->record(static_cast<long>(getuid()), "enable", "ok",
                     "by " + pending.by + ", confirm within " + within);
}

bool Daemon::enable_expired() {
  const std::optional<PendingEnable> expired = control_->enable_expired();
  if (!expired) return false;
  const PendingEnable& due = *expired;
  // The next start checks again; the unit was left disabled by `portwall enable --confirm`, so a
  // reboot does not bring back what nobody confirmed.
  (void)write_file_atomically(state_path("first-start"), kMarkerText);
  unlink(state_path("enable-confirm").c_str());
  const std::string what = "the enable by " + due.by + " was not confirmed within " + due.within +
                           ": portwalld stops and its diversion rules go";
  say(what);
  audit_log_->record(static_cast<long>(getuid()), "enable-rollback", "ok", what);
  return true;
}

}  // namespace portwall
