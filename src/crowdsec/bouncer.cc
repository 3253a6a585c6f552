#include "crowdsec/bouncer.h"

#include <malloc.h>

#include <algorithm>

namespace portwall {

std::string printable(std::string_view text, std::size_t at_most) {
  std::string out;
  for (char c : text.substr(0, at_most)) {
    const auto u = static_cast<unsigned char>(c);
    out += u < 0x20 || u == 0x7f ? '?' : c;
  }
  return out;
}

std::string lapi_base(const std::string& url) {
  std::string base = url;
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/";
}

Bouncer::Bouncer(const CrowdSecSection& config, BlockList& blocks, HttpClient& http,
                 const Clock& clock, AuditTrail& audit, Say say)
    : config_(config),
      blocks_(&blocks),
      http_(&http),
      clock_(&clock),
      audit_(&audit),
      say_(std::move(say)),
      feed_(blocks, std::max<std::size_t>(2 * blocks.max_entries(), 1000)) {
  figures_.url = config.lapi_url;
}

std::string Bouncer::stream_url(bool startup) const {
  return lapi_base(config_.lapi_url) + "v1/decisions/stream?" + (startup ? "startup=true&" : "") +
         "scopes=ip,range";
}

BouncerFigures Bouncer::figures() const {
  std::lock_guard<std::mutex> lock(mutex_);
  BouncerFigures f = figures_;
  f.blocks = blocks_->feed_size();
  f.blocks_not_made_full = blocks_->feed_refused_full();
  return f;
}

Duration Bouncer::pull() {
  const Timestamp began = clock_->now();
  const bool startup = !started_ || began - full_pull_at_ >= config_.full_pull_every;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    figures_.last_try_unix_ms = clock_->unix_ms();
  }
  std::string error;
  auto answer = http_->get(stream_url(startup),
                           {"X-Api-Key: " + config_.api_key, "Accept: application/json"});
  if (!answer) {
    error = "cannot reach " + config_.lapi_url + ": " + answer.error();
  } else if (answer->status == 401 || answer->status == 403) {
    error = config_.lapi_url + " refused the bouncer's key (HTTP " +
            std::to_string(answer->status) + "): check api_key_file (cscli bouncers list)";
  } else if (answer->status != 200) {
    error = config_.lapi_url + " answered HTTP " + std::to_string(answer->status) + ": " +
            printable(answer->body, 200);
  }
  std::expected<FeedUpdate, std::string> update = std::unexpected(std::string());
  Timestamp fetched{};
  if (error.empty()) {
    fetched = clock_->now();
    try {
      update = feed_.apply(answer->body, startup, fetched);
    } catch (const std::exception& e) {  // (bad_alloc: an answer too large to read)
      update = std::unexpected(std::string("reading the answer: ") + e.what());
    }
    if (!update) error = config_.lapi_url + ": " + update.error();
  }
  if (!error.empty()) {
    // The LAPI may have served the changes it counts as pulled and we lost them (a timeout, an
    // answer refused): the next good pull is a full one.
    started_ = false;
    std::uint32_t in_a_row = 0;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      const bool first = figures_.failing_in_a_row == 0 || figures_.last_error != error;
      ++figures_.failures;
      in_a_row = ++figures_.failing_in_a_row;
      figures_.last_error = error;
      if (first) {
        say_("crowdsec: " + error + "; the " + std::to_string(blocks_->feed_size()) +
             " block(s) of the last good pull stay in force, retrying");
      }
    }
    // Back off: 1, 2, 4 intervals..., at most 6.
    const Duration wait =
        config_.interval * std::min<std::uint32_t>(1u << std::min(in_a_row - 1, 3u), 6u);
    return wait;
  }
  started_ = true;
  if (startup) full_pull_at_ = began;
  // A large answer's JSON tree (100,000 decisions: 13 MB of text, several times that parsed)
  // is gone now: its pages go back to the system rather than stay in portwalld's heap.
  if (answer->body.size() > (std::size_t{1} << 20)) {
    answer->body = std::string();
    malloc_trim(0);
  }
  if (auto peer = parse_ip_address(answer->peer); peer && *peer != lapi_address_) {
    lapi_address_ = *peer;
    blocks_->set_feed_exempt(BlockList::ExemptFor::lapi,
                             {Cidr{*peer, static_cast<std::uint8_t>(peer->size() * 8)}});
  }
  const FeedUpdate& u = *update;
  const Timestamp done = clock_->now();
  const double seconds = std::chrono::duration<double>(done - began).count();
  std::uint32_t failed_before = 0;
  bool first = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    failed_before = figures_.failing_in_a_row;
    first = ++figures_.pulls == 1;
    figures_.failing_in_a_row = 0;
    figures_.last_error.clear();
    figures_.last_pull_unix_ms = clock_->unix_ms();
    figures_.last_pull_seconds = seconds;
    figures_.last_apply_seconds = std::chrono::duration<double>(done - fetched).count();
    figures_.decisions = feed_.decisions();
    figures_.totals.new_decisions += u.counts.new_decisions;
    figures_.totals.deleted_decisions += u.counts.deleted_decisions;
    figures_.totals.ignored_type += u.counts.ignored_type;
    figures_.totals.ignored_scope += u.counts.ignored_scope;
    figures_.totals.malformed += u.counts.malformed;
  }
  if (failed_before > 0) {
    say_("crowdsec: " + config_.lapi_url + " answers again (after " +
         std::to_string(failed_before) + " failed pull(s))");
  }
  if (first || u.applied.added + u.applied.removed + u.applied.refused_full > 0) {
    std::string detail =
        std::string(startup ? "full pull: " : "") + "+" + std::to_string(u.applied.added) + " -" +
        std::to_string(u.applied.removed) + " block(s), " + std::to_string(blocks_->feed_size()) +
        " in force (decisions: " + std::to_string(u.counts.new_decisions) + " new, " +
        std::to_string(u.counts.deleted_decisions) + " deleted, " +
        std::to_string(u.counts.ignored_type + u.counts.ignored_scope) + " ignored, " +
        std::to_string(u.counts.malformed) + " malformed)";
    if (u.applied.refused_full) {
      detail += ", " + std::to_string(u.applied.refused_full) +
                " not made: the block list is full ([limits] max_blocks)";
    }
    audit_->record(-1, "crowdsec", "ok", detail);
  }
  return config_.interval;
}

}  // namespace portwall
