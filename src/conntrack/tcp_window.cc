// tcp_window.cc — see tcp_window.h. Follows tcp_in_window() and the RST branch of
// nf_conntrack_tcp_packet() in Linux 6.1 nf_conntrack_proto_tcp.c; the kernel's names are kept
// in comments so that the two can be read side by side.
#include "conntrack/tcp_window.h"

#include <algorithm>

#include "conntrack/tcp_state.h"

namespace portwall {
namespace {

// Sequence-space comparisons (RFC 9293 §3.4), as the kernel's before() and after().
bool before(std::uint32_t a, std::uint32_t b) { return static_cast<std::int32_t>(a - b) < 0; }
bool after(std::uint32_t a, std::uint32_t b) { return before(b, a); }

// MAXACKWINDOW(): how far behind the receiver's end an acknowledgement may lag.
std::uint32_t max_ack_window(const TcpPeer& sender) {
  return std::max<std::uint32_t>(sender.maxwin, 66000);
}

// segment_seq_plus_len(): SYN and FIN take a sequence number each.
std::uint32_t segment_end(const PacketView& p) {
  return p.seq + p.payload_length + ((p.tcp_flags & tcpflag::syn) ? 1u : 0u) +
         ((p.tcp_flags & tcpflag::fin) ? 1u : 0u);
}

// tcp_options(): the window scale of a SYN (already clamped to 14 by the parser).
void take_options(TcpPeer& s, const PacketView& p) {
  s.window_scale = p.window_scale != 0xff;
  s.scale = s.window_scale ? p.window_scale : 0;
  s.maxack_set = false;
}

int index_of(FlowDirection d) { return static_cast<int>(d); }
int other(FlowDirection d) { return 1 - static_cast<int>(d); }

void note_last(TcpWindows& w, FlowDirection dir, const PacketView& p, std::uint32_t end) {
  w.last_end = end;
  w.last_dir = dir;
  w.last_was_ack = tcp_class(p.tcp_flags) == TcpClass::ack;
}

}  // namespace

void tcp_window_open(TcpWindows& w, FlowDirection dir, const PacketView& p, bool picked_up) {
  w = TcpWindows{};
  TcpPeer& s = w.seen[index_of(dir)];
  s.end = segment_end(p);
  s.maxwin = p.window ? p.window : 1;
  if (picked_up) {
    // tcp_new() for a mid-stream packet: its history is lost; be liberal both ways.
    s.maxend = s.end + s.maxwin;
    w.liberal = true;
  } else {
    s.maxend = s.end;
    take_options(s, p);
  }
  note_last(w, dir, p, s.end);
}

RstAction tcp_rst_action(const TcpWindows& w, FlowDirection dir, const PacketView& p,
                         bool established) {
  const TcpPeer& receiver = w.seen[other(dir)];
  if (!receiver.maxack_set) return RstAction::close;
  // "invalid rst": it resets data the receiver has already acknowledged.
  if (before(p.seq, receiver.maxack)) return RstAction::invalid;
  if (!established || p.seq == receiver.maxack) return RstAction::close;
  // A RST right behind its sender's own last segment ("RST train") closes too.
  if (w.last_was_ack && w.last_dir == dir && p.seq == w.last_end) return RstAction::close;
  return RstAction::keep;
}

WindowVerdict tcp_in_window(TcpWindows& w, FlowDirection dir, TcpState state, const PacketView& p) {
  TcpPeer& sender = w.seen[index_of(dir)];
  TcpPeer& receiver = w.seen[other(dir)];
  const bool syn = p.tcp_flags & tcpflag::syn;
  const bool has_ack = p.tcp_flags & tcpflag::ack;
  const bool rst = p.tcp_flags & tcpflag::rst;
  std::uint32_t seq = p.seq, ack = p.ack, end = segment_end(p);
  std::uint32_t win = p.window;

  if (sender.maxwin == 0) {
    if (syn) {
      // The SYN/ACK answering a SYN (or a SYN of a simultaneous open): this side begins.
      sender.end = sender.maxend = end;
      sender.maxwin = win ? win : 1;
      take_options(sender, p);
      // RFC 7323 §2.2: scaling applies only if both sides sent the option.
      if (!(sender.window_scale && receiver.window_scale)) sender.scale = receiver.scale = 0;
      if (!has_ack) {
        note_last(w, dir, p, end);
        return WindowVerdict::accept;
      }
    } else {
      // Mid-stream: learn what we can from this packet.
      sender.end = end;
      const std::uint32_t swin = win << sender.scale;
      sender.maxwin = swin ? swin : 1;
      sender.maxend = end + sender.maxwin;
      if (receiver.maxwin == 0) {
        receiver.end = receiver.maxend = ack;
      } else if (ack == receiver.end + 1) {
        ++receiver.end;  // likely the answer to a keepalive
      }
    }
  } else if (syn && after(end, sender.end) &&
             (state == TcpState::syn_sent || state == TcpState::syn_recv)) {
    // RFC 9293: a reinitialised sender may start again with higher sequence numbers.
    sender.end = sender.maxend = end;
    sender.maxwin = win ? win : 1;
    take_options(sender, p);
  }

  if (!has_ack || (rst && ack == 0)) {
    ack = receiver.end;  // no ACK (or a broken stack's RST|ACK with ack 0): pretend it is right
  }
  if (rst && seq == 0 && state == TcpState::syn_sent) seq = end = sender.end;  // RST to a SYN

  // nf_tcp_log_invalid(): a liberal flow passes whatever the window says, without learning.
  auto refuse = [&](WindowVerdict v) { return w.liberal ? WindowVerdict::accept : v; };
  const std::uint32_t lag = max_ack_window(sender);
  if (!before(seq, sender.maxend + 1)) {  // (I) beyond what the receiver allowed
    const std::uint32_t overshot = end - sender.maxend + 1;
    const bool ack_ok = after(ack, receiver.end - lag - 1);
    const bool in_recv_win = receiver.maxwin && after(end, sender.end - receiver.maxwin - 1);
    if (in_recv_win && ack_ok && overshot <= receiver.maxwin && before(ack, receiver.end + 1)) {
      sender.end = end;  // a few bytes too many from a sloppy stack: passes, unlearnt
      return refuse(WindowVerdict::ignore);
    }
    return refuse(WindowVerdict::invalid);
  }
  if (!before(ack, receiver.end + 1)) return refuse(WindowVerdict::invalid);  // (III) unsent
  if (receiver.maxwin && !after(end, sender.end - receiver.maxwin - 1)) {
    return refuse(WindowVerdict::ignore);  // (II) already acknowledged data, retransmitted
  }
  if (!after(ack, receiver.end - lag - 1)) return refuse(WindowVerdict::ignore);  // (IV) late

  if (!syn) win <<= sender.scale;
  sender.maxwin = std::max(sender.maxwin, win);
  if (after(end, sender.end)) sender.end = end;
  if (has_ack && (!sender.maxack_set || after(ack, sender.maxack))) {
    sender.maxack = ack;
    sender.maxack_set = true;
  }
  if (receiver.maxwin != 0 && after(end, sender.maxend)) receiver.maxwin += end - sender.maxend;
  if (after(ack + win, receiver.maxend - 1)) {
    receiver.maxend = ack + win;
    if (win == 0) ++receiver.maxend;  // room for a zero-window probe
  }
  note_last(w, dir, p, end);
  return WindowVerdict::accept;
}

}  // namespace portwall
