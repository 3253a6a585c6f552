// packaging_test.cc — issue 7: the files the Debian package ships, used on a real daemon's
// logs. The logrotate file rotates the decision log under load without losing a line; the
// fail2ban filter matches the drops of a log portwalld wrote, and only the ones it should.
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

const std::string kSource = PORTWALL_SOURCE_DIR;

// A folder of its own for the logs (the lab's daemon folder is not known before it starts).
class LogDir {
 public:
  LogDir() {
    char templ[] = "/tmp/pw-logs.XXXXXX";
    if (!mkdtemp(templ)) throw std::runtime_error("mkdtemp failed");
    path_ = templ;
  }
  ~LogDir() { run("rm -rf " + path_); }
  const std::string& path() const { return path_; }
  // Waits (bounded) until one line of the decision log contains every needle.
  bool has_line(std::initializer_list<std::string> needles) const {
    for (int i = 0; i < 50; ++i, std::this_thread::sleep_for(100ms)) {
      std::istringstream lines(slurp(path_ + "/portwall.log"));
      for (std::string line; std::getline(lines, line);) {
        bool all = true;
        for (const auto& n : needles) all = all && line.find(n) != std::string::npos;
        if (all) return true;
      }
    }
    return false;
  }
  std::string log_section(const std::string& extra = "") const {
    return "[log]\nfile = \"" + path_ + "/portwall.log\"\naudit_file = \"" + path_ +
           "/audit.log\"\n" + extra;
  }

 private:
  std::string path_;
};

