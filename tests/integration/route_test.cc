// route_test.cc — issue 21, point 1: the server namespace routes between the client (srv0) and
// cl2 (srv1). Routed traffic is left alone until a route rule or a routed default is given;
// then every routed packet goes to portwalld, which judges new connections by the route rules
// and the routed default, lets their replies back by state, and cuts what a change denies.
#include <gtest/gtest.h>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

// The lab's server as a router: the client reaches cl2's /25 through it, and cl2 the client's.
void make_router(const Lab& lab) {
  const std::string net = lab.net_v4();
  for (const auto& [ns, command] :
       {std::pair{lab.srv(), std::string("sysctl -qw net.ipv4.ip_forward=1")},
        std::pair{lab.cli(), "ip route replace " + net + "128/25 via " + lab.srv_v4()},
        std::pair{lab.cl2(), "ip route replace " + net + "0/25 via " + lab.srv_v4_for_cl2()}}) {
    const RunResult r = lab.in(ns, command);
    ASSERT_EQ(r.exit_code, 0) << command << ": " << r.output;
  }
}

// Whether routed packets are diverted: the jump to PORTWALL_FORWARD (iptables), or the table
// inet portwall_forward's forward chain (nftables).
bool forward_chain_in_place(const Lab& lab, bool ipv6 = false) {
  if (testing_nftables()) {
    return lab.in(lab.srv(), "nft list table inet portwall_forward").output.find("hook forward") !=
           std::string::npos;
  }
  return lab.in(lab.srv(), std::string(ipv6 ? "ip6tables" : "iptables") + " -S FORWARD")
             .output.find("-j PORTWALL_FORWARD") != std::string::npos;
}

TEST(Route, RoutedTrafficIsJudgedByRouteRulesAndItsRepliesPassByState) {
  Lab lab;
  make_router(lab);
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  // Several destinations behind the router, so that connections meet both queues.
  std::vector<std::string> targets = lab.add_cl2_addresses(7);
  targets.push_back(lab.cl2_v4());
  Fd web(tcp_listen(lab.cl2(), "0.0.0.0", 8080));
  Fd other(tcp_listen(lab.cl2(), "0.0.0.0", 8081));
  Fd client_side(tcp_listen(lab.cli(), "0.0.0.0", 9090));
  ASSERT_TRUE(web.valid() && other.valid() && client_side.valid());

  // No route rule, no routed default: FORWARD is left to the kernel (its policy accepts).
  EXPECT_FALSE(forward_chain_in_place(lab));
  auto before = connect_through(lab, lab.cl2_v4(), 8080, web);
  ASSERT_TRUE(before.first.valid() && before.second.valid()) << "routing works without portwalld";
  EXPECT_NE(daemon.cli("status verbose").output.find("disabled (routed)"), std::string::npos);

  // `default deny routed`: routed traffic is judged, and nothing allows it yet.
  RunResult r = daemon.cli("default deny routed");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(forward_chain_in_place(lab));
  EXPECT_NE(daemon.cli("status verbose").output.find("deny (routed)"), std::string::npos);
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), lab.cl2_v4(), 8080, 1000ms)).valid());
  EXPECT_TRUE(log_line_with(daemon, {"DIR=route", "IN=srv0", "OUT=srv1", "DPT=8080"}, 5s))
      << daemon.log();

  // One route rule: the client may reach port 8080 of the hosts behind srv1, nothing else.
  r = daemon.cli("route allow in on srv0 out on srv1 to " + lab.net_v4() +
                 "128/25 port 8080 proto tcp comment web");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::pair<Fd, Fd>> open;
  for (const std::string& target : targets) {
    auto c = connect_through(lab, target, 8080, web);
    ASSERT_TRUE(c.first.valid() && c.second.valid()) << target << "\n" << daemon.log();
    EXPECT_TRUE(echoes(c, "to " + target));
    // The reply direction passes by state.
    EXPECT_TRUE(echoes({std::move(c.second), std::move(c.first)}, "back"));
    open.push_back(connect_through(lab, target, 8080, web));
  }
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), lab.cl2_v4(), 8081, 1000ms)).valid()) << "another port";
  // The other way (cl2 opening toward the client) is not allowed by the rule.
  EXPECT_FALSE(Fd(tcp_connect(lab.cl2(), lab.cli_v4(), 9090, 1000ms)).valid());
  const std::string numbered = daemon.cli("status numbered").output;
  EXPECT_NE(numbered.find(lab.net_v4() + "128/25 8080/tcp on srv1"), std::string::npos) << numbered;
  EXPECT_NE(numbered.find("ALLOW FWD   Anywhere on srv0"), std::string::npos) << numbered;
  const std::size_t number = 4;  // after kRules' three
  EXPECT_NE(numbered.find("[ 4]"), std::string::npos) << numbered;

  // An unrelated change keeps the routed connections; deleting the route rule cuts them.
  ASSERT_EQ(daemon.cli("allow 2222/tcp").exit_code, 0);
  for (auto& c : open) EXPECT_TRUE(echoes(c, "still up"));
  r = daemon.cli("route delete " + std::to_string(number));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (auto& c : open) EXPECT_FALSE(echoes(c, "cut")) << "the route rule is gone";
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), lab.cl2_v4(), 8080, 1000ms)).valid());

  // SIGTERM takes the forward chain away with the rest.
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_FALSE(forward_chain_in_place(lab));
  EXPECT_EQ(lab.in(lab.srv(), "{ iptables-save; nft list ruleset; } | grep -ci portwall").output,
            "0\n");
}

