// block_list.h — addresses and ranges whose every packet is dropped: scanners that scan
// detection caught, addresses an administrator blocked (`portwall blocked add`, as fail2ban's
// action does), and the decisions of a CrowdSec Local API (the feed).
// Shared by all queue threads (thread-safe); cheap when empty, because every packet asks, and a
// lookup costs one probe per prefix length present, whatever the number of blocks.
// Bounded, and a flood cannot empty it: new scan blocks come at most `scan_rate` a second and
// are not made when the list is full; a manual or feed block displaces one (the scan block that
// expires soonest), and nothing displaces a manual or feed block; the feed fills at most 9 in
// 10 places. The feed's blocks are a layer of their own: the feed sets and clears them, and
// they never merge with a local block of the same range. Time is passed in (steady clock).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "packet/ip_address.h"
#include "rules/rule.h"

namespace portwall {

enum class BlockReason : std::uint8_t { scan, manual, crowdsec };
enum class BlockAdded : std::uint8_t {
  added,         // in force now (new, longer, or made manual)
  kept,          // an existing block already covers it
  refused_rate,  // a new scan block beyond the rate of new scan blocks
  refused_full,  // the list is full (of blocks in force that this one may not displace)
};
const char* to_string(BlockReason reason);  // "scan", "manual", "crowdsec"

struct BlockEntry {
  IpAddress address;  // the range's network: its bits past prefix_length are zero
  Timestamp until;
  BlockReason reason = BlockReason::scan;
  std::uint8_t prefix_length = 128;  // the address's length or more: that address alone
  std::uint32_t tag = 0;             // feed blocks: BlockList::tag_name() gives the scenario

  bool single() const { return prefix_length >= (address.family == Family::ipv4 ? 32 : 128); }
  bool covers(const IpAddress& a) const {
    return a.family == address.family && masked(a, prefix_length) == address;
  }
};
// "203.0.113.9", or "198.51.100.0/24" for a range (as ipset and nft name a set's entries too).
std::string range_text(const BlockEntry& entry);
std::string range_text(const Cidr& range);

// What one feed answer changed (BlockList::apply_feed).
struct FeedApplied {
  std::size_t added = 0, removed = 0, refused_full = 0;
};

class BlockList {
 public:
  explicit BlockList(std::size_t max_entries = 65536);
  ~BlockList();
  BlockList(const BlockList&) = delete;
  BlockList& operator=(const BlockList&) = delete;

  // Blocks `address` (with `prefix_length`: its range) until `until`; an existing block is kept
  // if it lasts longer, and a manual block stays manual. When the list is full, a manual block
  // displaces the scan block that expires soonest (counted as evicted); a scan block is refused.
  // A crowdsec block sets the feed's block of that range, for exactly `until`.
  BlockAdded add(const IpAddress& address, Timestamp until, BlockReason reason, Timestamp now,
                 std::uint8_t prefix_length = 128);
  // A block from the state file, at start: as add(), outside the rate of new scan blocks.
  BlockAdded restore(const BlockEntry& entry, Timestamp now);
  // New scan blocks allowed per second (up to a second's worth at once); 0: unbounded.
  void set_scan_rate(std::uint32_t per_second);
  // Removes the local (scan or manual) block of exactly that address or range.
  bool remove(const IpAddress& address, std::uint8_t prefix_length = 128);
  // The feed's changes under one lock and one publication: `set` blocks (reason crowdsec, with
  // their tag) added or given their new `until`, `cleared` ranges' feed blocks removed. With
  // `replace_all`, every feed block not in `set` is removed too (a full pull).
  FeedApplied apply_feed(const std::vector<BlockEntry>& set, const std::vector<BlockEntry>& cleared,
                         bool replace_all, Timestamp now);
  // Addresses and networks the feed's blocks never block: the Local API's own (a range decision
  // that holds it would cut the bouncer off from the deletion that lifts it), the host's
  // infrastructure and [scan_detection] never_block. Replaced as a whole.
  // Two parts, each replaced as a whole by its owner.
  enum class ExemptFor : std::uint8_t { lapi, host };
  void set_feed_exempt(ExemptFor whose, std::vector<Cidr> networks);
  // A tag for feed blocks: the same text gives the same tag. tag_name(0) is "".
  std::vector<Cidr> feed_exempt() const;
  std::uint32_t tag_of(const std::string& name);
  std::string tag_name(std::uint32_t tag) const;
  std::size_t feed_size() const { return feed_count_.load(std::memory_order_relaxed); }
  // Whether `address` is blocked now (by its own block or a range's), under the list's lock
  // (control requests, tests). The packet path uses a Reader instead.
  bool contains(const IpAddress& address, Timestamp now) const {
    return find(address, now).has_value();
  }
  std::optional<BlockEntry> find(const IpAddress& address, Timestamp now) const;

