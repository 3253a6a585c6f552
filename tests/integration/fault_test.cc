// Faults of portwalld itself, on the wire: a SIGKILL under load fails in the direction
// fail_open chose and a restart restores the rules; a full queue is counted and behaves per
// fail_open; a removed log file or a full disk costs counted lines, never packets; SIGHUP storms
// change nothing but the rules; the daemon keeps only its network capabilities; the control
// socket refuses strangers and outlives garbage, oversized, half-written and idle clients.
#include <signal.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

using Clock = std::chrono::steady_clock;

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    ++n;
  }
  return n;
}

nlohmann::json status_of(const Daemon& daemon) {
  const RunResult r = daemon.cli("--json status");
  return nlohmann::json::parse(r.output, nullptr, false);
}

// A connection from the client namespace to the server's port 22, with both ends.
struct Connection {
  Fd listener, client, server;
  Connection(const Lab& lab, int port = 22)
      : listener(tcp_listen(lab.srv(), lab.srv_v4(), port)),
        client(tcp_connect(lab.cli(), lab.srv_v4(), port, 3000ms)),
        server(tcp_accept(listener.get(), 3000ms)) {}
  bool valid() const { return client.valid() && server.valid(); }
  // One request and its answer, each within `wait`.
  bool round_trip(std::chrono::milliseconds wait = 3000ms) {
    return send_all(client.get(), "ping") && receive(server.get(), wait) == "ping" &&
           send_all(server.get(), "pong") && receive(client.get(), wait) == "pong";
  }
};

// Round trips over a connection every 20 ms on a thread, until stopped (at most 2,000).
class Load {
 public:
  explicit Load(Connection& c)
      : thread_([this, &c] {
          for (int i = 0; i < 2000 && !stop_; ++i) {
            const auto begin = Clock::now();
            (c.round_trip() ? ok_ : failed_)++;
            const auto took =
                std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin);
            if (took.count() > slowest_ms_) slowest_ms_ = static_cast<int>(took.count());
            std::this_thread::sleep_for(20ms);
          }
        }) {}
  ~Load() { finish(); }
  void finish() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int ok() const { return ok_; }
  int failed() const { return failed_; }
  int slowest_ms() const { return slowest_ms_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> ok_{0}, failed_{0}, slowest_ms_{0};
  std::thread thread_;
};

bool connects(const Lab& lab, int port, std::chrono::milliseconds wait = 1500ms) {
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), port));
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), port, wait));
  return client.valid();
}

TEST(Faults, SigkillWithFailOpenKeepsConnectionsAndLetsNewOnesInUninspected) {
  Lab lab;
  Daemon daemon(lab, kRules, "fail_open = true\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Connection ssh(lab);
  ASSERT_TRUE(ssh.valid());
  ASSERT_FALSE(connects(lab, 2323));  // denied while portwalld judges
  {
    Load load(ssh);
    std::this_thread::sleep_for(500ms);
    daemon.signal(SIGKILL);
    std::this_thread::sleep_for(1500ms);
    // No listener: the queue rule's --queue-bypass lets everything through, uninspected.
    EXPECT_TRUE(connects(lab, 2323));
    EXPECT_TRUE(connects(lab, 22));
    load.finish();
    std::printf("[ figure ] fail_open=true SIGKILL: %d round trips, %d failed, slowest %d ms\n",
                load.ok(), load.failed(), load.slowest_ms());
    EXPECT_EQ(load.failed(), 0);
  }
  daemon.stop();  // reaps the killed process
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  const std::string rules = diversion_rules(lab);
  EXPECT_EQ(input_hooks(rules), 1u) << rules;  // the leftover rules replaced, not doubled
  EXPECT_EQ(queue_rules(rules), 2u) << rules;
  EXPECT_TRUE(ssh.round_trip());      // adopted mid-stream
  EXPECT_FALSE(connects(lab, 2323));  // judged again
  EXPECT_EQ(daemon.stop(), 0);
}

TEST(Faults, SigkillWithFailClosedStopsTrafficUntilTheRestart) {
  Lab lab;
  Daemon daemon(lab, kRules, "fail_open = false\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Connection ssh(lab);
  ASSERT_TRUE(ssh.valid());
  ASSERT_TRUE(ssh.round_trip());
  daemon.signal(SIGKILL);
  daemon.stop();
  // Nobody judges, nothing passes: not the established connection, not a new one.
  ASSERT_TRUE(send_all(ssh.client.get(), "while-dead"));
  EXPECT_EQ(receive(ssh.server.get(), 1500ms), std::nullopt);
  EXPECT_FALSE(connects(lab, 22));
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  // TCP retransmits what waited; the connection goes on, new ones are let in again.
  EXPECT_EQ(receive(ssh.server.get(), 8000ms), "while-dead");
  EXPECT_TRUE(ssh.round_trip());
  EXPECT_TRUE(connects(lab, 22));
  EXPECT_EQ(daemon.stop(), 0);
}

// What the server's IPv6 queue rules have counted: the hosts' own packets (neighbour
// discovery, MLD reports), the only other traffic while a test sends IPv4.
int queued_ipv6(const Lab& lab) {
  std::istringstream lines(lab.in(lab.srv(), "ip6tables-save -c -t filter").output);
  int total = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.starts_with("[") && line.find("-j NFQUEUE") != std::string::npos) {
      total += std::stoi(line.substr(1));
    }
  }
  return total;
}

