// tcp_state.h — the kernel's TCP connection tracking table (nf_conntrack_proto_tcp.c,
// tcp_conntracks[2][6][10] in Linux 6.1, see shared/CONNTRACK-NOTES.md §1.1) as pure functions.
// Sequence windows (tcp_in_window) are checked by tcp_window.h once the table allows a step.
#pragma once

#include <cstdint>

#include "clock/clock.h"
#include "conntrack/flow.h"

namespace portwall {

struct ConntrackLimits;

// The packet classes of the table, chosen RST > SYN(+ACK) > FIN > ACK > none.
enum class TcpClass : std::uint8_t { syn, synack, fin, ack, rst, none };

// Outcome of one packet on a flow: a next state, or the kernel's pseudo-states.
enum class TcpStep : std::uint8_t { next, invalid /* sIV */, ignore /* sIG */ };

struct TcpTransition {
  TcpStep step = TcpStep::invalid;
  TcpState state = TcpState::none;  // when step == next
};

// tcp_valid_flags after masking ECE|CWR|PSH: SYN, SYN|URG, SYN|ACK, RST, RST|ACK, FIN|ACK,
// FIN|ACK|URG, ACK, ACK|URG. Everything else (NULL, XMAS, SYN|FIN, ...) is invalid.
bool tcp_flags_valid(std::uint8_t flags);
TcpClass tcp_class(std::uint8_t flags);
TcpTransition tcp_transition(TcpState current, FlowDirection direction, TcpClass packet);
Duration tcp_timeout(TcpState state, const ConntrackLimits& limits);

}  // namespace portwall
