// ports_test.cc — issue 8, `portwall ports`: listeners of several kinds in the server namespace,
// reported with their process and who the rules let reach them.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

// kRules (22/tcp, 5353/udp allowed, 113/tcp rejected), then 9999/tcp for everyone (nothing
// listens there) and 5432/tcp from 10.0.0.0/8 only.
const std::string kPortsRules = std::string(kRules) + R"(
[[rule]]
action = "allow"
proto = "tcp"
port = "9999"

[[rule]]
action = "allow"
proto = "tcp"
port = "5432"
from = "10.0.0.0/8"
)";

// A TCP listener on 0.0.0.0:port with SO_REUSEPORT, in `netns`.
Fd reuseport_listener(const std::string& netns, int port) {
  NetnsScope in(netns);
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd.get(), 4) != 0) {
    return Fd();
  }
  return fd;
}

const nlohmann::json* find_socket(const nlohmann::json& report, const std::string& proto,
                                  const std::string& address, int port) {
  for (const nlohmann::json& s : report["listening"]) {
    if (s["proto"] == proto && s["address"] == address && s["port"] == port) return &s;
  }
  return nullptr;
}

TEST(Ports, ListenersAreReportedWithTheirProcessAndWhoTheRulesLetReachThem) {
  Lab lab;
  Daemon daemon(lab, kPortsRules);
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd ssh(tcp_listen(lab.srv(), "0.0.0.0", 22));
  Fd mdns(udp_bind(lab.srv(), "::", 5353));
  Fd db(tcp_listen(lab.srv(), "0.0.0.0", 5432));
  Fd mysql(tcp_listen(lab.srv(), lab.srv_v4(), 3306));
  Fd ident(tcp_listen(lab.srv(), "0.0.0.0", 113));
  Fd cups(tcp_listen(lab.srv(), "127.0.0.1", 631));
  Fd web1 = reuseport_listener(lab.srv(), 8080);
  Fd web2 = reuseport_listener(lab.srv(), 8080);
  for (const Fd* fd : {&ssh, &mdns, &db, &mysql, &ident, &cups, &web1, &web2}) {
    ASSERT_TRUE(fd->valid());
  }

  const std::string ports =
      std::string(PORTWALL_BIN) + " ports --config " + daemon.dir() + "/portwall.toml";
  const RunResult text = lab.in(lab.srv(), ports);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  std::printf("[ports]\n%s", text.output.c_str());
  const RunResult json_run =
      lab.in(lab.srv(), std::string(PORTWALL_BIN) + " --json" + ports.substr(ports.find(" ports")));
  ASSERT_EQ(json_run.exit_code, 0) << json_run.output;
  const nlohmann::json report = nlohmann::json::parse(json_run.output);
  EXPECT_EQ(report["listening"].size(), 8u) << report.dump(1);

  struct Want {
    const char* proto;
    std::string address;
    int port;
    const char* reach;
    nlohmann::json rule;
    const char* service;
  };
  for (const Want& w :
       std::initializer_list<Want>{{"tcp", "0.0.0.0", 22, "everyone", 1, "ssh"},
                                   {"udp", "::", 5353, "everyone", 2, "mdns"},
                                   {"tcp", "0.0.0.0", 5432, "some sources", nullptr, "postgresql"},
                                   {"tcp", lab.srv_v4(), 3306, "nobody", nullptr, "mysql"},
                                   {"tcp", "0.0.0.0", 113, "nobody", 3, "auth"},
                                   {"tcp", "127.0.0.1", 631, "this host", nullptr, "ipp"},
                                   {"tcp", "0.0.0.0", 8080, "nobody", nullptr, "http-alt"}}) {
    const nlohmann::json* s = find_socket(report, w.proto, w.address, w.port);
    ASSERT_NE(s, nullptr) << w.proto << " " << w.address << ":" << w.port << "\n" << report.dump(1);
    EXPECT_EQ((*s)["reach"], w.reach) << s->dump();
    EXPECT_EQ((*s)["rule"], w.rule) << s->dump();
    EXPECT_EQ((*s)["service"], w.service) << s->dump();
    // The owner is this test process.
    ASSERT_EQ((*s)["processes"].size(), 1u) << s->dump();
    EXPECT_EQ((*s)["processes"][0]["pid"], getpid()) << s->dump();
  }
  EXPECT_EQ((*find_socket(report, "tcp", "0.0.0.0", 5432))["from"], "10.0.0.0/8");
  EXPECT_EQ((*find_socket(report, "tcp", "0.0.0.0", 22))["class"], "well-known");

  // 9999 is allowed with nothing behind it; 8080's two sockets form one SO_REUSEPORT group.
  ASSERT_EQ(report["allowed_without_listener"].size(), 1u) << report.dump(1);
  EXPECT_EQ(report["allowed_without_listener"][0]["rule"], 4);
  ASSERT_EQ(report["shared"].size(), 1u) << report.dump(1);
  EXPECT_EQ(report["shared"][0]["port"], 8080);
  EXPECT_EQ(report["shared"][0]["kind"], "SO_REUSEPORT group");
  EXPECT_EQ(report["shared"][0]["sockets"].size(), 2u);
  EXPECT_EQ(report["policy_from"], "portwalld");
  EXPECT_NE(text.output.find("Policy: the running portwalld's"), std::string::npos) << text.output;

  // Issue 18: ports read the files even with portwalld running (and ignored --socket). A rule
  // written to the file but not loaded is not in force: the daemon's answer leaves 3306 closed;
  // once portwalld is gone the files are what there is, and the report says so.
  std::ofstream(daemon.dir() + "/rules.toml", std::ios::app)
      << "\n[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"3306\"\n";
  auto mysql_reach = [&](const std::string& from) {
    const RunResult r = lab.in(lab.srv(), std::string(PORTWALL_BIN) + " --json --socket " +
                                              daemon.dir() + "/portwall.sock" +
                                              ports.substr(ports.find(" ports")));
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const nlohmann::json j = nlohmann::json::parse(r.output, nullptr, false);
    EXPECT_EQ(j["policy_from"], from) << r.output;
    const nlohmann::json* s = find_socket(j, "tcp", lab.srv_v4(), 3306);
    return s ? (*s)["reach"].get<std::string>() : std::string("absent");
  };
  EXPECT_EQ(mysql_reach("portwalld"), "nobody");
  ASSERT_EQ(daemon.stop(), 0);
  EXPECT_EQ(mysql_reach("files"), "everyone");
}

}  // namespace
}  // namespace portwall::lab
