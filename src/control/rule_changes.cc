// rule_changes.cc — `portwall allow|deny|reject|limit|insert|prepend|delete|default` arriving
// over the control socket: the same grammar as the CLI, applied to the rules file, persisted
// atomically and swapped in live. Every accepted or refused change is audited.
#include "control/control_protocol.h"
#include "control/control_service.h"
#include "rules/forward.h"
#include "rules/rule_edit.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"

namespace portwall {

nlohmann::json ControlService::change(const nlohmann::json& request, const Peer& peer) {
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
    audit_.record(peer.uid, "change", "refused",
                  who + " command=" + log_quoted(command) + " " + why);
    return error_response(why);
  };

  std::lock_guard<std::mutex> serialized(change_mutex_);
  if (pending_) return refuse(pending_refusal());
  auto parsed = parse_rule_command(words);
  if (!parsed) return refuse(parsed.error());
  const std::shared_ptr<const LiveSettings> live = live_.settings();
  // The change is made to the rules in force while no file has changed since they were loaded
  // (parsing 10^5 rules again took seconds); otherwise to the files as they are now, loaded
  // once (set files that did not change are not read again).
  const std::shared_ptr<const PolicySnapshot> in_force = live_.snapshot();
  std::optional<LoadedPolicy> reloaded;
  if (!sources_in_force_.unchanged(fs_)) {
    auto loaded = load_policy_files(paths_, &sources_in_force_, fs_);
    if (!loaded) return refuse("the rules are broken, fix them first:\n" + loaded.error());
    reloaded = std::move(*loaded);
  }
  const RuleSet& base = reloaded ? reloaded->rules : in_force->rule_set();
  const RuleSources& base_sources = reloaded ? reloaded->sources : sources_in_force_;
  const std::string file = reloaded ? reloaded->rules_file : live->rules_file;
  // The file's own part, with the defaults in force where it holds none (portwall.toml's):
  // what `default` changes.
  auto edit = apply_change(rules_file_part(base, base_sources), *parsed, base.rules.size());
  if (!edit) return refuse(edit.error());

  nlohmann::json result = {{"changed", edit->changed},
                           {"summary", edit->summary},
                           {"before", edit->before},
                           {"after", edit->after}};
  if (!edit->changed) {
    audit_.record(peer.uid, "change", "unchanged",
                  who + " command=" + log_quoted(command) + " " + edit->summary);
    return ok_response(result);
  }
  // The rules in force after the change, made before anything is written: a forward that
  // clashes with one of rules.d is refused here, as loading the files would refuse it.
  WrittenLines lines;
  const std::string text = write_rules(edit->rules, &lines);
  LoadedPolicy next;
  next.config = reloaded ? reloaded->config : config_in_force_;
  next.rules_file = file;
  next.rules_dir = reloaded ? reloaded->rules_dir : live->rules_dir;
  next.notes = default_override_notes(paths_.config, next.config, file, edit->rules);
  next.sources = base_sources;
  next.rules = with_rules_file_part(base, next.sources, std::move(edit->rules), lines);
  next.rules.default_to(next.config.defaults);
  reloaded.reset();
  if (auto conflict = forward_conflict(next.rules.forwards)) {
    const Origin& where = next.rules.forwards[conflict->index].origin;
    return refuse(where.file + ":" + std::to_string(where.line) + ": " + conflict->why);
  }
  // Persist, then make what was persisted the rules in force.
  auto old_text = fs_.read_text(file);
  if (!old_text) return refuse(old_text.error());
  FileStamp written;
  if (auto ok = fs_.write_atomically(file, text, &written); !ok) return refuse(ok.error());
  next.sources.restamp(file, written);  // the file in force is the one just written
  const bool keep = request.value("keep_established", false);
  const ReloadNotice notice(live_);
  if (auto ok = install_locked(std::move(next), peer.uid, "change", false, keep); !ok) {
    (void)fs_.write_atomically(file, *old_text);
    return refuse("the changed rules did not load, nothing changed:\n" + ok.error());
  }
  audit_.record(peer.uid, "change", "ok",
                who + " command=" + log_quoted(command) + " before=" + log_quoted(edit->before) +
                    " after=" + log_quoted(edit->after));
  result["connections"] = last_recheck_;
  return ok_response(result);
}

}  // namespace portwall
