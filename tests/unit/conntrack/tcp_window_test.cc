// TCP window tracking (tcp_window.h) through the tracker: a real handshake with real sequence
// numbers, then the injections of issue 6 — a RST or a segment far outside the window must not
// close or enter the flow, while exact and in-window packets behave as the kernel's do.
#include "conntrack/tcp_window.h"

#include <gtest/gtest.h>

#include "conntrack/conn_tracker.h"
#include "test_packets.h"

namespace portwall {
namespace {

using namespace test;
using std::chrono::seconds;
using namespace tcpflag;

const Timestamp t0 = Timestamp{} + seconds(1000);
constexpr std::uint32_t kClientIsn = 1000;
constexpr std::uint32_t kServerIsn = 3'000'000'000u;  // past 2^31: comparisons must wrap
constexpr std::uint16_t kWindow = 64240;

PacketView segment(PacketView p, std::uint32_t seq, std::uint32_t ack, std::uint32_t len = 0,
                   std::uint16_t window = kWindow) {
  p.seq = seq;
  p.ack = ack;
  p.window = window;
  p.payload_length = len;
  return p;
}

class Window : public ::testing::Test {
 protected:
  // SYN, SYN/ACK, ACK, then 100 bytes each way, acknowledged: ESTABLISHED and assured.
  void SetUp() override {
    ASSERT_EQ(ct.track(segment(orig(syn), kClientIsn, 0), t0).state, TrackState::new_flow);
    flow = ct.open(segment(orig(syn), kClientIsn, 0), t0, 1);
    ASSERT_NE(flow, nullptr);
    ASSERT_EQ(step(segment(reply(syn | ack), kServerIsn, kClientIsn + 1)), TrackState::established);
    ASSERT_EQ(step(segment(orig(ack), kClientIsn + 1, kServerIsn + 1)), TrackState::established);
    ASSERT_EQ(step(segment(orig(psh | ack), kClientIsn + 1, kServerIsn + 1, 100)),
              TrackState::established);
    ASSERT_EQ(step(segment(reply(psh | ack), kServerIsn + 1, kClientIsn + 101, 100)),
              TrackState::established);
    ASSERT_EQ(step(segment(orig(ack), kClientIsn + 101, kServerIsn + 101)),
              TrackState::established);
    ASSERT_EQ(flow->tcp_state, TcpState::established);
    ASSERT_TRUE(flow->assured);
  }
  TrackState step(const PacketView& p) { return ct.track(p, t0).state; }
  static constexpr std::uint32_t client_next = kClientIsn + 101;
  static constexpr std::uint32_t server_next = kServerIsn + 101;

