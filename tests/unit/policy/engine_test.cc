// The decision: state first, then rules, then defaults; invalid TCP dropped; pickup grace.
#include "policy/engine.h"

#include <gtest/gtest.h>

#include "test_packets.h"

namespace portwall {
namespace {

using std::chrono::seconds;

using test::kClient;
using test::kServer;
using test::tcp;
const Timestamp kStart = Timestamp{} + seconds(1000);
const HookInfo kIn{Direction::in, "eth0", ""};
const HookInfo kOut{Direction::out, "", "eth0"};

PacketView syn_in(std::uint16_t dport) { return tcp(kClient, 40000, kServer, dport, tcpflag::syn); }

Rule rule(Action action, std::uint16_t port, bool log = false) {
  Rule r;
  r.action = action;
  r.proto = Proto::tcp;
  r.port.ranges = {{port, port}};
  r.port_text = std::to_string(port);
  r.log = log;
  return r;
}

std::shared_ptr<const PolicySnapshot> policy(std::vector<Rule> rules,
                                             Action incoming = Action::deny) {
  RuleSet set;
  set.rules = std::move(rules);
  set.defaults.incoming = incoming;
  return std::make_shared<const PolicySnapshot>(std::move(set));
}

Engine engine(std::shared_ptr<const PolicySnapshot> p, Duration grace = seconds(0),
              std::uint32_t max_entries = 1024) {
  EngineOptions o;
  o.conntrack.max_entries = max_entries;
  o.pickup_until = kStart + grace;
  return Engine(std::move(p), o);
}

void expect(const Decision& d, Verdict v, Reason r, std::uint32_t rule_number) {
  EXPECT_EQ(d.verdict, v) << to_string(d.verdict);
  EXPECT_EQ(d.reason, r) << to_string(d.reason);
  EXPECT_EQ(d.rule_number, rule_number);
}

TEST(Engine, AllowedSynOpensAFlowWhoseRepliesPassByState) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  expect(e.decide(syn_in(22), kIn, kStart), Verdict::accept, Reason::rule, 1);
  const PacketView synack = tcp(kServer, 22, kClient, 40000, tcpflag::syn | tcpflag::ack);
  expect(e.decide(synack, kOut, kStart), Verdict::accept, Reason::state, 1);
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 1);
  EXPECT_EQ(e.conntrack().size(), 1u);
}

TEST(Engine, NoMatchingRuleFallsToTheDefaultAndIsLogged) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  const Decision d = e.decide(syn_in(23), kIn, kStart);
  expect(d, Verdict::drop, Reason::default_policy, 0);
  EXPECT_TRUE(d.log);
  EXPECT_EQ(e.conntrack().size(), 0u) << "a denied flow is not tracked";
}

TEST(Engine, InMonitorModeARefusedConnectionIsDecidedOnceThenTrackedAsIfAccepted) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  e.set_monitor(true);
  const Decision d = e.decide(syn_in(23), kIn, kStart);
  expect(d, Verdict::drop, Reason::default_policy, 0);  // what enforcement would do
  EXPECT_TRUE(d.log);
  EXPECT_EQ(e.conntrack().size(), 1u);
  // The caller let the SYN through: the answer and the rest pass by state, unlogged.
  const PacketView synack = tcp(kServer, 23, kClient, 40000, tcpflag::syn | tcpflag::ack);
  const Decision reply = e.decide(synack, kOut, kStart);
  expect(reply, Verdict::accept, Reason::state, 0);
  EXPECT_FALSE(reply.log);
  expect(e.decide(tcp(kClient, 40000, kServer, 23, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 0);
  // Back to enforce: new refused connections are not tracked.
  e.set_monitor(false);
  expect(e.decide(tcp(kClient, 40001, kServer, 23, tcpflag::syn), kIn, kStart), Verdict::drop,
         Reason::default_policy, 0);
  EXPECT_EQ(e.conntrack().size(), 1u);
}

TEST(Engine, DenyAndRejectRulesDecideAndAreLogged) {
  Engine e = engine(policy({rule(Action::deny, 23), rule(Action::reject, 113)}, Action::allow));
  const Decision deny = e.decide(syn_in(23), kIn, kStart);
  expect(deny, Verdict::drop, Reason::rule, 1);
  EXPECT_TRUE(deny.log);
  expect(e.decide(syn_in(113), kIn, kStart), Verdict::reject, Reason::rule, 2);
  expect(e.decide(syn_in(80), kIn, kStart), Verdict::accept, Reason::default_policy, 0);
  EXPECT_EQ(e.counters()[Counter::dropped], 1u);
  EXPECT_EQ(e.counters()[Counter::rejected], 1u);
  EXPECT_EQ(e.counters()[Counter::accepted], 1u);
}

TEST(Engine, AcceptsAreLoggedOnlyWhenTheRuleSaysLog) {
  Engine e = engine(policy({rule(Action::allow, 22, true), rule(Action::allow, 80)}));
  EXPECT_TRUE(e.decide(syn_in(22), kIn, kStart).log);
  EXPECT_FALSE(e.decide(syn_in(80), kIn, kStart).log);
}

TEST(Engine, FirstMatchWins) {
  Engine e = engine(policy({rule(Action::deny, 22), rule(Action::allow, 22)}));
  expect(e.decide(syn_in(22), kIn, kStart), Verdict::drop, Reason::rule, 1);
}

TEST(Engine, OutgoingDefaultAllowOpensFlowsTheReplyOfWhichPasses) {
  Engine e = engine(policy({}));
  expect(e.decide(tcp(kServer, 50000, kClient, 443, tcpflag::syn), kOut, kStart), Verdict::accept,
         Reason::default_policy, 0);
  expect(e.decide(tcp(kClient, 443, kServer, 50000, tcpflag::syn | tcpflag::ack), kIn, kStart),
         Verdict::accept, Reason::state, 0);
}

TEST(Engine, BareAckWithoutFlowIsInvalidOutsideThePickupGrace) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  const Decision d = e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart);
  expect(d, Verdict::drop, Reason::invalid, 0);
  EXPECT_TRUE(d.log);
}

TEST(Engine, InvalidFlagCombinationsAreDropped) {
  Engine e = engine(policy({rule(Action::allow, 22)}, Action::allow));
  for (std::uint8_t flags :
       {std::uint8_t{0}, std::uint8_t(tcpflag::fin | tcpflag::psh | tcpflag::urg),
        std::uint8_t(tcpflag::syn | tcpflag::fin), std::uint8_t(tcpflag::syn | tcpflag::rst)}) {
    expect(e.decide(tcp(kClient, 40000, kServer, 22, flags), kIn, kStart), Verdict::drop,
           Reason::invalid, 0);
  }
}

TEST(Engine, MidStreamFlowAllowedByRulesIsAdoptedDuringTheGrace) {
  Engine e = engine(policy({rule(Action::allow, 22)}), seconds(60));
  const PacketView ack = tcp(kClient, 40000, kServer, 22, tcpflag::ack);
  expect(e.decide(ack, kIn, kStart + seconds(5)), Verdict::accept, Reason::rule, 1);
  EXPECT_EQ(e.counters()[Counter::picked_up], 1u);
  expect(e.decide(tcp(kServer, 22, kClient, 40000, tcpflag::ack), kOut, kStart + seconds(5)),
         Verdict::accept, Reason::state, 1);
}

TEST(Engine, MidStreamFlowIsInvalidAfterTheGrace) {
  Engine e = engine(policy({rule(Action::allow, 22)}), seconds(60));
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart + seconds(61)),
         Verdict::drop, Reason::invalid, 0);
}

TEST(Engine, MidStreamFlowTheRulesDenyIsNotAdopted) {
  Engine e = engine(policy({rule(Action::allow, 22)}), seconds(60));
  expect(e.decide(tcp(kClient, 40000, kServer, 23, tcpflag::ack), kIn, kStart), Verdict::drop,
         Reason::default_policy, 0);
  EXPECT_EQ(e.conntrack().size(), 0u);
}

