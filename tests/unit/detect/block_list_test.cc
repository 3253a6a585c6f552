// The block list: expiry, manual blocks, its bound, and the state file's round trip.
#include "detect/block_list.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <algorithm>
#include <cstdio>

#include "detect/spa.h"
#include "rules/rule_values.h"
#include "state/defense_state.h"

namespace portwall {
namespace {

using std::chrono::seconds;
const Timestamp t0 = Timestamp{} + seconds(1000);
const IpAddress kA = *parse_ip_address("203.0.113.9");
const IpAddress kB = *parse_ip_address("2001:db8::9");

TEST(BlockList, BlocksUntilItsTimeThenExpires) {
  BlockList b;
  EXPECT_FALSE(b.contains(kA, t0));
  b.add(kA, t0 + seconds(600), BlockReason::scan, t0);
  EXPECT_TRUE(b.contains(kA, t0 + seconds(599)));
  EXPECT_FALSE(b.contains(kB, t0));
  EXPECT_FALSE(b.contains(kA, t0 + seconds(600)));
  EXPECT_TRUE(b.expire(t0 + seconds(599)).empty());
  const auto over = b.expire(t0 + seconds(600));
  ASSERT_EQ(over.size(), 1u);
  EXPECT_EQ(over[0].address, kA);
  EXPECT_EQ(b.size(), 0u);
}

TEST(BlockList, ALongerBlockIsNotShortened) {
  BlockList b;
  b.add(kA, Timestamp::max(), BlockReason::manual, t0);
  b.add(kA, t0 + seconds(600), BlockReason::scan, t0);
  ASSERT_EQ(b.list(t0).size(), 1u);
  EXPECT_EQ(b.list(t0)[0].until, Timestamp::max());
  EXPECT_EQ(b.list(t0)[0].reason, BlockReason::manual);
}

TEST(BlockList, RemoveListAndGeneration) {
  BlockList b;
  const auto g0 = b.generation();
  b.add(kA, t0 + seconds(10), BlockReason::scan, t0);
  b.add(kB, t0 + seconds(5), BlockReason::manual, t0);
  EXPECT_GT(b.generation(), g0);
  const auto list = b.list(t0);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].address, kB) << "soonest to expire first";
  const auto g1 = b.generation();
  EXPECT_TRUE(b.remove(kA));
  EXPECT_FALSE(b.remove(kA));
  EXPECT_GT(b.generation(), g1);
  EXPECT_FALSE(b.contains(kA, t0));
}

// Issue 17, 6: on 0388e96 the block expiring soonest made room for any new block, so a flood of
// forged scanners pushed out the attacker's own block and every manual (fail2ban) block.
TEST(BlockList, WhenFullANewScanBlockIsNotMadeAndNoBlockInForceIsDisplaced) {
  BlockList b(2);
  EXPECT_EQ(b.add(kA, t0 + seconds(100), BlockReason::scan, t0), BlockAdded::added);
  EXPECT_EQ(b.add(kB, t0 + seconds(50), BlockReason::manual, t0), BlockAdded::added);
  const IpAddress c = *parse_ip_address("198.51.100.1");
  EXPECT_EQ(b.add(c, t0 + seconds(700), BlockReason::scan, t0), BlockAdded::refused_full);
  EXPECT_EQ(b.size(), 2u);
  EXPECT_EQ(b.evicted(), 0u);
  EXPECT_EQ(b.refused_full(), 1u);
  EXPECT_TRUE(b.contains(kA, t0));
  EXPECT_TRUE(b.contains(kB, t0));
  EXPECT_FALSE(b.contains(c, t0));
  // Once a block expires there is room again.
  b.expire(t0 + seconds(50));
  EXPECT_EQ(b.add(c, t0 + seconds(700), BlockReason::scan, t0 + seconds(50)), BlockAdded::added);
}

