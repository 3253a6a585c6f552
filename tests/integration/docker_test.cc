// docker_test.cc — issue 21, point 2: the server namespace laid out as Docker 20.10+ lays out a
// host (docker0 a bridge with a container namespace behind it, chains DOCKER, DOCKER-USER,
// DOCKER-ISOLATION-STAGE-1/2, FORWARD's policy DROP, the DNAT of 8080 to the container's port
// 80 and the MASQUERADE rules, as `iptables-save` lists them after `docker run -p 8080:80`).
// Without portwalld the published port is open to anyone whatever the rules say; with it, a
// connection to it is judged as one to the host's port 8080.
#include <gtest/gtest.h>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

// cl2 becomes the containers: its link's server end (srv1) joins a bridge docker0 that takes
// srv1's address, and Docker's rules go in. cl2's own address is the container published on
// 8080, its second one (`second`) another container, published on 8081.
void make_docker_host(const Lab& lab, const std::string& second) {
  const std::string c = lab.cl2_v4(), gw = lab.srv_v4_for_cl2();
  const std::string net = lab.net_v4() + "128/25";
  for (const auto& [ns, command] :
       {std::pair{lab.srv(), std::string("sysctl -qw net.ipv4.ip_forward=1")},
        std::pair{lab.srv(), "ip addr del " + gw + "/25 dev srv1"},
        std::pair{lab.srv(), std::string("ip link add docker0 type bridge")},
        std::pair{lab.srv(), std::string("ip link set srv1 master docker0")},
        std::pair{lab.srv(), "ip addr add " + gw + "/25 dev docker0"},
        std::pair{lab.srv(), std::string("ip link set docker0 up")},
        std::pair{lab.cl2(), "ip route replace default via " + gw}}) {
    const RunResult r = lab.in(ns, command);
    ASSERT_EQ(r.exit_code, 0) << command << ": " << r.output;
  }
  const std::string rules =
      "*nat\n"
      ":DOCKER - [0:0]\n"
      "-A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER\n"
      "-A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER\n"
      "-A POSTROUTING -s " +
      net +
      " ! -o docker0 -j MASQUERADE\n"
      "-A POSTROUTING -s " +
      c + "/32 -d " + c +
      "/32 -p tcp -m tcp --dport 80 -j MASQUERADE\n"
      "-A DOCKER -i docker0 -j RETURN\n"
      "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080 -j DNAT --to-destination " +
      c +
      ":80\n"
      "-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8081 -j DNAT --to-destination " +
      second +
      ":80\n"
      "COMMIT\n"
      "*filter\n"
      ":FORWARD DROP [0:0]\n"
      ":DOCKER - [0:0]\n"
      ":DOCKER-ISOLATION-STAGE-1 - [0:0]\n"
      ":DOCKER-ISOLATION-STAGE-2 - [0:0]\n"
      ":DOCKER-USER - [0:0]\n"
      "-A FORWARD -j DOCKER-USER\n"
      "-A FORWARD -j DOCKER-ISOLATION-STAGE-1\n"
      "-A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n"
      "-A FORWARD -o docker0 -j DOCKER\n"
      "-A FORWARD -i docker0 ! -o docker0 -j ACCEPT\n"
      "-A FORWARD -i docker0 -o docker0 -j ACCEPT\n"
      "-A DOCKER -d " +
      c +
      "/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT\n"
      "-A DOCKER -d " +
      second +
      "/32 ! -i docker0 -o docker0 -p tcp -m tcp --dport 80 -j ACCEPT\n"
      "-A DOCKER-ISOLATION-STAGE-1 -i docker0 ! -o docker0 -j DOCKER-ISOLATION-STAGE-2\n"
      "-A DOCKER-ISOLATION-STAGE-1 -j RETURN\n"
      "-A DOCKER-ISOLATION-STAGE-2 -o docker0 -j DROP\n"
      "-A DOCKER-ISOLATION-STAGE-2 -j RETURN\n"
      "-A DOCKER-USER -j RETURN\n"
      "COMMIT\n";
  const RunResult r =
      lab.in(lab.srv(), "printf \"%s\" \"" + rules + "\" | iptables-restore --noflush");
  ASSERT_EQ(r.exit_code, 0) << r.output;
}

// What Docker does to FORWARD when it starts again: its six rules deleted and inserted at the
// top once more (a jump someone put at FORWARD's top ends up below them).
void restart_dockers_forward_rules(const Lab& lab) {
  const char* rules[] = {"-i docker0 -o docker0 -j ACCEPT",
                         "-i docker0 ! -o docker0 -j ACCEPT",
                         "-o docker0 -j DOCKER",
                         "-o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT",
                         "-j DOCKER-ISOLATION-STAGE-1",
                         "-j DOCKER-USER"};
  for (const char* rule : rules) {
    const std::string r(rule);
    ASSERT_EQ(
        lab.in(lab.srv(), "iptables -D FORWARD " + r + " && iptables -I FORWARD 1 " + r).exit_code,
        0)
        << r;
  }
}

// A few connections from different client addresses (so that both queues take some), each
// echoing both ways; how many made it.
int connections_to_published(const Lab& lab, const std::vector<std::string>& sources, const Fd& web,
                             int port = 8080) {
  int made = 0;
  for (const std::string& source : sources) {
    Fd client(tcp_connect(lab.cli(), lab.srv_v4(), port, 1500ms, nullptr, source));
    if (!client.valid()) continue;
    Fd server(tcp_accept(web.get(), 1500ms));
    if (!server.valid()) continue;
    std::pair<Fd, Fd> c{std::move(client), std::move(server)};
    made += echoes(c, "in") && echoes({std::move(c.second), std::move(c.first)}, "out");
  }
  return made;
}

