// rule_change_race_test.cc — issue 16, point 4: a rule change is in force for every packet
// that arrives after the CLI printed its answer, on every queue. 200 cycles of `allow` then
// `delete`, each followed at once by a connection attempt from one of 16 client addresses (so
// that both queues meet them): it must succeed after the allow and fail after the delete.
// Incoming is `reject` here, so that a refused attempt fails at once instead of timing out.
#include <cstdio>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

constexpr int kCycles = 200;
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

TEST(RuleChange, InForceOnEveryQueueForThePacketsAfterTheAnswer) {
  Lab lab;
  const std::vector<std::string> sources = lab.add_cl2_addresses(kClientAddresses);
  Daemon daemon(lab, kRejectRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 8080));
  ASSERT_TRUE(listener.valid());
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

}  // namespace
}  // namespace portwall::lab
