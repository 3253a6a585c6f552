// log_rate_limiter.h — a token bucket that decides whether a decision may be logged now.
// One per queue thread (no sharing, no lock); what it refuses is counted so that the log
// writer can say how many lines were suppressed. Time is passed in.
#pragma once

#include <cstdint>

#include "clock/clock.h"

namespace portwall {

class LogRateLimiter {
 public:
  // `per_second` lines on average, bursts up to `per_second`; 0 means unlimited.
  explicit LogRateLimiter(std::uint32_t per_second) : rate_(per_second), tokens_(per_second) {}

  bool allow(Timestamp now) {
    if (rate_ == 0) return true;
    refill(now);
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return true;
    }
    ++suppressed_;
    return false;
  }
  // Suppressed lines since the last call; resets the count.
  std::uint64_t take_suppressed() {
    std::uint64_t n = suppressed_;
    suppressed_ = 0;
    return n;
  }

 private:
  void refill(Timestamp now) {
    if (last_ == Timestamp{}) last_ = now;
    const double elapsed = std::chrono::duration<double>(now - last_).count();
    last_ = now;
    tokens_ += elapsed * rate_;
    if (tokens_ > rate_) tokens_ = rate_;
  }

  double rate_;
  double tokens_;
  Timestamp last_{};
  std::uint64_t suppressed_ = 0;
};

}  // namespace portwall
