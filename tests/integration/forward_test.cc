// forward_test.cc — issue 8, point 4: `portwall forward 80/tcp to 8080` (a local redirect) and
// `portwall forward in on srv0 443/tcp to CL2:8443` (DNAT to a third namespace, masqueraded)
// work end to end, are judged by the rules on their public port, persist in the rules file,
// and their kernel NAT rules leave with portwalld on SIGTERM.
#include "rules/forward.h"

#include <arpa/inet.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "integration/wire_fixture.h"
#include "netfilter/diversion.h"

namespace portwall::lab {
namespace {

const std::string kRulesWith80 = std::string(kRules) + R"(
[[rule]]
action = "allow"
proto = "tcp"
port = "80"
)";

// The address a connected socket's peer has.
std::string peer_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "";
  char text[INET6_ADDRSTRLEN] = {};
  if (ss.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&ss)->sin_addr, text, sizeof text);
  } else {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&ss)->sin6_addr, text, sizeof text);
  }
  return text;
}

int portwall_chains(const Lab& lab) {
  const RunResult r = lab.in(lab.srv(), "{ iptables-save; ip6tables-save; } | grep -c PORTWALL");
  return std::atoi(r.output.c_str());
}

TEST(Forward, RedirectAndDnatWorkAreJudgedByThePublicPortAndLeaveOnSigterm) {
  Lab lab;
  Daemon daemon(lab, kRulesWith80);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd local(tcp_listen(lab.srv(), "0.0.0.0", 8080));
  Fd backend(tcp_listen(lab.cl2(), "0.0.0.0", 8443));
  ASSERT_TRUE(local.valid() && backend.valid());
  EXPECT_EQ(lab.in(lab.srv(), "iptables-save -t nat | grep -c PORTWALL").output, "0\n")
      << "no forward, no NAT rule";

  // The redirect: port 80 (allowed) reaches the program on 8080.
  const RunResult redirect = daemon.cli("forward 80/tcp to 8080 comment web");
  ASSERT_EQ(redirect.exit_code, 0) << redirect.output;
  EXPECT_NE(redirect.output.find("Forward added"), std::string::npos) << redirect.output;
  auto web = connect_through(lab, lab.srv_v4(), 80, local);
  ASSERT_TRUE(web.first.valid() && web.second.valid()) << daemon.log();
  EXPECT_TRUE(echoes(web, "via 80"));
  // 8080 itself has no rule: a direct connection is dropped (the redirect is told apart).
  Fd direct(tcp_connect(lab.cli(), lab.srv_v4(), 8080, 1000ms));
  EXPECT_FALSE(direct.valid());
  EXPECT_TRUE(log_line_with(daemon, {"ACTION=DROP", "REASON=default", "DPT=8080", "FLAGS=S"}))
      << daemon.log();

  // The DNAT to the third namespace: judged by its public port, 443, which no rule allows yet.
  const RunResult dnat = daemon.cli("forward in on srv0 443/tcp to " + lab.cl2_v4() + ":8443");
  ASSERT_EQ(dnat.exit_code, 0) << dnat.output;
  EXPECT_EQ(lab.in(lab.srv(), "cat /proc/sys/net/ipv4/ip_forward").output, "1\n");
  auto refused = connect_through(lab, lab.srv_v4(), 443, backend, 1000ms);
  EXPECT_FALSE(refused.first.valid()) << "the policy decides forwarded connections";
  ASSERT_EQ(daemon.cli("allow 443/tcp").exit_code, 0);
  auto app = connect_through(lab, lab.srv_v4(), 443, backend);
  ASSERT_TRUE(app.first.valid() && app.second.valid()) << daemon.log();
  EXPECT_TRUE(echoes(app, "via 443"));
  ASSERT_TRUE(send_all(app.second.get(), "and back"));
  EXPECT_EQ(receive(app.first.get(), 2000ms), "and back");
  // Masqueraded: the backend sees the server's address, so its answers come back through it.
  EXPECT_EQ(peer_of(app.second.get()), lab.srv_v4_for_cl2());
  // Rule changes judge both connections again by their public ports: neither is cut.
  ASSERT_EQ(daemon.cli("allow 9999/tcp").exit_code, 0);
  EXPECT_TRUE(echoes(web, "still via 80"));
  EXPECT_TRUE(echoes(app, "still via 443"));
  ASSERT_TRUE(send_all(app.second.get(), "still back"));
  EXPECT_EQ(receive(app.first.get(), 2000ms), "still back");
  ASSERT_EQ(daemon.cli("delete allow 9999/tcp").exit_code, 0);

  // Shown in status, kept in the rules file.
  const RunResult status = daemon.cli("status numbered");
  EXPECT_NE(status.output.find("[ 1] 80/tcp                     port 8080 here"), std::string::npos)
      << status.output;
  EXPECT_NE(status.output.find(lab.cl2_v4() + ":8443 (masqueraded)"), std::string::npos)
      << status.output;
  const std::string rules = slurp(daemon.dir() + "/rules.toml");
  EXPECT_NE(rules.find("[[forward]]"), std::string::npos) << rules;
  const std::string nat = lab.in(lab.srv(), "iptables-save -t nat").output;
  EXPECT_NE(nat.find("-j REDIRECT --to-ports 8080"), std::string::npos) << nat;
  EXPECT_NE(nat.find("-j DNAT --to-destination " + lab.cl2_v4() + ":8443"), std::string::npos)
      << nat;
  // `portwall ports`: the forwards, who reaches them, and the socket behind the redirect.
  const RunResult ports = lab.in(
      lab.srv(), std::string(PORTWALL_BIN) + " ports --config " + daemon.dir() + "/portwall.toml");
  ASSERT_EQ(ports.exit_code, 0) << ports.output;
  EXPECT_NE(ports.output.find("forwarded from 80/tcp"), std::string::npos) << ports.output;
  EXPECT_NE(ports.output.find("1: forward 80/tcp to 8080 comment 'web'; tcp reachable by "
                              "everyone, rule 4, to "),
            std::string::npos)
      << ports.output;
  EXPECT_NE(ports.output.find("2: forward in on srv0 443/tcp to " + lab.cl2_v4() +
                              ":8443; tcp reachable by everyone, rule 5"),
            std::string::npos)
      << ports.output;
  // 80 and 443 are used by the forwards: their allow rules are not "allowed, but nothing
  // listens" (22 and 5353 are).
  EXPECT_NE(ports.output.find("  rule 1: allow in proto tcp"), std::string::npos) << ports.output;
  EXPECT_EQ(ports.output.find("  rule 4: "), std::string::npos) << ports.output;
  EXPECT_EQ(ports.output.find("  rule 5: "), std::string::npos) << ports.output;
  std::printf("[forward] %s[forward] %s[forward] ports:\n%s", status.output.c_str(), nat.c_str(),
              ports.output.c_str());

  // SIGTERM: every NAT rule goes, and forwarding is off again.
  ASSERT_EQ(daemon.stop(), 0);
  EXPECT_EQ(portwall_chains(lab), 0) << lab.in(lab.srv(), "iptables-save").output;
  EXPECT_EQ(lab.in(lab.srv(), "cat /proc/sys/net/ipv4/ip_forward").output, "0\n");
  int error = 0;
  Fd gone(tcp_connect(lab.cli(), lab.srv_v4(), 80, 1000ms, &error));
  EXPECT_FALSE(gone.valid());
  EXPECT_EQ(error, ECONNREFUSED) << "nothing listens on 80 itself";

  // Started again, the forwards come back from the rules file.
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  auto again = connect_through(lab, lab.srv_v4(), 80, local);
  EXPECT_TRUE(again.second.valid());
  auto again443 = connect_through(lab, lab.srv_v4(), 443, backend);
  EXPECT_TRUE(again443.second.valid());
  std::printf(
      "[forward] after SIGTERM: no PORTWALL rule line, ip_forward back to 0, :80 "
      "refused; after the restart both forwards work again\n");
}