TEST(Engine, NewRulesKeepEstablishedFlowsButJudgeNewOnes) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  e.decide(syn_in(22), kIn, kStart);
  e.decide(tcp(kServer, 22, kClient, 40000, tcpflag::syn | tcpflag::ack), kOut, kStart);
  e.set_policy(policy({}));  // ssh no longer allowed
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 1);
  expect(e.decide(tcp(kClient, 40001, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::drop,
         Reason::default_policy, 0);
}

// Issue 8, point 5: a recheck after a rule change cuts what the new rules deny.
void establish_ssh(Engine& e) {
  e.decide(syn_in(22), kIn, kStart);
  e.decide(tcp(kServer, 22, kClient, 40000, tcpflag::syn | tcpflag::ack), kOut, kStart);
  e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart);
}

TEST(Engine, RecheckCutsWhatTheNewRulesDenyDropsItsPacketsAndLogsTheFirstOnly) {
  Engine e = engine(policy({rule(Action::allow, 22), rule(Action::allow, 80)}));
  establish_ssh(e);
  e.set_policy(policy({rule(Action::allow, 80)}));
  const RecheckResult r = e.recheck(kStart, Engine::Denied::cut);
  ASSERT_EQ(r.cut.size(), 1u);
  EXPECT_EQ(r.cut[0].dst_port, 22);
  EXPECT_EQ(r.kept, 0u);
  Decision d = e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart);
  expect(d, Verdict::drop, Reason::default_policy, 0);
  EXPECT_TRUE(d.log);
  d = e.decide(tcp(kServer, 22, kClient, 40000, tcpflag::ack), kOut, kStart);
  expect(d, Verdict::drop, Reason::default_policy, 0);
  EXPECT_FALSE(d.log) << "one line per cut connection";
  // Still tracked, so that a rollback can restore it; gone kCutKept after its last packet.
  EXPECT_EQ(e.conntrack().size(), 1u);
  EXPECT_EQ(e.recheck(kStart, Engine::Denied::cut).cut.size(), 0u) << "cut once";
  e.conntrack().expire(kStart + Engine::kCutKept + seconds(1));
  EXPECT_EQ(e.conntrack().size(), 0u);
}

TEST(Engine, RecheckLeavesAConnectionThatHasAlreadyClosed) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  establish_ssh(e);
  e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::rst), kIn, kStart);  // nc -z's way out
  ASSERT_EQ(e.conntrack().size(), 1u) << "the closed entry waits out its timeout";
  e.set_policy(policy({}));
  EXPECT_TRUE(e.recheck(kStart, Engine::Denied::cut).cut.empty());
}

TEST(Engine, RecheckRestoresACutFlowTheRulesAllowAgain) {
  auto before = policy({rule(Action::allow, 22)});
  Engine e = engine(before);
  establish_ssh(e);
  e.set_policy(policy({rule(Action::deny, 22)}));
  ASSERT_EQ(e.recheck(kStart, Engine::Denied::cut).cut.size(), 1u);
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::drop,
         Reason::rule, 1);
  e.set_policy(before);  // rolled back
  const RecheckResult r = e.recheck(kStart, Engine::Denied::cut);
  EXPECT_EQ(r.restored, 1u);
  EXPECT_TRUE(r.cut.empty());
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 1);
}

TEST(Engine, RecheckLeavesDeniedFlowsWhenToldWithoutKeepingThem) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  establish_ssh(e);
  e.set_policy(policy({}));
  RecheckResult r = e.recheck(kStart, Engine::Denied::leave);  // monitor mode, an unblock
  EXPECT_TRUE(r.cut.empty());
  EXPECT_EQ(r.kept, 1u);
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 1);
  r = e.recheck(kStart, Engine::Denied::cut);  // a later change, enforced
  EXPECT_EQ(r.cut.size(), 1u) << "leave does not keep";
}

TEST(Engine, RecheckJudgesByTheInterfaceAndDirectionTheFlowWasOpenedOn) {
  Rule on_eth0 = rule(Action::allow, 22);
  on_eth0.interface = "eth0";
  Engine e = engine(policy({on_eth0}));
  establish_ssh(e);
  // Outbound: this host's own connection, allowed by the outgoing default.
  e.decide(tcp(kServer, 50000, kClient, 443, tcpflag::syn), kOut, kStart);
  // The same rules again: nothing is cut (the interface and direction are remembered).
  e.set_policy(policy({on_eth0}));
  RecheckResult r = e.recheck(kStart, Engine::Denied::cut);
  EXPECT_TRUE(r.cut.empty());
  // Only on eth1 now: the ssh flow (opened on eth0) is cut, the outbound one stays.
  Rule on_eth1 = on_eth0;
  on_eth1.interface = "eth1";
  e.set_policy(policy({on_eth1}));
  r = e.recheck(kStart, Engine::Denied::cut);
  ASSERT_EQ(r.cut.size(), 1u);
  EXPECT_EQ(r.cut[0].dst_port, 22);
}

TEST(Engine, ABlockWithKeepEstablishedLetsTheOpenConnectionOutliveIt) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  establish_ssh(e);
  e.blocks().add(kClient, Timestamp::max(), BlockReason::manual, kStart);
  EXPECT_EQ(e.recheck(kStart, Engine::Denied::keep, Cidr{kClient, 32}).kept, 1u);
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 1);
  expect(e.decide(tcp(kClient, 40001, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::drop,
         Reason::blocked, 0);
  // Unblocked and blocked again without keep: cut.
  e.blocks().remove(kClient);
  e.recheck(kStart, Engine::Denied::leave);
  e.blocks().add(kClient, Timestamp::max(), BlockReason::manual, kStart);
  EXPECT_EQ(e.recheck(kStart, Engine::Denied::cut).cut.size(), 1u);
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::drop,
         Reason::blocked, 0);
}

// Issue 19: a CrowdSec decision drops like a manual block, and its log line says who decided.
TEST(Engine, AFeedBlockOfARangeDropsEveryAddressInItAndSaysItIsCrowdSecs) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  const IpAddress net = masked(kClient, 24);
  e.blocks().apply_feed({{net, kStart + std::chrono::minutes(2), BlockReason::crowdsec, 24, 0}}, {},
                        true, kStart);
  const Decision d = e.decide(tcp(kClient, 40001, kServer, 22, tcpflag::syn), kIn, kStart);
  EXPECT_EQ(d.verdict, Verdict::drop);
  EXPECT_EQ(d.reason, Reason::blocked);
  EXPECT_TRUE(d.by_feed);
  IpAddress neighbour = kClient;
  neighbour.bytes[3] ^= 0x40;
  EXPECT_EQ(e.decide(tcp(neighbour, 40002, kServer, 22, tcpflag::syn), kIn, kStart).verdict,
            Verdict::drop);
  const Decision later = e.decide(tcp(kClient, 40003, kServer, 22, tcpflag::syn), kIn,
                                  kStart + std::chrono::minutes(3));
  EXPECT_EQ(later.verdict, Verdict::accept) << "the decision's two minutes are over";
}

// Issue 8, point 4: a forwarded connection is judged by the port the client asked for.
std::shared_ptr<const PolicySnapshot> policy_with_redirect(std::vector<Rule> rules) {
  RuleSet set;
  set.rules = std::move(rules);
  Forward f;
  f.proto = Proto::tcp;
  f.port = 80;
  f.to_port = 8080;
  set.forwards = {f};
  return std::make_shared<const PolicySnapshot>(std::move(set));
}

