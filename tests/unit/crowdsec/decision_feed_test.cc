// The CrowdSec decision stream read into the block list: startup and deltas, ranges, several
// decisions on one range, what is ignored, and hostile answers.
#include "crowdsec/decision_feed.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <chrono>
#include <cstdio>

namespace portwall {
namespace {

using std::chrono::seconds;
const Timestamp t0 = Timestamp{} + seconds(1000);
IpAddress ip(const char* text) { return *parse_ip_address(text); }

std::string decision(int id, const std::string& value, const std::string& duration,
                     const std::string& scope = "Ip", const std::string& type = "ban",
                     const std::string& scenario = "crowdsecurity/ssh-bf") {
  return "{\"duration\":\"" + duration + "\",\"id\":" + std::to_string(id) +
         ",\"origin\":\"crowdsec\",\"scenario\":\"" + scenario + "\",\"scope\":\"" + scope +
         "\",\"type\":\"" + type + "\",\"value\":\"" + value + "\"}";
}

TEST(GoDuration, ReadsWhatTheLapiWrites) {
  EXPECT_EQ(*parse_go_duration("1m59.2s"), std::chrono::milliseconds(119200));
  EXPECT_EQ(*parse_go_duration("3h59m58.5s"),
            std::chrono::milliseconds((3 * 3600 + 59 * 60 + 58) * 1000 + 500));
  EXPECT_EQ(*parse_go_duration("-2.5s"), -std::chrono::milliseconds(2500));
  EXPECT_EQ(*parse_go_duration("150ms"), std::chrono::milliseconds(150));
  EXPECT_EQ(*parse_go_duration("0"), Duration::zero());
  EXPECT_FALSE(parse_go_duration(""));
  EXPECT_FALSE(parse_go_duration("10"));
  EXPECT_FALSE(parse_go_duration("5 days"));
  EXPECT_FALSE(parse_go_duration("1.2.3s"));
  EXPECT_LE(*parse_go_duration("99999999999999999999h"), std::chrono::hours(24 * 366 * 100))
      << "bounded: adding it to a time cannot overflow";
}

TEST(DecisionFeed, StartupThenDeltasAddAndLiftBlocks) {
  BlockList blocks;
  DecisionFeed feed(blocks);
  auto u = feed.apply("{\"deleted\":null,\"new\":[" + decision(1, "10.200.251.9", "1m59.2s") + "," +
                          decision(2, "2001:db8:1::/64", "4h", "Range") + "," +
                          decision(3, "198.51.100.0/24", "4h", "range") + "]}",
                      true, t0);
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->counts.new_decisions, 3u);
  EXPECT_EQ(u->applied.added, 3u);
  BlockList::Reader r(blocks);
  EXPECT_TRUE(r.contains(ip("10.200.251.9"), t0));
  EXPECT_TRUE(r.contains(ip("2001:db8:1::42"), t0));
  EXPECT_TRUE(r.contains(ip("198.51.100.200"), t0));
  const auto found = r.find(ip("10.200.251.9"), t0);
  EXPECT_EQ(found->reason, BlockReason::crowdsec);
  EXPECT_EQ(blocks.tag_name(found->tag), "crowdsecurity/ssh-bf");
  EXPECT_FALSE(r.contains(ip("10.200.251.9"), t0 + std::chrono::milliseconds(119300)))
      << "the decision's duration is honoured";
  // A delta: one deleted, one new.
  u = feed.apply("{\"deleted\":[" + decision(2, "2001:db8:1::/64", "-1s", "Range") + "],\"new\":[" +
                     decision(4, "203.0.113.5", "10m") + "]}",
                 false, t0 + seconds(1));
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->applied.removed, 1u);
  EXPECT_EQ(u->applied.added, 1u);
  EXPECT_FALSE(r.contains(ip("2001:db8:1::42"), t0 + seconds(1)));
  EXPECT_TRUE(r.contains(ip("203.0.113.5"), t0 + seconds(1)));
  EXPECT_TRUE(r.contains(ip("198.51.100.7"), t0 + seconds(1)));
  // A later startup (a restart of the link) holds only what is in force: the rest goes.
  u = feed.apply("{\"new\":[" + decision(4, "203.0.113.5", "9m") + "]}", true, t0 + seconds(2));
  ASSERT_TRUE(u);
  EXPECT_FALSE(r.contains(ip("198.51.100.7"), t0 + seconds(2)));
  EXPECT_TRUE(r.contains(ip("203.0.113.5"), t0 + seconds(2)));
  EXPECT_EQ(blocks.feed_size(), 1u);
}