// The nftables backend cannot run here (no nft queue statement in this kernel), but everything
// else of its forward table must be what the kernel accepts: checked with `nft -c`, the queue
// statements standing in as accept.
TEST(Forward, TheNftablesForwardTableIsAcceptedByTheKernel) {
  Lab lab;
  DiversionSpec spec;
  spec.queues = {100, 101};
  for (const auto& words : {std::vector<std::string>{"80/tcp", "to", "8080"},
                            {"in", "on", "srv0", "443", "to", "10.200.0.5:8443"},
                            {"53/udp", "to", "[fd00:200::5]:5353"}}) {
    auto f = parse_forward(words);
    ASSERT_TRUE(f.has_value()) << f.error();
    spec.forwards.push_back(*f);
  }
  spec.routed_deny = {true, true};
  std::string text = nftables_forward_text(spec);
  for (std::size_t at; (at = text.find("queue flags bypass to 100-101")) != std::string::npos;) {
    text.replace(at, std::strlen("queue flags bypass to 100-101"), "accept");
  }
  const std::string file = "/tmp/pw-nft-forward-" + std::to_string(getpid()) + ".nft";
  std::ofstream(file) << text;
  const RunResult check = lab.in(lab.srv(), "nft -c -f " + file);
  std::remove(file.c_str());
  EXPECT_EQ(check.exit_code, 0) << check.output << text;
}

