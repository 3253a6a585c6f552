#include "policy/counters.h"

namespace portwall {

const char* to_string(Counter counter) {
  static constexpr std::array<const char*, kCounters> kNames = {
      "received",  "accepted",     "dropped",        "rejected",    "malformed",
      "picked_up", "table_full",   "rate_limited",   "scan_blocks", "scan_blocked",
      "knocks",    "knock_opened", "monitor_passed", "flows",       "evicted",
      "refused",   "expired",      "lost_messages"};
  return kNames[static_cast<std::size_t>(counter)];
}

Figures& Figures::operator+=(const Figures& other) {
  for (std::size_t i = 0; i < kCounters; ++i) counts[i] += other.counts[i];
  for (std::size_t v = 0; v < kVerdicts; ++v) {
    for (std::size_t r = 0; r < kReasons; ++r) decisions[v][r] += other.decisions[v][r];
  }
  return *this;
}

Figures Counters::read() const {
  Figures f;
  for (std::size_t i = 0; i < kCounters; ++i)
    f.counts[i] = counts_[i].load(std::memory_order_relaxed);
  for (std::size_t v = 0; v < kVerdicts; ++v) {
    for (std::size_t r = 0; r < kReasons; ++r) {
      f.decisions[v][r] = decisions_[v][r].load(std::memory_order_relaxed);
    }
  }
  return f;
}

}  // namespace portwall
