// fuzz_decision_feed.cc — the CrowdSec decision stream is input from the network: a LAPI that
// is hostile, broken or impersonated (over http) writes it. The input is a series of answers
// separated by a NUL byte; the byte before each answer says whether it is a full pull (bit 0)
// and how far the clock moves first (bits 1-7, in seconds). Each answer goes through
// DecisionFeed::apply into a BlockList, as the bouncer applies it.
//
// Invariants: nothing crashes, leaks or overflows; an answer refused as a whole changes no block;
// after every answer the feed's blocks are exactly the list's crowdsec entries in force, each a
// normalized range (no host bits), and the list stays within its bound.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "crowdsec/decision_feed.h"
#include "fuzz_checks.h"

namespace portwall {
namespace {

bool same_blocks(const std::vector<BlockEntry>& a, const std::vector<BlockEntry>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!(a[i].address == b[i].address) || a[i].until != b[i].until || a[i].reason != b[i].reason ||
        a[i].prefix_length != b[i].prefix_length) {
      return false;
    }
  }
  return true;
}

}  // namespace
}  // namespace portwall

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace portwall;
  constexpr std::size_t kMax = 256;
  BlockList blocks(kMax);
  // A local block the feed must never touch.
  const IpAddress mine = *parse_ip_address("192.0.2.1");
  Timestamp now = Timestamp{} + std::chrono::hours(1);
  blocks.add(mine, Timestamp::max(), BlockReason::manual, now);
  DecisionFeed feed(blocks);
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  while (!rest.empty()) {
    const auto control = static_cast<std::uint8_t>(rest.front());
    rest.remove_prefix(1);
    const std::size_t end = rest.find('\0');
    const std::string_view answer = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    now += std::chrono::seconds(control >> 1);
    const std::vector<BlockEntry> before = blocks.list(now);
    const auto applied = feed.apply(answer, (control & 1) != 0, now);
    if (!applied) {
      fuzz::check(same_blocks(before, blocks.list(now)), "a refused answer changes no block",
                  std::string(answer));
    }
    std::size_t in_force = 0;
    for (const BlockEntry& b : blocks.list(now)) {
      in_force += b.reason == BlockReason::crowdsec;
      fuzz::check(masked(b.address, b.prefix_length) == b.address, "ranges are normalized",
                  range_text(b));
      fuzz::check(b.until > now, "list() holds blocks in force only");
    }
    blocks.expire(now);
    fuzz::check(blocks.feed_size() == in_force, "the feed's count is its blocks in force",
                std::to_string(blocks.feed_size()) + " vs " + std::to_string(in_force));
    fuzz::check(blocks.size() <= kMax, "the list stays within its bound");
    fuzz::check(blocks.contains(mine, now), "the feed never lifts a local block");
  }
  return 0;
}
