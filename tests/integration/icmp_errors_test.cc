// icmp_errors_test.cc — issue 16, point 1: ICMP errors are judged against their flow, whatever
// queue they arrive on. The kernel's queue-balance hash is over the addresses and the protocol,
// so an ICMP error about a TCP or UDP flow (other protocol, often another sender) lands on any
// of the queues. Behind a router whose onward link has MTU 1280, with 16 client addresses per
// family (so that flows meet both queues, not by luck), against portwalld with two queues:
//   (a) path MTU discovery works: 4 MiB from the server to every client completes, IPv4 (DF)
//       and IPv6, and the server has learned the path MTU of 1280;
//   (b) UDP to a closed port of each client gets ECONNREFUSED (the client's port unreachable);
//   (c) a traceroute-style probe (TTL / hop limit 1) gets the router's time exceeded back.
#include <time.h>  // before linux/errqueue.h, which uses timespec
// clang-format off
#include <linux/errqueue.h>
// clang-format on
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "integration/wire_fixture.h"

namespace portwall::lab {
namespace {

constexpr int kClients = 16;
constexpr std::size_t kTransfer = 4 << 20;

// A numeric address and port as a socket address.
sockaddr_storage socket_address(const std::string& address, int port, socklen_t* len) {
  sockaddr_storage ss{};
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* ai = nullptr;
  if (getaddrinfo(address.c_str(), std::to_string(port).c_str(), &hints, &ai) != 0) {
    throw std::runtime_error("bad address " + address);
  }
  std::memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
  *len = ai->ai_addrlen;
  freeaddrinfo(ai);
  return ss;
}

// The lab's server, then a router, then the far clients:
//   NAME-srv srv3 (1500) --- rtr0 (1500) NAME-rtr rtr1 (1280) --- far0 (1500) NAME-far
// 10.200.250.0/24 and fd00:200:250::/64 between server and router, 10.200.251.0/24 and
// fd00:200:251::/64 beyond (outside every Lab's 10.200.N.0/24, N < 210). The far clients'
// own link allows 1500, so they advertise an MSS of 1460: only the router's "fragmentation
// needed" / "packet too big" tells the server that 1280 is the most the path carries.
class RoutedClients {
 public:
  explicit RoutedClients(const Lab& lab)
      : lab_(lab), rtr_(lab.name() + "-rtr"), far_(lab.name() + "-far") {
    const std::string srv = lab.srv();
    std::vector<std::string> steps = {
        "ip netns add " + rtr_,
        "ip netns add " + far_,
        "ip link add srv3 netns " + srv + " type veth peer name rtr0 netns " + rtr_,
        "ip link add rtr1 netns " + rtr_ + " type veth peer name far0 netns " + far_,
        "ip -n " + rtr_ + " link set rtr1 mtu 1280",
        "ip -n " + srv + " addr add 10.200.250.1/24 dev srv3",
        "ip -n " + srv + " addr add fd00:200:250::1/64 dev srv3 nodad",
        "ip -n " + rtr_ + " addr add 10.200.250.2/24 dev rtr0",
        "ip -n " + rtr_ + " addr add fd00:200:250::2/64 dev rtr0 nodad",
        "ip -n " + rtr_ + " addr add 10.200.251.1/24 dev rtr1",
        "ip -n " + rtr_ + " addr add fd00:200:251::1/64 dev rtr1 nodad",
        "ip -n " + srv + " link set srv3 up",
        "ip -n " + rtr_ + " link set lo up",
        "ip -n " + rtr_ + " link set rtr0 up",
        "ip -n " + rtr_ + " link set rtr1 up",
        "ip -n " + far_ + " link set lo up",
        "ip -n " + far_ + " link set far0 up",
        "ip -n " + srv + " route add 10.200.251.0/24 via 10.200.250.2",
        "ip -n " + srv + " -6 route add fd00:200:251::/64 via fd00:200:250::2",
        "ip netns exec " + rtr_ + " sysctl -qw net.ipv4.ip_forward=1",
        "ip netns exec " + rtr_ + " sysctl -qw net.ipv6.conf.all.forwarding=1",
        // Every error answered, none rate-limited away (the test counts them).
        "ip netns exec " + rtr_ + " sysctl -qw net.ipv4.icmp_ratelimit=0",
        "ip netns exec " + rtr_ + " sysctl -qw net.ipv6.icmp.ratelimit=0",
        "ip netns exec " + far_ + " sysctl -qw net.ipv4.icmp_ratelimit=0",
        "ip netns exec " + far_ + " sysctl -qw net.ipv6.icmp.ratelimit=0",
    };
    for (int i = 0; i < kClients; ++i) {
      v4_.push_back("10.200.251." + std::to_string(10 + i));
      v6_.push_back("fd00:200:251::" + std::to_string(10 + i));
      steps.push_back("ip -n " + far_ + " addr add " + v4_.back() + "/24 dev far0");
      steps.push_back("ip -n " + far_ + " addr add " + v6_.back() + "/64 dev far0 nodad");
    }
    steps.push_back("ip -n " + far_ + " route add default via 10.200.251.1");
    steps.push_back("ip -n " + far_ + " -6 route add default via fd00:200:251::1");
    for (const std::string& step : steps) {
      const RunResult r = run(step);
      if (r.exit_code != 0) {
        remove();  // a constructor that throws runs no destructor
        throw std::runtime_error(step + ": " + r.output);
      }
    }
  }
  ~RoutedClients() { remove(); }
  const std::string& far() const { return far_; }
  const std::vector<std::string>& v4() const { return v4_; }
  const std::vector<std::string>& v6() const { return v6_; }
  static std::string server(bool v6) { return v6 ? "fd00:200:250::1" : "10.200.250.1"; }
  // The path MTU the server has learned toward `address` (ip route get's "mtu N"), or 0.
  int learned_mtu(const std::string& address) const {
    const std::string out = lab_.in(lab_.srv(), "ip route get " + address).output;
    const std::size_t at = out.find(" mtu ");
    return at == std::string::npos ? 0 : std::atoi(out.c_str() + at + 5);
  }