TEST(Engine, ARedirectedConnectionIsJudgedByItsPublicPortADirectOneByItsOwn) {
  Engine e = engine(policy_with_redirect({rule(Action::allow, 80)}));
  HookInfo redirected = kIn;
  redirected.redirected = true;
  expect(e.decide(syn_in(8080), redirected, kStart), Verdict::accept, Reason::rule, 1);
  expect(e.decide(tcp(kClient, 40001, kServer, 8080, tcpflag::syn), kIn, kStart), Verdict::drop,
         Reason::default_policy, 0);
  // A rule change judges it again by port 80 too: it stays.
  e.decide(tcp(kServer, 8080, kClient, 40000, tcpflag::syn | tcpflag::ack), kOut, kStart);
  e.set_policy(policy_with_redirect({rule(Action::allow, 80), rule(Action::allow, 22)}));
  EXPECT_TRUE(e.recheck(kStart, Engine::Denied::cut).cut.empty());
  e.set_policy(policy_with_redirect({rule(Action::allow, 22)}));
  EXPECT_EQ(e.recheck(kStart, Engine::Denied::cut).cut.size(), 1u) << "port 80 no longer allowed";
}

TEST(Engine, AFlowKeptWithKeepEstablishedOutlivesLaterChangesButNotABlock) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  establish_ssh(e);
  e.set_policy(policy({}));
  EXPECT_EQ(e.recheck(kStart, Engine::Denied::keep).kept, 1u);
  e.set_policy(policy({rule(Action::allow, 80)}));  // an unrelated change, without keep
  EXPECT_TRUE(e.recheck(kStart, Engine::Denied::cut).cut.empty());
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 1);
  e.blocks().add(kClient, Timestamp::max(), BlockReason::manual, kStart);
  EXPECT_EQ(e.recheck(kStart, Engine::Denied::cut).cut.size(), 1u) << "a block still cuts it";
  // Unblocked: the kept connection comes back, though the rules still deny it.
  e.blocks().remove(kClient);
  EXPECT_EQ(e.recheck(kStart, Engine::Denied::leave).restored, 1u);
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 0);  // no rule admits it now
}

