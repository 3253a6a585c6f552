// tcp_window.h — TCP window tracking as the kernel's conntrack does it (tcp_in_window and the
// RST checks of nf_conntrack_proto_tcp.c, Linux 6.1, after Guido van Rooij's "Real Stateful TCP
// Packet Filtering in IP Filter"; shared/CONNTRACK-NOTES.md §1.3): a segment or RST whose
// sequence or acknowledgement number is far outside the window cannot move or close a flow.
// Pure functions over a flow's TcpWindows. Not copied from the kernel: no retransmission
// counting (RETRANS/UNACK timeouts) and no SACK blocks (the ack stands for the highest SACK
// edge, which only makes check III stricter for nobody and check IV an IGNORE sooner).
#pragma once

#include <cstdint>

#include "conntrack/flow.h"
#include "packet/packet_view.h"

namespace portwall {

// What the window says of a segment (nf_ct_tcp_action).
enum class WindowVerdict : std::uint8_t {
  accept,   // in window: state advances
  ignore,   // passes, but changes nothing (old retransmission, very late ACK)
  invalid,  // beyond what the receiver allowed, or acknowledges data never sent
};

// What a RST does to a flow whose state table says CLOSE (the kernel's RST checks run first).
enum class RstAction : std::uint8_t {
  close,    // exact (seq = what the receiver acknowledged), or the flow is not established
  keep,     // in the window but not exact: the host answers with a challenge ACK (RFC 5961 §3.2)
  invalid,  // before what the receiver already acknowledged
};

// Starts the windows of a flow afresh from `packet`, sent in direction `dir`: a SYN (its
// sender's side is known), or a segment adopted mid-stream (`picked_up`: liberal, as the
// kernel's loose pickup, which cannot know the window scale).
void tcp_window_open(TcpWindows& w, FlowDirection dir, const PacketView& packet, bool picked_up);

// The RST checks for a RST in direction `dir`; `established`: ESTABLISHED and assured.
RstAction tcp_rst_action(const TcpWindows& w, FlowDirection dir, const PacketView& packet,
                         bool established);

// tcp_in_window for a packet in direction `dir` of a flow in `state`; on accept, the windows
// advance.
WindowVerdict tcp_in_window(TcpWindows& w, FlowDirection dir, TcpState state,
                            const PacketView& packet);

}  // namespace portwall