TEST(DecisionFeed, ARangeHeldByTwoDecisionsStaysUntilBothAreGone) {
  BlockList blocks;
  DecisionFeed feed(blocks);
  ASSERT_TRUE(feed.apply(
      "{\"new\":[" + decision(1, "192.0.2.1", "1h") + "," +
          decision(2, "192.0.2.1", "4h", "Ip", "ban", "crowdsecurity/http-probing") + "]}",
      true, t0));
  EXPECT_EQ(blocks.list(t0).at(0).until, t0 + std::chrono::hours(4)) << "the longest";
  ASSERT_TRUE(feed.apply("{\"deleted\":[" + decision(2, "192.0.2.1", "0") + "]}", false, t0));
  ASSERT_EQ(blocks.list(t0).size(), 1u) << "decision 1 still holds it";
  EXPECT_EQ(blocks.list(t0).at(0).until, t0 + std::chrono::hours(1));
  ASSERT_TRUE(feed.apply("{\"deleted\":[" + decision(1, "192.0.2.1", "0") + "]}", false, t0));
  EXPECT_TRUE(blocks.list(t0).empty());
  // A deletion of a decision this feed does not hold lifts nothing: the LAPI reports an expired
  // decision again at the next pull, and a deleted captcha on the same address is no ban.
  ASSERT_TRUE(feed.apply(
      "{\"new\":[" + decision(7, "192.0.2.9", "4h") + "," + decision(8, "192.0.2.9", "1h") + "]}",
      false, t0));
  ASSERT_TRUE(feed.apply("{\"deleted\":[" + decision(8, "192.0.2.9", "0") + "]}", false, t0));
  ASSERT_TRUE(feed.apply("{\"deleted\":[" + decision(8, "192.0.2.9", "0") + "," +
                             decision(99, "192.0.2.9", "0", "Ip", "captcha") + "]}",
                         false, t0));
  ASSERT_EQ(blocks.list(t0).size(), 1u) << "decision 7 still holds it";
  EXPECT_EQ(blocks.list(t0).at(0).until, t0 + std::chrono::hours(4));
}

TEST(DecisionFeed, OtherTypesAndScopesAreCountedAndIgnored) {
  BlockList blocks;
  DecisionFeed feed(blocks);
  auto u = feed.apply(
      "{\"new\":[" + decision(1, "192.0.2.1", "1h", "Ip", "captcha") + "," +
          decision(2, "FR", "1h", "Country") + "," + decision(3, "AS1234", "1h", "AS") + "," +
          decision(4, "not-an-ip", "1h") + "," + decision(5, "192.0.2.2", "forever") + "," +
          decision(6, "192.0.2.0/33", "1h", "Range") + "," + decision(7, "192.0.2.3", "1h") + "]}",
      true, t0);
  ASSERT_TRUE(u) << u.error();
  EXPECT_EQ(u->counts.ignored_type, 1u);
  EXPECT_EQ(u->counts.ignored_scope, 2u);
  EXPECT_EQ(u->counts.malformed, 3u);
  EXPECT_EQ(u->applied.added, 1u);
  EXPECT_EQ(blocks.size(), 1u);
}

TEST(DecisionFeed, ARangeWiderThanAnyoneOwnsIsRefused) {
  BlockList blocks;
  DecisionFeed feed(blocks);
  auto u = feed.apply("{\"new\":[" + decision(1, "0.0.0.0/0", "4h", "Range") + "," +
                          decision(2, "10.0.0.0/7", "4h", "Range") + "," +
                          decision(3, "::/0", "4h", "Range") + "," +
                          decision(4, "2001::/31", "4h", "Range") + "," +
                          decision(5, "10.0.0.0/8", "4h", "Range") + "," +
                          decision(6, "2001:db8::/32", "4h", "Range") + "]}",
                      true, t0);
  ASSERT_TRUE(u);
  EXPECT_EQ(u->counts.too_wide, 4u);
  EXPECT_EQ(u->applied.added, 2u) << "a /8 and a /32 are the widest taken";
}