  // The packet path's view, one per queue thread: lookups in an immutable snapshot of the list,
  // without a lock; the snapshot pointer is refreshed (under the lock, once) when the list
  // publishes a new one. Scan blocks are published at most every kPublishEvery; until then
  // the reader falls back to the locked lookup, so a new block takes effect at once. Removals
  // and expiries publish at once.
  class Reader {
   public:
    explicit Reader(const BlockList& list) : list_(&list) {}
    bool contains(const IpAddress& address, Timestamp now) {
      return find(address, now).has_value();
    }
    std::optional<BlockEntry> find(const IpAddress& address, Timestamp now);

   private:
    const BlockList* list_;
    std::uint64_t version_ = ~0ull;
    std::shared_ptr<const void> snapshot_;
  };
  static constexpr Duration kPublishEvery = std::chrono::milliseconds(50);
  // Publishes what add() held back (the daemon calls it every second).
  void publish_pending(Timestamp now);
  // The blocks still in force, soonest to expire first.
  std::vector<BlockEntry> list(Timestamp now) const;
  // Removes and returns the blocks whose time is over (for the log and the state file).
  std::vector<BlockEntry> expire(Timestamp now);

  std::size_t size() const { return count_.load(std::memory_order_relaxed); }
  std::size_t max_entries() const { return max_entries_; }
  std::uint64_t evicted() const { return evicted_.load(std::memory_order_relaxed); }
  // New scan blocks not made: beyond the rate, or with the list full. Feed blocks not made: full.
  std::uint64_t refused_rate() const { return refused_rate_.load(std::memory_order_relaxed); }
  std::uint64_t refused_full() const { return refused_full_.load(std::memory_order_relaxed); }
  std::uint64_t feed_refused_full() const {
    return feed_refused_full_.load(std::memory_order_relaxed);
  }
  // Changes whenever the local blocks do (add, remove, expire), not the feed's: the state file is
  // written when it moved.
  std::uint64_t generation() const { return generation_.load(std::memory_order_relaxed); }
  // Changes when any block is added or made longer, the feed's too: what offloaded connections
  // must be brought back for (a removal or an expiry needs nothing).
  std::uint64_t additions() const { return additions_.load(std::memory_order_relaxed); }
  // The feed's share of the list: 9 in 10 places, the rest kept for local blocks.
  std::size_t max_feed() const {
    return std::max<std::size_t>(max_entries_ - max_entries_ / 10, 1);
  }
  // Changes whenever what the packet path sees does (every publication): the kernel's copy
  // (block_mirror.h) follows it.
  std::uint64_t version() const { return published_version_.load(std::memory_order_acquire); }
  // Changes when a manual block is added or a block removed: written at once, not batched.
  std::uint64_t manual_generation() const {
    return manual_generation_.load(std::memory_order_relaxed);
  }

 private:
  struct Impl;
  // `store_counts`: size() and feed_size() follow at once (apply_feed stores them after its
  // publication, so that a count a status reads is in force).
  BlockAdded add_locked(const BlockEntry& entry, Timestamp now, bool rate_bound,
                        bool store_counts = true);
  // REQUIRES: mutex_ held exclusively. `force`: publish even if the last one was recent.
  void publish_locked(Timestamp now, bool force);
  std::unique_ptr<Impl> impl_;
  std::size_t max_entries_;
  mutable std::shared_mutex mutex_;
  std::shared_ptr<const void> published_;  // const Snapshot, guarded by mutex_
  std::atomic<std::uint64_t> published_version_{0};
  std::atomic<bool> unpublished_{false};  // the master map holds blocks the snapshot lacks
  Timestamp last_publish_{};
  std::atomic<std::size_t> count_{0}, feed_count_{0};
  std::atomic<std::uint64_t> evicted_{0}, generation_{0}, manual_generation_{0}, additions_{0};
  std::atomic<std::uint64_t> refused_rate_{0}, refused_full_{0}, feed_refused_full_{0};
};

}  // namespace portwall
