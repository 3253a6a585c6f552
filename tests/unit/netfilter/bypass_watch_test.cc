// Signs that the kernel let a queue's packets past unseen: id gaps, and a half-full queue.
#include "netfilter/bypass_watch.h"

#include <gtest/gtest.h>

namespace portwall {
namespace {

using std::chrono::milliseconds;

struct FakeQueue {
  std::optional<std::uint64_t> waiting = 0;
  int reads = 0;
  BypassWatch::WaitingReader reader() {
    return [this] {
      ++reads;
      return waiting;
    };
  }
};

TEST(BypassWatch, AGapInThePacketIdsIsASignConsecutiveIdsAreNot) {
  BypassWatch watch(0, milliseconds(100), nullptr);
  EXPECT_FALSE(watch.on_packet_id(7));  // the first one seen: nothing to compare with
  EXPECT_FALSE(watch.on_packet_id(8));
  EXPECT_FALSE(watch.on_packet_id(9));
  EXPECT_TRUE(watch.on_packet_id(12));
  EXPECT_FALSE(watch.on_packet_id(13));
  EXPECT_TRUE(watch.on_packet_id(1));  // a restarted numbering is a gap too
}

TEST(BypassWatch, AQueueFoundHalfFullIsASignLessIsNot) {
  FakeQueue q;
  BypassWatch watch(1000, milliseconds(100), q.reader());
  const Timestamp t0{};
  q.waiting = 499;
  EXPECT_FALSE(watch.after_batch(t0, true));
  q.waiting = 500;
  EXPECT_TRUE(watch.after_batch(t0 + milliseconds(100), true));
  q.waiting = 1000;
  EXPECT_TRUE(watch.after_batch(t0 + milliseconds(200), true));
  EXPECT_EQ(q.reads, 3);
}

TEST(BypassWatch, ReadsTheQueueOnlyWhileBatchesComeFullAndAtMostEveryInterval) {
  FakeQueue q;
  q.waiting = 1000;
  BypassWatch watch(1000, milliseconds(100), q.reader());
  const Timestamp t0{};
  EXPECT_FALSE(watch.after_batch(t0, false));  // not lagging behind: no read
  EXPECT_EQ(q.reads, 0);
  EXPECT_TRUE(watch.after_batch(t0, true));
  EXPECT_FALSE(watch.after_batch(t0 + milliseconds(99), true));  // too soon
  EXPECT_EQ(q.reads, 1);
  EXPECT_TRUE(watch.after_batch(t0 + milliseconds(199), true));
  EXPECT_EQ(q.reads, 2);
  EXPECT_EQ(watch.probes(), 2u);
}

TEST(BypassWatch, WithoutAQueueLengthOrWhenTheFigureIsUnknownTheFillIsNoSign) {
  FakeQueue q;
  q.waiting = 1 << 20;
  BypassWatch fail_closed(0, milliseconds(100), q.reader());
  EXPECT_FALSE(fail_closed.after_batch(Timestamp{}, true));
  EXPECT_EQ(q.reads, 0);
  q.waiting = std::nullopt;
  BypassWatch unknown(1000, milliseconds(100), q.reader());
  EXPECT_FALSE(unknown.after_batch(Timestamp{}, true));
  EXPECT_EQ(q.reads, 1);
}

}  // namespace
}  // namespace portwall
