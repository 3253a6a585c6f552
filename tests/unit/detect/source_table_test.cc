// The per-source table with a fake clock: scan detection, rate limits, connection caps,
// port knocking (sequences, one-time sequences, SPA) and the table's bound.
#include "detect/source_table.h"

#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdio>

#include "detect/spa.h"
#include "packet/packet_view.h"
#include "rules/rule_values.h"

namespace portwall {
namespace {

using std::chrono::seconds;
const Timestamp t0 = Timestamp{} + seconds(1000);
const IpAddress kA = *parse_ip_address("203.0.113.9");
const IpAddress kB = *parse_ip_address("2001:db8::9");
const IpAddress kServer = *parse_ip_address("198.51.100.1");
constexpr std::uint8_t kTcp = ipproto::tcp, kUdp = ipproto::udp;

// --- Scan detection.

SourcePolicy scan(std::uint32_t ports = 3) {
  SourcePolicy p;
  p.scan.distinct_ports = ports;
  p.scan.window = seconds(5);
  p.scan.block = seconds(600);
  return p;
}

TEST(ScanDetection, MoreDistinctRefusedPortsThanTheThresholdMakeAScanner) {
  SourceTable t(16, scan(3));
  EXPECT_FALSE(t.note_refused(kA, kTcp, 21, t0));
  EXPECT_FALSE(t.note_refused(kA, kTcp, 23, t0));
  EXPECT_FALSE(t.note_refused(kA, kTcp, 25, t0));
  EXPECT_FALSE(t.note_refused(kB, kTcp, 26, t0)) << "another source counts apart";
  EXPECT_TRUE(t.note_refused(kA, kTcp, 80, t0 + seconds(1)));
  EXPECT_EQ(t.block_duration(), seconds(600));
}

TEST(ScanDetection, TheSamePortAgainIsNoScan) {
  SourceTable t(16, scan(3));
  for (int i = 0; i < 50; ++i) EXPECT_FALSE(t.note_refused(kA, kTcp, 23, t0 + seconds(i % 4)));
}

TEST(ScanDetection, TcpAndUdpPortsAreDistinct) {
  SourceTable t(16, scan(3));
  t.note_refused(kA, kTcp, 53, t0);
  t.note_refused(kA, kUdp, 53, t0);
  t.note_refused(kA, kTcp, 54, t0);
  EXPECT_TRUE(t.note_refused(kA, kUdp, 54, t0));
}

TEST(ScanDetection, TouchesOutsideTheWindowDoNotAddUp) {
  SourceTable t(16, scan(3));
  for (int i = 0; i < 20; ++i) {
    EXPECT_FALSE(
        t.note_refused(kA, kTcp, static_cast<std::uint16_t>(1000 + i), t0 + seconds(2 * i)))
        << "at most 3 ports within any 5 s";
  }
}

TEST(ScanDetection, NeverBlockNetworksAndDisabledDetection) {
  SourcePolicy p = scan(1);
  p.scan.never_block = {*parse_cidr("203.0.113.0/24")};
  SourceTable t(16, p);
  for (std::uint16_t port = 1; port < 50; ++port) EXPECT_FALSE(t.note_refused(kA, kTcp, port, t0));
  SourcePolicy off = scan(1);
  off.scan.enabled = false;
  SourceTable quiet(16, off);
  for (std::uint16_t port = 1; port < 50; ++port) {
    EXPECT_FALSE(quiet.note_refused(kB, kTcp, port, t0));
  }
}

// Issue 19, 3: one attacker owns the whole /64 its IPv6 addresses come from (fail2ban #927,
// #1123): touches count per prefix, and the block covers it.
IpAddress in_prefix(const char* prefix, unsigned host) {
  IpAddress a = *parse_ip_address(prefix);
  a.bytes[14] = static_cast<std::uint8_t>(host >> 8);
  a.bytes[15] = static_cast<std::uint8_t>(host);
  return a;
}

TEST(ScanDetection, AnIpv6ScannerRotatingThroughItsPrefixIsCaughtAndBlockedByIt) {
  SourceTable t(16, scan(3));
  for (unsigned i = 0; i < 3; ++i) {
    EXPECT_EQ(t.note_refused(in_prefix("2001:db8:5::", i + 1), kTcp,
                             static_cast<std::uint16_t>(100 + i), t0),
              0)
        << "each address touches one port only";
  }
  EXPECT_EQ(t.note_refused(in_prefix("2001:db8:5::", 77), kTcp, 200, t0), 64)
      << "the prefix touched 4 ports: it is blocked as a whole";
  EXPECT_EQ(t.note_refused(kA, kTcp, 1, t0), 0);
  EXPECT_EQ(t.note_refused(kA, kTcp, 2, t0), 0);
  EXPECT_EQ(t.note_refused(kA, kTcp, 3, t0), 0);
  EXPECT_EQ(t.note_refused(kA, kTcp, 4, t0), 32) << "an IPv4 scanner: its address";
  SourceTable v4(16, scan(1));
  v4.note_refused(kA, kTcp, 1, t0);
  EXPECT_EQ(v4.note_refused(kA, kTcp, 2, t0), 32) << "IPv4: the address alone";
}

TEST(ScanDetection, APrefixHoldingAVouchedPeerOrTheHostsInfrastructureBlocksTheAddressAlone) {
  SourceTable t(16, scan(1));
  t.vouch(in_prefix("2001:db8:6::", 1));  // a client with a connection it completed
  t.note_refused(in_prefix("2001:db8:6::", 2), kTcp, 1, t0);
  EXPECT_EQ(t.note_refused(in_prefix("2001:db8:6::", 2), kTcp, 2, t0), 128);
  t.unvouch(in_prefix("2001:db8:6::", 1));
  t.note_refused(in_prefix("2001:db8:6::", 3), kTcp, 3, t0);
  EXPECT_EQ(t.note_refused(in_prefix("2001:db8:6::", 3), kTcp, 4, t0), 64) << "vouched no more";
  t.trust({in_prefix("2001:db8:7::", 1)});  // the gateway
  t.note_refused(in_prefix("2001:db8:7::", 9), kTcp, 1, t0);
  EXPECT_EQ(t.note_refused(in_prefix("2001:db8:7::", 9), kTcp, 2, t0), 128);
  EXPECT_EQ(t.note_refused(in_prefix("2001:db8:7::", 1), kTcp, 3, t0), 0)
      << "the gateway itself is never blocked";
}

TEST(ScanDetection, APrefixHoldingANeverBlockNetworkBlocksTheAddressAlone) {
  SourcePolicy p = scan(1);
  p.scan.never_block = {*parse_cidr("2001:db8:a:0:1::/80")};  // a monitoring host's network
  SourceTable t(16, p);
  t.note_refused(in_prefix("2001:db8:a::", 9), kTcp, 1, t0);
  EXPECT_EQ(t.note_refused(in_prefix("2001:db8:a::", 9), kTcp, 2, t0), 128);
}

TEST(ScanDetection, Ipv6BlockPrefix128CountsAndBlocksEachAddressAlone) {
  SourcePolicy p = scan(1);
  p.scan.ipv6_block_prefix = 128;
  SourceTable t(16, p);
  EXPECT_EQ(t.note_refused(in_prefix("2001:db8:8::", 1), kTcp, 1, t0), 0);
  EXPECT_EQ(t.note_refused(in_prefix("2001:db8:8::", 2), kTcp, 2, t0), 0);
  EXPECT_EQ(t.note_refused(in_prefix("2001:db8:8::", 2), kTcp, 3, t0), 128);
  // A reload to /48 counts the vouched addresses again by the new prefix.
  t.vouch(in_prefix("2001:db8:9::", 1));
  p.scan.ipv6_block_prefix = 48;
  t.configure(p);
  IpAddress neighbour = in_prefix("2001:db8:9::", 5);
  neighbour.bytes[7] = 1;  // another /64 of the same /48
  t.note_refused(neighbour, kTcp, 1, t0);
  EXPECT_EQ(t.note_refused(neighbour, kTcp, 2, t0), 128);
}

// --- Rate limits.

// ufw's `recent --set` then `--update --hitcount 6`: the attempt itself counts, so 5 get
// through and the 6th is dropped (portwall once let 6 through).
TEST(Limits, UfwLimitDropsTheSixthWithin30Seconds) {
  SourceTable t;
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(t.admit(kA, 1, &kUfwLimit, t0 + seconds(i)), Admission::admitted) << i;
  }
  EXPECT_EQ(t.admit(kA, 1, &kUfwLimit, t0 + seconds(5)), Admission::rule_rate);
  EXPECT_EQ(t.stats().rule_rate_drops.load(), 1u);
  // As iptables' `recent`, refused attempts count too: hammering keeps the source out.
  for (int i = 7; i < 60; i += 4) {
    EXPECT_EQ(t.admit(kA, 1, &kUfwLimit, t0 + seconds(i)), Admission::rule_rate) << i;
  }
  // Once fewer than 5 earlier attempts fall within the last 30 s, it is let in again.
  EXPECT_EQ(t.admit(kA, 1, &kUfwLimit, t0 + seconds(62)), Admission::rule_rate);
  EXPECT_EQ(t.admit(kA, 1, &kUfwLimit, t0 + seconds(95)), Admission::admitted);
}

TEST(Limits, SourcesAndRulesHaveTheirOwnBuckets) {
  SourceTable t;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(t.admit(kA, 1, &kUfwLimit, t0), Admission::admitted);
  EXPECT_EQ(t.admit(kA, 1, &kUfwLimit, t0), Admission::rule_rate);
  EXPECT_EQ(t.admit(kB, 1, &kUfwLimit, t0), Admission::admitted) << "another source";
  EXPECT_EQ(t.admit(kA, 2, &kUfwLimit, t0), Admission::admitted) << "another rule";
  EXPECT_EQ(t.admit(kA, 3, nullptr, t0), Admission::admitted) << "not a limit rule";
}

TEST(Limits, RateAndBurstAreTunable) {
  SourceTable t;
  const Rate rate{2, seconds(10), 4};  // 4 at once, then one every 5 s
  for (int i = 0; i < 4; ++i) EXPECT_EQ(t.admit(kA, 1, &rate, t0), Admission::admitted);
  EXPECT_EQ(t.admit(kA, 1, &rate, t0), Admission::rule_rate);
  EXPECT_EQ(t.admit(kA, 1, &rate, t0 + seconds(4)), Admission::rule_rate);
  EXPECT_EQ(t.admit(kA, 1, &rate, t0 + seconds(5)), Admission::admitted);
}

TEST(Limits, NewConnectionsPerSourceAcrossAllRules) {
  SourcePolicy p;
  p.new_connections = Rate{3, seconds(60), 0};
  SourceTable t(16, p);
  EXPECT_EQ(t.admit(kA, 1, nullptr, t0), Admission::admitted);
  EXPECT_EQ(t.admit(kA, 2, nullptr, t0), Admission::admitted);
  EXPECT_EQ(t.admit(kA, 3, nullptr, t0), Admission::admitted);
  EXPECT_EQ(t.admit(kA, 4, nullptr, t0), Admission::source_rate);
  EXPECT_EQ(t.admit(kB, 4, nullptr, t0), Admission::admitted);
  EXPECT_EQ(t.stats().source_rate_drops.load(), 1u);
}

TEST(Limits, ARuleRateRefusalSpendsNoSourceToken) {
  SourcePolicy p;
  p.new_connections = Rate{6, seconds(60), 0};
  SourceTable t(16, p);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(t.admit(kA, 1, &kUfwLimit, t0), Admission::admitted);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(t.admit(kA, 1, &kUfwLimit, t0), Admission::rule_rate);
  EXPECT_EQ(t.admit(kA, 2, nullptr, t0), Admission::admitted) << "the 6th source token is left";
  EXPECT_EQ(t.admit(kA, 2, nullptr, t0), Admission::source_rate);
}

TEST(Limits, ConcurrentConnectionsPerSourceAreCapped) {
  SourcePolicy p;
  p.max_connections_per_source = 2;
  SourceTable t(16, p);
  bool counted = false;
  EXPECT_EQ(t.admit(kA, 1, nullptr, t0, &counted), Admission::admitted);
  EXPECT_TRUE(counted);
  EXPECT_EQ(t.admit(kA, 1, nullptr, t0, &counted), Admission::admitted);
  EXPECT_EQ(t.admit(kA, 1, nullptr, t0, &counted), Admission::source_flows);
  EXPECT_FALSE(counted);
  t.connection_closed(kA);
  EXPECT_EQ(t.admit(kA, 1, nullptr, t0, &counted), Admission::admitted);
  EXPECT_EQ(t.stats().source_flow_drops.load(), 1u);
}

// --- The bound.

TEST(SourceTableBound, FullTableForgetsTheSourceIdleLongest) {
  SourcePolicy p = scan(2);
  SourceTable t(3, p);
  const auto addr = [](int i) { return *parse_ip_address("10.0.0." + std::to_string(i)); };
  t.note_refused(addr(1), kTcp, 1, t0);
  t.note_refused(addr(1), kTcp, 2, t0);  // 1 is two ports from being a scanner
  t.note_refused(addr(2), kTcp, 1, t0 + seconds(1));
  t.note_refused(addr(3), kTcp, 1, t0 + seconds(2));
  t.note_refused(addr(4), kTcp, 1, t0 + seconds(3));  // evicts 1, idle the longest
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.stats().evicted.load(), 1u);
  EXPECT_FALSE(t.note_refused(addr(1), kTcp, 3, t0 + seconds(4))) << "its touches were forgotten";
}

