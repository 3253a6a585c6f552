// The kernel's per-queue figures as /proc/net/netfilter/nfnetlink_queue shows them.
#include "netfilter/queue_stats.h"

#include <gtest/gtest.h>

namespace portwall {
namespace {

TEST(KernelQueueStats, ReadsWaitingAndBothDropCountersOfEachQueue) {
  const auto stats = parse_kernel_queue_stats(
      "  100  41231    12 2  4096   300     7  9912  1\n"
      "  101  41232     0 2  4096     0     0    15  1\n");
  ASSERT_EQ(stats.size(), 2u);
  EXPECT_EQ(stats[0].number, 100);
  EXPECT_EQ(stats[0].port_id, 41231u);
  EXPECT_EQ(stats[0].waiting, 12u);
  EXPECT_EQ(stats[0].dropped_full, 300u);
  EXPECT_EQ(stats[0].dropped_user, 7u);
  EXPECT_EQ(stats[1].number, 101);
  EXPECT_EQ(stats[1].dropped_full, 0u);
}

TEST(KernelQueueStats, SkipsLinesOfAnotherShape) {
  EXPECT_TRUE(parse_kernel_queue_stats("garbage\n100 1 2\n70000 1 2 3 4 5 6 7 1\n").empty());
}

}  // namespace
}  // namespace portwall
