#include "detect/block_list.h"

#include <algorithm>
#include <map>
#include <mutex>
#include <unordered_map>

namespace portwall {

const char* to_string(BlockReason reason) {
  return reason == BlockReason::manual ? "manual" : "scan";
}

namespace {
// What readers look up: address -> blocked until. Immutable once published.
struct Snapshot {
  std::unordered_map<IpAddress, std::pair<Timestamp, BlockReason>, IpAddressHash> blocks;
};
}  // namespace

struct BlockList::Impl {
  // By address for the packet path; by expiry for expiry, and the scan blocks apart for
  // eviction (only they are ever evicted), all O(log n).
  using ByExpiry = std::multimap<Timestamp, IpAddress>;
  struct Item {
    BlockEntry entry;
    ByExpiry::iterator expiry;
    ByExpiry::iterator scan_expiry;  // scan_by_expiry.end() for a manual block
  };
  std::unordered_map<IpAddress, Item, IpAddressHash> blocks;
  ByExpiry by_expiry, scan_by_expiry;
  // New scan blocks: a generic cell rate algorithm, `scan_tat` when the bucket is empty again.
  std::uint32_t scan_rate = 100;
  Timestamp scan_tat{};

  void erase(std::unordered_map<IpAddress, Item, IpAddressHash>::iterator it) {
    by_expiry.erase(it->second.expiry);
    if (it->second.scan_expiry != scan_by_expiry.end()) scan_by_expiry.erase(it->second.scan_expiry);
    blocks.erase(it);
  }

  void file(Item& item) {
    const BlockEntry& e = item.entry;
    item.expiry = by_expiry.emplace(e.until, e.address);
    item.scan_expiry = e.reason == BlockReason::scan ? scan_by_expiry.emplace(e.until, e.address)
                                                     : scan_by_expiry.end();
  }

  void unfile(Item& item) {
    by_expiry.erase(item.expiry);
    if (item.scan_expiry != scan_by_expiry.end()) scan_by_expiry.erase(item.scan_expiry);
  }

