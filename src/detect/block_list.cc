#include "detect/block_list.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

namespace portwall {

const char* to_string(BlockReason reason) {
  switch (reason) {
    case BlockReason::manual:
      return "manual";
    case BlockReason::crowdsec:
      return "crowdsec";
    case BlockReason::scan:
      break;
  }
  return "scan";
}

std::string range_text(const BlockEntry& entry) {
  return range_text(Cidr{entry.address, entry.prefix_length});
}

std::string range_text(const Cidr& range) {
  const unsigned full = range.network.family == Family::ipv4 ? 32 : 128;
  return range.prefix_length >= full
             ? to_string(range.network)
             : to_string(range.network) + "/" + std::to_string(range.prefix_length);
}

namespace {

unsigned bits_of(Family family) { return family == Family::ipv4 ? 32 : 128; }
std::size_t family_index(Family family) { return family == Family::ipv4 ? 0 : 1; }

// One block's place in the list: its range, and whether it is the feed's or a local one.
struct Key {
  IpAddress network;
  std::uint8_t length = 0;
  bool feed = false;
  friend bool operator==(const Key&, const Key&) = default;
};
struct KeyHash {
  std::size_t operator()(const Key& k) const noexcept {
    return IpAddressHash{}(k.network) ^
           (static_cast<std::size_t>(k.length) * 0x9e3779b97f4a7c15ull) ^
           static_cast<std::size_t>(k.feed);
  }
};

// The entry as the list keeps it: the network masked, the length at most the address's.
BlockEntry normalized(BlockEntry e) {
  e.prefix_length =
      static_cast<std::uint8_t>(std::min<unsigned>(e.prefix_length, bits_of(e.address.family)));
  e.address = masked(e.address, e.prefix_length);
  return e;
}
Key key_of(const BlockEntry& e) {
  return {e.address, e.prefix_length, e.reason == BlockReason::crowdsec};
}

// Which of two blocks of one range a packet's log line names: the one lasting longer; at equal
// ends, a manual block before the feed's before a scan's.
int rank(BlockReason r) {
  return r == BlockReason::manual ? 2 : r == BlockReason::crowdsec ? 1 : 0;
}

// What readers look up: per family, one table per prefix length present, longest first, keyed
// by the address masked to that length. Each table is open addressing with linear probing (at
// most two thirds full), its slots holding the key itself, in front of a bit filter of about 8
// bits per entry that stays in the CPU's cache: a lookup that misses (every packet of a source
// nobody blocked) is answered by the filter for 7 in 8 of the lengths present, the others by
// about one cache line of the table. Immutable once published.
struct Value {
  Timestamp until;
  BlockReason reason;
  std::uint32_t tag;
};
struct Level {
  struct Slot {
    std::uint64_t hi = 0, lo = 0;
    std::uint32_t value = 0;  // index + 1 into values; 0: an empty slot
  };
  std::uint8_t length = 0;
  std::vector<Slot> slots;            // a power of two
  std::vector<std::uint64_t> filter;  // a power of two of bits: one per key's hash
  std::vector<Value> values;