std::size_t count_lines(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The shipped logrotate file, pointed at `dir` and with its postrotate sending SIGUSR1 to `pid`
// (on a server: systemctl kill --signal=USR1 portwall.service).
std::string logrotate_config(const std::string& dir, int pid) {
  std::istringstream shipped(slurp(kSource + "/packaging/logrotate/portwall"));
  std::string out;
  for (std::string line; std::getline(shipped, line);) {
    if (line.find("systemctl kill") != std::string::npos) {
      line = "\t\tkill -USR1 " + std::to_string(pid);
    }
    for (std::size_t at; (at = line.find("/var/log/portwall")) != std::string::npos;) {
      line.replace(at, std::string("/var/log/portwall").size(), dir);
    }
    out += line + "\n";
  }
  return out;
}

TEST(Logrotate, TheShippedFileRotatesUnderLoadWithoutLosingALine) {
  Lab lab;
  LogDir logs;
  // Every datagram to a closed port is one DROP line; no rate limit on the log here.
  Daemon daemon(lab, kRules, "", logs.log_section("max_lines_per_second = 0\n"));
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  const std::string conf = logs.path() + "/logrotate.conf";
  std::ofstream(conf) << logrotate_config(logs.path(), daemon.pid());
  ASSERT_NE(slurp(conf).find("kill -USR1"), std::string::npos) << slurp(conf);

  // The load: 24,000 datagrams, one hping3 that sends for longer than the six rotations take
  // (about 9 s here against 4), while logrotate runs six times.
  constexpr int kDatagrams = 24000;
  RunResult load;
  double send_seconds = 0, rotate_seconds = 0;
  const auto load_start = std::chrono::steady_clock::now();
  std::thread sender([&] {
    load = lab.in(lab.cli(),
                  "hping3 --udp -p 9999 -i u250 -c " + std::to_string(kDatagrams) + " -q " +
                      lab.srv_v4() + " 2>&1",
                  60s);
    send_seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  });
  int rotations = 0;
  EXPECT_TRUE(logs.has_line({"DPT=9999"}));  // the load has begun: the first file is not empty
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(600ms);
    const RunResult r = run("logrotate -f -s " + logs.path() + "/logrotate.state " + conf);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    rotations += r.exit_code == 0;
  }
  rotate_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();
  sender.join();

  // Every packet judged, every line written: wait (bounded) for the counters to settle.
  nlohmann::json status;
  for (int i = 0; i < 50; ++i) {
    status = nlohmann::json::parse(daemon.cli("--json status").output, nullptr, false);
    if (status.is_object() &&
        status["log"]["written"].get<long>() >= status["counters"]["dropped"].get<long>() &&
        status["counters"]["dropped"].get<long>() >= kDatagrams) {
      break;
    }
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_TRUE(status.is_object());

  // The lines, across the live file, the uncompressed .1 (delaycompress) and the .gz ones.
  const RunResult files = run("ls " + logs.path());
  const RunResult text = run("cd " + logs.path() +
                                 " && for f in portwall.log*; do case $f in *.gz) zcat $f;; "
                                 "*) cat $f;; esac; done",
                             20s);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  std::size_t drop_lines = 0;
  std::set<std::string> ports;
  {
    std::istringstream lines(text.output);
    for (std::string line; std::getline(lines, line);) {
      drop_lines += line.find("ACTION=DROP") != std::string::npos &&
                    line.find("DPT=9999") != std::string::npos;
    }
  }
  const long dropped = status["counters"]["dropped"].get<long>();
  const long written = status["log"]["written"].get<long>();
  std::printf(
      "[logrotate] datagrams=%d sent_in=%.1fs rotations=%d done_at=%.1fs dropped=%ld "
      "log_written=%ld lines_found=%zu "
      "(all files: %zu) reopened=%s lost=%s write_failed=%s suppressed=%s\nfiles:\n%s",
      kDatagrams, send_seconds, rotations, rotate_seconds, dropped, written, drop_lines,
      count_lines(text.output), status["log"]["reopened"].dump().c_str(),
      status["log"]["lost"].dump().c_str(), status["log"]["write_failed"].dump().c_str(),
      status["log"]["suppressed"].dump().c_str(), files.output.c_str());

  EXPECT_EQ(rotations, 6);
  // Else the last rotations found an empty file and skipped it (notifempty): a slow machine.
  EXPECT_LT(rotate_seconds, send_seconds) << "the load ended before the rotations";
  EXPECT_GE(dropped, kDatagrams) << load.output;
  EXPECT_EQ(written, dropped);
  EXPECT_EQ(count_lines(text.output), static_cast<std::size_t>(written));
  EXPECT_EQ(drop_lines, static_cast<std::size_t>(kDatagrams));
  EXPECT_GE(status["log"]["reopened"].get<long>(), 6);
  EXPECT_EQ(status["log"]["lost"].get<long>(), 0);
  EXPECT_EQ(status["log"]["write_failed"].get<long>(), 0);
  EXPECT_EQ(status["log"]["suppressed"].get<long>(), 0);
  // rotate 14 keeps every rotation; compress with delaycompress: .1 plain, the older ones gz.
  EXPECT_NE(files.output.find("portwall.log.1\n"), std::string::npos) << files.output;
  EXPECT_NE(files.output.find("portwall.log.6.gz"), std::string::npos) << files.output;
}

// fail2ban-regex from Debian's fail2ban package, unpacked by tools/deps.sh (installing it would
// start its server on this machine).
RunResult fail2ban_regex(const std::string& args) {
  const std::string root = kSource + "/build-deps/root";
  return run("TZ=America/New_York PYTHONPATH=" + root + "/usr/lib/python3/dist-packages " +
                 "/usr/bin/python3 " + root + "/usr/bin/fail2ban-regex " + args,
             60s);
}

// The shipped filter, placed beside the fail2ban package's own filters (it includes their
// common.conf), as the .deb installs it.
std::string installed_filter() {
  const std::string path = kSource + "/build-deps/root/etc/fail2ban/filter.d/portwall.conf";
  std::filesystem::copy_file(kSource + "/packaging/fail2ban/filter.d/portwall.conf", path,
                             std::filesystem::copy_options::overwrite_existing);
  return path;
}

// The shipped action run by fail2ban's own code (its ActionReader and CommandAction, through
// tests/integration/fail2ban_action.py): `bantime = -1` once became `for -1s`, which portwall
// refuses, so a permanent ban banned nothing.
RunResult fail2ban_action(const Lab& lab, const Daemon& daemon, const std::string& op,
                          const std::string& ip, const std::string& bantime) {
  const std::string root = kSource + "/build-deps/root";
  const std::string portwall = std::string(PORTWALL_BIN) + " --config " + daemon.dir() +
                               "/portwall.toml --socket " + daemon.dir() + "/portwall.sock";
  return lab.in(lab.srv(), "env PYTHONPATH=" + root + "/usr/lib/python3/dist-packages " +
                               "/usr/bin/python3 " + kSource +
                               "/tests/integration/fail2ban_action.py " + kSource +
                               "/packaging/fail2ban/action.d/portwall.conf \"" + portwall + "\" " +
                               op + " " + ip + " " + bantime + " 2>&1",
                60s);
}

TEST(Fail2ban, TheShippedActionBansForAWhileAndForeverAndUnbans) {
  Lab lab;
  Daemon daemon(lab, kRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  RunResult r = fail2ban_action(lab, daemon, "ban", "10.200.250.7", "-1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  r = fail2ban_action(lab, daemon, "ban", "2001:db8::7", "3600");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  nlohmann::json list = nlohmann::json::parse(daemon.cli("--json blocked list").output);
  ASSERT_EQ(list.size(), 2u) << list.dump();
  for (const auto& b : list) {
    if (b["address"] == "10.200.250.7") {
      EXPECT_EQ(b["expires"], "never") << "bantime = -1 is permanent";
    } else {
      EXPECT_EQ(b["address"], "2001:db8::7");
      EXPECT_NE(b["expires"], "never") << "bantime = 3600 expires";
    }
    EXPECT_EQ(b["reason"], "manual");
  }
  r = fail2ban_action(lab, daemon, "unban", "10.200.250.7", "-1");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  list = nlohmann::json::parse(daemon.cli("--json blocked list").output);
  ASSERT_EQ(list.size(), 1u) << list.dump();
  EXPECT_EQ(list[0]["address"], "2001:db8::7");
}

TEST(Fail2ban, TheShippedFilterMatchesTheDropsOfARealLogAndOnlyThose) {
  Lab lab;
  LogDir logs;
  // pickup_grace 0: a TCP packet without a flow is invalid at once (a line not to match).
  // A knock door: the administrator's own knock logs DROP lines that must not count.
  Daemon daemon(lab, kRules, "",
                logs.log_section() +
                    "[conntrack]\npickup_grace = \"0s\"\n"
                    "[scan_detection]\nenabled = false\n"
                    "[[knock]]\nname = \"admin\"\n"
                    "sequence = [\"7000/tcp\", \"8000/udp\", \"9000/tcp\"]\n"
                    "window = \"5s\"\nopen = \"2222/tcp\"\nduration = \"10s\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 22));
  ASSERT_TRUE(listener.valid());

  // Dropped by the default policy (v4 and v6), rejected by a rule, allowed, and invalid.
  for (int port : {23, 80, 8080}) {
    Fd dropped(tcp_connect(lab.cli(), lab.srv_v4(), port, 300ms));
  }
  { Fd dropped(tcp_connect(lab.cli(), lab.srv_v6(), 3306, 300ms)); }
  ASSERT_TRUE(udp_send(lab.cli(), lab.srv_v6(), 9999, "x"));
  { Fd rejected(tcp_connect(lab.cli(), lab.srv_v4(), 113, 1000ms)); }
  Fd allowed(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms));
  EXPECT_TRUE(allowed.valid());
  const RunResult ack = lab.in(lab.cli(), "hping3 -A -p 22 -c 1 " + lab.srv_v4() + " 2>&1", 10s);
  EXPECT_TRUE(logs.has_line({"REASON=invalid", "SRC=" + lab.cli_v4()})) << ack.output;
  EXPECT_TRUE(logs.has_line({"ACTION=REJECT", "DPT=113"}));
  EXPECT_TRUE(logs.has_line({"DPT=9999", "SRC=" + lab.cli_v6()}));
  // Issue 17, point 10: a failed knock and a successful one (knockd's client), from cl2.
  lab.in(lab.cl2(), "knock -d 100 " + lab.srv_v4_for_cl2() + " 7000 9000 8000:udp", 10s);
  lab.in(lab.cl2(), "knock -d 100 " + lab.srv_v4_for_cl2() + " 7000 8000:udp 9000", 10s);
  EXPECT_TRUE(logs.has_line({"REASON=knock", "EVENT=knock-open", "SRC=" + lab.cl2_v4()}));
  EXPECT_TRUE(logs.has_line({"REASON=knock", "EVENT=knock-fail", "SRC=" + lab.cl2_v4()}));

  // What the filter should match, counted from the log itself: incoming drops and rejects,
  // not the invalid ones.
  // A copy, so that a line the daemon appends meanwhile changes neither count.
  const std::string log_file = logs.path() + "/portwall.log.copy";
  std::ofstream(log_file) << slurp(logs.path() + "/portwall.log");
  std::istringstream lines(slurp(log_file));
  std::size_t total = 0, expected = 0;
  for (std::string line; std::getline(lines, line);) {
    ++total;
    const bool refused = line.find("ACTION=DROP") != std::string::npos ||
                         line.find("ACTION=REJECT") != std::string::npos;
    expected += refused && line.find(" DIR=in ") != std::string::npos &&
                line.find("REASON=invalid") == std::string::npos &&
                line.find("REASON=knock") == std::string::npos;
  }
  const std::string filter = installed_filter();
  const RunResult summary = fail2ban_regex(log_file + " " + filter);
  ASSERT_EQ(summary.exit_code, 0) << summary.output;
  const std::string want = "Lines: " + std::to_string(total) + " lines, 0 ignored, " +
                           std::to_string(expected) + " matched, " +
                           std::to_string(total - expected) + " missed";
  std::printf("[fail2ban] log lines=%zu expected matches=%zu; fail2ban-regex: %s\n", total,
              expected, summary.output.substr(summary.output.find("Lines:"), 60).c_str());
  EXPECT_GE(expected, 6u);
  EXPECT_NE(summary.output.find(want), std::string::npos) << want << "\n" << summary.output;
  EXPECT_NE(summary.output.find("REASON=invalid"), std::string::npos)
      << "the invalid line is among the missed ones\n"
      << summary.output;

  // The banned addresses are the client's, at the time the line says (the log is UTC, the
  // test runs fail2ban in another time zone).
  const RunResult rows = fail2ban_regex("-o row " + log_file + " " + filter);
  ASSERT_EQ(rows.exit_code, 0) << rows.output;
  std::set<std::string> hosts;
  std::istringstream row_lines(rows.output);
  const long now = static_cast<long>(time(nullptr));
  for (std::string row; std::getline(row_lines, row);) {
    if (row.rfind("['", 0) != 0) continue;
    hosts.insert(row.substr(2, row.find('\'', 2) - 2));
    const long when = std::atol(row.c_str() + row.find(",") + 1);
    EXPECT_LE(std::labs(now - when), 120) << row;
  }
  EXPECT_EQ(hosts, (std::set<std::string>{lab.cli_v4(), lab.cli_v6()})) << rows.output;
}

// promtool from Debian's prometheus package, unpacked by tools/deps.sh: `check metrics` lints
// the exposition read on stdin.
RunResult promtool_check(const std::string& file) {
  return run(kSource + "/build-deps/root/usr/bin/promtool check metrics < " + file + " 2>&1");
}

// The value of the sample line that starts with `series` (name and labels), or -1.
double sample_value(const std::string& text, const std::string& series) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(series + " ", 0) == 0) return std::atof(line.c_str() + series.size() + 1);
  }
  return -1;
}

