// wire_test.cc — the packet path end to end, on the wire: portwalld in a server namespace,
// real clients in a second one, and what arrives (or not) asserted at the sockets.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

TEST_F(Wire, AllowedTcpPortConnectsWithNc) {
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  ASSERT_TRUE(listener.valid());
  const RunResult nc = lab.in(lab.cli(), "nc -z -w 3 " + lab.srv_v4() + " 22");
  EXPECT_EQ(nc.exit_code, 0) << nc.output;
  Fd accepted(tcp_accept(listener.get(), 2000ms));
  EXPECT_TRUE(accepted.valid());
}

TEST_F(Wire, BulkTransferOfLargeSegmentsPassesWhole) {
  // GSO hands the queue segments far above the 4 KiB copy range: each is judged on its headers
  // with the wire length, and all 8 MiB arrive.
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 22, 3000ms));
  ASSERT_TRUE(client.valid());
  Fd server(tcp_accept(listener.get(), 2000ms));
  ASSERT_TRUE(server.valid());
  const std::size_t total = 8 << 20;
  const timeval bound{20, 0};  // the sender gives up if the receiver does
  setsockopt(client.get(), SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
  std::thread sender([&] { send_all(client.get(), std::string(total, 'z')); });
  std::size_t received = 0;
  const auto until = std::chrono::steady_clock::now() + 20s;
  while (received < total && std::chrono::steady_clock::now() < until) {
    auto chunk = receive(server.get(), 2000ms);
    if (!chunk || chunk->empty()) break;
    received += chunk->size();
  }
  sender.join();
  EXPECT_EQ(received, total);
  EXPECT_EQ(status()["counters"]["malformed"].get<int>(), 0);
}

TEST_F(Wire, DeniedTcpPortIsDroppedSilently) {
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 2323));
  ASSERT_TRUE(listener.valid());
  int error = 0;
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 2323, 1500ms, &error));
  EXPECT_FALSE(client.valid());
  EXPECT_EQ(error, ETIMEDOUT) << "a dropped SYN gets no answer at all";
  Fd accepted(tcp_accept(listener.get(), 100ms));
  EXPECT_FALSE(accepted.valid());
  EXPECT_GE(status()["counters"]["dropped"].get<int>(), 1);
}

TEST_F(Wire, RejectedTcpPortIsRefusedAtOnce) {
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 113));
  int error = 0;
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 113, 3000ms, &error));
  EXPECT_FALSE(client.valid());
  EXPECT_EQ(error, ECONNREFUSED) << "reject answers with a TCP RST";
  EXPECT_GE(status()["counters"]["rejected"].get<int>(), 1);
}

TEST_F(Wire, AllowedUdpIsDeliveredAndDeniedUdpIsNot) {
  Fd allowed(udp_bind(lab.srv(), lab.srv_v4(), 5353));
  Fd denied(udp_bind(lab.srv(), lab.srv_v4(), 5354));
  ASSERT_TRUE(allowed.valid() && denied.valid());
  ASSERT_TRUE(udp_send(lab.cli(), lab.srv_v4(), 5353, "to-allowed"));
  ASSERT_TRUE(udp_send(lab.cli(), lab.srv_v4(), 5354, "to-denied"));
  EXPECT_EQ(receive(allowed.get(), 2000ms), "to-allowed");
  EXPECT_EQ(receive(denied.get(), 1000ms), std::nullopt);
}

TEST_F(Wire, Ipv6TcpAllowedAndDenied) {
  Fd open_listener(tcp_listen(lab.srv(), lab.srv_v6(), 22));
  Fd closed_listener(tcp_listen(lab.srv(), lab.srv_v6(), 2323));
  ASSERT_TRUE(open_listener.valid() && closed_listener.valid());
  const RunResult nc = lab.in(lab.cli(), "nc -6 -z -w 3 " + lab.srv_v6() + " 22");
  EXPECT_EQ(nc.exit_code, 0) << nc.output;
  int error = 0;
  Fd client(tcp_connect(lab.cli(), lab.srv_v6(), 2323, 1500ms, &error));
  EXPECT_FALSE(client.valid());
  EXPECT_EQ(error, ETIMEDOUT);
}