TEST(BlockList, AManualBlockDisplacesTheScanBlockExpiringSoonestNeverAManualOne) {
  BlockList b(3);
  const IpAddress c = *parse_ip_address("198.51.100.1"), d = *parse_ip_address("198.51.100.2");
  b.add(kA, t0 + seconds(100), BlockReason::scan, t0);
  b.add(kB, t0 + seconds(50), BlockReason::scan, t0);
  b.add(c, t0 + seconds(10), BlockReason::manual, t0);
  EXPECT_EQ(b.add(d, Timestamp::max(), BlockReason::manual, t0), BlockAdded::added);
  EXPECT_FALSE(b.contains(kB, t0)) << "the scan block expiring soonest went";
  EXPECT_TRUE(b.contains(c, t0)) << "not the manual one that expires sooner still";
  EXPECT_EQ(b.evicted(), 1u);
  EXPECT_EQ(b.add(kB, t0 + seconds(60), BlockReason::manual, t0), BlockAdded::added);
  EXPECT_FALSE(b.contains(kA, t0));
  // Full of manual blocks: the next manual block is refused (the caller says so).
  EXPECT_EQ(b.add(*parse_ip_address("198.51.100.3"), Timestamp::max(), BlockReason::manual, t0),
            BlockAdded::refused_full);
  EXPECT_EQ(b.size(), 3u);
}

TEST(BlockList, AScanNeverTurnsAManualBlockIntoAScanBlock) {
  BlockList b(2);
  b.add(kA, t0 + seconds(60), BlockReason::manual, t0);
  EXPECT_EQ(b.add(kA, t0 + seconds(600), BlockReason::scan, t0), BlockAdded::kept);
  EXPECT_EQ(b.find(kA, t0)->reason, BlockReason::manual);
  const std::uint64_t manual = b.manual_generation();
  // A manual block over a scan block is manual, and lasts at least as long as the scan block.
  b.add(kB, t0 + seconds(600), BlockReason::scan, t0);
  EXPECT_EQ(b.manual_generation(), manual) << "scan blocks are not urgent for the state file";
  EXPECT_EQ(b.add(kB, t0 + seconds(60), BlockReason::manual, t0), BlockAdded::added);
  EXPECT_EQ(b.find(kB, t0)->reason, BlockReason::manual);
  EXPECT_EQ(b.find(kB, t0)->until, t0 + seconds(600));
  EXPECT_GT(b.manual_generation(), manual);
  // With the list full, a new scan block does not displace the manual ones.
  EXPECT_EQ(b.add(*parse_ip_address("198.51.100.1"), t0 + seconds(600), BlockReason::scan, t0),
            BlockAdded::refused_full);
}

TEST(BlockList, NewScanBlocksComeAtMostAtTheirRate) {
  BlockList b(1000);
  b.set_scan_rate(10);
  int added = 0;
  for (int i = 0; i < 25; ++i) {
    const std::uint8_t bytes[4] = {10, 0, 0, static_cast<std::uint8_t>(i)};
    added +=
        b.add(IpAddress::v4(bytes), t0 + seconds(600), BlockReason::scan, t0) == BlockAdded::added;
  }
  EXPECT_EQ(added, 10) << "a second's worth at once";
  EXPECT_EQ(b.refused_rate(), 15u);
  EXPECT_EQ(b.add(kA, Timestamp::max(), BlockReason::manual, t0), BlockAdded::added)
      << "manual blocks are not rate-bound";
  EXPECT_EQ(b.add(kB, t0 + seconds(600), BlockReason::scan, t0 + std::chrono::milliseconds(100)),
            BlockAdded::added)
      << "a tenth of a second later, one more";
  // Blocks from the state file are restored whatever their number.
  BlockList restored(1000);
  restored.set_scan_rate(1);
  for (int i = 0; i < 50; ++i) {
    const std::uint8_t bytes[4] = {10, 0, 1, static_cast<std::uint8_t>(i)};
    EXPECT_EQ(restored.restore({IpAddress::v4(bytes), t0 + seconds(600), BlockReason::scan}, t0),
              BlockAdded::added);
  }
}

