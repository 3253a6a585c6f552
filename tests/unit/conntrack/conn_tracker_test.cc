// Connection tracking on one queue thread: lifecycles, timeouts with a fake clock, the bound.
#include "conntrack/conn_tracker.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <list>
#include <map>
#include <random>
#include <set>

#include "test_packets.h"

namespace portwall {
namespace {

using namespace test;
using std::chrono::seconds;
using namespace tcpflag;

const Timestamp t0 = Timestamp{} + seconds(1000);

class Tracker : public ::testing::Test {
 protected:
  TrackState step(const PacketView& p, Timestamp at = t0) { return ct.track(p, at).state; }
  // A full handshake at t0: SYN opened (as the policy would), SYN/ACK, ACK.
  Flow* handshake(Timestamp at = t0) {
    EXPECT_EQ(step(orig(syn), at), TrackState::new_flow);
    Flow* f = ct.open(orig(syn), at, 1);
    EXPECT_EQ(step(reply(syn | ack), at), TrackState::established);
    EXPECT_EQ(step(orig(ack), at), TrackState::established);
    return f;
  }
  ConntrackLimits limits;
  ConnTracker ct{limits};
};

TEST_F(Tracker, HandshakeReachesEstablishedAndAssured) {
  Flow* f = handshake();
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->tcp_state, TcpState::established);
  EXPECT_TRUE(f->replied);
  EXPECT_TRUE(f->assured);
  EXPECT_EQ(f->expires, t0 + seconds(432000));
  EXPECT_EQ(f->packets[0], 2u);
  EXPECT_EQ(f->packets[1], 1u);
  EXPECT_EQ(f->rule_number, 1u);
}

TEST_F(Tracker, SynOpensSynSentWithItsTimeout) {
  Flow* f = ct.open(orig(syn), t0, 0);
  EXPECT_EQ(f->tcp_state, TcpState::syn_sent);
  EXPECT_EQ(f->expires, t0 + seconds(120));
  EXPECT_EQ(ct.size(), 1u);
}

TEST_F(Tracker, UnansweredSynExpiresAfter120Seconds) {
  ct.open(orig(syn), t0, 0);
  EXPECT_EQ(step(orig(syn), t0 + seconds(119)), TrackState::established);
  EXPECT_EQ(step(orig(syn), t0 + seconds(120)), TrackState::new_flow);
  EXPECT_EQ(ct.size(), 0u);
  EXPECT_EQ(ct.stats().expired, 1u);
}

TEST_F(Tracker, RetransmittedSynDoesNotRenewTheTimeout) {
  Flow* f = ct.open(orig(syn), t0, 0);
  step(orig(syn), t0 + seconds(100));
  EXPECT_EQ(f->expires, t0 + seconds(120));
}

TEST_F(Tracker, OrderlyCloseGoesThroughFinWaitToTimeWaitAndExpires) {
  Flow* f = handshake();
  EXPECT_EQ(step(orig(fin | ack)), TrackState::established);
  EXPECT_EQ(f->tcp_state, TcpState::fin_wait);
  EXPECT_EQ(f->expires, t0 + seconds(120));
  EXPECT_EQ(step(reply(ack)), TrackState::established);
  EXPECT_EQ(f->tcp_state, TcpState::close_wait);
  EXPECT_EQ(f->expires, t0 + seconds(60));
  EXPECT_EQ(step(reply(fin | ack)), TrackState::established);
  EXPECT_EQ(f->tcp_state, TcpState::last_ack);
  EXPECT_EQ(f->expires, t0 + seconds(30));
  EXPECT_EQ(step(orig(ack)), TrackState::established);
  EXPECT_EQ(f->tcp_state, TcpState::time_wait);
  EXPECT_EQ(f->expires, t0 + seconds(120));
  ct.expire(t0 + seconds(121));
  EXPECT_EQ(ct.size(), 0u);
}

TEST_F(Tracker, RstClosesAnEstablishedFlowForTenSeconds) {
  Flow* f = handshake();
  EXPECT_EQ(step(reply(rst)), TrackState::established);
  EXPECT_EQ(f->tcp_state, TcpState::close);
  EXPECT_EQ(f->expires, t0 + seconds(10));
}

TEST_F(Tracker, RstAsTheOnlyReplyToASynDeletesTheFlow) {
  ct.open(orig(syn), t0, 0);
  const TrackResult r = ct.track(reply(rst | ack), t0);
  EXPECT_EQ(r.state, TrackState::established) << "the RST itself passes";
  EXPECT_EQ(r.flow, nullptr);
  EXPECT_EQ(ct.size(), 0u);
}

TEST_F(Tracker, BareAckFinOrRstWithoutFlowCannotOpenOne) {
  EXPECT_EQ(step(orig(ack)), TrackState::no_flow);
  EXPECT_EQ(step(orig(fin | ack)), TrackState::no_flow);
  EXPECT_EQ(step(orig(rst)), TrackState::no_flow);
  EXPECT_EQ(step(orig(syn | ack)), TrackState::no_flow);
}

TEST_F(Tracker, InvalidFlagsAreInvalidWithOrWithoutFlow) {
  EXPECT_EQ(step(orig(0)), TrackState::invalid);
  handshake();
  EXPECT_EQ(step(orig(fin | psh | urg)), TrackState::invalid);
  EXPECT_EQ(step(orig(syn | fin)), TrackState::invalid);
  EXPECT_EQ(ct.stats().invalid, 3u);
}

TEST_F(Tracker, SynAckFromTheInitiatorIsInvalidOnAnEstablishedFlow) {
  Flow* f = handshake();
  EXPECT_EQ(step(orig(syn | ack)), TrackState::invalid);
  EXPECT_EQ(f->tcp_state, TcpState::established) << "an invalid packet changes nothing";
}

TEST_F(Tracker, IgnoredPacketsPassWithoutRefreshingTheTimeout) {
  Flow* f = handshake();
  const Timestamp later = t0 + seconds(50);
  EXPECT_EQ(step(reply(syn | ack), later), TrackState::established);  // sIG in ESTABLISHED
  EXPECT_EQ(f->expires, t0 + seconds(432000));
}

TEST_F(Tracker, PickedUpFlowIsCappedAtUnackedUntilAReply) {
  Flow* f = ct.open(orig(ack), t0, 1, true);
  EXPECT_EQ(f->tcp_state, TcpState::established);
  EXPECT_TRUE(f->picked_up);
  EXPECT_EQ(f->expires, t0 + seconds(300));
  step(reply(ack), t0 + seconds(1));
  EXPECT_EQ(f->expires, t0 + seconds(1) + seconds(432000));
}

TEST_F(Tracker, UdpIsUnrepliedFor30SecondsThenReplied120) {
  const PacketView out = udp(kClient, 5000, kServer, 53);
  EXPECT_EQ(step(out), TrackState::new_flow);
  Flow* f = ct.open(out, t0, 0);
  EXPECT_EQ(f->expires, t0 + seconds(30));
  EXPECT_EQ(step(udp(kServer, 53, kClient, 5000), t0 + seconds(1)), TrackState::established);
  EXPECT_TRUE(f->replied);
  EXPECT_EQ(f->expires, t0 + seconds(121));
  EXPECT_EQ(step(out, t0 + seconds(122)), TrackState::new_flow) << "expired";
}

TEST_F(Tracker, UdpSourcePortZeroIsTrackedLikeAnyOther) {
  const PacketView out = udp(kClient, 0, kServer, 9);
  ct.open(out, t0, 0);
  EXPECT_EQ(step(udp(kServer, 9, kClient, 0)), TrackState::established);
}

TEST_F(Tracker, EchoReplyMatchesItsRequestAndNothingElse) {
  const PacketView request = icmp_echo(kClient, kServer, 8, 77);
  EXPECT_EQ(step(request), TrackState::new_flow);
  Flow* f = ct.open(request, t0, 0);
  EXPECT_EQ(f->expires, t0 + seconds(30));
  EXPECT_EQ(step(icmp_echo(kServer, kClient, 0, 77)), TrackState::established);
  EXPECT_EQ(step(icmp_echo(kServer, kClient, 0, 78)), TrackState::no_flow);
}

TEST_F(Tracker, Icmpv6EchoIsTrackedToo) {
  const PacketView request = icmp_echo(kClient6, kServer6, 128, 5);
  ct.open(request, t0, 0);
  EXPECT_EQ(step(icmp_echo(kServer6, kClient6, 129, 5)), TrackState::established);
}

TEST_F(Tracker, IcmpErrorQuotingATrackedFlowIsRelated) {
  const PacketView out = udp(kServer, 40000, kClient, 53);
  ct.open(out, t0, 0);
  const TrackResult r = ct.track(icmp_error(kClient, kServer, out), t0);
  EXPECT_EQ(r.state, TrackState::related);
  EXPECT_NE(r.flow, nullptr);
}

TEST_F(Tracker, IcmpErrorSentToSomeoneElseIsInvalid) {
  const PacketView out = udp(kServer, 40000, kClient, 53);
  ct.open(out, t0, 0);
  // Quotes our flow, but is addressed to a third host: spoofed (nf_conntrack_inet_error).
  const IpAddress other = *parse_ip_address("198.51.100.1");
  EXPECT_EQ(step(icmp_error(kClient, other, out)), TrackState::invalid);
}

// Well addressed, but quoting a flow this table does not hold: no flow here (another queue's
// table may hold it; Engine decides), not invalid in itself. related_flow() agrees with track().
TEST_F(Tracker, IcmpErrorQuotingNoFlowHereHasNoFlow) {
  const PacketView error = icmp_error(kClient, kServer, udp(kServer, 1, kClient, 2));
  EXPECT_EQ(step(error), TrackState::no_flow);
  EXPECT_EQ(ct.related_flow(error, t0), nullptr);
  const PacketView out = udp(kServer, 1, kClient, 2);
  Flow* f = ct.open(out, t0, 0);
  EXPECT_EQ(ct.related_flow(error, t0), f);
  EXPECT_EQ(step(error), TrackState::related);
}

TEST_F(Tracker, Ipv6FlowsAreTrackedLikeIpv4) {
  const PacketView s = tcp(kClient6, 40000, kServer6, 22, syn);
  ct.open(s, t0, 0);
  EXPECT_EQ(step(tcp(kServer6, 22, kClient6, 40000, syn | ack)), TrackState::established);
  EXPECT_EQ(step(tcp(kClient, 40000, kServer, 22, ack)), TrackState::no_flow)
      << "the same ports over IPv4 are another flow";
}

TEST(TrackerBound, FullTableEvictsTheOldestFlowNotAssured) {
  ConntrackLimits limits;
  limits.max_entries = 3;
  ConnTracker ct(limits);
  for (std::uint16_t port = 1; port <= 3; ++port) {
    ASSERT_NE(ct.open(udp(kClient, port, kServer, 53), t0, 0), nullptr);
  }
  // Flow 1 is a stream: answered, still talking 2 s later (assured). Flow 2 was answered once,
  // as a probe is: still evictable, like the never answered flow 3.
  ct.track(udp(kServer, 53, kClient, 1), t0);
  ct.track(udp(kClient, 1, kServer, 53), t0 + seconds(2));
  ct.track(udp(kServer, 53, kClient, 2), t0);
  EXPECT_TRUE(ct.lookup(flow_key_of(udp(kClient, 1, kServer, 53)), t0)->assured);
  EXPECT_FALSE(ct.lookup(flow_key_of(udp(kClient, 2, kServer, 53)), t0)->assured);
  const Timestamp t2 = t0 + seconds(2);
  ASSERT_NE(ct.open(udp(kClient, 4, kServer, 53), t2, 0), nullptr);
  EXPECT_EQ(ct.lookup(flow_key_of(udp(kClient, 3, kServer, 53)), t2), nullptr)
      << "flow 3, never answered, went first";
  ct.track(udp(kServer, 53, kClient, 4), t2);  // answered: flows 2 and 4 are alike now
  ASSERT_NE(ct.open(udp(kClient, 5, kServer, 53), t2, 0), nullptr);
  EXPECT_EQ(ct.size(), 3u);
  EXPECT_EQ(ct.stats().evicted, 2u);
  EXPECT_EQ(ct.track(udp(kServer, 53, kClient, 2), t2).state, TrackState::new_flow)
      << "then flow 2, the oldest answered but not assured";
  EXPECT_EQ(ct.track(udp(kServer, 53, kClient, 1), t2).state, TrackState::established);
}

// A SYN flood against an open port: every SYN is answered (SYN/ACK) and reset by the flooding
// host's kernel, so answered flows fill the table. None is assured: new connections replace
// them, oldest first, as the kernel's early_drop does; an established connection stays.
TEST(TrackerBound, AnsweredHandshakesThatNeverCompleteMakeRoom) {
  ConntrackLimits limits;
  limits.max_entries = 8;
  ConnTracker ct(limits);
  const IpAddress kClient2 = *parse_ip_address("203.0.113.10");
  const PacketView legit = tcp(kClient2, 50000, kServer, 22, syn);
  ASSERT_NE(ct.open(legit, t0, 1), nullptr);
  ct.track(tcp(kServer, 22, kClient2, 50000, syn | ack), t0);
  ct.track(tcp(kClient2, 50000, kServer, 22, ack), t0);
  ASSERT_TRUE(ct.lookup(flow_key_of(legit), t0)->assured);
  for (std::uint16_t port = 1000; port < 1100; ++port) {
    const PacketView s = tcp(kClient, port, kServer, 22, syn);
    ASSERT_EQ(ct.track(s, t0).state, TrackState::new_flow);
    ASSERT_NE(ct.open(s, t0, 1), nullptr) << "port " << port;
    ct.track(tcp(kServer, 22, kClient, port, syn | ack), t0);
    ct.track(tcp(kClient, port, kServer, 22, rst), t0);
    ASSERT_LE(ct.size(), 8u);
  }
  EXPECT_EQ(ct.stats().refused, 0u);
  EXPECT_EQ(ct.stats().evicted, 100u - 7u);
  EXPECT_EQ(ct.track(tcp(kClient2, 50000, kServer, 22, ack), t0).state, TrackState::established)
      << "the established connection was never the victim";
}

// Who goes first: a handshake already reset, then a flow never answered (a spoofed SYN), then
// one answered but still in its handshake. Under a flood, a legitimate handshake waiting for
// its last ACK outlives the flood's own flows.
TEST(TrackerBound, ClosedFlowsGoFirstThenUnansweredThenAnswered) {
  ConntrackLimits limits;
  limits.max_entries = 3;
  ConnTracker ct(limits);
  const IpAddress kClient2 = *parse_ip_address("203.0.113.10");
  const PacketView answered = tcp(kClient2, 50000, kServer, 22, syn);
  ct.open(answered, t0, 1);
  ct.track(tcp(kServer, 22, kClient2, 50000, syn | ack), t0);  // SYN_RECV, waits for the ACK
  const PacketView unanswered = tcp(kClient, 1, kServer, 22, syn);
  ct.open(unanswered, t0, 1);
  const PacketView reset = tcp(kClient, 2, kServer, 22, syn);
  ct.open(reset, t0, 1);
  ct.track(tcp(kServer, 22, kClient, 2, syn | ack), t0);
  ct.track(tcp(kClient, 2, kServer, 22, rst), t0);  // CLOSE
  ASSERT_EQ(ct.lookup(flow_key_of(reset), t0)->tcp_state, TcpState::close);

  ASSERT_NE(ct.open(tcp(kClient, 3, kServer, 22, syn), t0, 1), nullptr);
  EXPECT_EQ(ct.lookup(flow_key_of(reset), t0), nullptr) << "the reset handshake went first";
  ASSERT_NE(ct.open(tcp(kClient, 4, kServer, 22, syn), t0, 1), nullptr);
  EXPECT_EQ(ct.lookup(flow_key_of(unanswered), t0), nullptr) << "then the oldest unanswered";
  EXPECT_NE(ct.lookup(flow_key_of(answered), t0), nullptr) << "the answered handshake stays";
  EXPECT_EQ(ct.track(tcp(kClient2, 50000, kServer, 22, ack), t0).state, TrackState::established);
  EXPECT_TRUE(ct.lookup(flow_key_of(answered), t0)->assured);
}

TEST(TrackerBound, FullTableOfAssuredFlowsRefuses) {
  ConntrackLimits limits;
  limits.max_entries = 2;
  ConnTracker ct(limits);
  for (std::uint16_t port = 1; port <= 2; ++port) {
    ct.open(udp(kClient, port, kServer, 53), t0, 0);
    ct.track(udp(kServer, 53, kClient, port), t0);
    ct.track(udp(kClient, port, kServer, 53), t0 + seconds(3));
  }
  EXPECT_EQ(ct.open(udp(kClient, 9, kServer, 53), t0 + seconds(3), 0), nullptr);
  EXPECT_EQ(ct.stats().refused, 1u);
  EXPECT_EQ(ct.size(), 2u);
}

// A flow picked up mid-stream is assured once its peer answers: it is as established as one
// seen from its SYN, and no flood of new flows evicts it.
TEST(TrackerBound, PickedUpFlowIsAssuredOnceAnswered) {
  ConntrackLimits limits;
  ConnTracker ct(limits);
  Flow* f = ct.open(tcp(kClient, 40000, kServer, 22, ack), t0, 1, true);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->assured);
  ct.track(tcp(kServer, 22, kClient, 40000, ack), t0);
  EXPECT_TRUE(f->assured);
}