TEST(DecisionFeed, TheDecisionsHeldAreBounded) {
  BlockList blocks;
  DecisionFeed feed(blocks, 3);
  auto u = feed.apply("{\"new\":[" + decision(1, "192.0.2.1", "1h") + "," +
                          decision(2, "192.0.2.2", "1h") + "," + decision(3, "192.0.2.3", "1h") +
                          "," + decision(4, "192.0.2.4", "1h") + "]}",
                      true, t0);
  ASSERT_TRUE(u);
  EXPECT_EQ(feed.decisions(), 3u);
  EXPECT_EQ(u->counts.over_limit, 1u);
}

TEST(DecisionFeed, AnAnswerThatIsNotTheStreamChangesNothing) {
  BlockList blocks;
  DecisionFeed feed(blocks);
  ASSERT_TRUE(feed.apply("{\"new\":[" + decision(1, "192.0.2.1", "1h") + "]}", true, t0));
  for (const char* bad :
       {"", "[]", "{\"new\": 5}", "{\"deleted\": \"x\"}", "<html>502</html>", "{\"new\":[1,2,3"}) {
    EXPECT_FALSE(feed.apply(bad, true, t0)) << bad;
    EXPECT_EQ(blocks.size(), 1u) << "the last good pull's blocks stay: " << bad;
  }
  // Entries of the wrong shape are counted, never fatal: a field of another type (null, a
  // number where text goes) makes its entry malformed, never an exception.
  auto u = feed.apply(
      "{\"new\":[1, \"x\", null, {\"id\": \"7\"}, {\"id\": 8, \"type\": null}, "
      "{\"id\": 9, \"type\": \"ban\", \"scope\": 5, \"value\": \"192.0.2.5\"}, "
      "{\"id\": 10, \"type\": \"ban\", \"scope\": \"Ip\", \"value\": [\"192.0.2.5\"], "
      "\"duration\": \"1h\"}, {\"id\": 11, \"type\": \"ban\", \"scope\": \"Ip\", "
      "\"value\": \"192.0.2.6\", \"duration\": 3600, \"scenario\": {}}],"
      "\"deleted\": [{\"id\": null}, {\"id\": 1.5}, 7]}",
      false, t0);
  ASSERT_TRUE(u);
  EXPECT_EQ(blocks.size(), 1u);
  EXPECT_EQ(u->counts.malformed + u->counts.ignored_type + u->counts.ignored_scope, 8u);
}

// Issue 19, 4: 100,000 decisions from one answer, applied in one go.
TEST(DecisionFeed, AHundredThousandDecisionsAreAppliedAndHeldInBoundedMemory) {
  constexpr std::uint32_t kCount = 100000;
  std::string answer = "{\"deleted\":null,\"new\":[";
  for (std::uint32_t i = 0; i < kCount; ++i) {
    char value[32];
    std::snprintf(value, sizeof value, "10.%u.%u.%u", (i >> 16) & 255, (i >> 8) & 255, i & 255);
    answer += (i ? "," : "") + decision(static_cast<int>(i + 1), value, "4h");
  }
  answer += "]}";
  const std::size_t before = mallinfo2().uordblks;
  BlockList blocks(200000);
  DecisionFeed feed(blocks);
  const auto began = std::chrono::steady_clock::now();
  auto u = feed.apply(answer, true, t0);
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  ASSERT_TRUE(u);
  EXPECT_EQ(u->applied.added, kCount);
  EXPECT_EQ(blocks.feed_size(), kCount);
  const std::size_t per = (mallinfo2().uordblks - before) / kCount;
  std::printf(
      "[ figure ] %u decisions (%zu bytes of JSON) applied in %.3f s; %zu bytes per "
      "decision held (feed + block list + snapshot)\n",
      kCount, answer.size(), took, per);
  EXPECT_LE(per, 600u);  // README "Memory"
  BlockList::Reader r(blocks);
  EXPECT_TRUE(r.contains(ip("10.1.134.159"), t0));
  EXPECT_FALSE(r.contains(ip("11.0.0.1"), t0));
}

}  // namespace
}  // namespace portwall
