// queue_stats.h — the kernel's own figures for each NFQUEUE queue, as it shows them in
// /proc/net/netfilter/nfnetlink_queue (per network namespace): packets waiting for a verdict,
// and packets it dropped because the queue was full or the listener's socket could not take
// them. With fail-open the kernel accepts such packets instead and counts neither.
#pragma once

#include <cstdint>
#include <expected>
#include <string>
#include <string_view>
#include <vector>

namespace portwall {

struct KernelQueueStats {
  std::uint16_t number = 0;
  std::uint32_t port_id = 0;
  std::uint64_t waiting = 0;       // queue_total: queued, no verdict yet
  std::uint64_t dropped_full = 0;  // queue_dropped: over the queue length, fail-open off
  std::uint64_t dropped_user = 0;  // queue_user_dropped: socket buffer full, fail-open off
};

// One entry per line "queue portid total copy_mode copy_range dropped user_dropped seq 1";
// lines that do not have that shape are skipped.
std::vector<KernelQueueStats> parse_kernel_queue_stats(std::string_view text);
std::expected<std::vector<KernelQueueStats>, std::string> read_kernel_queue_stats();

}  // namespace portwall
