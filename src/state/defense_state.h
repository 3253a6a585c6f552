// defense_state.h — what of the defenses survives a restart, as the JSON of the state file:
// the block list (with wall-clock expiry, since the steady clock restarts with the daemon)
// and the one-time knock sequences already used. Pure: text in, values out.
//
//   {"version": 1,
//    "blocks": [{"address": "203.0.113.9", "reason": "scan",
//                "expires": "2026-12-03T10:00:00.000Z", "expires_unix_ms": 1796292000000}],
//    "used_one_time_sequences": ["ssh: 7001/tcp,7002/tcp"],
//    "used_spa_nonces": [{"nonce": "32 hex digits", "forget_unix_ms": 1796292000000}]}
//
// A block that never expires has "expires": "never" and expires_unix_ms 0. A range's
// "address" is its CIDR ("2001:db8:1::/64"). The feed's (CrowdSec's) blocks are not kept: a
// start pulls them again.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "detect/block_list.h"
#include "detect/spa.h"
#include "packet/ip_address.h"

namespace portwall {

struct SavedBlock {
  IpAddress address;
  BlockReason reason = BlockReason::scan;
  std::int64_t expires_unix_ms = 0;  // 0: never
  std::uint8_t prefix_length = 128;  // a range's length ("address" is then "net/len")
};

// An SPA nonce already used, and until when it could still be replayed (wall clock).
struct SavedSpaNonce {
  SpaNonce nonce{};
  std::int64_t forget_unix_ms = 0;
};

struct DefenseState {
  std::vector<SavedBlock> blocks;
  std::vector<std::string> used_one_time_sequences;
  std::vector<SavedSpaNonce> used_spa_nonces;
};

std::string write_defense_state(const DefenseState& state);
// The state, or what is wrong with the text (which entry, which key).
std::expected<DefenseState, std::string> read_defense_state(std::string_view text);

// Steady-clock blocks to wall-clock ones and back: `now` and `unix_now_ms` are the same instant.
// A block until Timestamp::max() never expires.
SavedBlock save_block(const BlockEntry& entry, Timestamp now, std::int64_t unix_now_ms);
BlockEntry restore_block(const SavedBlock& saved, Timestamp now, std::int64_t unix_now_ms);
// A wall-clock instant as an offset from the wall-clock now, for the steady clock; bounded so
// that whatever a file says, adding it to a Timestamp cannot overflow.
Duration steady_offset(std::int64_t unix_ms, std::int64_t unix_now_ms);

}  // namespace portwall