TEST(Docker, APublishedPortIsJudgedByTheHostsRulesAndDockerRestartsChangeNothing) {
  Lab lab;
  const std::string second = lab.add_cl2_addresses(1).front();
  make_docker_host(lab, second);
  Fd web(tcp_listen(lab.cl2(), "0.0.0.0", 80));
  Fd outside(tcp_listen(lab.cli(), "0.0.0.0", 9090));
  ASSERT_TRUE(web.valid() && outside.valid());
  std::vector<std::string> sources;
  for (int i = 20; i < 26; ++i) {
    sources.push_back(lab.net_v4() + std::to_string(i));
    ASSERT_EQ(lab.in(lab.cli(), "ip addr add " + sources.back() + "/24 dev cli0").exit_code, 0);
  }
  // The complaint: without portwalld, 8080 is open to anyone.
  EXPECT_EQ(connections_to_published(lab, {sources[0]}, web), 1);

  Daemon daemon(lab, kRules);  // 22/tcp, 5353/udp, 113/tcp reject: nothing for 8080
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  EXPECT_NE(lab.in(lab.srv(), "iptables -S DOCKER-USER")
                .output.find("-A DOCKER-USER -j PORTWALL_FORWARD\n-A DOCKER-USER -j RETURN"),
            std::string::npos)
      << lab.in(lab.srv(), "iptables -S").output;
  const std::string published = "8080/tcp -> " + lab.cl2_v4() + ":80 (DOCKER)";
  EXPECT_NE(daemon.cli("status").output.find(published), std::string::npos)
      << daemon.cli("status").output;
  EXPECT_EQ(connections_to_published(lab, sources, web), 0) << "denied by default";
  EXPECT_TRUE(log_line_with(daemon,
                            {"ACTION=DROP", "REASON=default", "DIR=in", "DST=" + lab.cl2_v4(),
                             "DPT=80", "PUBLIC_DPT=8080"},
                            5s))
      << daemon.log();
  // The container's own connections out are not portwalld's business by default.
  {
    Fd out(tcp_connect(lab.cl2(), lab.cli_v4(), 9090, 2000ms));
    EXPECT_TRUE(out.valid()) << "the container reaches the outside";
  }

  // A rule for the host's port 8080 opens it; the rule for 80 would not have.
  ASSERT_EQ(daemon.cli("allow 8080/tcp").exit_code, 0);
  EXPECT_EQ(connections_to_published(lab, sources, web), static_cast<int>(sources.size()))
      << daemon.log();
  EXPECT_EQ(connections_to_published(lab, {sources[0]}, web, 8081), 0) << "8081 has no rule";
  // portwalld only takes away: a rule below its jump in DOCKER-USER (as Docker's documentation
  // has users restrict published ports) still drops what portwalld let through.
  const std::string user_rule = "DOCKER-USER -s " + sources[5] + " -p tcp -j DROP";
  ASSERT_EQ(
      lab.in(lab.srv(), "iptables -I " + user_rule.substr(0, 11) + " 2" + user_rule.substr(11))
          .exit_code,
      0);
  EXPECT_EQ(connections_to_published(lab, {sources[5]}, web), 0) << "the user's DROP decides";
  EXPECT_EQ(connections_to_published(lab, {sources[4]}, web), 1);
  ASSERT_EQ(lab.in(lab.srv(), "iptables -D " + user_rule).exit_code, 0);
  const std::string ports = daemon.cli("ports").output;
  EXPECT_NE(ports.find(published + "; reachable by everyone, rule 4"), std::string::npos) << ports;

  // Docker starts again: its FORWARD rules go back on top, DOCKER-USER is flushed and made
  // again. portwalld puts its jump back within a few seconds.
  restart_dockers_forward_rules(lab);
  ASSERT_EQ(
      lab.in(lab.srv(), "iptables -F DOCKER-USER && iptables -A DOCKER-USER -j RETURN").exit_code,
      0);
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {
    back = lab.in(lab.srv(), "iptables -S DOCKER-USER")
               .output.find("-A DOCKER-USER -j PORTWALL_FORWARD\n") != std::string::npos;
    if (!back) std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(back) << lab.in(lab.srv(), "iptables -S").output;
  ASSERT_EQ(daemon.cli("delete allow 8080/tcp").exit_code, 0);
  EXPECT_EQ(connections_to_published(lab, sources, web), 0) << "denied again, after the restart";

  // A route rule for this one container lets it in without opening the host's 8080.
  ASSERT_EQ(daemon.cli("route allow to " + lab.cl2_v4() + " port 80 proto tcp").exit_code, 0);
  EXPECT_EQ(connections_to_published(lab, {sources[0], sources[1]}, web), 2) << daemon.log();
  EXPECT_EQ(connections_to_published(lab, {sources[0], sources[1]}, web, 8081), 0)
      << "the other container stays out";

  // SIGTERM takes the jump away and leaves Docker's chains as they were.
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_EQ(lab.in(lab.srv(), "iptables -S DOCKER-USER").output,
            "-N DOCKER-USER\n-A DOCKER-USER -j RETURN\n");
  EXPECT_EQ(lab.in(lab.srv(), "iptables-save | grep -c PORTWALL").output, "0\n");
}

}  // namespace
}  // namespace portwall::lab
