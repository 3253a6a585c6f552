// visibility_test.cc — issue 16, point 4: what is dropped can be seen. A blocked source's
// packets are logged with the block's reason (its first packet, then once a minute with a
// count: the minute is the unit tests' business), and `explain` names the block and its end.
#include <cstdio>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

TEST_F(Wire, ABlockedSourcesFirstPacketIsLoggedWithTheBlocksReasonThenHeldBack) {
  const RunResult added = daemon.cli("blocked add " + lab.cli_v4() + " for 1h");
  ASSERT_EQ(added.exit_code, 0) << added.output;
  const RunResult sent =
      lab.in(lab.cli(), "hping3 -S -p 22 -c 20 -i u20000 " + lab.srv_v4() + " 2>&1", 20s);
  ASSERT_NE(sent.output.find("20 packets transmitted"), std::string::npos) << sent.output;
  ASSERT_TRUE(log_has({"ACTION=DROP", "REASON=blocked", "SRC=" + lab.cli_v4() + " "}))
      << daemon.log();
  int lines = 0;
  std::istringstream log(daemon.log());
  for (std::string line; std::getline(log, line);) {
    lines += line.find("SRC=" + lab.cli_v4() + " ") != std::string::npos;
  }
  // The kernel's set of blocks dropped them; its counters are read once a second.
  nlohmann::json s = status();
  for (int i = 0; i < 30 && s["counters"]["scan_blocked"].get<int>() < 20; ++i) {
    std::this_thread::sleep_for(100ms);
    s = status();
  }
  std::printf("[blocked-log] 20 SYNs from a blocked source: %d log line(s), scan_blocked=%s\n",
              lines, s["counters"]["scan_blocked"].dump().c_str());
  EXPECT_EQ(lines, 1) << daemon.log();
  EXPECT_GE(s["counters"]["scan_blocked"].get<int>(), 20);
  const RunResult why =
      daemon.cli("explain tcp " + lab.cli_v4() + ":" + std::string(kProbePort) + " \"->\" " + lab.srv_v4() + ":22");
  EXPECT_NE(why.output.find("DROP"), std::string::npos) << why.output;
  EXPECT_NE(why.output.find("blocked"), std::string::npos) << why.output;
  EXPECT_NE(why.output.find("until 20"), std::string::npos) << "the block's end\n" << why.output;
}

}  // namespace
}  // namespace portwall::lab