TEST(TrackerBound, ExpireWorksInBoundedStepsAndResumes) {
  ConnTracker ct(ConntrackLimits{});
  for (std::uint16_t port = 1; port <= 100; ++port) ct.open(udp(kClient, port, kServer, 53), t0, 0);
  const Timestamp later = t0 + seconds(31);
  ct.expire(later, 10);
  EXPECT_EQ(ct.size(), 90u);
  for (int i = 0; i < 200 && ct.size() > 0; ++i) ct.expire(later, 10);
  EXPECT_EQ(ct.size(), 0u);
  EXPECT_EQ(ct.stats().expired, 100u);
}

TEST(TrackerBound, ClearForgetsEverythingAndSlotsAreReused) {
  ConnTracker ct(ConntrackLimits{});
  for (std::uint16_t port = 1; port <= 50; ++port) ct.open(udp(kClient, port, kServer, 53), t0, 0);
  ct.clear();
  EXPECT_EQ(ct.size(), 0u);
  ASSERT_NE(ct.open(udp(kClient, 7, kServer, 53), t0, 0), nullptr);
  std::size_t visited = 0;
  ct.for_each([&](const Flow& f) {
    ++visited;
    EXPECT_EQ(f.key.src_port, 7);
  });
  EXPECT_EQ(visited, 1u);
}

