// journey_test.cc — issue 15: portwall installed as an administrator installs it, on a booted
// Debian 12 with systemd as PID 1 (tools/system-lab.sh), watched from a client namespace over
// SSH and on the wire. The steps run in order, each on what the earlier ones left, and an SSH
// session opened at the start must carry data after every one of them. sshd listens on 22 and
// 2222; the session runs over 2222, which the shipped rules do not allow.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

const std::string kSource = PORTWALL_SOURCE_DIR;
const std::string kBuild = PORTWALL_BUILD_DIR;

std::string quoted(const std::string& text) {
  std::string q = "'";
  for (char c : text) q += c == '\'' ? "'\\''" : std::string(1, c);
  return q + "'";
}

bool contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

std::size_t count_of(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The SSH session of the administrator: `cat` on the server, over SSH from the client namespace.
// A line written comes back when the session carries data both ways.
class SshSession {
 public:
  explicit SshSession(const std::string& ssh_command) {
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, to[0], 0);
    posix_spawn_file_actions_adddup2(&actions, from[1], 1);
    posix_spawn_file_actions_adddup2(&actions, from[1], 2);
    const std::string line = ssh_command + " 'exec cat'";
    const char* argv[] = {"sh", "-c", line.c_str(), nullptr};
    if (posix_spawnp(&pid_, "sh", &actions, nullptr, const_cast<char**>(argv), environ) != 0) {
      pid_ = -1;
    }
    posix_spawn_file_actions_destroy(&actions);
    close(to[0]);
    close(from[1]);
    in_ = to[1];
    out_ = from[0];
    fcntl(out_, F_SETFL, O_NONBLOCK);
  }
  ~SshSession() {
    if (in_ >= 0) close(in_);
    if (out_ >= 0) close(out_);
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  bool open() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  // Writes `line` and waits (bounded) for it to come back.
  bool carries(const std::string& line, std::chrono::milliseconds wait = 5000ms) {
    const std::string sent = line + "\n";
    if (write(in_, sent.data(), sent.size()) != static_cast<ssize_t>(sent.size())) return false;
    return echoed(line, wait);
  }
  // Waits (bounded) until `line` came back (written earlier).
  bool echoed(const std::string& line, std::chrono::milliseconds wait) {
    for (auto until = std::chrono::steady_clock::now() + wait;
         std::chrono::steady_clock::now() < until;) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 50) == 1) {
        char buf[4096];
        const ssize_t n = read(out_, buf, sizeof buf);
        if (n > 0) seen_.append(buf, static_cast<std::size_t>(n));
      }
      if (const auto at = seen_.find(line + "\n"); at != std::string::npos) {
        seen_.erase(0, at + line.size() + 1);
        return true;
      }
    }
    return false;
  }

 private:
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
  std::string seen_;
};

