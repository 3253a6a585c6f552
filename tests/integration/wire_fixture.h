// wire_fixture.h — what the wire tests share: the rule set they run portwalld with, and a
// fixture that gives each test its own lab and daemon.
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "integration/lab.h"

namespace portwall::lab {

inline constexpr const char* kRules = R"(
[defaults]
incoming = "deny"
outgoing = "allow"

[[rule]]
action = "allow"
proto = "tcp"
port = "22"
comment = "ssh"

[[rule]]
action = "allow"
proto = "udp"
port = "5353"

[[rule]]
action = "reject"
proto = "tcp"
port = "113"
)";

// The MAC address of `dev` in namespace `ns` (for frames built by hand, scapy/flood.py).
inline std::string mac_of(const Lab& lab, const std::string& ns, const std::string& dev) {
  const std::string out = lab.in(ns, "cat /sys/class/net/" + dev + "/address").output;
  return out.substr(0, out.find('\n'));
}

// Waits (bounded) until one line of `daemon`'s decision log contains every needle.
inline bool log_line_with(const Daemon& daemon, std::initializer_list<std::string> needles,
                          std::chrono::seconds wait = 5s) {
  for (auto until = std::chrono::steady_clock::now() + wait;
       std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(100ms)) {
    std::istringstream lines(daemon.log());
    std::string line;
    while (std::getline(lines, line)) {
      bool all = true;
      for (const auto& n : needles) all = all && line.find(n) != std::string::npos;
      if (all) return true;
    }
  }
  return false;
}

// What portwalld has received so far (its status' counters.received; 0 if unreadable).
inline std::uint64_t received_packets(const Daemon& daemon) {
  const nlohmann::json s =
      nlohmann::json::parse(daemon.cli("--json status").output, nullptr, false);
  return s.is_discarded() ? 0 : s["counters"]["received"].get<std::uint64_t>();
}

// Connects to address:port from namespace `from` (the client's by default) and accepts on
// `listener`; both ends, or invalid ones.
inline std::pair<Fd, Fd> connect_through(const Lab& lab, const std::string& address, int port,
                                         const Fd& listener,
                                         std::chrono::milliseconds wait = 2000ms,
                                         const std::string& from = "") {
  Fd client(tcp_connect(from.empty() ? lab.cli() : from, address, port, wait));
  Fd server(client.valid() ? tcp_accept(listener.get(), wait) : -1);
  return {std::move(client), std::move(server)};
}

// `data` sent by the connecting end arrives at the accepting one.
inline bool echoes(const std::pair<Fd, Fd>& c, const std::string& data) {
  if (!send_all(c.first.get(), data)) return false;
  auto got = receive(c.second.get(), 2000ms);
  return got && *got == data;
}

class Wire : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(daemon.ready()) << daemon.daemon_output(); }

  nlohmann::json status() {
    const RunResult r = daemon.cli("--json status");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(r.output, nullptr, false);
  }
  // Waits (bounded) until one line of the decision log contains every needle.
  bool log_has(std::initializer_list<std::string> needles, std::chrono::seconds wait = 5s) {
    return log_line_with(daemon, needles, wait);
  }

  Lab lab;
  Daemon daemon{lab, kRules};
};

inline std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace portwall::lab
