// cut_test.cc — issue 8, point 5: an established connection that a rule change or a block now
// denies is cut (its later packets dropped, the kernel's conntrack entry ended), unless the
// change says --keep-established; ufw and firewalld accept ESTABLISHED first and never do.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <thread>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

const std::string kRulesWith2222 = std::string(kRules) + R"(
[[rule]]
action = "allow"
proto = "tcp"
port = "2222"
)";

// An established TCP connection from the client namespace to the server's port 2222, with
// both ends held.
struct Session {
  Fd client, server;
  bool up() const { return client.valid() && server.valid(); }
};

Session open_session(const Lab& lab, const Fd& listener) {
  Session s;
  s.client = Fd(tcp_connect(lab.cli(), lab.srv_v4(), 2222, 2000ms));
  if (s.client.valid()) s.server = Fd(tcp_accept(listener.get(), 2000ms));
  return s;
}

// True when `data` sent by the client arrives at the server, and the answer comes back, each
// within `wait`.
bool round_trip(const Session& s, const std::string& data, std::chrono::milliseconds wait) {
  if (!send_all(s.client.get(), data)) return false;
  std::string got;
  for (auto until = std::chrono::steady_clock::now() + wait;
       got.size() < data.size() && std::chrono::steady_clock::now() < until;) {
    auto part = receive(s.server.get(), 100ms);
    if (part) got += *part;
  }
  if (got.find(data) == std::string::npos) return false;
  if (!send_all(s.server.get(), "re:" + data)) return false;
  auto answer = receive(s.client.get(), wait);
  return answer && answer->find("re:" + data) != std::string::npos;
}

