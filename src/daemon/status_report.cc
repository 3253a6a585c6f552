// status_report.cc — the daemon's answers on the control socket: `status` (DESIGN.md's JSON)
// and `reload`. Reads only published figures and the immutable rule snapshot.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <optional>

#include "control/control_protocol.h"
#include "daemon/daemon.h"
#include "exposure/ports_report.h"
#include "metrics/prometheus_text.h"
#include "netfilter/queue_stats.h"
#include "rules/forward.h"
#include "rules/rule_writer.h"

namespace portwall {
namespace {

std::string to_lower(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

nlohmann::json rule_json(const Rule& rule, std::uint32_t number, const PolicySnapshot& policy) {
  const RuleHits& hits = policy.hits(number);
  nlohmann::json j = {{"number", number},
                      {"action", to_string(rule.action)},
                      {"direction", to_string(rule.direction)},
                      {"proto", to_string(rule.proto)},
                      {"from", rule.from_text},
                      {"to", rule.to_text},
                      {"port", rule.port_text.empty() ? "any" : rule.port_text},
                      {"comment", rule.comment},
                      {"packets", hits.packets.load(std::memory_order_relaxed)},
                      {"bytes", hits.bytes.load(std::memory_order_relaxed)}};
  if (!rule.from_port_text.empty()) j["from_port"] = rule.from_port_text;
  if (!rule.interface.empty()) j["interface"] = rule.interface;
  if (rule.log) j["log"] = true;
  j["origin"] = rule.origin.file + ":" + std::to_string(rule.origin.line);
  return j;
}

}  // namespace

nlohmann::json Daemon::status_json() {
  const std::shared_ptr<const PolicySnapshot> policy = snapshot();
  const RuleSet& rules = policy->rule_set();
  nlohmann::json j;
  const std::shared_ptr<const LiveSettings> live = settings();
  const auto [mode_now, mode_by_cli] = mode();
  j["mode"] = mode_now == Mode::monitor ? "monitor" : "enforce";
  j["mode_set_by"] = mode_by_cli ? "portwall mode" : "configuration";
  j["defaults"] = {{"incoming", to_string(rules.defaults.incoming)},
                   {"outgoing", to_string(rules.defaults.outgoing)}};
  j["rules"] = nlohmann::json::array();
  for (std::size_t i = 0; i < rules.rules.size(); ++i) {
    j["rules"].push_back(rule_json(rules.rules[i], static_cast<std::uint32_t>(i + 1), *policy));
  }
  j["forwards"] = nlohmann::json::array();
  for (std::size_t i = 0; i < rules.forwards.size(); ++i) {
    const Forward& f = rules.forwards[i];
    nlohmann::json fj = {{"number", i + 1},
                         {"proto", to_string(f.proto)},
                         {"port", f.port},
                         {"kind", f.redirect() ? "redirect" : "dnat"},
                         {"to", forward_destination(f)},
                         {"to_port", f.to_port},
                         {"comment", f.comment},
                         {"words", forward_words(f)},
                         {"origin", f.origin.file + ":" + std::to_string(f.origin.line)}};
    if (f.to_address) fj["to_address"] = to_string(*f.to_address);
    if (!f.interface.empty()) fj["interface"] = f.interface;
    j["forwards"].push_back(std::move(fj));
  }
  const std::string forwarding = forwarding_problem();
  j["forwarding_problem"] = forwarding.empty() ? nlohmann::json() : nlohmann::json(forwarding);
  // Read in the order a packet travels, so that none is between two readings: the kernel's
  // rule counters first, then what waits in the queues, then what the threads received. Read
  // the other way round, a packet arriving meanwhile would count as passed uninspected.
  // The kernel's rule counters cost two iptables-save (all of the filter table): read at most
  // once every kKernelCountersEvery, whoever asks and however often; between two reads,
  // `uninspected` is the figure of the last one (all its terms read together, as below).
  std::unique_lock<std::mutex> counters_lock(kernel_counters_mutex_);
  const Timestamp asked = clock_.now();
  const bool fresh = !kernel_counters_read_ || asked - *kernel_counters_read_ >= kKernelCountersEvery;
  std::optional<std::expected<std::uint64_t, std::string>> queued;
  if (fresh) {
    queued = diversion_->queued_packets();
    kernel_counters_read_ = asked;
  } else {
    counters_lock.unlock();
  }
  const auto kernel = read_kernel_queue_stats();
  WorkerFigures sum;
  for (const auto& w : workers_) sum += w->figures();
  j["conntrack"] = {{"entries", sum.flows},   {"max", loaded_.config.conntrack.max_entries},
                    {"evicted", sum.evicted}, {"refused", sum.refused},
                    {"expired", sum.expired}, {"picked_up", sum.picked_up}};
  j["counters"] = {{"received", sum.received},
                   {"accepted", sum.accepted},
                   {"dropped", sum.dropped},
                   {"rejected", sum.rejected},
                   {"malformed", sum.malformed},
                   {"table_full", sum.table_full},
                   {"rate_limited", sum.rate_limited},
                   {"scan_blocks", sum.scan_blocks},
                   {"scan_blocked", sum.scan_blocked},
                   {"lost_messages", sum.enobufs},
                   {"monitor_passed", sum.monitor_passed}};
  // Every decision by verdict and reason: {"drop": {"default": 12, ...}, ...}.
  for (std::size_t v = 0; v < kVerdicts; ++v) {
    nlohmann::json& by_reason = j["decisions"][to_lower(to_string(static_cast<Verdict>(v)))];
    for (std::size_t r = 0; r < kReasons; ++r) {
      by_reason[to_string(static_cast<Reason>(r))] = sum.decisions[v][r];
    }
  }
  // The kernel's side of our queues: what waits, and what it dropped (fail_open = false);
  // each queue with what its thread received.
  std::uint64_t waiting = 0, dropped_full = 0, dropped_user = 0;
  nlohmann::json per_queue = nlohmann::json::array();
  for (const auto& w : workers_) {
    const WorkerFigures f = w->figures();
    nlohmann::json q = {{"number", w->queue_number()}, {"received", f.received},
                        {"lost_messages", f.enobufs},  {"waiting", nullptr},
                        {"dropped_full", nullptr},     {"dropped_socket_full", nullptr}};
    for (const KernelQueueStats& k : kernel ? *kernel : std::vector<KernelQueueStats>{}) {
      if (k.number != w->queue_number()) continue;
      q["waiting"] = k.waiting, q["dropped_full"] = k.dropped_full;
      q["dropped_socket_full"] = k.dropped_user;
      waiting += k.waiting, dropped_full += k.dropped_full, dropped_user += k.dropped_user;
    }
    per_queue.push_back(std::move(q));
  }
  j["queue"] = {{"length", loaded_.config.daemon.queue_length},
                {"fail_open", loaded_.config.daemon.fail_open},
                {"waiting", waiting},
                {"dropped_full", dropped_full},
                {"dropped_socket_full", dropped_user},
                {"per_queue", std::move(per_queue)}};
  // Fail-open is never silent: what the kernel's queue rules counted, less what we received,
  // what still waits and what the kernel dropped, passed uninspected.
  if (fresh) {
    const std::uint64_t accounted = sum.received + waiting + dropped_full + dropped_user;
    uninspected_ = nullptr;
    if (*queued) uninspected_ = **queued > accounted ? **queued - accounted : 0;
    counters_lock.unlock();
  }
  {
    std::lock_guard<std::mutex> lock(kernel_counters_mutex_);
    j["counters"]["uninspected"] = uninspected_;
  }
  const SourceTableStats& st = sources_->stats();
  auto n = [](const std::atomic<std::uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  nlohmann::json knocks = nlohmann::json::array();
  for (const KnockSection& k : live->knocks) knocks.push_back(k.name);
  nlohmann::json trusted = nlohmann::json::array();
  for (const IpAddress& a : sources_->trusted()) trusted.push_back(to_string(a));
  j["defenses"] = {{"scan",
                    {{"enabled", live->scan_detection.enabled},
                     {"sources_blocked", sum.scan_blocks},
                     {"packets_dropped", sum.scan_blocked},
                     {"spared", n(st.scan_spared)},
                     {"vouched_sources", sources_->vouched()},
                     {"trusted", trusted}}},
                   {"blocks",
                    {{"entries", blocks_->size()},
                     {"max", blocks_->max_entries()},
                     {"evicted", blocks_->evicted()},
                     {"scan_blocks_not_made_rate", blocks_->refused_rate()},
                     {"scan_blocks_not_made_full", blocks_->refused_full()}}},
                   {"sources",
                    {{"entries", sources_->size()},
                     {"max", sources_->max_sources()},
                     {"evicted", n(st.evicted)},
                     {"evicted_holding", n(st.evicted_holding)}}},
                   {"limits",
                    {{"rule_rate_drops", n(st.rule_rate_drops)},
                     {"source_rate_drops", n(st.source_rate_drops)},
                     {"source_connection_drops", n(st.source_flow_drops)}}},
                   {"knock",
                    {{"doors", knocks},
                     {"packets", sum.knocks},
                     {"opened", n(st.knock_opened)},
                     {"failed", n(st.knock_failed)},
                     {"spa_opened", n(st.spa_opened)},
                     {"spa_rejected", n(st.spa_rejected)},
                     {"spa_replayed", n(st.spa_replayed)},
                     {"spa_misbound", n(st.spa_misbound)},
                     {"connections_let_in", sum.knock_opened}}}};
  const DecisionLogStats log = decision_log_->stats();
  j["log"] = {{"written", log.written},
              {"lost", log.lost},
              {"suppressed", log.suppressed},
              {"write_failed", log.write_failed},
              {"reopened", log.reopened},
              {"audit_write_failed", audit_log_->file_stats().failed_lines}};
  j["pending_confirmation"] = nullptr;
  if (std::lock_guard<std::mutex> lock(pending_mutex_); pending_) {
    const auto left =
        std::chrono::duration_cast<std::chrono::seconds>(pending_->deadline - clock_.now());
    j["pending_confirmation"] = {{"file", pending_->file},
                                 {"applied_by", pending_->by},
                                 {"within", pending_->within},
                                 {"rolls_back_at", rfc3339_ms(pending_->deadline_unix_ms)},
                                 {"seconds_left", std::max<std::int64_t>(0, left.count())}};
  }
  j["pending_enable"] = pending_enable_json();
  j["backend"] = diversion_->name();
  j["queues"] = loaded_.config.daemon.queues;
  j["rules_file"] = live->rules_file;
  return j;
}

nlohmann::json Daemon::mode_request(const std::optional<std::string>& action, const Peer& peer,
                                    bool keep_established) {
  if (!action || (*action != "monitor" && *action != "enforce")) {
    return error_response("mode must be monitor or enforce");
  }
  const Mode next = *action == "monitor" ? Mode::monitor : Mode::enforce;
  std::string before;
  nlohmann::json connections;
  {
    std::lock_guard<std::mutex> serialized(reload_mutex_);
    std::shared_ptr<const PolicySnapshot> policy;
    {
      std::lock_guard<std::mutex> lock(policy_mutex_);
      before = mode_ == Mode::monitor ? "monitor" : "enforce";
      mode_ = next;
      live_mode_ = next;
      policy = policy_;
    }
    for (auto& w : workers_) w->set_policy(policy, next);
    // Connections monitor mode let in that the rules deny are cut when enforcement starts.
    last_recheck_ =
        recheck_flows(denied_by(keep_established), peer.uid, "portwall mode " + *action);
    connections = last_recheck_;
  }
  audit_log_->record(peer.uid, "mode", "ok",
                     "pid=" + std::to_string(peer.pid) + " " + before + " -> " + *action);
  nlohmann::json result = status_json();
  result["connections"] = connections;
  return ok_response(result);
}

void Daemon::keep_metrics_file() {
  const std::shared_ptr<const LiveSettings> live = settings();
  const MetricsSection& m = live->metrics;
  const Timestamp now = clock_.now();
  if (m.textfile.empty() ||
      (metrics_written_ != Timestamp{} && now - metrics_written_ < m.interval)) {
    return;
  }
  metrics_written_ = now;
  std::string text;
  {
    text = render_prometheus(status_json());  // a consistent snapshot without reload_mutex_
  }
  if (auto ok = write_file_atomically(m.textfile, text); !ok) {
    if (!metrics_failing_) say("metrics: " + ok.error());
    metrics_failing_ = true;
  } else {
    if (metrics_failing_) say("metrics: " + m.textfile + " written again");
    metrics_failing_ = false;
  }
}

Daemon::Role Daemon::role_of(const Peer& peer) const {
  if (peer.uid == 0 || peer.uid == geteuid() || peer.in_group(admin_gid_)) return Role::admin;
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

// `portwall ports`: the caller sends what listens on the host (it may see the owners, the
// daemon without its capabilities may not); the report is made against the policy in force.
// Knock doors only for administrators, as explain.
nlohmann::json Daemon::ports_request(const nlohmann::json& request, bool show_knocks) {
  const auto sockets = sockets_of(request.value("sockets", nlohmann::json()));
  if (!sockets) {
    return error_response("bad request: \"sockets\" must be a list of at most " +
                          std::to_string(kMaxPortsSockets) + " sockets");
  }
  std::optional<PortRange> ephemeral;
  if (const auto& e = request.value("ephemeral", nlohmann::json()); e.is_object()) {
    const auto first = e.value("first", nlohmann::json()), last = e.value("last", nlohmann::json());
    if (first.is_number_unsigned() && last.is_number_unsigned() && first <= last &&
        last.get<std::uint64_t>() <= 65535) {
      ephemeral = PortRange{first.get<std::uint16_t>(), last.get<std::uint16_t>()};
    }
  }
  const auto policy = snapshot();
  const auto live = settings();
  static const std::vector<KnockSection> kNoKnocks;
  return ok_response(ports_report(
      *sockets, {policy->rule_set(), show_knocks ? live->knocks : kNoKnocks, live->rules_file,
                 "portwalld"},
      ephemeral));
}

nlohmann::json Daemon::handle(const nlohmann::json& request, const Peer& peer) {
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
    audit_log_->record(peer.uid, command, "denied",
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
  if (command == "status") return ok_response(status_json());
  if (command == "reload") {
    std::expected<void, std::string> ok;
    nlohmann::json connections;
    std::size_t rule_count = 0;
    {
      std::lock_guard<std::mutex> serialized(reload_mutex_);
      ok = reload_locked(static_cast<long>(peer.uid), "reload", true, keep_established);
      connections = last_recheck_;
      rule_count = snapshot()->rule_set().rules.size();  // this reload's, not a later change's
    }
    if (!ok) {
      return error_response("reload refused, the previous rules stay in force:\n" + ok.error());
    }
    // The count, and the whole status only when asked (`portwall --json reload`): at 10^5
    // rules the status is 18 MB of JSON, seconds to make for a line that says how many.
    nlohmann::json result = request.value("status", false)
                                ? status_json()
                                : nlohmann::json{{"rule_count", rule_count}};
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

}  // namespace portwall