TEST(BlockList, ReadersSeeEveryChangeAtOnceWithoutALockOnTheWay) {
  BlockList b;
  BlockList::Reader r(b);
  EXPECT_FALSE(r.contains(kA, t0));
  b.add(kA, t0 + seconds(600), BlockReason::scan, t0);
  EXPECT_TRUE(r.contains(kA, t0)) << "the first add is published at once";
  // Adds within 50 ms of a publish are held back, yet readers see them (locked fallback).
  b.add(kB, t0 + seconds(600), BlockReason::scan, t0 + std::chrono::milliseconds(10));
  EXPECT_TRUE(r.contains(kB, t0 + std::chrono::milliseconds(10)));
  EXPECT_FALSE(r.contains(*parse_ip_address("198.51.100.1"), t0));
  b.publish_pending(t0 + seconds(1));
  EXPECT_TRUE(r.contains(kB, t0 + seconds(1))) << "now from the snapshot";
  EXPECT_TRUE(b.remove(kA));
  EXPECT_FALSE(r.contains(kA, t0 + seconds(1))) << "a removal is published at once";
  EXPECT_TRUE(r.contains(kB, t0 + seconds(1)));
  EXPECT_FALSE(r.contains(kB, t0 + seconds(600))) << "expired";
  b.expire(t0 + seconds(600));
  EXPECT_FALSE(r.contains(kB, t0 + seconds(1)));
}

// An address blocked again after its block expired, before expire() removed it: the packet
// path must see the new block at once, not the expired copy in its snapshot.
TEST(BlockList, ABlockRenewedAfterItExpiredIsSeenAtOnce) {
  BlockList b;
  BlockList::Reader r(b);
  b.add(kA, t0 + seconds(10), BlockReason::scan, t0);
  EXPECT_TRUE(r.contains(kA, t0));
  const Timestamp later = t0 + seconds(20);  // expired, still listed (expire() runs each second)
  EXPECT_FALSE(r.contains(kA, later));
  EXPECT_EQ(b.add(kA, Timestamp::max(), BlockReason::manual, later), BlockAdded::added);
  EXPECT_TRUE(r.contains(kA, later)) << "held back from the snapshot, found all the same";
  EXPECT_TRUE(r.contains(kA, later + std::chrono::milliseconds(10)));
}

TEST(BlockList, StaysWithinItsBoundAndItsMemory) {
  constexpr std::size_t kMax = 10000;
  const std::size_t before = mallinfo2().uordblks;
  {
    BlockList b(kMax);
    b.set_scan_rate(0);
    for (std::uint32_t i = 0; i < 3 * kMax; ++i) {
      const std::uint8_t bytes[4] = {10, static_cast<std::uint8_t>(i >> 16),
                                     static_cast<std::uint8_t>(i >> 8),
                                     static_cast<std::uint8_t>(i)};
      b.add(IpAddress::v4(bytes), t0 + seconds(i + 1), BlockReason::scan, t0);
    }
    EXPECT_EQ(b.size(), kMax);
    EXPECT_EQ(b.refused_full(), 2 * kMax);
    b.publish_pending(t0 + seconds(1));  // the packet path's snapshot counts too
    const std::size_t per_block = (mallinfo2().uordblks - before) / kMax;
    std::printf("[ figure ] %zu bytes per block (list of %zu)\n", per_block, kMax);
    EXPECT_LE(per_block, 360u);  // README "Memory"
  }
}

// Issue 19, 3: ranges in the block list. A lookup probes one table per prefix length present.
const IpAddress kNet24 = *parse_ip_address("198.51.100.0");
const IpAddress kIn24 = *parse_ip_address("198.51.100.77");
const IpAddress kOut24 = *parse_ip_address("198.51.101.1");
const IpAddress kNet64 = *parse_ip_address("2001:db8:1::");
const IpAddress kIn64 = *parse_ip_address("2001:db8:1::dead:beef");
const IpAddress kOut64 = *parse_ip_address("2001:db8:2::1");