struct Overflow {
  int through = 0;  // datagrams that reached the server's socket while portwalld was stopped
  int others = 0;   // the hosts' own packets queued meanwhile, each of which may take a place
};

// Stops portwalld (SIGSTOP) so that its queue fills, sends `datagrams` to a denied UDP port,
// and counts what reached the server's socket while it was stopped.
Overflow datagrams_through_a_full_queue(const Lab& lab, const Daemon& daemon, int datagrams) {
  Fd denied(udp_bind(lab.srv(), lab.srv_v4(), 9999));
  const int buffer = 4 << 20;  // room for every datagram that gets through
  setsockopt(denied.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
  daemon.wait_until_quiet();
  const int ipv6_before = queued_ipv6(lab);
  daemon.signal(SIGSTOP);
  std::ofstream(daemon.dir() + "/burst.py")
      << "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
      << "for i in range(" << datagrams << "): s.sendto(b'x', ('" << lab.srv_v4() << "', 9999))\n";
  const RunResult sent = lab.in(lab.cli(), "/usr/bin/python3 " + daemon.dir() + "/burst.py");
  EXPECT_EQ(sent.exit_code, 0) << sent.output;
  Overflow o;
  while (receive(denied.get(), 300ms)) ++o.through;
  o.others = queued_ipv6(lab) - ipv6_before;
  daemon.signal(SIGCONT);
  return o;
}

TEST(Faults, QueueOverflowWithFailOpenPassesUninspectedAndCountsIt) {
  Lab lab;
  Daemon daemon(lab, kRules, "fail_open = true\nqueue_length = 64\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const auto [through, others] = datagrams_through_a_full_queue(lab, daemon, 500);
  std::this_thread::sleep_for(500ms);
  const nlohmann::json s = status_of(daemon);
  std::printf(
      "[ figure ] fail_open=true, queue 64, 500 datagrams while stopped: %d through, "
      "uninspected %s, %d IPv6 packets of the hosts' own queued meanwhile, queue %s\n",
      through, s["counters"]["uninspected"].dump().c_str(), others, s["queue"].dump().c_str());
  // 500 - 64, and a packet of the hosts' own (IPv6 neighbour discovery, MLD) that took a place
  // in the queue meanwhile lets one more datagram through, or passes uninspected itself.
  EXPECT_GE(through, 500 - 64);
  EXPECT_LE(through, 500 - 64 + others);
  EXPECT_GE(s["counters"]["uninspected"].get<int>(), through);
  EXPECT_LE(s["counters"]["uninspected"].get<int>(), through + others);
  EXPECT_EQ(s["queue"]["dropped_full"], 0);
  EXPECT_EQ(s["queue"]["waiting"], 0);  // the 64 held ones were judged after SIGCONT
  EXPECT_TRUE(connects(lab, 22));
  EXPECT_FALSE(connects(lab, 2323));
}

TEST(Faults, QueueOverflowWithFailClosedDropsAndCountsIt) {
  Lab lab;
  Daemon daemon(lab, kRules, "fail_open = false\nqueue_length = 64\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const auto [through, others] = datagrams_through_a_full_queue(lab, daemon, 500);
  std::this_thread::sleep_for(500ms);
  const nlohmann::json s = status_of(daemon);
  std::printf(
      "[ figure ] fail_open=false, queue 64, 500 datagrams while stopped: %d through, "
      "%d IPv6 packets of the hosts' own queued meanwhile, queue %s\n",
      through, others, s["queue"].dump().c_str());
  EXPECT_EQ(through, 0);
  // And the hosts' own packets that found the queue full, as above.
  EXPECT_GE(s["queue"]["dropped_full"].get<int>(), 500 - 64);
  EXPECT_LE(s["queue"]["dropped_full"].get<int>(), 500 - 64 + others);
  EXPECT_EQ(s["counters"]["uninspected"], 0);
  EXPECT_TRUE(connects(lab, 22));
}

TEST(Faults, SighupStormReloadsWithoutBreakingAnything) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const pid_t pid = daemon.pid();
  Connection ssh(lab);
  ASSERT_TRUE(ssh.valid());
  Load load(ssh);
  // Readers ask meanwhile (status and explain read what a reload replaces; the
  // ThreadSanitizer build, tools/test.sh --tsan, sees any unguarded read).
  std::atomic<bool> storming{true};
  std::atomic<int> answered{0}, unanswered{0};
  std::string first_unanswered;  // the reader's own until joined
  std::thread reader([&] {
    const std::string explain = "--json explain tcp " + lab.cli_v4() + ":" + kProbePort +
                                " -\\> " + lab.srv_v4() + ":22";
    for (int i = 0; i < 300 && storming; ++i) {
      for (const std::string& ask : {std::string("--json status"), std::string("status"), explain}) {
        const RunResult r = daemon.cli(ask);
        (r.exit_code == 0 ? answered : unanswered)++;
        if (r.exit_code != 0 && first_unanswered.empty()) first_unanswered = ask + ": " + r.output;
      }
    }
  });
  constexpr int kSignals = 500;
  for (int i = 0; i < kSignals; ++i) {
    daemon.signal(SIGHUP);
    std::this_thread::sleep_for(1ms);
  }
  std::this_thread::sleep_for(1s);
  storming = false;
  reader.join();
  load.finish();
  std::printf("[ figure ] %d requests answered during the storm, %d not\n", answered.load(),
              unanswered.load());
  EXPECT_GE(answered.load(), 3);
  EXPECT_EQ(unanswered.load(), 0) << first_unanswered;
  const std::size_t reloads = count(slurp(daemon.dir() + "/audit.log"), "ACTION=\"reload(SIGHUP)\"");
  std::printf("[ figure ] %d SIGHUPs in %d ms: %zu reloads, %d round trips, %d failed\n", kSignals,
              kSignals, reloads, load.ok(), load.failed());
  EXPECT_EQ(kill(pid, 0), 0);
  EXPECT_EQ(daemon.pid(), pid);
  EXPECT_GE(reloads, 1u);
  EXPECT_EQ(load.failed(), 0);
  EXPECT_TRUE(ssh.round_trip());
  EXPECT_FALSE(connects(lab, 2323));
  EXPECT_EQ(daemon.cli("status").exit_code, 0);
  EXPECT_EQ(daemon.stop(), 0);
}

// The capability sets of every thread of `pid`, as /proc shows them: "CapEff:\t...".
std::vector<std::string> capability_lines(pid_t pid) {
  std::vector<std::string> lines;
  const std::string task = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& thread : std::filesystem::directory_iterator(task)) {
    std::istringstream status(slurp(thread.path().string() + "/status"));
    std::string line;
    while (std::getline(status, line)) {
      if (line.rfind("Cap", 0) == 0) lines.push_back(line);
    }
  }
  return lines;
}

TEST(Privileges, EveryThreadKeepsOnlyNetAdminAndNetRaw) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const std::vector<std::string> lines = capability_lines(daemon.pid());
  ASSERT_GE(lines.size(), 5u * 4);  // main, 2 queues, log writer, control: 5 sets each
  // CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13.
  for (const std::string& line : lines) {
    const std::string set = line.substr(0, line.find(':'));
    const std::string value = line.substr(line.find('\t') + 1);
    if (set == "CapInh" || set == "CapAmb") {
      EXPECT_EQ(value, "0000000000000000") << line;
    } else {
      EXPECT_EQ(value, "0000000000003000") << line;
    }
  }
  std::printf("[ figure ] %zu capability lines over the daemon's threads, all NET_ADMIN|NET_RAW\n",
              lines.size());
  // It still does its work: judging, a reload, the rules removed at stop.
  EXPECT_TRUE(connects(lab, 22));
  EXPECT_EQ(daemon.cli("reload").exit_code, 0);
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_EQ(lab.in(lab.srv(), "iptables-save").output.find("PORTWALL"), std::string::npos);
}

