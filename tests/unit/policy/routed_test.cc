// Routed traffic (issue 21, point 1): ufw's `route` rules, [defaults] routed, and the engine's
// judgement of packets this host forwards between two others, from the words to the verdict.
#include <gtest/gtest.h>

#include "cli/status_view.h"
#include "conntrack/flow_handover.h"
#include "netfilter/diversion.h"
#include "policy/engine.h"
#include "policy/explain.h"
#include "rules/rule_edit.h"
#include "rules/rule_grammar.h"
#include "rules/rule_loader.h"
#include "rules/rule_writer.h"
#include "test_packets.h"
#include "test_words.h"

namespace portwall {
namespace {

using std::chrono::seconds;
using test::split;
using test::tcp;

const Timestamp kStart = Timestamp{} + seconds(1000);
// A client on the uplink (eth0) and a container behind the bridge (br0), the host between.
const IpAddress kOutside = *parse_ip_address("203.0.113.9");
const IpAddress kContainer = *parse_ip_address("172.18.0.2");
const IpAddress kOther = *parse_ip_address("172.18.0.3");
const HookInfo kInward{Direction::route, "eth0", "br0"};
const HookInfo kOutward{Direction::route, "br0", "eth0"};
// The one container port the Internet may reach.
const char* const kWebRoute = "route allow in on eth0 out on br0 to 172.18.0.2 port 80 proto tcp";

RuleCommand command(const std::string& line) {
  auto c = parse_rule_command(split(line));
  EXPECT_TRUE(c) << line << ": " << (c ? "" : c.error());
  return c ? *c : RuleCommand{};
}

std::string error_of(const std::string& line) {
  auto c = parse_rule_command(split(line));
  return c ? "accepted" : c.error();
}

RuleSet rules_of(const std::vector<std::string>& lines, Action routed = Action::deny) {
  RuleSet set;
  for (const std::string& line : lines) set.rules.push_back(command(line).rule);
  set.defaults.routed = routed;
  set.defaults.routed_given = true;
  return set;
}

Engine engine_for(RuleSet set) {
  EngineOptions o;
  o.conntrack.max_entries = 1024;
  return Engine(std::make_shared<const PolicySnapshot>(std::move(set)), o);
}

TEST(RouteRules, UfwWordsMakeARouteRuleWithBothInterfaces) {
  const RuleCommand c =
      command("route allow in on eth0 out on br0 to 172.18.0.2 port 80 proto tcp comment web");
  EXPECT_EQ(c.kind, RuleCommand::Kind::add);
  EXPECT_TRUE(c.route);
  EXPECT_EQ(c.rule.direction, Direction::route);
  EXPECT_EQ(c.rule.interface, "eth0");
  EXPECT_EQ(c.rule.out_interface, "br0");
  EXPECT_EQ(c.rule.to_text, "172.18.0.2");
  EXPECT_EQ(c.rule.port_text, "80");
  EXPECT_EQ(c.rule.proto, Proto::tcp);
  EXPECT_EQ(rule_words(c.rule),
            "route allow in on eth0 out on br0 proto tcp from any to 172.18.0.2 port 80 comment "
            "'web'");
  // What status and the audit log show parses back into the same rule.
  EXPECT_TRUE(same_rule(command(rule_words(c.rule)).rule, c.rule));
  // Either interface alone, or none; the simple form too.
  EXPECT_EQ(command("route deny out on br0 from 10.0.0.0/8").rule.out_interface, "br0");
  EXPECT_TRUE(command("route deny out on br0 from 10.0.0.0/8").rule.interface.empty());
  EXPECT_EQ(command("route allow 53/udp").rule.direction, Direction::route);
  EXPECT_EQ(command("route insert 1 reject in on eth1").kind, RuleCommand::Kind::insert);
  // The WireGuard idiom: everything from one interface to another.
  const Rule wg = command("route allow in on wg0 out on eth0").rule;
  EXPECT_EQ(rule_words(wg), "route allow in on wg0 out on eth0 from any to any");
  EXPECT_EQ(error_of("route allow"),
            "expected a port (22/tcp), a service or from/to after \"allow\"");
  EXPECT_EQ(command("route prepend deny from 198.51.100.7").kind, RuleCommand::Kind::prepend);
  const RuleCommand del = command("route delete 3");
  EXPECT_EQ(del.kind, RuleCommand::Kind::delete_number);
  EXPECT_TRUE(del.route);
  EXPECT_EQ(command("route delete allow in on eth0 to any port 80 proto tcp").rule.direction,
            Direction::route);
  const RuleCommand d = command("default allow routed");
  EXPECT_EQ(d.kind, RuleCommand::Kind::set_default);
  EXPECT_EQ(d.default_direction, Direction::route);
  EXPECT_EQ(d.default_action, Action::allow);
}

TEST(RouteRules, WrongWordsSayWhatWasExpected) {
  EXPECT_EQ(error_of("route"),
            "route needs allow, deny, reject, limit, insert, prepend or delete, got nothing");
  EXPECT_EQ(error_of("route default deny"),
            "route needs allow, deny, reject, limit, insert, prepend or delete, got \"default\"");
  EXPECT_EQ(error_of("route allow in eth0"),
            "a route rule names its interfaces as in on IFACE, got \"eth0\"");
  EXPECT_EQ(error_of("route allow in on eth0 in on eth1"), "in on is given twice");
  EXPECT_EQ(error_of("route allow out on"), "on needs an interface name, got nothing");
}

TEST(RouteRules, RouteDeleteByNumberDeletesOnlyARouteRule) {
  RuleSet file = rules_of({"allow 22/tcp", "route allow in on eth0 out on br0 to 172.18.0.2"});
  auto refused = apply_change(file, command("route delete 1"), 2);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(),
            "cannot delete: rule 1 is not a route rule (allow in proto tcp from any to any port "
            "22); `delete 1` deletes it");
  auto deleted = apply_change(file, command("route delete 2"), 2);
  ASSERT_TRUE(deleted) << deleted.error();
  EXPECT_EQ(deleted->rules.rules.size(), 1u);
  EXPECT_EQ(deleted->before, "route allow in on eth0 out on br0 from any to 172.18.0.2");
  // ufw's `delete N` deletes whatever rule N is, a route rule too.
  EXPECT_TRUE(apply_change(file, command("delete 2"), 2));
  // The routed default is set, written as ufw says it.
  auto set = apply_change(file, command("default allow routed"), 2);
  ASSERT_TRUE(set);
  EXPECT_EQ(set->after, "default allow routed");
  EXPECT_TRUE(set->rules.has_routed);
  EXPECT_EQ(set->rules.defaults.routed, Action::allow);
}

TEST(RouteRules, TheRulesFileKeepsThemAndTheirDefault) {
  const std::string text = R"([defaults]
routed = "reject"

[[rule]]
action = "allow"
direction = "route"
interface = "eth0"
out_interface = "br0"
proto = "tcp"
to = "172.18.0.2"
port = "80"
)";
  auto set = parse_rules(text, "rules.toml");
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->has_routed);
  EXPECT_EQ(set->defaults.routed, Action::reject);
  EXPECT_TRUE(set->judges_routed());
  ASSERT_EQ(set->rules.size(), 1u);
  EXPECT_EQ(set->rules[0].direction, Direction::route);
  EXPECT_EQ(set->rules[0].out_interface, "br0");
  // Written and read again: the same rule and default.
  auto again = parse_rules(write_rules(*set), "rules.toml");
  ASSERT_TRUE(again);
  EXPECT_TRUE(same_rule(again->rules[0], set->rules[0]));
  EXPECT_EQ(again->defaults.routed, Action::reject);
  EXPECT_TRUE(again->has_routed);
  // out_interface belongs to route rules only.
  auto wrong = parse_rules("[[rule]]\naction = \"allow\"\nout_interface = \"br0\"\n", "rules.toml");
  ASSERT_FALSE(wrong);
  EXPECT_EQ(to_string(wrong.error().front()),
            "rules.toml:3:17: out_interface is for route rules (direction = \"route\"); an "
            "outgoing rule names its interface with interface");
  // Without a route rule or a routed default, routed traffic is not judged at all.
  auto plain = parse_rules("[[rule]]\naction = \"allow\"\nport = \"22\"\n", "rules.toml");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->judges_routed());
}