TEST(BlockListRanges, ARangeBlocksEveryAddressInItAndNoOther) {
  BlockList b;
  b.add(kNet24, t0 + seconds(600), BlockReason::manual, t0, 24);
  b.add(kIn64, t0 + seconds(600), BlockReason::manual, t0, 64);  // host bits are cleared
  BlockList::Reader r(b);
  for (BlockList::Reader* reader : {&r, static_cast<BlockList::Reader*>(nullptr)}) {
    auto blocked = [&](const IpAddress& a) {
      return reader ? reader->contains(a, t0) : b.contains(a, t0);
    };
    EXPECT_TRUE(blocked(kNet24));
    EXPECT_TRUE(blocked(kIn24));
    EXPECT_FALSE(blocked(kOut24));
    EXPECT_TRUE(blocked(kIn64));
    EXPECT_TRUE(blocked(kNet64));
    EXPECT_FALSE(blocked(kOut64));
    EXPECT_FALSE(blocked(kA));
  }
  const auto list = b.list(t0);
  ASSERT_EQ(list.size(), 2u);
  std::vector<std::string> shown = {range_text(list[0]), range_text(list[1])};
  std::sort(shown.begin(), shown.end());
  EXPECT_EQ(shown, (std::vector<std::string>{"198.51.100.0/24", "2001:db8:1::/64"}));
  const auto found = r.find(kIn24, t0);
  ASSERT_TRUE(found);
  EXPECT_EQ(found->prefix_length, 24);
  EXPECT_EQ(found->address, kNet24);
  EXPECT_TRUE(b.remove(kNet24, 24));
  EXPECT_FALSE(b.remove(kNet24, 24));
  EXPECT_FALSE(r.contains(kIn24, t0));
  EXPECT_TRUE(r.contains(kIn64, t0));
}

TEST(BlockListRanges, AnExpiredAddressBlockDoesNotHideTheRangeAroundIt) {
  BlockList b;
  b.add(kIn24, t0 + seconds(10), BlockReason::scan, t0);
  b.add(kNet24, t0 + seconds(600), BlockReason::manual, t0, 24);
  BlockList::Reader r(b);
  b.publish_pending(t0 + seconds(1));
  const auto found = r.find(kIn24, t0 + seconds(20));
  ASSERT_TRUE(found) << "the /32 is over, the /24 is not";
  EXPECT_EQ(found->prefix_length, 24);
  EXPECT_EQ(found->reason, BlockReason::manual);
  const auto first = r.find(kIn24, t0);
  ASSERT_TRUE(first);
  EXPECT_EQ(first->prefix_length, 32) << "the longest prefix answers first";
}

TEST(BlockListRanges, TheFeedIsALayerOfItsOwn) {
  BlockList b;
  const std::uint32_t tag = b.tag_of("crowdsecurity/ssh-bf");
  EXPECT_EQ(b.tag_of("crowdsecurity/ssh-bf"), tag);
  EXPECT_EQ(b.tag_name(tag), "crowdsecurity/ssh-bf");
  b.add(kA, Timestamp::max(), BlockReason::manual, t0);
  FeedApplied a = b.apply_feed({{kA, t0 + seconds(60), BlockReason::crowdsec, 128, tag},
                                {kNet24, t0 + seconds(60), BlockReason::crowdsec, 24, tag}},
                               {}, true, t0);
  EXPECT_EQ(a.added, 2u);
  EXPECT_EQ(b.size(), 3u) << "the manual block of kA and the feed's are two";
  EXPECT_EQ(b.feed_size(), 2u);
  BlockList::Reader r(b);
  EXPECT_EQ(r.find(kA, t0)->reason, BlockReason::manual) << "the longer one names the block";
  EXPECT_EQ(r.find(kIn24, t0)->tag, tag);
  // The feed lifts its own block of kA: the manual one stays. A full pull without the /24
  // lifts it.
  a = b.apply_feed({}, {{kA, {}, BlockReason::crowdsec, 128, 0}}, false, t0);
  EXPECT_EQ(a.removed, 1u);
  EXPECT_TRUE(r.contains(kA, t0));
  a = b.apply_feed({}, {}, true, t0);
  EXPECT_EQ(a.removed, 1u);
  EXPECT_FALSE(r.contains(kIn24, t0));
  EXPECT_EQ(b.feed_size(), 0u);
  // `blocked remove` lifts the local block only.
  b.apply_feed({{kB, t0 + seconds(60), BlockReason::crowdsec, 128, tag}}, {}, false, t0);
  b.add(kB, t0 + seconds(600), BlockReason::manual, t0);
  EXPECT_TRUE(b.remove(kB));
  EXPECT_TRUE(r.contains(kB, t0)) << "the feed's block of kB is still in force";
  EXPECT_EQ(r.find(kB, t0)->reason, BlockReason::crowdsec);
}

