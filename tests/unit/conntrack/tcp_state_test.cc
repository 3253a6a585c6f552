// The kernel's TCP conntrack table (CONNTRACK-NOTES §1.1), cell by cell.
#include "conntrack/tcp_state.h"

#include <gtest/gtest.h>

#include "conntrack/conn_tracker.h"
#include "packet/packet_view.h"

namespace portwall {
namespace {

using S = TcpState;
using C = TcpClass;
constexpr auto kO = FlowDirection::original;
constexpr auto kR = FlowDirection::reply;
constexpr S kStates[] = {S::none,       S::syn_sent, S::syn_recv,  S::established, S::fin_wait,
                         S::close_wait, S::last_ack, S::time_wait, S::close,       S::syn_sent2};

// One row of the table: the outcome in each state, NO SS SR ES FW CW LA TW CL S2.
// 'I' = invalid (sIV), 'G' = ignore (sIG), otherwise the next state.
struct Row {
  FlowDirection direction;
  TcpClass cls;
  const char* name;
  const char* cells[10];
};

const Row kRows[] = {
    {kO, C::syn, "syn orig", {"SS", "SS", "G", "G", "G", "G", "G", "SS", "SS", "S2"}},
    {kO, C::synack, "synack orig", {"I", "I", "SR", "I", "I", "I", "I", "I", "I", "SR"}},
    {kO, C::fin, "fin orig", {"I", "I", "FW", "FW", "LA", "LA", "LA", "TW", "CL", "I"}},
    {kO, C::ack, "ack orig", {"ES", "I", "ES", "ES", "CW", "CW", "TW", "TW", "CL", "I"}},
    {kO, C::rst, "rst orig", {"I", "CL", "CL", "CL", "CL", "CL", "CL", "CL", "CL", "CL"}},
    {kO, C::none, "none orig", {"I", "I", "I", "I", "I", "I", "I", "I", "I", "I"}},
    {kR, C::syn, "syn reply", {"I", "S2", "I", "I", "I", "I", "I", "SS", "I", "S2"}},
    {kR, C::synack, "synack reply", {"I", "SR", "G", "G", "G", "G", "G", "G", "G", "SR"}},
    {kR, C::fin, "fin reply", {"I", "I", "FW", "FW", "LA", "LA", "LA", "TW", "CL", "I"}},
    {kR, C::ack, "ack reply", {"I", "G", "SR", "ES", "CW", "CW", "TW", "TW", "CL", "G"}},
    {kR, C::rst, "rst reply", {"I", "CL", "CL", "CL", "CL", "CL", "CL", "CL", "CL", "CL"}},
    {kR, C::none, "none reply", {"I", "I", "I", "I", "I", "I", "I", "I", "I", "I"}},
};

S state_of(std::string_view code) {
  constexpr std::pair<std::string_view, S> kCodes[] = {
      {"SS", S::syn_sent},  {"SR", S::syn_recv},   {"ES", S::established},
      {"FW", S::fin_wait},  {"CW", S::close_wait}, {"LA", S::last_ack},
      {"TW", S::time_wait}, {"CL", S::close},      {"S2", S::syn_sent2}};
  for (auto [c, s] : kCodes) {
    if (c == code) return s;
  }
  ADD_FAILURE() << "bad code " << code;
  return S::none;
}

TEST(TcpState, EveryCellOfTheTransitionTable) {
  for (const Row& row : kRows) {
    for (int i = 0; i < 10; ++i) {
      const TcpTransition t = tcp_transition(kStates[i], row.direction, row.cls);
      const std::string_view want = row.cells[i];
      SCOPED_TRACE(std::string(row.name) + " in " + to_string(kStates[i]));
      if (want == "I") {
        EXPECT_EQ(t.step, TcpStep::invalid);
      } else if (want == "G") {
        EXPECT_EQ(t.step, TcpStep::ignore);
      } else {
        EXPECT_EQ(t.step, TcpStep::next);
        EXPECT_STREQ(to_string(t.state), to_string(state_of(want)));
      }
    }
  }
}

TEST(TcpState, PacketClassPrefersRstThenSynThenFinThenAck) {
  using namespace tcpflag;
  EXPECT_EQ(tcp_class(rst | ack), C::rst);
  EXPECT_EQ(tcp_class(syn), C::syn);
  EXPECT_EQ(tcp_class(syn | ack), C::synack);
  EXPECT_EQ(tcp_class(fin | ack), C::fin);
  EXPECT_EQ(tcp_class(ack | psh), C::ack);
  EXPECT_EQ(tcp_class(0), C::none);
}

TEST(TcpState, ValidFlagsAreTheKernelsList) {
  using namespace tcpflag;
  for (std::uint8_t f :
       {syn, std::uint8_t(syn | urg), std::uint8_t(syn | ack), rst, std::uint8_t(rst | ack),
        std::uint8_t(fin | ack), std::uint8_t(fin | ack | urg), ack, std::uint8_t(ack | urg),
        std::uint8_t(ack | psh), std::uint8_t(syn | ece | cwr)}) {
    EXPECT_TRUE(tcp_flags_valid(f)) << int(f);
  }
}

TEST(TcpState, NullXmasAndContradictoryFlagsAreInvalid) {
  using namespace tcpflag;
  for (std::uint8_t f : {std::uint8_t(0), fin, std::uint8_t(fin | psh | urg),
                         std::uint8_t(syn | fin), std::uint8_t(syn | rst), std::uint8_t(rst | fin),
                         std::uint8_t(syn | ack | urg), psh, urg, std::uint8_t(0xff)}) {
    EXPECT_FALSE(tcp_flags_valid(f)) << int(f);
  }
}

TEST(TcpState, TimeoutsAreTheKernelDefaults) {
  const ConntrackLimits l;
  using std::chrono::seconds;
  EXPECT_EQ(tcp_timeout(S::syn_sent, l), seconds(120));
  EXPECT_EQ(tcp_timeout(S::syn_recv, l), seconds(60));
  EXPECT_EQ(tcp_timeout(S::established, l), seconds(432000));
  EXPECT_EQ(tcp_timeout(S::fin_wait, l), seconds(120));
  EXPECT_EQ(tcp_timeout(S::close_wait, l), seconds(60));
  EXPECT_EQ(tcp_timeout(S::last_ack, l), seconds(30));
  EXPECT_EQ(tcp_timeout(S::time_wait, l), seconds(120));
  EXPECT_EQ(tcp_timeout(S::close, l), seconds(10));
  EXPECT_EQ(tcp_timeout(S::syn_sent2, l), seconds(120));
}

}  // namespace
}  // namespace portwall
