// block_mirror.h — the kernel's copy of the block list: which blocks a kernel set (an ipset,
// or an nftables named set) drops before the queue, what that set must change to hold them,
// and what its per-entry packet counters add up to. The block list stays the one truth: this
// only follows it, and whatever it leaves out is still dropped by portwalld, one packet at a
// time. Pure: the caller reads the list, applies the changes to the kernel and hands the
// counters back. Not thread-safe (one owner, the daemon, under its own lock).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include "clock/clock.h"
#include "detect/block_list.h"
#include "rules/rule.h"

namespace portwall {

// One entry of the kernel set, as added: its range and how long the kernel keeps it.
struct KernelBlock {
  Cidr range;                   // host bits zero; the family's full length: one address
  std::uint32_t timeout_s = 0;  // 0: until removed (a block without an end)
  friend bool operator==(const KernelBlock&, const KernelBlock&) = default;
};

// What the kernel set must change: entries added (or, already there, given their new
// timeout) and entries removed.
struct BlockSetChanges {
  std::vector<KernelBlock> add;
  std::vector<Cidr> remove;
  bool empty() const { return add.empty() && remove.empty(); }
};

// One entry's packet counter, as the kernel set reports it.
struct KernelBlockCount {
  Cidr range;
  std::uint64_t packets = 0;
};

// A plan (BlockMirror::plan): the changes, and for each entry added the block it stands for.
struct MirrorPlan {
  BlockSetChanges changes;
  struct Source {
    Timestamp until;
    BlockReason reason = BlockReason::manual;
  };
  std::vector<Source> added_from;  // parallel to changes.add
};

// Packets the kernel dropped for one block since they were last reported.
struct KernelDrops {
  Cidr range;
  BlockReason reason = BlockReason::manual;
  std::uint64_t packets = 0;
};

// What is never mirrored, besides blocks of less than a second left.
struct MirrorLimits {
  // False (monitor mode, or [daemon] kernel_blocks = false): nothing is; the set empties.
  bool enabled = true;
  // The feed's blocks that cover one of these are left to portwalld, which lets those
  // addresses through (BlockList::set_feed_exempt): the LAPI's, the host's infrastructure.
  std::vector<Cidr> feed_exempt;
  // Ranges whose remotes have connections kept through their block (`blocked add
  // --keep-established`): a kernel drop would cut them.
  std::vector<Cidr> spared;
  // nftables' interval sets refuse overlapping elements: with false, a block that overlaps
  // another is left to portwalld (ipset's hash:net takes them, the longest match first).
  bool overlaps_allowed = true;
};

// Whether the two ranges share an address (one holds the other).
bool overlaps(const Cidr& a, const Cidr& b);

class BlockMirror {
 public:
  // The longest timeout the kernel set is given (ipset caps it near 24.8 days); a longer
  // block is given it again a day before it runs out.
  static constexpr std::uint32_t kMaxTimeout = 2'000'000;
  static constexpr Duration kRenewBefore = std::chrono::hours(24);

  // Taken off every timeout: the kernel's timer starts when the changes are applied, a little
  // after the plan (a batch of 100,000 takes a fraction of a second).
  static constexpr Duration kApplyMargin = std::chrono::seconds(1);
  // An entry the kernel expired is forgotten this long after, so that a reading of the set
  // just after its expiry does not find it a stray.
  static constexpr Duration kForgetAfter = std::chrono::seconds(5);

  // The changes that make the kernel set hold `blocks` (the list's blocks in force, in any
  // order; a range may come twice, the feed's and a local one) within `limits`. Timeouts are
  // rounded down to whole seconds, less kApplyMargin, so that the kernel never drops past a
  // block's end. An entry whose end changed is removed and added again (nftables before 6.12
  // keeps an element's old timeout when it is added again).
  MirrorPlan plan(std::span<const BlockEntry> blocks, const MirrorLimits& limits,
                  Timestamp now) const;
  // The kernel took the plan's changes at `now`.
  void applied(const MirrorPlan& plan, Timestamp now);
  // The kernel set was made anew (empty): the next plan adds everything again.
  void forget();

  // The set's counters as read now: what each block dropped since the last reading (a counter
  // that went back, an entry added again, counts from zero). Entries not mirrored are ignored.
  std::vector<KernelDrops> take_counts(std::span<const KernelBlockCount> counts);
  // Entries of `counts` (a reading of the whole set) that no plan put there: what a failed
  // change left behind, or another program added. The caller removes them.
  std::vector<Cidr> strays(std::span<const KernelBlockCount> counts) const;
  // Packets the kernel set has dropped since start, as read so far.
  std::uint64_t dropped() const { return dropped_; }
  // Entries believed in the kernel set (those it expired within kForgetAfter included).
  std::size_t size() const { return mirrored_.size(); }
  // Entries in force in the kernel set at `now`.
  std::size_t held(Timestamp now) const;
  // Whether `range` is in the kernel set now (by what was applied, kernel expiry included).
  bool holds(const Cidr& range, Timestamp now) const;

 private:
  struct Key {
    Cidr range;
    friend bool operator<(const Key& a, const Key& b) {
      return std::tie(a.range.network.family, a.range.network.bytes, a.range.prefix_length) <
             std::tie(b.range.network.family, b.range.network.bytes, b.range.prefix_length);
    }
  };
  struct Mirrored {
    Timestamp block_until;   // the block's end when it was mirrored
    Timestamp kernel_until;  // when the kernel drops the entry by itself (max: never)
    BlockReason reason = BlockReason::manual;
    std::uint64_t packets = 0;  // the counter as last read
  };
  std::map<Key, Mirrored> mirrored_;
  std::uint64_t dropped_ = 0;
};

}  // namespace portwall