TEST(Engine, KeepEstablishedOnABlockSparesOnlyTheAddressItNames) {
  const IpAddress other = *parse_ip_address("198.51.100.7");
  Engine e = engine(policy({rule(Action::allow, 22)}));
  establish_ssh(e);
  e.decide(tcp(other, 41000, kServer, 22, tcpflag::syn), kIn, kStart);
  e.decide(tcp(kServer, 22, other, 41000, tcpflag::syn | tcpflag::ack), kOut, kStart);
  e.blocks().add(other, Timestamp::max(), BlockReason::scan, kStart);  // blocked before
  e.blocks().add(kClient, Timestamp::max(), BlockReason::manual, kStart);
  e.recheck(kStart, Engine::Denied::keep, Cidr{kClient, 32});
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 1);
  expect(e.decide(tcp(other, 41000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::drop,
         Reason::scan_block, 0);
}

TEST(Engine, AForwardedReplyIsOutgoingNeverAScanTouchOfTheDestination) {
  RuleSet set;
  Forward f;
  f.proto = Proto::tcp;
  f.port = 443;
  f.to_address = kServer;  // the forward's destination
  f.to_port = 8443;
  set.forwards = {f};
  EngineOptions o;
  o.sources_policy.scan.distinct_ports = 2;
  o.pickup_until = Timestamp::max();  // as with inspect = "new"
  Engine e(std::make_shared<const PolicySnapshot>(std::move(set)), o);
  HookInfo forwarded{Direction::in, "eth1", "eth0", true, false};
  // Replies without a flow (picked up after a restart) from the destination to clients' ports.
  for (std::uint16_t port = 40000; port < 40004; ++port) {
    expect(e.decide(tcp(kServer, 8443, kClient, port, tcpflag::ack), forwarded, kStart),
           Verdict::accept, Reason::default_policy, 0);
  }
  EXPECT_EQ(e.counters()[Counter::scan_blocks], 0u);
  EXPECT_FALSE(e.blocks().contains(kServer, kStart));
}

TEST(Engine, RecheckLeavesConnectionsAKnockLetIn) {
  EngineOptions o;
  KnockSection k;
  k.name = "ssh";
  k.sequence = {{ipproto::tcp, 7000}, {ipproto::tcp, 8000}};
  k.open = {{ipproto::tcp, 22}};
  o.sources_policy.knocks = {k};
  Engine e(policy({}), o);
  e.decide(tcp(kClient, 1, kServer, 7000, tcpflag::syn), kIn, kStart);
  e.decide(tcp(kClient, 2, kServer, 8000, tcpflag::syn), kIn, kStart);
  expect(e.decide(tcp(kClient, 3, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::accept,
         Reason::knock, 0);
  const RecheckResult r = e.recheck(kStart, Engine::Denied::cut);
  EXPECT_TRUE(r.cut.empty());
  EXPECT_EQ(r.kept, 0u);
}

TEST(Engine, RuleHitCountersCountPacketsAndBytesOfNewFlows) {
  auto p = policy({rule(Action::allow, 22)});
  Engine e = engine(p);
  e.decide(syn_in(22), kIn, kStart);
  e.decide(tcp(kClient, 40001, kServer, 22, tcpflag::syn), kIn, kStart);
  EXPECT_EQ(p->hits(1).packets.load(), 2u);
  EXPECT_EQ(p->hits(1).bytes.load(), 120u);
}

TEST(Engine, NeighbourDiscoveryPassesEvenWhenEverythingIsDenied) {
  Engine e = engine(policy({}));
  PacketView ns;
  ns.family = Family::ipv6;
  ns.src = *parse_ip_address("fe80::1");
  ns.dst = *parse_ip_address("ff02::1:ff00:2");
  ns.protocol = ipproto::icmpv6;
  ns.has_l4 = true;
  ns.icmp_type = 135;
  ns.ttl = 255;
  expect(e.decide(ns, kIn, kStart), Verdict::accept, Reason::default_policy, 0);
  ns.ttl = 64;  // forwarded from off-link: not genuine neighbour discovery (RFC 4861 §7.1.1)
  expect(e.decide(ns, kIn, kStart), Verdict::drop, Reason::default_policy, 0);
}

TEST(Engine, NonFirstFragmentIsInvalid) {
  Engine e = engine(policy({}, Action::allow));
  PacketView frag = syn_in(22);
  frag.is_fragment = true;
  frag.fragment_offset = 1480;
  frag.has_l4 = false;
  expect(e.decide(frag, kIn, kStart), Verdict::drop, Reason::invalid, 0);
}

TEST(Engine, RoutingHeaderTypeZeroIsInvalidEvenToAnAllowedPort) {
  Engine e = engine(policy({}, Action::allow));
  PacketView rh0 = syn_in(22);
  rh0.routing_type0 = true;  // RFC 5095; ufw's before6.rules drop it too
  expect(e.decide(rh0, kIn, kStart), Verdict::drop, Reason::invalid, 0);
}

// A TCP segment with sequence and acknowledgement numbers, for the window check.
PacketView seg(PacketView p, std::uint32_t seq, std::uint32_t ack) {
  p.seq = seq;
  p.ack = ack;
  p.window = 64000;
  return p;
}

// kClient:40000 -> kServer:22, its three segments with sequence numbers: assured.
void handshake_with_windows(Engine& e) {
  using namespace tcpflag;
  e.decide(seg(tcp(kClient, 40000, kServer, 22, syn), 100, 0), kIn, kStart);
  e.decide(seg(tcp(kServer, 22, kClient, 40000, syn | ack), 900, 101), kOut, kStart);
  e.decide(seg(tcp(kClient, 40000, kServer, 22, ack), 101, 901), kIn, kStart);
}

// The rule-change race of CI: a client reused the ports of a connection that had closed and
// waited out TIME_WAIT here; the reused SYN carried on the old flow past the deleted rule.
TEST(Engine, ASynReusingAClosedConnectionsPortsIsJudgedByTheRulesOfNow) {
  Engine e = engine(policy({rule(Action::allow, 22)}, Action::reject));
  using namespace tcpflag;
  handshake_with_windows(e);
  e.decide(seg(tcp(kServer, 22, kClient, 40000, fin | ack), 901, 101), kOut, kStart);
  e.decide(seg(tcp(kClient, 40000, kServer, 22, fin | ack), 101, 902), kIn, kStart);
  e.decide(seg(tcp(kServer, 22, kClient, 40000, ack), 902, 102), kOut, kStart);
  ASSERT_EQ(e.conntrack().size(), 1u) << "TIME_WAIT";
  e.set_policy(policy({}, Action::reject));
  e.recheck(kStart, Engine::Denied::cut);
  expect(e.decide(seg(tcp(kClient, 40000, kServer, 22, syn), 5000, 0), kIn, kStart),
         Verdict::reject, Reason::default_policy, 0);
  EXPECT_EQ(e.conntrack().size(), 0u);
  // And with the rule back, the same ports open a connection again.
  e.set_policy(policy({rule(Action::allow, 22)}, Action::reject));
  expect(e.decide(seg(tcp(kClient, 40000, kServer, 22, syn), 9000, 0), kIn, kStart),
         Verdict::accept, Reason::rule, 1);
  expect(e.decide(seg(tcp(kServer, 22, kClient, 40000, syn | ack), 77, 9001), kOut, kStart),
         Verdict::accept, Reason::state, 1);
}

TEST(Engine, RstFarOutsideTheWindowIsDroppedAndTheConnectionStays) {
  Engine e = engine(policy({}, Action::allow));
  using namespace tcpflag;
  e.decide(seg(tcp(kClient, 40000, kServer, 22, syn), 100, 0), kIn, kStart);
  e.decide(seg(tcp(kServer, 22, kClient, 40000, syn | ack), 900, 101), kOut, kStart);
  expect(e.decide(seg(tcp(kClient, 40000, kServer, 22, ack), 101, 901), kIn, kStart),
         Verdict::accept, Reason::state, 0);
  expect(e.decide(seg(tcp(kClient, 40000, kServer, 22, rst), 101 + 1'000'000'000u, 0), kIn, kStart),
         Verdict::drop, Reason::invalid, 0);
  expect(e.decide(seg(tcp(kClient, 40000, kServer, 22, ack), 101, 901), kIn, kStart),
         Verdict::accept, Reason::state, 0);
}

// Under a flood with fail_open, some of a connection's segments pass the kernel unseen: its
// window here is stale, and the next segment would look as if it acknowledged unsent data.
TEST(Engine, AfterUnseenPacketsAConnectionsWindowIsForgivenNotEnforced) {
  Engine e = engine(policy({}, Action::allow));
  using namespace tcpflag;
  handshake_with_windows(e);
  // The server acknowledges 20 bytes of the client's that went by unseen.
  const PacketView acks_unseen = seg(tcp(kServer, 22, kClient, 40000, ack), 901, 121 + 100'000);
  expect(e.decide(acks_unseen, kOut, kStart), Verdict::drop, Reason::invalid, 0);
  e.conntrack().note_unseen_packets(kStart + seconds(5));
  expect(e.decide(acks_unseen, kOut, kStart + seconds(1)), Verdict::accept, Reason::state, 0);
}

// Answered handshakes that never completed (a SYN flood) make room for a new connection; a
// table full of established ones refuses it, as table-full, not invalid.
TEST(Engine, FullTableEvictsHalfOpenFlowsAndRefusesOnlyForEstablishedOnes) {
  Engine e = engine(policy({}, Action::allow), seconds(0), 16);
  for (std::uint16_t port = 1; port <= 16; ++port) {
    e.decide(tcp(kClient, port, kServer, 22, tcpflag::syn), kIn, kStart);
    e.decide(tcp(kServer, 22, kClient, port, tcpflag::syn | tcpflag::ack), kOut, kStart);
  }
  expect(e.decide(tcp(kClient, 999, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::accept,
         Reason::default_policy, 0);
  EXPECT_EQ(e.conntrack().stats().evicted, 1u);
  e.decide(tcp(kServer, 22, kClient, 999, tcpflag::syn | tcpflag::ack), kOut, kStart);
  for (std::uint16_t port : {2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 999}) {
    e.decide(tcp(kClient, port, kServer, 22, tcpflag::ack), kIn, kStart);  // established
  }
  expect(e.decide(tcp(kClient, 998, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::drop,
         Reason::table_full, 0);
  EXPECT_EQ(e.counters()[Counter::table_full], 1u);
  EXPECT_EQ(e.conntrack().size(), 16u);
}

// The host's SYN/ACK whose flow is gone (evicted by a flood while the answer was queued, or the
// SYN passed unseen): the connection it answers is judged as its SYN would have been.
TEST(Engine, HostsSynAckWithoutAFlowIsJudgedAsTheInboundConnectionItAnswers) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  PacketView synack = tcp(kServer, 22, kClient, 40000, tcpflag::syn | tcpflag::ack);
  synack.ack = 1001;
  expect(e.decide(synack, kOut, kStart), Verdict::accept, Reason::state, 1);
  const Flow* f = e.conntrack().lookup(flow_key_of(syn_in(22)), kStart);
  ASSERT_NE(f, nullptr);
  EXPECT_EQ(f->key.src, kClient) << "oriented as the inbound connection it is";
  EXPECT_FALSE(f->outbound);
  EXPECT_EQ(f->tcp_state, TcpState::syn_recv);
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::accept,
         Reason::state, 1);
  EXPECT_TRUE(e.conntrack().lookup(flow_key_of(syn_in(22)), kStart)->assured);
}

TEST(Engine, HostsSynAckForAPortTheRulesCloseIsDroppedAndNoScanTouch) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  for (std::uint16_t port = 1000; port < 1050; ++port) {
    const PacketView synack = tcp(kServer, port, kClient, 40000, tcpflag::syn | tcpflag::ack);
    expect(e.decide(synack, kOut, kStart), Verdict::drop, Reason::default_policy, 0);
  }
  EXPECT_EQ(e.conntrack().size(), 0u);
  EXPECT_EQ(e.counters()[Counter::scan_blocks], 0u) << "the host's own packets touch nothing";
  expect(e.decide(syn_in(22), kIn, kStart), Verdict::accept, Reason::rule, 1);
}

// An ICMP error and its flow on different queues (the kernel's queue-balance hash includes the
// protocol): the engine without the flow leaves the error to the others, the one with the flow
// judges it, and the first settles it.
TEST(Engine, IcmpErrorForAFlowAnotherQueueTracksIsJudgedByThatQueuesTable) {
  EngineOptions o;
  o.other_queues = true;
  Engine receiver(policy({rule(Action::allow, 22)}), o);
  Engine owner(policy({rule(Action::allow, 22)}), o);
  const PacketView data = tcp(kServer, 22, kClient, 40000, tcpflag::ack);
  expect(owner.decide(syn_in(22), kIn, kStart), Verdict::accept, Reason::rule, 1);
  const IpAddress router = *parse_ip_address("198.51.100.1");
  const PacketView too_big = test::icmp_error(router, kServer, data);  // "fragmentation needed"
  const Decision asked = receiver.decide(too_big, kIn, kStart);
  EXPECT_TRUE(asked.ask_other_queues);
  EXPECT_EQ(receiver.counters()[Counter::dropped], 0u) << "not decided yet";
  const std::optional<Decision> found = owner.related_decision(too_big, kStart);
  ASSERT_TRUE(found);
  expect(receiver.settle_related(found), Verdict::accept, Reason::state, 1);
  EXPECT_EQ(receiver.counters()[Counter::accepted], 1u);
  // Nobody tracks it: invalid, as before. A spoofed one (not sent back to the quoted packet's
  // sender) is invalid without asking.
  const PacketView stray = test::icmp_error(router, kServer, tcp(kServer, 22, kClient, 40001, 0));
  EXPECT_FALSE(owner.related_decision(stray, kStart));
  expect(receiver.settle_related(std::nullopt), Verdict::drop, Reason::invalid, 0);
  const PacketView spoofed = test::icmp_error(router, kClient, data);
  const Decision d = receiver.decide(spoofed, kIn, kStart);
  EXPECT_FALSE(d.ask_other_queues);
  expect(d, Verdict::drop, Reason::invalid, 0);
  EXPECT_FALSE(owner.related_decision(spoofed, kStart));
}

TEST(Engine, WithOneQueueAnIcmpErrorWithoutItsFlowIsInvalidAtOnce) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  const PacketView data = tcp(kServer, 22, kClient, 40000, tcpflag::ack);
  const Decision d = e.decide(test::icmp_error(kClient, kServer, data), kIn, kStart);
  EXPECT_FALSE(d.ask_other_queues);
  expect(d, Verdict::drop, Reason::invalid, 0);
}

// Pickup after a restart or a flush: the host's sockets tell who opened a connection met
// mid-stream. Its local end listens: the remote did (inbound, the incoming rules decide); any
// other local end: the host did (outbound), whichever way the packet met first travels. The
// host's connections (local -> remote) are `held`.
FlowKey held(std::uint16_t local_port, std::uint16_t remote_port) {
  return {ipproto::tcp, kServer, kClient, local_port, remote_port};
}

Engine pickup_engine(std::vector<Rule> rules, Action outgoing, std::vector<FlowKey> connections) {
  RuleSet set;
  set.rules = std::move(rules);
  set.defaults.incoming = Action::deny;
  set.defaults.outgoing = outgoing;
  EngineOptions o;
  o.pickup_until = kStart + seconds(60);
  o.sources_policy.scan.distinct_ports = 3;  // a scanner after 3 refused ports
  o.sockets = std::make_shared<const LocalSockets>(
      std::vector<LocalEndpoint>{{*parse_ip_address("0.0.0.0"), 22}}, connections);
  return Engine(std::make_shared<const PolicySnapshot>(std::move(set)), o);
}

TEST(Engine, PickupOrientsAConnectionTheHostOpenedAsOutgoing) {
  Engine e =
      pickup_engine({rule(Action::allow, 22)}, Action::allow, {held(40000, 443), held(40001, 443)});
  // A download on a connection the host opened: the peer's segment comes in first, to the
  // host's ephemeral port. The incoming default (deny) does not apply: it is outgoing.
  const PacketView in = tcp(kClient, 443, kServer, 40000, tcpflag::ack);
  expect(e.decide(in, kIn, kStart), Verdict::accept, Reason::default_policy, 0);
  const Flow* f = e.conntrack().lookup(flow_key_of(in), kStart);
  ASSERT_NE(f, nullptr);
  EXPECT_TRUE(f->outbound);
  EXPECT_EQ(f->key.src, kServer) << "the host opened it";
  EXPECT_EQ(f->key.dst_port, 443);
  expect(e.decide(tcp(kServer, 40000, kClient, 443, tcpflag::ack), kOut, kStart), Verdict::accept,
         Reason::state, 0);
  // The host's own segment first, on another such connection: outgoing too.
  expect(e.decide(tcp(kServer, 40001, kClient, 443, tcpflag::ack), kOut, kStart), Verdict::accept,
         Reason::default_policy, 0);
  EXPECT_EQ(e.counters()[Counter::picked_up], 2u);
}

TEST(Engine, PickupOrientsAConnectionToAListeningPortAsIncoming) {
  Engine e = pickup_engine({rule(Action::allow, 22)}, Action::deny, {held(22, 50000)});
  // The server's reply on an SSH session is met first: judged as the session it belongs to,
  // by the incoming rule for 22, even though outgoing is denied by default.
  const PacketView out = tcp(kServer, 22, kClient, 50000, tcpflag::ack);
  expect(e.decide(out, kOut, kStart), Verdict::accept, Reason::rule, 1);
  const Flow* f = e.conntrack().lookup(flow_key_of(out), kStart);
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(f->outbound);
  EXPECT_EQ(f->key.src, kClient) << "the remote opened it";
  EXPECT_EQ(f->key.dst_port, 22);
}

TEST(Engine, APickedUpPacketIsNeverAScanTouch) {
  std::vector<FlowKey> connections;
  for (std::uint16_t port = 1000; port < 1020; ++port) connections.push_back(held(40000, port));
  Engine e = pickup_engine({rule(Action::allow, 22)}, Action::deny, connections);
  // Outgoing denied: the host's own connections to 20 ports are refused when met mid-stream,
  // from either side, and the peer is never taken for a scanner.
  for (std::uint16_t port = 1000; port < 1020; ++port) {
    expect(e.decide(tcp(kClient, port, kServer, 40000, tcpflag::ack), kIn, kStart), Verdict::drop,
           Reason::default_policy, 0);
  }
  EXPECT_EQ(e.counters()[Counter::scan_blocks], 0u);
  EXPECT_FALSE(e.blocks().contains(kClient, kStart));
}

// A segment of a connection the host does not hold (an ACK scan during the grace) is no
// connection: refused as invalid, a touch toward scan detection, as outside the grace.
TEST(Engine, AnAckScanDuringThePickupGraceIsRefusedAndCounts) {
  Engine e = pickup_engine({rule(Action::allow, 22)}, Action::allow, {held(40000, 443)});
  expect(e.decide(tcp(kClient, 5555, kServer, 1000, tcpflag::ack), kIn, kStart), Verdict::drop,
         Reason::invalid, 0);
  for (std::uint16_t port = 1001; port < 1010; ++port) {
    e.decide(tcp(kClient, 5555, kServer, port, tcpflag::ack), kIn, kStart);
  }
  EXPECT_TRUE(e.blocks().contains(kClient, kStart)) << "taken for the scanner it is";
  EXPECT_EQ(e.counters()[Counter::scan_blocks], 1u);
  EXPECT_EQ(e.conntrack().size(), 0u);
}

TEST(Engine, PickupEndsWithItsGraceAndOpensAgainOnRequest) {
  Engine e = pickup_engine({rule(Action::allow, 22)}, Action::allow, {held(40000, 443)});
  const PacketView in = tcp(kClient, 443, kServer, 40000, tcpflag::ack);
  const Timestamp later = kStart + seconds(61);
  expect(e.decide(in, kIn, later), Verdict::drop, Reason::invalid, 0);
  e.open_pickup(later + seconds(60), nullptr);  // a flush: the listeners are kept
  expect(e.decide(in, kIn, later), Verdict::accept, Reason::default_policy, 0);
  EXPECT_TRUE(e.conntrack().lookup(flow_key_of(in), later)->outbound);
}

TEST(LocalSockets, WildcardsBoundAddressesAndMappedConnections) {
  const IpAddress v4 = *parse_ip_address("192.0.2.1");
  const IpAddress v6 = *parse_ip_address("2001:db8::1");
  const IpAddress peer = *parse_ip_address("198.51.100.4");
  const LocalSockets l({{*parse_ip_address("0.0.0.0"), 22},
                        {*parse_ip_address("::"), 80},
                        {*parse_ip_address("192.0.2.7"), 25}},
                       {{ipproto::tcp, *parse_ip_address("::ffff:192.0.2.1"),
                         *parse_ip_address("::ffff:198.51.100.4"), 40000, 443}});
  EXPECT_TRUE(l.connected(v4, 40000, peer, 443)) << "a dual-stack socket's IPv4 connection";
  EXPECT_FALSE(l.connected(v4, 40001, peer, 443));
  EXPECT_FALSE(l.connected(peer, 443, v4, 40000)) << "keyed from the local end";
  EXPECT_TRUE(l.listening(v4, 22));
  EXPECT_FALSE(l.listening(v6, 22)) << "an IPv4 wildcard takes no IPv6";
  EXPECT_TRUE(l.listening(v4, 80)) << "an IPv6 wildcard takes IPv4 too (not v6-only)";
  EXPECT_TRUE(l.listening(v6, 80));
  EXPECT_TRUE(l.listening(*parse_ip_address("192.0.2.7"), 25));
  EXPECT_FALSE(l.listening(v4, 25));
  EXPECT_FALSE(l.listening(v4, 40000));
}

// A blocked source's packets are logged (DESIGN.md): the first, then at most one line a
// minute carrying the count; the reason says which block: by hand ("blocked") or a scan.
TEST(Engine, ABlockedSourcesPacketsAreLoggedFirstThenOnceAMinuteWithACount) {
  Engine e = engine(policy({rule(Action::allow, 22)}));
  e.blocks().add(kClient, Timestamp::max(), BlockReason::manual, kStart);
  Decision d = e.decide(syn_in(22), kIn, kStart);
  expect(d, Verdict::drop, Reason::blocked, 0);
  EXPECT_TRUE(d.log);
  for (int i = 1; i <= 99; ++i) {
    EXPECT_FALSE(e.decide(syn_in(22), kIn, kStart + seconds(i % 59)).log);
  }
  d = e.decide(syn_in(22), kIn, kStart + seconds(60));
  EXPECT_TRUE(d.log);
  EXPECT_EQ(d.count, 100u) << "the 99 unlogged and this one";
  // Packets to it (outgoing) too; a scanner's reason is scan-block.
  const IpAddress scanner = *parse_ip_address("198.51.100.7");
  e.blocks().add(scanner, Timestamp::max(), BlockReason::scan, kStart);
  d = e.decide(tcp(kServer, 40000, scanner, 80, tcpflag::syn), kOut, kStart);
  expect(d, Verdict::drop, Reason::scan_block, 0);
  EXPECT_TRUE(d.log);
}

TEST(BlockedLogGate, BoundedAndSweptAtMostOnceASecond) {
  BlockedLogGate gate(2);
  const IpAddress a = *parse_ip_address("198.51.100.1"), b = *parse_ip_address("198.51.100.2"),
                  c = *parse_ip_address("198.51.100.3");
  EXPECT_EQ(gate.note(a, kStart), 1u);
  EXPECT_EQ(gate.note(b, kStart), 1u);
  EXPECT_EQ(gate.note(c, kStart), 0u) << "no room, and nobody's line is due";
  EXPECT_EQ(gate.size(), 2u);
  EXPECT_EQ(gate.note(a, kStart + seconds(30)), 0u);
  EXPECT_EQ(gate.note(a, kStart + seconds(60)), 2u) << "the one at 30 s and this one";
  // At 61 s b's line is due: swept, and c gets its place.
  EXPECT_EQ(gate.note(c, kStart + seconds(61)), 1u);
  EXPECT_EQ(gate.size(), 2u);
}

// [icmp] (ufw's before.rules): under a default deny, ping and the DHCP client's answers pass,
// neighbour discovery and MLD from link-local sources pass, redirects do not.
PacketView icmp_packet(const IpAddress& src, const IpAddress& dst, std::uint8_t type,
                       std::uint8_t ttl) {
  PacketView p = test::icmp_echo(src, dst, type, 0);
  p.ttl = ttl;
  p.ip_length = 64;
  return p;
}

TEST(Engine, IcmpTableDecidesPingDhcpAndRedirectsWhateverTheDefaults) {
  RuleSet set;
  set.defaults.incoming = Action::deny;
  set.defaults.outgoing = Action::deny;
  Engine e(std::make_shared<const PolicySnapshot>(set), EngineOptions{});
  const IpAddress router6 = *parse_ip_address("fe80::1");
  const IpAddress host6 = *parse_ip_address("fe80::2");
  PacketView ping = icmp_packet(kClient, kServer, 8, 64);
  ping.src_port = ping.dst_port = 7;
  expect(e.decide(ping, kIn, kStart), Verdict::accept, Reason::default_policy, 0);
  PacketView pong = icmp_packet(kServer, kClient, 0, 64);
  pong.src_port = pong.dst_port = 7;
  // The reply passes by state though outgoing is denied.
  expect(e.decide(pong, kOut, kStart), Verdict::accept, Reason::state, 0);
  PacketView dhcp = test::udp(*parse_ip_address("192.0.2.254"), 67, kServer, 68);
  expect(e.decide(dhcp, kIn, kStart), Verdict::accept, Reason::default_policy, 0);
  PacketView dhcp6 = test::udp(router6, 547, host6, 546);
  dhcp6.family = Family::ipv6;
  dhcp6.has_l4 = true;
  expect(e.decide(dhcp6, kIn, kStart), Verdict::accept, Reason::default_policy, 0);
  PacketView dhcp6_far = test::udp(*parse_ip_address("2001:db8::7"), 547, host6, 546);
  // DHCPv6 answers come from the link.
  expect(e.decide(dhcp6_far, kIn, kStart), Verdict::drop, Reason::default_policy, 0);
  expect(e.decide(icmp_packet(router6, host6, 134, 255), kIn, kStart), Verdict::accept,
         Reason::default_policy, 0);  // a router advertisement
  expect(e.decide(icmp_packet(router6, host6, 130, 1), kIn, kStart), Verdict::accept,
         Reason::default_policy, 0);  // an MLD query
  const Decision redirect = e.decide(icmp_packet(router6, host6, 137, 255), kIn, kStart);
  expect(redirect, Verdict::drop, Reason::default_policy, 0);
  EXPECT_TRUE(redirect.log);
  expect(e.decide(icmp_packet(kClient, kServer, 5, 64), kIn, kStart), Verdict::drop,
         Reason::default_policy, 0);
  // Changed in the rules file's [icmp]: no ping, redirects taken.
  set.icmp.echo_request = false;
  set.icmp.redirects = true;
  e.set_policy(std::make_shared<const PolicySnapshot>(set));
  ping.src_port = ping.dst_port = 8;
  expect(e.decide(ping, kIn, kStart), Verdict::drop, Reason::default_policy, 0);
  expect(e.decide(icmp_packet(router6, host6, 137, 255), kIn, kStart), Verdict::accept,
         Reason::default_policy, 0);
}

TEST(Engine, MalformedBytesAreDroppedAsInvalid) {
  Engine e = engine(policy({}));
  expect(e.decide_malformed(), Verdict::drop, Reason::invalid, 0);
  EXPECT_EQ(e.counters()[Counter::malformed], 1u);
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(PolicySnapshot, CountersOfRulesThatStaySurviveANewGeneration) {
  auto old = policy({rule(Action::allow, 22), rule(Action::allow, 80)});
  old->count_hit(1, 60);
  old->count_hit(2, 60);
  old->count_hit(2, 60);
  // 80 moved to the front, 22 is gone, 443 is new.
  RuleSet set;
  set.rules = {rule(Action::allow, 80), rule(Action::allow, 443)};
  PolicySnapshot next(set);
  next.inherit_hits(*old);
  EXPECT_EQ(next.hits(1).packets.load(), 2u);
  EXPECT_EQ(next.hits(1).bytes.load(), 120u);
  EXPECT_EQ(next.hits(2).packets.load(), 0u);
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(Engine, LimitRuleLetsFiveNewConnectionsThroughThenDropsAsRateLimit) {
  Engine e = engine(policy({rule(Action::limit, 22)}));
  for (std::uint16_t port = 1; port <= 5; ++port) {
    expect(e.decide(tcp(kClient, port, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::accept,
           Reason::rule, 1);
  }
  const Decision d = e.decide(tcp(kClient, 6, kServer, 22, tcpflag::syn), kIn, kStart);
  expect(d, Verdict::drop, Reason::rate_limit, 1);
  EXPECT_TRUE(d.log);
  EXPECT_EQ(e.counters()[Counter::rate_limited], 1u);
  // Packets of the connections already open pass by state.
  expect(e.decide(tcp(kServer, 22, kClient, 1, tcpflag::syn | tcpflag::ack), kOut, kStart),
         Verdict::accept, Reason::state, 1);
}

// A source's limit history belongs to its rule, wherever an insert or delete moves it: it once
// followed the rule number, so a delete reset the limit and an insert lent it to another rule.
TEST(Engine, ALimitsHistoryStaysWithItsRuleWhenRulesAreRenumbered) {
  Engine e = engine(policy({rule(Action::limit, 80), rule(Action::limit, 22)}));
  for (std::uint16_t port = 1; port <= 5; ++port) {
    expect(e.decide(tcp(kClient, port, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::accept,
           Reason::rule, 2);
  }
  expect(e.decide(tcp(kClient, 6, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::drop,
         Reason::rate_limit, 2);
  e.set_policy(policy({rule(Action::limit, 22)}));  // delete 1: the limit on 22 is rule 1 now
  expect(e.decide(tcp(kClient, 7, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::drop,
         Reason::rate_limit, 1);
  // insert 1: rule 1 is new, with a history of its own; 22's moves to rule 2 and holds.
  e.set_policy(policy({rule(Action::limit, 443), rule(Action::limit, 22)}));
  expect(e.decide(tcp(kClient, 8, kServer, 443, tcpflag::syn), kIn, kStart), Verdict::accept,
         Reason::rule, 1);
  expect(e.decide(tcp(kClient, 9, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::drop,
         Reason::rate_limit, 2);
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

Engine scanning_engine() {
  EngineOptions o;
  o.sources_policy.scan.distinct_ports = 3;
  o.pickup_until = kStart;
  return Engine(policy({rule(Action::allow, 22)}), o);
}

TEST(Engine, StealthProbesCountTowardScanDetection) {
  Engine e = scanning_engine();
  e.decide(tcp(kClient, 40000, kServer, 1, 0), kIn, kStart);             // NULL
  e.decide(tcp(kClient, 40000, kServer, 2, tcpflag::fin), kIn, kStart);  // FIN
  e.decide(tcp(kClient, 40000, kServer, 3, tcpflag::ack), kIn, kStart);  // bare ACK
  const Decision d =
      e.decide(tcp(kClient, 40000, kServer, 4, tcpflag::fin | tcpflag::psh | tcpflag::urg), kIn,
               kStart);  // XMAS
  expect(d, Verdict::drop, Reason::scan_block, 0);
  EXPECT_TRUE(d.log);
  EXPECT_EQ(e.counters()[Counter::scan_blocks], 1u);
}

TEST(Engine, ABlockedScannerLosesItsOpenConnectionsToo) {
  Engine e = scanning_engine();
  e.decide(syn_in(22), kIn, kStart);
  e.decide(tcp(kServer, 22, kClient, 40000, tcpflag::syn | tcpflag::ack), kOut, kStart);
  for (std::uint16_t port = 100; port < 104; ++port) {
    e.decide(tcp(kClient, 50000, kServer, port, tcpflag::syn), kIn, kStart);
  }
  expect(e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart), Verdict::drop,
         Reason::scan_block, 0);
  expect(e.decide(tcp(kServer, 22, kClient, 40000, tcpflag::ack), kOut, kStart), Verdict::drop,
         Reason::scan_block, 0);
  expect(e.decide(syn_in(22), kIn, kStart), Verdict::drop, Reason::scan_block, 0);
}

TEST(Engine, ManyConnectionsToOneAllowedPortAreNoScan) {
  Engine e = scanning_engine();
  for (std::uint16_t port = 1000; port < 1100; ++port) {
    expect(e.decide(tcp(kClient, port, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::accept,
           Reason::rule, 1);
  }
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(Engine, AScannerIsBlockedInTheSharedBlockListWithEventBlock) {
  EngineOptions o;
  o.sources_policy.scan.distinct_ports = 2;
  o.blocks = std::make_shared<BlockList>();
  Engine e(policy({}), o);
  Engine other_thread(policy({}), [&] {
    EngineOptions same = o;
    return same;
  }());
  e.decide(syn_in(1), kIn, kStart);
  e.decide(syn_in(2), kIn, kStart);
  const Decision d = e.decide(syn_in(3), kIn, kStart);
  expect(d, Verdict::drop, Reason::scan_block, 0);
  EXPECT_EQ(d.event, Event::blocked);
  EXPECT_TRUE(o.blocks->contains(kClient, kStart));
  expect(other_thread.decide(tcp(kClient, 40001, kServer, 22, tcpflag::syn), kIn, kStart),
         Verdict::drop, Reason::scan_block, 0);
}

// A SYN from the client's `port` to 22 is accepted by rule 1.
void accepted_by_rule_1(Engine& e, std::uint16_t port) {
  expect(e.decide(tcp(kClient, port, kServer, 22, tcpflag::syn), kIn, kStart), Verdict::accept,
         Reason::rule, 1);
}

TEST(Engine, LimitRuleWithItsOwnRateAndBurst) {
  Rule r = rule(Action::limit, 22);
  r.rate = Rate{1, seconds(10), 2};
  Engine e = engine(policy({r}));
  accepted_by_rule_1(e, 1);
  accepted_by_rule_1(e, 2);
  const Decision d = e.decide(tcp(kClient, 3, kServer, 22, tcpflag::syn), kIn, kStart);
  expect(d, Verdict::drop, Reason::rate_limit, 1);
  EXPECT_EQ(d.event, Event::rule_rate);
  expect(e.decide(tcp(kClient, 4, kServer, 22, tcpflag::syn), kIn, kStart + seconds(10)),
         Verdict::accept, Reason::rule, 1);
}

TEST(Engine, ConnectionCapPerSourceFollowsTheConnectionTable) {
  EngineOptions o;
  o.sources_policy.max_connections_per_source = 2;
  Engine e(policy({rule(Action::allow, 22)}), o);
  accepted_by_rule_1(e, 1);
  accepted_by_rule_1(e, 2);
  const Decision d = e.decide(tcp(kClient, 3, kServer, 22, tcpflag::syn), kIn, kStart);
  expect(d, Verdict::drop, Reason::rate_limit, 1);
  EXPECT_EQ(d.event, Event::source_flows);
  // The first connection ends (RST) and leaves the table (CLOSE lasts 10 s): its place is free.
  e.decide(tcp(kClient, 1, kServer, 22, tcpflag::rst), kIn, kStart);
  e.conntrack().expire(kStart + seconds(11));
  expect(e.decide(tcp(kClient, 4, kServer, 22, tcpflag::syn), kIn, kStart + seconds(11)),
         Verdict::accept, Reason::rule, 1);
  // Outgoing connections do not count.
  for (std::uint16_t port = 5; port < 10; ++port) {
    expect(e.decide(tcp(kServer, port, kClient, 80, tcpflag::syn), kOut, kStart), Verdict::accept,
           Reason::default_policy, 0);
  }
}

TEST(Engine, KnocksAreDroppedSilentlyThenTheDoorLetsTheKnockerIn) {
  EngineOptions o;
  KnockSection k;
  k.name = "ssh";
  k.sequence = {{ipproto::tcp, 7000}, {ipproto::tcp, 8000}};
  k.open = {{ipproto::tcp, 22}};
  o.sources_policy.knocks = {k};
  Engine e(policy({rule(Action::allow, 7000)}), o);  // a knock port wins over an allow rule
  expect(e.decide(syn_in(22), kIn, kStart), Verdict::drop, Reason::default_policy, 0);
  Decision d = e.decide(tcp(kClient, 1, kServer, 7000, tcpflag::syn), kIn, kStart);
  expect(d, Verdict::drop, Reason::knock, 0);
  EXPECT_FALSE(d.log) << "a step is not worth a line";
  d = e.decide(tcp(kClient, 2, kServer, 8000, tcpflag::syn), kIn, kStart);
  expect(d, Verdict::drop, Reason::knock, 0);
  EXPECT_EQ(d.event, Event::knock_open);
  EXPECT_TRUE(d.log);
  d = e.decide(tcp(kClient, 3, kServer, 22, tcpflag::syn), kIn, kStart);
  expect(d, Verdict::accept, Reason::knock, 0);
  EXPECT_TRUE(d.log);
  expect(e.decide(tcp(kServer, 22, kClient, 3, tcpflag::syn | tcpflag::ack), kOut, kStart),
         Verdict::accept, Reason::state, 0);
  EXPECT_EQ(e.counters()[Counter::knocks], 2u);
  EXPECT_EQ(e.counters()[Counter::knock_opened], 1u);
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

// Ports the rules allow but on which nothing listens: the host's RST or ICMP port unreachable
// tells, and the remote's touches count.
TEST(Engine, ClosedButAllowedPortsCountTowardScanDetection) {
  EngineOptions o;
  o.sources_policy.scan.distinct_ports = 3;
  Engine e(policy({}, Action::allow), o);
  for (std::uint16_t port = 1; port <= 3; ++port) {
    expect(e.decide(tcp(kClient, 40000, kServer, port, tcpflag::syn), kIn, kStart), Verdict::accept,
           Reason::default_policy, 0);
    e.decide(tcp(kServer, port, kClient, 40000, tcpflag::rst | tcpflag::ack), kOut, kStart);
  }
  EXPECT_EQ(e.counters()[Counter::scan_blocks], 0u);
  // A UDP port that answers "port unreachable".
  const PacketView probe = test::udp(kClient, 40001, kServer, 9);
  e.decide(probe, kIn, kStart);
  PacketView unreachable = test::icmp_error(kServer, kClient, probe);
  unreachable.icmp_type = 3;
  unreachable.icmp_code = 3;
  e.decide(unreachable, kOut, kStart);
  EXPECT_EQ(e.counters()[Counter::scan_blocks], 1u);
  expect(e.decide(syn_in(22), kIn, kStart), Verdict::drop, Reason::scan_block, 0);
}

TEST(Engine, AResetOfAnEstablishedConnectionIsNoTouch) {
  EngineOptions o;
  o.sources_policy.scan.distinct_ports = 1;
  Engine e(policy({}, Action::allow), o);
  for (std::uint16_t port = 1; port <= 3; ++port) {
    e.decide(tcp(kClient, 40000, kServer, port, tcpflag::syn), kIn, kStart);
    e.decide(tcp(kServer, port, kClient, 40000, tcpflag::syn | tcpflag::ack), kOut, kStart);
    e.decide(tcp(kClient, 40000, kServer, port, tcpflag::ack), kIn, kStart);
    e.decide(tcp(kServer, port, kClient, 40000, tcpflag::rst), kOut, kStart);
  }
  EXPECT_EQ(e.counters()[Counter::scan_blocks], 0u);
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(Engine, TheHostsOwnResetLeavesEvenWhenOutgoingIsDenied) {
  RuleSet set;
  set.defaults.outgoing = Action::deny;
  Engine e(std::make_shared<const PolicySnapshot>(set), EngineOptions{});
  expect(e.decide(tcp(kServer, 23, kClient, 40000, tcpflag::rst | tcpflag::ack), kOut, kStart),
         Verdict::accept, Reason::state, 0);
  // Only a reset: a bare ACK without a flow is still dropped.
  expect(e.decide(tcp(kServer, 23, kClient, 40000, tcpflag::ack), kOut, kStart), Verdict::drop,
         Reason::invalid, 0);
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(Engine, InspectNewOffloadsSettledConnectionsOnly) {
  EngineOptions o;
  o.offload = true;
  Engine e(policy({rule(Action::allow, 22)}), o);
  EXPECT_FALSE(e.decide(syn_in(22), kIn, kStart).offload);
  EXPECT_FALSE(
      e.decide(tcp(kServer, 22, kClient, 40000, tcpflag::syn | tcpflag::ack), kOut, kStart).offload)
      << "the handshake is judged";
  // The ACK that completes the handshake settles it: the kernel takes the rest.
  const Decision d = e.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart);
  EXPECT_TRUE(d.offload);
  expect(d, Verdict::accept, Reason::state, 1);
  EngineOptions full;
  Engine f(policy({rule(Action::allow, 22)}), full);
  f.decide(syn_in(22), kIn, kStart);
  f.decide(tcp(kServer, 22, kClient, 40000, tcpflag::syn | tcpflag::ack), kOut, kStart);
  f.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart);
  EXPECT_FALSE(f.decide(tcp(kClient, 40000, kServer, 22, tcpflag::ack), kIn, kStart).offload)
      << "inspect = \"full\" never offloads";
}

// Issue 17, point 2: SYNs forged with the address of a client that holds a connection (its
// handshake completed: it receives what this host sends) never get it blocked; once the
// connection ends, the address is like any other again.
TEST(Engine, AForgedScanFromAnAddressHoldingAnEstablishedConnectionBlocksNothing) {
  Engine e = scanning_engine();
  using namespace tcpflag;
  handshake_with_windows(e);
  ASSERT_EQ(e.sources().vouched(), 1u);
  for (std::uint16_t port = 100; port < 120; ++port) {
    expect(e.decide(tcp(kClient, 50000, kServer, port, syn), kIn, kStart), Verdict::drop,
           Reason::default_policy, 0);
  }
  EXPECT_EQ(e.counters()[Counter::scan_blocks], 0u);
  EXPECT_GE(e.sources().stats().scan_spared.load(), 1u);
  expect(e.decide(seg(tcp(kClient, 40000, kServer, 22, ack), 101, 901), kIn, kStart),
         Verdict::accept, Reason::state, 1);
  // Another address scanning is blocked as before.
  const IpAddress other = *parse_ip_address("203.0.113.77");
  Decision last;
  for (std::uint16_t port = 100; port < 104; ++port) {
    last = e.decide(tcp(other, 50000, kServer, port, syn), kIn, kStart);
  }
  expect(last, Verdict::drop, Reason::scan_block, 0);
  // The connection ends (the client's FIN): the client's own scan is a scan again.
  e.decide(seg(tcp(kClient, 40000, kServer, 22, fin | ack), 101, 901), kIn, kStart);
  EXPECT_EQ(e.sources().vouched(), 0u);
  for (std::uint16_t port = 200; port < 204; ++port) {
    last = e.decide(tcp(kClient, 50001, kServer, port, syn), kIn, kStart);
  }
  expect(last, Verdict::drop, Reason::scan_block, 0);
}

TEST(Engine, AVouchEndsWithItsFlowWhenTheTableForgetsIt) {
  Engine e = scanning_engine();
  using namespace tcpflag;
  handshake_with_windows(e);
  // And an outgoing one: the server's peer answered its SYN.
  const IpAddress resolver = *parse_ip_address("198.51.100.53");
  e.decide(seg(tcp(kServer, 41000, resolver, 53, syn), 5, 0), kOut, kStart);
  e.decide(seg(tcp(resolver, 53, kServer, 41000, syn | ack), 70, 6), kIn, kStart);
  e.decide(seg(tcp(kServer, 41000, resolver, 53, ack), 6, 71), kOut, kStart);
  EXPECT_EQ(e.sources().vouched(), 2u);
  e.conntrack().clear();
  EXPECT_EQ(e.sources().vouched(), 0u);
}

TEST(SourceTable, TheHostsInfrastructureIsNeverBlockedByScanDetection) {
  ScanPolicy scan;
  scan.distinct_ports = 2;
  SourcePolicy policy;
  policy.scan = scan;
  SourceTable t(16, policy);
  const IpAddress gateway = *parse_ip_address("10.0.0.1");
  t.trust({gateway});
  for (std::uint16_t port = 1; port < 10; ++port) {
    EXPECT_FALSE(t.note_refused(gateway, ipproto::tcp, port, kStart));
  }
  EXPECT_EQ(t.stats().scan_spared.load(), 3u);
  t.trust({});
  bool blocked = false;
  for (std::uint16_t port = 1; port < 4; ++port) {
    blocked = t.note_refused(gateway, ipproto::tcp, port, kStart);
  }
  EXPECT_TRUE(blocked);
  EXPECT_EQ(t.trusted().size(), 0u);
}

}  // namespace
}  // namespace portwall
