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
  // Routed: a block of either end drops it (the engine's rule).
  const IpAddress& remote =
      inbound || (in.direction == Direction::route && blocks_->find(in.src, now)) ? in.src : in.dst;
  if (const std::optional<BlockEntry> b = blocks_->find(remote, now)) {
    const SavedBlock saved = save_block(*b, now, clock_.unix_ms());
    std::string by = to_string(b->reason);
    if (b->reason == BlockReason::crowdsec) by += ":" + blocks_->tag_name(b->tag);
    if (!b->single()) by += ", range " + range_text(*b);
    f.blocked = to_string(remote) + " is blocked (" + by + ") until " +
                (saved.expires_unix_ms ? rfc3339_ms(saved.expires_unix_ms) : "removed");
    f.blocked_by_hand = b->reason == BlockReason::manual;
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
  auto reason_text = [&](const BlockEntry& b) {
    std::string text = to_string(b.reason);
    if (b.reason == BlockReason::crowdsec) text += ":" + blocks_->tag_name(b.tag);
    return text;
  };
  auto expires_text = [&](const BlockEntry& b) {
    const SavedBlock saved = save_block(b, now, wall_now);
    return saved.expires_unix_ms ? rfc3339_ms(saved.expires_unix_ms) : std::string("never");
  };
  if (action == "list") {
    nlohmann::json list = nlohmann::json::array();
    for (const BlockEntry& b : blocks_->list(now)) {
      list.push_back(
          {{"address", range_text(b)}, {"reason", reason_text(b)}, {"expires", expires_text(b)}});
    }
    return ok_response(list);
  }
  if (action != "remove" && action != "add") {
    return error_response(
        "blocked takes list, add ADDR|CIDR [for DURATION] or remove ADDR|CIDR, got \"" + action +
        "\"");
  }
  const std::string text = request.value("address", "");
  const std::expected<Cidr, std::string> range = parse_cidr(text);
  if (!range) {
    // A bad address, or a network whose length or host bits are wrong (which says so).
    const bool no_address = !parse_ip_address(std::string_view(text).substr(0, text.find('/')));
    return error_response(no_address ? "blocked " + action +
                                           " needs an IPv4 or IPv6 address or network, got \"" +
                                           text + "\""
                                     : "blocked " + action + ": " + range.error());
  }
  const BlockEntry wanted{range->network, Timestamp::max(), BlockReason::manual,
                          range->prefix_length};
  const std::string shown = range_text(wanted);
  const bool keep = request.value("keep_established", false);
  if (action == "remove") {
    const bool removed = blocks_->remove(range->network, range->prefix_length);
    audit_.record(peer.uid, "unblock", removed ? "ok" : "unchanged", shown);
    if (removed) live_.follow_blocks();
    // Its connections cut by the block come back if the rules allow them.
    const nlohmann::json connections =
        removed ? recheck_flows(Engine::Denied::leave, peer.uid, "blocked remove " + shown)
                : nlohmann::json::object();
    nlohmann::json result = {
        {"removed", removed}, {"address", shown}, {"connections", connections}};
    // Another block still covers it (the feed's, or a wider range): say which, and where it
    // comes from, so that nobody believes the address free.
    if (const std::optional<BlockEntry> still = blocks_->find(range->network, now)) {
      result["still_blocked_by"] = {{"address", range_text(*still)},
                                    {"reason", reason_text(*still)},
                                    {"expires", expires_text(*still)}};
    }
    return ok_response(result);
  }
  Timestamp until = Timestamp::max();
  std::string for_text = request.value("for", "");
  if (!for_text.empty()) {
    auto d = parse_duration(for_text);
    if (!d) return error_response("blocked add ADDR for DURATION: " + d.error());
    if (*d <= Duration::zero()) return error_response("blocked add: the duration must be above 0");
    until = now + *d;
  }
  if (blocks_->add(range->network, until, BlockReason::manual, now, range->prefix_length) ==
      BlockAdded::refused_full) {
    audit_.record(peer.uid, "block", "refused", shown + ": block list full");
    return error_response(
        "the block list is full of manual and CrowdSec blocks ([limits] "
        "max_blocks = " +
        std::to_string(blocks_->max_entries()) +
        "): remove some (portwall blocked remove ADDR) or raise max_blocks");
  }
  audit_.record(peer.uid, "block", "ok", shown + (for_text.empty() ? "" : " for " + for_text));
  // The kernel drops it from now on; not when connections are to be kept through it.
  live_.follow_blocks(keep ? std::optional<Cidr>(*range) : std::nullopt);
  const nlohmann::json connections =
      recheck_flows(denied_by(keep), peer.uid, "blocked add " + shown, *range);
  if (!keep) live_.bring_back_offloaded("blocked add");
  BlockEntry made = wanted;
  made.until = until;
  return ok_response({{"added", true},
                      {"connections", connections},
                      {"address", shown},
                      {"expires", expires_text(made)}});
}

}  // namespace portwall