TEST(Metrics, TheCliAndTheTextfilePassPromtoolAndFollowTheCounters) {
  Lab lab;
  LogDir dir;
  const std::string textfile = dir.path() + "/portwall.prom";
  Daemon daemon(
      lab, kRules, "",
      dir.log_section() + "[metrics]\ntextfile = \"" + textfile + "\"\ninterval = \"1s\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  for (int port : {23, 80}) {
    Fd dropped(tcp_connect(lab.cli(), lab.srv_v4(), port, 300ms));
  }
  ASSERT_TRUE(dir.has_line({"DPT=80"}));

  // `portwall metrics`: what status says, in the exposition format, lint-clean.
  const RunResult cli = daemon.cli("metrics");
  ASSERT_EQ(cli.exit_code, 0) << cli.output;
  const nlohmann::json status = nlohmann::json::parse(daemon.cli("--json status").output);
  std::ofstream(dir.path() + "/cli.prom") << cli.output;
  const RunResult lint = promtool_check(dir.path() + "/cli.prom");
  EXPECT_EQ(lint.exit_code, 0) << lint.output << cli.output;
  EXPECT_TRUE(lint.output.empty()) << lint.output;
  // The figures are status's: taken just before the `--json status` above, so never more than
  // it says (packets of the host itself, neighbour discovery for one, may come in between).
  const auto value = [&](const std::string& series) { return sample_value(cli.output, series); };
  const double dropped = value("portwall_packets_total{verdict=\"dropped\"}");
  const double by_default = value("portwall_decisions_total{verdict=\"drop\",reason=\"default\"}");
  EXPECT_GE(by_default, 2);
  EXPECT_LE(by_default, dropped);
  EXPECT_LE(dropped, status["counters"]["dropped"].get<double>());
  EXPECT_LE(by_default, status["decisions"]["drop"]["default"].get<double>());
  EXPECT_EQ(value("portwall_conntrack_max_entries"), 262144);
  // The two queue threads' shares add up to at least the total (read a moment before them).
  const double received = value("portwall_packets_received_total");
  EXPECT_GE(received, 2);
  EXPECT_GE(value("portwall_queue_packets_received_total{queue=\"100\"}") +
                value("portwall_queue_packets_received_total{queue=\"101\"}"),
            received);
  EXPECT_LE(received, status["counters"]["received"].get<double>());

  // The textfile: written at start and then every interval (1 s here), following the counters.
  double before = -1;
  for (int i = 0; i < 30 && before < 2; ++i, std::this_thread::sleep_for(100ms)) {
    before = sample_value(slurp(textfile), "portwall_packets_total{verdict=\"dropped\"}");
  }
  ASSERT_GE(before, 2) << daemon.daemon_output();
  const RunResult file_lint = promtool_check(textfile);
  EXPECT_EQ(file_lint.exit_code, 0) << file_lint.output;
  for (int port : {8080, 8081, 8082}) {
    Fd dropped(tcp_connect(lab.cli(), lab.srv_v4(), port, 300ms));
  }
  double after = before;
  for (int i = 0; i < 30 && after < before + 3; ++i, std::this_thread::sleep_for(100ms)) {
    after = sample_value(slurp(textfile), "portwall_packets_total{verdict=\"dropped\"}");
  }
  std::printf("[metrics] cli: %zu lines, promtool %s; textfile dropped %g -> %g\n",
              count_lines(cli.output), lint.exit_code == 0 ? "clean" : "FAILED", before, after);
  EXPECT_GE(after, before + 3);
  // Only the textfile in the folder: the temporary files were renamed over it (node_exporter
  // reads *.prom only, and the temporary ones do not end so). Stopped first, so that no
  // rewrite is under way while listing.
  EXPECT_EQ(daemon.stop(), 0);
  EXPECT_EQ(run("ls -A " + dir.path() + " | grep -c prom").output, "2\n")
      << run("ls -A " + dir.path()).output;
}

