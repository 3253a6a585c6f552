#include "detect/block_mirror.h"

#include <algorithm>

namespace portwall {
namespace {

unsigned full_length(Family family) { return family == Family::ipv4 ? 32 : 128; }

bool overlaps_any(const Cidr& range, const std::vector<Cidr>& list) {
  return std::any_of(list.begin(), list.end(), [&](const Cidr& c) { return overlaps(range, c); });
}

// Whole seconds the kernel may keep a block that ends at `until`: rounded down, so that it
// never outlasts the block; 0 with a block without an end.
std::uint32_t timeout_for(Timestamp until, Timestamp now) {
  if (until == Timestamp::max()) return 0;
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(until - now - BlockMirror::kApplyMargin)
          .count();
  return static_cast<std::uint32_t>(std::clamp<std::int64_t>(seconds, 0, BlockMirror::kMaxTimeout));
}

Timestamp kernel_until(std::uint32_t timeout_s, Timestamp now) {
  return timeout_s == 0 ? Timestamp::max() : now + std::chrono::seconds(timeout_s);
}

}  // namespace

bool overlaps(const Cidr& a, const Cidr& b) {
  if (a.network.family != b.network.family) return false;
  const unsigned shorter = std::min(a.prefix_length, b.prefix_length);
  return masked(a.network, shorter) == masked(b.network, shorter);
}

MirrorPlan BlockMirror::plan(std::span<const BlockEntry> blocks, const MirrorLimits& limits,
                             Timestamp now) const {
  struct Wanted {
    MirrorPlan::Source source;
    bool overlapping = false;
  };
  std::map<Key, Wanted> wanted;
  if (limits.enabled) {
    for (const BlockEntry& e : blocks) {
      const unsigned length = std::min<unsigned>(e.prefix_length, full_length(e.address.family));
      // hash:net takes no /0, and a block of everything is portwalld's to judge.
      // Less than a second left (past the margin): portwalld drops its last packets.
      if (length == 0 || e.until <= now ||
          (e.until != Timestamp::max() && timeout_for(e.until, now) == 0)) {
        continue;
      }
      const Cidr range{masked(e.address, length), static_cast<std::uint8_t>(length)};
      if (e.reason == BlockReason::crowdsec && overlaps_any(range, limits.feed_exempt)) continue;
      if (overlaps_any(range, limits.spared)) continue;
      auto [it, made] = wanted.try_emplace(Key{range}, Wanted{{e.until, e.reason}});
      if (!made && e.until > it->second.source.until) it->second.source = {e.until, e.reason};
    }
  }
  if (!limits.overlaps_allowed) {
    // In address order a range's contents follow it: a stack of the ranges still open finds
    // every pair where one holds the other.
    std::vector<Wanted*> open;
    std::vector<const Key*> open_keys;
    for (auto& [key, w] : wanted) {
      while (!open_keys.empty() && !overlaps(open_keys.back()->range, key.range)) {
        open_keys.pop_back();
        open.pop_back();
      }
      if (!open.empty()) {
        w.overlapping = true;
        for (Wanted* o : open) o->overlapping = true;
      }
      open.push_back(&w);
      open_keys.push_back(&key);
    }
  }
  MirrorPlan plan;
  for (const auto& [key, w] : wanted) {
    if (w.overlapping) continue;
    const std::uint32_t timeout = timeout_for(w.source.until, now);
    const auto found = mirrored_.find(key);
    if (found != mirrored_.end() && found->second.kernel_until > now) {
      const Mirrored& m = found->second;
      const bool same_end = m.block_until == w.source.until;
      // A block longer than the kernel's longest timeout is given it again before it runs out.
      const bool renew = m.kernel_until != Timestamp::max() &&
                         w.source.until - m.kernel_until > kApplyMargin + std::chrono::seconds(1) &&
                         m.kernel_until - now < kRenewBefore;
      if (same_end && !renew) continue;
      plan.changes.remove.push_back(key.range);
    }
    plan.changes.add.push_back({key.range, timeout});
    plan.added_from.push_back(w.source);
  }
  for (const auto& [key, m] : mirrored_) {
    const auto it = wanted.find(key);
    if (m.kernel_until > now && (it == wanted.end() || it->second.overlapping)) {
      plan.changes.remove.push_back(key.range);
    }
  }
  return plan;
}

void BlockMirror::applied(const MirrorPlan& plan, Timestamp now) {
  for (const Cidr& range : plan.changes.remove) mirrored_.erase(Key{range});
  for (std::size_t i = 0; i < plan.changes.add.size(); ++i) {
    const KernelBlock& k = plan.changes.add[i];
    Mirrored& m = mirrored_[Key{k.range}];
    m.block_until = plan.added_from[i].until;
    m.kernel_until = kernel_until(k.timeout_s, now);
    m.reason = plan.added_from[i].reason;
  }
  // What the kernel has dropped by itself on time (a little later than planned: its timer
  // started when the change was applied), forgotten once surely gone.
  std::erase_if(mirrored_, [now](const auto& entry) {
    return entry.second.kernel_until != Timestamp::max() &&
           entry.second.kernel_until + kForgetAfter <= now;
  });
}

void BlockMirror::forget() { mirrored_.clear(); }

std::vector<KernelDrops> BlockMirror::take_counts(std::span<const KernelBlockCount> counts) {
  std::vector<KernelDrops> drops;
  for (const KernelBlockCount& c : counts) {
    const auto it = mirrored_.find(Key{c.range});
    if (it == mirrored_.end()) continue;
    Mirrored& m = it->second;
    const std::uint64_t delta = c.packets >= m.packets ? c.packets - m.packets : c.packets;
    m.packets = c.packets;
    if (delta == 0) continue;
    dropped_ += delta;
    drops.push_back({c.range, m.reason, delta});
  }
  return drops;
}

std::vector<Cidr> BlockMirror::strays(std::span<const KernelBlockCount> counts) const {
  std::vector<Cidr> out;
  for (const KernelBlockCount& c : counts) {
    if (!mirrored_.contains(Key{c.range})) out.push_back(c.range);
  }
  return out;
}

std::size_t BlockMirror::held(Timestamp now) const {
  return static_cast<std::size_t>(
      std::count_if(mirrored_.begin(), mirrored_.end(),
                    [now](const auto& e) { return e.second.kernel_until > now; }));
}

bool BlockMirror::holds(const Cidr& range, Timestamp now) const {
  const auto it = mirrored_.find(Key{range});
  return it != mirrored_.end() && it->second.kernel_until > now;
}

}  // namespace portwall
