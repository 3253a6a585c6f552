// block_list.h — addresses whose every packet is dropped: scanners that scan detection caught,
// and addresses an administrator blocked (`portwall blocked add`). Shared by all queue threads
// (thread-safe); cheap when empty, because every packet asks. Bounded: when full, the block
// that would expire soonest makes room. Time is passed in (steady clock).
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <shared_mutex>
#include <vector>

#include "clock/clock.h"
#include "packet/ip_address.h"

namespace portwall {

enum class BlockReason : std::uint8_t { scan, manual };
const char* to_string(BlockReason reason);  // "scan", "manual"

struct BlockEntry {
  IpAddress address;
  Timestamp until;
  BlockReason reason = BlockReason::scan;
};

class BlockList {
 public:
  explicit BlockList(std::size_t max_entries = 65536);
  ~BlockList();
  BlockList(const BlockList&) = delete;
  BlockList& operator=(const BlockList&) = delete;

  // Blocks `address` until `until`; an existing block is kept if it lasts longer. When the list
  // is full, the block that expires soonest is dropped (counted as evicted).
  void add(const IpAddress& address, Timestamp until, BlockReason reason, Timestamp now);
  bool remove(const IpAddress& address);
  // Whether `address` is blocked now. One relaxed load when nobody is blocked.
  bool contains(const IpAddress& address, Timestamp now) const;
  // The blocks still in force, soonest to expire first.
  std::vector<BlockEntry> list(Timestamp now) const;
  // Removes and returns the blocks whose time is over (for the log and the state file).
  std::vector<BlockEntry> expire(Timestamp now);

  std::size_t size() const { return count_.load(std::memory_order_relaxed); }
  std::size_t max_entries() const { return max_entries_; }
  std::uint64_t evicted() const { return evicted_.load(std::memory_order_relaxed); }
  // Changes whenever the list does (add, remove, expire): the state file is written when it moved.
  std::uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::size_t max_entries_;
  mutable std::shared_mutex mutex_;
  std::atomic<std::size_t> count_{0};
  std::atomic<std::uint64_t> evicted_{0}, generation_{0};
};

}  // namespace portwall