  ConntrackLimits limits;
  ConnTracker ct{limits};
  Flow* flow = nullptr;
};

TEST_F(Window, RstFarAheadOfTheWindowIsInvalidAndTheFlowStaysEstablished) {
  EXPECT_EQ(step(segment(orig(rst), client_next + 1'000'000'000u, 0)), TrackState::invalid);
  EXPECT_EQ(step(segment(reply(rst | ack), server_next + 500'000, client_next)),
            TrackState::invalid);
  EXPECT_EQ(flow->tcp_state, TcpState::established);
  EXPECT_EQ(ct.stats().invalid, 2u);
}

TEST_F(Window, RstBeforeWhatTheReceiverAcknowledgedIsInvalid) {
  EXPECT_EQ(step(segment(orig(rst), client_next - 50, 0)), TrackState::invalid);
  EXPECT_EQ(step(segment(orig(rst), client_next - 2'000'000'000u, 0)), TrackState::invalid);
  EXPECT_EQ(flow->tcp_state, TcpState::established);
}

TEST_F(Window, ExactRstClosesTheFlow) {
  EXPECT_EQ(step(segment(orig(rst), client_next, 0)), TrackState::established);
  EXPECT_EQ(flow->tcp_state, TcpState::close);
  EXPECT_EQ(flow->expires, t0 + seconds(10));
}

TEST_F(Window, InWindowButInexactRstPassesAndKeepsTheFlowEstablished) {
  EXPECT_EQ(step(segment(orig(rst), client_next + 1000, 0)), TrackState::established)
      << "passes: the host answers with a challenge ACK (RFC 5961)";
  EXPECT_EQ(flow->tcp_state, TcpState::established);
}

TEST_F(Window, RstRightBehindItsSendersLastSegmentCloses) {
  // The server sends 20 bytes and resets at once, before the client acknowledged them.
  ASSERT_EQ(step(segment(reply(psh | ack), server_next, client_next, 20)), TrackState::established);
  EXPECT_EQ(step(segment(reply(rst | ack), server_next + 20, client_next)),
            TrackState::established);
  EXPECT_EQ(flow->tcp_state, TcpState::close);
}

TEST_F(Window, DataFarBeyondTheReceiversWindowIsInvalidAndChangesNothing) {
  const Timestamp expires = flow->expires;
  const auto packets = flow->packets;
  EXPECT_EQ(step(segment(orig(psh | ack), client_next + 10'000'000, server_next, 50)),
            TrackState::invalid);
  EXPECT_EQ(step(segment(orig(fin | ack), client_next + 10'000'000, server_next)),
            TrackState::invalid);
  EXPECT_EQ(flow->tcp_state, TcpState::established) << "the FIN did not start a close";
  EXPECT_EQ(flow->packets, packets);
  EXPECT_EQ(flow->expires, expires);
  // The real next segment still goes through.
  EXPECT_EQ(step(segment(orig(psh | ack), client_next, server_next, 10)), TrackState::established);
}

TEST_F(Window, AckForDataNeverSentIsInvalid) {
  EXPECT_EQ(step(segment(orig(ack), client_next, server_next + 5'000'000)), TrackState::invalid);
}

TEST_F(Window, OldRetransmissionIsIgnoredButPasses) {
  // Data acknowledged long ago, sent again: sIG-like, it passes and teaches nothing.
  const Timestamp later = t0 + seconds(5);
  const TrackResult r =
      ct.track(segment(orig(psh | ack), client_next - 200'000, server_next - 100'000, 10), later);
  EXPECT_EQ(r.state, TrackState::established);
  EXPECT_EQ(flow->expires, t0 + seconds(432000)) << "not refreshed";
}

TEST_F(Window, WindowScaleOfBothSidesWidensTheWindow) {
  // A new flow where both SYNs carry window scale 7: 500 * 128 bytes may be in flight.
  PacketView syn_packet = segment(tcp(kClient, 41000, kServer, 22, syn), 10, 0, 0, 500);
  syn_packet.window_scale = 7;
  ASSERT_EQ(ct.track(syn_packet, t0).state, TrackState::new_flow);
  Flow* f = ct.open(syn_packet, t0, 1);
  PacketView synack = segment(tcp(kServer, 22, kClient, 41000, syn | ack), 90, 11, 0, 500);
  synack.window_scale = 7;
  ASSERT_EQ(step(synack), TrackState::established);
  ASSERT_EQ(step(segment(tcp(kClient, 41000, kServer, 22, ack), 11, 91, 0, 500)),
            TrackState::established);
  // Windows of SYNs are never scaled: only the server's next segment opens 500 << 7 bytes.
  EXPECT_EQ(step(segment(tcp(kClient, 41000, kServer, 22, ack), 11 + 60'000, 91, 100, 500)),
            TrackState::invalid);
  ASSERT_EQ(step(segment(tcp(kServer, 22, kClient, 41000, ack), 91, 11, 0, 500)),
            TrackState::established);
  EXPECT_EQ(step(segment(tcp(kClient, 41000, kServer, 22, ack), 11 + 60'000, 91, 100, 500)),
            TrackState::established)
      << "within 500 << 7";
  EXPECT_EQ(f->tcp_state, TcpState::established);
}

TEST(WindowPickup, FlowAdoptedMidStreamIsLiberal) {
  ConntrackLimits limits;
  ConnTracker ct{limits};
  Flow* f = ct.open(segment(orig(ack), 5000, 9000), t0, 1, true);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->window.liberal);
  EXPECT_EQ(ct.track(segment(reply(ack), 9000, 5000), t0).state, TrackState::established);
  EXPECT_EQ(ct.track(segment(orig(psh | ack), 5000 + 900'000'000, 9000, 10), t0).state,
            TrackState::established)
      << "its history is lost: no window is enforced (kernel: BE_LIBERAL)";
}

TEST(WindowReuse, SynInTimeWaitEndsTheOldFlowAndIsNewAgain) {
  ConntrackLimits limits;
  ConnTracker ct{limits};
  Flow* f = ct.open(segment(orig(syn), 100, 0), t0, 1);
  ASSERT_EQ(ct.track(segment(reply(syn | ack), 700, 101), t0).state, TrackState::established);
  ASSERT_EQ(ct.track(segment(orig(ack), 101, 701), t0).state, TrackState::established);
  ASSERT_EQ(ct.track(segment(orig(fin | ack), 101, 701), t0).state, TrackState::established);
  ASSERT_EQ(ct.track(segment(reply(fin | ack), 701, 102), t0).state, TrackState::established);
  ASSERT_EQ(ct.track(segment(orig(ack), 102, 702), t0).state, TrackState::established);
  ASSERT_EQ(f->tcp_state, TcpState::time_wait);
  // The same ports again, with sequence numbers from anywhere: a new connection, to be judged
  // by the rules as the kernel does (it kills the entry and repeats the packet).
  const PacketView again = segment(orig(syn), 2'000'000'000u, 0);
  ASSERT_EQ(ct.track(again, t0).state, TrackState::new_flow);
  EXPECT_EQ(ct.size(), 0u);
  f = ct.open(again, t0, 2);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->rule_number, 2u);
  EXPECT_EQ(ct.track(segment(reply(syn | ack), 42, 2'000'000'001u), t0).state,
            TrackState::established);
  EXPECT_EQ(ct.track(segment(orig(ack), 2'000'000'001u, 43), t0).state, TrackState::established);
  EXPECT_EQ(f->tcp_state, TcpState::established);
}

TEST(WindowReuse, AfterAResetOrFromTheOtherSideInTimeWaitASynIsNewToo) {
  ConntrackLimits limits;
  ConnTracker ct{limits};
  ct.open(segment(orig(syn), 300, 0), t0, 1);
  ASSERT_EQ(ct.track(segment(reply(syn | ack), 700, 301), t0).state, TrackState::established);
  ASSERT_EQ(ct.track(segment(orig(rst), 301, 0), t0).state, TrackState::established);
  ASSERT_EQ(ct.size(), 1u) << "CLOSE, waiting out its timeout";
  EXPECT_EQ(ct.track(segment(reply(syn), 5000, 0), t0).state, TrackState::invalid)
      << "the kernel's table: a SYN from the answering side of a CLOSEd flow";
  EXPECT_EQ(ct.track(segment(orig(syn), 9000, 0), t0).state, TrackState::new_flow);
  EXPECT_EQ(ct.size(), 0u);

  ct.open(segment(orig(syn), 100, 0), t0, 1);
  ASSERT_EQ(ct.track(segment(reply(syn | ack), 700, 101), t0).state, TrackState::established);
  ASSERT_EQ(ct.track(segment(orig(ack), 101, 701), t0).state, TrackState::established);
  ASSERT_EQ(ct.track(segment(reply(fin | ack), 701, 101), t0).state, TrackState::established);
  ASSERT_EQ(ct.track(segment(orig(fin | ack), 101, 702), t0).state, TrackState::established);
  ASSERT_EQ(ct.track(segment(reply(ack), 702, 102), t0).state, TrackState::established);
  const TrackResult r = ct.track(segment(reply(syn), 5000, 0), t0);
  EXPECT_EQ(r.state, TrackState::new_flow) << "TIME_WAIT: either side may open again";
  EXPECT_EQ(r.flow, nullptr);
  EXPECT_EQ(ct.size(), 0u);
}

}  // namespace
}  // namespace portwall
