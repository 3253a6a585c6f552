// status_report.cc — `status` (DESIGN.md's JSON) and `ports` on the control socket. Reads only
// published figures, the immutable rule snapshot and the kernel's counters.
#include <algorithm>
#include <cctype>
#include <optional>

#include "control/control_protocol.h"
#include "control/control_service.h"
#include "exposure/ports_report.h"
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
  if (!rule.out_interface.empty()) j["out_interface"] = rule.out_interface;
  if (rule.log) j["log"] = true;
  j["origin"] = rule.origin.file + ":" + std::to_string(rule.origin.line);
  return j;
}

}  // namespace

namespace {

// The link to the CrowdSec Local API: the last good pull and the lag since, the last error.
nlohmann::json crowdsec_json(const CrowdSecFigures& cs, std::int64_t unix_now_ms) {
  const BouncerFigures& b = cs.bouncer;
  auto when = [](std::int64_t ms) {
    return ms ? nlohmann::json(rfc3339_ms(ms)) : nlohmann::json();
  };
  nlohmann::json j = {
      {"lapi_url", b.url},
      {"last_pull", when(b.last_pull_unix_ms)},
      {"lag_seconds", b.last_pull_unix_ms
                          ? nlohmann::json((unix_now_ms - b.last_pull_unix_ms) / 1000.0)
                          : nlohmann::json()},
      {"last_pull_seconds", b.last_pull_seconds},
      {"last_apply_seconds", b.last_apply_seconds},
      {"last_error", b.last_error.empty() ? nlohmann::json() : nlohmann::json(b.last_error)},
      {"pulls", b.pulls},
      {"failed_pulls", b.failures},
      {"failing_in_a_row", b.failing_in_a_row},
      {"decisions", b.decisions},
      {"blocks", b.blocks},
      {"blocks_not_made_full", b.blocks_not_made_full},
      {"decisions_ignored", b.totals.ignored_type + b.totals.ignored_scope},
      {"decisions_malformed", b.totals.malformed}};
  if (cs.source) {
    const SourceFigures& s = *cs.source;
    j["source"] = {
        {"alerts_pushed", s.alerts_pushed},
        {"failed_pushes", s.push_failures},
        {"alerts_waiting", s.alerts_waiting},
        {"alerts_dropped", s.alerts_dropped},
        {"last_push", when(s.last_push_unix_ms)},
        {"last_error", s.last_error.empty() ? nlohmann::json() : nlohmann::json(s.last_error)}};
  }
  return j;
}

}  // namespace