  static std::pair<std::uint64_t, std::uint64_t> key_of(const IpAddress& a) {
    std::uint64_t hi, lo;
    std::memcpy(&hi, a.bytes.data(), 8);
    std::memcpy(&lo, a.bytes.data() + 8, 8);
    return {hi, lo};
  }
  static std::uint64_t hash(std::uint64_t hi, std::uint64_t lo) {
    std::uint64_t h = hi ^ (lo * 0x9e3779b97f4a7c15ull);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    return h ^ (h >> 33);
  }
  bool filtered_out(std::uint64_t h) const {
    const std::uint64_t bit = (h >> 32) & (filter.size() * 64 - 1);
    return !(filter[bit >> 6] & (std::uint64_t{1} << (bit & 63)));
  }
  void reserve(std::size_t n) {
    std::size_t size = 16;
    while (size * 2 < n * 3) size <<= 1;
    slots.assign(size, {});
    std::size_t bits = 64;
    while (bits < 8 * n) bits <<= 1;
    filter.assign(bits / 64, 0);
    values.reserve(n);
  }
  // The value of `network` (masked to this length), or nullptr.
  const Value* find(const IpAddress& network) const {
    const auto [hi, lo] = key_of(network);
    const std::uint64_t h = hash(hi, lo);
    if (filtered_out(h)) return nullptr;
    for (std::size_t i = h & (slots.size() - 1);; i = (i + 1) & (slots.size() - 1)) {
      const Slot& slot = slots[i];
      if (slot.value == 0) return nullptr;
      if (slot.hi == hi && slot.lo == lo) return &values[slot.value - 1];
    }
  }
  Value* find(const IpAddress& network) {
    return const_cast<Value*>(static_cast<const Level*>(this)->find(network));
  }
  // REQUIRES: not there yet, and room (reserve() for every key put).
  void put(const IpAddress& network, const Value& v) {
    const auto [hi, lo] = key_of(network);
    const std::uint64_t h = hash(hi, lo);
    const std::uint64_t bit = (h >> 32) & (filter.size() * 64 - 1);
    filter[bit >> 6] |= std::uint64_t{1} << (bit & 63);
    std::size_t i = h & (slots.size() - 1);
    while (slots[i].value != 0) i = (i + 1) & (slots.size() - 1);
    values.push_back(v);
    slots[i] = {hi, lo, static_cast<std::uint32_t>(values.size())};
  }
};
struct Snapshot {
  std::array<std::vector<Level>, 2> levels;
  std::vector<Cidr> feed_exempt;  // a copy of Impl::feed_exempt
  bool feed_exempts(const IpAddress& a) const {
    return std::any_of(feed_exempt.begin(), feed_exempt.end(),
                       [&](const Cidr& c) { return c.contains(a); });
  }
};

std::optional<BlockEntry> snapshot_find(const Snapshot& s, const IpAddress& address,
                                        Timestamp now) {
  for (const Level& level : s.levels[family_index(address.family)]) {
    const IpAddress net = masked(address, level.length);
    if (const Value* v = level.find(net); v && v->until > now) {
      return BlockEntry{net, v->until, v->reason, level.length, v->tag};
    }
  }
  return std::nullopt;
}

}  // namespace

struct BlockList::Impl {
  // By range for lookups; by expiry for expiry, and the scan blocks apart for eviction (only
  // they are ever evicted), all O(log n).
  using ByExpiry = std::multimap<Timestamp, Key>;
  struct Item {
    BlockEntry entry;
    ByExpiry::iterator expiry;
    ByExpiry::iterator scan_expiry;  // scan_by_expiry.end() unless a scan block
  };
  using Map = std::unordered_map<Key, Item, KeyHash>;
  Map blocks;
  ByExpiry by_expiry, scan_by_expiry;
  // How many blocks have each prefix length, per family: the lengths a lookup probes.
  std::array<std::array<std::uint32_t, 129>, 2> lengths{};
  std::size_t feed = 0;
  // Addresses and networks the feed's blocks never block (BlockList::set_feed_exempt).
  std::vector<Cidr> feed_exempt;                  // both parts
  std::array<std::vector<Cidr>, 2> exempt_parts;  // by ExemptFor
  bool feed_exempts(const IpAddress& a) const {
    return std::any_of(feed_exempt.begin(), feed_exempt.end(),
                       [&](const Cidr& c) { return c.contains(a); });
  }
  std::vector<std::string> tags{""};
  std::unordered_map<std::string, std::uint32_t> tag_index;
  static constexpr std::size_t kMaxTags = 4096;
  // New scan blocks: a generic cell rate algorithm, `scan_tat` when the bucket is empty again.
  std::uint32_t scan_rate = 100;
  Timestamp scan_tat{};