// A unix datagram socket bound at `path`: what syslog(3) or sd_journal_send(3) write to.
Fd datagram_listener(const std::string& path) {
  Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof addr.sun_path - 1);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) return Fd();
  return fd;
}

// Datagrams until one contains every needle (bounded); all of them, joined by newlines.
std::string datagrams_until(int fd, std::initializer_list<std::string> needles) {
  std::string all;
  for (int i = 0; i < 50; ++i) {
    auto got = receive(fd, 100ms);
    if (!got) continue;
    all += *got + "\n";
    bool every = true;
    for (const auto& n : needles) every = every && got->find(n) != std::string::npos;
    if (every) break;
  }
  return all;
}

// [log] target = "syslog" or "journald": portwalld is started in a mount namespace of its own
// where the test's socket stands at /dev/log or /run/systemd/journal/socket.
struct TargetRun {
  std::string target, socket_path = {}, prelude = {};
};

TargetRun syslog_run(const std::string& dir) {
  // /dev gets a tmpfs of its own, with the few devices a process needs bound back into it.
  return {"syslog", dir + "/log.sock",
          "set -e; mkdir -p " + dir + "/dev; mount --bind /dev " + dir +
              "/dev; mount -t tmpfs -o mode=755 tmpfs /dev; for n in null zero full random "
              "urandom; do touch /dev/$n; mount --bind " +
              dir + "/dev/$n /dev/$n; done; touch /dev/log; mount --bind " + dir +
              "/log.sock /dev/log"};
}