TEST_F(Wire, Ipv6UdpAllowedAndDenied) {
  Fd allowed(udp_bind(lab.srv(), lab.srv_v6(), 5353));
  Fd denied(udp_bind(lab.srv(), lab.srv_v6(), 5354));
  ASSERT_TRUE(allowed.valid() && denied.valid());
  ASSERT_TRUE(udp_send(lab.cli(), lab.srv_v6(), 5353, "v6-allowed"));
  ASSERT_TRUE(udp_send(lab.cli(), lab.srv_v6(), 5354, "v6-denied"));
  EXPECT_EQ(receive(allowed.get(), 2000ms), "v6-allowed");
  EXPECT_EQ(receive(denied.get(), 1000ms), std::nullopt);
}

TEST_F(Wire, FragmentedDatagramsAreJudgedWholeOverBothFamilies) {
  // 3000 bytes over a 1500-byte link: the sender fragments. The kernel reassembles before the
  // queue (IPv4 always, IPv6 because the diversion rule loads conntrack's defragmentation), so
  // portwall judges whole datagrams and sees their ports.
  const std::string big(3000, 'x');
  for (const std::string& address : {lab.srv_v4(), lab.srv_v6()}) {
    SCOPED_TRACE(address);
    Fd allowed(udp_bind(lab.srv(), address, 5353));
    Fd denied(udp_bind(lab.srv(), address, 5354));
    ASSERT_TRUE(allowed.valid() && denied.valid());
    ASSERT_TRUE(udp_send(lab.cli(), address, 5353, big));
    ASSERT_TRUE(udp_send(lab.cli(), address, 5354, big));
    EXPECT_EQ(receive(allowed.get(), 2000ms), big);
    EXPECT_EQ(receive(denied.get(), 1000ms), std::nullopt);
  }
  EXPECT_EQ(status()["counters"]["malformed"].get<int>(), 0);
}

TEST_F(Wire, RepliesToConnectionsTheServerOpensPass) {
  // Incoming is default-deny, yet the replies of outgoing flows come back by state.
  Fd listener(tcp_listen(lab.cli(), lab.cli_v4(), 9000));
  Fd out(tcp_connect(lab.srv(), lab.cli_v4(), 9000, 3000ms));
  ASSERT_TRUE(out.valid());
  Fd peer(tcp_accept(listener.get(), 2000ms));
  ASSERT_TRUE(peer.valid());
  ASSERT_TRUE(send_all(peer.get(), "reply-data"));
  EXPECT_EQ(receive(out.get(), 2000ms), "reply-data");

  Fd udp_peer(udp_bind(lab.cli(), lab.cli_v4(), 9001));
  Fd udp_out(udp_bind(lab.srv(), lab.srv_v4(), 40001));
  ASSERT_TRUE(udp_peer.valid() && udp_out.valid());
  ASSERT_TRUE(udp_send(lab.cli(), lab.srv_v4(), 40001, "unsolicited"));
  EXPECT_EQ(receive(udp_out.get(), 1000ms), std::nullopt) << "40001/udp is not allowed in";
  ASSERT_TRUE(lab.in(lab.srv(), "true").exit_code == 0);
  {
    // The server asks first; the answer from the same port pair is a reply.
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(9001);
    inet_pton(AF_INET, lab.cli_v4().c_str(), &to.sin_addr);
    ASSERT_EQ(sendto(udp_out.get(), "ask", 3, 0, reinterpret_cast<sockaddr*>(&to), sizeof to), 3);
  }
  EXPECT_EQ(receive(udp_peer.get(), 2000ms), "ask");
  {
    sockaddr_in back{};
    back.sin_family = AF_INET;
    back.sin_port = htons(40001);
    inet_pton(AF_INET, lab.srv_v4().c_str(), &back.sin_addr);
    ASSERT_EQ(
        sendto(udp_peer.get(), "answer", 6, 0, reinterpret_cast<sockaddr*>(&back), sizeof back), 6);
  }
  EXPECT_EQ(receive(udp_out.get(), 2000ms), "answer");
}