// The client routes to cl2 through the server, and cl2 answers through it.
void route_through_the_server(const Lab& lab) {
  ASSERT_EQ(lab.in(lab.cli(), "ip route add " + lab.cl2_v4() + "/32 via " + lab.srv_v4()).exit_code,
            0);
  ASSERT_EQ(
      lab.in(lab.cl2(), "ip route add " + lab.cli_v4() + "/32 via " + lab.srv_v4_for_cl2())
          .exit_code,
      0);
}

// Issue 17, 9: a forward to another host turns the kernel's forwarding on. On 0388e96 every
// other routed packet then fell to the FORWARD policy (ACCEPT): the server routed the client's
// connections to any host behind it, a port the rules never opened.
TEST(Forward, WhenPortwallTurnsForwardingOnOtherRoutedTrafficIsDropped) {
  Lab lab;
  route_through_the_server(lab);
  Fd behind(tcp_listen(lab.cl2(), "0.0.0.0", 9000));
  Fd backend(tcp_listen(lab.cl2(), "0.0.0.0", 8443));
  Daemon daemon(lab, std::string(kRules) + "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\n"
                                          "port = \"443\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  ASSERT_EQ(lab.in(lab.srv(), "cat /proc/sys/net/ipv4/ip_forward").output, "0\n");
  const RunResult dnat = daemon.cli("forward in on srv0 443/tcp to " + lab.cl2_v4() + ":8443");
  ASSERT_EQ(dnat.exit_code, 0) << dnat.output;
  ASSERT_EQ(lab.in(lab.srv(), "cat /proc/sys/net/ipv4/ip_forward").output, "1\n");
  EXPECT_NE(daemon.daemon_output().find("other routed traffic is dropped"), std::string::npos)
      << daemon.daemon_output();

  // The forward works; a connection routed straight to the host behind does not.
  auto app = connect_through(lab, lab.srv_v4(), 443, backend);
  ASSERT_TRUE(app.first.valid() && app.second.valid()) << daemon.log();
  EXPECT_TRUE(echoes(app, "via 443"));
  Fd routed(tcp_connect(lab.cli(), lab.cl2_v4(), 9000, 1500ms));
  EXPECT_FALSE(routed.valid()) << "the server routed a connection nobody allowed";
  Fd accepted(tcp_accept(behind.get(), 200ms));
  EXPECT_FALSE(accepted.valid());
  const std::string rules = lab.in(lab.srv(), "iptables-save -t filter").output;
  EXPECT_NE(rules.find("-A PORTWALL_FORWARD -j DROP"), std::string::npos) << rules;

  // Across a re-exec (an upgrade) the drop stays, and forwarding is still portwalld's to undo.
  const pid_t pid = daemon.pid();
  daemon.signal(SIGUSR2);
  bool again = false;
  for (int i = 0; i < 50 && !again; ++i, std::this_thread::sleep_for(100ms)) {
    again = daemon.cli("status").exit_code == 0 &&
            daemon.daemon_output().find("re-executing") != std::string::npos;
  }
  ASSERT_TRUE(again) << daemon.daemon_output();
  EXPECT_EQ(daemon.pid(), pid);
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), lab.cl2_v4(), 9000, 1500ms)).valid());
  EXPECT_TRUE(echoes(app, "still via 443"));

  // After a crash, forwarding is still on; the restarted daemon knows it is its own (the
  // marker beside the state file), keeps the drop, and turns it off when no forward needs it.
  daemon.signal(SIGKILL);
  daemon.stop();  // reaps the killed process
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), lab.cl2_v4(), 9000, 1500ms)).valid())
      << "routed after a crash restart";
  auto after_crash = connect_through(lab, lab.srv_v4(), 443, backend);
  EXPECT_TRUE(after_crash.first.valid() && after_crash.second.valid()) << daemon.log();

  // The forward deleted: forwarding back to 0, the drop gone with the chain.
  ASSERT_EQ(daemon.cli("forward delete 1").exit_code, 0) << daemon.cli("status numbered").output;
  EXPECT_EQ(lab.in(lab.srv(), "cat /proc/sys/net/ipv4/ip_forward").output, "0\n");
  EXPECT_EQ(lab.in(lab.srv(), "iptables-save -t filter | grep -c PORTWALL_FORWARD").output, "0\n");
}