TEST(SourceTableBound, AFloodOfSpoofedSourcesStaysWithinTheBoundAndItsMemory) {
  constexpr std::size_t kMax = 10000;
  SourcePolicy p = scan(10);
  p.new_connections = Rate{10, seconds(1), 0};
  const std::size_t before = mallinfo2().uordblks;
  {
    SourceTable t(kMax, p);
    for (std::uint32_t i = 0; i < 3 * kMax; ++i) {
      const std::uint8_t b[4] = {10, static_cast<std::uint8_t>(i >> 16),
                                 static_cast<std::uint8_t>(i >> 8), static_cast<std::uint8_t>(i)};
      const IpAddress a = IpAddress::v4(b);
      t.note_refused(a, kTcp, static_cast<std::uint16_t>(i % 1000 + 1), t0);
      (void)t.admit(a, 1, &kUfwLimit, t0);
    }
    EXPECT_EQ(t.size(), kMax);
    EXPECT_EQ(t.stats().evicted.load(), 2 * kMax);
    const std::size_t per_source = (mallinfo2().uordblks - before) / kMax;
    // Documented in README "Memory": a source with one refused port and two rate buckets.
    std::printf("[ figure ] %zu bytes per source (table of %zu)\n", per_source, kMax);
    EXPECT_LE(per_source, 400u);
  }
}

