// bouncer.h — portwalld as a bouncer of a CrowdSec Local API: every `interval` it pulls the
// decision stream (startup=true until a pull succeeds, then the changes, and a full pull again
// every full_pull_every) into the block list's
// feed layer (crowdsec/decision_feed.h). When the LAPI cannot be reached or answers an error,
// the blocks of the last good pull stay in force and the retries back off (up to 6 intervals);
// the figures say when the last good pull was, the lag since, and the last error. The LAPI's
// own address is never blocked by its decisions (a range holding it would cut the bouncer off
// from the deletion that lifts it). One pull at
// a time, on its caller's thread; figures() from any thread.
#pragma once

#include <functional>
#include <mutex>
#include <string>

#include "audit/audit_trail.h"
#include "clock/clock.h"
#include "config/config.h"
#include "crowdsec/decision_feed.h"
#include "crowdsec/http_client.h"

namespace portwall {

struct BouncerFigures {
  std::string url;                     // the LAPI, as configured
  std::uint64_t pulls = 0;             // good pulls
  std::uint64_t failures = 0;          // failed pulls
  std::uint32_t failing_in_a_row = 0;  // since the last good one
  std::int64_t last_pull_unix_ms = 0;  // the last good pull; 0: none yet
  std::int64_t last_try_unix_ms = 0;
  std::string last_error;                  // of the last failed pull ("" when the last was good)
  double last_pull_seconds = 0;            // the last good pull: fetch and apply
  double last_apply_seconds = 0;           // of which reading the answer into the block list
  std::size_t decisions = 0;               // held now
  std::size_t blocks = 0;                  // the feed's blocks in force
  FeedCounts totals;                       // over every pull
  std::uint64_t blocks_not_made_full = 0;  // the block list was full
};

class Bouncer {
 public:
  using Say = std::function<void(const std::string&)>;
  Bouncer(const CrowdSecSection& config, BlockList& blocks, HttpClient& http, const Clock& clock,
          AuditTrail& audit, Say say);

  // One pull. How long to wait before the next: the interval, or the back-off after a failure.
  Duration pull();
  BouncerFigures figures() const;
  // The stream's address for this bouncer ("…/v1/decisions/stream?…").
  std::string stream_url(bool startup) const;

 private:
  CrowdSecSection config_;
  BlockList* blocks_;
  HttpClient* http_;
  const Clock* clock_;
  AuditTrail* audit_;
  Say say_;
  DecisionFeed feed_;
  bool started_ = false;      // a startup pull succeeded
  Timestamp full_pull_at_{};  // of the last good full pull
  IpAddress lapi_address_{};  // exempt from the feed's blocks (BlockList::set_feed_exempt)
  mutable std::mutex mutex_;
  BouncerFigures figures_;
};

// At most `at_most` characters of `text` with every control character as '?': what a LAPI
// answered may be shown and logged, never forge a line.
std::string printable(std::string_view text, std::size_t at_most);
// The LAPI's base address with one slash at its end.
std::string lapi_base(const std::string& url);

}  // namespace portwall
