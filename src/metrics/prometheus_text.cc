#include "metrics/prometheus_text.h"

#include <array>
#include <initializer_list>
#include <sstream>
#include <utility>
#include <vector>

namespace portwall {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Label values escape backslash, double quote and newline (the exposition format's rule).
std::string escaped(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

class Exposition {
 public:
  // Opens a metric family: HELP and TYPE once, then its samples.
  void family(const std::string& name, const char* type, const char* help) {
    name_ = name;
    out_ << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n';
  }
  void sample(const nlohmann::json& value, const Labels& labels = {}) {
    if (!value.is_number()) return;
    out_ << name_;
    if (!labels.empty()) {
      out_ << '{';
      for (std::size_t i = 0; i < labels.size(); ++i) {
        out_ << (i ? "," : "") << labels[i].first << "=\"" << escaped(labels[i].second) << '"';
      }
      out_ << '}';
    }
    out_ << ' ' << value.dump() << '\n';
  }
  // A family of one sample, when the value is there.
  void single(const std::string& name, const char* type, const char* help,
              const nlohmann::json& value) {
    if (!value.is_number()) return;
    family(name, type, help);
    sample(value);
  }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::string name_;
};

// status[a][b]..., or null when any step is missing (null keys are skipped).
template <typename Keys>
const nlohmann::json& at_path(const nlohmann::json& j, const Keys& path) {
  static const nlohmann::json null;
  const nlohmann::json* node = &j;
  for (const char* key : path) {
    if (key == nullptr) continue;
    if (!node->is_object() || !node->contains(key)) return null;
    node = &(*node)[key];
  }
  return *node;
}
const nlohmann::json& at(const nlohmann::json& j, std::initializer_list<const char*> path) {
  return at_path(j, path);
}

std::string text_of(const nlohmann::json& j) {
  if (j.is_string()) return j.get<std::string>();
  return j.is_null() ? "" : j.dump();
}

// A family of one unlabelled sample: the figure at `path` in the status answer.
struct Single {
  const char* name;
  const char* type;
  const char* help;
  std::array<const char*, 3> path;  // unused steps are nullptr
};
const Single kSingles[] = {
    {"portwall_packets_received_total",
     "counter",
     "Packets portwalld judged.",
     {"counters", "received"}},
    {"portwall_packets_malformed_total",
     "counter",
     "Packets whose headers could not be parsed (dropped).",
     {"counters", "malformed"}},
    {"portwall_packets_uninspected_total",
     "counter",
     "Packets the kernel let through without asking portwalld (fail-open: queue full or no "
     "listener).",
     {"counters", "uninspected"}},
    {"portwall_queue_length",
     "gauge",
     "Packets the kernel may hold per queue.",
     {"queue", "length"}},
    {"portwall_conntrack_entries", "gauge", "Tracked connections.", {"conntrack", "entries"}},
    {"portwall_conntrack_max_entries",
     "gauge",
     "Bound of the connection table.",
     {"conntrack", "max"}},
    {"portwall_conntrack_evicted_total",
     "counter",
     "Unreplied connections removed to make room.",
     {"conntrack", "evicted"}},
    {"portwall_conntrack_refused_total",
     "counter",
     "New connections refused: the table was full of replied ones.",
     {"conntrack", "refused"}},
    {"portwall_conntrack_expired_total",
     "counter",
     "Connections timed out.",
     {"conntrack", "expired"}},
    {"portwall_conntrack_picked_up_total",
     "counter",
     "Connections adopted mid-stream after a start.",
     {"conntrack", "picked_up"}},
    {"portwall_blocked_sources",
     "gauge",
     "Sources on the block list.",
     {"defenses", "blocks", "entries"}},
    {"portwall_blocked_sources_max",
     "gauge",
     "Bound of the block list.",
     {"defenses", "blocks", "max"}},
    {"portwall_scan_blocks_total",
     "counter",
     "Sources blocked as port scanners.",
     {"counters", "scan_blocks"}},
    {"portwall_blocked_packets_total",
     "counter",
     "Packets dropped because their source (or destination) is blocked.",
     {"counters", "scan_blocked"}},
    {"portwall_sources",
     "gauge",
     "Sources in the per-source table.",
     {"defenses", "sources", "entries"}},
    {"portwall_sources_evicted_total",
     "counter",
     "Idle sources forgotten to make room in the per-source table.",
     {"defenses", "sources", "evicted"}},
    {"portwall_knock_packets_total",
     "counter",
     "Knock packets received (and dropped).",
     {"defenses", "knock", "packets"}},
    {"portwall_knock_opened_total",
     "counter",
     "Knock doors opened.",
     {"defenses", "knock", "opened"}},
    {"portwall_knock_failed_total",
     "counter",
     "Knock sequences that went wrong.",
     {"defenses", "knock", "failed"}},
    {"portwall_log_lines_written_total",
     "counter",
     "Decision log lines written.",
     {"log", "written"}},
    {"portwall_log_lines_suppressed_total",
     "counter",
     "Decision log lines left out by the rate limit (max_lines_per_second).",
     {"log", "suppressed"}},
    {"portwall_log_lines_lost_total",
     "counter",
     "Decision log lines lost: the log's queue was full.",
     {"log", "lost"}},
    {"portwall_log_write_failures_total",
     "counter",
     "Decision log lines the file did not take (disk full, I/O error).",
     {"log", "write_failed"}},
    {"portwall_log_reopened_total",
     "counter",
     "Times the decision log was reopened.",
     {"log", "reopened"}},
    {"portwall_audit_write_failures_total",
     "counter",
     "Audit log lines the file did not take.",
     {"log", "audit_write_failed"}},
    // The CrowdSec Local API's link: absent when [crowdsec] is off.
    {"portwall_crowdsec_blocks",
     "gauge",
     "Blocks from CrowdSec decisions in force.",
     {"crowdsec", "blocks"}},
    {"portwall_crowdsec_pulls_total",
     "counter",
     "Good pulls of the decision stream.",
     {"crowdsec", "pulls"}},
    {"portwall_crowdsec_pull_failures_total",
     "counter",
     "Pulls of the decision stream that failed (the last blocks stayed in force).",
     {"crowdsec", "failed_pulls"}},
    {"portwall_crowdsec_lag_seconds",
     "gauge",
     "Seconds since the last good pull.",
     {"crowdsec", "lag_seconds"}},
    {"portwall_crowdsec_blocks_not_made_total",
     "counter",
     "CrowdSec decisions not made blocks: the block list was full ([limits] max_blocks).",
     {"crowdsec", "blocks_not_made_full"}},
    {"portwall_crowdsec_decisions_ignored_total",
     "counter",
     "CrowdSec decisions ignored: not a ban, or not an address or a range.",
     {"crowdsec", "decisions_ignored"}},
    {"portwall_crowdsec_alerts_pushed_total",
     "counter",
     "Alerts of portwall's own blocks pushed to CrowdSec.",
     {"crowdsec", "source", "alerts_pushed"}},
    {"portwall_crowdsec_push_failures_total",
     "counter",
     "Pushes of alerts to CrowdSec that failed (their alerts wait for the next).",
     {"crowdsec", "source", "failed_pushes"}},
};

}  // namespace

std::string render_prometheus(const nlohmann::json& s) {
  Exposition m;
  m.family("portwall_info", "gauge", "The running daemon: backend and mode (always 1).");
  m.sample(1, {{"backend", text_of(at(s, {"backend"}))}, {"mode", text_of(at(s, {"mode"}))}});

  m.family("portwall_packets_total", "counter", "Packets judged, by verdict.");
  for (const char* v : {"accepted", "dropped", "rejected"}) {
    m.sample(at(s, {"counters", v}), {{"verdict", v}});
  }
  if (const nlohmann::json& d = at(s, {"decisions"}); d.is_object()) {
    m.family("portwall_decisions_total", "counter", "Packets judged, by verdict and reason.");
    for (const auto& [verdict, reasons] : d.items()) {
      if (!reasons.is_object()) continue;
      for (const auto& [reason, n] : reasons.items()) {
        m.sample(n, {{"verdict", verdict}, {"reason", reason}});
      }
    }
  }

  if (const nlohmann::json& rules = at(s, {"rules"}); rules.is_array()) {
    m.single("portwall_rules", "gauge", "Rules in force.", rules.size());
    for (const auto& [name, field, help] :
         {std::tuple{"portwall_rule_packets_total", "packets", "Packets matched by each rule."},
          std::tuple{"portwall_rule_bytes_total", "bytes", "Bytes matched by each rule."}}) {
      m.family(name, "counter", help);
      for (const nlohmann::json& r : rules) {
        m.sample(at(r, {field}), {{"rule", text_of(at(r, {"number"}))},
                                  {"action", text_of(at(r, {"action"}))},
                                  {"direction", text_of(at(r, {"direction"}))},
                                  {"proto", text_of(at(r, {"proto"}))},
                                  {"port", text_of(at(r, {"port"}))},
                                  {"comment", text_of(at(r, {"comment"}))}});
      }
    }
  }

  if (const nlohmann::json& queues = at(s, {"queue", "per_queue"}); queues.is_array()) {
    m.family("portwall_queue_packets_received_total", "counter",
             "Packets each NFQUEUE queue delivered to portwalld.");
    for (const nlohmann::json& q : queues) {
      m.sample(at(q, {"received"}), {{"queue", text_of(at(q, {"number"}))}});
    }
    m.family("portwall_queue_waiting_packets", "gauge",
             "Packets waiting in each queue for a verdict (the kernel's count).");
    for (const nlohmann::json& q : queues) {
      m.sample(at(q, {"waiting"}), {{"queue", text_of(at(q, {"number"}))}});
    }
    m.family("portwall_queue_dropped_total", "counter",
             "Packets the kernel dropped with fail-open off: queue full, or portwalld's socket "
             "buffer full.");
    for (const nlohmann::json& q : queues) {
      m.sample(at(q, {"dropped_full"}), {{"queue", text_of(at(q, {"number"}))}, {"cause", "full"}});
      m.sample(at(q, {"dropped_socket_full"}),
               {{"queue", text_of(at(q, {"number"}))}, {"cause", "socket"}});
    }
    m.family("portwall_queue_lost_messages_total", "counter",
             "Netlink messages lost on each queue's socket (ENOBUFS).");
    for (const nlohmann::json& q : queues) {
      m.sample(at(q, {"lost_messages"}), {{"queue", text_of(at(q, {"number"}))}});
    }
  }

  m.family("portwall_limit_drops_total", "counter", "New connections refused by a limit.");
  for (const auto& [key, kind] :
       {std::pair{"rule_rate_drops", "rule_rate"}, std::pair{"source_rate_drops", "source_rate"},
        std::pair{"source_connection_drops", "source_connections"}}) {
    m.sample(at(s, {"defenses", "limits", key}), {{"limit", kind}});
  }

  for (const Single& one : kSingles) m.single(one.name, one.type, one.help, at_path(s, one.path));
  return m.text();
}

}  // namespace portwall
