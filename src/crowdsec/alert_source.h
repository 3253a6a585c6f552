// alert_source.h — portwalld as a source of a CrowdSec Local API ([crowdsec] login): its own
// scan blocks (and with push_manual, `portwall blocked add`) are pushed as alerts that carry a
// ban decision (scenario portwall/port-scan, portwall/manual), so that every other host's
// bouncer applies them. It logs in as a machine (POST /v1/watchers/login: a token), pushes
// with POST /v1/alerts, checks the answer, and keeps what failed for the next round (bounded;
// what does not fit is counted). Blocks present when it starts (restored from the state file)
// were pushed by the run that made them. One push at a time, on its caller's thread.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "clock/clock.h"
#include "config/config.h"
#include "crowdsec/http_client.h"
#include "detect/block_list.h"

namespace portwall {

struct SourceFigures {
  std::uint64_t alerts_pushed = 0;
  std::uint64_t push_failures = 0;   // requests that failed (their alerts wait for the next)
  std::uint64_t alerts_dropped = 0;  // waiting alerts beyond the bound
  std::size_t alerts_waiting = 0;
  std::int64_t last_push_unix_ms = 0;
  std::string last_error;
};

class AlertSource {
 public:
  using Say = std::function<void(const std::string&)>;
  static constexpr std::size_t kMaxWaiting = 10000;
  static constexpr std::size_t kPerRequest = 500;
  AlertSource(const CrowdSecSection& config, const BlockList& blocks, HttpClient& http,
              const Clock& clock, Say say);

  // Finds the local blocks made since the last look and pushes what waits.
  void push();
  SourceFigures figures() const;

  // One alert as the LAPI takes it (a JSON object), for `block` at `unix_now_ms`.
  static std::string alert_json(const BlockEntry& block, Timestamp now, std::int64_t unix_now_ms);

 private:
  void look();
  bool log_in(std::string& error);

  CrowdSecSection config_;
  const BlockList* blocks_;
  HttpClient* http_;
  const Clock* clock_;
  Say say_;
  bool looked_ = false;
  std::string token_;
  // Local blocks seen, by range, with the end they had: a block that is new or lasts longer is
  // pushed.
  std::unordered_map<std::string, Timestamp> seen_;
  std::deque<std::string> waiting_;  // alerts (JSON objects) not pushed yet
  mutable std::mutex mutex_;
  SourceFigures figures_;
};

}  // namespace portwall