// --- Knocking.

SourcePolicy knocking() {
  SourcePolicy p = scan(3);
  KnockSection k;
  k.name = "ssh";
  k.sequence = {{kTcp, 7000}, {kUdp, 8000}, {kTcp, 9000}};
  k.window = seconds(10);
  k.open = {{kTcp, 22}};
  k.duration = seconds(30);
  p.knocks.push_back(k);
  return p;
}

KnockEvent knock(SourceTable& t, const IpAddress& from, std::uint8_t proto, std::uint16_t port,
                 Timestamp at) {
  const KnockResult r = t.knock(from, kServer, proto, port, {}, at, 0);
  EXPECT_TRUE(r.is_knock || port == 22 || port == 80) << port;
  return r.event;
}

TEST(Knock, TheRightSequenceOpensThePortForThatSourceOnly) {
  SourceTable t(16, knocking());
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0), 0u);
  EXPECT_EQ(knock(t, kA, kTcp, 7000, t0), KnockEvent::step);
  EXPECT_EQ(knock(t, kA, kUdp, 8000, t0 + seconds(1)), KnockEvent::step);
  EXPECT_EQ(knock(t, kA, kTcp, 9000, t0 + seconds(2)), KnockEvent::opened);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0 + seconds(3)), 1u);
  EXPECT_EQ(t.granted(kA, kUdp, 22, t0 + seconds(3)), 0u) << "22/tcp only";
  EXPECT_EQ(t.granted(kA, kTcp, 23, t0 + seconds(3)), 0u);
  EXPECT_EQ(t.granted(kB, kTcp, 22, t0 + seconds(3)), 0u) << "the knocking source only";
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0 + seconds(31)), 1u);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0 + seconds(32)), 0u) << "closed after 30 s";
  EXPECT_EQ(t.stats().knock_opened.load(), 1u);
  EXPECT_EQ(t.door_name(0), "ssh");
}