class Journey : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const int n = static_cast<int>(getpid() % 40);
    name_ = "pw-sys" + std::to_string(n);
    net_ = 210 + n;
    char templ[] = "/tmp/pw-journey.XXXXXX";
    work_ = mkdtemp(templ);
    // This build's package (or PORTWALL_JOURNEY_DEB, to walk the journey with another), and "a
    // newer build" of it: the same files, a higher version.
    if (const char* given = std::getenv("PORTWALL_JOURNEY_DEB"); given && *given) {
      deb_ = given;
    } else {
      const RunResult built = run("cd " + kBuild + " && cpack -G DEB -B " + work_ +
                                      "/out >/dev/null 2>&1 && ls " + work_ + "/out/portwall_*.deb",
                                  180s);
      ASSERT_EQ(built.exit_code, 0) << built.output;
      deb_ = built.output.substr(0, built.output.find('\n'));
    }
    version_ = run("dpkg-deb --field " + deb_ + " Version").output;
    version_.erase(version_.find_last_not_of('\n') + 1);
    newer_version_ = version_ + "+journey1";
    newer_deb_ = work_ + "/portwall_" + newer_version_ + "_amd64.deb";
    const RunResult repacked = run("cd " + work_ + " && dpkg-deb -R " + deb_ +
                                   " x && sed -i 's/^Version: .*/Version: " + newer_version_ +
                                   "/' x/DEBIAN/control && dpkg-deb -b -Zgzip x " + newer_deb_ +
                                   " >/dev/null && rm -rf x");
    ASSERT_EQ(repacked.exit_code, 0) << repacked.output;

    // The lab is this process's: a later run takes it down if this one dies before its teardown.
    setenv("PORTWALL_LAB_OWNER", std::to_string(getpid()).c_str(), 1);
    const auto booting = std::chrono::steady_clock::now();
    const RunResult up =
        run(lab_script() + " up " + name_ + " " + std::to_string(net_) + " 2222,22", 240s);
    ASSERT_EQ(up.exit_code, 0) << up.output;
    std::printf("[ figure ] the system lab booted in %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - booting).count());
    const std::string root = run(lab_script() + " root " + name_).output;
    root_ = root.substr(0, root.find('\n'));
    ASSERT_EQ(run("cp " + deb_ + " " + newer_deb_ + " " + root_ + "/root/").exit_code, 0);
    // Another service on the server, which the shipped rules do not let in.
    ASSERT_EQ(inside("systemd-run --unit=pw-web python3 -m http.server 8080").exit_code, 0);
    session_ = new SshSession(ssh_command());
    ASSERT_TRUE(session_->carries("hello from the administrator", 15000ms));
  }

  static void TearDownTestSuite() {
    delete session_;
    session_ = nullptr;
    run(lab_script() + " down " + name_, 60s);
    if (!work_.empty()) std::filesystem::remove_all(work_);
  }

  void TearDown() override {
    // After every step: the administrator's session is still there and carries data.
    ASSERT_NE(session_, nullptr);
    EXPECT_TRUE(session_->open()) << "the SSH session ended";
    EXPECT_TRUE(session_->carries(
        "still here after " +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()),
        15000ms))
        << "the SSH session carries no data";
  }

  static std::string lab_script() { return kSource + "/tools/system-lab.sh"; }
  // A command on the server, over SSH from the client namespace (a new connection).
  static RunResult ssh(const std::string& command, std::chrono::seconds timeout = 60s) {
    return run(lab_script() + " ssh " + name_ + " " + quoted(command), timeout);
  }
  // A command inside the server, from this machine (for what SSH cannot carry at that moment).
  static RunResult inside(const std::string& command, std::chrono::seconds timeout = 60s) {
    return run(lab_script() + " exec " + name_ + " sh -c " + quoted(command), timeout);
  }
  static std::string server() { return "10.200." + std::to_string(net_) + ".1"; }
  static std::string client_ns() { return name_ + "-cli"; }
  static std::string backend_ns() { return name_ + "-cl2"; }
  static std::string backend() { return "10.200." + std::to_string(net_) + ".130"; }
  static bool reaches(int port, std::chrono::milliseconds wait = 1500ms) {
    return Fd(tcp_connect(client_ns(), server(), port, wait)).valid();
  }
  static std::string show(const std::string& property) {
    std::string v = ssh("systemctl show -p " + property + " --value portwall").output;
    v.erase(v.find_last_not_of('\n') + 1);
    return v;
  }
  // Waits (bounded) until `command` on the server prints exactly `want`.
  static bool until_inside(const std::string& command, const std::string& want,
                           std::chrono::seconds wait = 20s) {
    for (auto until = std::chrono::steady_clock::now() + wait;
         std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(200ms)) {
      if (inside(command).output == want) return true;
    }
    return false;
  }
  // The ssh command line of the lab, for a connection of a test's own.
  static std::string ssh_command() {
    std::string line = run(lab_script() + " ssh-command " + name_).output;
    line.erase(line.find_last_not_of('\n') + 1);
    return line;
  }

  static std::string name_, work_, root_, deb_, newer_deb_, version_, newer_version_;
  static int net_;
  static SshSession* session_;
};

std::string Journey::name_, Journey::work_, Journey::root_, Journey::deb_, Journey::newer_deb_,
    Journey::version_, Journey::newer_version_;
int Journey::net_ = 0;
SshSession* Journey::session_ = nullptr;

