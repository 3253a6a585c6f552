// pickup_test.cc — issue 16, point 3: a restart picks up outgoing connections as outgoing. The
// server holds 20 connections it opened to a service of the client (10 on which the client
// talks first after the restart, a download; 10 on which the server does) and 5 the client
// opened to its SSH port. portwalld is SIGKILLed and started again: every connection carries
// on, nobody is taken for a scanner, and pickup ends with its grace, in each mode.
#include <sys/socket.h>

#include <cstdio>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

constexpr int kOutgoing = 20;
constexpr int kIncoming = 5;
constexpr const char* kGrace = "[conntrack]\npickup_grace = \"4s\"\n";

struct Held {
  Fd host, peer;  // the server namespace's end, the client's end
  bool outgoing;
};

// One message each way, the first from `host_first`'s side: true when both arrived in time.
bool exchange(const Held& c, bool host_first, const std::string& text) {
  const int first = host_first ? c.host.get() : c.peer.get();
  const int second = host_first ? c.peer.get() : c.host.get();
  if (!send_all(first, text)) return false;
  if (receive(second, 3000ms) != text) return false;
  return send_all(second, text) && receive(first, 3000ms) == text;
}

void restart_keeps_every_connection(const std::string& daemon_keys) {
  Lab lab;
  Daemon daemon(lab, kRules, daemon_keys, kGrace);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd service(tcp_listen(lab.cli(), lab.cli_v4(), 8080));
  Fd ssh(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  ASSERT_TRUE(service.valid() && ssh.valid());
  std::vector<Held> held;
  for (int i = 0; i < kOutgoing + kIncoming; ++i) {
    const bool outgoing = i < kOutgoing;
    Held c{Fd(outgoing ? tcp_connect(lab.srv(), lab.cli_v4(), 8080, 3000ms)
                       : tcp_connect(lab.cli(), lab.srv_v4(), 22, 3000ms)),
           Fd(), outgoing};
    ASSERT_TRUE(c.host.valid()) << "connection " << i;
    Fd accepted(tcp_accept(outgoing ? service.get() : ssh.get(), 3000ms));
    ASSERT_TRUE(accepted.valid()) << "connection " << i;
    if (outgoing) {
      c.peer = std::move(accepted);
    } else {
      c.peer = std::move(c.host);
      c.host = std::move(accepted);
    }
    ASSERT_TRUE(exchange(c, outgoing, "before-" + std::to_string(i))) << "connection " << i;
    held.push_back(std::move(c));
  }

  daemon.signal(SIGKILL);
  daemon.stop();  // reaps it
  std::this_thread::sleep_for(500ms);
  ASSERT_TRUE(daemon.start()) << daemon.daemon_output();
  const auto started = std::chrono::steady_clock::now();

  // Who talks first: the client on half the outgoing ones (its segment arrives first, at the
  // server's ephemeral port) and on 3 of the incoming; the server on the others.
  auto host_first = [](int i) { return i < kOutgoing ? i >= kOutgoing / 2 : i >= kOutgoing + 3; };
  int carried = 0, failed = 0;
  // Bounded: after 3 broken connections the rest is not waited for (a failure already).
  for (int i = 0; i < kOutgoing + kIncoming && failed < 3; ++i) {
    const bool ok =
        exchange(held[static_cast<std::size_t>(i)], host_first(i), "after-" + std::to_string(i));
    carried += ok;
    failed += !ok;
    EXPECT_TRUE(ok) << (i < kOutgoing ? "outgoing " : "incoming ") << i;
  }
  const double pickup_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const RunResult blocked = daemon.cli("--json blocked list");
  std::printf(
      "[pickup] %s: %d of %d connections carried on after SIGKILL and restart (%.2f s); "
      "blocked: %s",
      daemon_keys.substr(0, daemon_keys.find('\n')).c_str(), carried, kOutgoing + kIncoming,
      pickup_s, blocked.output.c_str());
  EXPECT_EQ(nlohmann::json::parse(blocked.output, nullptr, false), nlohmann::json::array())
      << blocked.output;
  EXPECT_FALSE(log_line_with(daemon, {"EVENT=block"}, 0s)) << daemon.log();
  const nlohmann::json s = nlohmann::json::parse(daemon.cli("--json status").output);
  EXPECT_GE(s["conntrack"]["picked_up"].get<long>(), kOutgoing + kIncoming);

  // The grace (4 s) over: the picked-up connections go on, a stray mid-stream ACK does not.
  std::this_thread::sleep_until(started + 4500ms);
  for (int i = 0; i < kOutgoing + kIncoming && failed < 3; ++i) {
    const bool ok =
        exchange(held[static_cast<std::size_t>(i)], !host_first(i), "later-" + std::to_string(i));
    failed += !ok;
    EXPECT_TRUE(ok) << "connection " << i;
  }
  lab.in(lab.cli(), "hping3 -A -c 1 -s 5555 -p 22 " + lab.srv_v4() + " 2>&1");
  EXPECT_TRUE(log_line_with(daemon, {"REASON=invalid", "SPT=5555", "FLAGS=A"}))
      << "pickup ended with its grace\n"
      << daemon.log();
  EXPECT_EQ(daemon.stop(), 0);
}

TEST(Pickup, RestartWithFailOpenKeepsOutgoingAndIncomingConnections) {
  restart_keeps_every_connection("fail_open = true\n");
}

TEST(Pickup, RestartWithFailClosedKeepsOutgoingAndIncomingConnections) {
  restart_keeps_every_connection("fail_open = false\n");
}

TEST(Pickup, RestartWithInspectNewKeepsOutgoingAndIncomingConnections) {
  restart_keeps_every_connection("inspect = \"new\"\n");
}

}  // namespace
}  // namespace portwall::lab
