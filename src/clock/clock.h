// clock.h — the one notion of time every unit shares.
// Pure units never read a clock: they take a Timestamp parameter. Only the daemon
// owns a Clock (SteadyClock); tests drive logic with a FakeClock or plain Timestamps.
#pragma once

#include <chrono>

namespace portwall {

using Duration = std::chrono::nanoseconds;
// Monotonic time since an arbitrary epoch (the daemon's steady clock).
using Timestamp = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  Timestamp now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
};

// A clock tests move by hand.
class FakeClock final : public Clock {
 public:
  Timestamp now() const override { return now_; }
  void advance(Duration d) { now_ += d; }
  void set(Timestamp t) { now_ = t; }

 private:
  Timestamp now_{};
};

}  // namespace portwall