TEST_F(Journey, S01_InstalledEnabledNotStartedNothingFiltered) {
  const RunResult install = ssh("DEBIAN_FRONTEND=noninteractive apt-get install -y /root/" +
                                    std::filesystem::path(deb_).filename().string() + " 2>&1",
                                120s);
  ASSERT_EQ(install.exit_code, 0) << install.output;
  EXPECT_TRUE(contains(install.output, "portwall: installed and enabled, not started"))
      << install.output;
  EXPECT_EQ(ssh("systemctl is-enabled portwall").output, "enabled\n");
  EXPECT_EQ(ssh("systemctl is-active portwall").output, "inactive\n");
  EXPECT_FALSE(contains(ssh("iptables-save").output, "PORTWALL"));
  EXPECT_TRUE(reaches(8080));
  // It may hold an SPA key (issue 17, point 8): 0644 on 0388e96.
  EXPECT_EQ(ssh("stat -c '%U:%G %a' /etc/portwall/portwall.toml").output, "root:portwall 640\n");
}

TEST_F(Journey, S02_TheFirstStartRefusesToCutTheSessionOn2222) {
  const RunResult start = ssh("systemctl start portwall");
  EXPECT_NE(start.exit_code, 0) << start.output;
  const std::string status = ssh("systemctl status portwall --no-pager -n 20").output;
  EXPECT_TRUE(contains(status, "status=78/CONFIG")) << status;
  EXPECT_TRUE(contains(status, "these rules would lock SSH out")) << status;
  EXPECT_TRUE(contains(status, "would be cut")) << status;
  EXPECT_TRUE(contains(status, "portwall allow 2222/tcp")) << status;
  EXPECT_EQ(show("NRestarts"), "0");  // exit 78: no restart loop
  const RunResult enable = ssh("portwall enable");
  EXPECT_EQ(enable.exit_code, 1) << enable.output;
  EXPECT_TRUE(contains(enable.output, "ERROR: not started: these rules would lock SSH out"))
      << enable.output;
  EXPECT_FALSE(contains(ssh("iptables-save").output, "PORTWALL"));
  EXPECT_TRUE(reaches(8080));  // still nothing filtered
}

TEST_F(Journey, S03_AllowedThenStartedTheDefaultRulesAreInForce) {
  EXPECT_EQ(ssh("portwall allow 2222/tcp").exit_code, 0);
  const RunResult start = ssh("systemctl start portwall");
  ASSERT_EQ(start.exit_code, 0) << start.output;
  EXPECT_EQ(ssh("systemctl is-active portwall").output, "active\n");
  EXPECT_EQ(show("Type"), "notify");
  const std::string journal = ssh("journalctl -u portwall -o cat --no-pager").output;
  EXPECT_TRUE(std::regex_search(journal, std::regex("first start: SSH stays reachable on "
                                                    "[0-9/tcp(everyone), ]+; [0-9]+ open SSH "
                                                    "session\\(s\\) go on")))
      << journal;
  EXPECT_TRUE(contains(journal, "2222/tcp (everyone)") && contains(journal, " 22/tcp (everyone)"))
      << journal;
  EXPECT_TRUE(contains(journal, "portwalld: ready")) << journal;
  EXPECT_FALSE(std::filesystem::exists(root_ + "/var/lib/portwall/first-start"));
  std::string on22 = ssh_command();
  on22.replace(on22.find(" -p 2222 "), 9, " -p 22 ");
  EXPECT_EQ(run(on22 + " true").exit_code, 0) << "22 reachable";
  EXPECT_FALSE(reaches(8080));
  EXPECT_TRUE(contains(ssh("portwall status").output, "22/tcp                     ALLOW IN"));
}

TEST_F(Journey, S04_AGroupMemberChangesRulesWithoutSudoOthersAreRefused) {
  ASSERT_EQ(ssh("useradd -m -G portwall alice && useradd -m bob").exit_code, 0);
  const RunResult alice = ssh("runuser -u alice -- portwall allow 8443/tcp");
  EXPECT_EQ(alice.exit_code, 0) << alice.output;
  const RunResult bob = ssh("runuser -u bob -- portwall allow 8444/tcp");
  EXPECT_EQ(bob.exit_code, 3) << bob.output;
  EXPECT_TRUE(contains(bob.output,
                       "not authorized to use /run/portwall/portwall.sock (only root "
                       "and the members of group portwall"))
      << bob.output;
  const std::string status = ssh("portwall status").output;
  EXPECT_TRUE(contains(status, "8443/tcp")) << status;
  EXPECT_FALSE(contains(status, "8444/tcp")) << status;
  EXPECT_TRUE(contains(ssh("tail -1 /var/log/portwall/audit.log").output,
                       "ACTION=\"change\" RESULT=\"ok\" DETAIL=\"user=alice"));
}

