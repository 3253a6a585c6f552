// offload_test.cc — inspect = "new" on the wire: once a connection is established and judged
// (TCP), or a UDP flow has been answered, the kernel passes the rest of it (connmark offload)
// and portwalld stops seeing its packets; a block still ends it.
#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

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
  const std::uint64_t before = received_packets(daemon);
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
  const std::uint64_t seen = received_packets(daemon) - before;
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

// UDP as DNS uses it: a request and its answer settle the flow and the rest of it goes by
// unseen; one-way UDP never settles (nothing answered it) and every datagram stays inspected.
TEST(InspectNew, AnsweredUdpBypassesTheQueueOneWayUdpDoesNotAndABlockEndsIt) {
  Lab lab;
  Daemon daemon(lab, kRules, "inspect = \"new\"\n");
  ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
  Fd server(udp_bind(lab.srv(), lab.srv_v4(), 5353));
  Fd client(udp_connect(lab.cli(), lab.cli_v4(), lab.srv_v4(), 5353));
  ASSERT_TRUE(server.valid() && client.valid());
  auto exchange = [&](const std::string& what) {
    return send_all(client.get(), what) && udp_echo_one(server.get(), 2000ms) &&
           receive(client.get(), 2000ms) == what;
  };
  ASSERT_TRUE(exchange("first"));  // the request is judged; the answer settles the flow
  const std::uint64_t before = received_packets(daemon);
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(exchange("query " + std::to_string(i))) << i;
  const std::uint64_t seen = received_packets(daemon) - before;
  EXPECT_LT(seen, 40u) << "400 datagrams went by; portwalld saw " << seen;

  // One-way: 100 datagrams to the same port from another flow, never answered.
  Fd one_way(udp_connect(lab.cli(), lab.cli_v4(), lab.srv_v4(), 5353));
  ASSERT_TRUE(one_way.valid());
  const std::uint64_t before_one_way = received_packets(daemon);
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(send_all(one_way.get(), "log line"));
  std::uint64_t one_way_seen = 0;
  for (int i = 0; i < 20 && one_way_seen < 100; ++i) {
    std::this_thread::sleep_for(100ms);
    one_way_seen = received_packets(daemon) - before_one_way;
  }
  EXPECT_GE(one_way_seen, 100u) << "one-way UDP must stay inspected";
  while (receive(server.get(), 200ms)) {
  }

  // A block ends the offloaded flow: the client's next requests no longer arrive.
  ASSERT_EQ(daemon.cli("blocked add " + lab.cli_v4()).exit_code, 0);
  std::this_thread::sleep_for(300ms);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(send_all(client.get(), "after the block"));
  for (auto got = receive(server.get(), 1500ms); got; got = receive(server.get(), 500ms)) {
    EXPECT_NE(*got, "after the block") << "the offloaded UDP flow goes on";
  }
  // Lifted again, the host answers a new flow from that client.
  ASSERT_EQ(daemon.cli("blocked remove " + lab.cli_v4()).exit_code, 0);
  Fd again(udp_connect(lab.cli(), lab.cli_v4(), lab.srv_v4(), 5353));
  ASSERT_TRUE(again.valid());
  ASSERT_TRUE(send_all(again.get(), "lifted"));
  EXPECT_TRUE(udp_echo_one(server.get(), 2000ms));
  EXPECT_EQ(receive(again.get(), 2000ms), "lifted");
}

}  // namespace
}  // namespace portwall::lab
