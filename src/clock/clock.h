// clock.h — the one notion of time every unit shares.
// Pure units never read a clock: they take a Timestamp parameter. Only the daemon
// owns a Clock (SteadyClock); tests drive logic with a FakeClock or plain Timestamps.
#pragma once

#include <chrono>
#include <cstdint>

namespace portwall {

using Duration = std::chrono::nanoseconds;
// Monotonic time since an arbitrary epoch (the daemon's steady clock).
using Timestamp = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
  // The same instant on the wall: milliseconds since the Unix epoch (for what is shown or kept
  // across restarts: a block's expiry, a confirmation's deadline).
  virtual std::int64_t unix_ms() const = 0;
};

class SteadyClock final : public Clock {
 public:
  Timestamp now() const override {
    return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
  }
  std::int64_t unix_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// A clock tests move by hand.
class FakeClock final : public Clock {
 public:
  Timestamp now() const override { return now_; }
  // The wall moves with now(): kUnixStartMs (2026-12-01T00:00:00Z) at Timestamp{}.
  std::int64_t unix_ms() const override {
    return kUnixStartMs +
           std::chrono::duration_cast<std::chrono::milliseconds>(now_.time_since_epoch()).count();
  }
  void advance(Duration d) { now_ += d; }
  void set(Timestamp t) { now_ = t; }
  static constexpr std::int64_t kUnixStartMs = 1'796'083'200'000;

 private:
  Timestamp now_{};
};

}  // namespace portwall
