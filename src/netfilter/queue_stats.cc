#include "netfilter/queue_stats.h"

#include <cstring>
#include <fstream>
#include <sstream>

namespace portwall {

std::vector<KernelQueueStats> parse_kernel_queue_stats(std::string_view text) {
  std::vector<KernelQueueStats> out;
  std::istringstream lines{std::string(text)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream fields(line);
    std::uint64_t number, port_id, total, copy_mode, copy_range, dropped, user_dropped;
    if (!(fields >> number >> port_id >> total >> copy_mode >> copy_range >> dropped >>
          user_dropped) ||
        number > 65535) {
      continue;
    }
    out.push_back({static_cast<std::uint16_t>(number), static_cast<std::uint32_t>(port_id), total,
                   dropped, user_dropped});
  }
  return out;
}

std::expected<std::vector<KernelQueueStats>, std::string> read_kernel_queue_stats() {
  const char* path = "/proc/net/netfilter/nfnetlink_queue";
  std::ifstream in(path);
  if (!in) return std::unexpected(std::string("cannot read ") + path + ": " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  return parse_kernel_queue_stats(text.str());
}

}  // namespace portwall
