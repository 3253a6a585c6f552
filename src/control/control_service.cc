// control_service.cc — the dispatcher: a request's role decided and refused or answered; the
// reload (SIGHUP, `portwall reload`) and the install of a loaded policy, and `portwall mode`.
#include "control/control_service.h"

#include <algorithm>

#include "control/control_protocol.h"

namespace portwall {

ControlService::ControlService(ControlSetup setup)
    : live_(setup.live),
      audit_(setup.audit),
      clock_(setup.clock),
      say_(std::move(setup.say)),
      sources_(std::move(setup.sources)),
      blocks_(std::move(setup.blocks)),
      paths_(std::move(setup.paths)),
      fs_(setup.fs),
      started_(setup.started),
      own_uid_(setup.own_uid),
      audit_uid_(setup.audit_uid),
      admin_gid_(setup.admin_gid),
      read_gid_(setup.read_gid),
      sources_in_force_(std::move(setup.sources_in_force)),
      config_in_force_(std::move(setup.started)) {}

ControlService::Role ControlService::role_of(const Peer& peer) const {
  if (peer.uid == 0 || peer.uid == own_uid_ || peer.in_group(admin_gid_)) return Role::admin;
  if (peer.in_group(read_gid_)) return Role::reader;
  return Role::none;
}

// A refused request as the audit log keeps it: its JSON, at most kExcerpt bytes (a denied
// caller cannot write a megabyte per line), bytes that are not UTF-8 replaced.
std::string request_excerpt(const nlohmann::json& request) {
  constexpr std::size_t kExcerpt = 512;
  std::string text = request.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > kExcerpt) {
    text.resize(kExcerpt);
    text += "... (" + std::to_string(text.size()) + " bytes shown)";
  }
  return text;
}