// Issue 8: a reload (SIGHUP too) cuts the established connections the new rules deny; one
// that allows them again restores them; with --keep-established they stay, through later
// reloads too.
TEST_F(Wire, SighupCutsWhatTheNewRulesDenyAndReloadKeepEstablishedKeepsIt) {
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 22, 3000ms));
  ASSERT_TRUE(client.valid());
  Fd server(tcp_accept(listener.get(), 2000ms));
  ASSERT_TRUE(server.valid());
  ASSERT_TRUE(send_all(client.get(), "before"));
  EXPECT_EQ(receive(server.get(), 2000ms), "before");
  const std::string with_ssh = slurp(daemon.dir() + "/rules.toml");
  const std::string without_ssh = "[defaults]\nincoming = \"deny\"\n";
  // Waits (bounded) until portwalld has said `what` `times` times.
  auto said = [&](const std::string& what, int times = 1) {
    for (int i = 0; i < 50; ++i) {
      const std::string out = daemon.daemon_output();
      int n = 0;
      for (auto at = out.find(what); at != std::string::npos; at = out.find(what, at + 1)) ++n;
      if (n >= times) return true;
      std::this_thread::sleep_for(100ms);
    }
    return false;
  };

  // SIGHUP with ssh no longer allowed: the connection is cut.
  std::ofstream(daemon.dir() + "/rules.toml") << without_ssh;
  daemon.signal(SIGHUP);
  ASSERT_TRUE(said("1 established connection(s) cut")) << daemon.daemon_output();
  ASSERT_TRUE(send_all(client.get(), "cut"));
  EXPECT_EQ(receive(server.get(), 1500ms), std::nullopt);

  // Allowed again: restored, and what was sent meanwhile arrives (TCP retransmits it).
  std::ofstream(daemon.dir() + "/rules.toml") << with_ssh;
  const RunResult back = daemon.cli("reload");
  ASSERT_EQ(back.exit_code, 0) << back.output;
  EXPECT_NE(back.output.find("Restored 1 connection(s) cut earlier"), std::string::npos)
      << back.output;
  std::string got;
  for (int i = 0; i < 100 && got.find("cut") == std::string::npos; ++i) {
    if (auto part = receive(server.get(), 100ms)) got += *part;
  }
  EXPECT_EQ(got, "cut");

  // --keep-established: ssh goes again, the connection stays, also through a later SIGHUP.
  std::ofstream(daemon.dir() + "/rules.toml") << without_ssh;
  const RunResult kept = daemon.cli("reload --keep-established");
  ASSERT_EQ(kept.exit_code, 0) << kept.output;
  EXPECT_NE(kept.output.find("Kept 1 established connection(s)"), std::string::npos) << kept.output;
  EXPECT_TRUE(status()["rules"].empty());
  daemon.signal(SIGHUP);
  ASSERT_TRUE(said("reloaded 0 rule(s)", 3)) << daemon.daemon_output();  // SIGHUP, keep, SIGHUP
  ASSERT_TRUE(send_all(client.get(), "after"));
  EXPECT_EQ(receive(server.get(), 2000ms), "after");
  ASSERT_TRUE(send_all(server.get(), "back"));
  EXPECT_EQ(receive(client.get(), 2000ms), "back");
  // ... while a new connection to the same port is dropped.
  int error = 0;
  Fd second(tcp_connect(lab.cli(), lab.srv_v4(), 22, 1500ms, &error));
  EXPECT_FALSE(second.valid());
}

TEST_F(Wire, BrokenRulesOnReloadKeepTheWorkingSet) {
  std::ofstream(daemon.dir() + "/rules.toml") << "[[rule]]\naction = \"allow\"\nport = 70000\n";
  const RunResult reload = daemon.cli("reload");
  EXPECT_EQ(reload.exit_code, 1);
  EXPECT_NE(reload.output.find("rules.toml:3:"), std::string::npos) << reload.output;
  EXPECT_EQ(status()["rules"].size(), 3u);
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 22, 3000ms));
  EXPECT_TRUE(client.valid());
}

TEST_F(Wire, DropIsLoggedWithSourcePortAndReason) {
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 2323, 500ms));
  EXPECT_FALSE(client.valid());
  EXPECT_TRUE(log_has({"portwall ACTION=DROP", "REASON=default", "DIR=in", "IN=srv0",
                       "SRC=" + lab.cli_v4() + " ", "DST=" + lab.srv_v4() + " ", "PROTO=TCP",
                       "DPT=2323", "FLAGS=S"}))
      << daemon.log();
}

TEST_F(Wire, StatusReportsRulesCountersAndConntrack) {
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 22, 3000ms));
  ASSERT_TRUE(client.valid());
  const nlohmann::json s = status();
  EXPECT_EQ(s["mode"], "enforce");
  EXPECT_EQ(s["defaults"]["incoming"], "deny");
  ASSERT_EQ(s["rules"].size(), 3u);
  EXPECT_EQ(s["rules"][0]["port"], "22");
  EXPECT_EQ(s["rules"][0]["comment"], "ssh");
  EXPECT_GE(s["rules"][0]["packets"].get<int>(), 1);
  EXPECT_GE(s["conntrack"]["entries"].get<int>(), 1);
  EXPECT_GE(s["counters"]["accepted"].get<int>(), 2);
  EXPECT_EQ(s["counters"]["uninspected"].get<int>(), 0);
  EXPECT_EQ(s["backend"], "iptables");
  // This kernel has no nft queue statement: `backend = "auto"` falls back and says why.
  EXPECT_NE(daemon.daemon_output().find(
                "backend auto: using iptables: the kernel refused nft's queue statement"),
            std::string::npos)
      << daemon.daemon_output();
}