TEST_F(Journey, S05_ABrokenReloadFailsVisiblyAndTheRulesStay) {
  ASSERT_EQ(ssh("cp /etc/portwall/rules.toml /root/rules.good && printf '\\n[[rule]]\\naction = "
                "\"allow\"\\nport = \"99999\"\\n' >> /etc/portwall/rules.toml")
                .exit_code,
            0);
  const RunResult reload = ssh("systemctl reload portwall");
  EXPECT_NE(reload.exit_code, 0) << reload.output;
  const std::string status = ssh("systemctl status portwall --no-pager -n 10").output;
  EXPECT_TRUE(contains(status, "ExecReload=/usr/sbin/portwalld --check")) << status;
  EXPECT_TRUE(contains(status, "status=1/FAILURE")) << status;
  EXPECT_TRUE(std::regex_search(status, std::regex("rules.toml:[0-9]+:[0-9]+: port must be "
                                                   "1-65535, got 99999")))
      << status;
  EXPECT_EQ(ssh("systemctl is-active portwall").output, "active\n");
  EXPECT_FALSE(reaches(8080));
  EXPECT_TRUE(contains(ssh("portwall status").output, "8443/tcp"));
  ASSERT_EQ(ssh("cp /root/rules.good /etc/portwall/rules.toml").exit_code, 0);
  EXPECT_EQ(ssh("systemctl reload portwall").exit_code, 0);
  EXPECT_TRUE(
      contains(ssh("journalctl -u portwall -n 3 -o cat --no-pager").output, "reloaded 3 rule(s)"));
}

TEST_F(Journey, S06_TheJournalHoldsTheDaemonAndWithJournaldTheDecisionsFail2banReads) {
  EXPECT_TRUE(contains(ssh("journalctl -u portwall -o cat --no-pager").output,
                       "portwalld: diverting to queue(s) 100-101 with iptables"));
  ASSERT_EQ(ssh("sed -i 's/^target = \"file\"/target = \"journald\"/' /etc/portwall/portwall.toml"
                " && systemctl restart portwall")
                .exit_code,
            0);
  for (int port : {8080, 8081, 8082}) EXPECT_FALSE(reaches(port, 700ms));
  const std::string entry =
      ssh("journalctl SYSLOG_IDENTIFIER=portwalld -o json --no-pager | grep DPT=8082 | tail -1")
          .output;
  EXPECT_TRUE(contains(entry, "\"SYSLOG_IDENTIFIER\":\"portwalld\"")) << entry;
  EXPECT_TRUE(contains(entry, "\"MESSAGE\":\"portwall ACTION=DROP RULE=- REASON=default DIR=in"))
      << entry;
  // The journal as text, read by the shipped filter with fail2ban-regex.
  const std::string exported = work_ + "/journal.txt";
  std::ofstream(exported) << ssh("journalctl -t portwalld -o short --no-pager").output;
  const std::size_t drops = count_of(slurp(exported), "portwall ACTION=DROP");
  const std::string f2b = kSource + "/build-deps/root";
  std::filesystem::copy_file(kSource + "/packaging/fail2ban/filter.d/portwall.conf",
                             f2b + "/etc/fail2ban/filter.d/portwall.conf",
                             std::filesystem::copy_options::overwrite_existing);
  const RunResult regex = run(
      "PYTHONPATH=" + f2b + "/usr/lib/python3/dist-packages /usr/bin/python3 " + f2b +
      "/usr/bin/fail2ban-regex " + exported + " " + f2b + "/etc/fail2ban/filter.d/portwall.conf");
  ASSERT_EQ(regex.exit_code, 0) << regex.output;
  std::printf("[ figure ] journal: %zu drop lines; fail2ban-regex: %s\n", drops,
              regex.output
                  .substr(regex.output.find("Lines:"),
                          regex.output.find('\n', regex.output.find("Lines:")) -
                              regex.output.find("Lines:"))
                  .c_str());
  EXPECT_GE(drops, 3u);
  EXPECT_TRUE(contains(regex.output, " ignored, " + std::to_string(drops) + " matched, "))
      << regex.output;
  ASSERT_EQ(ssh("sed -i 's/^target = \"journald\"/target = \"file\"/' /etc/portwall/portwall.toml"
                " && systemctl restart portwall")
                .exit_code,
            0);
}

