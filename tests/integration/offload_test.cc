// offload_test.cc — inspect = "new" on the wire: once a connection is established and judged,
// the kernel passes the rest of it (connmark offload) and portwalld stops seeing its packets;
// a block still ends it.
#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

std::uint64_t received(const Daemon& daemon) {
  const RunResult r = daemon.cli("--json status");
  const nlohmann::json s = nlohmann::json::parse(r.output, nullptr, false);
  return s.is_discarded() ? 0 : s["counters"]["received"].get<std::uint64_t>();
}

TEST(InspectNew, EstablishedConnectionsBypassTheQueueAndABlockStillEndsThem) {
  Lab lab;
  Daemon daemon(lab, kRules, "inspect = \"new\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd listener(tcp_listen(lab.srv(), lab.srv_v4(), 22));
  Fd client(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms));
  ASSERT_TRUE(client.valid());
  Fd server(tcp_accept(listener.get(), 2000ms));
  ASSERT_TRUE(server.valid());
  // A few exchanges settle the connection (established both ways), then it is offloaded.
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(send_all(client.get(), "ping"));
    ASSERT_EQ(receive(server.get(), 2000ms), "ping");
    ASSERT_TRUE(send_all(server.get(), "pong"));
    ASSERT_EQ(receive(client.get(), 2000ms), "pong");
  }
  const std::uint64_t before = received(daemon);
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(send_all(client.get(), std::string(1000, 'x')));
    std::string got;
    while (got.size() < 1000) {
      auto part = receive(server.get(), 2000ms);
      ASSERT_TRUE(part) << "message " << i;
      got += *part;
    }
    ASSERT_TRUE(send_all(server.get(), "k"));
    ASSERT_EQ(receive(client.get(), 2000ms), "k");
  }
  const std::uint64_t seen = received(daemon) - before;
  EXPECT_LT(seen, 40u) << "400+ packets went by; portwalld saw " << seen;
  EXPECT_TRUE(has_offload_accept(diversion_rules(lab))) << diversion_rules(lab);

  // New connections are still judged: a denied port stays closed, ssh opens.
  EXPECT_FALSE(Fd(tcp_connect(lab.cli(), lab.srv_v4(), 8080, 1000ms)).valid());
  EXPECT_TRUE(Fd(tcp_connect(lab.cli(), lab.srv_v4(), 22, 2000ms)).valid());

  // A block ends the offloaded connection: what the client sends no longer arrives.
  ASSERT_EQ(daemon.cli("blocked add " + lab.cli_v4()).exit_code, 0);
  std::this_thread::sleep_for(300ms);
  send_all(client.get(), "after the block");
  EXPECT_FALSE(receive(server.get(), 1500ms)) << "the offloaded connection goes on";
  // Lifted again, the connection resumes: its next packet is picked up mid-stream.
  ASSERT_EQ(daemon.cli("blocked remove " + lab.cli_v4()).exit_code, 0);
  std::optional<std::string> resumed;
  for (int i = 0; i < 10 && !resumed; ++i) resumed = receive(server.get(), 1000ms);
  EXPECT_TRUE(resumed) << "TCP retransmits the data once the block is lifted";
}

}  // namespace
}  // namespace portwall::lab
