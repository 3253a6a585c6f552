// Per-source state: `limit` rules' sliding window and the table's bound.
#include "detect/source_table.h"

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