TEST_F(Journey, S07_LogrotateAsTheTimerRunsItLosesNoLine) {
  // The state logrotate keeps says the last rotation was two days ago, as on a server where the
  // timer ran yesterday; then the timer's own unit runs, under load.
  ASSERT_EQ(ssh("systemctl start logrotate.service && sed -i 's|^\\(\"/var/log/portwall/[a-z]*"
                ".log\"\\) .*|\\1 2000-1-1-0:0:0|' /var/lib/logrotate/status")
                .exit_code,
            0);
  // 40 a second: under [log] max_lines_per_second (100, shared by the two queues), so every
  // datagram is a line.
  constexpr int kDatagrams = 150;
  std::thread load([] {
    run("ip netns exec " + client_ns() + " hping3 --udp -p 9999 -i u25000 -c " +
            std::to_string(kDatagrams) + " -q " + server() + " >/dev/null 2>&1",
        60s);
  });
  std::this_thread::sleep_for(1200ms);
  const RunResult rotate = ssh("systemctl start logrotate.service");
  load.join();
  ASSERT_EQ(rotate.exit_code, 0) << rotate.output;
  std::this_thread::sleep_for(1500ms);  // the last lines leave the writer
  const std::string live = ssh("grep -c DPT=9999 /var/log/portwall/portwall.log").output;
  const std::string rotated = ssh("grep -c DPT=9999 /var/log/portwall/portwall.log.1").output;
  std::printf(
      "[ figure ] logrotate under load: %d datagrams, %s in portwall.log.1, %s in "
      "portwall.log\n",
      kDatagrams, rotated.substr(0, rotated.find('\n')).c_str(),
      live.substr(0, live.find('\n')).c_str());
  EXPECT_GT(std::atoi(rotated.c_str()), 0);
  EXPECT_GT(std::atoi(live.c_str()), 0) << "the daemon writes to the new file";
  EXPECT_EQ(std::atoi(rotated.c_str()) + std::atoi(live.c_str()), kDatagrams);
  EXPECT_EQ(ssh("stat -c '%U:%G %a' /var/log/portwall/portwall.log").output, "root:adm 640\n");
}

TEST_F(Journey, S08_KilledItComesBackFailOpenOrClosedAsConfigured) {
  // Three seconds between the death and the restart, so that the time between can be seen.
  ASSERT_EQ(ssh("mkdir -p /etc/systemd/system/portwall.service.d && printf '[Service]\\n"
                "RestartSec=3\\n' > /etc/systemd/system/portwall.service.d/journey.conf && "
                "systemctl daemon-reload")
                .exit_code,
            0);
  for (const bool fail_open : {true, false}) {
    SCOPED_TRACE(fail_open ? "fail_open = true" : "fail_open = false");
    const std::string before = show("MainPID");
    const int restarts = std::atoi(show("NRestarts").c_str());
    // From inside: an SSH connection could not carry the answer through a closed gap.
    ASSERT_EQ(inside("systemctl kill -s KILL portwall").exit_code, 0);
    std::this_thread::sleep_for(300ms);
    // Nobody listens on the queues: the kernel passes (fail-open) or drops (fail-closed).
    EXPECT_EQ(reaches(8080, 1000ms), fail_open);
    if (!fail_open) {
      EXPECT_FALSE(session_->carries("during the gap", 1000ms));
    }
    ASSERT_TRUE(until_inside("systemctl is-active portwall", "active\n"));
    if (!fail_open) {
      EXPECT_TRUE(session_->echoed("during the gap", 10000ms));
    }
    EXPECT_NE(show("MainPID"), before);
    EXPECT_EQ(std::atoi(show("NRestarts").c_str()), restarts + 1);
    EXPECT_FALSE(reaches(8080));
    if (fail_open) {
      // The edit the upgrade keeps: a server that prefers closed to unjudged.
      ASSERT_EQ(ssh("sed -i 's/^fail_open = true/fail_open = false/' "
                    "/etc/portwall/portwall.toml && systemctl restart portwall")
                    .exit_code,
                0);
    }
  }
  ASSERT_EQ(ssh("rm /etc/systemd/system/portwall.service.d/journey.conf && systemctl "
                "daemon-reload")
                .exit_code,
            0);
}

