// blocked_log_gate.h — how often the packets of a blocked source are logged (DESIGN.md
// "Decision log line"): its first packet, then at most one line per source per `every`
// (a minute) carrying the count of its packets dropped since the last line. Shared by the queue
// threads: a lock, taken only for packets of blocked sources. Bounded: when it tracks
// `max_sources`, sources whose line is due are forgotten first; a source it has no room for is
// not logged (its packets are still counted in the scan_blocked counter).
#pragma once

#include <cstdint>
#include <mutex>
#include <unordered_map>

#include "clock/clock.h"
#include "packet/ip_address.h"

namespace portwall {

class BlockedLogGate {
 public:
  explicit BlockedLogGate(std::size_t max_sources = 65536,
                          Duration every = std::chrono::minutes(1));

  // Counts one dropped packet of `source`: how many packets the line now due stands for (this
  // one included; 1 for a source's first packet), or 0 when no line is due.
  // `packets`: as many dropped at once (counted by the kernel's set of blocks).
  std::uint64_t note(const IpAddress& source, Timestamp now, std::uint64_t packets = 1);
  std::size_t size() const;

 private:
  struct Entry {
    Timestamp next_line;
    std::uint64_t count = 0;  // packets since the last line
  };
  const std::size_t max_sources_;
  const Duration every_;
  mutable std::mutex mutex_;
  std::unordered_map<IpAddress, Entry, IpAddressHash> entries_;
  Timestamp last_sweep_{};
};

}  // namespace portwall
