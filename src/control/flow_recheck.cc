// flow_recheck.cc — established connections after a policy change: each queue thread judges its
// tracked flows again (Engine::recheck), those now denied are cut and the kernel's entries for
// them ended, unless the administrator asked to keep them (--keep-established). ufw and
// firewalld accept ESTABLISHED before their rules, so a new deny or a ban never ends a
// connection already up; portwall does, as fail2ban users ask.
#include "control/control_service.h"

namespace portwall {

nlohmann::json ControlService::recheck_flows(Engine::Denied denied, long uid,
                                             const std::string& why,
                                             const std::optional<Cidr>& spared) {
  // Monitor mode enforces nothing, so it cuts nothing; `mode enforce` rechecks again.
  if (live_.mode() == Mode::monitor) denied = Engine::Denied::leave;
  struct Collected {
    std::mutex mutex;
    std::vector<FlowKey> cut;
    std::size_t kept = 0, restored = 0;
  };
  auto collected = std::make_shared<Collected>();
  for (std::size_t queue = 0; queue < live_.queue_count(); ++queue) {
    const bool answered =
        live_.run_on_queue(queue, [collected, denied, spared](Engine& engine, Timestamp now) {
          RecheckResult r = engine.recheck(now, denied, spared);
          std::lock_guard<std::mutex> lock(collected->mutex);
          collected->cut.insert(collected->cut.end(), r.cut.begin(), r.cut.end());
          collected->kept += r.kept;
          collected->restored += r.restored;
        });
    if (!answered) {
      // It does the work when it gets to it; its counts and kernel entries are not in these.
      say("queue " + std::to_string(live_.queue_number(queue)) +
          " did not answer the recheck within 2 s: its connections are judged again later, "
          "and the kernel's entries of those it cuts are not ended");
    }
  }
  std::lock_guard<std::mutex> lock(collected->mutex);
  nlohmann::json j = {{"cut", collected->cut.size()},
                      {"kept", collected->kept},
                      {"restored", collected->restored},
                      {"kernel_entries_ended", 0}};
  if (!collected->cut.empty()) {
    auto ended = live_.end_kernel_entries(collected->cut);
    if (ended) {
      j["kernel_entries_ended"] = *ended;
    } else {
      say("ending the kernel's entries of cut connections: " + ended.error());
    }
  }
  if (collected->cut.empty() && collected->restored == 0) return j;
  std::string what;
  if (!collected->cut.empty()) {
    what = std::to_string(collected->cut.size()) +
           " established connection(s) cut (kernel conntrack entries ended: " +
           std::to_string(j["kernel_entries_ended"].get<std::size_t>()) + ")";
  }
  if (collected->restored) {
    what += std::string(what.empty() ? "" : ", ") + std::to_string(collected->restored) +
            " cut connection(s) restored";
  }
  say(what + " after " + why);
  audit_.record(uid, "connections", "ok", what + " after " + why);
  return j;
}

}  // namespace portwall
