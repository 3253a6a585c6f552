#include "conntrack/tcp_state.h"

#include "conntrack/conn_tracker.h"
#include "packet/packet_view.h"

namespace portwall {
namespace {

// Cell codes: a state, or IV (invalid) / IG (ignore).
enum Cell : std::uint8_t { sNO, sSS, sSR, sES, sFW, sCW, sLA, sTW, sCL, sS2, sIV, sIG };

// [direction][class][state], states in the order NO SS SR ES FW CW LA TW CL S2.
constexpr Cell kTable[2][6][10] = {
    {
        // original
        /* syn    */ {sSS, sSS, sIG, sIG, sIG, sIG, sIG, sSS, sSS, sS2},
        /* synack */ {sIV, sIV, sSR, sIV, sIV, sIV, sIV, sIV, sIV, sSR},
        /* fin    */ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        /* ack    */ {sES, sIV, sES, sES, sCW, sCW, sTW, sTW, sCL, sIV},
        /* rst    */ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        /* none   */ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    },
    {
        // reply
        /* syn    */ {sIV, sS2, sIV, sIV, sIV, sIV, sIV, sSS, sIV, sS2},
        /* synack */ {sIV, sSR, sIG, sIG, sIG, sIG, sIG, sIG, sIG, sSR},
        /* fin    */ {sIV, sIV, sFW, sFW, sLA, sLA, sLA, sTW, sCL, sIV},
        /* ack    */ {sIV, sIG, sSR, sES, sCW, sCW, sTW, sTW, sCL, sIG},
        /* rst    */ {sIV, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL},
        /* none   */ {sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV, sIV},
    },
};

}  // namespace

bool tcp_flags_valid(std::uint8_t flags) {
  using namespace tcpflag;
  switch (flags & ~(ece | cwr | psh)) {
    case syn:
    case syn | urg:
    case syn | ack:
    case rst:
    case rst | ack:
    case fin | ack:
    case fin | ack | urg:
    case ack:
    case ack | urg:
      return true;
    default:
      return false;
  }
}

TcpClass tcp_class(std::uint8_t flags) {
  if (flags & tcpflag::rst) return TcpClass::rst;
  if (flags & tcpflag::syn) return (flags & tcpflag::ack) ? TcpClass::synack : TcpClass::syn;
  if (flags & tcpflag::fin) return TcpClass::fin;
  if (flags & tcpflag::ack) return TcpClass::ack;
  return TcpClass::none;
}

TcpTransition tcp_transition(TcpState current, FlowDirection direction, TcpClass packet) {
  const Cell cell =
      kTable[static_cast<int>(direction)][static_cast<int>(packet)][static_cast<int>(current)];
  if (cell == sIV) return {TcpStep::invalid, current};
  if (cell == sIG) return {TcpStep::ignore, current};
  return {TcpStep::next, static_cast<TcpState>(cell)};
}

Duration tcp_timeout(TcpState state, const ConntrackLimits& l) {
  switch (state) {
    case TcpState::none:
    case TcpState::syn_sent:
    case TcpState::syn_sent2:
      return l.tcp_syn_sent;
    case TcpState::syn_recv:
      return l.tcp_syn_recv;
    case TcpState::established:
      return l.tcp_established;
    case TcpState::fin_wait:
      return l.tcp_fin_wait;
    case TcpState::close_wait:
      return l.tcp_close_wait;
    case TcpState::last_ack:
      return l.tcp_last_ack;
    case TcpState::time_wait:
      return l.tcp_time_wait;
    case TcpState::close:
      return l.tcp_close;
  }
  return l.tcp_close;
}

const char* to_string(TcpState state) {
  static constexpr const char* kNames[] = {"NONE",     "SYN_SENT",   "SYN_RECV", "ESTABLISHED",
                                           "FIN_WAIT", "CLOSE_WAIT", "LAST_ACK", "TIME_WAIT",
                                           "CLOSE",    "SYN_SENT2"};
  return kNames[static_cast<int>(state)];
}

}  // namespace portwall