  void file(Item& item) {
    const BlockEntry& e = item.entry;
    const Key k = key_of(e);
    item.expiry = by_expiry.emplace(e.until, k);
    item.scan_expiry =
        e.reason == BlockReason::scan ? scan_by_expiry.emplace(e.until, k) : scan_by_expiry.end();
  }

  void unfile(Item& item) {
    by_expiry.erase(item.expiry);
    if (item.scan_expiry != scan_by_expiry.end()) scan_by_expiry.erase(item.scan_expiry);
  }

  void place(const BlockEntry& e) {
    auto placed = blocks.emplace(key_of(e), Item{e, {}, {}});
    file(placed.first->second);
    ++lengths[family_index(e.address.family)][e.prefix_length];
    feed += e.reason == BlockReason::crowdsec;
  }

  void erase(Map::iterator it) {
    const BlockEntry& e = it->second.entry;
    unfile(it->second);
    --lengths[family_index(e.address.family)][e.prefix_length];
    feed -= e.reason == BlockReason::crowdsec;
    blocks.erase(it);
  }

  // The block of `address` in force now, by the longest range first; nullopt when none.
  std::optional<BlockEntry> find(const IpAddress& address, Timestamp now) const {
    const auto& present = lengths[family_index(address.family)];
    for (int length = static_cast<int>(bits_of(address.family)); length >= 0; --length) {
      if (present[length] == 0) continue;
      const IpAddress net = masked(address, static_cast<unsigned>(length));
      const BlockEntry* best = nullptr;
      const bool exempt = feed_exempts(address);
      for (bool feed_layer : {false, true}) {
        if (feed_layer && exempt) continue;
        auto it = blocks.find({net, static_cast<std::uint8_t>(length), feed_layer});
        if (it == blocks.end() || it->second.entry.until <= now) continue;
        if (!best || it->second.entry.until > best->until) best = &it->second.entry;
      }
      if (best) return *best;
    }
    return std::nullopt;
  }