TEST(RoutedEngine, ARouteRuleLetsOneContainerPortInAndItsRepliesBack) {
  Engine e = engine_for(rules_of({kWebRoute}));
  const Decision d = e.decide(tcp(kOutside, 40000, kContainer, 80, tcpflag::syn), kInward, kStart);
  EXPECT_EQ(d.verdict, Verdict::accept);
  EXPECT_EQ(d.rule_number, 1u);
  EXPECT_EQ(
      e.decide(tcp(kContainer, 80, kOutside, 40000, tcpflag::syn | tcpflag::ack), kOutward, kStart)
          .reason,
      Reason::state);
  EXPECT_EQ(e.decide(tcp(kOutside, 40000, kContainer, 80, tcpflag::ack), kInward, kStart).verdict,
            Verdict::accept);
  // Another port, another container, the wrong way in: the routed default (deny).
  for (const auto& [p, hook] :
       {std::pair{tcp(kOutside, 40001, kContainer, 81, tcpflag::syn), kInward},
        std::pair{tcp(kOutside, 40002, kOther, 80, tcpflag::syn), kInward},
        std::pair{tcp(kOutside, 40003, kContainer, 80, tcpflag::syn),
                  HookInfo{Direction::route, "eth1", "br0"}}}) {
    const Decision refused = e.decide(p, hook, kStart);
    EXPECT_EQ(refused.verdict, Verdict::drop);
    EXPECT_EQ(refused.reason, Reason::default_policy);
    EXPECT_TRUE(refused.log);
  }
  // A routed refusal is no scan touch of this host: nobody is blocked however many there are.
  for (std::uint16_t port = 1000; port < 1100; ++port) {
    e.decide(tcp(kOutside, 40004, kContainer, port, tcpflag::syn), kInward, kStart);
  }
  EXPECT_FALSE(e.blocks().find(kOutside, kStart));
}