TEST_F(Wire, SigtermRemovesEveryRuleAndExitsZero) {
  EXPECT_EQ(input_hooks(diversion_rules(lab)), 1u);
  EXPECT_EQ(input_hooks(diversion_rules(lab, true)), 1u);
  EXPECT_EQ(daemon.stop(), 0);
  const RunResult after = lab.in(lab.srv(), "iptables-save; ip6tables-save; nft list ruleset");
  EXPECT_EQ(after.output.find("PORTWALL"), std::string::npos) << after.output;
  EXPECT_EQ(after.output.find("NFQUEUE"), std::string::npos) << after.output;
  EXPECT_EQ(after.output.find("portwall"), std::string::npos) << after.output;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

TEST_F(Wire, RestartAfterACrashReplacesTheLeftoverRulesAndKeepsConnections) {
  Fd ssh_listener(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  Fd ssh_client(tcp_connect(lab.cli(), lab.srv_v4(), 22, 3000ms));
  ASSERT_TRUE(ssh_client.valid());
  Fd ssh_server(tcp_accept(ssh_listener.get(), 2000ms));
  ASSERT_TRUE(ssh_server.valid());
  daemon.signal(SIGKILL);
  daemon.stop();  // reaps it; SIGKILL left the diversion rules behind
  const RunResult leftover = lab.in(lab.srv(), "iptables-save");
  ASSERT_EQ(count(leftover.output, "-j PORTWALL_INPUT"), 1u) << leftover.output;

  Daemon second(lab, kRules);
  ASSERT_TRUE(second.ready()) << second.daemon_output();
  for (const char* save : {"iptables-save", "ip6tables-save"}) {
    const RunResult rules = lab.in(lab.srv(), save);
    EXPECT_EQ(count(rules.output, "-j PORTWALL_INPUT"), 1u) << rules.output;
    EXPECT_EQ(count(rules.output, "-j PORTWALL_OUTPUT"), 1u) << rules.output;
    EXPECT_EQ(count(rules.output, "-j NFQUEUE"), 2u) << rules.output;
  }
  // The connection opened before the crash is adopted mid-stream (pickup grace) ...
  ASSERT_TRUE(send_all(ssh_client.get(), "after-restart"));
  EXPECT_EQ(receive(ssh_server.get(), 2000ms), "after-restart");
  ASSERT_TRUE(send_all(ssh_server.get(), "answer"));
  EXPECT_EQ(receive(ssh_client.get(), 2000ms), "answer");
  const nlohmann::json s = nlohmann::json::parse(second.cli("--json status").output);
  EXPECT_GE(s["conntrack"]["picked_up"].get<int>(), 1);
  // ... and new connections are judged as before.
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 22, 3000ms));
  EXPECT_TRUE(client.valid());
  EXPECT_EQ(second.stop(), 0);
}

TEST(DaemonStart, BrokenRulesStopTheStartBeforeTheKernelIsTouched) {
  Lab lab;
  Daemon daemon(lab, "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"70000\"\n");
  EXPECT_FALSE(daemon.ready());
  EXPECT_NE(daemon.daemon_output().find("rules.toml:4:8: port must be 1-65535, got 70000"),
            std::string::npos)
      << daemon.daemon_output();
  const RunResult rules = lab.in(lab.srv(), "iptables-save; ip6tables-save");
  EXPECT_EQ(rules.output.find("PORTWALL"), std::string::npos) << rules.output;
  const RunResult check =
      run(std::string(PORTWALLD_BIN) + " --check --config " + daemon.dir() + "/portwall.toml");
  EXPECT_EQ(check.exit_code, 1);
  EXPECT_NE(check.output.find("rules.toml:4:8: port must be 1-65535, got 70000"), std::string::npos)
      << check.output;
}

TEST(LabTeardown, LeavesNoNamespaceBehind) {
  std::string name;
  {
    Lab lab;
    name = lab.name();
    Daemon daemon(lab, kRules);
    ASSERT_TRUE(daemon.ready());
  }
  const RunResult list = run("ip netns list");
  EXPECT_EQ(list.output.find(name), std::string::npos) << list.output;
}

}  // namespace
}  // namespace portwall::lab