TEST(Knock, AWrongOrderDoesNotOpen) {
  SourceTable t(16, knocking());
  EXPECT_EQ(knock(t, kA, kTcp, 9000, t0), KnockEvent::none) << "not a first knock";
  EXPECT_EQ(knock(t, kA, kUdp, 8000, t0), KnockEvent::none);
  EXPECT_EQ(knock(t, kA, kTcp, 7000, t0), KnockEvent::step);
  EXPECT_EQ(knock(t, kA, kTcp, 9000, t0), KnockEvent::failed);
  EXPECT_EQ(knock(t, kA, kUdp, 8000, t0), KnockEvent::none) << "progress was reset";
  EXPECT_EQ(knock(t, kA, kTcp, 9000, t0), KnockEvent::none);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0), 0u);
  EXPECT_EQ(t.stats().knock_failed.load(), 1u);
}

TEST(Knock, AnyOtherConnectionInBetweenResetsProgress) {
  SourceTable t(16, knocking());
  knock(t, kA, kTcp, 7000, t0);
  const KnockResult other = t.knock(kA, kServer, kTcp, 80, {}, t0, 0);
  EXPECT_FALSE(other.is_knock) << "port 80 is judged by the rules";
  EXPECT_EQ(other.event, KnockEvent::failed);
  knock(t, kA, kUdp, 8000, t0);
  knock(t, kA, kTcp, 9000, t0);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0), 0u);
}

