#include "crowdsec/alert_source.h"

#include <nlohmann/json.hpp>

#include "audit/log_event.h"
#include "crowdsec/bouncer.h"

namespace portwall {
namespace {

constexpr const char* kScanScenario = "portwall/port-scan";
constexpr const char* kManualScenario = "portwall/manual";
// A block without an end: the LAPI needs a duration.
constexpr std::chrono::hours kForever{24 * 365};

}  // namespace

AlertSource::AlertSource(const CrowdSecSection& config, const BlockList& blocks, HttpClient& http,
                         const Clock& clock, Say say)
    : config_(config), blocks_(&blocks), http_(&http), clock_(&clock), say_(std::move(say)) {}

SourceFigures AlertSource::figures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return figures_;
}

std::string AlertSource::alert_json(const BlockEntry& block, Timestamp now,
                                    std::int64_t unix_now_ms) {
  const bool scan = block.reason == BlockReason::scan;
  const char* scenario = scan ? kScanScenario : kManualScenario;
  const std::string value = range_text(block);
  const char* scope = block.single() ? "Ip" : "Range";
  const auto left = block.until == Timestamp::max()
                        ? std::chrono::duration_cast<std::chrono::seconds>(kForever)
                        : std::chrono::duration_cast<std::chrono::seconds>(block.until - now);
  const std::string duration = std::to_string(std::max<std::int64_t>(left.count(), 1)) + "s";
  const std::string at = rfc3339_ms(unix_now_ms);
  nlohmann::json source = {{"scope", scope}, {"value", value}};
  source[block.single() ? "ip" : "range"] = value;
  const std::string message = std::string("portwall: ") + value +
                              (scan ? " scanned closed ports" : " blocked by hand") +
                              ", blocked for " + duration;
  nlohmann::json alert = {
      {"scenario", scenario},
      {"scenario_hash", ""},
      {"scenario_version", "1"},
      {"message", message},
      {"events_count", 1},
      {"start_at", at},
      {"stop_at", at},
      {"capacity", 0},
      {"leakspeed", "0"},
      {"simulated", false},
      {"remediation", true},
      {"events", nlohmann::json::array(
                     {{{"timestamp", at},
                       {"meta", nlohmann::json::array({{{"key", "source"}, {"value", value}}})}}})},
      {"source", source},
      {"decisions", nlohmann::json::array({{{"duration", duration},
                                            {"origin", "portwall"},
                                            {"scenario", scenario},
                                            {"scope", scope},
                                            {"type", "ban"},
                                            {"value", value}}})}};
  return alert.dump();
}

void AlertSource::look() {
  const Timestamp now = clock_->now();
  const std::int64_t wall = clock_->unix_ms();
  std::unordered_map<std::string, Timestamp> seen;
  std::size_t dropped = 0;
  for (const BlockEntry& b : blocks_->list(now)) {
    const bool ours =
        b.reason == BlockReason::scan || (b.reason == BlockReason::manual && config_.push_manual);
    if (!ours) continue;
    const std::string key = range_text(b);
    auto before = seen_.find(key);
    const bool fresh = before == seen_.end() || b.until > before->second;
    seen.emplace(key, b.until);
    if (!looked_ || !fresh) continue;
    if (waiting_.size() >= kMaxWaiting) {
      ++dropped;
      continue;
    }
    waiting_.push_back(alert_json(b, now, wall));
  }
  seen_ = std::move(seen);
  looked_ = true;
  std::lock_guard<std::mutex> lock(mutex_);
  figures_.alerts_dropped += dropped;
  figures_.alerts_waiting = waiting_.size();
}

bool AlertSource::log_in(std::string& error) {
  const nlohmann::json body = {{"machine_id", config_.login},
                               {"password", config_.password},
                               {"scenarios", nlohmann::json::array({kScanScenario})}};
  auto answer = http_->post(lapi_base(config_.lapi_url) + "v1/watchers/login", {}, body.dump());
  if (!answer) {
    error = "cannot reach " + config_.lapi_url + ": " + answer.error();
    return false;
  }
  if (answer->status != 200) {
    error = config_.lapi_url + " refused the login of machine " + config_.login + " (HTTP " +
            std::to_string(answer->status) +
            "): check login and password_file (cscli machines list)";
    return false;
  }
  const nlohmann::json j = nlohmann::json::parse(answer->body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("token") || !j["token"].is_string()) {
    error = config_.lapi_url + ": the login's answer holds no token";
    return false;
  }
  token_ = j["token"].get<std::string>();
  return true;
}

void AlertSource::push() {
  look();
  std::string error;
  std::size_t pushed = 0;
  while (!waiting_.empty() && error.empty()) {
    if (token_.empty() && !log_in(error)) break;
    const std::size_t n = std::min(waiting_.size(), kPerRequest);
    std::string body = "[";
    for (std::size_t i = 0; i < n; ++i) body += (i ? "," : "") + waiting_[i];
    body += "]";
    auto answer = http_->post(lapi_base(config_.lapi_url) + "v1/alerts",
                              {"Authorization: Bearer " + token_}, body);
    if (answer && answer->status == 401) {
      token_.clear();  // expired: log in again, once
      if (!log_in(error)) break;
      answer = http_->post(lapi_base(config_.lapi_url) + "v1/alerts",
                           {"Authorization: Bearer " + token_}, body);
    }
    if (!answer) {
      error = "cannot reach " + config_.lapi_url + ": " + answer.error();
    } else if (answer->status != 200 && answer->status != 201) {
      error = config_.lapi_url + " refused " + std::to_string(n) + " alert(s) (HTTP " +
              std::to_string(answer->status) + "): " + printable(answer->body, 200);
    } else {
      // The LAPI answers with the ids of the alerts it made: one per alert sent.
      const nlohmann::json ids = nlohmann::json::parse(answer->body, nullptr, false);
      if (!ids.is_array()) {
        error = config_.lapi_url + " answered " + std::to_string(n) +
                " alert(s) without their ids: " + printable(answer->body, 200);
      } else {
        waiting_.erase(waiting_.begin(), waiting_.begin() + static_cast<std::ptrdiff_t>(n));
        pushed += n;
      }
    }
  }
  std::lock_guard<std::mutex> lock(mutex_);
  figures_.alerts_pushed += pushed;
  figures_.alerts_waiting = waiting_.size();
  if (pushed) figures_.last_push_unix_ms = clock_->unix_ms();
  if (error.empty()) {
    figures_.last_error.clear();
    return;
  }
  ++figures_.push_failures;
  if (figures_.last_error != error) {
    say_("crowdsec: pushing alerts: " + error + "; " + std::to_string(waiting_.size()) +
         " alert(s) wait for the next try");
  }
  figures_.last_error = error;
}

}  // namespace portwall
