// The exact kernel rules each diversion backend loads.
#include <gtest/gtest.h>

#include "netfilter/diversion.h"
#include "rules/forward.h"

namespace portwall {
namespace {

DiversionSpec two_queues() {
  DiversionSpec spec;
  spec.queues = {100, 101};
  spec.bypass = true;
  spec.reject_mark = 0x800000;
  return spec;
}

TEST(IptablesDiversion, OwnChainsHookedFromInputAndOutputWithLoopbackExempt) {
  EXPECT_EQ(iptables_restore_script(false, two_queues()),
            "*filter\n"
            ":PORTWALL_INPUT - [0:0]\n"
            ":PORTWALL_OUTPUT - [0:0]\n"
            "-A PORTWALL_INPUT -i lo -j RETURN\n"
            "-A PORTWALL_INPUT -m mark --mark 0x800000/0x800000 -p tcp -j REJECT --reject-with "
            "tcp-reset\n"
            "-A PORTWALL_INPUT -m mark --mark 0x800000/0x800000 -j REJECT --reject-with "
            "icmp-port-unreachable\n"
            "-A PORTWALL_INPUT -j NFQUEUE --queue-balance 100:101 --queue-bypass\n"
            "-A PORTWALL_OUTPUT -o lo -j RETURN\n"
            "-A PORTWALL_OUTPUT -m mark --mark 0x800000/0x800000 -p tcp -j REJECT --reject-with "
            "tcp-reset\n"
            "-A PORTWALL_OUTPUT -m mark --mark 0x800000/0x800000 -j REJECT --reject-with "
            "icmp-port-unreachable\n"
            "-A PORTWALL_OUTPUT -j NFQUEUE --queue-balance 100:101 --queue-bypass\n"
            "-I INPUT 1 -j PORTWALL_INPUT\n"
            "-I OUTPUT 1 -j PORTWALL_OUTPUT\n"
            "COMMIT\n");
}

TEST(IptablesDiversion, AnEarlierRunsJumpsAreReplacedInTheSameTransaction) {
  // After a crash (or a re-exec) the chains and their jumps are there: the chain lines flush
  // them, the old jumps go and the new ones come in one COMMIT, so no packet meets a hook
  // without the queue.
  const std::string script = iptables_restore_script(false, two_queues(), 2);
  const std::string tail =
      "-D INPUT -j PORTWALL_INPUT\n"
      "-D INPUT -j PORTWALL_INPUT\n"
      "-I INPUT 1 -j PORTWALL_INPUT\n"
      "-D OUTPUT -j PORTWALL_OUTPUT\n"
      "-D OUTPUT -j PORTWALL_OUTPUT\n"
      "-I OUTPUT 1 -j PORTWALL_OUTPUT\n"
      "COMMIT\n";
  ASSERT_GE(script.size(), tail.size());
  EXPECT_EQ(script.substr(script.size() - tail.size()), tail) << script;
  EXPECT_EQ(script.find("COMMIT"), script.size() - 7) << "one transaction";
}

TEST(IptablesDiversion, OneQueueWithoutBypassUsesQueueNum) {
  DiversionSpec spec = two_queues();
  spec.queues = {7};
  spec.bypass = false;
  const std::string script = iptables_restore_script(false, spec);
  EXPECT_NE(script.find("-j NFQUEUE --queue-num 7\n"), std::string::npos) << script;
  EXPECT_EQ(script.find("--queue-bypass"), std::string::npos);
}

TEST(IptablesDiversion, Ipv6RejectsWithIcmp6) {
  const std::string script = iptables_restore_script(true, two_queues());
  EXPECT_NE(script.find("--reject-with icmp6-port-unreachable"), std::string::npos) << script;
  EXPECT_EQ(script.find("icmp-port-unreachable"), std::string::npos);
}

TEST(NftablesDiversion, OneInetTableReplacedAtomically) {
  const std::string text = nftables_table_text(two_queues());
  EXPECT_EQ(text.rfind("add table inet portwall\ndelete table inet portwall\n", 0), 0u) << text;
  EXPECT_NE(text.find("type filter hook input priority 0; policy accept;"), std::string::npos);
  EXPECT_NE(text.find("iif \"lo\" return"), std::string::npos);
  EXPECT_NE(text.find("oif \"lo\" return"), std::string::npos);
  EXPECT_NE(text.find("ct state related ct direction reply return"), std::string::npos);
  EXPECT_NE(text.find("queue flags bypass to 100-101"), std::string::npos) << text;
  EXPECT_NE(text.find("meta mark & 0x800000 == 0x800000 meta l4proto tcp reject with tcp reset"),
            std::string::npos)
      << text;
}

TEST(NftablesDiversion, InspectNewAcceptsOffloadedConnectionsAndSavesTheMarkAfterTheQueue) {
  DiversionSpec spec = two_queues();
  spec.offload_mark = 0x400000;
  const std::string text = nftables_table_text(spec);
  // Ahead of the queue in both chains ...
  const std::size_t accept = text.find("ct mark & 0x400000 == 0x400000 accept\n");
  ASSERT_NE(accept, std::string::npos) << text;
  EXPECT_LT(accept, text.find(" queue flags bypass"));
  EXPECT_NE(text.find("ct mark & 0x400000 == 0x400000 accept\n", accept + 1), std::string::npos);
  // ... and the verdict's mark saved into the connection after it, both ways.
  EXPECT_NE(text.find("  chain save_in {\n    type filter hook input priority 50; policy accept;\n"
                      "    meta mark & 0x400000 == 0x400000 ct mark set ct mark | 0x400000\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("type filter hook postrouting priority 50;"), std::string::npos) << text;
  EXPECT_EQ(nftables_table_text(two_queues()).find("ct mark"), std::string::npos)
      << "inspect = \"full\" touches no ct mark";
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(IptablesDiversion, Ipv6EnablesDefragmentationWithoutConnectionTracking) {
  const std::string script = iptables_restore_script(true, two_queues());
  EXPECT_NE(script.find(":PORTWALL_DEFRAG - [0:0]\n"), std::string::npos) << script;
  EXPECT_NE(script.find("-A PORTWALL_DEFRAG -m socket -j RETURN\n"), std::string::npos);
  EXPECT_EQ(script.find("-j PORTWALL_DEFRAG"), std::string::npos) << "nothing jumps to it";
  EXPECT_NE(script.find("icmp6-port-unreachable"), std::string::npos);
  for (bool ipv6 : {false, true}) {
    EXPECT_EQ(iptables_restore_script(ipv6, two_queues()).find("conntrack"), std::string::npos)
        << "the kernel's connection tracking stays off";
  }
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(IptablesDiversion, InspectNewAcceptsOffloadedConnectionsAndSavesTheMark) {
  DiversionSpec spec = two_queues();
  spec.offload_mark = 0x400000;
  const std::string s = iptables_restore_script(false, spec);
  const std::string accept = "-A PORTWALL_INPUT -m connmark --mark 0x400000/0x400000 -j ACCEPT\n";
  ASSERT_NE(s.find(accept), std::string::npos) << s;
  EXPECT_LT(s.find(accept), s.find("-A PORTWALL_INPUT -j NFQUEUE")) << "ahead of the queue";
  EXPECT_NE(s.find("*security\n:PORTWALL_SAVE - [0:0]\n-A PORTWALL_SAVE -m mark --mark "
                   "0x400000/0x400000 -j CONNMARK --save-mark --nfmask 0x400000 --ctmask "
                   "0x400000\n-I INPUT 1 -j PORTWALL_SAVE\nCOMMIT\n"),
            std::string::npos)
      << s;
  EXPECT_NE(s.find("*mangle\n:PORTWALL_SAVE - [0:0]\n"), std::string::npos);
  EXPECT_NE(s.find("-I POSTROUTING 1 -j PORTWALL_SAVE\n"), std::string::npos);
  EXPECT_EQ(iptables_restore_script(false, two_queues()).find("connmark"), std::string::npos)
      << "inspect = \"full\" leaves the kernel's connection tracking off";
}

DiversionSpec with_forwards() {
  DiversionSpec spec = two_queues();
  for (const auto& words : {std::vector<std::string>{"80/tcp", "to", "8080"},
                            {"in", "on", "eth0", "443/tcp", "to", "10.0.0.5:8443"},
                            {"53/udp", "to", "[fd00::5]:5353"}}) {
    spec.forwards.push_back(*parse_forward(words));
  }
  return spec;
}

TEST(IptablesDiversion, ForwardsAreNatRulesInOwnChainsAndTheirConnectionsAreQueued) {
  EXPECT_EQ(iptables_forward_script(false, with_forwards()),
            "*mangle\n"
            ":PORTWALL_FWDMARK - [0:0]\n"
            "-A PORTWALL_FWDMARK -p tcp --dport 80 -m addrtype --dst-type LOCAL -j MARK "
            "--set-xmark 0x200000/0x200000\n"
            "-I PREROUTING 1 -j PORTWALL_FWDMARK\n"
            "COMMIT\n"
            "*nat\n"
            ":PORTWALL_PREROUTING - [0:0]\n"
            ":PORTWALL_POSTROUTING - [0:0]\n"
            "-A PORTWALL_PREROUTING -p tcp --dport 80 -m addrtype --dst-type LOCAL -j REDIRECT "
            "--to-ports 8080\n"
            "-A PORTWALL_PREROUTING -i eth0 -p tcp --dport 443 -m addrtype --dst-type LOCAL -j "
            "DNAT --to-destination 10.0.0.5:8443\n"
            "-A PORTWALL_POSTROUTING -d 10.0.0.5 -p tcp -m conntrack --ctstate DNAT "
            "--ctorigdstport 443 --dport 8443 -j MASQUERADE\n"
            "-I PREROUTING 1 -j PORTWALL_PREROUTING\n"
            "-I POSTROUTING 1 -j PORTWALL_POSTROUTING\n"
            "COMMIT\n"
            "*filter\n"
            ":PORTWALL_FORWARD - [0:0]\n"
            "-A PORTWALL_FORWARD -m mark --mark 0x40000/0x40000 -j RETURN\n"
            "-A PORTWALL_FORWARD -m mark --mark 0x800000/0x800000 -p tcp -j REJECT --reject-with "
            "tcp-reset\n"
            "-A PORTWALL_FORWARD -m mark --mark 0x800000/0x800000 -j REJECT --reject-with "
            "icmp-port-unreachable\n"
            "-A PORTWALL_FORWARD -j MARK --set-xmark 0x0/0x180000\n"
            "-A PORTWALL_FORWARD -p tcp -m conntrack --ctstate DNAT --ctorigdstport 443 "
            "--ctreplsrc 10.0.0.5 --ctreplsrcport 8443 -j NFQUEUE --queue-balance 100:101 "
            "--queue-bypass\n"
            "-I FORWARD 1 -j PORTWALL_FORWARD\n"
            "COMMIT\n");
}

TEST(IptablesDiversion, AForwardBelongsToTheFamilyOfItsDestinationARedirectToBoth) {
  const std::string v6 = iptables_forward_script(true, with_forwards());
  EXPECT_NE(v6.find("-j REDIRECT --to-ports 8080"), std::string::npos) << v6;
  EXPECT_NE(v6.find("-p udp --dport 53 -m addrtype --dst-type LOCAL -j DNAT --to-destination "
                    "[fd00::5]:5353"),
            std::string::npos)
      << v6;
  EXPECT_EQ(v6.find("10.0.0.5"), std::string::npos) << v6;
  EXPECT_NE(v6.find("icmp6-port-unreachable"), std::string::npos) << v6;
  EXPECT_EQ(iptables_forward_script(false, two_queues()), "") << "no forward, no chain";
}

// Issue 17, 9: when portwalld turned forwarding on, the routed packets the forwards do not
// carry are dropped after them, per family; without it no such rule exists.
TEST(Diversion, ARoutedDefaultOfDenyEndsTheForwardChainOfItsFamily) {
  DiversionSpec spec = with_forwards();
  const std::string drop = "-A PORTWALL_FORWARD -j DROP\n-I FORWARD 1 -j PORTWALL_FORWARD\n";
  EXPECT_EQ(iptables_forward_script(false, spec).find("-j DROP"), std::string::npos);
  EXPECT_EQ(nftables_forward_text(spec).find("drop"), std::string::npos);
  spec.routed_deny = {true, false};
  EXPECT_NE(iptables_forward_script(false, spec).find(drop), std::string::npos)
      << iptables_forward_script(false, spec);
  EXPECT_EQ(iptables_forward_script(true, spec).find("-j DROP"), std::string::npos);
  const std::string text = nftables_forward_text(spec);
  EXPECT_NE(text.find("reply proto-src 5353 counter queue flags bypass to 100-101\n"
                      "    ct state related ct status dnat accept\n"
                      "    meta nfproto ipv4 counter drop\n  }\n}\n"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("meta nfproto ipv6 counter drop"), std::string::npos);
  EXPECT_NE(text.find("ct state related ct status dnat accept\n    meta nfproto ipv4 counter drop"),
            std::string::npos)
      << "ICMP errors about the forwarded connections pass: " << text;
  EXPECT_NE(iptables_forward_script(false, spec)
                .find("-A PORTWALL_FORWARD -m conntrack --ctstate RELATED -m conntrack --ctstate DNAT -j "
                      "ACCEPT\n-A PORTWALL_FORWARD -j DROP\n"),
            std::string::npos);
}

// A reload that changes the forwards replaces them in one transaction per table: the old
// jumps are deleted and the chains flushed (a chain line) in the same script, never removed
// first (issue 17, 9: the drop of routed traffic must never be missing while forwarding is on).
TEST(IptablesDiversion, ForwardsAreReplacedInOneTransaction) {
  const std::string s = iptables_forward_script(false, with_forwards(), 2);
  for (const char* line :
       {"-D PREROUTING -j PORTWALL_FWDMARK\n-D PREROUTING -j PORTWALL_FWDMARK\n-I PREROUTING 1 -j "
        "PORTWALL_FWDMARK\nCOMMIT\n",
        "-D PREROUTING -j PORTWALL_PREROUTING\n-D PREROUTING -j PORTWALL_PREROUTING\n"
        "-D POSTROUTING -j PORTWALL_POSTROUTING\n-D POSTROUTING -j PORTWALL_POSTROUTING\n"
        "-I PREROUTING 1 -j PORTWALL_PREROUTING\n",
        "-D FORWARD -j PORTWALL_FORWARD\n-D FORWARD -j PORTWALL_FORWARD\n-I FORWARD 1 -j "
        "PORTWALL_FORWARD\nCOMMIT\n",
        "*filter\n:PORTWALL_FORWARD - [0:0]\n"}) {
    EXPECT_NE(s.find(line), std::string::npos) << line << "\n" << s;
  }
}

TEST(NftablesDiversion, ForwardsLiveInATableOfTheirOwn) {
  const std::string text = nftables_forward_text(with_forwards());
  EXPECT_EQ(text.rfind("add table inet portwall_forward\ndelete table inet portwall_forward\n"
                       "table inet portwall_forward {\n",
                       0),
            0u)
      << text;
  for (const char* line :
       {"fib daddr type local meta l4proto tcp th dport 80 meta mark set meta mark | 0x200000\n",
        "fib daddr type local meta l4proto tcp th dport 80 redirect to :8080\n",
        "meta nfproto ipv4 iifname \"eth0\" fib daddr type local meta l4proto tcp th dport 443 "
        "dnat ip to 10.0.0.5:8443\n",
        "ct status dnat meta l4proto tcp ct original proto-dst 443 ip daddr 10.0.0.5 th dport "
        "8443 masquerade\n",
        "meta nfproto ipv6 fib daddr type local meta l4proto udp th dport 53 dnat ip6 to "
        "[fd00::5]:5353\n",
        "ct status dnat meta l4proto tcp ct original proto-dst 443 ct reply ip saddr 10.0.0.5 ct "
        "reply proto-src 8443 counter queue flags bypass to 100-101\n"}) {
    EXPECT_NE(text.find(line), std::string::npos) << line << "\n" << text;
  }
  EXPECT_EQ(nftables_forward_text(two_queues()),
            "add table inet portwall_forward\ndelete table inet portwall_forward\n");
}

}  // namespace
}  // namespace portwall

namespace portwall {
namespace {

TEST(IptablesDiversion, BlockedSourcesAreDroppedByTheSetBeforeAnythingElseButLoopback) {
  DiversionSpec spec = two_queues();
  spec.offload_mark = 0x400000;
  spec.block_set_size = 1000;
  const std::string v4 = iptables_restore_script(false, spec, 0, true);
  // ICMP redirects go on to portwalld, which decides them before blocks ([icmp] redirects).
  EXPECT_NE(v4.find(":PORTWALL_BLOCKED - [0:0]\n"
                    "-A PORTWALL_BLOCKED -p icmp -m icmp --icmp-type 5 -j RETURN\n"
                    "-A PORTWALL_BLOCKED -j DROP\n"),
            std::string::npos)
      << v4;
  const std::string in =
      "-A PORTWALL_INPUT -i lo -j RETURN\n"
      "-A PORTWALL_INPUT -m set --match-set portwall-block4 src -j PORTWALL_BLOCKED\n";
  const std::string out =
      "-A PORTWALL_OUTPUT -o lo -j RETURN\n"
      "-A PORTWALL_OUTPUT -m set --match-set portwall-block4 dst -j PORTWALL_BLOCKED\n";
  ASSERT_NE(v4.find(in), std::string::npos) << v4;
  ASSERT_NE(v4.find(out), std::string::npos) << v4;
  EXPECT_LT(v4.find(in), v4.find("-A PORTWALL_INPUT -m connmark")) << "offloaded ones too";
  // IPv6: neighbour discovery and MLD go on to portwalld (which lets them through), the rest
  // is dropped.
  const std::string v6 = iptables_restore_script(true, spec, 0, true);
  EXPECT_NE(v6.find("--match-set portwall-block6 src -j PORTWALL_BLOCKED"), std::string::npos);
  for (int type : {130, 131, 132, 133, 134, 135, 136, 137, 143}) {
    EXPECT_NE(v6.find("-A PORTWALL_BLOCKED -p ipv6-icmp -m icmp6 --icmpv6-type " +
                      std::to_string(type) + " -j RETURN\n"),
              std::string::npos)
        << type << "\n"
        << v6;
  }
  EXPECT_LT(v6.find("--icmpv6-type 143 -j RETURN"), v6.find("-A PORTWALL_BLOCKED -j DROP"));
  EXPECT_EQ(iptables_restore_script(false, spec, 0, false).find("PORTWALL_BLOCKED"),
            std::string::npos)
      << "without the set nothing names it";
}

// Room for twice as many elements: an interval set's range takes two of them.
TEST(NftablesDiversion, BlockedSourcesAreDroppedByNamedSetsWithTimeoutsAndCounters) {
  DiversionSpec spec = two_queues();
  spec.block_set_size = 200000;
  const std::string text = nftables_table_text(spec);
  EXPECT_NE(text.find("  set block4 {\n    type ipv4_addr\n    flags interval, timeout\n"
                      "    counter\n    size 400000\n  }\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("set block6 {\n    type ipv6_addr\n"), std::string::npos) << text;
  const std::size_t drop = text.find(
      "    meta l4proto != icmp ip saddr @block4 drop\n"
      "    icmp type != redirect ip saddr @block4 drop\n");
  ASSERT_NE(drop, std::string::npos) << text;
  EXPECT_GT(drop, text.find("iif \"lo\" return"));
  EXPECT_LT(drop, text.find(" queue flags bypass"));
  EXPECT_NE(text.find("    meta l4proto != ipv6-icmp ip6 saddr @block6 drop\n"
                      "    icmpv6 type != { 130-137, 143 } ip6 saddr @block6 drop\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("    meta l4proto != icmp ip daddr @block4 drop\n"), std::string::npos)
      << text;
  EXPECT_EQ(nftables_table_text(two_queues()).find("@block"), std::string::npos);
}

}  // namespace
}  // namespace portwall
