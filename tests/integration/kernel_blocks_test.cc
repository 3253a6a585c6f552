// kernel_blocks_test.cc — issue 20, point 1: blocked sources are dropped by a kernel set (an
// ipset with iptables, a named set with nftables) before the queue. The block list stays the
// truth: after every change, expiry, restart, reload and mode switch the set holds exactly the
// blocks in force; what it drops is counted and logged; and a block still cuts what it must.
#include <csignal>
#include <set>

#include "integration/wire_fixture.h"
#include "netfilter/kernel_block_set.h"

namespace portwall::lab {
namespace {

using Entries = std::set<std::string>;

// The kernel set's entries and their packet counters, as its backend lists them; nullopt when
// the listing failed (no set: an empty listing is a set that exists and is empty).
std::optional<std::vector<KernelBlockCount>> kernel_set(const Lab& lab) {
  if (!testing_nftables()) {
    const RunResult r = lab.in(
        lab.srv(), std::string("ipset save ") + kIpsetBlock4 + " && ipset save " + kIpsetBlock6);
    if (r.exit_code != 0) return std::nullopt;
    return parse_ipset_save(r.output);
  }
  std::vector<KernelBlockCount> all;
  for (const char* set : {"block4", "block6"}) {
    const RunResult r = lab.in(lab.srv(), std::string("nft -j list set inet portwall ") + set);
    const auto some = parse_nft_set_json(r.output);
    if (r.exit_code != 0 || !some) return std::nullopt;
    all.insert(all.end(), some->begin(), some->end());
  }
  return all;
}

Entries kernel_entries(const Lab& lab) {
  const auto set = kernel_set(lab);
  if (!set) return {"(the kernel set could not be listed)"};
  Entries out;
  for (const KernelBlockCount& c : *set) out.insert(range_text(c.range));
  return out;
}

// Whether the server's namespace holds a set of portwall's (any, listed by name).
bool any_kernel_set(const Lab& lab) {
  const std::string names = testing_nftables() ? lab.in(lab.srv(), "nft list tables").output
                                               : lab.in(lab.srv(), "ipset list -n").output;
  return names.find(testing_nftables() ? "portwall" : "portwall-block") != std::string::npos;
}

std::uint64_t kernel_packets(const Lab& lab, const std::string& entry) {
  for (const KernelBlockCount& c : kernel_set(lab).value_or(std::vector<KernelBlockCount>{})) {
    if (range_text(c.range) == entry) return c.packets;
  }
  return 0;
}

Entries block_list(const Daemon& daemon) {
  const RunResult r = daemon.cli("--json blocked list");
  Entries out;
  const nlohmann::json list = nlohmann::json::parse(r.output, nullptr, false);
  if (!list.is_array()) return {"(unreadable: " + r.output + ")"};
  for (const auto& b : list) out.insert(b["address"].get<std::string>());
  return out;
}

std::string text(const Entries& e) {
  std::string t;
  for (const std::string& s : e) t += (t.empty() ? "" : " ") + s;
  return "{" + t + "}";
}

// Waits (3 s at most: the set follows the list at once after a request, within a second after
// an expiry) until the kernel set holds `want`.
bool kernel_holds(const Lab& lab, const Entries& want) {
  for (int i = 0; i < 30; ++i) {
    if (kernel_entries(lab) == want) return true;
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

// A lab and portwalld with the wire tests' rules (kernel_blocks on, the default).
class KernelBlocks : public Wire {};

// A TCP connection from the client to the server's port 22 (server invalid if it failed).
struct Connection {
  Fd listener, client, server;
};
Connection connect_to_ssh(const Lab& lab) {
  Connection c;
  c.listener = Fd(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  c.client = Fd(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms));
  if (c.client.valid()) c.server = Fd(tcp_accept(c.listener.get(), 2000ms));
  return c;
}

TEST_F(KernelBlocks, TheSetEqualsTheBlockListAfterEveryChangeExpiryRestartReloadAndModeSwitch) {
  EXPECT_NE(daemon.daemon_output().find("blocked sources are dropped in the kernel"),
            std::string::npos)
      << daemon.daemon_output();
  const std::string range = lab.net_v4() + "0/24";  // holds the client too
  const std::string other = "198.51.100.0/24";
  const std::string v6 = lab.cli_v6();
  const std::string brief = "203.0.113.77";
  // `left_to_portwalld`: blocks the set may not hold (nftables' interval sets take no
  // overlapping elements: those stay portwalld's); `either`: blocks it may hold or not (one in
  // its last second: the kernel's timeout is rounded down, and the kernel lets it go first).
  auto step = [&](const char* what, const Entries& left_to_portwalld = {},
                  const Entries& either = {}) {
    const Entries list = block_list(daemon);
    Entries want;
    for (const std::string& b : list) {
      if (!left_to_portwalld.contains(b) && !either.contains(b)) want.insert(b);
    }
    bool same = false;
    for (int i = 0; i < 30 && !same; ++i, std::this_thread::sleep_for(100ms)) {
      Entries got = kernel_entries(lab);
      for (const std::string& b : either) got.erase(b);
      same = got == want;
    }
    EXPECT_TRUE(same) << what << ": block list " << text(list) << ", kernel "
                      << text(kernel_entries(lab));
    return list;
  };
  EXPECT_TRUE(step("start").empty());
  for (const std::string& b : {other, v6, lab.cli_v4() + " for 1h", brief + " for 8s"}) {
    ASSERT_EQ(daemon.cli("blocked add " + b).exit_code, 0) << b;
  }
  const auto brief_ends = std::chrono::steady_clock::now() + 8s;
  EXPECT_EQ(step("added"), (Entries{brief, lab.cli_v4(), other, v6}));
  ASSERT_EQ(daemon.cli("blocked add " + range + " for 1h").exit_code, 0);
  // From here on the brief block may be in its last second (or over, on a slow machine).
  auto without_brief = [&](Entries e) {
    e.erase(brief);
    return e;
  };
  EXPECT_EQ(
      without_brief(step("a range over an address",
                         testing_nftables() ? Entries{range, lab.cli_v4()} : Entries{}, {brief})),
      (Entries{lab.cli_v4(), other, range, v6}));
  ASSERT_EQ(daemon.cli("blocked remove " + range).exit_code, 0);
  ASSERT_EQ(daemon.cli("blocked remove " + other).exit_code, 0);
  EXPECT_EQ(without_brief(step("removed", {}, {brief})), (Entries{lab.cli_v4(), v6}));
  std::this_thread::sleep_until(brief_ends + 1500ms);
  EXPECT_EQ(step("expired"), (Entries{lab.cli_v4(), v6}));
  ASSERT_EQ(daemon.stop(), 0);
  EXPECT_FALSE(any_kernel_set(lab)) << "the set goes with the daemon";
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  EXPECT_EQ(step("restarted"), (Entries{lab.cli_v4(), v6}));
  ASSERT_EQ(daemon.cli("reload").exit_code, 0);
  EXPECT_EQ(step("reloaded"), (Entries{lab.cli_v4(), v6}));
  // Monitor mode lets blocked sources through as it lets everything: the set empties.
  ASSERT_EQ(daemon.cli("mode monitor").exit_code, 0);
  EXPECT_TRUE(kernel_holds(lab, {})) << text(kernel_entries(lab));
  ASSERT_EQ(daemon.cli("mode enforce").exit_code, 0);
  EXPECT_TRUE(kernel_holds(lab, {lab.cli_v4(), v6})) << text(kernel_entries(lab));
}

TEST_F(KernelBlocks, ABlockedSourcesPacketsNeverReachTheQueueAndAreCountedAndLogged) {
  // A connection of the client's, up before the block.
  const Connection c = connect_to_ssh(lab);
  ASSERT_TRUE(c.server.valid());
  const int client = c.client.get(), server = c.server.get();
  ASSERT_TRUE(send_all(client, "before"));
  ASSERT_EQ(receive(server, 2000ms), "before");

  ASSERT_EQ(daemon.cli("blocked add " + lab.cli_v4()).exit_code, 0);
  ASSERT_TRUE(kernel_holds(lab, {lab.cli_v4()}));
  daemon.wait_until_quiet();
  const std::uint64_t seen_before = received_packets(daemon);
  const RunResult sent =
      lab.in(lab.cli(), "hping3 -S -p 22 -c 200 -i u2000 " + lab.srv_v4() + " 2>&1", 20s);
  ASSERT_NE(sent.output.find("200 packets transmitted"), std::string::npos) << sent.output;
  // The open connection is cut too: neither way gets through.
  EXPECT_TRUE(send_all(client, "after"));
  EXPECT_FALSE(receive(server, 1000ms).has_value());
  EXPECT_TRUE(send_all(server, "after"));
  EXPECT_FALSE(receive(client, 1000ms).has_value());
  const std::uint64_t seen = received_packets(daemon) - seen_before;
  const std::uint64_t dropped = kernel_packets(lab, lab.cli_v4());
  std::printf(
      "[kernel-blocks] 200 SYNs and a cut connection's data from a blocked source: "
      "the kernel set dropped %llu packet(s), portwalld received %llu\n",
      static_cast<unsigned long long>(dropped), static_cast<unsigned long long>(seen));
  EXPECT_GE(dropped, 201u) << "the SYNs and the client's data (the server's answer: OUTPUT)";
  EXPECT_LE(seen, 5u) << "none of them (a few of the lab's own neighbour discovery at most)";
  // Logged from the set's counter (first the packets of its first reading, then once a
  // minute), and counted in status with what portwalld drops itself.
  ASSERT_TRUE(log_line_with(daemon, {"ACTION=DROP", "REASON=blocked", "SRC=" + lab.cli_v4() + " ",
                                     "IN_KERNEL=1", "COUNT="}))
      << daemon.log();
  // The set's counters are read once a second.
  nlohmann::json s = nlohmann::json::parse(daemon.cli("--json status").output);
  for (int i = 0; i < 30 && s["counters"]["scan_blocked"].get<std::uint64_t>() < 201; ++i) {
    std::this_thread::sleep_for(100ms);
    s = nlohmann::json::parse(daemon.cli("--json status").output);
  }
  EXPECT_GE(s["counters"]["scan_blocked"].get<std::uint64_t>(), 201u) << s["counters"];
  EXPECT_EQ(s["defenses"]["blocks"]["in_kernel"]["entries"], 1) << s["defenses"];
  EXPECT_GE(s["defenses"]["blocks"]["in_kernel"]["packets_dropped"].get<std::uint64_t>(), 201u);
  // explain still names the block.
  const RunResult why = daemon.cli("explain tcp " + lab.cli_v4() + ":" + std::string(kProbePort) +
                                   " \"->\" " + lab.srv_v4() + ":22");
  EXPECT_NE(why.output.find("blocked"), std::string::npos) << why.output;

  // Lifted: the set lets it go, and the rules decide again.
  ASSERT_EQ(daemon.cli("blocked remove " + lab.cli_v4()).exit_code, 0);
  ASSERT_TRUE(kernel_holds(lab, {}));
  Fd again(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms));
  EXPECT_TRUE(again.valid());
}

TEST_F(KernelBlocks, ABlockThatKeepsEstablishedConnectionsStaysPortwalldsAndTheConnectionLives) {
  const Connection c = connect_to_ssh(lab);
  ASSERT_TRUE(c.server.valid());
  // A range that holds the client (and not the server: 10.200.N.2/31).
  const std::string range = lab.cli_v4() + "/31";
  ASSERT_EQ(daemon.cli("blocked add " + range + " --keep-established").exit_code, 0);
  std::this_thread::sleep_for(1500ms);  // a tick of the daemon's upkeep
  EXPECT_TRUE(kernel_entries(lab).empty()) << text(kernel_entries(lab));
  ASSERT_TRUE(send_all(c.client.get(), "kept"));
  EXPECT_EQ(receive(c.server.get(), 2000ms), "kept");
  Fd refused(tcp_connect(lab.cli(), lab.srv_v4(), 22, 1000ms));
  EXPECT_FALSE(refused.valid()) << "a new connection is refused by portwalld";
  // An upgrade's re-exec (SIGUSR2) hands the kept connection over, and with it its exemption
  // (known then by the connection's remote, inside the range).
  daemon.signal(SIGUSR2);
  bool again = false;
  for (int i = 0; i < 100 && !again; ++i, std::this_thread::sleep_for(50ms)) {
    std::istringstream said(daemon.daemon_output());
    int ready = 0;
    for (std::string line; std::getline(said, line);) ready += line.starts_with("portwalld: ready");
    again = ready >= 2;
  }
  ASSERT_TRUE(again) << daemon.daemon_output();
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(kernel_entries(lab).empty()) << text(kernel_entries(lab));
  ASSERT_TRUE(send_all(c.client.get(), "kept across the re-exec"));
  EXPECT_EQ(receive(c.server.get(), 2000ms), "kept across the re-exec");
  // Blocked again without it: the kernel drops it all from now on.
  ASSERT_EQ(daemon.cli("blocked remove " + range).exit_code, 0);
  ASSERT_EQ(daemon.cli("blocked add " + range).exit_code, 0);
  EXPECT_TRUE(kernel_holds(lab, {range}));
}

TEST(KernelBlocksOff, PortwalldDropsThemItselfAndNoSetIsMade) {
  Lab lab;
  Daemon daemon(lab, kRules, "kernel_blocks = false\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  ASSERT_EQ(daemon.cli("blocked add " + lab.cli_v4()).exit_code, 0);
  const RunResult sent =
      lab.in(lab.cli(), "hping3 -S -p 22 -c 20 -i u20000 " + lab.srv_v4() + " 2>&1", 20s);
  ASSERT_NE(sent.output.find("20 packets transmitted"), std::string::npos) << sent.output;
  EXPECT_FALSE(any_kernel_set(lab) && !testing_nftables());
  EXPECT_EQ(diversion_rules(lab).find("block"), std::string::npos) << diversion_rules(lab);
  const nlohmann::json s = nlohmann::json::parse(daemon.cli("--json status").output);
  EXPECT_GE(s["counters"]["scan_blocked"].get<std::uint64_t>(), 20u);
  EXPECT_TRUE(s["defenses"]["blocks"]["in_kernel"].is_null()) << s["defenses"];
}

}  // namespace
}  // namespace portwall::lab