namespace portwall::lab {
namespace {

// The link-local address of `dev` in `netns` (fe80::...) once it is usable (duplicate address
// detection over: a tentative address takes and sends nothing), or "" after 5 s.
std::string link_local(const Lab& lab, const std::string& netns, const std::string& dev) {
  for (int i = 0; i < 50; ++i) {
    const std::string out = lab.in(netns, "ip -6 -o addr show dev " + dev +
                                              " scope link -tentative | sed -n "
                                              "\"s/.*inet6 \\([^/]*\\).*/\\1/p\"")
                                .output;
    if (!out.empty()) return out.substr(0, out.find('\n'));
    std::this_thread::sleep_for(100ms);
  }
  return "";
}

// One UDP datagram from FROM:SPORT in FROM_NS to TO:DPORT, received (or not) within 3 s by a
// socket bound to the wildcard's DPORT in TO_NS: "got" when it arrived. `scope`: the sender's
// interface, for link-local addresses.
std::string udp_across(const Lab& lab, const std::string& from_ns, const std::string& from,
                       int sport, const std::string& to_ns, const std::string& to, int dport,
                       bool v6, const std::string& scope = "") {
  const std::string family = v6 ? "socket.AF_INET6" : "socket.AF_INET";
  const std::string any = v6 ? "::" : "0.0.0.0";
  const std::string tail = scope.empty() ? "" : ", 0, socket.if_nametoindex(\\\"" + scope + "\\\")";
  RunResult received;
  std::thread receiver([&] {
    received =
        lab.in(to_ns,
               "/usr/bin/python3 -c \"import socket; s=socket.socket(" + family +
                   ", socket.SOCK_DGRAM); s.bind((\\\"" + any + "\\\", " + std::to_string(dport) +
                   ")); s.settimeout(3); print(\\\"got\\\" if s.recv(64) else 0)\"",
               10s);
  });
  std::this_thread::sleep_for(500ms);
  const RunResult sent =
      lab.in(from_ns, "/usr/bin/python3 -c \"import socket; s=socket.socket(" + family +
                          ", socket.SOCK_DGRAM); s.bind((\\\"" + from + "\\\", " +
                          std::to_string(sport) + tail + ")); s.sendto(b\\\"x\\\", (\\\"" + to +
                          "\\\", " + std::to_string(dport) + tail + "))\"");
  receiver.join();
  if (sent.exit_code != 0) return "not sent: " + sent.output;
  return received.output.find("got") != std::string::npos ? "got" : received.output;
}

// [icmp] as shipped (ufw's before.rules): under incoming = "deny", ping is answered, the DHCP
// client's answers arrive, a redirect is dropped and logged.
TEST_F(Wire, IcmpTableAnswersPingLetsDhcpRepliesInAndDropsRedirects) {
  // Three echo requests each way of asking (IPv4, IPv6), by scapy: answers counted.
  const RunResult ping = lab.in(lab.cli(),
                                "/usr/bin/python3 -c \"from scapy.all import *; a=sum(1 for i in "
                                "range(3) if sr1(IP(dst=\\\"" +
                                    lab.srv_v4() +
                                    "\\\")/ICMP(id=9, seq=i), timeout=2, verbose=0)); b=sum(1 for "
                                    "i in range(3) if sr1(IPv6(dst=\\\"" +
                                    lab.srv_v6() +
                                    "\\\")/ICMPv6EchoRequest(id=9, seq=i), timeout=2, verbose=0)); "
                                    "print(\\\"answered\\\", a, b)\"",
                                30s);
  EXPECT_NE(ping.output.find("answered 3 3"), std::string::npos) << ping.output;

  EXPECT_EQ(udp_across(lab, lab.cli(), lab.cli_v4(), 67, lab.srv(), lab.srv_v4(), 68, false), "got")
      << "a DHCP server's answer";
  const std::string cli_ll = link_local(lab, lab.cli(), "cli0");
  const std::string srv_ll = link_local(lab, lab.srv(), "srv0");
  ASSERT_FALSE(cli_ll.empty() || srv_ll.empty());
  EXPECT_EQ(udp_across(lab, lab.cli(), cli_ll, 547, lab.srv(), srv_ll, 546, true, "cli0"), "got")
      << "a DHCPv6 server's answer from the link";
  EXPECT_NE(udp_across(lab, lab.cli(), lab.cli_v4(), 4000, lab.srv(), lab.srv_v4(), 69, false),
            "got")
      << "another port stays closed";

  // A router's redirect, on the wire to the server's MAC (scapy's layer-3 send finds no route
  // for a link-local destination).
  const std::string mac = lab.in(lab.srv(), "cat /sys/class/net/srv0/address").output.substr(0, 17);
  const RunResult redirect =
      lab.in(lab.cli(),
             "/usr/bin/python3 -c \"from scapy.all import *; sendp(Ether(dst=\\\"" + mac +
                 "\\\")/IPv6(src=\\\"" + cli_ll + "\\\", dst=\\\"" + srv_ll +
                 "\\\", hlim=255)/ICMPv6ND_Redirect(tgt=\\\"fe80::66\\\", dst=\\\"fd00::9\\\"), "
                 "iface=\\\"cli0\\\", verbose=0)\"",
             20s);
  EXPECT_EQ(redirect.exit_code, 0) << redirect.output;
  EXPECT_TRUE(log_has({"ACTION=DROP", "REASON=default", "PROTO=ICMPv6", "TYPE=137"}))
      << daemon.log();
}

}  // namespace
}  // namespace portwall::lab
