// flow.h — one tracked connection: its key (in the direction of the packet that opened it),
// its protocol state, its timeout, and its counters. Owned by the FlowTable of one queue thread.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "clock/clock.h"
#include "packet/ip_address.h"
#include "packet/packet_view.h"

namespace portwall {

// original: the direction of the packet that opened the flow; reply: the other one.
enum class FlowDirection : std::uint8_t { original = 0, reply = 1 };

// The tuple of one direction. For ICMP echo, both ports hold the echo identifier.
struct FlowKey {
  std::uint8_t protocol = 0;
  IpAddress src, dst;
  std::uint16_t src_port = 0, dst_port = 0;

  FlowKey reversed() const { return {protocol, dst, src, dst_port, src_port}; }
  friend bool operator==(const FlowKey&, const FlowKey&) = default;
};

struct FlowKeyHash {
  std::size_t operator()(const FlowKey& key) const noexcept;
};

// The key of the flow a packet would open, in the packet's direction. ICMP echo requests and
// replies are keyed by identifier; ICMP echo replies use the reversed key of their request.
FlowKey flow_key_of(const PacketView& packet);

// Kernel-style TCP states (nf_conntrack_proto_tcp.c); `none` is a flow being created.
enum class TcpState : std::uint8_t {
  none,
  syn_sent,
  syn_recv,
  established,
  fin_wait,
  close_wait,
  last_ack,
  time_wait,
  close,
  syn_sent2
};
const char* to_string(TcpState state);

// One direction's sender as TCP window tracking sees it (the kernel's ip_ct_tcp_state; see
// tcp_window.h). Sequence arithmetic is modulo 2^32.
struct TcpPeer {
  std::uint32_t end = 0;      // td_end: highest seq + len this side has sent
  std::uint32_t maxend = 0;   // td_maxend: highest ack + window the other side allowed it
  std::uint32_t maxwin = 0;   // td_maxwin: largest window it advertised; 0: not seen yet
  std::uint32_t maxack = 0;   // td_maxack: highest ack it sent (valid with maxack_set)
  std::uint8_t scale = 0;     // td_scale: its window scale (RFC 7323), 0 unless both sides sent one
  bool window_scale = false;  // its SYN carried the window scale option
  bool maxack_set = false;
};

// The window state of a TCP flow: both directions, and what the RST checks need.
struct TcpWindows {
  std::array<TcpPeer, 2> seen{};  // by FlowDirection
  std::uint32_t last_end = 0;     // end of the last packet, for the kernel's "RST train" check
  FlowDirection last_dir = FlowDirection::original;
  bool last_was_ack = false;  // the last packet was of the ACK class
  bool liberal = false;       // picked up mid-stream or offloaded: never invalid by window
};

struct Flow {
  FlowKey key;                          // original direction
  TcpState tcp_state = TcpState::none;  // TCP only
  bool replied = false;                 // a packet was seen in the reply direction
  bool assured = false;                 // kernel's ASSURED: proved itself both ways; never evicted
  bool picked_up = false;               // adopted mid-stream (pickup grace), not seen from its SYN
  bool counted = false;                 // counts toward its source's max_connections_per_source
  // Where the flow was opened, so that a later rule change can judge it again (Engine::recheck):
  // by this host (LOCAL_OUT) or toward it, and on which interface (Engine's interface ids).
  bool outbound : 1 = false;
  bool by_knock : 1 = false;        // let in by a knock door, which no rule decides
  bool cut : 1 = false;             // a rule change or a block denied it: later packets are dropped
  bool cut_logged : 1 = false;      // the first dropped packet after the cut was logged
  bool outlives_block : 1 = false;  // its remote was blocked with --keep-established
  bool forwarded : 1 = false;       // opened through a forward (HookInfo): judged by its
  bool redirected : 1 = false;      // public port when rechecked
  bool kept : 1 = false;            // denied by a change made with --keep-established: stays up
  bool offloaded : 1 = false;       // inspect = "new" passed it to the kernel: it may end unseen
  bool vouches : 1 = false;         // its remote is vouched for (SourceTable::vouch) meanwhile
  bool routed : 1 = false;          // routed between two other hosts: judged by route rules
  bool published : 1 = false;       // to a port another tool published (HookInfo::published)
  std::uint8_t interface_id = 0;
  Timestamp opened{}, last_seen{}, expires{};
  std::array<std::uint64_t, 2> packets{}, bytes{};  // by FlowDirection
  std::uint32_t rule_number = 0;  // the rule that accepted the flow; 0: the default policy
  TcpWindows window;              // TCP only
  std::uint8_t out_interface_id = 0;  // routed, published: the interface it left by (tail padding)
};

}  // namespace portwall