TEST(RoutedEngine, TheRoutedDefaultDecidesAndIncomingRulesDoNot) {
  // An incoming allow of port 80 says nothing of routed traffic, nor does the outgoing default.
  RuleSet set = rules_of({"allow 80/tcp"}, Action::reject);
  Engine e = engine_for(set);
  EXPECT_EQ(e.decide(tcp(kOutside, 40000, kContainer, 80, tcpflag::syn), kInward, kStart).verdict,
            Verdict::reject);
  Engine open = engine_for(rules_of({"route deny to 172.18.0.3"}, Action::allow));
  EXPECT_EQ(
      open.decide(tcp(kContainer, 50000, kOutside, 443, tcpflag::syn), kOutward, kStart).verdict,
      Verdict::accept);
  EXPECT_EQ(open.decide(tcp(kOutside, 50000, kOther, 443, tcpflag::syn), kInward, kStart).verdict,
            Verdict::drop);
}

TEST(RoutedEngine, ABlockOfEitherEndDropsRoutedTraffic) {
  Engine e = engine_for(rules_of({}, Action::allow));
  e.blocks().add(kOutside, Timestamp::max(), BlockReason::manual, kStart);
  EXPECT_EQ(e.decide(tcp(kOutside, 40000, kContainer, 80, tcpflag::syn), kInward, kStart).verdict,
            Verdict::drop);
  EXPECT_EQ(e.decide(tcp(kContainer, 50000, kOutside, 80, tcpflag::syn), kOutward, kStart).verdict,
            Verdict::drop);
  EXPECT_EQ(e.decide(tcp(kContainer, 50000, kOther, 80, tcpflag::syn), kOutward, kStart).verdict,
            Verdict::accept);
}

TEST(RoutedEngine, ARuleChangeCutsTheRoutedConnectionsItNoLongerAllows) {
  const RuleSet allowing = rules_of({kWebRoute});
  Engine e = engine_for(allowing);
  e.decide(tcp(kOutside, 40000, kContainer, 80, tcpflag::syn), kInward, kStart);
  // The same rule set again: the flow is judged with both of its interfaces and stays.
  e.set_policy(std::make_shared<const PolicySnapshot>(allowing));
  EXPECT_TRUE(e.recheck(kStart, Engine::Denied::cut).cut.empty());
  e.set_policy(std::make_shared<const PolicySnapshot>(rules_of({})));
  const RecheckResult r = e.recheck(kStart, Engine::Denied::cut);
  ASSERT_EQ(r.cut.size(), 1u);
  EXPECT_EQ(e.decide(tcp(kOutside, 40000, kContainer, 80, tcpflag::ack), kInward, kStart).verdict,
            Verdict::drop);
}

