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
  // By address for the packet path; by expiry for eviction and expiry, both O(log n).
  using ByExpiry = std::multimap<Timestamp, IpAddress>;
  struct Item {
    BlockEntry entry;
    ByExpiry::iterator expiry;
  };
  std::unordered_map<IpAddress, Item, IpAddressHash> blocks;
  ByExpiry by_expiry;

  void erase(std::unordered_map<IpAddress, Item, IpAddressHash>::iterator it) {
    by_expiry.erase(it->second.expiry);
    blocks.erase(it);
  }
};

BlockList::BlockList(std::size_t max_entries)
    : impl_(std::make_unique<Impl>()), max_entries_(std::max<std::size_t>(max_entries, 1)) {}
BlockList::~BlockList() = default;

void BlockList::add(const IpAddress& address, Timestamp until, BlockReason reason, Timestamp now) {
  std::unique_lock lock(mutex_);
  Impl& m = *impl_;
  if (auto it = m.blocks.find(address); it != m.blocks.end()) {
    BlockEntry& e = it->second.entry;
    if (e.until < until || e.until <= now) {
      e.until = until;
      e.reason = reason;
      m.by_expiry.erase(it->second.expiry);
      it->second.expiry = m.by_expiry.emplace(until, address);
    }
  } else {
    if (m.blocks.size() >= max_entries_) {
      m.erase(m.blocks.find(m.by_expiry.begin()->second));  // the soonest to expire
      evicted_.fetch_add(1, std::memory_order_relaxed);
    }
    m.blocks.emplace(address,
                     Impl::Item{{address, until, reason}, m.by_expiry.emplace(until, address)});
  }
  count_.store(m.blocks.size(), std::memory_order_relaxed);
  generation_.fetch_add(1, std::memory_order_relaxed);
  publish_locked(now, false);
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
    if (auto it = snap.find(address); it != snap.end()) {
      if (it->second.first <= now) return std::nullopt;
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