TEST(Knock, ARetransmittedKnockIsNeitherRightNorWrong) {
  SourceTable t(16, knocking());
  knock(t, kA, kTcp, 7000, t0);
  EXPECT_EQ(knock(t, kA, kTcp, 7000, t0 + seconds(1)), KnockEvent::none);
  knock(t, kA, kUdp, 8000, t0 + seconds(1));
  EXPECT_EQ(knock(t, kA, kTcp, 9000, t0 + seconds(1)), KnockEvent::opened);
}

TEST(Knock, TheWholeSequenceMustFitTheWindow) {
  SourceTable t(16, knocking());
  knock(t, kA, kTcp, 7000, t0);
  knock(t, kA, kUdp, 8000, t0 + seconds(5));
  EXPECT_EQ(knock(t, kA, kTcp, 9000, t0 + seconds(11)), KnockEvent::failed);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0 + seconds(11)), 0u);
}

TEST(Knock, SourcesKnockIndependently) {
  SourceTable t(16, knocking());
  knock(t, kA, kTcp, 7000, t0);
  knock(t, kB, kTcp, 7000, t0);
  knock(t, kA, kUdp, 8000, t0);
  knock(t, kB, kUdp, 8000, t0);
  EXPECT_EQ(knock(t, kB, kTcp, 9000, t0), KnockEvent::opened);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0), 0u);
  EXPECT_EQ(t.granted(kB, kTcp, 22, t0), 1u);
}

TEST(Knock, KnockPortsNeverCountAsScanTouches) {
  SourcePolicy p = knocking();
  p.scan.distinct_ports = 2;
  SourceTable t(16, p);
  for (std::uint16_t port : {7000, 9000, 9000}) EXPECT_FALSE(t.note_refused(kA, kTcp, port, t0));
  EXPECT_FALSE(t.note_refused(kA, kUdp, 8000, t0));
}