TEST_F(Journey, S09_TheSandboxScoresAndTheLogFolderKeepsItsGroup) {
  const std::string security = ssh("systemd-analyze security portwall --no-pager").output;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(security, m,
                                std::regex("Overall exposure level for portwall.service: "
                                           "([0-9.]+) ([A-Z]+)")))
      << security;
  std::printf("[ figure ] systemd-analyze security portwall: %s %s\n", m[1].str().c_str(),
              m[2].str().c_str());
  EXPECT_LT(std::stod(m[1].str()), 4.0);
  // Many starts later, the folder is still as the postinst made it.
  EXPECT_EQ(ssh("stat -c '%U:%G %a' /var/log/portwall").output, "root:adm 2750\n");
}

TEST_F(Journey, S10_AForwardToAnotherHostWorksUnderTheSandbox) {
  Fd backend_listener(tcp_listen(backend_ns(), "0.0.0.0", 80));
  ASSERT_TRUE(backend_listener.valid());
  ASSERT_EQ(
      ssh("portwall allow 8081/tcp && portwall forward 8081/tcp to " + backend() + ":80").exit_code,
      0);
  EXPECT_EQ(ssh("cat /proc/sys/net/ipv4/ip_forward").output, "1\n");
  EXPECT_TRUE(contains(ssh("journalctl -u portwall -n 5 -o cat --no-pager").output,
                       "net.ipv4.ip_forward turned on for the forwards to other hosts"));
  Fd client(tcp_connect(client_ns(), server(), 8081, 3000ms));
  Fd accepted(tcp_accept(backend_listener.get(), 3000ms));
  ASSERT_TRUE(client.valid() && accepted.valid());
  ASSERT_TRUE(send_all(client.get(), "through the forward\n"));
  EXPECT_EQ(receive(accepted.get(), 3000ms).value_or(""), "through the forward\n");
  EXPECT_EQ(ssh("portwall forward delete 1 && portwall delete allow 8081/tcp").exit_code, 0);
}

// The kernel's set of blocks under the unit's sandbox: ipset runs as portwalld's child with its
// capabilities, the set holds the block and drops the blocked client's packets, and lets them
// through again once it is lifted.
TEST_F(Journey, S10b_ABlockIsDroppedByTheKernelSetUnderTheSandbox) {
  const std::string journal = ssh("journalctl -u portwall -o cat --no-pager").output;
  EXPECT_TRUE(contains(journal, "blocked sources are dropped in the kernel")) << journal;
  EXPECT_FALSE(contains(journal, "not in the kernel")) << journal;
  // The backend client, on the server's second link (10.200.N.129): the SSH session stays.
  const std::string near = "10.200." + std::to_string(net_) + ".129";
  const auto from_backend = [&] { return Fd(tcp_connect(backend_ns(), near, 22, 1500ms)).valid(); };
  ASSERT_TRUE(from_backend());
  ASSERT_EQ(ssh("portwall blocked add " + backend()).exit_code, 0);
  EXPECT_FALSE(from_backend());
  const std::string listing = inside("ipset save portwall-block4").output;
  std::printf("[ figure ] under systemd: %s", listing.c_str());
  EXPECT_TRUE(std::regex_search(
      listing, std::regex("add portwall-block4 " + backend() + " timeout 0 packets [1-9]")))
      << listing;
  ASSERT_EQ(ssh("portwall blocked remove " + backend()).exit_code, 0);
  EXPECT_TRUE(from_backend());
}

