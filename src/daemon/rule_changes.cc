// rule_changes.cc — `portwall allow|deny|reject|limit|insert|prepend|delete|default` arriving
// over the control socket: the same grammar as the CLI, applied to the rules file, persisted
// atomically and swapped in live. Every accepted or refused change is audited.
#include "control/control_protocol.h"
#include "daemon/daemon.h"
#include "rules/rule_edit.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"

namespace portwall {

nlohmann::json Daemon::change(const nlohmann::json& request, const Peer& peer) {
  std::vector<std::string> words;
  if (request.contains("words") && request["words"].is_array()) {
    for (const auto& w : request["words"]) {
      if (w.is_string()) words.push_back(w.get<std::string>());
    }
  }
  std::string command;
  for (const auto& w : words) command += (command.empty() ? "" : " ") + w;
  const std::string who = "user=" + user_name(peer.uid) + " pid=" + std::to_string(peer.pid);
  auto refuse = [&](const std::string& why) {
    audit_log_->record(peer.uid, "change", "refused", who + " command=" + log_quoted(command) + " " + why);
    return error_response(why);
  };

  std::lock_guard<std::mutex> serialized(reload_mutex_);
  if (pending_) return refuse(pending_refusal());
  auto parsed = parse_rule_command(words);
  if (!parsed) return refuse(parsed.error());
  const std::shared_ptr<const LiveSettings> live = settings();
  const std::string& file = live->rules_file;
  auto own = load_rules(file);
  if (!own) return refuse("the rules file is broken, fix it first:\n" + to_string(own.error()));
  // The defaults in force where the file has none (portwall.toml's): what `default` changes.
  own->default_to(snapshot()->rule_set().defaults);
  auto merged = load_rules(file, live->rules_dir);
  if (!merged) return refuse("the rules are broken, fix them first:\n" + to_string(merged.error()));
  auto edit = apply_change(*own, *parsed, merged->rules.size());
  if (!edit) return refuse(edit.error());

  nlohmann::json result = {{"changed", edit->changed},
                           {"summary", edit->summary},
                           {"before", edit->before},
                           {"after", edit->after}};
  if (!edit->changed) {
    audit_log_->record(peer.uid, "change", "unchanged",
                       who + " command=" + log_quoted(command) + " " + edit->summary);
    return ok_response(result);
  }
  // Persist, then load what was persisted: the live rules are always those of the file.
  auto old_text = read_text_file(file);
  if (!old_text) return refuse(old_text.error());
  if (auto ok = write_file_atomically(file, write_rules(edit->rules)); !ok) {
    return refuse(ok.error());
  }
  const bool keep = request.value("keep_established", false);
  if (auto ok = reload_locked(peer.uid, "change", false, keep); !ok) {
    (void)write_file_atomically(file, *old_text);
    return refuse("the changed rules did not load, nothing changed:\n" + ok.error());
  }
  audit_log_->record(peer.uid, "change", "ok",
                     who + " command=" + log_quoted(command) + " before=" + log_quoted(edit->before) +
                         " after=" + log_quoted(edit->after));
  result["connections"] = last_recheck_;
  return ok_response(result);
}

}  // namespace portwall
