// flood_test.cc — issue 6, part 4: floods stay bounded. A SYN flood and a UDP flood from many
// spoofed sources (10.200.0.0/16, scapy/flood.py) against a daemon configured with small tables;
// meanwhile an established connection from the second client keeps exchanging data, `status`
// answers every half second, and the tables and the daemon's memory stay within their bounds.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <regex>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

// Small tables, so that the floods reach their bounds: 1024 flows (512 per queue thread), 512
// sources. Every new inbound connection goes through the per-source table ([limits]).
constexpr int kMaxFlows = 1024;
constexpr int kMaxSources = 512;
constexpr const char* kFloodConfig =
    "[conntrack]\nmax_entries = 1024\n"
    "[limits]\nmax_sources = 512\nnew_connections = \"50/1s\"\n"
    "max_connections_per_source = 8\n";
// The documented memory bound of this test: portwalld's resident set with these tables. The
// tables themselves need well under 1 MiB; the rest is the process (threads, NFQUEUE buffers,
// libraries). Measured at about 10-20 MiB; 64 MiB leaves room without hiding a leak. Built with
// AddressSanitizer (tools/test.sh --sanitize) the daemon also holds ASan's quarantine of freed
// memory (256 MiB by default) and its shadow memory: measured 305 MiB, bound 512 MiB.
#if defined(__SANITIZE_ADDRESS__)  // GCC
#define PORTWALL_UNDER_ASAN 1
#elif defined(__has_feature)  // clang
#if __has_feature(address_sanitizer)
#define PORTWALL_UNDER_ASAN 1
#endif
#endif
#if defined(PORTWALL_UNDER_ASAN)
constexpr long kRssBoundKiB = 512 * 1024;
#else
constexpr long kRssBoundKiB = 64 * 1024;
#endif
// `status` must answer within this, however hard the flood.
constexpr auto kStatusBound = 2000ms;

long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  }
  return -1;
}

int daemon_pid(const Lab& lab) {
  const RunResult r = run("for p in $(ip netns pids " + lab.srv() +
                          "); do [ \"$(cat /proc/$p/comm)\" = portwalld ] && echo $p; done");
  return std::atoi(r.output.c_str());
}