// Routed traffic and a published port under the unit's sandbox: the route rules are judged
// in the FORWARD hook, and portwalld reads the nat table's DNAT rules (iptables as its child)
// and lists the published port.
TEST_F(Journey, S10c_RouteRulesAndAPublishedPortUnderTheSandbox) {
  const std::string n = "10.200." + std::to_string(net_) + ".";
  ASSERT_EQ(inside("sysctl -qw net.ipv4.ip_forward=1").exit_code, 0);
  ASSERT_EQ(
      run("ip -n " + client_ns() + " route replace " + n + "128/25 via " + server()).exit_code, 0);
  ASSERT_EQ(
      run("ip -n " + backend_ns() + " route replace " + n + "0/25 via " + n + "129").exit_code, 0);
  Fd backend_listener(tcp_listen(backend_ns(), "0.0.0.0", 8090));
  ASSERT_TRUE(backend_listener.valid());
  ASSERT_EQ(ssh("portwall default deny routed").exit_code, 0);
  EXPECT_FALSE(Fd(tcp_connect(client_ns(), backend(), 8090, 1500ms)).valid());
  ASSERT_EQ(ssh("portwall route allow to " + backend() + " port 8090 proto tcp").exit_code, 0);
  Fd routed(tcp_connect(client_ns(), backend(), 8090, 3000ms));
  Fd accepted(tcp_accept(backend_listener.get(), 3000ms));
  ASSERT_TRUE(routed.valid() && accepted.valid());
  ASSERT_TRUE(send_all(routed.get(), "routed\n"));
  EXPECT_EQ(receive(accepted.get(), 3000ms).value_or(""), "routed\n");
  EXPECT_TRUE(contains(ssh("portwall status numbered").output, "ALLOW FWD"));
  // A DNAT of another tool's, as Docker writes it: read within its 2 s and listed.
  ASSERT_EQ(inside("iptables -t nat -N PWTEST && iptables -t nat -A PWTEST -p tcp -m tcp "
                   "--dport 8091 -j DNAT --to-destination " +
                   backend() + ":8090")
                .exit_code,
            0);
  std::string status;
  for (int i = 0; i < 40 && !contains(status, "Published by other tools"); ++i) {
    std::this_thread::sleep_for(250ms);
    status = ssh("portwall status").output;
  }
  std::printf("[ figure ] under systemd: %s", status.c_str());
  EXPECT_TRUE(contains(status, "8091/tcp -> " + backend() + ":8090 (PWTEST)")) << status;
  const std::string journal = ssh("journalctl -u portwall -n 20 -o cat --no-pager").output;
  EXPECT_TRUE(contains(journal, "published by another tool: 8091/tcp")) << journal;
  EXPECT_FALSE(contains(journal, "could not follow")) << journal;
  EXPECT_EQ(inside("iptables -t nat -F PWTEST && iptables -t nat -X PWTEST").exit_code, 0);
  EXPECT_EQ(ssh("portwall route delete allow to " + backend() +
                " port 8090 proto tcp && "
                "portwall default allow routed")
                .exit_code,
            0);
  EXPECT_EQ(inside("sysctl -qw net.ipv4.ip_forward=0").exit_code, 0);
}

TEST_F(Journey, S11_AnEnableNotConfirmedUndoesTheLockoutByItself) {
  ASSERT_EQ(ssh("portwall disable").output, "Firewall stopped and disabled on system startup\n");
  EXPECT_TRUE(reaches(8080));
  // Rules that deny the session's port, started anyway: the session is cut...
  ASSERT_EQ(ssh("portwall delete allow 2222/tcp").exit_code, 0);
  RunResult enable;
  std::thread admin([&] { enable = ssh("portwall enable --force --confirm 6s", 60s); });
  ASSERT_TRUE(until_inside("systemctl is-active portwall", "active\n"));
  EXPECT_FALSE(session_->carries("while locked out", 2000ms));
  EXPECT_EQ(inside("systemctl is-enabled portwall").output, "disabled\n");
  // ... until the firewall stops by itself, unconfirmed; the session's data then arrives.
  EXPECT_TRUE(session_->echoed("while locked out", 20000ms));
  admin.join();
  EXPECT_EQ(enable.exit_code, 0) << enable.output;
  EXPECT_TRUE(contains(enable.output, "run `portwall confirm` within 6s")) << enable.output;
  EXPECT_TRUE(until_inside("systemctl is-active portwall", "inactive\n"));
  EXPECT_TRUE(contains(ssh("journalctl -u portwall -n 6 -o cat --no-pager").output,
                       "was not confirmed within 6s: portwalld stops"));
  // Done right: allowed, enabled, confirmed.
  ASSERT_EQ(ssh("portwall allow 2222/tcp").exit_code, 0);
  const RunResult again = ssh("portwall enable --confirm 60s && portwall confirm");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_TRUE(contains(again.output,
                       "Confirmed: the firewall stays active and is enabled on system startup"))
      << again.output;
  EXPECT_EQ(ssh("systemctl is-enabled portwall").output, "enabled\n");
  EXPECT_FALSE(reaches(8080));
}

