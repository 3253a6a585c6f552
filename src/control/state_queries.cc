// state_queries.cc — control requests that need the queue threads' connection tables:
// `explain` (which rule or flow decides a packet nobody sent) and `conntrack count|list|flush`.
// Each table is read or changed on its own thread (LiveFirewall::run_on_queue); results come
// back through shared holders, so a late task never writes into a finished request.
#include "control/control_protocol.h"
#include "control/control_service.h"
#include "policy/explain.h"
#include "rules/duration.h"
#include "rules/rule_values.h"
#include "state/defense_state.h"

namespace portwall {
namespace {

nlohmann::json flow_json(const Flow& f, Timestamp now) {
  const char* proto = f.key.protocol == ipproto::tcp      ? "tcp"
                      : f.key.protocol == ipproto::udp    ? "udp"
                      : f.key.protocol == ipproto::icmp   ? "icmp"
                      : f.key.protocol == ipproto::icmpv6 ? "icmpv6"
                                                          : "other";
  nlohmann::json j = {
      {"proto", proto},
      {"src", to_string(f.key.src)},
      {"dst", to_string(f.key.dst)},
      {"sport", f.key.src_port},
      {"dport", f.key.dst_port},
      {"replied", f.replied},
      {"rule", f.rule_number},
      {"packets", f.packets[0] + f.packets[1]},
      {"bytes", f.bytes[0] + f.bytes[1]},
      {"expires_in",
       format_duration(std::chrono::duration_cast<std::chrono::seconds>(f.expires - now))}};
  if (f.key.protocol == ipproto::tcp) j["state"] = to_string(f.tcp_state);
  if (f.cut) j["cut"] = true;
  return j;
}

}  // namespace

DefenseFacts ControlService::defense_facts(const Probe& probe, const PolicySnapshot& policy,
                                           bool show_knocks) {
  DefenseFacts f;
  const Timestamp now = clock_.now();
  const MatchInput& in = probe.input;
  const bool inbound = in.direction == Direction::in;
  const IpAddress& remote = inbound ? in.src : in.dst;
  for (const BlockEntry& b : blocks_->list(now)) {
    if (b.address == remote) {
      const SavedBlock saved = save_block(b, now, clock_.unix_ms());
      f.blocked = to_string(remote) + " is blocked (" + to_string(b.reason) + ") until " +
                  (saved.expires_unix_ms ? rfc3339_ms(saved.expires_unix_ms) : "removed");
      f.blocked_by_hand = b.reason == BlockReason::manual;
    }
  }
  if (!inbound || (in.protocol != ipproto::tcp && in.protocol != ipproto::udp)) return f;
  if (std::size_t door = sources_->knock_door_of(in.protocol, in.dst_port); door && show_knocks) {
    f.knock_port = sources_->door_name(door - 1);
  }
  if (std::size_t door = sources_->granted(in.src, in.protocol, in.dst_port, now);
      door && show_knocks) {
    f.opened_by = sources_->door_name(door - 1);
  }
  MatchInput input = in;
  input.interface = probe.interface;
  const Rate* rate = nullptr;
  std::uint32_t rule_number = 0;
  std::uint64_t limit_key = 0;
  if (auto index = policy.classifier().match(input); index && f.opened_by.empty()) {
    const Rule& rule = policy.rule_set().rules[*index];
    rule_number = static_cast<std::uint32_t>(*index + 1);
    if (rule.action == Action::limit) {
      rate = rule.rate.count ? &rule.rate : &kUfwLimit;
      limit_key = policy.limit_key(rule_number);
      f.limits_note = rule.rate.count ? "rule " + std::to_string(rule_number) + " allows " +
                                            to_string(rule.rate) + " new connections per source"
                                      : "rule " + std::to_string(rule_number) +
                                            " drops a source's 6th new connection within 30s";
    }
  }
  const std::shared_ptr<const LiveSettings> live = live_.settings();
  const LimitsSection& limits = live->limits;
  if (limits.new_connections.count) {
    f.limits_note += std::string(f.limits_note.empty() ? "" : "; ") + "[limits] allows " +
                     to_string(limits.new_connections) + " new connections per source";
  }
  if (limits.max_connections_per_source) {
    f.limits_note += std::string(f.limits_note.empty() ? "" : "; ") + "[limits] allows " +
                     std::to_string(limits.max_connections_per_source) +
                     " tracked connections per source";
  }
  switch (sources_->peek(in.src, limit_key, rate, now)) {
    case Admission::admitted:
      break;
    case Admission::rule_rate:
      f.limit = "this source used up rule " + std::to_string(rule_number) + "'s rate";
      break;
    case Admission::source_rate:
      f.limit = "this source used up [limits] new_connections";
      break;
    case Admission::source_flows:
      f.limit = "this source holds max_connections_per_source connections";
      break;
  }
  return f;
}

nlohmann::json ControlService::explain_request(const nlohmann::json& request, bool show_knocks) {
  std::vector<std::string> words;
  for (const auto& w : request.value("words", nlohmann::json::array())) {
    if (w.is_string()) words.push_back(w.get<std::string>());
  }
  auto probe = parse_probe(words);
  if (!probe) return error_response(probe.error());
  struct Found {
    std::mutex mutex;
    std::optional<TrackedFlow> flow;
  };
  auto found = std::make_shared<Found>();
  const FlowKey key = probe->key();
  for (std::size_t queue = 0; queue < live_.queue_count(); ++queue) {
    live_.run_on_queue(queue, [found, key](Engine& engine, Timestamp now) {
      if (const Flow* f = engine.conntrack().lookup(key, now)) {
        std::lock_guard<std::mutex> lock(found->mutex);
        found->flow = TrackedFlow::of(*f);
      }
    });
  }
  std::lock_guard<std::mutex> lock(found->mutex);
  const auto policy = live_.snapshot();
  const Explanation e =
      explain(*policy, *probe, found->flow, defense_facts(*probe, *policy, show_knocks));
  nlohmann::json j = {{"verdict", to_string(e.decision.verdict)},
                      {"reason", to_string(e.decision.reason)},
                      {"why", e.why}};
  j["rule"] = e.decision.rule_number ? nlohmann::json(e.decision.rule_number) : nlohmann::json();
  if (!e.rule.empty()) j["rule_text"] = e.rule;
  return ok_response(j);
}

nlohmann::json ControlService::conntrack_request(const nlohmann::json& request, const Peer& peer) {
  const std::string action = request.value("action", "count");
  if (action != "count" && action != "list" && action != "flush") {
    return error_response("conntrack takes list, count or flush, got \"" + action + "\"");
  }
  // The connections still up are adopted again, as after a restart: from the batch after the
  // flush on (a queue thread takes pending changes before its tasks).
  if (action == "flush") live_.reopen_pickup();
  std::size_t count = 0;
  nlohmann::json flows = nlohmann::json::array();
  for (std::size_t queue = 0; queue < live_.queue_count(); ++queue) {
    if (action == "list") {
      // In slices of the table, copied on the queue thread and turned into JSON here: the
      // packets of that thread wait for one slice's copy at most, never for the listing.
      for (std::size_t next = 0; next != ConnTracker::kEnd;) {
        struct Slice {
          std::vector<Flow> flows;
          Timestamp now{};
          std::size_t next = ConnTracker::kEnd;
        };
        auto slice = std::make_shared<Slice>();
        const bool done = live_.run_on_queue(queue, [slice, next](Engine& engine, Timestamp now) {
          slice->now = now;
          slice->next = engine.conntrack().for_each_slot(
              next, kConntrackSlice, [&](const Flow& f) { slice->flows.push_back(f); });
        });
        if (!done) break;  // the thread did not answer in time: what was listed so far
        for (const Flow& f : slice->flows) flows.push_back(flow_json(f, slice->now));
        count += slice->flows.size();
        next = slice->next;
      }
      continue;
    }
    auto counted = std::make_shared<std::atomic<std::size_t>>(0);
    live_.run_on_queue(queue, [counted, action](Engine& engine, Timestamp) {
      ConnTracker& ct = engine.conntrack();
      counted->store(ct.size());
      if (action == "flush") ct.clear();
    });
    count += counted->load();
  }
  if (action == "flush") {
    audit_.record(peer.uid, "conntrack-flush", "ok", "");
  }
  nlohmann::json j = {{"count", count}};
  if (action == "list") j["flows"] = std::move(flows);
  if (action == "flush") j["flushed"] = count;
  return ok_response(j);
}

nlohmann::json ControlService::blocked_request(const nlohmann::json& request, const Peer& peer) {
  const std::string action = request.value("action", "list");
  const Timestamp now = clock_.now();
  const std::int64_t wall_now = clock_.unix_ms();
  if (action == "list") {
    nlohmann::json list = nlohmann::json::array();
    for (const BlockEntry& b : blocks_->list(now)) {
      const SavedBlock saved = save_block(b, now, wall_now);
      list.push_back({{"address", to_string(b.address)},
                      {"reason", to_string(b.reason)},
                      {"expires", saved.expires_unix_ms ? rfc3339_ms(saved.expires_unix_ms)
                                                        : std::string("never")}});
    }
    return ok_response(list);
  }
  if (action != "remove" && action != "add") {
    return error_response("blocked takes list, add ADDR [for DURATION] or remove ADDR, got \"" +
                          action + "\"");
  }
  const std::string text = request.value("address", "");
  const std::optional<IpAddress> address = parse_ip_address(text);
  if (!address) {
    return error_response("blocked " + action + " needs an IPv4 or IPv6 address, got \"" + text +
                          "\"");
  }
  const bool keep = request.value("keep_established", false);
  if (action == "remove") {
    const bool removed = blocks_->remove(*address);
    audit_.record(peer.uid, "unblock", removed ? "ok" : "unchanged", to_string(*address));
    // Its connections cut by the block come back if the rules allow them.
    const nlohmann::json connections = removed
                                           ? recheck_flows(Engine::Denied::leave, peer.uid,
                                                           "blocked remove " + to_string(*address))
                                           : nlohmann::json::object();
    return ok_response(
        {{"removed", removed}, {"address", to_string(*address)}, {"connections", connections}});
  }
  Timestamp until = Timestamp::max();
  std::string for_text = request.value("for", "");
  if (!for_text.empty()) {
    auto d = parse_duration(for_text);
    if (!d) return error_response("blocked add ADDR for DURATION: " + d.error());
    if (*d <= Duration::zero()) return error_response("blocked add: the duration must be above 0");
    until = now + *d;
  }
  if (blocks_->add(*address, until, BlockReason::manual, now) == BlockAdded::refused_full) {
    audit_.record(peer.uid, "block", "refused", to_string(*address) + ": block list full");
    return error_response("the block list is full of manual blocks ([limits] max_blocks = " +
                          std::to_string(blocks_->max_entries()) +
                          "): remove some (portwall blocked remove ADDR) or raise max_blocks");
  }
  audit_.record(peer.uid, "block", "ok",
                to_string(*address) + (for_text.empty() ? "" : " for " + for_text));
  const nlohmann::json connections =
      recheck_flows(denied_by(keep), peer.uid, "blocked add " + to_string(*address), *address);
  if (!keep) live_.bring_back_offloaded("blocked add");
  return ok_response(
      {{"added", true},
       {"connections", connections},
       {"address", to_string(*address)},
       {"expires", for_text.empty() ? std::string("never")
                                    : rfc3339_ms(save_block({*address, until, BlockReason::manual},
                                                            now, wall_now)
                                                     .expires_unix_ms)}});
}

}  // namespace portwall