// A unit's CapabilityBoundingSet= or a container may leave CAP_NET_RAW out: portwalld keeps what
// it has (asking for a capability it lacks failed the whole drop with EPERM, and the unit never
// started) and still filters with iptables-nft.
TEST(Privileges, WithoutNetRawItStartsKeepsOnlyNetAdminAndFilters) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  ASSERT_EQ(daemon.stop(), 0);
  daemon.set_exec_prefix("setpriv --bounding-set=-net_raw");
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  EXPECT_NE(daemon.daemon_output().find("no CAP_NET_RAW"), std::string::npos)
      << daemon.daemon_output();
  for (const std::string& line : capability_lines(daemon.pid())) {
    const std::string set = line.substr(0, line.find(':'));
    const std::string value = line.substr(line.find('\t') + 1);
    EXPECT_EQ(value, set == "CapInh" || set == "CapAmb" ? "0000000000000000" : "0000000000001000")
        << line;
  }
  EXPECT_TRUE(connects(lab, 22));
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 2323));
  EXPECT_EQ(Fd(tcp_connect(lab.cli(), lab.srv_v4(), 2323, 1500ms)).valid(), false);
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_EQ(lab.in(lab.srv(), "iptables-save").output.find("PORTWALL"), std::string::npos);
}

// Without CAP_NET_ADMIN nothing can work: the start fails before the kernel is touched, and the
// message says which capability is missing and where to grant it, not "Operation not permitted".
TEST(Privileges, WithoutNetAdminTheStartFailsNamingTheCapability) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  ASSERT_EQ(daemon.stop(), 0);
  daemon.set_exec_prefix("setpriv --bounding-set=-net_admin");
  EXPECT_FALSE(daemon.start());
  const std::string output = daemon.daemon_output();
  EXPECT_NE(output.find("does not have CAP_NET_ADMIN"), std::string::npos) << output;
  EXPECT_NE(output.find("CapabilityBoundingSet="), std::string::npos) << output;
  EXPECT_EQ(lab.in(lab.srv(), "iptables-save").output.find("PORTWALL"), std::string::npos);
}