TEST_F(Journey, S12_AnUpgradeKeepsTheEditsAndTheRulesInForceThroughout) {
  ASSERT_TRUE(
      contains(ssh("grep ^fail_open /etc/portwall/portwall.toml").output, "fail_open = false"));
  const std::string pid = show("MainPID");
  const std::string restarts = show("NRestarts");
  // Connection attempts to a denied port, one every 5 ms, across the whole upgrade.
  std::atomic<bool> upgrading{true};
  std::pair<int, int> storm;
  std::thread probe([&] {
    storm = connection_storm(client_ns(), server(), 8080, 5ms, [&] { return upgrading.load(); });
  });
  const RunResult upgrade = ssh("DEBIAN_FRONTEND=noninteractive apt-get install -y /root/" +
                                    std::filesystem::path(newer_deb_).filename().string() + " 2>&1",
                                120s);
  std::this_thread::sleep_for(1000ms);
  upgrading = false;
  probe.join();
  ASSERT_EQ(upgrade.exit_code, 0) << upgrade.output;
  const auto [attempts, through] = storm;
  std::printf("[ figure ] upgrade: %d connection attempts to a denied port across it, %d through\n",
              attempts, through);
  EXPECT_GT(attempts, 200);
  EXPECT_EQ(through, 0);
  EXPECT_TRUE(contains(ssh("dpkg-query -W portwall").output, newer_version_));
  // Restarted once, in place: the same process runs the new binary.
  EXPECT_EQ(show("MainPID"), pid);
  EXPECT_EQ(show("NRestarts"), restarts);
  EXPECT_EQ(ssh("readlink /proc/" + pid + "/exe").output, "/usr/sbin/portwalld\n");
  const std::string journal = ssh("journalctl -u portwall -o cat --no-pager").output;
  const std::string since = journal.substr(journal.rfind("portwalld: re-executing"));
  EXPECT_EQ(count_of(journal, "portwalld: re-executing /usr/sbin/portwalld (SIGUSR2)"), 1u);
  EXPECT_EQ(count_of(since, "portwalld: ready"), 1u) << since;
  // The edits are kept.
  EXPECT_TRUE(
      contains(ssh("grep ^fail_open /etc/portwall/portwall.toml").output, "fail_open = false"));
  const std::string status = ssh("portwall status").output;
  EXPECT_TRUE(contains(status, "2222/tcp")) << status;
  EXPECT_TRUE(contains(status, "8443/tcp")) << status;
  EXPECT_FALSE(reaches(8080));
}

TEST_F(Journey, S13_RemoveStopsAndKeepsTheFilesPurgeLeavesNothing) {
  const RunResult remove = ssh("DEBIAN_FRONTEND=noninteractive apt-get remove -y portwall 2>&1");
  ASSERT_EQ(remove.exit_code, 0) << remove.output;
  EXPECT_EQ(ssh("systemctl is-active portwall").output, "inactive\n");
  EXPECT_FALSE(contains(ssh("iptables-save").output, "PORTWALL"));
  EXPECT_TRUE(reaches(8080));
  EXPECT_EQ(ssh("ls /etc/portwall/portwall.toml /etc/portwall/rules.toml "
                "/var/log/portwall/portwall.log")
                .exit_code,
            0);
  const RunResult purge = ssh("DEBIAN_FRONTEND=noninteractive apt-get purge -y portwall 2>&1");
  ASSERT_EQ(purge.exit_code, 0) << purge.output;
  for (const char* path :
       {"/etc/portwall", "/var/log/portwall", "/var/lib/portwall", "/run/portwall",
        "/usr/sbin/portwalld", "/etc/logrotate.d/portwall", "/etc/fail2ban/filter.d/portwall.conf",
        "/etc/systemd/system/multi-user.target.wants/portwall.service",
        "/lib/systemd/system/portwall.service"}) {
    EXPECT_FALSE(std::filesystem::exists(root_ + path)) << path << " is left";
  }
  EXPECT_NE(ssh("dpkg-query -W portwall").exit_code, 0);
}

}  // namespace
}  // namespace portwall::lab
