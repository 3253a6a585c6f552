// counters.h — every figure a queue thread keeps, each named once (Counter): the engine's
// verdicts and defenses, the monitor passes, the connection table's published size and churn,
// the queue socket's lost messages. Counters are written by their queue thread only and read by
// any thread; Figures is a reading of them, summed over queues with +=.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "policy/decision.h"

namespace portwall {

enum class Counter : std::uint8_t {
  received,
  accepted,
  dropped,
  rejected,
  malformed,       // the parser rejected the bytes
  picked_up,       // mid-stream flows adopted
  table_full,      // new flows dropped: no room in the table
  rate_limited,    // new connections refused by a `limit` rule or [limits]
  scan_blocks,     // sources blocked as scanners
  scan_blocked,    // packets dropped from (or to) blocked sources
  knocks,          // knock packets dropped (every kind)
  knock_opened,    // new connections let in by an open knock door
  monitor_passed,  // accepted only because of monitor mode
  flows,           // the connection table's entries, published after every batch
  evicted,         // ... and what it evicted, refused and expired so far
  refused,
  expired,
  lost_messages,  // the queue socket overflowed (ENOBUFS): the kernel's messages lost
};
inline constexpr std::size_t kCounters = static_cast<std::size_t>(Counter::lost_messages) + 1;

// The name status and the metrics give a counter: its enumerator's.
const char* to_string(Counter counter);

struct Figures {
  std::array<std::uint64_t, kCounters> counts{};
  std::array<std::array<std::uint64_t, kReasons>, kVerdicts> decisions{};  // [verdict][reason]

  std::uint64_t operator[](Counter c) const { return counts[static_cast<std::size_t>(c)]; }
  std::uint64_t& operator[](Counter c) { return counts[static_cast<std::size_t>(c)]; }
  Figures& operator+=(const Figures& other);
};

// One writer (its queue thread): plain adds, not locked ones; readers load atomically.
class Counters {
 public:
  void add(Counter c, std::uint64_t n = 1) { bump(counts_[static_cast<std::size_t>(c)], n); }
  void set(Counter c, std::uint64_t value) {
    counts_[static_cast<std::size_t>(c)].store(value, std::memory_order_relaxed);
  }
  void add_decision(Verdict verdict, Reason reason) {
    bump(decisions_[static_cast<std::size_t>(verdict)][static_cast<std::size_t>(reason)], 1);
  }
  std::uint64_t operator[](Counter c) const {
    return counts_[static_cast<std::size_t>(c)].load(std::memory_order_relaxed);
  }
  Figures read() const;

 private:
  static void bump(std::atomic<std::uint64_t>& counter, std::uint64_t n) {
    counter.store(counter.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::array<std::atomic<std::uint64_t>, kCounters> counts_{};
  std::array<std::array<std::atomic<std::uint64_t>, kReasons>, kVerdicts> decisions_{};
};

}  // namespace portwall
