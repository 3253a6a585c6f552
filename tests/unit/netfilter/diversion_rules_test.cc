// The exact kernel rules each diversion backend loads.
#include <gtest/gtest.h>

#include "netfilter/diversion.h"

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

}  // namespace
}  // namespace portwall