TEST(Knock, OneTimeSequencesWorkOnceEachAndSurviveARestart) {
  SourcePolicy p = knocking();
  p.knocks[0].sequence.clear();
  p.knocks[0].one_time_sequences = {{{kTcp, 7001}, {kTcp, 7002}}, {{kUdp, 7003}, {kTcp, 7004}}};
  SourceTable t(16, p);
  knock(t, kA, kTcp, 7001, t0);
  EXPECT_EQ(knock(t, kA, kTcp, 7002, t0), KnockEvent::opened);
  EXPECT_EQ(t.used_one_time_sequences(), std::vector<std::string>{"ssh: 7001/tcp,7002/tcp"});
  EXPECT_EQ(t.generation(), 1u);
  EXPECT_EQ(knock(t, kB, kTcp, 7001, t0), KnockEvent::none) << "used up";
  knock(t, kB, kTcp, 7002, t0);
  EXPECT_EQ(t.granted(kB, kTcp, 22, t0), 0u);
  knock(t, kB, kUdp, 7003, t0);
  EXPECT_EQ(knock(t, kB, kTcp, 7004, t0), KnockEvent::opened) << "the other one still works";

  SourceTable restarted(16, p);
  restarted.restore_used_one_time_sequences(t.used_one_time_sequences());
  EXPECT_EQ(knock(restarted, kA, kTcp, 7001, t0), KnockEvent::none);
  EXPECT_EQ(knock(restarted, kA, kUdp, 7003, t0), KnockEvent::none);
}

TEST(Knock, AReloadKeepsOpenDoorsOfKnocksThatStay) {
  SourceTable t(16, knocking());
  knock(t, kA, kTcp, 7000, t0);
  knock(t, kA, kUdp, 8000, t0);
  knock(t, kA, kTcp, 9000, t0);
  knock(t, kB, kTcp, 7000, t0);
  SourcePolicy more = knocking();
  KnockSection web = more.knocks[0];
  web.name = "web";
  web.sequence = {{kTcp, 6000}, {kTcp, 6001}};
  more.knocks.insert(more.knocks.begin(), web);  // "ssh" moves to index 1
  t.configure(more);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0), 2u);
  EXPECT_EQ(knock(t, kB, kUdp, 8000, t0), KnockEvent::none) << "progress starts over";
  t.configure(scan(3));
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0), 0u) << "the knock is gone, so is its door";
}

// --- Single-packet authorization.

// Issue 17, 6: on 0388e96 the source idle the longest went, whatever it held: a flood of
// forged sources closed the doors knocks had opened and reset the limits of whoever was over.
TEST(SourceTableBound, AFloodOfForgedSourcesNeitherClosesADoorNorResetsALimit) {
  SourcePolicy p = knocking();
  SourceTable t(8, p);
  knock(t, kA, kTcp, 7000, t0);
  knock(t, kA, kUdp, 8000, t0);
  ASSERT_EQ(knock(t, kA, kTcp, 9000, t0), KnockEvent::opened);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(t.admit(kB, 3, &kUfwLimit, t0), Admission::admitted);
  ASSERT_EQ(t.admit(kB, 3, &kUfwLimit, t0), Admission::rule_rate);
  for (std::uint32_t i = 0; i < 1000; ++i) {
    const std::uint8_t b[4] = {10, 9, static_cast<std::uint8_t>(i >> 8),
                               static_cast<std::uint8_t>(i)};
    t.note_refused(IpAddress::v4(b), kTcp, static_cast<std::uint16_t>(1 + i % 500),
                   t0 + seconds(1));
  }
  EXPECT_EQ(t.size(), 8u);
  EXPECT_GE(t.stats().evicted.load(), 990u);
  EXPECT_EQ(t.stats().evicted_holding.load(), 0u);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0 + seconds(2)), 1u) << "the door stays open";
  EXPECT_EQ(t.admit(kB, 3, &kUfwLimit, t0 + seconds(2)), Admission::rule_rate)
      << "the limit was not reset";
}

TEST(SourceTableBound, WhenEveryoneHoldsSomethingTheHoldingThatEndsSoonestGoes) {
  SourceTable t(2, knocking());
  knock(t, kA, kTcp, 7000, t0);
  knock(t, kA, kUdp, 8000, t0);
  ASSERT_EQ(knock(t, kA, kTcp, 9000, t0), KnockEvent::opened);  // open until t0 + 30 s
  ASSERT_EQ(t.admit(kB, 3, &kUfwLimit, t0 + seconds(5)), Admission::admitted);  // t0 + 35 s
  const IpAddress c = *parse_ip_address("198.51.100.7");
  ASSERT_EQ(t.admit(c, 3, &kUfwLimit, t0 + seconds(6)), Admission::admitted);
  EXPECT_EQ(t.stats().evicted_holding.load(), 1u);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0 + seconds(6)), 0u) << "its door closed first";
  EXPECT_EQ(t.size(), 2u);
}