TEST(BlockListRanges, AFeedLargerThanTheListIsCountedAndDisplacesOnlyScanBlocks) {
  BlockList b(100);
  b.set_scan_rate(0);
  b.add(kA, Timestamp::max(), BlockReason::manual, t0);
  for (std::uint32_t i = 0; i < 9; ++i) {
    const std::uint8_t bytes[4] = {10, 0, 0, static_cast<std::uint8_t>(i)};
    b.add(IpAddress::v4(bytes), t0 + seconds(60), BlockReason::scan, t0);
  }
  std::vector<BlockEntry> feed;
  for (std::uint32_t i = 0; i < 200; ++i) {
    const std::uint8_t bytes[4] = {10, 1, static_cast<std::uint8_t>(i >> 8),
                                   static_cast<std::uint8_t>(i)};
    feed.push_back({IpAddress::v4(bytes), t0 + seconds(600), BlockReason::crowdsec, 128, 0});
  }
  const FeedApplied a = b.apply_feed(feed, {}, true, t0);
  EXPECT_EQ(b.size(), 100u);
  EXPECT_EQ(a.added, 90u) << "the feed fills 9 in 10 places at most";
  EXPECT_EQ(a.refused_full, 110u);
  EXPECT_EQ(b.feed_refused_full(), 110u);
  EXPECT_TRUE(b.contains(kA, t0)) << "a manual block is never displaced";
  EXPECT_EQ(b.list(t0).size() - b.feed_size(), 10u) << "the scan blocks kept their places";
  // A manual block still finds room: it displaces a scan block, never the feed's.
  EXPECT_EQ(b.add(kB, Timestamp::max(), BlockReason::manual, t0), BlockAdded::added);
}

TEST(BlockListRanges, ManyLengthsCostOneProbeEachAndAllAreFound) {
  BlockList b;
  std::vector<std::pair<IpAddress, unsigned>> made;
  for (unsigned length = 8; length <= 32; length += 4) {
    const std::uint8_t bytes[4] = {static_cast<std::uint8_t>(length), 0, 0, 0};
    b.add(IpAddress::v4(bytes), t0 + seconds(60), BlockReason::manual, t0,
          static_cast<std::uint8_t>(length));
    made.emplace_back(IpAddress::v4(bytes), length);
  }
  BlockList::Reader r(b);
  for (const auto& [net, length] : made) {
    IpAddress inside = net;
    if (length < 32) inside.bytes[3] = 9;
    if (length == 32) {
      EXPECT_TRUE(r.contains(net, t0));
    } else {
      EXPECT_TRUE(r.contains(inside, t0)) << to_string(inside) << "/" << length;
    }
  }
  const std::uint8_t outside[4] = {7, 0, 0, 1};
  EXPECT_FALSE(r.contains(IpAddress::v4(outside), t0));
}