  // One more new scan block within the rate? Up to a second's worth at once.
  bool scan_rate_allows(Timestamp now) {
    if (scan_rate == 0) return true;
    const Duration interval =
        std::chrono::duration_cast<Duration>(std::chrono::seconds(1)) / scan_rate;
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
                          Timestamp now, std::uint8_t prefix_length) {
  std::unique_lock lock(mutex_);
  const BlockAdded added = add_locked({address, until, reason, prefix_length, 0}, now, true);
  if (added == BlockAdded::added) {
    if (reason == BlockReason::manual) manual_generation_.fetch_add(1, std::memory_order_relaxed);
    publish_locked(now, false);
  }
  return added;
}

BlockAdded BlockList::restore(const BlockEntry& entry, Timestamp now) {
  std::unique_lock lock(mutex_);
  const BlockAdded added = add_locked(entry, now, false);
  if (added == BlockAdded::added) publish_locked(now, false);
  return added;
}

BlockAdded BlockList::add_locked(const BlockEntry& given, Timestamp now, bool rate_bound,
                                 bool store_counts) {
  Impl& m = *impl_;
  BlockEntry wanted = normalized(given);
  const bool scan = wanted.reason == BlockReason::scan;
  const bool feed = wanted.reason == BlockReason::crowdsec;
  if (auto it = m.blocks.find(key_of(wanted)); it != m.blocks.end()) {
    BlockEntry& e = it->second.entry;
    if (feed) {
      // The feed says exactly how long its block lasts.
      if (e.until == wanted.until && e.tag == wanted.tag) return BlockAdded::kept;
    } else {
      const bool expired = e.until <= now;
      // A scan never turns a manual block into a scan block (which could be evicted); a manual
      // block takes over a scan block and lasts at least as long.
      if (!expired && scan && e.reason == BlockReason::manual) return BlockAdded::kept;
      if (!expired && !scan && e.reason == BlockReason::scan) {
        wanted.until = std::max(wanted.until, e.until);
      }
      if (!(expired || e.until < wanted.until || e.reason != wanted.reason)) {
        return BlockAdded::kept;
      }
    }
    m.unfile(it->second);
    e.until = wanted.until;
    e.reason = wanted.reason;
    e.tag = wanted.tag;
    m.file(it->second);
  } else {
    // A flood of new scan blocks is bounded, and never displaces a block in force: when full,
    // a new scan block is not made; a manual or feed one takes the place of the scan block
    // that expires soonest, and is refused when there is none.
    const bool full = m.blocks.size() >= max_entries_;
    // The feed fills at most 9 in 10 places: the rest stay for this host's own blocks.
    if (feed && m.feed >= max_feed()) {
      feed_refused_full_.fetch_add(1, std::memory_order_relaxed);
      return BlockAdded::refused_full;
    }
    if (full && (scan || m.scan_by_expiry.empty())) {
      (feed ? feed_refused_full_ : refused_full_).fetch_add(1, std::memory_order_relaxed);
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
    m.place(wanted);
  }
  if (store_counts) {
    count_.store(m.blocks.size(), std::memory_order_relaxed);
    feed_count_.store(m.feed, std::memory_order_relaxed);
  }
  if (!feed) generation_.fetch_add(1, std::memory_order_relaxed);
  additions_.fetch_add(1, std::memory_order_relaxed);
  return BlockAdded::added;
}

FeedApplied BlockList::apply_feed(const std::vector<BlockEntry>& set,
                                  const std::vector<BlockEntry>& cleared, bool replace_all,
                                  Timestamp now) {
  FeedApplied applied;
  std::unique_lock lock(mutex_);
  Impl& m = *impl_;
  auto erase_feed = [&](const Key& k) {
    if (auto it = m.blocks.find(k); it != m.blocks.end()) {
      m.erase(it);
      ++applied.removed;
    }
  };
  if (replace_all && m.feed > 0) {
    std::unordered_set<Key, KeyHash> wanted;
    wanted.reserve(set.size());
    for (BlockEntry e : set) {
      e.reason = BlockReason::crowdsec;
      wanted.insert(key_of(normalized(e)));
    }
    for (auto it = m.blocks.begin(); it != m.blocks.end();) {
      auto next = std::next(it);
      if (it->first.feed && !wanted.contains(it->first)) {
        m.erase(it);
        ++applied.removed;
      }
      it = next;
    }
  }
  for (BlockEntry e : cleared) {
    e.reason = BlockReason::crowdsec;
    erase_feed(key_of(normalized(e)));
  }
  for (BlockEntry e : set) {
    e.reason = BlockReason::crowdsec;
    if (e.until <= now) continue;
    const BlockAdded added = add_locked(e, now, false, false);
    applied.added += added == BlockAdded::added;
    applied.refused_full += added == BlockAdded::refused_full;
  }
  // Published first, counted after: a feed's count (status) is in force when it is read. A
  // snapshot of 100,000 blocks takes a fraction of a second to build, during which the queue
  // threads still judge by the old one.
  if (applied.added + applied.removed > 0) publish_locked(now, true);
  count_.store(m.blocks.size(), std::memory_order_relaxed);
  feed_count_.store(m.feed, std::memory_order_relaxed);
  return applied;
}

void BlockList::set_feed_exempt(ExemptFor whose, std::vector<Cidr> networks) {
  std::unique_lock lock(mutex_);
  Impl& m = *impl_;
  auto& part = m.exempt_parts[static_cast<std::size_t>(whose)];
  if (part == networks) return;
  part = std::move(networks);
  m.feed_exempt = m.exempt_parts[0];
  m.feed_exempt.insert(m.feed_exempt.end(), m.exempt_parts[1].begin(), m.exempt_parts[1].end());
  publish_locked(last_publish_, true);
}

std::vector<Cidr> BlockList::feed_exempt() const {
  std::shared_lock lock(mutex_);
  return impl_->feed_exempt;
}

std::uint32_t BlockList::tag_of(const std::string& name) {
  std::unique_lock lock(mutex_);
  Impl& m = *impl_;
  if (auto it = m.tag_index.find(name); it != m.tag_index.end()) return it->second;
  if (m.tags.size() >= Impl::kMaxTags) return 0;
  const auto tag = static_cast<std::uint32_t>(m.tags.size());
  m.tags.push_back(name);
  m.tag_index.emplace(name, tag);
  return tag;
}

std::string BlockList::tag_name(std::uint32_t tag) const {
  std::shared_lock lock(mutex_);
  return tag < impl_->tags.size() ? impl_->tags[tag] : std::string();
}

void BlockList::publish_locked(Timestamp now, bool force) {
  if (!force && now - last_publish_ < kPublishEvery) {
    unpublished_.store(true, std::memory_order_release);
    return;
  }
  const Impl& m = *impl_;
  auto snapshot = std::make_shared<Snapshot>();
  // Where each (family, length) has its level: longest first.
  std::array<std::array<std::int16_t, 129>, 2> level_of{};
  for (std::size_t f = 0; f < 2; ++f) {
    level_of[f].fill(-1);
    for (int length = f == 0 ? 32 : 128; length >= 0; --length) {
      if (m.lengths[f][length] == 0) continue;
      level_of[f][length] = static_cast<std::int16_t>(snapshot->levels[f].size());
      snapshot->levels[f].push_back({});
      snapshot->levels[f].back().length = static_cast<std::uint8_t>(length);
      snapshot->levels[f].back().reserve(m.lengths[f][length]);
    }
  }
  for (const auto& [key, item] : m.blocks) {
    const BlockEntry& e = item.entry;
    const std::size_t f = family_index(e.address.family);
    Level& level = snapshot->levels[f][level_of[f][e.prefix_length]];
    const Value v{e.until, e.reason, e.tag};
    if (Value* there = level.find(e.address)) {
      // The same range in both layers: the one that lasts longer names it.
      if (v.until > there->until ||
          (v.until == there->until && rank(v.reason) > rank(there->reason))) {
        *there = v;
      }
    } else {
      level.put(e.address, v);
    }
  }
  snapshot->feed_exempt = m.feed_exempt;
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
    if (auto found = snapshot_find(*static_cast<const Snapshot*>(snapshot_.get()), address, now)) {
      // The feed's block of an address it may not block (the LAPI's, the host's infrastructure):
      // the list itself decides, layer by layer. Only those addresses' packets come this way.
      const auto& snapshot = *static_cast<const Snapshot*>(snapshot_.get());
      if (found->reason == BlockReason::crowdsec && snapshot.feed_exempts(address)) {
        return list_->find(address, now);
      }
      return found;
    }
  }
  // A block newer than the snapshot: ask the list itself until it is published.
  if (list_->unpublished_.load(std::memory_order_acquire)) return list_->find(address, now);
  return std::nullopt;
}

bool BlockList::remove(const IpAddress& address, std::uint8_t prefix_length) {
  std::unique_lock lock(mutex_);
  const BlockEntry wanted = normalized({address, {}, BlockReason::manual, prefix_length, 0});
  auto it = impl_->blocks.find(key_of(wanted));
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
  return impl_->find(address, now);
}

std::vector<BlockEntry> BlockList::list(Timestamp now) const {
  std::vector<BlockEntry> out;
  std::shared_lock lock(mutex_);
  out.reserve(impl_->blocks.size());
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
  bool local = false;
  while (!m.by_expiry.empty() && m.by_expiry.begin()->first <= now) {
    auto it = m.blocks.find(m.by_expiry.begin()->second);
    over.push_back(it->second.entry);
    local = local || !it->first.feed;
    m.erase(it);
  }
  count_.store(m.blocks.size(), std::memory_order_relaxed);
  feed_count_.store(m.feed, std::memory_order_relaxed);
  if (local) generation_.fetch_add(1, std::memory_order_relaxed);
  if (!over.empty()) publish_locked(now, true);
  return over;
}

}  // namespace portwall
