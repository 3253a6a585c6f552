#include "crowdsec/crowdsec_link.h"

#include <algorithm>

namespace portwall {

CrowdSecLink::CrowdSecLink(const CrowdSecSection& config, std::shared_ptr<BlockList> blocks,
                           const Clock& clock, AuditTrail& audit, Say say)
    : config_(config), blocks_(std::move(blocks)), clock_(&clock) {
  // The LAPI's answers are read whole: bounded by what the block list could hold (about 140
  // bytes of JSON per decision; 32 MiB at least), so that no answer exhausts the heap.
  HttpLimits limits;
  limits.max_answer_bytes =
      std::max<std::size_t>(std::size_t{32} << 20, 512 * blocks_->max_entries());
  bouncer_http_ = curl_http(config.ca_file, limits, stopping_.get_token());
  bouncer_ = std::make_unique<Bouncer>(config, *blocks_, *bouncer_http_, clock, audit, say);
  if (config.source()) {
    HttpLimits small;
    small.max_answer_bytes = std::size_t{1} << 20;  // a token, a list of ids
    source_http_ = curl_http(config.ca_file, small, stopping_.get_token());
    source_ = std::make_unique<AlertSource>(config, *blocks_, *source_http_, clock, say);
  }
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

CrowdSecLink::~CrowdSecLink() {
  stopping_.request_stop();
  thread_.request_stop();
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

CrowdSecFigures CrowdSecLink::figures() const {
  CrowdSecFigures f;
  f.bouncer = bouncer_->figures();
  if (source_) f.source = source_->figures();
  return f;
}

void CrowdSecLink::run(std::stop_token stop) {
  // The source looks at the block list once a second when it changed, so that a scan block
  // reaches the LAPI within a second or two; after a failed push it waits an interval.
  constexpr Duration kLookEvery = std::chrono::seconds(1);
  Timestamp next_pull = clock_->now();
  Timestamp next_push = clock_->now();
  std::uint64_t looked_at = ~0ull;
  while (!stop.stop_requested()) {
    if (clock_->now() >= next_pull) next_pull = clock_->now() + bouncer_->pull();
    if (stop.stop_requested()) break;
    Timestamp next = next_pull;
    if (source_) {
      const std::uint64_t generation = blocks_->generation();
      const bool due = generation != looked_at || source_->figures().alerts_waiting > 0;
      if (due && clock_->now() >= next_push) {
        looked_at = generation;
        source_->push();
        next_push =
            clock_->now() + (source_->figures().last_error.empty() ? kLookEvery : config_.interval);
      }
      next = std::min(next, std::max(next_push, clock_->now() + kLookEvery));
    }
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, stop, next - clock_->now(), [] { return false; });
  }
}

}  // namespace portwall