nlohmann::json ControlService::handle(const nlohmann::json& request, const Peer& peer) {
  const std::string command = request["command"].get<std::string>();
  // Text fields read below: a field of another type is bad input, not an internal error, and
  // it is decided after authorization, so that a stranger's request is refused and audited.
  auto text = [&](const char* key, const char* absent) -> std::optional<std::string> {
    const auto it = request.find(key);
    if (it == request.end()) return absent;
    if (!it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  const std::optional<std::string> action =
      text("action", command == "conntrack" ? "count" : "list");
  const bool reads_only = command == "status" || command == "explain" || command == "ports" ||
                          (command == "conntrack" && action && *action != "flush") ||
                          (command == "blocked" && action && *action == "list");
  const Role role = role_of(peer);
  if (role == Role::none || (role == Role::reader && !reads_only)) {
    const std::string why = role == Role::none
                                ? "not authorized: only root and the admin and read groups may "
                                  "use portwall's control socket"
                                : "not authorized: members of the read group may only read; "
                                  "changes need root or the admin group";
    audit_.record(peer.uid, command, "denied",
                  "pid=" + std::to_string(peer.pid) + " " + request_excerpt(request));
    return error_response(why, kExitUnauthorized);
  }
  for (const char* key : {"action", "address", "for", "file", "confirm"}) {
    if (!text(key, "")) {
      return error_response(std::string("bad request: \"") + key + "\" must be a string");
    }
  }
  for (const char* key : {"keep_established", "status"}) {
    if (request.contains(key) && !request[key].is_boolean()) {
      return error_response(std::string("bad request: \"") + key + "\" must be true or false");
    }
  }
  const bool keep_established = request.value("keep_established", false);
  if (command == "status") return ok_response(status());
  if (command == "reload") {
    std::expected<void, std::string> ok;
    nlohmann::json connections;
    std::size_t rule_count = 0;
    {
      std::lock_guard<std::mutex> serialized(change_mutex_);
      ok = reload_locked(static_cast<long>(peer.uid), "reload", true, keep_established);
      connections = last_recheck_;
      rule_count =
          live_.snapshot()->rule_set().rules.size();  // this reload's, not a later change's
    }
    if (!ok) {
      return error_response("reload refused, the previous rules stay in force:\n" + ok.error());
    }
    // The count, and the whole status only when asked (`portwall --json reload`): at 10^5
    // rules the status is 18 MB of JSON, seconds to make for a line that says how many.
    nlohmann::json result =
        request.value("status", false) ? status() : nlohmann::json{{"rule_count", rule_count}};
    result["connections"] = connections;
    return ok_response(result);
  }
  if (command == "change") return change(request, peer);
  if (command == "explain") return explain_request(request, role == Role::admin);
  if (command == "ports") return ports_request(request, role == Role::admin);
  if (command == "conntrack") return conntrack_request(request, peer);
  if (command == "blocked") return blocked_request(request, peer);
  if (command == "mode") return mode_request(action, peer, keep_established);
  if (command == "apply") return apply_request(request, peer);
  if (command == "confirm") return confirm_request(peer);
  return error_response("unknown command '" + command + "'");
}

std::expected<void, std::string> ControlService::reload(long uid, const char* origin) {
  std::lock_guard<std::mutex> serialized(change_mutex_);
  return reload_locked(uid, origin, true);
}

std::expected<void, std::string> ControlService::reload_locked(long uid, const char* origin,
                                                               bool audit, bool keep_established) {
  const ReloadNotice notice(live_);
  auto loaded = load_policy_files(paths_, &sources_in_force_, fs_);
  if (!loaded) {
    // A broken file never replaces working rules: the old set stays in force.
    say("reload refused, previous rules stay in force:\n" + loaded.error());
    if (audit) audit_.record(uid, origin, "refused", loaded.error());
    return std::unexpected(loaded.error());
  }
  return install_locked(std::move(*loaded), uid, origin, audit, keep_established);
}

std::expected<void, std::string> ControlService::install_locked(LoadedPolicy fresh, long uid,
                                                                const char* origin, bool audit,
                                                                bool keep_established) {
  RuleSources sources = std::move(fresh.sources);
  Config config = fresh.config;
  const std::string rules_file = fresh.rules_file;
  const Mode mode = live_mode_.value_or(fresh.config.daemon.mode);
  if (auto ok = live_.install(std::move(fresh), mode); !ok) {
    say("reload refused, previous rules stay in force:\n" + ok.error());
    if (audit) audit_.record(uid, origin, "refused", ok.error());
    return std::unexpected(ok.error());
  }
  sources_in_force_ = std::move(sources);
  config_in_force_ = std::move(config);
  const std::size_t count = live_.snapshot()->rule_set().rules.size();
  last_recheck_ = recheck_flows(denied_by(keep_established), uid,
                                std::string("the rules changed (") + origin + ")");
  // Offloaded connections come back to be judged by the new rules, unless they are to be kept.
  if (!keep_established) live_.bring_back_offloaded("reload");
  say("reloaded " + std::to_string(count) + " rule(s) from " + rules_file);
  if (audit) audit_.record(uid, origin, "ok", std::to_string(count) + " rules from " + rules_file);
  return {};
}

nlohmann::json ControlService::mode_request(const std::optional<std::string>& action,
                                            const Peer& peer, bool keep_established) {
  if (!action || (*action != "monitor" && *action != "enforce")) {
    return error_response("mode must be monitor or enforce");
  }
  const Mode next = *action == "monitor" ? Mode::monitor : Mode::enforce;
  std::string before;
  nlohmann::json connections;
  {
    std::lock_guard<std::mutex> serialized(change_mutex_);
    before = live_.mode() == Mode::monitor ? "monitor" : "enforce";
    live_mode_ = next;
    live_.set_mode(next);
    mode_by_cli_.store(true);  // after: status never pairs "portwall mode" with the old mode
    // Connections monitor mode let in that the rules deny are cut when enforcement starts.
    last_recheck_ =
        recheck_flows(denied_by(keep_established), peer.uid, "portwall mode " + *action);
    connections = last_recheck_;
  }
  audit_.record(peer.uid, "mode", "ok",
                "pid=" + std::to_string(peer.pid) + " " + before + " -> " + *action);
  nlohmann::json result = status();
  result["connections"] = connections;
  return ok_response(result);
}

void ControlService::set_pending(std::optional<PendingConfirmation> pending) {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  pending_ = std::move(pending);
}

bool ControlService::apply_pending() const {
  std::lock_guard<std::mutex> lock(pending_mutex_);
  return pending_.has_value();
}

}  // namespace portwall