SourcePolicy spa_policy() {
  SourcePolicy p;
  KnockSection k;
  k.name = "spa";
  k.spa_port = 62201;
  k.spa_key = "correct horse battery staple";
  k.spa_window = seconds(30);
  k.open = {{kTcp, 22}};
  k.duration = seconds(30);
  p.knocks.push_back(k);
  return p;
}

constexpr std::int64_t kWall = 1'796'000'000;
const SpaNonce kNonce = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
constexpr const char* kKey = "correct horse battery staple";

// A packet as `from`'s client makes it for kServer's door 62201, stamped `wall`.
SpaPacket spa(const IpAddress& from, std::int64_t wall = kWall, const SpaNonce& nonce = kNonce,
              const char* key = kKey, const IpAddress& to = kServer, std::uint16_t port = 62201) {
  return make_spa_packet(key, SpaToken{wall, nonce, from, to, port});
}

KnockResult spa_knock(SourceTable& t, const IpAddress& from, const SpaPacket& packet, Timestamp at,
                      std::int64_t wall, const IpAddress& to = kServer,
                      std::uint16_t port = 62201) {
  return t.knock(from, to, kUdp, port, packet, at, wall);
}

TEST(Spa, AFreshAuthenticatedPacketOpensTheDoorAndItsReplayDoesNot) {
  SourceTable t(16, spa_policy());
  const SpaPacket packet = spa(kA);
  KnockResult r = spa_knock(t, kA, packet, t0, kWall + 3);
  EXPECT_TRUE(r.is_knock);
  EXPECT_EQ(r.event, KnockEvent::spa_opened);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0 + seconds(1)), 1u);
  // Someone who sniffed it sends it again from the same (forged) address.
  r = spa_knock(t, kA, packet, t0 + seconds(2), kWall + 5);
  EXPECT_EQ(r.event, KnockEvent::spa_replayed);
  EXPECT_EQ(t.stats().spa_replayed.load(), 1u);
}

TEST(Spa, ACopySentFromAnotherAddressOpensNothingAndTheGenuinePacketStillDoes) {
  SourceTable t(16, spa_policy());
  const SpaPacket packet = spa(kA);
  // The on-path attacker is faster than the packet he copied.
  const IpAddress attacker = *parse_ip_address("203.0.113.66");
  EXPECT_EQ(spa_knock(t, attacker, packet, t0, kWall).event, KnockEvent::spa_rejected);
  EXPECT_EQ(spa_knock(t, kB, packet, t0, kWall).event, KnockEvent::spa_rejected);
  EXPECT_EQ(t.granted(attacker, kTcp, 22, t0), 0u);
  EXPECT_EQ(t.stats().spa_misbound.load(), 2u);
  EXPECT_EQ(spa_knock(t, kA, packet, t0, kWall).event, KnockEvent::spa_opened)
      << "the copies did not use up the nonce";
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0), 1u);
}

TEST(Spa, ACopySentToAnotherServerOrAnotherDoorOpensNothing) {
  SourcePolicy p = spa_policy();
  KnockSection other = p.knocks.front();
  other.name = "other";
  other.spa_port = 62202;  // the same key on a second door
  other.open = {{kTcp, 2222}};
  p.knocks.push_back(other);
  SourceTable t(16, p);
  const SpaPacket packet = spa(kA);
  const IpAddress second_server = *parse_ip_address("198.51.100.2");
  EXPECT_EQ(spa_knock(t, kA, packet, t0, kWall, second_server).event, KnockEvent::spa_rejected);
  EXPECT_EQ(spa_knock(t, kA, packet, t0, kWall, kServer, 62202).event, KnockEvent::spa_rejected);
  EXPECT_EQ(t.granted(kA, kTcp, 2222, t0), 0u);
  EXPECT_EQ(spa_knock(t, kA, packet, t0, kWall).event, KnockEvent::spa_opened);
}

