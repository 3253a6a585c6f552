// conn_tracker.h — connection tracking for one queue thread: which flow a packet belongs to,
// what that does to the flow's state, and the table's bound. In the spirit of the kernel's
// nf_conntrack (see shared/CONNTRACK-NOTES.md); differences are documented where they are.
// Not thread-safe: one owner. Time is passed in; nothing here reads a clock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>

#include "clock/clock.h"
#include "conntrack/flow.h"
#include "packet/packet_view.h"

namespace portwall {

struct ConntrackLimits {
  std::uint32_t max_entries = 262144;
  // TCP per-state timeouts (kernel defaults, CONNTRACK-NOTES §1.4).
  Duration tcp_syn_sent = std::chrono::seconds(120);
  Duration tcp_syn_recv = std::chrono::seconds(60);
  Duration tcp_established = std::chrono::seconds(432000);
  Duration tcp_fin_wait = std::chrono::seconds(120);
  Duration tcp_close_wait = std::chrono::seconds(60);
  Duration tcp_last_ack = std::chrono::seconds(30);
  Duration tcp_time_wait = std::chrono::seconds(120);
  Duration tcp_close = std::chrono::seconds(10);
  Duration tcp_unacked = std::chrono::seconds(300);  // cap for picked-up flows until a reply
  Duration udp_unreplied = std::chrono::seconds(30);
  Duration udp_replied = std::chrono::seconds(120);
  Duration icmp = std::chrono::seconds(30);
  Duration generic = std::chrono::seconds(600);
};

// What tracking says about a packet, before any rule is consulted.
enum class TrackState : std::uint8_t {
  new_flow,     // no flow; the packet may open one (TCP SYN, UDP, ICMP echo request, other L4)
  no_flow,      // no flow, and this packet cannot open one outside pickup (TCP bare ACK, FIN,
                // RST), or an ICMP error quoting a flow this table does not hold
  established,  // belongs to a tracked flow; state advanced (or ignored, as the kernel's sIG)
  related,      // an ICMP error quoting a tracked flow (outer destination = quoted source)
  invalid,      // invalid flags (tcp_valid_flags), or a transition the state table marks sIV
};
const char* to_string(TrackState state);

struct TrackResult {
  TrackState state = TrackState::new_flow;
  Flow* flow = nullptr;  // set for established and related, except when the packet ended it
  FlowDirection direction = FlowDirection::original;
};

struct ConntrackStats {
  std::uint64_t inserted = 0;
  std::uint64_t expired = 0;
  std::uint64_t evicted = 0;  // flows not assured removed to make room
  std::uint64_t refused = 0;  // open() failed: table full of assured flows
  std::uint64_t invalid = 0;  // packets tracked as invalid
};

class ConnTracker {
 public:
  explicit ConnTracker(ConntrackLimits limits);
  ~ConnTracker();
  ConnTracker(const ConnTracker&) = delete;
  ConnTracker& operator=(const ConnTracker&) = delete;

  // Classifies the packet and, when it belongs to a flow, advances that flow (state, timeout,
  // counters). An expired flow counts as absent. Does not create flows.
  TrackResult track(const PacketView& packet, Timestamp now);

  // Packets of unknown flows passed without being seen (the queue was full and fail-open let
  // them through): until `until`, every TCP flow that shows up is judged liberally by the
  // window check from then on, as a flow picked up mid-stream is (its window may be stale).
  void note_unseen_packets(Timestamp until);

  // Starts tracking the flow `packet` opens (after the policy accepted it). When the table is
  // full, evicts the oldest flow not assured (Flow::assured); nullptr when every flow is.
  // `picked_up`: a mid-stream TCP flow adopted during the pickup grace (kernel's loose pickup:
  // the state is ESTABLISHED, timeout capped at tcp_unacked until a reply is seen).
  // Right after a track() of the same packet that found no flow (and no change to the table
  // since), the key is not looked up again: the flow goes where that lookup ended.
  Flow* open(const PacketView& packet, Timestamp now, std::uint32_t rule_number,
             bool picked_up = false);

  // Takes over a flow an earlier image of the process tracked (a re-exec, flow_handover.h): its
  // state, timeout and marks as they were, its windows judged liberally from now on (segments
  // went by unseen). False when it expired, exists already, or the table has no room.
  bool restore(const Flow& flow, Timestamp now);

  // Removes flows whose timeout has passed; examines at most `budget` flows per call so that
  // the packet thread can call it between batches.
  void expire(Timestamp now, std::size_t budget = 1024);

  // The live flow with this key in either direction, without touching it (for `explain`).
  const Flow* lookup(const FlowKey& key, Timestamp now) const;
  // The live flow an ICMP error quotes, when the error goes back to the quoted packet's sender
  // (else it is spoofed): what track() relates it to, without touching anything, so that
  // another thread may ask while it holds this table (an error on another queue).
  const Flow* related_flow(const PacketView& error, Timestamp now) const;

  // Called whenever a flow marked `counted` leaves the table (closed, expired, evicted,
  // flushed): the per-source connection count follows it.
  void set_on_remove(std::function<void(const Flow&)> on_remove);

  // The flow was offloaded to the kernel (inspect = "new"): it may end unseen, so it may make
  // room for a new flow, after every flow not assured, with the connections already over.
  void mark_offloaded(const Flow& flow);

  void clear();  // conntrack flush
  std::size_t size() const;
  std::uint32_t max_entries() const;
  const ConntrackStats& stats() const;

  // Visits every live flow (for `portwall conntrack list` and status). Not on the hot path.
  void for_each(const std::function<void(const Flow&)>& visit) const;
  // The flows of at most `slots` of the table's slots from `first` on (0 to start): where to
  // go on, or kEnd when the table is done. Bounded work per call whatever the occupancy, for
  // listings walked in slices between batches of packets (a flow that moves meanwhile may be
  // listed twice or not at all).
  static constexpr std::size_t kEnd = static_cast<std::size_t>(-1);
  std::size_t for_each_slot(std::size_t first, std::size_t slots,
                            const std::function<void(const Flow&)>& visit) const;
  // Visits every live flow, which the visitor may change (not its key).
  void update_each(const std::function<void(Flow&)>& visit);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace portwall