TargetRun journald_run(const std::string& dir) {
  return {"journald", dir + "/journal.sock",
          "set -e; mount -t tmpfs tmpfs /run/systemd; mkdir /run/systemd/journal; "
          "touch /run/systemd/journal/socket; mount --bind " +
              dir + "/journal.sock /run/systemd/journal/socket"};
}

// Runs portwalld with the target, makes a DROP line and an audit line, and hands both (as the
// socket received them), portwalld's pid and the client's address to `check`.
using TargetCheck = std::function<void(const std::string& drop, const std::string& audit, int pid,
                                       const std::string& client)>;
void expect_lines_reach(const TargetRun& t, const TargetCheck& check) {
  Lab lab;
  LogDir dir;
  const TargetRun run_of = t.target == "syslog" ? syslog_run(dir.path()) : journald_run(dir.path());
  Fd sink = datagram_listener(run_of.socket_path);
  ASSERT_TRUE(sink.valid()) << run_of.socket_path;
  Daemon daemon(lab, kRules, "", dir.log_section("target = \"" + t.target + "\"\n"),
                run_of.prelude);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  { Fd dropped(tcp_connect(lab.cli(), lab.srv_v4(), 23, 300ms)); }
  const std::string drop =
      datagrams_until(sink.get(), {"portwall ACTION=DROP", "SRC=" + lab.cli_v4()});
  ASSERT_EQ(daemon.cli("allow 8080/tcp").exit_code, 0);
  const std::string audit = datagrams_until(sink.get(), {"portwall-audit UID=\"0\""});
  std::printf("[log target %s] drop: %s[log target %s] audit: %s", t.target.c_str(),
              drop.substr(0, 400).c_str(), t.target.c_str(), audit.substr(0, 300).c_str());
  check(drop, audit, daemon.pid(), lab.cli_v4());
  // Not in files: the [log] file paths stay unused.
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/portwall.log"));
  EXPECT_FALSE(std::filesystem::exists(dir.path() + "/audit.log"));
}