TEST(ControlSocketAbuse, StrangersAreRefusedAndGarbageIdleAndHugeClientsChangeNothing) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const pid_t pid = daemon.pid();
  const std::string socket = daemon.dir() + "/portwall.sock";
  // Let anybody reach the socket, so that SO_PEERCRED is what decides.
  ASSERT_EQ(run("chmod 0755 " + daemon.dir() + " && chmod 0666 " + socket).exit_code, 0);
  const RunResult stranger =
      run("setpriv --reuid=65534 --regid=65534 --clear-groups " + std::string(PORTWALL_BIN) +
          " --socket " + socket + " allow 2323/tcp");
  EXPECT_EQ(stranger.exit_code, 3) << stranger.output;
  EXPECT_NE(stranger.output.find("not authorized"), std::string::npos) << stranger.output;
  EXPECT_FALSE(connects(lab, 2323));

  // Garbage, an oversized line, half-written requests and 200 idle connections, all at once.
  const std::string abuse =
      "import socket, os, time\n"
      "p='" +
      socket +
      "'\n"
      "def conn():\n"
      "  s=socket.socket(socket.AF_UNIX); s.connect(p); return s\n"
      "for i in range(50):\n"
      "  s=conn(); s.sendall(os.urandom(4096)+b'\\n'); s.close()\n"
      "s=conn(); s.sendall(b'{' * (2 << 20)); print('huge:', s.recv(200)); s.close()\n"
      "s=conn(); s.sendall(b'{\"command\": \"status\"}\\n'); print('ok:', s.recv(40))\n"
      "s=conn(); s.sendall(b'{\"command\": \"conntrack\", \"action\": 5}\\n'); "
      "print('typed:', s.recv(200))\n"
      "idle=[conn() for i in range(200)]\n"
      "open_ = 0\n"
      "for s in idle[::2]:\n"
      "  try: s.sendall(b'{\"command\": \"sta'); open_ += 1\n"
      "  except OSError: pass\n"  // the server closed the idlest beyond its bound
      "print('holding', len(idle), 'half-written', open_, flush=True)\n"
      "time.sleep(6)\n";
  std::ofstream(daemon.dir() + "/abuse.py") << abuse;
  RunResult abused;
  std::thread abuser([&] { abused = run("/usr/bin/python3 " + daemon.dir() + "/abuse.py", 30s); });
  std::this_thread::sleep_for(2s);
  int answered = 0, slowest_ms = 0;
  for (int i = 0; i < 10; ++i) {
    const auto begin = Clock::now();
    if (daemon.cli("status").exit_code == 0) ++answered;
    slowest_ms = std::max<int>(
        slowest_ms,
        std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - begin).count());
  }
  abuser.join();
  std::printf(
      "[ figure ] control socket under 50 garbage + 1 oversized + 200 idle clients: "
      "%d/10 status answered, slowest %d ms\n",
      answered, slowest_ms);
  std::printf("%s", abused.output.c_str());
  EXPECT_NE(abused.output.find("request too long"), std::string::npos) << abused.output;
  EXPECT_NE(abused.output.find("must be a string"), std::string::npos) << abused.output;
  EXPECT_NE(abused.output.find("holding 200"), std::string::npos) << abused.output;
  EXPECT_EQ(answered, 10);
  EXPECT_LT(slowest_ms, 2000);
  EXPECT_EQ(daemon.pid(), pid);
  EXPECT_EQ(kill(pid, 0), 0);
  EXPECT_TRUE(connects(lab, 22));
  EXPECT_FALSE(connects(lab, 2323));
}