nlohmann::json ControlService::status() {
  const std::shared_ptr<const PolicySnapshot> policy = live_.snapshot();
  const RuleSet& rules = policy->rule_set();
  nlohmann::json j;
  const std::shared_ptr<const LiveSettings> live = live_.settings();
  const Mode mode_now = live_.mode();
  const bool mode_by_cli = mode_by_cli_.load();
  j["mode"] = mode_now == Mode::monitor ? "monitor" : "enforce";
  j["mode_set_by"] = mode_by_cli ? "portwall mode" : "configuration";
  // Routed traffic no rule names is not judged at all: "disabled", as ufw says.
  j["defaults"] = {
      {"incoming", to_string(rules.defaults.incoming)},
      {"outgoing", to_string(rules.defaults.outgoing)},
      {"routed", rules.judges_routed() ? to_string(rules.defaults.routed) : "disabled"}};
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
  j["published"] = nlohmann::json::array();
  for (const PublishedPort& p : live_.published()) {
    nlohmann::json pj = {{"proto", to_string(p.forward.proto)},
                         {"port", p.forward.port},
                         {"to", forward_destination(p.forward)},
                         {"chain", p.chain},
                         {"words", published_words(p)}};
    if (p.host_address) pj["host_address"] = to_string(*p.host_address);
    j["published"].push_back(std::move(pj));
  }
  const std::string forwarding = live_.forwarding_problem();
  j["forwarding_problem"] = forwarding.empty() ? nlohmann::json() : nlohmann::json(forwarding);
  // Read in the order a packet travels, so that none is between two readings: the kernel's
  // rule counters first, then what waits in the queues, then what the threads received. Read
  // the other way round, a packet arriving meanwhile would count as passed uninspected.
  // The kernel's rule counters cost two iptables-save (all of the filter table): read at most
  // once every kKernelCountersEvery, whoever asks and however often; between two reads,
  // `uninspected` is the figure of the last one (all its terms read together, as below).
  std::unique_lock<std::mutex> counters_lock(kernel_counters_mutex_);
  const Timestamp asked = clock_.now();
  const bool fresh =
      !kernel_counters_read_ || asked - *kernel_counters_read_ >= kKernelCountersEvery;
  std::optional<std::expected<std::uint64_t, std::string>> queued;
  if (fresh) {
    queued = live_.queued_packets();
    kernel_counters_read_ = asked;
  } else {
    counters_lock.unlock();
  }
  const auto kernel = live_.kernel_queue_stats();
  std::vector<Figures> queues;
  Figures sum;
  for (std::size_t i = 0; i < live_.queue_count(); ++i) {
    queues.push_back(live_.queue_figures(i));
    sum += queues.back();
  }
  j["conntrack"] = {{"entries", sum[Counter::flows]}, {"max", started_.conntrack.max_entries}};
  for (Counter c : {Counter::evicted, Counter::refused, Counter::expired, Counter::picked_up}) {
    j["conntrack"][to_string(c)] = sum[c];
  }
  for (Counter c :
       {Counter::received, Counter::accepted, Counter::dropped, Counter::rejected,
        Counter::malformed, Counter::table_full, Counter::rate_limited, Counter::scan_blocks,
        Counter::scan_blocked, Counter::lost_messages, Counter::monitor_passed}) {
    j["counters"][to_string(c)] = sum[c];
  }
  // Blocked sources' packets the kernel's set dropped before the queue count as blocked too.
  const std::optional<KernelBlockFigures> in_kernel = live_.kernel_block_figures();
  const std::uint64_t kernel_dropped = in_kernel ? in_kernel->packets_dropped : 0;
  j["counters"][to_string(Counter::scan_blocked)] = sum[Counter::scan_blocked] + kernel_dropped;
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
  for (std::size_t i = 0; i < queues.size(); ++i) {
    const Figures& f = queues[i];
    const std::uint16_t number = live_.queue_number(i);
    nlohmann::json q = {{"number", number},
                        {"received", f[Counter::received]},
                        {"lost_messages", f[Counter::lost_messages]},
                        {"waiting", nullptr},
                        {"dropped_full", nullptr},
                        {"dropped_socket_full", nullptr}};
    for (const KernelQueueStats& k : kernel ? *kernel : std::vector<KernelQueueStats>{}) {
      if (k.number != number) continue;
      q["waiting"] = k.waiting, q["dropped_full"] = k.dropped_full;
      q["dropped_socket_full"] = k.dropped_user;
      waiting += k.waiting, dropped_full += k.dropped_full, dropped_user += k.dropped_user;
    }
    per_queue.push_back(std::move(q));
  }
  j["queue"] = {{"length", started_.daemon.queue_length},
                {"fail_open", started_.daemon.fail_open},
                {"waiting", waiting},
                {"dropped_full", dropped_full},
                {"dropped_socket_full", dropped_user},
                {"per_queue", std::move(per_queue)}};
  // Fail-open is never silent: what the kernel's queue rules counted, less what we received,
  // what still waits and what the kernel dropped, passed uninspected.
  if (fresh) {
    const std::uint64_t accounted = sum[Counter::received] + waiting + dropped_full + dropped_user;
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
  j["defenses"] = {
      {"scan",
       {{"enabled", live->scan_detection.enabled},
        {"sources_blocked", sum[Counter::scan_blocks]},
        {"packets_dropped", sum[Counter::scan_blocked] + kernel_dropped},
        {"spared", n(st.scan_spared)},
        {"vouched_sources", sources_->vouched()},
        {"trusted", trusted}}},
      {"blocks",
       {{"entries", blocks_->size()},
        {"max", blocks_->max_entries()},
        {"evicted", blocks_->evicted()},
        {"scan_blocks_not_made_rate", blocks_->refused_rate()},
        {"scan_blocks_not_made_full", blocks_->refused_full()},
        {"in_kernel", in_kernel ? nlohmann::json{{"entries", in_kernel->entries},
                                                 {"packets_dropped", in_kernel->packets_dropped},
                                                 {"problem", in_kernel->problem}}
                                : nlohmann::json(nullptr)}}},
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
        {"packets", sum[Counter::knocks]},
        {"opened", n(st.knock_opened)},
        {"failed", n(st.knock_failed)},
        {"spa_opened", n(st.spa_opened)},
        {"spa_rejected", n(st.spa_rejected)},
        {"spa_replayed", n(st.spa_replayed)},
        {"spa_misbound", n(st.spa_misbound)},
        {"connections_let_in", sum[Counter::knock_opened]}}}};
  if (const std::optional<CrowdSecFigures> cs = live_.crowdsec_figures()) {
    j["crowdsec"] = crowdsec_json(*cs, clock_.unix_ms());
  }
  const DecisionLogStats log = live_.decision_log_stats();
  j["log"] = {{"written", log.written},       {"lost", log.lost},
              {"suppressed", log.suppressed}, {"write_failed", log.write_failed},
              {"reopened", log.reopened},     {"audit_write_failed", audit_.failed_lines()}};
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
  j["backend"] = live_.backend_name();
  j["queues"] = started_.daemon.queues;
  j["rules_file"] = live->rules_file;
  return j;
}

// `portwall ports`: the caller sends what listens on the host (it may see the owners, the
// daemon without its capabilities may not); the report is made against the policy in force.
// Knock doors only for administrators, as explain.
nlohmann::json ControlService::ports_request(const nlohmann::json& request, bool show_knocks) {
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
  const auto policy = live_.snapshot();
  const auto live = live_.settings();
  static const std::vector<KnockSection> kNoKnocks;
  return ok_response(ports_report(*sockets,
                                  {policy->rule_set(), show_knocks ? live->knocks : kNoKnocks,
                                   live->rules_file, "portwalld", live_.published()},
                                  ephemeral));
}

}  // namespace portwall
