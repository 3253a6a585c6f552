// rule_change_race_test.cc — issue 16, point 4: a rule change is in force for every packet
// that arrives after the CLI printed its answer, on every queue. 100 cycles of `allow` then
// `delete`, each followed at once by a connection attempt from one of 16 client addresses (so
// that both queues meet them): it must succeed after the allow and fail after the delete.
// Incoming is `reject` here, so that a refused attempt fails at once instead of timing out.
// The race test failed once in CI (1 in 200, under ASan) for another reason than timing: the
// client's random port repeated one whose connection had closed and waited in TIME_WAIT, and
// the reused SYN went on with the old flow. The second test reuses ports on purpose.
#include <cstdio>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

constexpr int kCycles = 100;
constexpr int kClientAddresses = 16;
constexpr const char* kRejectRules = R"(
[defaults]
incoming = "reject"
outgoing = "allow"

[[rule]]
action = "allow"
proto = "tcp"
port = "22"
)";

// Both tests: a server listening on 8080 that 16 addresses of cl2 connect to.
class RuleChange : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
    ASSERT_TRUE(listener.valid());
  }
  Lab lab;
  const std::vector<std::string> sources = lab.add_cl2_addresses(kClientAddresses);
  Daemon daemon{lab, kRejectRules};
  Fd listener{tcp_listen(lab.srv(), "0.0.0.0", 8080)};
};

TEST_F(RuleChange, InForceOnEveryQueueForThePacketsAfterTheAnswer) {
  int allowed_ok = 0, denied_ok = 0, cycles = 0;
  std::string failures;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kCycles && std::chrono::steady_clock::now() - start < 90s; ++i, ++cycles) {
    const std::string& source = sources[static_cast<std::size_t>(i) % sources.size()];
    const RunResult allow = daemon.cli("allow 8080/tcp");
    ASSERT_EQ(allow.exit_code, 0) << allow.output;
    int error = 0;
    Fd in(tcp_connect(lab.cl2(), lab.srv_v4_for_cl2(), 8080, 2000ms, &error, source));
    if (in.valid()) {
      ++allowed_ok;
      Fd accepted(tcp_accept(listener.get(), 1000ms));
    } else {
      failures += "cycle " + std::to_string(i) + " from " + source +
                  ": refused right after allow: " + std::strerror(error) + "\n";
    }
    const RunResult remove = daemon.cli("delete allow 8080/tcp");
    ASSERT_EQ(remove.exit_code, 0) << remove.output;
    Fd out(tcp_connect(lab.cl2(), lab.srv_v4_for_cl2(), 8080, 2000ms, &error, source));
    if (!out.valid()) {
      ++denied_ok;
    } else {
      Fd accepted(tcp_accept(listener.get(), 1000ms));
      failures +=
          "cycle " + std::to_string(i) + " from " + source + ": connected right after delete\n";
    }
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf(
      "[rule-change] %d cycles in %.1f s: connected after allow %d/%d, refused after "
      "delete %d/%d\n",
      cycles, seconds, allowed_ok, cycles, denied_ok, cycles);
  EXPECT_EQ(cycles, kCycles) << "the cycles took longer than 90 s";
  EXPECT_EQ(allowed_ok, cycles) << failures;
  EXPECT_EQ(denied_ok, cycles) << failures;
}

// A client opens a connection from a port of its choosing while a rule allows it; the server
// closes it (TIME_WAIT, here and in portwalld's table); the rule is deleted; the client comes
// back from the same port. The kernel judges that SYN as a new connection; so must portwalld.
TEST_F(RuleChange, ADeletedRuleRefusesAClientThatReusesTheClosedConnectionsPorts) {
  ASSERT_EQ(daemon.cli("allow 8080/tcp").exit_code, 0);
  auto port_of = [](std::size_t i) { return 42000 + static_cast<int>(i); };
  for (std::size_t i = 0; i < sources.size(); ++i) {
    int error = 0;
    Fd client(tcp_connect(lab.cl2(), lab.srv_v4_for_cl2(), 8080, 2000ms, &error, sources[i],
                          port_of(i)));
    ASSERT_TRUE(client.valid()) << sources[i] << ": " << std::strerror(error);
    {
      Fd accepted(tcp_accept(listener.get(), 1000ms));
      ASSERT_TRUE(accepted.valid()) << sources[i];
    }  // the server closes first: it holds TIME_WAIT
    EXPECT_EQ(receive(client.get(), 1000ms), std::optional<std::string>("")) << "EOF";
  }
  std::this_thread::sleep_for(300ms);  // the clients' FINs and the server's last ACKs pass
  const std::string tracked = daemon.cli("--json status").output;
  ASSERT_EQ(daemon.cli("delete allow 8080/tcp").exit_code, 0);
  int refused = 0, reallowed = 0;
  std::string failures;
  for (std::size_t i = 0; i < sources.size(); ++i) {
    int error = 0;
    Fd again(tcp_connect(lab.cl2(), lab.srv_v4_for_cl2(), 8080, 2000ms, &error, sources[i],
                         port_of(i)));
    if (!again.valid() && error == ECONNREFUSED) {
      ++refused;
    } else {
      failures += sources[i] + ":" + std::to_string(port_of(i)) +
                  (again.valid() ? " connected" : std::string(" ") + std::strerror(error)) + "\n";
      Fd accepted(tcp_accept(listener.get(), 200ms));
    }
  }
  // The rule back: the same ports connect again (their flows were ended, not kept refused).
  ASSERT_EQ(daemon.cli("allow 8080/tcp").exit_code, 0);
  for (std::size_t i = 0; i < sources.size(); ++i) {
    int error = 0;
    Fd back(tcp_connect(lab.cl2(), lab.srv_v4_for_cl2(), 8080, 2000ms, &error, sources[i],
                        port_of(i)));
    if (back.valid()) ++reallowed;
    Fd accepted(tcp_accept(listener.get(), back.valid() ? 1000ms : 0ms));
  }
  std::printf("[port-reuse] after delete refused %d/%zu, after allow again connected %d/%zu\n",
              refused, sources.size(), reallowed, sources.size());
  EXPECT_EQ(refused, static_cast<int>(sources.size())) << failures << tracked;
  EXPECT_EQ(reallowed, static_cast<int>(sources.size()));
  EXPECT_TRUE(log_line_with(daemon, {"ACTION=REJECT", "REASON=default", "SPT=" +
                                         std::to_string(port_of(0)), "DPT=8080", "FLAGS=S"}))
      << daemon.log();
}

}  // namespace
}  // namespace portwall::lab