TEST(LogTarget, SyslogGetsBothLogsFromPortwalldWithoutTheirTimestamp) {
  expect_lines_reach({"syslog"}, [](const std::string& drop, const std::string& audit, int pid,
                                    const std::string& client) {
    // RFC 3164 as glibc writes it: <PRI>TIME IDENT[PID]: MESSAGE; daemon.info is <30>.
    const std::string tag = "portwalld[" + std::to_string(pid) + "]: ";
    EXPECT_NE(drop.find("<30>"), std::string::npos) << drop;
    EXPECT_NE(drop.find(tag + "portwall ACTION=DROP RULE=- REASON=default DIR=in"),
              std::string::npos)
        << drop;
    EXPECT_NE(audit.find(tag + "portwall-audit UID=\"0\" ACTION="), std::string::npos) << audit;
    // As rsyslog writes them to /var/log/syslog (the host name after the time), the fail2ban
    // filter matches the drop and nothing else.
    LogDir f2b;
    std::ofstream syslog_file(f2b.path() + "/syslog");
    std::istringstream datagrams(drop + audit);
    for (std::string d; std::getline(datagrams, d);) {
      if (d.rfind("<30>", 0) == 0 && d.size() > 19)
        syslog_file << d.substr(4, 15) << " srv" << d.substr(19) << "\n";
    }
    syslog_file.close();
    const RunResult r = fail2ban_regex("-o ip " + f2b.path() + "/syslog " + installed_filter());
    EXPECT_EQ(r.output, client + "\n") << r.output << slurp(f2b.path() + "/syslog");
  });
}