TEST(RoutedEngine, ARoutedFlowCrossesAReexecWithBothInterfaces) {
  const RuleSet allowing = rules_of({kWebRoute});
  Engine old_image = engine_for(allowing);
  old_image.decide(tcp(kOutside, 40000, kContainer, 80, tcpflag::syn), kInward, kStart);
  const std::vector<HandedFlow> decoded =
      decode_flows(encode_flows(old_image.hand_over(kStart), kStart), kStart, 10);
  ASSERT_EQ(decoded.size(), 1u);
  EXPECT_TRUE(decoded[0].flow.routed);
  EXPECT_EQ(decoded[0].interface, "eth0");
  EXPECT_EQ(decoded[0].out_interface, "br0");
  Engine new_image = engine_for(allowing);
  ASSERT_EQ(new_image.take_over(decoded, kStart), 1u);
  // Judged again by the same rule, with both names: it stays up.
  EXPECT_TRUE(new_image.recheck(kStart, Engine::Denied::cut).cut.empty());
}

TEST(RoutedStatus, RouteRulesShowAsUfwShowsThem) {
  const nlohmann::json status = {
      {"mode", "enforce"},
      {"defaults", {{"incoming", "deny"}, {"outgoing", "allow"}, {"routed", "deny"}}},
      {"rules",
       {{{"number", 1},
         {"action", "allow"},
         {"direction", "route"},
         {"proto", "tcp"},
         {"from", "any"},
         {"to", "172.18.0.2"},
         {"port", "80"},
         {"interface", "eth0"},
         {"out_interface", "br0"},
         {"comment", ""}}}},
      {"counters", nlohmann::json::object()},
      {"conntrack", {{"entries", 0}, {"max", 1024}}}};
  const std::string text = render_status(status, StatusStyle::numbered);
  EXPECT_NE(text.find("[ 1] 172.18.0.2 80/tcp on br0   ALLOW FWD   Anywhere on eth0\n"),
            std::string::npos)
      << text;
  // A To wider than its column still leaves a space before the action.
  nlohmann::json wide = status;
  wide["rules"][0]["to"] = "10.200.52.128/25";
  EXPECT_NE(render_status(wide, StatusStyle::numbered)
                .find("[ 1] 10.200.52.128/25 80/tcp on br0 ALLOW FWD   Anywhere on eth0\n"),
            std::string::npos)
      << render_status(wide, StatusStyle::numbered);
}

TEST(RoutedExplain, ExplainNamesTheRouteRuleOrSaysRoutedTrafficIsNotJudged) {
  auto probe =
      parse_probe(split("tcp 203.0.113.9:40000 -> 172.18.0.2:80 route on eth0 out on br0"));
  ASSERT_TRUE(probe) << probe.error();
  EXPECT_EQ(probe->input.direction, Direction::route);
  const PolicySnapshot judged(rules_of({kWebRoute}));
  const Explanation e = explain(judged, *probe, std::nullopt, {});
  EXPECT_EQ(e.decision.rule_number, 1u);
  EXPECT_EQ(e.rule, "route allow in on eth0 out on br0 proto tcp from any to 172.18.0.2 port 80");
  probe->out_interface = "br1";
  EXPECT_EQ(explain(judged, *probe, std::nullopt, {}).why,
            "no rule matches, so the default routed policy (deny) decides");
  const PolicySnapshot not_judged(RuleSet{});
  EXPECT_EQ(explain(not_judged, *probe, std::nullopt, {}).why,
            "routed traffic is not judged (no route rule and no [defaults] routed): portwalld "
            "never sees it, and the kernel's FORWARD chain decides");
}

TEST(RoutedDiversion, RoutedTrafficAloneIsQueuedMarkedWithoutNat) {
  DiversionSpec spec;
  spec.queues = {100, 101};
  EXPECT_EQ(iptables_forward_script(false, spec), "") << "nothing asked: FORWARD is left alone";
  spec.route_queue = true;
  EXPECT_EQ(iptables_forward_script(false, spec),
            "*filter\n"
            ":PORTWALL_FORWARD - [0:0]\n"
            "-A PORTWALL_FORWARD -m mark --mark 0x40000/0x40000 -j RETURN\n"
            "-A PORTWALL_FORWARD -m mark --mark 0x800000/0x800000 -p tcp -j REJECT --reject-with "
            "tcp-reset\n"
            "-A PORTWALL_FORWARD -m mark --mark 0x800000/0x800000 -j REJECT --reject-with "
            "icmp-port-unreachable\n"
            "-A PORTWALL_FORWARD -j MARK --set-xmark 0x0/0x180000\n"
            "-A PORTWALL_FORWARD -j MARK --set-xmark 0x100000/0x100000\n"
            "-A PORTWALL_FORWARD -j NFQUEUE --queue-balance 100:101 --queue-bypass\n"
            "-I FORWARD 1 -j PORTWALL_FORWARD\n"
            "COMMIT\n");
  const std::string nft = nftables_forward_text(spec);
  EXPECT_EQ(nft.find("nat"), std::string::npos) << nft;
  EXPECT_NE(nft.find("meta mark set meta mark | 0x100000 counter queue flags bypass to 100-101\n"),
            std::string::npos)
      << nft;
}