TEST(Flood, SynAndUdpFloodsFromSpoofedSourcesStayBoundedWhileAConnectionKeepsWorking) {
  Lab lab;
  Daemon daemon(lab, kRules, "", kFloodConfig);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const int pid = daemon_pid(lab);
  ASSERT_GT(pid, 0);
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 22));
  Fd udp_sink(udp_bind(lab.srv(), lab.srv_v4(), 5353));  // the flood's datagrams land here
  ASSERT_TRUE(listener.valid() && udp_sink.valid());

  // The established connection, from cl2, echoed by the server.
  Fd client(tcp_connect(lab.cl2(), lab.srv_v4_for_cl2(), 22, 3000ms));
  ASSERT_TRUE(client.valid());
  Fd server(tcp_accept(listener.get(), 2000ms));
  ASSERT_TRUE(server.valid());
  // Under AddressSanitizer the flooded daemon answers late: 5 s is broken, not merely slow.
  EchoedConnection busy(std::move(client), std::move(server), 50ms, 5000ms);
  std::atomic<bool> done{false};
  // status every half second: latency, table sizes, evictions, memory.
  struct Sample {
    double ms;
    bool answered;
    long flows, sources, evicted, source_evictions, rss;
  };
  std::vector<Sample> samples;
  std::thread watcher([&] {
    while (!done) {
      const auto t0 = std::chrono::steady_clock::now();
      const RunResult r = daemon.cli("--json status");
      const double ms =
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
      const nlohmann::json s = nlohmann::json::parse(r.output, nullptr, false);
      Sample x{ms, r.exit_code == 0 && s.contains("conntrack"), -1, -1, -1, -1, rss_kib(pid)};
      if (x.answered) {
        x.flows = s["conntrack"]["entries"].get<long>();
        x.evicted = s["conntrack"]["evicted"].get<long>();
        x.sources = s["defenses"]["sources"]["entries"].get<long>();
        x.source_evictions = s["defenses"]["sources"]["evicted"].get<long>();
      }
      samples.push_back(x);
      std::this_thread::sleep_for(500ms);
    }
  });

  // The floods, both at once, bounded in count and time.
  const std::string script = std::string(PORTWALL_SOURCE_DIR) + "/tests/integration/scapy/flood.py";
  const std::string net = lab.srv_v4().substr(7, lab.srv_v4().size() - 9);
  const std::string args = " cli0 " + mac_of(lab, lab.cli(), "cli0") + " " +
                           mac_of(lab, lab.srv(), "srv0") + " " + lab.srv_v4() + " ";
  const std::string frames = "400000";
  const auto flood_start = std::chrono::steady_clock::now();
  const RunResult flood = lab.in(lab.cli(),
                                 "/usr/bin/python3 " + script + args + "syn 22 " + frames + " 10 " +
                                     net + " & " + "/usr/bin/python3 " + script + args +
                                     "udp 5353 " + frames + " 10 " + net + "; wait",
                                 40s);
  const double flood_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - flood_start).count();
  std::this_thread::sleep_for(1500ms);  // the queue drains; a few more samples after
  done = true;
  busy.stop();
  watcher.join();
  ASSERT_EQ(flood.exit_code, 0) << flood.output;

  // Both floods print {"sent": N, ...} into the same pipe at about the same moment; their
  // lines may interleave ({...}{...}\n\n, seen in CI), so the figures are read wherever they are.
  long sent = 0;
  {
    static const std::regex kSent(R"re("sent": (\d+))re");
    for (std::sregex_iterator m(flood.output.begin(), flood.output.end(), kSent), end; m != end;
         ++m) {
      sent += std::stol((*m)[1].str());
    }
  }
  const nlohmann::json final_status = nlohmann::json::parse(daemon.cli("--json status").output);
  Sample peak{0, true, 0, 0, 0, 0, 0};
  int unanswered = 0;
  for (const Sample& s : samples) {
    unanswered += !s.answered;
    peak.ms = std::max(peak.ms, s.ms);
    peak.flows = std::max(peak.flows, s.flows);
    peak.sources = std::max(peak.sources, s.sources);
    peak.rss = std::max(peak.rss, s.rss);
  }
  const long evicted = final_status["conntrack"]["evicted"].get<long>();
  const long source_evictions = final_status["defenses"]["sources"]["evicted"].get<long>();
  std::printf(
      "[flood] packets_sent=%ld in %.1fs received=%s table_full=%s rate_limited=%s "
      "uninspected=%s\n",
      sent, flood_seconds, final_status["counters"]["received"].dump().c_str(),
      final_status["counters"]["table_full"].dump().c_str(),
      final_status["counters"]["rate_limited"].dump().c_str(),
      final_status["counters"]["uninspected"].dump().c_str());
  std::printf(
      "[flood] max_flows_seen=%ld (max %d) max_sources_seen=%ld (max %d) flow_evictions=%ld "
      "source_evictions=%ld\n",
      peak.flows, kMaxFlows, peak.sources, kMaxSources, evicted, source_evictions);
  std::printf(
      "[flood] status_samples=%zu unanswered=%d status_latency_max=%.0fms peak_rss=%ldKiB "
      "(bound %ldKiB) round_trips_ok=%d failed=%d\n",
      samples.size(), unanswered, peak.ms, peak.rss, kRssBoundKiB, busy.total_ok(),
      busy.total_failed());

  EXPECT_GE(sent, 20000) << flood.output;
  EXPECT_GE(samples.size(), 4u);  // every half second through the flood (11 here, at 42 ms)
  EXPECT_EQ(unanswered, 0);
  EXPECT_LT(peak.ms, (std::chrono::duration<double, std::milli>(kStatusBound).count()));
  EXPECT_LE(peak.flows, kMaxFlows);
  EXPECT_LE(peak.sources, kMaxSources);
  EXPECT_GT(evicted, 0) << "the flow table's bound was reached";
  EXPECT_GT(source_evictions, 0) << "the source table's bound was reached";
  EXPECT_GT(peak.rss, 0);
  EXPECT_LT(peak.rss, kRssBoundKiB);
  EXPECT_GE(busy.total_ok(), 20);
  EXPECT_EQ(busy.total_failed(), 0);
  // Not one packet of the established connection was judged invalid: while the kernel lets
  // packets past the full queue unseen (fail-open), the windows portwalld learned go stale, and
  // the flows it meets meanwhile are judged liberally (netfilter/bypass_watch.h).
  int connection_drops = 0;
  {
    std::istringstream lines(daemon.log());
    for (std::string line; std::getline(lines, line);) {
      const bool ours = line.find("SRC=" + lab.cl2_v4() + " ") != std::string::npos ||
                        line.find("DST=" + lab.cl2_v4() + " ") != std::string::npos;
      connection_drops += ours && line.find("ACTION=ACCEPT") == std::string::npos;
    }
  }
  EXPECT_EQ(connection_drops, 0) << daemon.log();
  EXPECT_EQ(daemon_pid(lab), pid) << daemon.daemon_output();
  // After the flood: the established connection and new ones still work.
  Fd fresh(tcp_connect(lab.cl2(), lab.srv_v4_for_cl2(), 22, 3000ms));
  EXPECT_TRUE(fresh.valid());
}

}  // namespace
}  // namespace portwall::lab
