// bypass_watch.h — whether the kernel may have let some of a queue's packets past unseen, so
// that what portwalld learned from the packets it did see (a TCP flow's window) can be stale.
// The kernel numbers only the packets it hands to the queue; two signs remain:
// - a gap in the packet ids: packets the kernel numbered but could not deliver (the listener's
//   socket buffer was full), accepted uninspected under fail-open or dropped otherwise;
// - a queue at least half full while fail-open is on: a full queue accepts packets without
//   numbering them, so only the queue's fill tells. It is read (from the kernel's figures) only
//   while batches come full, that is while portwalld lags behind, and at most every
//   `probe_every`; half full rather than full, so that the sign comes before the bypass.
// Pure: the kernel's figure is read through the injected `waiting` function.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "clock/clock.h"

namespace portwall {

class BypassWatch {
 public:
  // Packets waiting in this queue for a verdict, or nullopt when unknown.
  using WaitingReader = std::function<std::optional<std::uint64_t>()>;

  // `queue_length` 0 or no reader: the fill is never probed (fail-open off: a full queue
  // drops, and a dropped packet leaves no window stale).
  BypassWatch(std::uint32_t queue_length, Duration probe_every, WaitingReader waiting);

  // After each received batch; `batch_full`: it had as many packets as it could hold. True
  // when the queue was just found at least half full.
  bool after_batch(Timestamp now, bool batch_full);
  // For each packet, in the order received; true when its id does not follow the previous one.
  bool on_packet_id(std::uint32_t id);

  std::uint64_t probes() const { return probes_; }

 private:
  std::uint32_t queue_length_;
  Duration probe_every_;
  WaitingReader waiting_;
  std::optional<Timestamp> last_probe_;
  std::uint32_t last_id_ = 0;  // 0: none seen yet (the kernel's ids start at 1)
  std::uint64_t probes_ = 0;
};

}  // namespace portwall