 private:
  void remove() {
    run("ip netns del " + far_);
    run("ip netns del " + rtr_);
  }
  const Lab& lab_;
  std::string rtr_, far_;
  std::vector<std::string> v4_, v6_;
};

struct TwoQueues : public ::testing::Test {
  void SetUp() override { ASSERT_TRUE(daemon.ready()) << daemon.daemon_output(); }
  // The decision log's drops of ICMP errors (expected: none).
  std::string dropped_errors() const {
    std::string out;
    std::istringstream lines(daemon.log());
    for (std::string line; std::getline(lines, line);) {
      if (line.find("ACTION=DROP") != std::string::npos &&
          line.find("PROTO=ICMP") != std::string::npos) {
        out += line + "\n";
      }
    }
    return out;
  }
  Lab lab;
  RoutedClients far{lab};
  Daemon daemon{lab, kRules};  // queues 100 and 101
};

// (a) 4 MiB from the server to each of 32 far clients (16 per family) at once, each bounded by
// 30 s: without the router's errors the server's full-size segments are lost for good.
TEST_F(TwoQueues, PathMtuDiscoveryWorksForEveryFlowBehindASmallerLink) {
  Fd listen4(tcp_listen(lab.srv(), RoutedClients::server(false), 22));
  Fd listen6(tcp_listen(lab.srv(), RoutedClients::server(true), 22));
  ASSERT_TRUE(listen4.valid() && listen6.valid());
  std::atomic<bool> done{false};
  std::vector<std::thread> senders;
  std::mutex senders_mutex;
  auto serve = [&](int listener) {
    for (int accepted = 0; !done && accepted < kClients;) {
      const int fd = tcp_accept(listener, 100ms);
      if (fd < 0) continue;
      ++accepted;
      std::lock_guard<std::mutex> lock(senders_mutex);
      senders.emplace_back([fd] {
        const timeval limit{30, 0};
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        send_all(fd, std::string(kTransfer, 'x'));
        close(fd);
      });
    }
  };
  std::thread accept4(serve, listen4.get()), accept6(serve, listen6.get());

  struct Result {
    std::string client;
    std::size_t bytes = 0;
    double seconds = 0;
  };
  std::vector<Result> results(2 * kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < 2 * kClients; ++i) {
    clients.emplace_back([&, i] {
      const bool v6 = i >= kClients;
      Result& r = results[static_cast<std::size_t>(i)];
      r.client = v6 ? far.v6()[i - kClients] : far.v4()[i];
      const auto start = std::chrono::steady_clock::now();
      Fd c(tcp_connect(far.far(), RoutedClients::server(v6), 22, 5000ms, nullptr, r.client));
      if (!c.valid()) return;
      const auto until = start + 30s;
      std::vector<char> buf(1 << 16);
      while (r.bytes < kTransfer && std::chrono::steady_clock::now() < until) {
        pollfd p{c.get(), POLLIN, 0};
        if (poll(&p, 1, 200) != 1) continue;
        const ssize_t n = recv(c.get(), buf.data(), buf.size(), 0);
        if (n <= 0) break;
        r.bytes += static_cast<std::size_t>(n);
      }
      r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    });
  }
  for (auto& t : clients) t.join();
  done = true;
  accept4.join();
  accept6.join();
  for (auto& t : senders) t.join();

  int complete = 0;
  double slowest = 0, total = 0;
  for (const Result& r : results) {
    complete += r.bytes == kTransfer;
    slowest = std::max(slowest, r.seconds);
    total += r.seconds;
    EXPECT_EQ(r.bytes, kTransfer) << r.client << " stalled after " << r.seconds << " s";
    EXPECT_EQ(far.learned_mtu(r.client), 1280) << "the server learned the path MTU to " << r.client;
  }
  std::printf("[pmtu] %d of %d transfers of 4 MiB complete; mean %.2f s, slowest %.2f s\n",
              complete, 2 * kClients, total / (2 * kClients), slowest);
  EXPECT_EQ(dropped_errors(), "");
}

// (b) A connected UDP socket's datagram to a closed port of each far client: the client's port
// unreachable comes back to the socket as ECONNREFUSED.
TEST_F(TwoQueues, UdpToAClosedPortGetsConnectionRefusedFromEveryClient) {
  // Each path's neighbours resolved first: a first contact's lost neighbour solicitation costs
  // a 1 s retransmission per hop, which once made a 2 s wait too short in CI (31 of 32).
  for (bool v6 : {false, true}) {
    for (const std::string& client : v6 ? far.v6() : far.v4()) {
      lab.in(lab.srv(), "ping -c 1 -W 3 -I " + RoutedClients::server(v6) + " " + client, 10s);
    }
  }
  int refused = 0, tried = 0;
  for (bool v6 : {false, true}) {
    for (const std::string& client : v6 ? far.v6() : far.v4()) {
      Fd s(udp_bind(lab.srv(), RoutedClients::server(v6), 0));
      ASSERT_TRUE(s.valid());
      // A closed port of the client: nothing listens on 9 (discard) there.
      socklen_t len;
      sockaddr_storage to = socket_address(client, 9, &len);
      ASSERT_EQ(connect(s.get(), reinterpret_cast<sockaddr*>(&to), len), 0);
      ++tried;
      ASSERT_EQ(send(s.get(), "probe", 5, 0), 5);
      pollfd p{s.get(), POLLIN | POLLERR, 0};
      char buf[16];
      const bool answered = poll(&p, 1, 2000) == 1;
      const bool got_refused =
          answered && recv(s.get(), buf, sizeof buf, 0) < 0 && errno == ECONNREFUSED;
      refused += got_refused;
      EXPECT_TRUE(got_refused) << client << ": no ECONNREFUSED within 2 s";
    }
  }
  std::printf("[port-unreachable] ECONNREFUSED for %d of %d datagrams\n", refused, tried);
  EXPECT_EQ(dropped_errors(), "");
}

// (c) Probes with TTL (hop limit) 1 toward each far client: the router's time exceeded reaches
// the probing socket's error queue, as traceroute reads it.
TEST_F(TwoQueues, TtlExpiredAnswersReachAnOutboundProbe) {
  int answered = 0, tried = 0;
  for (bool v6 : {false, true}) {
    for (int i = 0; i < kClients; ++i) {
      const std::string client = v6 ? far.v6()[i] : far.v4()[i];
      Fd s(udp_bind(lab.srv(), RoutedClients::server(v6), 0));
      ASSERT_TRUE(s.valid());
      const int one = 1;
      if (v6) {
        setsockopt(s.get(), IPPROTO_IPV6, IPV6_UNICAST_HOPS, &one, sizeof one);
        setsockopt(s.get(), IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof one);
      } else {
        setsockopt(s.get(), IPPROTO_IP, IP_TTL, &one, sizeof one);
        setsockopt(s.get(), IPPROTO_IP, IP_RECVERR, &one, sizeof one);
      }
      ++tried;
      // traceroute's ports: 33434 and up, one per probe.
      socklen_t len;
      const sockaddr_storage to = socket_address(client, 33434 + i, &len);
      ASSERT_EQ(sendto(s.get(), "probe", 5, 0, reinterpret_cast<const sockaddr*>(&to), len), 5);
      bool got = false;
      for (auto until = std::chrono::steady_clock::now() + 2s;
           !got && std::chrono::steady_clock::now() < until;) {
        pollfd p{s.get(), POLLERR, 0};
        if (poll(&p, 1, 100) != 1) continue;
        char data[64], control[512];
        iovec iov{data, sizeof data};
        msghdr m{};
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_control = control;
        m.msg_controllen = sizeof control;
        if (recvmsg(s.get(), &m, MSG_ERRQUEUE) < 0) continue;
        for (cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
          const auto* e = reinterpret_cast<const sock_extended_err*>(CMSG_DATA(c));
          got = got || (v6 ? e->ee_origin == SO_EE_ORIGIN_ICMP6 && e->ee_type == 3
                           : e->ee_origin == SO_EE_ORIGIN_ICMP && e->ee_type == 11);
        }
      }
      answered += got;
      EXPECT_TRUE(got) << client << ": no time exceeded within 2 s";
    }
  }
  std::printf("[time-exceeded] answered %d of %d probes\n", answered, tried);
  EXPECT_EQ(dropped_errors(), "");
}

}  // namespace
}  // namespace portwall::lab
