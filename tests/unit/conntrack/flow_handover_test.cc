// Tracked connections carried across a re-exec: the text one image writes and the next reads,
// and the table that takes them over.
#include "conntrack/flow_handover.h"

#include <gtest/gtest.h>

#include "conntrack/conn_tracker.h"
#include "test_packets.h"

namespace portwall {
namespace {

using namespace test;
using namespace tcpflag;
using std::chrono::seconds;

const Timestamp t0 = Timestamp{} + seconds(1000);

// An SSH session established both ways at t0, as the old image tracked it.
Flow established_session(ConnTracker& ct) {
  ct.track(tcp(kClient, 40000, kServer, 22, syn), t0);
  ct.open(tcp(kClient, 40000, kServer, 22, syn), t0, 1);
  ct.track(tcp(kServer, 22, kClient, 40000, syn | ack), t0);
  ct.track(tcp(kClient, 40000, kServer, 22, ack), t0);
  const Flow* f = ct.lookup(flow_key_of(tcp(kClient, 40000, kServer, 22, syn)), t0);
  EXPECT_NE(f, nullptr);
  return f ? *f : Flow{};
}

TEST(FlowHandover, AFlowComesBackWithItsStateMarksRuleCountersAndTimeLeft) {
  ConnTracker old_table{ConntrackLimits{}};
  Flow f = established_session(old_table);
  f.outbound = false;
  f.kept = true;
  f.cut = false;
  f.rule_number = 7;
  const std::string text = encode_flows({{f, "eth0", ""}}, t0 + seconds(10));
  EXPECT_EQ(text.substr(0, text.find('\n')), "portwall-flows 1");
  // The reader's clock may be elsewhere: the time left is what counts.
  const Timestamp later = t0 + seconds(500);
  const std::vector<HandedFlow> back = decode_flows(text, later, 100);
  ASSERT_EQ(back.size(), 1u);
  const Flow& g = back[0].flow;
  EXPECT_EQ(g.key, f.key);
  EXPECT_EQ(g.tcp_state, TcpState::established);
  EXPECT_TRUE(g.replied && g.assured && g.kept && !g.cut && !g.outbound);
  EXPECT_EQ(g.rule_number, 7u);
  EXPECT_EQ(g.packets, f.packets);
  EXPECT_EQ(g.bytes, f.bytes);
  EXPECT_EQ(g.expires - later, (f.expires - (t0 + seconds(10))));
  EXPECT_EQ(back[0].interface, "eth0");
}

TEST(FlowHandover, ATableTakesItOverAndAnIdleConnectionGoesOnWithoutAPickup) {
  ConnTracker old_table{ConntrackLimits{}};
  const Flow f = established_session(old_table);
  ConnTracker fresh{ConntrackLimits{}};
  const Timestamp later = t0 + seconds(3600);  // an hour idle, far past any pickup grace
  for (const HandedFlow& h : decode_flows(encode_flows({{f, "", ""}}, t0), t0, 10)) {
    EXPECT_TRUE(fresh.restore(h.flow, t0));
  }
  EXPECT_EQ(fresh.size(), 1u);
  // Its next packet, whatever its sequence numbers, belongs to it; the reply too.
  EXPECT_EQ(fresh.track(tcp(kClient, 40000, kServer, 22, ack | psh), later).state,
            TrackState::established);
  EXPECT_EQ(fresh.track(tcp(kServer, 22, kClient, 40000, ack), later).state,
            TrackState::established);
  // Restored once only.
  EXPECT_FALSE(fresh.restore(f, t0));
}

TEST(FlowHandover, ExpiredFlowsBadLinesAndAnotherVersionAreLeftOut) {
  ConnTracker old_table{ConntrackLimits{}};
  const Flow f = established_session(old_table);
  EXPECT_EQ(encode_flows({{f, "", ""}}, f.expires), "portwall-flows 1\n");  // no time left
  std::string text = encode_flows({{f, "", ""}, {f, "", ""}}, t0);
  text += "6 not-an-address 1 10.0.0.1 22 3 ra 1 0 0 0 0 1000 -\n";
  text += "6 10.0.0.1 1 10.0.0.2 22 99 ra 1 0 0 0 0 1000 -\n";  // no such TCP state
  text += "6 10.0.0.1 1 fd00::1 22 3 ra 1 0 0 0 0 1000 -\n";    // families mixed
  text += "garbage\n";
  EXPECT_EQ(decode_flows(text, t0, 100).size(), 2u);
  EXPECT_EQ(decode_flows(text, t0, 1).size(), 1u);  // bounded
  EXPECT_TRUE(
      decode_flows("portwall-flows 2\n" + text.substr(text.find('\n') + 1), t0, 100).empty());
  EXPECT_TRUE(decode_flows("", t0, 100).empty());
}

}  // namespace
}  // namespace portwall
