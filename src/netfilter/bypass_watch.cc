#include "netfilter/bypass_watch.h"

#include <utility>

namespace portwall {

BypassWatch::BypassWatch(std::uint32_t queue_length, Duration probe_every, WaitingReader waiting)
    : queue_length_(queue_length), probe_every_(probe_every), waiting_(std::move(waiting)) {}

bool BypassWatch::after_batch(Timestamp now, bool batch_full) {
  if (!batch_full || queue_length_ == 0 || !waiting_) return false;
  if (last_probe_ && now - *last_probe_ < probe_every_) return false;
  last_probe_ = now;
  ++probes_;
  const std::optional<std::uint64_t> waiting = waiting_();
  return waiting && *waiting * 2 >= queue_length_;
}

bool BypassWatch::on_packet_id(std::uint32_t id) {
  const bool gap = last_id_ != 0 && id != last_id_ + 1;
  last_id_ = id;
  return gap;
}

}  // namespace portwall