  // One more new scan block within the rate? Up to a second's worth at once.
  bool scan_rate_allows(Timestamp now) {
    if (scan_rate == 0) return true;
    const Duration interval = std::chrono::duration_cast<Duration>(std::chrono::seconds(1)) /
                              scan_rate;
    const Timestamp next = std::max(scan_tat, now) + interval;
    if (next - now > interval * scan_rate) return false;
    scan_tat = next;
    return true;
  }
};

BlockList::BlockList(std::size_t max_entries)
    : impl_(std::make_unique<Impl>()), max_entries_(std::max<std::size_t>(max_entries, 1)) {}
BlockList::~BlockList() = default;

void BlockList::set_scan_rate(std::uint32_t per_second) {
  std::unique_lock lock(mutex_);
  impl_->scan_rate = per_second;
}

BlockAdded BlockList::add(const IpAddress& address, Timestamp until, BlockReason reason,
                          Timestamp now) {
  return add(address, until, reason, now, true);
}

BlockAdded BlockList::restore(const BlockEntry& entry, Timestamp now) {
  return add(entry.address, entry.until, entry.reason, now, false);
}

BlockAdded BlockList::add(const IpAddress& address, Timestamp until, BlockReason reason,
                          Timestamp now, bool rate_bound) {
  std::unique_lock lock(mutex_);
  Impl& m = *impl_;
  const bool scan = reason == BlockReason::scan;
  if (auto it = m.blocks.find(address); it != m.blocks.end()) {
    BlockEntry& e = it->second.entry;
    const bool expired = e.until <= now;
    // A scan never turns a manual block into a scan block (which could be evicted); a manual
    // block takes over a scan block and lasts at least as long.
    if (!expired && scan && e.reason == BlockReason::manual) return BlockAdded::kept;
    if (!expired && !scan && e.reason == BlockReason::scan) until = std::max(until, e.until);
    if (!(expired || e.until < until || e.reason != reason)) return BlockAdded::kept;
    m.unfile(it->second);
    e.until = until;
    e.reason = reason;
    m.file(it->second);
  } else {
    // A flood of new scan blocks is bounded, and never displaces a block in force: when full,
    // a new scan block is not made; a manual one takes the place of the scan block that
    // expires soonest, and is refused when there is none.
    const bool full = m.blocks.size() >= max_entries_;
    if (full && (scan || m.scan_by_expiry.empty())) {
      refused_full_.fetch_add(1, std::memory_order_relaxed);
      return BlockAdded::refused_full;
    }
    if (scan && rate_bound && !m.scan_rate_allows(now)) {
      refused_rate_.fetch_add(1, std::memory_order_relaxed);
      return BlockAdded::refused_rate;
    }
    if (full) {
      m.erase(m.blocks.find(m.scan_by_expiry.begin()->second));
      evicted_.fetch_add(1, std::memory_order_relaxed);
    }
    auto placed = m.blocks.emplace(address, Impl::Item{{address, until, reason}, {}, {}});
    m.file(placed.first->second);
  }
  count_.store(m.blocks.size(), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_relaxed);
  if (!scan) manual_generation_.fetch_add(1, std::memory_order_relaxed);
  publish_locked(now, false);
  return BlockAdded::added;
}

void BlockList::publish_locked(Timestamp now, bool force) {
  if (!force && now - last_publish_ < kPublishEvery) {
    unpublished_.store(true, std::memory_order_release);
    return;
  }
  auto snapshot = std::make_shared<Snapshot>();
  snapshot->blocks.reserve(impl_->blocks.size());
  for (const auto& [address, item] : impl_->blocks) {
    snapshot->blocks.emplace(address, std::pair{item.entry.until, item.entry.reason});
  }
  published_ = std::move(snapshot);
  last_publish_ = now;
  published_version_.fetch_add(1, std::memory_order_release);
  unpublished_.store(false, std::memory_order_release);
}

void BlockList::publish_pending(Timestamp now) {
  if (!unpublished_.load(std::memory_order_acquire)) return;
  std::unique_lock lock(mutex_);
  publish_locked(now, true);
}

std::optional<BlockEntry> BlockList::Reader::find(const IpAddress& address, Timestamp now) {
  if (list_->count_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  if (list_->published_version_.load(std::memory_order_acquire) != version_) {
    std::shared_lock lock(list_->mutex_);
    snapshot_ = list_->published_;
    version_ = list_->published_version_.load(std::memory_order_relaxed);
  }
  if (snapshot_) {
    const auto& snap = static_cast<const Snapshot*>(snapshot_.get())->blocks;
    if (auto it = snap.find(address); it != snap.end() && it->second.first > now) {
      return BlockEntry{address, it->second.first, it->second.second};
    }
  }
  // A block newer than the snapshot: ask the list itself until it is published.
  if (list_->unpublished_.load(std::memory_order_acquire)) return list_->find(address, now);
  return std::nullopt;
}

bool BlockList::remove(const IpAddress& address) {
  std::unique_lock lock(mutex_);
  auto it = impl_->blocks.find(address);
  const bool removed = it != impl_->blocks.end();
  if (removed) impl_->erase(it);
  count_.store(impl_->blocks.size(), std::memory_order_relaxed);
  if (removed) {
    generation_.fetch_add(1, std::memory_order_relaxed);
    manual_generation_.fetch_add(1, std::memory_order_relaxed);
    publish_locked(last_publish_, true);
  }
  return removed;
}

std::optional<BlockEntry> BlockList::find(const IpAddress& address, Timestamp now) const {
  if (count_.load(std::memory_order_relaxed) == 0) return std::nullopt;
  std::shared_lock lock(mutex_);
  auto it = impl_->blocks.find(address);
  if (it == impl_->blocks.end() || it->second.entry.until <= now) return std::nullopt;
  return it->second.entry;
}

std::vector<BlockEntry> BlockList::list(Timestamp now) const {
  std::vector<BlockEntry> out;
  std::shared_lock lock(mutex_);
  for (auto it = impl_->by_expiry.upper_bound(now); it != impl_->by_expiry.end(); ++it) {
    out.push_back(impl_->blocks.at(it->second).entry);
  }
  return out;
}

std::vector<BlockEntry> BlockList::expire(Timestamp now) {
  std::vector<BlockEntry> over;
  if (count_.load(std::memory_order_relaxed) == 0) return over;
  std::unique_lock lock(mutex_);
  Impl& m = *impl_;
  while (!m.by_expiry.empty() && m.by_expiry.begin()->first <= now) {
    auto it = m.blocks.find(m.by_expiry.begin()->second);
    over.push_back(it->second.entry);
    m.erase(it);
  }
  count_.store(m.blocks.size(), std::memory_order_relaxed);
  if (!over.empty()) {
    generation_.fetch_add(1, std::memory_order_relaxed);
    publish_locked(now, true);
  }
  return over;
}

}  // namespace portwall
