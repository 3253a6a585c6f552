// The kernel's copy of the block list: what is mirrored, with which timeout, what is left to
// portwalld, and what the set's counters add up to.
#include "detect/block_mirror.h"

#include <gtest/gtest.h>

#include "rules/rule_values.h"

namespace portwall {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
const Timestamp t0 = Timestamp{} + seconds(1000);

Cidr cidr(const char* text) { return *parse_cidr(text); }
BlockEntry block(const char* text, Timestamp until, BlockReason reason = BlockReason::manual) {
  const Cidr c = cidr(text);
  return {c.network, until, reason, c.prefix_length};
}
std::vector<std::string> texts(const std::vector<KernelBlock>& list) {
  std::vector<std::string> out;
  for (const KernelBlock& k : list) out.push_back(range_text(k.range));
  return out;
}
std::vector<std::string> texts(const std::vector<Cidr>& list) {
  std::vector<std::string> out;
  for (const Cidr& c : list) out.push_back(range_text(c));
  return out;
}
using Texts = std::vector<std::string>;

TEST(BlockMirror, AddsEveryBlockWithItsTimeRoundedDownThenNothingMore) {
  BlockMirror m;
  const std::vector<BlockEntry> list = {
      block("203.0.113.9", t0 + milliseconds(10'700)),
      block("198.51.100.0/24", Timestamp::max()),
      block("2001:db8:1::/64", t0 + seconds(60), BlockReason::scan),
  };
  const MirrorPlan plan = m.plan(list, {}, t0);
  ASSERT_EQ(plan.changes.add.size(), 3u);
  EXPECT_TRUE(plan.changes.remove.empty());
  EXPECT_EQ(texts(plan.changes.add), (Texts{"198.51.100.0/24", "203.0.113.9", "2001:db8:1::/64"}));
  EXPECT_EQ(plan.changes.add[0].timeout_s, 0u) << "a block without an end has no timeout";
  EXPECT_EQ(plan.changes.add[1].timeout_s, 9u)
      << "never past the block's end: rounded down, less the time the change takes to apply";
  EXPECT_EQ(plan.changes.add[2].timeout_s, 59u);
  m.applied(plan, t0);
  EXPECT_EQ(m.size(), 3u);
  EXPECT_TRUE(m.plan(list, {}, t0 + seconds(1)).changes.empty());
}

TEST(BlockMirror, RemovesWhatTheListNoLongerHoldsAndForgetsWhatTheKernelExpired) {
  BlockMirror m;
  std::vector<BlockEntry> list = {block("203.0.113.9", t0 + seconds(10)),
                                  block("203.0.113.10", Timestamp::max())};
  m.applied(m.plan(list, {}, t0), t0);
  list.pop_back();  // removed by hand
  MirrorPlan plan = m.plan(list, {}, t0 + seconds(1));
  EXPECT_TRUE(plan.changes.add.empty());
  EXPECT_EQ(texts(plan.changes.remove), (Texts{"203.0.113.10"}));
  m.applied(plan, t0 + seconds(1));
  // Past its end the kernel has dropped the first by itself: nothing to remove, and a little
  // later it is forgotten.
  plan = m.plan({}, {}, t0 + seconds(10));
  EXPECT_TRUE(plan.changes.empty());
  m.applied(plan, t0 + seconds(10));
  EXPECT_EQ(m.held(t0 + seconds(10)), 0u);
  m.applied({}, t0 + seconds(9) + BlockMirror::kForgetAfter);
  EXPECT_EQ(m.size(), 0u);
}

TEST(BlockMirror, ABlockWithANewEndIsRemovedAndAddedAgainWithIt) {
  // Removed first: nftables before 6.12 keeps an element's old timeout when it is added again,
  // which for a shorter block (a permanent one lifted, the feed's left) would be forever.
  for (const Timestamp end : {t0 + seconds(600), t0 + seconds(5)}) {
    BlockMirror m;
    m.applied(m.plan(std::vector{block("203.0.113.9", Timestamp::max())}, {}, t0), t0);
    const MirrorPlan plan = m.plan(std::vector{block("203.0.113.9", end)}, {}, t0 + seconds(2));
    EXPECT_EQ(texts(plan.changes.remove), (Texts{"203.0.113.9"}));
    ASSERT_EQ(plan.changes.add.size(), 1u);
    EXPECT_EQ(plan.changes.add[0].timeout_s, end == t0 + seconds(600) ? 597u : 2u);
  }
}

TEST(BlockMirror, TheLastSecondsArePortwalldsAndTheKernelNeverGetsTimeoutZero) {
  BlockMirror m;
  const MirrorPlan plan =
      m.plan(std::vector{block("203.0.113.9", t0 + milliseconds(1900))}, {}, t0);
  EXPECT_TRUE(plan.changes.empty()) << "timeout 0 would mean forever to the kernel";
  EXPECT_EQ(m.plan(std::vector{block("203.0.113.9", t0 + seconds(2))}, {}, t0).changes.add.size(),
            1u);
}

TEST(BlockMirror, ABlockBeyondTheKernelsLongestTimeoutIsRenewedADayBeforeItRunsOut) {
  BlockMirror m;
  const Timestamp until = t0 + seconds(BlockMirror::kMaxTimeout) * 3;
  const std::vector<BlockEntry> list = {block("203.0.113.9", until)};
  MirrorPlan plan = m.plan(list, {}, t0);
  ASSERT_EQ(plan.changes.add.size(), 1u);
  EXPECT_EQ(plan.changes.add[0].timeout_s, BlockMirror::kMaxTimeout);
  m.applied(plan, t0);
  const Timestamp kernel_end = t0 + seconds(BlockMirror::kMaxTimeout);
  EXPECT_TRUE(
      m.plan(list, {}, kernel_end - BlockMirror::kRenewBefore - seconds(1)).changes.empty());
  plan = m.plan(list, {}, kernel_end - BlockMirror::kRenewBefore + seconds(1));
  ASSERT_EQ(plan.changes.add.size(), 1u);
  EXPECT_EQ(plan.changes.remove.size(), 1u);
  EXPECT_EQ(plan.changes.add[0].timeout_s, BlockMirror::kMaxTimeout);
}

TEST(BlockMirror, TheFeedAndALocalBlockOfOneRangeAreOneEntryWithTheLaterEnd) {
  BlockMirror m;
  const MirrorPlan plan =
      m.plan(std::vector{block("203.0.113.9", t0 + seconds(10)),
                         block("203.0.113.9", t0 + seconds(99), BlockReason::crowdsec)},
             {}, t0);
  ASSERT_EQ(plan.changes.add.size(), 1u);
  EXPECT_EQ(plan.changes.add[0].timeout_s, 98u);
  EXPECT_EQ(plan.added_from[0].reason, BlockReason::crowdsec);
}

TEST(BlockMirror, WhatPortwalldMustStillJudgeIsNotMirrored) {
  BlockMirror m;
  const std::vector<BlockEntry> list = {
      block("10.9.0.0/16", Timestamp::max(), BlockReason::crowdsec),  // holds the LAPI
      block("10.9.0.0/16", Timestamp::max(), BlockReason::manual),    // the same range, local
      block("10.8.0.0/16", Timestamp::max(), BlockReason::crowdsec),  // holds nothing exempt
      block("192.0.2.0/24", Timestamp::max(), BlockReason::scan),     // a kept connection's
      block("0.0.0.0/0", Timestamp::max(), BlockReason::manual),      // everything
  };
  MirrorLimits limits;
  limits.feed_exempt = {cidr("10.9.4.4/32")};
  limits.spared = {cidr("192.0.2.77/32")};
  EXPECT_EQ(texts(m.plan(list, limits, t0).changes.add), (Texts{"10.8.0.0/16", "10.9.0.0/16"}))
      << "the feed's block of an exempt address is portwalld's; a local block of it is not";
  limits.enabled = false;  // monitor mode
  EXPECT_TRUE(m.plan(list, limits, t0).changes.add.empty());
}

TEST(BlockMirror, MonitorModeEmptiesTheSet) {
  BlockMirror m;
  const std::vector<BlockEntry> list = {block("203.0.113.9", Timestamp::max())};
  m.applied(m.plan(list, {}, t0), t0);
  MirrorLimits off;
  off.enabled = false;
  const MirrorPlan plan = m.plan(list, off, t0);
  EXPECT_EQ(texts(plan.changes.remove), (Texts{"203.0.113.9"}));
}

TEST(BlockMirror, WithoutOverlapsEveryBlockThatHoldsOrIsHeldByAnotherIsLeftToPortwalld) {
  BlockMirror m;
  const std::vector<BlockEntry> list = {
      block("198.51.100.0/24", Timestamp::max()), block("198.51.100.7", Timestamp::max()),
      block("198.51.101.7", Timestamp::max()),    block("10.0.0.0/8", Timestamp::max()),
      block("10.1.0.0/16", Timestamp::max()),     block("10.1.2.3", Timestamp::max()),
      block("11.0.0.1", Timestamp::max()),        block("2001:db8::/32", Timestamp::max()),
      block("2001:db9::1", Timestamp::max()),
  };
  MirrorLimits nft;
  nft.overlaps_allowed = false;
  EXPECT_EQ(texts(m.plan(list, nft, t0).changes.add),
            (Texts{"11.0.0.1", "198.51.101.7", "2001:db8::/32", "2001:db9::1"}));
  EXPECT_EQ(m.plan(list, {}, t0).changes.add.size(), list.size()) << "ipset takes them all";
}

TEST(BlockMirror, CountersAddUpWhatEachBlockDroppedSinceTheLastReading) {
  BlockMirror m;
  const std::vector<BlockEntry> list = {block("203.0.113.9", Timestamp::max(), BlockReason::scan),
                                        block("198.51.100.0/24", Timestamp::max())};
  m.applied(m.plan(list, {}, t0), t0);
  std::vector<KernelBlockCount> counts = {{cidr("203.0.113.9/32"), 5},
                                          {cidr("198.51.100.0/24"), 0},
                                          {cidr("192.0.2.1/32"), 7}};  // not ours
  std::vector<KernelDrops> drops = m.take_counts(counts);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(range_text(drops[0].range), "203.0.113.9");
  EXPECT_EQ(drops[0].reason, BlockReason::scan);
  EXPECT_EQ(drops[0].packets, 5u);
  counts[0].packets = 12;
  counts[1].packets = 3;
  drops = m.take_counts(counts);
  ASSERT_EQ(drops.size(), 2u);
  EXPECT_EQ(drops[0].packets, 7u);
  EXPECT_EQ(drops[1].packets, 3u);
  counts[0].packets = 2;  // the entry was made anew: it counts from zero
  drops = m.take_counts(counts);
  ASSERT_EQ(drops.size(), 1u);
  EXPECT_EQ(drops[0].packets, 2u);
  EXPECT_EQ(m.dropped(), 17u);
}

TEST(BlockMirror, EntriesNoPlanPutThereAreStrays) {
  BlockMirror m;
  m.applied(m.plan(std::vector{block("203.0.113.9", Timestamp::max())}, {}, t0), t0);
  const std::vector<KernelBlockCount> counts = {{cidr("203.0.113.9/32"), 1},
                                                {cidr("198.51.100.0/24"), 0}};
  EXPECT_EQ(texts(m.strays(counts)), (Texts{"198.51.100.0/24"}));
}

TEST(BlockMirror, AHundredThousandBlocksAreOnePlanThenNone) {
  BlockMirror m;
  std::vector<BlockEntry> list;
  for (std::uint32_t i = 0; i < 100'000; ++i) {
    const std::uint8_t four[4] = {203, static_cast<std::uint8_t>(i >> 16),
                                  static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
    list.push_back({IpAddress::v4(four), Timestamp::max(), BlockReason::manual, 32});
  }
  MirrorLimits nft;
  nft.overlaps_allowed = false;
  const MirrorPlan plan = m.plan(list, nft, t0);
  EXPECT_EQ(plan.changes.add.size(), 100'000u);
  m.applied(plan, t0);
  EXPECT_TRUE(m.plan(list, nft, t0 + seconds(1)).changes.empty());
}

}  // namespace
}  // namespace portwall