TEST(BlockListRanges, TheFeedNeverBlocksTheAddressItComesFrom) {
  BlockList b;
  const IpAddress lapi = *parse_ip_address("198.51.100.10");
  b.apply_feed({{kNet24, t0 + seconds(60), BlockReason::crowdsec, 24, 0}}, {}, true, t0);
  BlockList::Reader r(b);
  EXPECT_TRUE(r.contains(lapi, t0));
  b.set_feed_exempt(BlockList::ExemptFor::lapi, {Cidr{lapi, 32}});
  EXPECT_FALSE(r.contains(lapi, t0)) << "the LAPI stays reachable: its deletions can come";
  EXPECT_FALSE(b.contains(lapi, t0));
  EXPECT_TRUE(r.contains(kIn24, t0)) << "the rest of the range is blocked";
  b.add(lapi, t0 + seconds(30), BlockReason::manual, t0);
  EXPECT_TRUE(r.contains(lapi, t0)) << "a block by hand still blocks it";
  EXPECT_EQ(r.find(lapi, t0)->reason, BlockReason::manual);
  // The host's part (infrastructure, never_block networks) stands beside the LAPI's.
  const IpAddress gateway = *parse_ip_address("198.51.100.254");
  EXPECT_TRUE(r.contains(gateway, t0));
  b.set_feed_exempt(BlockList::ExemptFor::host, {*parse_cidr("198.51.100.192/26")});
  EXPECT_FALSE(r.contains(gateway, t0));
  EXPECT_TRUE(r.contains(kIn24, t0));
  b.remove(lapi);
  EXPECT_FALSE(r.contains(lapi, t0)) << "the LAPI's part stays when the host's changes";
}

TEST(BlockListRanges, TheFeedsChangesNeitherWriteTheStateFileNorCountAsLocalChanges) {
  BlockList b;
  const auto generation = b.generation();
  const auto additions = b.additions();
  b.apply_feed({{kA, t0 + seconds(5), BlockReason::crowdsec, 128, 0}}, {}, true, t0);
  EXPECT_EQ(b.generation(), generation) << "the state file does not hold the feed's blocks";
  EXPECT_GT(b.additions(), additions) << "offloaded connections of kA must come back";
  const auto after = b.additions();
  b.expire(t0 + seconds(6));
  EXPECT_EQ(b.generation(), generation);
  EXPECT_EQ(b.additions(), after) << "an expiry brings nothing back";
  b.add(kB, t0 + seconds(5), BlockReason::scan, t0);
  EXPECT_GT(b.generation(), generation);
}

TEST(DefenseState, RangesRoundTripThroughTheStateFile) {
  const std::int64_t wall = 1'796'000'000'000;
  DefenseState s;
  s.blocks.push_back(save_block({kNet64, t0 + seconds(600), BlockReason::scan, 64}, t0, wall));
  s.blocks.push_back(save_block({kNet24, Timestamp::max(), BlockReason::manual, 24}, t0, wall));
  const std::string text = write_defense_state(s);
  EXPECT_NE(text.find("\"2001:db8:1::/64\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"198.51.100.0/24\""), std::string::npos) << text;
  auto back = read_defense_state(text);
  ASSERT_TRUE(back) << back.error();
  ASSERT_EQ(back->blocks.size(), 2u);
  const BlockEntry a = restore_block(back->blocks[0], t0, wall);
  EXPECT_EQ(a.prefix_length, 64);
  EXPECT_EQ(a.address, kNet64);
  EXPECT_TRUE(a.covers(kIn64));
  EXPECT_EQ(restore_block(back->blocks[1], t0, wall).prefix_length, 24);
}