TEST(Spa, AServerBehindNatTakesPacketsForTheAddressItListsInSpaDestinations) {
  SourcePolicy p = spa_policy();
  const IpAddress public_address = *parse_ip_address("192.0.2.80");
  p.knocks.front().spa_destinations = {public_address};
  SourceTable t(16, p);
  // The client knocks at the public address; the packet arrives at the private one.
  const SpaPacket packet = spa(kA, kWall, kNonce, kKey, public_address);
  EXPECT_EQ(spa_knock(t, kA, packet, t0, kWall, kServer).event, KnockEvent::spa_opened);
  const SpaPacket elsewhere = spa(kA, kWall, {7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7}, kKey,
                                  *parse_ip_address("192.0.2.81"));
  EXPECT_EQ(spa_knock(t, kA, elsewhere, t0, kWall, kServer).event, KnockEvent::spa_rejected);
}

TEST(Spa, UsedNoncesSurviveARestartUntilThePacketWouldBeStale) {
  SourceTable before(16, spa_policy());
  const SpaPacket packet = spa(kA);
  const std::uint64_t generation = before.generation();
  ASSERT_EQ(spa_knock(before, kA, packet, t0, kWall).event, KnockEvent::spa_opened);
  EXPECT_NE(before.generation(), generation) << "the state file is written";
  const std::vector<SeenSpaNonce> saved = before.used_spa_nonces(t0 + seconds(1));
  ASSERT_EQ(saved.size(), 1u);
  // The daemon restarts 5 s later: its steady clock starts elsewhere.
  const Timestamp t1 = t0 + std::chrono::hours(1);
  SourceTable after(16, spa_policy());
  std::vector<SeenSpaNonce> moved = saved;
  for (SeenSpaNonce& n : moved) n.forget_at = t1 + (n.forget_at - (t0 + seconds(5)));
  after.restore_used_spa_nonces(moved, t1);
  EXPECT_EQ(spa_knock(after, kA, packet, t1, kWall + 5).event, KnockEvent::spa_replayed);
  EXPECT_EQ(spa_knock(after, kA, packet, t1 + seconds(70), kWall + 75).event,
            KnockEvent::spa_rejected)
      << "stale by now";
  EXPECT_TRUE(after.used_spa_nonces(t1 + seconds(70)).empty());
}

TEST(Spa, WrongKeyStaleOrMalformedPacketsAreRejected) {
  SourceTable t(16, spa_policy());
  const SpaPacket wrong_key = spa(kA, kWall, kNonce, "another key of enough length");
  EXPECT_EQ(spa_knock(t, kA, wrong_key, t0, kWall).event, KnockEvent::spa_rejected);
  EXPECT_EQ(spa_knock(t, kA, spa(kA, kWall - 31), t0, kWall).event, KnockEvent::spa_rejected);
  EXPECT_EQ(spa_knock(t, kA, spa(kA, kWall + 31), t0, kWall).event, KnockEvent::spa_rejected);
  const std::uint8_t junk[5] = {'h', 'e', 'l', 'l', 'o'};
  const KnockResult r = t.knock(kA, kServer, kUdp, 62201, junk, t0, kWall);
  EXPECT_TRUE(r.is_knock) << "dropped silently all the same";
  EXPECT_EQ(r.event, KnockEvent::spa_rejected);
  EXPECT_EQ(t.granted(kA, kTcp, 22, t0), 0u);
  EXPECT_EQ(t.stats().spa_rejected.load(), 4u);
  EXPECT_EQ(t.stats().spa_misbound.load(), 0u);
}

TEST(Spa, ANonceIsForgottenOnlyAfterThePacketWouldBeStale) {
  SourceTable t(16, spa_policy());
  const SpaPacket packet = spa(kA);
  ASSERT_EQ(spa_knock(t, kA, packet, t0, kWall).event, KnockEvent::spa_opened);
  EXPECT_EQ(spa_knock(t, kA, packet, t0 + seconds(29), kWall + 29).event, KnockEvent::spa_replayed);
  EXPECT_EQ(spa_knock(t, kA, packet, t0 + seconds(70), kWall + 70).event, KnockEvent::spa_rejected)
      << "by now it is stale";
}

}  // namespace
}  // namespace portwall
