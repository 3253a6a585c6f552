// defense_keeping.cc — the defenses' upkeep on the daemon's main thread: the state file that
// lets blocks and used one-time knocks survive a restart, and the expiry of blocks.
#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "daemon/daemon.h"
#include "fs/file_system.h"
#include "host/host_sockets.h"
#include "host/infrastructure.h"
#include "netfilter/conntrack_flush.h"
#include "rules/rule_writer.h"
#include "state/defense_state.h"

namespace portwall {

void Daemon::load_defense_state() {
  const std::string& path = loaded_.config.daemon.state_file;
  if (path.empty()) return;
  auto text = read_file(path);
  if (!text) {
    if (text.error() != std::strerror(ENOENT)) {
      say("cannot read state file " + path + ": " + text.error());
    }
    return;
  }
  auto state = read_defense_state(text->text);
  if (!state) {
    // Kept aside, not overwritten: the administrator may want what it held.
    const std::string aside = path + ".broken";
    std::error_code ec;
    std::filesystem::rename(path, aside, ec);
    say("state file " + path + " is broken (" + state.error() + "); moved to " + aside +
        ", starting with no blocks");
    return;
  }
  const Timestamp now = clock_.now();
  const std::int64_t wall = clock_.unix_ms();
  std::size_t restored = 0, no_room = 0;
  for (const SavedBlock& saved : state->blocks) {
    const BlockEntry e = restore_block(saved, now, wall);
    if (e.until <= now) continue;
    const BlockAdded added = blocks_->restore(e, now);
    restored += added == BlockAdded::added;
    no_room += added == BlockAdded::refused_full;
  }
  if (no_room > 0) {
    say(std::to_string(no_room) + " block(s) of " + path +
        " not restored: the block list is full ([limits] max_blocks = " +
        std::to_string(blocks_->max_entries()) + "; raise it to keep them all)");
  }
  sources_->restore_used_one_time_sequences(state->used_one_time_sequences);
  std::vector<SeenSpaNonce> nonces;
  for (const SavedSpaNonce& n : state->used_spa_nonces) {
    nonces.push_back({n.nonce, now + steady_offset(n.forget_unix_ms, wall)});
  }
  sources_->restore_used_spa_nonces(nonces, now);
  say("restored " + std::to_string(restored) + " block(s), " +
      std::to_string(state->used_one_time_sequences.size()) + " used one-time knock(s) and " +
      std::to_string(sources_->used_spa_nonces(now).size()) + " used SPA nonce(s) from " + path);
}

void Daemon::save_defense_state(bool force) {
  const std::string& path = loaded_.config.daemon.state_file;
  if (path.empty()) return;
  const std::uint64_t generation = blocks_->generation() + sources_->generation();
  const std::uint64_t urgent = blocks_->manual_generation() + sources_->generation();
  const Timestamp now = clock_.now();
  if (!force && generation == saved_generation_) return;
  if (!force && urgent == saved_urgent_ && now - saved_at_ < kScanStateEvery) return;
  if (force && saved_generation_ == ~0ull && generation == 0) return;  // nothing ever changed
  DefenseState state;
  const std::int64_t wall = clock_.unix_ms();
  for (const BlockEntry& e : blocks_->list(now)) {
    if (e.reason != BlockReason::crowdsec) state.blocks.push_back(save_block(e, now, wall));
  }
  state.used_one_time_sequences = sources_->used_one_time_sequences();
  for (const SeenSpaNonce& n : sources_->used_spa_nonces(now)) {
    state.used_spa_nonces.push_back(
        {n.nonce,
         wall + std::chrono::duration_cast<std::chrono::milliseconds>(n.forget_at - now).count()});
  }
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  if (auto ok = write_file_atomically(path, write_defense_state(state)); !ok) {
    say("cannot write state file: " + ok.error());
    return;
  }
  saved_generation_ = generation;
  saved_urgent_ = urgent;
  saved_at_ = now;
}

void Daemon::bring_back_offloaded(const char* why) {
  if (!offload_mark_) return;
  if (auto ok = flush_conntrack_by_mark(offload_mark_); !ok) {
    say(std::string("cannot bring offloaded connections back (") + why + "): " + ok.error());
  }
  // Their flows here were kept, but may have made room for others meanwhile.
  reopen_pickup();
}

void Daemon::reopen_pickup() {
  const Timestamp until = clock_.now() + loaded_.config.conntrack.pickup_grace;
  const std::shared_ptr<const LocalSockets> sockets = local_sockets();
  for (auto& w : workers_) w->open_pickup(until, sockets);
}

std::shared_ptr<const LocalSockets> Daemon::local_sockets() const {
  std::optional<LocalSockets> found = read_local_sockets();
  if (!found) return nullptr;
  return std::make_shared<const LocalSockets>(std::move(*found));
}

void Daemon::keep_defenses() {
  blocks_->publish_pending(clock_.now());
  for (const BlockEntry& e : blocks_->expire(clock_.now())) {
    // The feed's own expiries are its decisions' durations, not changes made here.
    if (e.reason == BlockReason::crowdsec) continue;
    audit_log_->record(-1, "unblock", "expired", range_text(e) + " reason=" + to_string(e.reason));
  }
  // A new block must also end the blocked source's offloaded connections.
  // (Only an addition: a removal or an expiry leaves nothing offloaded to cut, and a CrowdSec
  // feed's expiries come every few seconds.)
  if (const std::uint64_t g = blocks_->additions(); g != blocks_seen_) {
    blocks_seen_ = g;
    bring_back_offloaded("block list changed");
  }
  save_defense_state(false);
  bool due = false;
  {
    std::lock_guard<std::mutex> lock(infrastructure_mutex_);
    due = clock_.now() - infrastructure_read_ >= kInfrastructureEvery;
  }
  if (due) trust_infrastructure();
  // Last: after the expiries and the exemptions read again.
  std::lock_guard<std::mutex> lock(mirror_mutex_);
  plan_blocks_locked();
  read_block_counts_locked();
}

void Daemon::trust_infrastructure() {
  // The main thread (every kInfrastructureEvery) and a reload (control thread) both come here.
  std::lock_guard<std::mutex> lock(infrastructure_mutex_);
  infrastructure_read_ = clock_.now();
  const Infrastructure found = read_infrastructure();
  std::vector<IpAddress> all = found.all();
  // CrowdSec's decisions never block these either, nor never_block: a range decision (or a
  // machine of the fleet an attacker holds) cannot cut the host off from its gateway,
  // resolvers or the administrator's office.
  if (blocks_) {
    std::vector<Cidr> exempt;
    for (const IpAddress& a : all) exempt.push_back({a, static_cast<std::uint8_t>(a.size() * 8)});
    const std::shared_ptr<const LiveSettings> live = settings();
    if (live) {
      exempt.insert(exempt.end(), live->scan_detection.never_block.begin(),
                    live->scan_detection.never_block.end());
    }
    blocks_->set_feed_exempt(BlockList::ExemptFor::host, std::move(exempt));
  }
  if (all == sources_->trusted()) return;
  auto text = [](const std::vector<IpAddress>& list) {
    std::string t;
    for (const IpAddress& a : list) t += (t.empty() ? "" : " ") + to_string(a);
    return t.empty() ? std::string("none") : t;
  };
  say("scan detection never blocks the gateways (" + text(found.gateways) + "), resolvers (" +
      text(found.resolvers) + ") and " + std::to_string(found.own.size()) +
      " address(es) of this host");
  sources_->trust(std::move(all));
}

}  // namespace portwall