TEST(DefenseState, BlocksAndUsedKnocksRoundTripWithWallClockExpiry) {
  const std::int64_t wall = 1'796'000'000'000;
  DefenseState s;
  s.blocks.push_back(save_block({kA, t0 + seconds(600), BlockReason::scan}, t0, wall));
  s.blocks.push_back(save_block({kB, Timestamp::max(), BlockReason::manual}, t0, wall));
  s.used_one_time_sequences = {"ssh: 7001/tcp,7002/tcp"};
  s.used_spa_nonces = {
      {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0xa, 0xb, 0xc, 0xd, 0xe, 0xff}, wall + 62'000}};
  const std::string text = write_defense_state(s);
  EXPECT_NE(text.find("000102030405060708090a0b0c0d0eff"), std::string::npos) << text;
  EXPECT_NE(text.find("\"expires\": \"never\""), std::string::npos) << text;
  auto back = read_defense_state(text);
  ASSERT_TRUE(back) << back.error();
  ASSERT_EQ(back->blocks.size(), 2u);
  EXPECT_EQ(back->used_one_time_sequences, s.used_one_time_sequences);
  ASSERT_EQ(back->used_spa_nonces.size(), 1u);
  EXPECT_EQ(back->used_spa_nonces[0].nonce, s.used_spa_nonces[0].nonce);
  EXPECT_EQ(back->used_spa_nonces[0].forget_unix_ms, wall + 62'000);
  // After a restart the steady clock starts elsewhere; 100 s of wall time went by.
  const Timestamp later = Timestamp{} + seconds(5);
  const BlockEntry a = restore_block(back->blocks[0], later, wall + 100'000);
  EXPECT_EQ(a.address, kA);
  EXPECT_EQ(a.until, later + seconds(500));
  EXPECT_EQ(a.reason, BlockReason::scan);
  const BlockEntry b = restore_block(back->blocks[1], later, wall + 100'000);
  EXPECT_EQ(b.until, Timestamp::max());
  EXPECT_EQ(b.reason, BlockReason::manual);
}

TEST(DefenseState, BrokenTextSaysWhatIsWrong) {
  EXPECT_EQ(read_defense_state("{").error(), "not a JSON object");
  EXPECT_EQ(read_defense_state("{\"version\": 2}").error(), "unknown version");
  EXPECT_EQ(read_defense_state("{\"version\": 1, \"blocks\": [{\"address\": \"x\", "
                               "\"expires_unix_ms\": 0}]}")
                .error(),
            "blocks[0]: not an address: \"x\"");
  EXPECT_EQ(read_defense_state("{\"version\": 1, \"blocks\": [{}]}").error(),
            "blocks[0] needs \"address\" and \"expires_unix_ms\"");
  EXPECT_EQ(read_defense_state("{\"version\": 1, \"used_spa_nonces\": [{\"nonce\": \"0g\", "
                               "\"forget_unix_ms\": 1}]}")
                .error(),
            "used_spa_nonces[0] needs \"nonce\" (32 hex digits) and \"forget_unix_ms\"");
}

TEST(SpaPacket, CarriesTimeNonceAddressesAndPortUnderAMac) {
  const SpaNonce nonce = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1};
  for (const auto& [from, to] :
       {std::pair{"203.0.113.9", "198.51.100.1"}, std::pair{"2001:db8::9", "2001:db8:1::1"}}) {
    const SpaToken sent{1'796'000'000, nonce, *parse_ip_address(from), *parse_ip_address(to),
                        62201};
    SpaPacket p = make_spa_packet("sixteen byte key", sent);
    auto token = open_spa_packet("sixteen byte key", p);
    ASSERT_TRUE(token) << token.error();
    EXPECT_EQ(token->unix_seconds, 1'796'000'000);
    EXPECT_EQ(token->nonce, nonce);
    EXPECT_EQ(token->source, sent.source) << from;
    EXPECT_EQ(token->destination, sent.destination) << to;
    EXPECT_EQ(token->port, 62201);
    EXPECT_EQ(open_spa_packet("another key here", p).error(), "bad MAC");
    // Every signed byte is covered: the time, the nonce, both addresses, the port.
    for (std::size_t at : {5u, 20u, 40u, 50u, 61u}) {
      SpaPacket changed = p;
      changed[at] ^= 1;
      EXPECT_EQ(open_spa_packet("sixteen byte key", changed).error(), "bad MAC") << at;
    }
    EXPECT_EQ(open_spa_packet("sixteen byte key", std::span(p).first(93)).error(),
              "not an SPA packet");
  }
  auto a = random_spa_nonce(), b = random_spa_nonce();
  ASSERT_TRUE(a && b);
  EXPECT_NE(*a, *b);
}

}  // namespace
}  // namespace portwall