TEST(LogTarget, JournaldGetsBothLogsWithTheirIdentifierAndPriority) {
  expect_lines_reach(
      {"journald"}, [](const std::string& drop, const std::string& audit, int, const std::string&) {
        // The journal's native protocol: KEY=value lines in one datagram.
        EXPECT_NE(drop.find("MESSAGE=portwall ACTION=DROP RULE=- REASON=default DIR=in"),
                  std::string::npos)
            << drop;
        EXPECT_NE(drop.find("SYSLOG_IDENTIFIER=portwalld\n"), std::string::npos) << drop;
        EXPECT_NE(drop.find("PRIORITY=6\n"), std::string::npos) << drop;
        EXPECT_NE(audit.find("MESSAGE=portwall-audit UID=\"0\" ACTION="), std::string::npos) << audit;
      });
}

// portwall.service is Type=notify: READY=1 only once the diversion rules are in and the control
// socket answers, RELOADING=1 then READY=1 around a reload, STOPPING=1 on stop. The test stands
// in for systemd's notification socket.
TEST(Systemd, NotifiesReadyOnlyOnceItFiltersAndAnswersThenReloadingAndStopping) {
  Lab lab;
  LogDir dir;
  const std::string path = dir.path() + "/notify.sock";
  Fd notify = datagram_listener(path);
  ASSERT_TRUE(notify.valid());
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  Daemon daemon(lab, kRules);
  unsetenv("NOTIFY_SOCKET");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  EXPECT_NE(datagrams_until(notify.get(), {"READY=1"}).find("READY=1"), std::string::npos);

  daemon.signal(SIGHUP);
  const std::string reload = datagrams_until(notify.get(), {"READY=1"});
  EXPECT_NE(reload.find("RELOADING=1\nREADY=1"), std::string::npos) << reload;

  EXPECT_EQ(daemon.stop(), 0);
  const std::string stop = datagrams_until(notify.get(), {"STOPPING=1"});
  EXPECT_NE(stop.find("STOPPING=1"), std::string::npos) << stop;

  // Started again: the moment READY=1 arrives, status answers and the diversion is installed.
  RunResult status_at_ready, rules_at_ready;
  std::string ready;
  std::thread watcher([&] {
    ready = datagrams_until(notify.get(), {"READY=1"});
    status_at_ready = daemon.cli("status");
    rules_at_ready = lab.in(lab.srv(), "iptables -w -S PORTWALL_INPUT");
  });
  setenv("NOTIFY_SOCKET", path.c_str(), 1);
  const bool restarted = daemon.start();
  unsetenv("NOTIFY_SOCKET");
  watcher.join();
  ASSERT_TRUE(restarted) << daemon.daemon_output();
  std::printf("[systemd] notifications: start READY=1, SIGHUP %s, stop %s, restart %s\n",
              "RELOADING=1 READY=1", "STOPPING=1",
              ready.find("READY=1") != std::string::npos ? "READY=1" : "none");
  ASSERT_NE(ready.find("READY=1"), std::string::npos) << ready;
  EXPECT_EQ(status_at_ready.exit_code, 0) << status_at_ready.output;
  EXPECT_EQ(rules_at_ready.exit_code, 0) << rules_at_ready.output;
  EXPECT_NE(rules_at_ready.output.find("-j NFQUEUE"), std::string::npos) << rules_at_ready.output;
}

}  // namespace
}  // namespace portwall::lab