TEST(PublishedPorts, DockersDnatRulesAreReadButPortwallsOwnAndRangesAreNot) {
  const std::string nat = R"(-P PREROUTING ACCEPT
-N DOCKER
-N PORTWALL_PREROUTING
-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
-A POSTROUTING -s 10.200.250.0/24 ! -o docker0 -j MASQUERADE
-A DOCKER -i docker0 -j RETURN
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination 10.200.250.2:80
-A DOCKER -d 127.0.0.1/32 ! -i docker0 -p udp -m udp --dport 5353 -j DNAT --to-destination 10.200.250.3:53
-A DOCKER ! -i docker0 -p tcp -m tcp --dport 9000:9010 -j DNAT --to-destination 10.200.250.4:9000-9010
-A DOCKER -d 10.0.0.0/8 -p tcp -m tcp --dport 81 -j DNAT --to-destination 10.200.250.5:81
-A PORTWALL_PREROUTING -p tcp -m tcp --dport 443 -m addrtype --dst-type LOCAL -j DNAT --to-destination 10.0.0.5:8443
-A PREROUTING -p tcp --dport 8443 -j DNAT --to-destination [fd00:200:1::2]:443
)";
  const std::vector<PublishedPort> ports = parse_published_ports(nat);
  ASSERT_EQ(ports.size(), 3u);
  EXPECT_EQ(published_words(ports[0]), "8080/tcp -> 10.200.250.2:80 (DOCKER)");
  EXPECT_EQ(ports[0].bridge, "docker0");
  EXPECT_FALSE(ports[0].host_address);
  EXPECT_EQ(published_words(ports[1]), "127.0.0.1:5353/udp -> 10.200.250.3:53 (DOCKER)");
  EXPECT_EQ(published_words(ports[2]), "8443/tcp -> [fd00:200:1::2]:443 (PREROUTING)");
  // The connection's packets after the DNAT find their port, both ways.
  EXPECT_EQ(published_of(ports, ipproto::tcp, *parse_ip_address("10.200.250.2"), 80), &ports[0]);
  EXPECT_EQ(published_of(ports, ipproto::udp, *parse_ip_address("10.200.250.2"), 80), nullptr);
  EXPECT_TRUE(from_published(ports, ipproto::udp, *parse_ip_address("10.200.250.3"), 53));
  EXPECT_TRUE(parse_published_ports("garbage\n-A\n-A X -j DNAT\n").empty());
  // A negated port or address is no published port; a comment's words are not options.
  EXPECT_TRUE(
      parse_published_ports("-A X -p tcp ! --dport 22 -j DNAT --to-destination 10.0.0.2:5432\n"
                            "-A X ! -d 10.0.0.1/32 -p tcp --dport 22 -j DNAT "
                            "--to-destination 10.0.0.2:5432\n")
          .empty());
  const std::vector<PublishedPort> commented = parse_published_ports(
      "-A X -p tcp -m tcp --dport 8443 -m comment --comment \"not --dport 22 here\" -j DNAT "
      "--to-destination 10.0.0.2:443\n");
  ASSERT_EQ(commented.size(), 1u);
  EXPECT_EQ(commented[0].forward.port, 8443);
}

