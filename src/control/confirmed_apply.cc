// confirmed_apply.cc — `portwall apply FILE [--confirm DURATION]` and `portwall confirm`, the
// "commit confirmed" of routers: a new rule set goes live at once, and unless it is confirmed in
// time the previous one comes back by itself, so that rules which cut the administrator's own
// session undo themselves. The previous rules file waits beside the live one (rollback_path());
// its existence at start means an apply was never confirmed, and it is put back before loading.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

#include "audit/decision_log.h"
#include "audit/log_event.h"
#include "control/control_protocol.h"
#include "control/control_service.h"
#include "rules/duration.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"

namespace portwall {

std::string ControlService::pending_refusal() const {
  return "an apply by " + pending_->by + " (" + log_quoted(pending_->file) +
         ") waits for `portwall confirm` " + "until " + rfc3339_ms(pending_->deadline_unix_ms) +
         "; confirm it or let it roll back before changing the rules again";
}

std::string roll_back_unconfirmed_at_start(const std::string& rules_file, bool* failed) {
  const std::string saved = rules_file + ".unconfirmed";
  std::error_code ec;
  if (!std::filesystem::exists(saved, ec)) return "";
  if (std::rename(saved.c_str(), rules_file.c_str()) != 0) {
    *failed = true;
    return "an apply was never confirmed, but " + saved +
           " could not be put back: " + std::strerror(errno);
  }
  return "an apply was never confirmed before portwalld stopped: the previous rules are back in " +
         rules_file;
}

nlohmann::json ControlService::apply_request(const nlohmann::json& request, const Peer& peer) {
  const std::string file = request.value("file", std::string("(unnamed)"));
  const std::string who = "user=" + user_name(peer.uid) + " pid=" + std::to_string(peer.pid);
  auto refuse = [&](const std::string& why) {
    audit_.record(peer.uid, "apply", "refused", who + " file=" + log_quoted(file) + " " + why);
    return error_response(why);
  };
  if (!request.contains("text") || !request["text"].is_string()) {
    return refuse("apply needs the rules as \"text\"");
  }
  const std::string text = request["text"].get<std::string>();
  std::optional<Duration> within;
  std::string within_text;
  if (request.contains("confirm")) {
    within_text = request.value("confirm", std::string());
    auto d = parse_confirm_window(within_text);
    if (!d) return refuse(d.error());
    within = *d;
  }
  const bool keep = request.value("keep_established", false);

  std::lock_guard<std::mutex> serialized(change_mutex_);
  if (pending_) return refuse(pending_refusal());
  const std::shared_ptr<const LiveSettings> live = live_.settings();
  const std::string& rules_file = live->rules_file;
  // The text will be the rules file: its set files are those the next load reads, from the
  // rules' own directories (never the caller's file name's, which the caller chose).
  const std::filesystem::path rules_dir = std::filesystem::path(rules_file).parent_path();
  if (auto parsed =
          parse_rules(text, file, SetFileScope{rules_dir, {rules_dir, live->rules_dir}}, fs_);
      !parsed) {
    return refuse("the rules are broken, nothing changed:\n" + to_string(parsed.error()));
  }
  auto old_text = fs_.read_text(rules_file);
  if (!old_text) return refuse(old_text.error());
  if (within) {
    // Kept first: if portwalld dies before the confirmation, the next start puts it back. With
    // the rules file's mode from the start (it may hold what others must not read).
    const std::optional<FileStamp> rules_stamp = fs_.stamp(rules_file);
    if (auto ok =
            fs_.write_atomically(rollback_path(), *old_text, nullptr,
                                 rules_stamp ? std::optional(rules_stamp->mode) : std::nullopt);
        !ok) {
      return refuse(ok.error());
    }
  }
  auto undo = [&] {
    (void)fs_.write_atomically(rules_file, *old_text);
    if (within) (void)fs_.remove(rollback_path());
  };
  if (auto ok = fs_.write_atomically(rules_file, text); !ok) {
    undo();
    return refuse(ok.error());
  }
  if (auto ok = reload_locked(peer.uid, "apply", false, keep); !ok) {
    undo();
    return refuse("the rules did not load, nothing changed:\n" + ok.error());
  }
  const std::size_t count = live_.snapshot()->rule_set().rules.size();
  nlohmann::json result = {
      {"rules", count}, {"file", file}, {"rules_file", rules_file}, {"connections", last_recheck_}};
  std::string detail = who + " file=" + log_quoted(file) + " " + std::to_string(count) + " rules";
  if (within) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*within).count();
    set_pending(PendingConfirmation{clock_.now() + *within, clock_.unix_ms() + ms,
                                    user_name(peer.uid), file, within_text, keep,
                                    std::hash<std::string>{}(text)});
    result["confirm_by"] = rfc3339_ms(pending_->deadline_unix_ms);
    result["confirm_within"] = within_text;
    detail += " confirm within " + within_text;
  }
  audit_.record(peer.uid, "apply", "ok", detail);
  say("applied " + std::to_string(count) + " rule(s) from " + file +
      (within ? ", rolling back in " + within_text + " unless confirmed" : ""));
  return ok_response(result);
}