// A small file system for the log, so that it can be filled. Unmounted at the end.
struct TinyFilesystem {
  std::string path;
  bool mounted = false;
  TinyFilesystem() {
    char templ[] = "/tmp/portwall-tinyfs.XXXXXX";
    path = mkdtemp(templ) ? templ : "";
    mounted = !path.empty() && mount("tmpfs", path.c_str(), "tmpfs", 0, "size=256k") == 0;
  }
  ~TinyFilesystem() {
    if (mounted) umount2(path.c_str(), MNT_DETACH);
    if (!path.empty()) rmdir(path.c_str());
  }
};

// Denied datagrams, each logged as a DROP (the rate limit is off in these tests).
void send_denied(const Lab& lab, int count, int port = 9999) {
  for (int i = 0; i < count; ++i) udp_send(lab.cli(), lab.srv_v4(), port, "x");
}

TEST(Faults, ARemovedLogFileIsCreatedAgainAndTrafficFlowsMeanwhile) {
  Lab lab;
  Daemon daemon(lab, kRules, "", "");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const std::string log = daemon.dir() + "/portwall.log";
  send_denied(lab, 5);
  ASSERT_TRUE(log_line_with(daemon, {"DPT=9999"}));
  ASSERT_EQ(unlink(log.c_str()), 0);
  bool back = false;
  for (int i = 0; i < 50 && !back; ++i) {  // the daemon looks at its path once a second
    send_denied(lab, 2);
    EXPECT_TRUE(connects(lab, 22));
    std::this_thread::sleep_for(100ms);
    back = slurp(log).find("DPT=9999") != std::string::npos;
  }
  EXPECT_TRUE(back);
  const nlohmann::json s = status_of(daemon);
  std::printf("[ figure ] log file removed: reopened %s, written %s, write_failed %s\n",
              s["log"]["reopened"].dump().c_str(), s["log"]["written"].dump().c_str(),
              s["log"]["write_failed"].dump().c_str());
  EXPECT_GE(s["log"]["reopened"], 1);
  EXPECT_EQ(s["log"]["write_failed"], 0);
}

TEST(Faults, AFullLogDiskCostsCountedLinesNotPackets) {
  TinyFilesystem fs;
  ASSERT_TRUE(fs.mounted);
  Lab lab;
  Daemon daemon(lab, kRules, "",
                "[log]\nfile = \"" + fs.path + "/portwall.log\"\naudit_file = \"" + fs.path +
                    "/audit.log\"\nmax_lines_per_second = 0\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const pid_t pid = daemon.pid();
  // Fill the file system to the last block.
  run("dd if=/dev/zero of=" + fs.path + "/filler bs=4k 2>/dev/null");
  send_denied(lab, 300);
  EXPECT_TRUE(connects(lab, 22));
  nlohmann::json s;
  for (int i = 0; i < 30; ++i) {  // the writer flushes at least once a second
    std::this_thread::sleep_for(100ms);
    s = status_of(daemon);
    if (s["log"]["write_failed"].get<int>() > 0) break;
  }
  const int failed = s["log"]["write_failed"].get<int>();
  std::printf("[ figure ] log disk full: %d lines failed of %s handed to the writer\n", failed,
              s["log"]["written"].dump().c_str());
  EXPECT_GT(failed, 0);
  EXPECT_EQ(daemon.pid(), pid);
  // Space again: logging resumes by itself.
  ASSERT_EQ(unlink((fs.path + "/filler").c_str()), 0);
  bool resumed = false;
  for (int i = 0; i < 30 && !resumed; ++i) {
    send_denied(lab, 1, 9998);  // a port never sent to while the disk was full
    std::this_thread::sleep_for(100ms);
    resumed = slurp(fs.path + "/portwall.log").find("DPT=9998") != std::string::npos;
  }
  EXPECT_TRUE(resumed);
  EXPECT_TRUE(connects(lab, 22));
  EXPECT_EQ(daemon.stop(), 0);
}

}  // namespace
}  // namespace portwall::lab