// The kernel's ESTABLISHED conntrack entries of the server namespace toward port 2222.
int kernel_entries(const Lab& lab) {
  const RunResult r = lab.in(lab.srv(), "cat /proc/net/nf_conntrack");
  int n = 0;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    n += line.find("dport=2222") != std::string::npos &&
         line.find("ESTABLISHED") != std::string::npos;
  }
  return n;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST(Cut, RuleChangeCutsTheEstablishedConnectionsItDenies) {
  Lab lab;
  // A forward (unused here) turns the kernel's connection tracking on in the namespace, as NAT
  // or another firewall would: the session then has a kernel entry, which the cut ends.
  Daemon daemon(lab, kRulesWith2222 + "\n[[forward]]\nproto = \"tcp\"\nport = 8000\nto = 8001\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 2222));
  ASSERT_TRUE(listener.valid());
  Session session = open_session(lab, listener);
  ASSERT_TRUE(session.up());
  ASSERT_TRUE(round_trip(session, "before", 2000ms));
  ASSERT_EQ(kernel_entries(lab), 1) << lab.in(lab.srv(), "cat /proc/net/nf_conntrack").output;

  // Rule 4 goes: the default (deny) now decides port 2222, and the connection is cut.
  const auto changed_at = std::chrono::steady_clock::now();
  const RunResult change = daemon.cli("delete 4");
  const double change_took = seconds_since(changed_at);
  ASSERT_EQ(change.exit_code, 0) << change.output;
  EXPECT_NE(change.output.find("Cut 1 established connection(s) now denied (kernel conntrack "
                               "entries ended: 1)"),
            std::string::npos)
      << change.output;
  // Sent at once: never arrives, either way.
  EXPECT_FALSE(round_trip(session, "after", 1000ms));
  const double cut_seen = seconds_since(changed_at);
  EXPECT_FALSE(receive(session.client.get(), 500ms).has_value());
  EXPECT_EQ(kernel_entries(lab), 0) << lab.in(lab.srv(), "cat /proc/net/nf_conntrack").output;
  // The first dropped packet is logged (once), the flow shows as cut, the cut is audited.
  EXPECT_TRUE(log_line_with(daemon, {"ACTION=DROP", "REASON=default", "DPT=2222"})) << daemon.log();
  const std::string flows = daemon.cli("conntrack list").output;
  EXPECT_NE(flows.find("[CUT]"), std::string::npos) << flows;
  // explain says what the packet path does with it: dropped, not "passes by state".
  sockaddr_in local{};
  socklen_t len = sizeof local;
  getsockname(session.client.get(), reinterpret_cast<sockaddr*>(&local), &len);
  const RunResult why = daemon.cli("--json explain tcp " + lab.cli_v4() + ":" +
                                   std::to_string(ntohs(local.sin_port)) + " -\\> " +
                                   lab.srv_v4() + ":2222");
  const nlohmann::json e = nlohmann::json::parse(why.output, nullptr, false);
  EXPECT_EQ(e["verdict"], "DROP") << why.output;
  EXPECT_EQ(e["reason"], "default") << why.output;
  const std::string audit = slurp(daemon.dir() + "/audit.log");
  EXPECT_NE(audit.find("ACTION=\"connections\" RESULT=\"ok\" DETAIL=\"1 established connection(s) cut"),
            std::string::npos)
      << audit;
  // A new connection is refused as well.
  Fd again(tcp_connect(lab.cli(), lab.srv_v4(), 2222, 1000ms));
  EXPECT_FALSE(again.valid());
  std::printf(
      "[cut] `portwall delete 4` took %.3f s; the cut connection's data sent when it "
      "returned was dropped (no answer within %.3f s)\n%s%s",
      change_took, cut_seen, change.output.c_str(), flows.c_str());
}

// inspect = "new": established connections pass in the kernel by their conntrack entry's mark,
// unseen; cutting one must end that entry, or the kernel would go on letting it through.
TEST(Cut, KeepEstablishedKeepsThemAndABlockCutsThemInTheKernelToo) {
  Lab lab;
  Daemon daemon(lab, kRulesWith2222, "inspect = \"new\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 2222));
  ASSERT_TRUE(listener.valid());
  Session session = open_session(lab, listener);
  ASSERT_TRUE(session.up());
  ASSERT_TRUE(round_trip(session, "one", 2000ms));
  ASSERT_TRUE(round_trip(session, "offloaded", 2000ms));
  EXPECT_EQ(kernel_entries(lab), 1) << lab.in(lab.srv(), "cat /proc/net/nf_conntrack").output;

  // --keep-established: the rule goes, the connection stays (new ones are refused).
  const RunResult kept = daemon.cli("delete 4 --keep-established");
  ASSERT_EQ(kept.exit_code, 0) << kept.output;
  EXPECT_NE(kept.output.find("Kept 1 established connection(s)"), std::string::npos) << kept.output;
  EXPECT_TRUE(round_trip(session, "two", 2000ms));
  Fd refused(tcp_connect(lab.cli(), lab.srv_v4(), 2222, 1000ms));
  EXPECT_FALSE(refused.valid());

  // The rule comes back; a block with --keep-established keeps the connection too.
  ASSERT_EQ(daemon.cli("allow 2222/tcp").exit_code, 0);
  const RunResult soft = daemon.cli("blocked add " + lab.cli_v4() + " --keep-established");
  ASSERT_EQ(soft.exit_code, 0) << soft.output;
  EXPECT_NE(soft.output.find("Kept 1 established connection(s) now denied"), std::string::npos)
      << soft.output;
  EXPECT_TRUE(round_trip(session, "three", 2000ms));
  ASSERT_EQ(daemon.cli("blocked remove " + lab.cli_v4()).exit_code, 0);
  // A change of the block list brings offloaded connections back to the queue at the daemon's
  // next tick (once a second): let that pass, so that it cannot end the entry counted below.
  std::this_thread::sleep_for(1200ms);
  EXPECT_TRUE(round_trip(session, "four", 2000ms));

  // A block without it ends the connection, kernel entry included.
  ASSERT_TRUE(round_trip(session, "offloaded again", 2000ms));
  ASSERT_EQ(kernel_entries(lab), 1) << lab.in(lab.srv(), "cat /proc/net/nf_conntrack").output;
  const auto blocked_at = std::chrono::steady_clock::now();
  const RunResult block = daemon.cli("blocked add " + lab.cli_v4());
  ASSERT_EQ(block.exit_code, 0) << block.output;
  EXPECT_NE(block.output.find("Cut 1 established connection(s)"), std::string::npos)
      << block.output;
  // The kernel's entry is gone: ended by tuple here, or by the offload flush a block also makes
  // (whichever comes first; the count printed says which).
  EXPECT_FALSE(round_trip(session, "five", 1000ms));
  EXPECT_EQ(kernel_entries(lab), 0) << lab.in(lab.srv(), "cat /proc/net/nf_conntrack").output;
  std::printf(
      "[cut] kept with --keep-established (rule change and block); a block without it "
      "cut the connection: no answer %.3f s after `blocked add`\n%s",
      seconds_since(blocked_at), block.output.c_str());
}

}  // namespace
}  // namespace portwall::lab