// When forwarding was on before portwalld (the host is a router by its administrator's
// choice), its routed traffic is left alone.
TEST(Forward, ARouterStaysARouter) {
  Lab lab;
  route_through_the_server(lab);
  ASSERT_EQ(lab.in(lab.srv(), "sysctl -qw net.ipv4.ip_forward=1").exit_code, 0);
  Fd behind(tcp_listen(lab.cl2(), "0.0.0.0", 9000));
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  ASSERT_EQ(daemon.cli("forward in on srv0 443/tcp to " + lab.cl2_v4() + ":8443").exit_code, 0);
  EXPECT_TRUE(Fd(tcp_connect(lab.cli(), lab.cl2_v4(), 9000, 2000ms)).valid());
  const std::string rules = lab.in(lab.srv(), "iptables-save -t filter").output;
  EXPECT_EQ(rules.find("-A PORTWALL_FORWARD -j DROP"), std::string::npos) << rules;
}

TEST(Forward, BadForwardsAreRefusedWithTheirReason) {
  Lab lab;
  Daemon daemon(lab, kRulesWith80);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const RunResult self = daemon.cli("forward 80/tcp to 80");
  EXPECT_EQ(self.exit_code, 1);
  EXPECT_NE(self.output.find("would send the port to itself"), std::string::npos) << self.output;
  const RunResult range = daemon.cli("forward 80:90/tcp to 8080");
  EXPECT_EQ(range.exit_code, 1);
  EXPECT_NE(range.output.find("one port"), std::string::npos) << range.output;
  ASSERT_EQ(daemon.cli("forward 80/tcp to 8080").exit_code, 0);
  const RunResult clash = daemon.cli("forward 80/tcp to 8081");
  EXPECT_EQ(clash.exit_code, 1);
  EXPECT_NE(clash.output.find("takes the port of forward 1"), std::string::npos) << clash.output;
  const RunResult deleted = daemon.cli("forward delete 1");
  EXPECT_EQ(deleted.exit_code, 0) << deleted.output;
  EXPECT_NE(deleted.output.find("Forward deleted: forward 80/tcp to 8080"), std::string::npos)
      << deleted.output;
  EXPECT_EQ(lab.in(lab.srv(), "iptables-save -t nat | grep -c PORTWALL").output, "0\n");
}

}  // namespace
}  // namespace portwall::lab
