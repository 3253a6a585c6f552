// block_mirroring.cc — the block list's copy in the kernel (detect/block_mirror.h), kept by
// the daemon: planned from the list, applied through the diversion backend, and its counters
// turned into log lines and status figures.
#include <algorithm>

#include "daemon/daemon.h"

namespace portwall {
namespace {

// Reading every entry's counter costs about a microsecond an entry (ipset save, nft's JSON):
// with many entries they are read less often, a second per 20,000 entries.
Duration counts_every(std::size_t entries) {
  return std::max<Duration>(std::chrono::seconds(1), std::chrono::seconds(entries / 20'000));
}
// A plan even when nothing changed: blocks beyond the kernel's longest timeout are renewed,
// and the ranges spared for kept connections forgotten once their block is gone.
constexpr Duration kReplanEvery = std::chrono::minutes(1);

}  // namespace

void Daemon::follow_blocks(const std::optional<Cidr>& spared) {
  blocks_->publish_pending(clock_.now());
  std::lock_guard<std::mutex> lock(mirror_mutex_);
  if (spared) {
    spared_.push_back(*spared);
    mirrored_version_ = ~0ull;  // a plan even if the list did not change
  }
  plan_blocks_locked();  // only when the list, the mode or the exemptions changed
}

std::optional<KernelBlockFigures> Daemon::kernel_block_figures() {
  std::lock_guard<std::mutex> lock(mirror_mutex_);
  if (!mirroring_ && kernel_block_problem_.empty()) return std::nullopt;
  read_block_counts_locked();  // when due; the plan is the upkeep's and the requests' business
  return KernelBlockFigures{mirror_.held(clock_.now()), mirror_.dropped(), kernel_block_problem_};
}

void Daemon::plan_blocks_locked() {
  if (!mirroring_) return;
  const Timestamp now = clock_.now();
  const Mode current = mode();
  const std::uint64_t version = blocks_->version();
  if (version != mirrored_version_ || current != mirrored_mode_ ||
      now - mirrored_at_ >= kReplanEvery) {
    const std::vector<BlockEntry> list = blocks_->list(now);
    // A spared range (or, after a re-exec, a kept connection's remote) is forgotten once no
    // block overlaps it any more.
    std::erase_if(spared_, [&](const Cidr& c) {
      return std::none_of(list.begin(), list.end(), [&](const BlockEntry& e) {
        return overlaps(Cidr{e.address, e.prefix_length}, c);
      });
    });
    MirrorLimits limits;
    limits.enabled = current == Mode::enforce;  // monitor mode accepts what blocks would drop
    limits.feed_exempt = blocks_->feed_exempt();
    limits.spared = spared_;
    limits.overlaps_allowed = diversion_->block_overlaps_allowed();
    const MirrorPlan plan = mirror_.plan(list, limits, now);
    if (auto ok = diversion_->change_blocks(plan.changes); !ok) {
      // portwalld still drops them all; said once, and again after a success. What part of
      // the batch the kernel took is unknown: the set is emptied, and filled again whole by
      // the next plan (a second later), so that it never holds what the list lost.
      if (!mirror_failing_) say("cannot copy the blocks into the kernel: " + ok.error());
      mirror_failing_ = true;
      kernel_block_problem_ = ok.error();
      if (auto cleared = diversion_->clear_blocks(); !cleared) {
        say("cannot empty the kernel's set of blocks: " + cleared.error());
      }
      mirror_.forget();
      mirrored_version_ = ~0ull;
      return;
    }
    if (mirror_failing_) say("the blocks are copied into the kernel again");
    mirror_failing_ = false;
    kernel_block_problem_.clear();
    mirror_.applied(plan, now);
    mirrored_version_ = version;
    mirrored_mode_ = current;
    mirrored_at_ = now;
  }
}

void Daemon::read_block_counts_locked() {
  const Timestamp now = clock_.now();
  // At their pace, whoever asks: a reader asking for status in a loop runs ipset (or lists the
  // nft set) at most once a second, as it runs iptables-save.
  if (!mirroring_ || mirror_.size() == 0 || now - counts_read_at_ < counts_every(mirror_.size())) {
    return;
  }
  counts_read_at_ = now;
  auto counts = diversion_->block_counts();
  if (!counts) {
    if (!counts_failing_) say("cannot read the kernel's counters of blocks: " + counts.error());
    counts_failing_ = true;
    return;
  }
  counts_failing_ = false;
  if (BlockSetChanges stray{{}, mirror_.strays(*counts)}; !stray.empty()) {
    say(std::to_string(stray.remove.size()) +
        " entr(ies) in the kernel's set of blocks that portwalld did not put there: removed");
    if (auto ok = diversion_->change_blocks(stray); !ok) say("cannot remove them: " + ok.error());
  }
  log_kernel_drops_locked(mirror_.take_counts(*counts), now);
}

void Daemon::log_kernel_drops_locked(const std::vector<KernelDrops>& drops, Timestamp now) {
  std::uint32_t lines = 0;
  std::uint64_t held_back = 0;
  for (const KernelDrops& d : drops) {
    const std::uint64_t count = blocked_log_->note(d.range.network, now, d.packets);
    if (count == 0) continue;
    if (max_lines_per_second_ != 0 && lines >= max_lines_per_second_) {
      ++held_back;
      continue;
    }
    ++lines;
    LogEvent e;
    e.unix_ms = clock_.unix_ms();
    e.decision =
        Decision{Verdict::drop,
                 d.reason == BlockReason::scan ? Reason::scan_block : Reason::blocked, 0, true};
    e.decision.count = static_cast<std::uint32_t>(std::min<std::uint64_t>(count, UINT32_MAX));
    e.decision.by_feed = d.reason == BlockReason::crowdsec;
    e.direction = Direction::in;
    e.src = d.range.network;
    e.src_prefix = d.range.prefix_length;
    e.in_kernel = true;
    decision_log_->submit(e);
  }
  if (held_back) decision_log_->add_suppressed(held_back);
}

}  // namespace portwall