nlohmann::json ControlService::confirm_request(const Peer& peer) {
  if (auto enable = confirm_enable(peer)) return *enable;
  std::lock_guard<std::mutex> serialized(change_mutex_);
  if (!pending_) return error_response("nothing to confirm: no apply or enable is waiting");
  const PendingConfirmation done = *pending_;
  if (auto removed = fs_.remove(rollback_path()); !removed) {
    return error_response(removed.error() + "; the apply is not confirmed");
  }
  set_pending(std::nullopt);
  const std::string detail = "user=" + user_name(peer.uid) + " pid=" + std::to_string(peer.pid) +
                             " confirmed the apply of " + log_quoted(done.file) + " by " + done.by;
  audit_.record(peer.uid, "confirm", "ok", detail);
  say("apply of " + done.file + " confirmed");
  return ok_response({{"confirmed", true}, {"file", done.file}, {"applied_by", done.by}});
}

void ControlService::keep_confirmation() {
  std::lock_guard<std::mutex> serialized(change_mutex_);
  if (!pending_ || clock_.now() < pending_->deadline) return;
  const PendingConfirmation due = *pending_;
  const long uid = audit_uid_;
  const std::shared_ptr<const LiveSettings> live = live_.settings();
  const std::string& rules_file = live->rules_file;
  std::string what = "the apply of " + log_quoted(due.file) + " by " + due.by +
                     " was not confirmed within " + due.within;
  // Until the previous rules are back and loaded, the confirmation stays pending (other changes
  // wait) and the rollback is tried again every second; a failure is said and audited once.
  auto failed = [&](const std::string& why) {
    if (due.failure_said) return;
    say(what + ", but " + why + "; trying again every second");
    audit_.record(uid, "apply-rollback", "failed", what + ": " + why);
    PendingConfirmation still = due;
    still.failure_said = true;
    set_pending(still);
  };
  auto saved = fs_.read_text(rollback_path());
  if (!saved) return failed("the previous rules cannot be read: " + saved.error());
  // A hand edit made (and reloaded) meanwhile is not lost: it is kept beside the rules file.
  auto current = fs_.read_text(rules_file);
  if (current && *current != *saved && std::hash<std::string>{}(*current) != due.applied_hash) {
    const std::string aside = rules_file + ".edited-while-unconfirmed";
    if (auto ok = fs_.write_atomically(aside, *current); !ok) {
      return failed("the hand-edited rules file cannot be kept aside: " + ok.error());
    }
    what += " (the rules file, edited meanwhile, is kept as " + aside + ")";
  }
  if (auto ok = fs_.write_atomically(rules_file, *saved); !ok) {
    return failed("the previous rules cannot be put back: " + ok.error());
  }
  if (auto ok = reload_locked(uid, "apply-rollback", false, due.keep_established); !ok) {
    return failed("the previous rules, back in " + rules_file + ", did not load: " + ok.error());
  }
  // Only now: the previous rules are in force.
  (void)fs_.remove(rollback_path());
  set_pending(std::nullopt);
  const std::size_t count = live_.snapshot()->rule_set().rules.size();
  what += ": rolled back to the previous " + std::to_string(count) + " rules";
  const std::size_t restored = last_recheck_.value("restored", std::size_t{0});
  if (restored) what += ", " + std::to_string(restored) + " cut connection(s) restored";
  say(what);
  audit_.record(uid, "apply-rollback", "ok", what);
}

void ControlService::arm_enable(PendingEnable pending) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  pending_enable_ = std::move(pending);
}

std::optional<PendingEnable> ControlService::enable_expired() {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  if (!pending_enable_ || clock_.now() < pending_enable_->deadline) return std::nullopt;
  std::optional<PendingEnable> due = std::move(pending_enable_);
  pending_enable_.reset();
  return due;
}

std::optional<nlohmann::json> ControlService::confirm_enable(const Peer& peer) {
  PendingEnable done;
  {
    std::lock_guard<std::mutex> lock(pending_mutex_);
    if (!pending_enable_) return std::nullopt;
    done = *pending_enable_;
    pending_enable_.reset();
  }
  if (!done.file.empty()) (void)fs_.remove(done.file);
  const std::string detail = "user=" + user_name(peer.uid) + " pid=" + std::to_string(peer.pid) +
                             " confirmed the enable by " + done.by;
  audit_.record(peer.uid, "confirm", "ok", detail);
  say("enable confirmed");
  return ok_response({{"confirmed", true}, {"enable", true}, {"enabled_by", done.by}});
}

nlohmann::json ControlService::pending_enable_json() const {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  if (!pending_enable_) return nullptr;
  const auto left =
      std::chrono::duration_cast<std::chrono::seconds>(pending_enable_->deadline - clock_.now());
  return {{"enabled_by", pending_enable_->by},
          {"within", pending_enable_->within},
          {"stops_at", rfc3339_ms(pending_enable_->deadline_unix_ms)},
          {"seconds_left", std::max<std::int64_t>(0, left.count())}};
}

}  // namespace portwall
