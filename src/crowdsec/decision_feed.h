// decision_feed.h — a CrowdSec Local API's decisions as blocks. The LAPI's decision stream
// (GET /v1/decisions/stream: `startup=true` for every decision in force, then the changes since
// the last pull) is read here into the block list's feed layer (BlockList::apply_feed).
// Pure: JSON text and the time in, block changes out; no HTTP, no clock of its own.
//
// A range can hold several decisions (two scenarios, a longer ban after a shorter one): its block
// lasts as long as the longest one in force, and a deleted decision (known by its id) lifts the
// block only when no other one holds it. A field of the wrong type makes an entry malformed,
// never an exception. Decisions other than `ban`, and scopes other than `Ip` and `Range`
// (`Country`, `AS`, ...), are counted and ignored, as CrowdSec's own firewall bouncer does.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "clock/clock.h"
#include "detect/block_list.h"

namespace portwall {

// "1m59.2s", "3h59m58.123456789s", "-2.5s": Go's time.Duration text, as the LAPI writes it.
std::expected<Duration, std::string> parse_go_duration(std::string_view text);

// What one answer held.
struct FeedCounts {
  std::size_t new_decisions = 0, deleted_decisions = 0;
  std::size_t ignored_type = 0;   // captcha, throttle, ...: not a ban
  std::size_t ignored_scope = 0;  // Country, AS, ...: not an address or a range
  std::size_t malformed = 0;      // an entry without a usable value, scope or duration
  std::size_t too_wide = 0;       // a range wider than kWidestV4 / kWidestV6
  std::size_t over_limit = 0;     // beyond the decisions the feed holds at most
};

struct FeedUpdate {
  FeedCounts counts;
  FeedApplied applied;
};

// The widest ranges a decision may block: nobody owns more, and a wider one (0.0.0.0/0 by
// mistake, or pushed by a machine an attacker holds) would cut every host of the fleet off.
inline constexpr std::uint8_t kWidestV4 = 8, kWidestV6 = 32;

class DecisionFeed {
 public:
  // `max_decisions`: how many decisions it holds at most (a hostile LAPI cannot grow it further).
  explicit DecisionFeed(BlockList& blocks, std::size_t max_decisions = 4'000'000)
      : blocks_(&blocks), max_decisions_(max_decisions) {}

  // Applies one stream answer (its JSON text) at `now`. `startup`: the answer holds every
  // decision in force, and the blocks of the feed not in it are lifted. An answer that is not
  // the stream's JSON changes nothing and says what is wrong.
  std::expected<FeedUpdate, std::string> apply(std::string_view json, bool startup, Timestamp now);
  std::size_t decisions() const { return by_id_.size(); }

 private:
  struct Range {
    IpAddress network;
    std::uint8_t length = 0;
    friend bool operator==(const Range&, const Range&) = default;
  };
  struct RangeHash {
    std::size_t operator()(const Range& r) const noexcept {
      return IpAddressHash{}(r.network) * 31 + r.length;
    }
  };
  struct Held {
    Range range;
    Timestamp until;
    std::uint32_t tag = 0;  // the scenario, as the block list keeps it
  };
  // The block of a range from the decisions that hold it; until == Timestamp{} when none.
  BlockEntry block_of(const Range& range, Timestamp now) const;
  void forget(std::int64_t id);
  void sweep(Timestamp now);

  BlockList* blocks_;
  std::size_t max_decisions_;
  std::unordered_map<std::int64_t, Held> by_id_;
  std::unordered_map<Range, std::vector<std::int64_t>, RangeHash> ids_by_range_;
};

}  // namespace portwall
