// Per-source state: `limit` rules' sliding window and the table's bound.
#include "detect/source_table.h"

#include "rules/rule_values.h"

#include <gtest/gtest.h>

namespace portwall {
namespace {

using std::chrono::seconds;
const Timestamp t0 = Timestamp{} + seconds(1000);
const IpAddress kA = *parse_ip_address("203.0.113.9");
const IpAddress kB = *parse_ip_address("2001:db8::9");

TEST(SourceTable, SixNewConnectionsPassTheSeventhWithin30SecondsDoesNot) {
  SourceTable t;
  for (int i = 0; i < 6; ++i) EXPECT_TRUE(t.allow_new_connection(kA, 1, t0 + seconds(i)));
  EXPECT_FALSE(t.allow_new_connection(kA, 1, t0 + seconds(6)));
  EXPECT_EQ(t.stats().limit_drops, 1u);
}

TEST(SourceTable, RefusedAttemptsCountSoHammeringStaysLimited) {
  SourceTable t;
  for (int i = 0; i < 6; ++i) t.allow_new_connection(kA, 1, t0);
  // A new attempt every 4 s: each sees at least 6 attempts in the last 30 s, its own refused
  // ones among them, so it never gets back in while it keeps that pace.
  for (int i = 1; i <= 15; ++i) {
    EXPECT_FALSE(t.allow_new_connection(kA, 1, t0 + seconds(4 * i))) << i;
  }
}

TEST(SourceTable, AQuietWindowLetsTheSourceBackIn) {
  SourceTable t;
  for (int i = 0; i < 7; ++i) t.allow_new_connection(kA, 1, t0);
  EXPECT_TRUE(t.allow_new_connection(kA, 1, t0 + seconds(31)));
}

TEST(SourceTable, SourcesAndRulesAreCountedApart) {
  SourceTable t;
  for (int i = 0; i < 6; ++i) t.allow_new_connection(kA, 1, t0);
  EXPECT_FALSE(t.allow_new_connection(kA, 1, t0));
  EXPECT_TRUE(t.allow_new_connection(kB, 1, t0)) << "another source";
  EXPECT_TRUE(t.allow_new_connection(kA, 2, t0)) << "another limit rule";
}

TEST(SourceTable, TunedRateAndWindow) {
  SourceTable t(16, LimitPolicy{2, seconds(5)});
  EXPECT_TRUE(t.allow_new_connection(kA, 1, t0));
  EXPECT_TRUE(t.allow_new_connection(kA, 1, t0));
  EXPECT_FALSE(t.allow_new_connection(kA, 1, t0 + seconds(4)));
  EXPECT_TRUE(t.allow_new_connection(kA, 1, t0 + seconds(10)));
}

TEST(SourceTable, FullTableForgetsTheSourceIdleLongest) {
  SourceTable t(3);
  const IpAddress a1 = *parse_ip_address("10.0.0.1"), a2 = *parse_ip_address("10.0.0.2"),
                  a3 = *parse_ip_address("10.0.0.3"), a4 = *parse_ip_address("10.0.0.4");
  for (int i = 0; i < 7; ++i) t.allow_new_connection(a1, 1, t0);  // a1 is limited
  t.allow_new_connection(a2, 1, t0 + seconds(1));
  t.allow_new_connection(a3, 1, t0 + seconds(2));
  t.allow_new_connection(a1, 1, t0 + seconds(3));  // a1 seen again: a2 is now the oldest
  t.allow_new_connection(a4, 1, t0 + seconds(4));
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.stats().evicted, 1u);
  EXPECT_FALSE(t.allow_new_connection(a1, 1, t0 + seconds(5))) << "a1 was kept, still limited";
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

ScanPolicy scan(std::uint32_t ports = 3) {
  ScanPolicy s;
  s.distinct_ports = ports;
  s.window = seconds(5);
  s.block = seconds(600);
  return s;
}

TEST(ScanDetection, MoreDistinctRefusedPortsThanTheThresholdBlocksTheSource) {
  SourceTable t(16, {}, scan(3));
  EXPECT_FALSE(t.note_refused(kA, 6, 21, t0));
  EXPECT_FALSE(t.note_refused(kA, 6, 23, t0));
  EXPECT_FALSE(t.note_refused(kA, 6, 25, t0));
  EXPECT_FALSE(t.is_blocked(kA, t0));
  EXPECT_TRUE(t.note_refused(kA, 6, 80, t0 + seconds(1)));
  EXPECT_TRUE(t.is_blocked(kA, t0 + seconds(2)));
  EXPECT_FALSE(t.is_blocked(kB, t0 + seconds(2))) << "only the scanner";
  EXPECT_EQ(t.stats().blocks, 1u);
}

TEST(ScanDetection, TheSamePortAgainIsNoScan) {
  SourceTable t(16, {}, scan(3));
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(t.note_refused(kA, 6, 23, t0 + seconds(i % 4)));
}

TEST(ScanDetection, TcpAndUdpPortsAreDistinct) {
  SourceTable t(16, {}, scan(3));
  t.note_refused(kA, 6, 53, t0);
  t.note_refused(kA, 17, 53, t0);
  t.note_refused(kA, 6, 54, t0);
  EXPECT_TRUE(t.note_refused(kA, 17, 54, t0));
}

TEST(ScanDetection, TouchesOutsideTheWindowDoNotAddUp) {
  SourceTable t(16, {}, scan(3));
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(t.note_refused(kA, 6, static_cast<std::uint16_t>(1000 + i), t0 + seconds(2 * i)))
        << "at most 3 ports within any 5 s";
  }
}

TEST(ScanDetection, TheBlockEndsAfterItsDuration) {
  SourceTable t(16, {}, scan(1));
  t.note_refused(kA, 6, 1, t0);
  ASSERT_TRUE(t.note_refused(kA, 6, 2, t0));
  EXPECT_TRUE(t.is_blocked(kA, t0 + seconds(599)));
  EXPECT_FALSE(t.is_blocked(kA, t0 + seconds(600)));
}

TEST(ScanDetection, NeverBlockNetworksAndDisabledDetection) {
  ScanPolicy s = scan(1);
  s.never_block = {*parse_cidr("203.0.113.0/24")};
  SourceTable t(16, {}, s);
  for (std::uint16_t port = 1; port < 50; ++port) EXPECT_FALSE(t.note_refused(kA, 6, port, t0));
  ScanPolicy off = scan(1);
  off.enabled = false;
  SourceTable quiet(16, {}, off);
  for (std::uint16_t port = 1; port < 50; ++port) EXPECT_FALSE(quiet.note_refused(kB, 6, port, t0));
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(ScanDetection, BlockedSourcesAreListedAndCanBeLifted) {
  SourceTable t(16, {}, scan(1));
  t.note_refused(kA, 6, 1, t0);
  ASSERT_TRUE(t.note_refused(kA, 6, 2, t0));
  const auto list = t.blocked(t0 + seconds(1));
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].address, kA);
  EXPECT_EQ(list[0].until, t0 + seconds(600));
  EXPECT_TRUE(t.unblock(kA));
  EXPECT_FALSE(t.is_blocked(kA, t0 + seconds(2)));
  EXPECT_FALSE(t.unblock(kA)) << "not blocked any more";
  EXPECT_TRUE(t.blocked(t0 + seconds(2)).empty());
}

}  // namespace
}  // namespace portwall