// `conntrack list` walks the table in slices between batches of packets (issue 17, point 7):
// bounded work per slice, and every flow once when the table holds still.
TEST(TrackerBound, SlicesVisitEveryFlowOnceWithBoundedWorkEach) {
  ConnTracker ct(ConntrackLimits{});
  std::set<std::uint16_t> opened;
  for (std::uint16_t port = 1; port <= 3000; port += 3) {
    ct.open(udp(kClient, port, kServer, 53), t0, 0);
    opened.insert(port);
  }
  std::multiset<std::uint16_t> seen;
  std::size_t slices = 0, most = 0;
  for (std::size_t next = 0; next != ConnTracker::kEnd; ++slices) {
    std::size_t in_slice = 0;
    next = ct.for_each_slot(next, 256, [&](const Flow& f) {
      seen.insert(f.key.src_port);
      ++in_slice;
    });
    most = std::max(most, in_slice);
    ASSERT_LT(slices, 10000u);
  }
  EXPECT_EQ(seen.size(), opened.size());
  EXPECT_EQ(std::set<std::uint16_t>(seen.begin(), seen.end()), opened);
  EXPECT_LE(most, 256u);
  EXPECT_GT(slices, 1u);
  EXPECT_EQ(ct.for_each_slot(0, 0, [](const Flow&) {}), 0u) << "no slot, no progress, no end";
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

// The open-addressing index under churn: flows come and go (expiry, eviction of the oldest
// unreplied flow when full) in a random order, and every lookup in either direction agrees
// with an exact model of the table.
TEST(ConnTrackerIndex, AgreesWithAModelUnderChurn) {
  ConntrackLimits limits;
  limits.max_entries = 800;
  limits.udp_unreplied = seconds(5);
  ConnTracker t(limits);
  std::mt19937 rng(5);
  std::list<std::pair<std::uint32_t, Timestamp>> model;  // in the table, oldest first
  auto packet = [](std::uint32_t id) {
    const std::uint8_t c[4] = {10, 1, static_cast<std::uint8_t>(id >> 8),
                               static_cast<std::uint8_t>(id)};
    return udp(IpAddress::v4(c), static_cast<std::uint16_t>(1000 + id % 7), kServer, 53);
  };
  auto in_model = [&](std::uint32_t id) {
    return std::find_if(model.begin(), model.end(), [id](const auto& f) { return f.first == id; });
  };
  Timestamp now = t0;
  for (int step = 0; step < 20000; ++step) {
    // A burst that fills the table (evictions), then a slower pace (expiry).
    now += std::chrono::milliseconds(step < 10000 ? rng() % 2 : rng() % 50);
    const std::uint32_t id = rng() % 4000;
    switch (rng() % 4) {
      case 0:
      case 1: {
        auto it = in_model(id);
        if (it != model.end() && it->second > now) break;           // open() finds the live flow
        if (it != model.end()) model.erase(it);                     // expired: find() removes it
        if (model.size() >= limits.max_entries) model.pop_front();  // early drop
        model.emplace_back(id, now + limits.udp_unreplied);
        ASSERT_NE(t.open(packet(id), now, 1), nullptr);
        break;
      }
      case 2:
        t.expire(now, 4096);
        std::erase_if(model, [&](const auto& f) { return f.second <= now; });
        break;
      case 3: {
        const FlowKey key = flow_key_of(packet(id));
        auto it = in_model(id);
        const bool expected = it != model.end() && it->second > now;
        ASSERT_EQ(t.lookup(key, now) != nullptr, expected) << "step " << step;
        ASSERT_EQ(t.lookup(key.reversed(), now) != nullptr, expected) << "step " << step;
        break;
      }
    }
    ASSERT_EQ(t.size(), model.size()) << "step " << step;
  }
  EXPECT_GT(t.stats().evicted, 100u) << "the table filled";
  EXPECT_GT(t.stats().expired, 100u) << "flows expired";
}

// open() after a track() that found no flow puts the flow where that lookup ended, unless the
// table changed in between (another open, an eviction, an expiry, the index growing): then it
// looks again. Every flow opened either way is found by its key and by its reply's, and the
// table holds exactly the flows a lookup finds.
TEST(TrackerChurn, FlowsOpenedAfterAMissAreFoundThroughEvictionsExpiriesAndGrowth) {
  ConntrackLimits limits;
  limits.max_entries = 700;  // the index grows to 4096 slots (2 per flow), evictions start
  ConnTracker ct(limits);
  std::mt19937 rng(11);
  auto packet = [](std::uint32_t n) {
    const std::uint8_t client[4] = {10, 200, static_cast<std::uint8_t>(n / 250),
                                    static_cast<std::uint8_t>(n % 250)};
    return udp(IpAddress::v4(client), 5353, kServer, 53);
  };
  Timestamp now = t0;
  std::set<std::uint32_t> opened;
  for (int step = 0; step < 20000; ++step) {
    // Fast at first (the table fills: evictions), then slow (UDP flows expire after 30 s).
    now += std::chrono::milliseconds(step < 10000 ? rng() % 4 : rng() % 200);
    const std::uint32_t n = rng() % 3000;
    const PacketView p = packet(n);
    if (ct.track(p, now).state != TrackState::new_flow) continue;
    if (rng() % 4 == 0) {  // another lookup and open in between: the miss is another key's
      const PacketView other = packet(3000 + rng() % 3000);
      if (ct.track(other, now).state == TrackState::new_flow) ct.open(other, now, 2);
    }
    Flow* f = ct.open(p, now, 1);
    ASSERT_NE(f, nullptr) << "step " << step;
    ASSERT_EQ(ct.lookup(f->key, now), f) << "step " << step;
    ASSERT_EQ(ct.lookup(f->key.reversed(), now), f) << "step " << step;
    ASSERT_EQ(ct.track(p, now).state, TrackState::established) << "step " << step;
  }
  ct.expire(now, 1 << 20);  // what is left holds only live flows
  std::size_t found = 0;
  for (std::uint32_t n = 0; n < 6000; ++n) {
    if (const Flow* f = ct.lookup(flow_key_of(packet(n)), now)) {
      ++found;
      EXPECT_EQ(ct.lookup(f->key.reversed(), now), f);
    }
  }
  EXPECT_EQ(found, ct.size());
  EXPECT_GT(ct.stats().evicted, 0u);
  EXPECT_GT(ct.stats().expired, 0u);
}

// A flow that leaves the table between the lookup that missed and the open (an expiry here)
// may empty a slot on the new key's probe run before the one that lookup ended at: that slot is
// void then. An index kept half full (255 flows, 510 of 1024 slots), one old flow leaving
// between each miss and its open, over 20 generations of flows.
TEST(TrackerChurn, AnIndexChangeBetweenTheMissAndTheOpenIsNoticed) {
  ConntrackLimits limits;
  ConnTracker ct(limits);
  auto packet = [](std::uint32_t n) {
    const std::uint8_t client[4] = {10, static_cast<std::uint8_t>(n / 62500),
                                    static_cast<std::uint8_t>(n / 250 % 250),
                                    static_cast<std::uint8_t>(n % 250)};
    return udp(IpAddress::v4(client), 5353, kServer, 53);
  };
  std::uint32_t next = 0;
  for (; next < 255; ++next) ct.open(packet(next), t0, 1);
  for (int generation = 1; generation <= 20; ++generation) {
    const Timestamp now = t0 + generation * seconds(31);  // the previous generation expired
    for (int i = 0; i < 255; ++i, ++next) {
      const PacketView p = packet(next);
      ASSERT_EQ(ct.track(p, now).state, TrackState::new_flow);
      ct.expire(now, 1);  // one old flow leaves between the miss and the open
      Flow* f = ct.open(p, now, 1);
      ASSERT_NE(f, nullptr);
      // Its next packet finds it by its own key (lookup() would also try the reply's).
      ASSERT_EQ(ct.track(p, now).flow, f) << "generation " << generation << ", flow " << next;
    }
  }
}

}  // namespace
}  // namespace portwall
