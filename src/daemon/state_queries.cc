// state_queries.cc — control requests that need the queue threads' connection tables:
// `explain` (which rule or flow decides a packet nobody sent) and `conntrack count|list|flush`.
// Each table is read or changed on its own thread (QueueWorker::run_on_thread); results come
// back through shared holders, so a late task never writes into a finished request.
#include "control/control_protocol.h"
#include "daemon/daemon.h"
#include "policy/explain.h"
#include "rules/duration.h"

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
  return j;
}

}  // namespace

nlohmann::json Daemon::explain_request(const nlohmann::json& request) {
  std::vector<std::string> words;
  for (const auto& w : request.value("words", nlohmann::json::array())) {
    if (w.is_string()) words.push_back(w.get<std::string>());
  }
  auto probe = parse_probe(words);
  if (!probe) return error_response(probe.error());
  struct Found {
    std::mutex mutex;
    bool tracked = false;
    std::optional<TcpState> state;
  };
  auto found = std::make_shared<Found>();
  const FlowKey key = probe->key();
  for (auto& w : workers_) {
    w->run_on_thread([found, key](Engine& engine, Timestamp now) {
      if (const Flow* f = engine.conntrack().lookup(key, now)) {
        std::lock_guard<std::mutex> lock(found->mutex);
        found->tracked = true;
        if (f->key.protocol == ipproto::tcp) found->state = f->tcp_state;
      }
    });
  }
  std::lock_guard<std::mutex> lock(found->mutex);
  const Explanation e = explain(*snapshot(), *probe, found->state, found->tracked);
  nlohmann::json j = {{"verdict", to_string(e.decision.verdict)},
                      {"reason", to_string(e.decision.reason)},
                      {"why", e.why}};
  j["rule"] = e.decision.rule_number ? nlohmann::json(e.decision.rule_number) : nlohmann::json();
  if (!e.rule.empty()) j["rule_text"] = e.rule;
  return ok_response(j);
}

nlohmann::json Daemon::conntrack_request(const nlohmann::json& request, const Peer& peer) {
  const std::string action = request.value("action", "count");
  if (action != "count" && action != "list" && action != "flush") {
    return error_response("conntrack takes list, count or flush, got \"" + action + "\"");
  }
  struct Collected {
    std::mutex mutex;
    nlohmann::json flows = nlohmann::json::array();
    std::size_t count = 0;
  };
  auto collected = std::make_shared<Collected>();
  for (auto& w : workers_) {
    w->run_on_thread([collected, action](Engine& engine, Timestamp now) {
      ConnTracker& ct = engine.conntrack();
      std::lock_guard<std::mutex> lock(collected->mutex);
      collected->count += ct.size();
      if (action == "list") {
        ct.for_each([&](const Flow& f) { collected->flows.push_back(flow_json(f, now)); });
      } else if (action == "flush") {
        ct.clear();
      }
    });
  }
  if (action == "flush") {
    audit_log_->record(peer.uid, "conntrack-flush", "ok", "");
  }
  std::lock_guard<std::mutex> lock(collected->mutex);
  nlohmann::json j = {{"count", collected->count}};
  if (action == "list") j["flows"] = collected->flows;
  if (action == "flush") j["flushed"] = collected->count;
  return ok_response(j);
}

nlohmann::json Daemon::blocked_request(const nlohmann::json& request, const Peer& peer) {
  const std::string action = request.value("action", "list");
  std::optional<IpAddress> address;
  if (action == "remove") {
    address = parse_ip_address(request.value("address", ""));
    if (!address) {
      return error_response("blocked remove needs an address, got \"" +
                            request.value("address", "") + "\"");
    }
  } else if (action != "list") {
    return error_response("blocked takes list or remove ADDR, got \"" + action + "\"");
  }
  struct Collected {
    std::mutex mutex;
    nlohmann::json list = nlohmann::json::array();
    bool removed = false;
  };
  auto collected = std::make_shared<Collected>();
  const std::int64_t wall_now = unix_now_ms();
  for (auto& w : workers_) {
    w->run_on_thread([collected, address, wall_now](Engine& engine, Timestamp now) {
      std::lock_guard<std::mutex> lock(collected->mutex);
      if (address) {
        collected->removed = engine.sources().unblock(*address) || collected->removed;
        return;
      }
      for (const auto& b : engine.sources().blocked(now)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(b.until - now);
        collected->list.push_back({{"address", to_string(b.address)},
                                   {"reason", "scan"},
                                   {"expires", rfc3339_ms(wall_now + left.count())}});
      }
    });
  }
  std::lock_guard<std::mutex> lock(collected->mutex);
  if (!address) return ok_response(collected->list);
  audit_log_->record(peer.uid, "unblock", collected->removed ? "ok" : "unchanged",
                     to_string(*address));
  return ok_response({{"removed", collected->removed}, {"address", to_string(*address)}});
}

}  // namespace portwall
