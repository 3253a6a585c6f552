#include "detect/blocked_log_gate.h"

namespace portwall {

BlockedLogGate::BlockedLogGate(std::size_t max_sources, Duration every)
    : max_sources_(max_sources), every_(every) {}

std::uint64_t BlockedLogGate::note(const IpAddress& source, Timestamp now, std::uint64_t packets) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = entries_.find(source);
  if (it == entries_.end()) {
    if (entries_.size() >= max_sources_) {
      // Forget the sources whose line is due anyway (their next packet logs as a first one),
      // at most once a second: a walk of the whole table per packet would be a flood's lever.
      if (now - last_sweep_ < std::chrono::seconds(1)) return 0;
      last_sweep_ = now;
      std::erase_if(entries_, [now](const auto& e) { return e.second.next_line <= now; });
      if (entries_.size() >= max_sources_) return 0;
    }
    entries_.emplace(source, Entry{now + every_, 0});
    return packets;
  }
  Entry& e = it->second;
  e.count += packets;
  if (now < e.next_line) return 0;
  const std::uint64_t count = e.count;
  e = Entry{now + every_, 0};
  return count;
}

std::size_t BlockedLogGate::size() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

}  // namespace portwall