TEST(Route, AllowRoutedJudgesOnlyWhatRouteRulesDenyAndPersists) {
  Lab lab;
  make_router(lab);
  std::string rules = kRules;
  rules.insert(rules.find("outgoing = \"allow\"\n") + 19, "routed = \"allow\"\n");
  Daemon daemon(lab, rules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd web(tcp_listen(lab.cl2(), "0.0.0.0", 8080));
  ASSERT_TRUE(web.valid());
  auto allowed = connect_through(lab, lab.cl2_v4(), 8080, web);
  ASSERT_TRUE(allowed.first.valid() && allowed.second.valid()) << daemon.log();
  ASSERT_EQ(daemon.cli("route deny from " + lab.cli_v4() + " to any port 8080 proto tcp").exit_code,
            0);
  // The established connection is cut, a new one refused; the rule is in the rules file.
  EXPECT_FALSE(echoes(allowed, "cut"));
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), lab.cl2_v4(), 8080, 1000ms)).valid());
  const std::string file = slurp(daemon.dir() + "/rules.toml");
  EXPECT_NE(file.find("direction = 'route'"), std::string::npos) << file;
  EXPECT_NE(file.find("routed = 'allow'"), std::string::npos) << file;
  // A reload reads it back and judges the same.
  daemon.signal(SIGHUP);
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), lab.cl2_v4(), 8080, 1000ms)).valid());
  const std::string numbered = daemon.cli("status numbered").output;
  EXPECT_NE(numbered.find("DENY FWD"), std::string::npos) << numbered;
}

TEST(Route, Ipv6RoutedTrafficIsJudgedToo) {
  Lab lab;
  make_router(lab);
  const std::string cl2_v6 = lab.cl2_v6();
  for (const auto& [ns, command] :
       {std::pair{lab.srv(), std::string("sysctl -qw net.ipv6.conf.all.forwarding=1")},
        std::pair{lab.cli(), "ip -6 route replace " + cl2_v6 + "/128 via " + lab.srv_v6()},
        std::pair{lab.cl2(),
                  "ip -6 route replace " + lab.cli_v6() + "/128 via " + lab.srv_v6_for_cl2()}}) {
    const RunResult r = lab.in(ns, command);
    ASSERT_EQ(r.exit_code, 0) << command << ": " << r.output;
  }
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd web(tcp_listen(lab.cl2(), "::", 8080));
  ASSERT_TRUE(web.valid());
  ASSERT_EQ(daemon.cli("route allow out on srv1 to " + cl2_v6 + " port 8080 proto tcp").exit_code,
            0);
  EXPECT_TRUE(forward_chain_in_place(lab, true));
  // A fresh lab's IPv6 neighbours take their first seconds to answer (DAD, MLD): a longer wait.
  auto allowed = connect_through(lab, cl2_v6, 8080, web, 6000ms);
  ASSERT_TRUE(allowed.first.valid() && allowed.second.valid()) << daemon.log();
  EXPECT_TRUE(echoes(allowed, "over IPv6"));
  EXPECT_TRUE(echoes({std::move(allowed.second), std::move(allowed.first)}, "and back"));
  ASSERT_EQ(daemon.cli("route insert 4 deny from " + lab.cli_v6()).exit_code, 0);
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), cl2_v6, 8080, 1000ms)).valid());
  EXPECT_TRUE(log_line_with(daemon, {"DIR=route", "SRC=" + lab.cli_v6(), "DPT=8080"}, 5s))
      << daemon.log();
}

}  // namespace
}  // namespace portwall::lab