TEST(PublishedPorts, APublishedConnectionIsJudgedByTheHostsPortUnlessARouteRuleSpeaks) {
  auto published = std::make_shared<PublishedSet>();
  published->set(
      parse_published_ports("-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT "
                            "--to-destination 172.18.0.2:80\n"));
  const HookInfo in{Direction::in, "eth0", "br0", true, false, true};
  const HookInfo back{Direction::in, "br0", "eth0", true, false, true};
  auto engine_with = [&](RuleSet set) {
    EngineOptions o;
    o.conntrack.max_entries = 1024;
    o.published = published;
    return Engine(std::make_shared<const PolicySnapshot>(std::move(set)), o);
  };
  // Nothing allows 8080: dropped, logged with the port the client asked for.
  Engine closed = engine_with(RuleSet{});
  const Decision refused =
      closed.decide(tcp(kOutside, 40000, kContainer, 80, tcpflag::syn), in, kStart);
  EXPECT_EQ(refused.verdict, Verdict::drop);
  EXPECT_EQ(refused.reason, Reason::default_policy);
  EXPECT_EQ(refused.public_port, 8080);
  // `allow 8080/tcp` lets it in (not `allow 80/tcp`), and the container's answer passes by state.
  Engine open = engine_with(rules_of({"allow 80/tcp", "allow 8080/tcp"}));
  const Decision let_in =
      open.decide(tcp(kOutside, 40000, kContainer, 80, tcpflag::syn), in, kStart);
  EXPECT_EQ(let_in.verdict, Verdict::accept);
  EXPECT_EQ(let_in.rule_number, 2u);
  EXPECT_EQ(
      open.decide(tcp(kContainer, 80, kOutside, 40000, tcpflag::syn | tcpflag::ack), back, kStart)
          .reason,
      Reason::state);
  // A route rule about the container goes first: it allows one container only, or denies it.
  Engine routed = engine_with(rules_of({"route allow to 172.18.0.2 port 80 proto tcp"}));
  EXPECT_EQ(
      routed.decide(tcp(kOutside, 40001, kContainer, 80, tcpflag::syn), in, kStart).rule_number,
      1u);
  Engine denied = engine_with(rules_of({"route deny to 172.18.0.2", "allow 8080/tcp"}));
  EXPECT_EQ(denied.decide(tcp(kOutside, 40002, kContainer, 80, tcpflag::syn), in, kStart).verdict,
            Verdict::drop);
  // Two host ports published to one container port: after the DNAT which one the client asked
  // for is unknown, so both must be allowed.
  published->set(parse_published_ports(
      "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 80 -j DNAT --to-destination 172.18.0.2:80\n"
      "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination "
      "172.18.0.2:80\n"));
  Engine twice = engine_with(rules_of({"allow 80/tcp"}));
  const Decision one_denied =
      twice.decide(tcp(kOutside, 40003, kContainer, 80, tcpflag::syn), in, kStart);
  EXPECT_EQ(one_denied.verdict, Verdict::drop);
  EXPECT_EQ(one_denied.public_port, 8080);
  Engine both = engine_with(rules_of({"allow 80/tcp", "allow 8080/tcp"}));
  EXPECT_EQ(both.decide(tcp(kOutside, 40004, kContainer, 80, tcpflag::syn), in, kStart).verdict,
            Verdict::accept);
  published->set(
      parse_published_ports("-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT "
                            "--to-destination 172.18.0.2:80\n"));
  // A change that takes the allow away cuts the connection.
  open.set_policy(std::make_shared<const PolicySnapshot>(rules_of({"allow 80/tcp"})));
  EXPECT_EQ(open.recheck(kStart, Engine::Denied::cut).cut.size(), 1u);
}

TEST(PublishedPorts, TheForwardChainHooksDockerUserWhenItExists) {
  DiversionSpec spec;
  spec.queues = {100};
  spec.published_queue = true;
  std::string s = iptables_forward_script(false, spec);
  EXPECT_NE(s.find("-A PORTWALL_FORWARD -m conntrack --ctstate DNAT -j MARK --set-xmark "
                   "0x80000/0x80000\n-A PORTWALL_FORWARD -m conntrack --ctstate DNAT -j NFQUEUE "
                   "--queue-num 100 --queue-bypass\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("-I FORWARD 1 -j PORTWALL_FORWARD\n"), std::string::npos) << s;
  spec.docker_user = {true, false};
  s = iptables_forward_script(false, spec, 1);
  EXPECT_NE(s.find("-D FORWARD -j PORTWALL_FORWARD\n-D DOCKER-USER -j PORTWALL_FORWARD\n-I "
                   "DOCKER-USER 1 -j PORTWALL_FORWARD\n"),
            std::string::npos)
      << s;
  EXPECT_NE(iptables_forward_script(true, spec).find("-I FORWARD 1 -j PORTWALL_FORWARD\n"),
            std::string::npos);
  EXPECT_NE(nftables_forward_text(spec).find("ct status dnat meta mark set meta mark | 0x80000"),
            std::string::npos);
}

}  // namespace
}  // namespace portwall
