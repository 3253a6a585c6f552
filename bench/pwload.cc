// pwload.cc — the traffic of issue 5's harness, bounded in time, from the lab's namespaces.
//   pwload serve PORT                    TCP: accept and echo until SIGTERM (server side)
//   pwload sink PORT                     UDP: count datagrams until SIGTERM, print "received N"
//   pwload conn DST PORT SECONDS INFLIGHT SRC...
//        new TCP connections (connect, handshake, close) with INFLIGHT at once, source
//        addresses round-robin; prints "conn_per_s X"
//   pwload udp DST PORT SECONDS SIZE SRC...  UDP datagrams as fast as possible; "sent N"
//   pwload rr DST PORT COUNT              1-byte request/response on one connection;
//        prints "p50_us X p99_us Y"
//   pwload echo PORT                     UDP: send every datagram back until SIGTERM
//   pwload urr DST PORT SECONDS SRC...   UDP request/response (as DNS): one socket per source
//        address, each with one 64-byte request in flight, numbered (a request unanswered for
//        200 ms is counted lost and the next one sent; a late answer is ignored); prints
//        "rr_per_s X p50_us Y p99_us Z lost N"
//   pwload spoof IFACE DST_MAC DST_IP FIRST_SRC COUNT SECONDS
//        a flood from COUNT forged IPv4 sources (FIRST_SRC and the COUNT-1 after it): each
//        sends a UDP datagram to port 9000 and a TCP SYN to port 8000 in turn, prebuilt
//        Ethernet frames written to IFACE's packet socket as fast as it takes them, for SECONDS;
//        prints "sent N pps X"
#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
std::atomic<bool> stop{false};

sockaddr_in address(const char* ip, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    std::fprintf(stderr, "pwload: bad address %s\n", ip);
    std::exit(2);
  }
  return a;
}

int serve(int port) {
  const int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int on = 1;
  setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in a = address("0.0.0.0", port);
  if (bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) || listen(l, 4096)) return perror("serve"), 1;
  const int ep = epoll_create1(0);
  epoll_event ev{EPOLLIN, {.fd = l}};
  epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev);
  epoll_event events[256];
  char buf[4096];
  while (!stop) {
    const int n = epoll_wait(ep, events, 256, 200);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == l) {
        for (int c; (c = accept4(l, nullptr, nullptr, SOCK_NONBLOCK)) >= 0;) {
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
          epoll_event cev{EPOLLIN, {.fd = c}};
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      const ssize_t r = read(fd, buf, sizeof buf);
      if (r <= 0) {
        close(fd);
      } else if (write(fd, buf, static_cast<std::size_t>(r)) < 0) {
        close(fd);
      }
    }
  }
  return 0;
}

// A UDP socket on `port` of every address, with a receive buffer of `buffer` bytes and reads
// that give up after 200 ms (to see SIGTERM); -1 if the port is taken.
int udp_server(int port, int buffer) {
  const int s = socket(AF_INET, SOCK_DGRAM, 0);
  setsockopt(s, SOL_SOCKET, SO_RCVBUFFORCE, &buffer, sizeof buffer);
  sockaddr_in a = address("0.0.0.0", port);
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a)) return close(s), -1;
  timeval tv{0, 200000};
  setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return s;
}

int sink(int port) {
  const int s = udp_server(port, 32 << 20);
  if (s < 0) return perror("sink"), 1;
  std::uint64_t received = 0;
  char buf[2048];
  while (!stop) {
    mmsghdr msgs[64];
    iovec iov[64];
    static char bufs[64][2048];
    for (int i = 0; i < 64; ++i) {
      iov[i] = {bufs[i], sizeof bufs[i]};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = recvmmsg(s, msgs, 64, 0, nullptr);
    if (n > 0) received += static_cast<std::uint64_t>(n);
  }
  (void)buf;
  std::printf("received %llu\n", static_cast<unsigned long long>(received));
  return 0;
}

int echo(int port) {
  const int s = udp_server(port, 8 << 20);
  if (s < 0) return perror("echo"), 1;
  char buf[2048];
  while (!stop) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    const ssize_t n = recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n > 0) {
      sendto(s, buf, static_cast<std::size_t>(n), 0, reinterpret_cast<sockaddr*>(&from), len);
    }
  }
  return 0;
}

int urr(const char* dst, int port, double seconds, std::vector<std::string> srcs) {
  const sockaddr_in to = address(dst, port);
  const int ep = epoll_create1(0);
  struct Flow {
    int fd;
    Clock::time_point sent;
    std::uint32_t number = 0;  // of the request in flight
  };
  std::vector<Flow> flows;
  char request[64] = {'q'};
  auto ask = [&](Flow& f) {  // the next request, numbered
    ++f.number;
    std::memcpy(request, &f.number, sizeof f.number);
    f.sent = Clock::now();
    send(f.fd, request, sizeof request, 0);
  };
  for (auto& src : srcs) {
    const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
    sockaddr_in f = address(src.c_str(), 0);
    if (bind(fd, reinterpret_cast<sockaddr*>(&f), sizeof f) ||
        connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to)) {
      return perror("urr"), 1;
    }
    epoll_event ev{EPOLLIN, {.u32 = static_cast<std::uint32_t>(flows.size())}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    flows.push_back({fd, Clock::now()});
    ask(flows.back());
  }
  std::vector<double> us;
  std::uint64_t lost = 0;
  const auto t0 = Clock::now();
  const auto until = t0 + std::chrono::duration<double>(seconds);
  epoll_event events[256];
  char buf[2048];
  while (Clock::now() < until) {
    const int n = epoll_wait(ep, events, 256, 50);
    for (int i = 0; i < n; ++i) {
      Flow& f = flows[events[i].data.u32];
      for (ssize_t got; (got = recv(f.fd, buf, sizeof buf, 0)) > 0;) {
        std::uint32_t number = 0;
        if (got >= static_cast<ssize_t>(sizeof number)) std::memcpy(&number, buf, sizeof number);
        if (number != f.number) continue;  // the answer to a request already counted lost
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - f.sent).count());
        ask(f);
      }
    }
    const auto now = Clock::now();
    for (Flow& f : flows) {
      if (now - f.sent > std::chrono::milliseconds(200)) {
        ++lost;
        ask(f);
      }
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  if (us.empty()) return 1;
  std::sort(us.begin(), us.end());
  std::printf("rr_per_s %.0f p50_us %.1f p99_us %.1f lost %llu\n",
              static_cast<double>(us.size()) / elapsed, us[us.size() / 2], us[us.size() * 99 / 100],
              static_cast<unsigned long long>(lost));
  return 0;
}

int conn(const char* dst, int port, double seconds, int inflight, std::vector<std::string> srcs) {
  const sockaddr_in to = address(dst, port);
  std::vector<sockaddr_in> from;
  for (auto& s : srcs) from.push_back(address(s.c_str(), 0));
  const int ep = epoll_create1(0);
  std::size_t next_src = 0;
  std::uint64_t done = 0, failed = 0;
  auto start_one = [&] {
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int on = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    linger hard{1, 0};  // close with RST: no TIME_WAIT piles up on the client
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    sockaddr_in f = from[next_src++ % from.size()];
    bind(fd, reinterpret_cast<sockaddr*>(&f), sizeof f);
    connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    epoll_event ev{EPOLLOUT, {.fd = fd}};
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  };
  for (int i = 0; i < inflight; ++i) start_one();
  const auto t0 = Clock::now();
  const auto until = t0 + std::chrono::duration<double>(seconds);
  epoll_event events[512];
  while (Clock::now() < until) {
    const int n = epoll_wait(ep, events, 512, 100);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      int err = 0;
      socklen_t len = sizeof err;
      getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      (err == 0 ? done : failed) += 1;
      close(fd);
      start_one();
    }
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - t0).count();
  std::printf("conn_per_s %.0f failed %llu\n", static_cast<double>(done) / elapsed,
              static_cast<unsigned long long>(failed));
  return 0;
}

int udp(const char* dst, int port, double seconds, int size, std::vector<std::string> srcs) {
  const sockaddr_in to = address(dst, port);
  std::vector<int> socks;
  for (auto& s : srcs) {
    const int fd = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in f = address(s.c_str(), 0);
    bind(fd, reinterpret_cast<sockaddr*>(&f), sizeof f);
    connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    socks.push_back(fd);
  }
  std::vector<char> payload(static_cast<std::size_t>(size), 'x');
  std::uint64_t sent = 0;
  const auto until = Clock::now() + std::chrono::duration<double>(seconds);
  mmsghdr msgs[32];
  iovec iov{payload.data(), payload.size()};
  for (auto& m : msgs) {
    m = {};
    m.msg_hdr.msg_iov = &iov;
    m.msg_hdr.msg_iovlen = 1;
  }
  std::size_t k = 0;
  while (Clock::now() < until) {
    const int n = sendmmsg(socks[k++ % socks.size()], msgs, 32, 0);
    if (n > 0) sent += static_cast<std::uint64_t>(n);
  }
  std::printf("sent %llu\n", static_cast<unsigned long long>(sent));
  return 0;
}

int rr(const char* dst, int port, int count) {
  const sockaddr_in to = address(dst, port);
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  int on = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  timeval tv{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to)) return perror("rr"), 1;
  std::vector<double> us;
  char c = 'x';
  for (int i = 0; i < count; ++i) {
    const auto t = Clock::now();
    if (write(fd, &c, 1) != 1 || read(fd, &c, 1) != 1) break;
    us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t).count());
  }
  if (us.empty()) return 1;
  std::sort(us.begin(), us.end());
  std::printf("p50_us %.1f p99_us %.1f\n", us[us.size() / 2], us[us.size() * 99 / 100]);
  return 0;
}

std::uint16_t checksum(const void* data, std::size_t length, std::uint32_t sum = 0) {
  const auto* p = static_cast<const std::uint8_t*>(data);
  for (std::size_t i = 0; i + 1 < length; i += 2)
    sum += static_cast<std::uint32_t>(p[i] << 8 | p[i + 1]);
  if (length & 1) sum += static_cast<std::uint32_t>(p[length - 1] << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return htons(static_cast<std::uint16_t>(~sum));
}

// One Ethernet frame from `src` to `dst`: a 64-byte UDP datagram to port 9000, or a TCP SYN to
// port 8000, with valid IP and L4 checksums.
std::vector<std::uint8_t> forged_frame(const std::uint8_t* src_mac, const std::uint8_t* dst_mac,
                                       in_addr src, in_addr dst, bool syn, std::uint16_t sport) {
  const std::size_t l4 = syn ? sizeof(tcphdr) : sizeof(udphdr) + 64;
  std::vector<std::uint8_t> f(sizeof(ether_header) + sizeof(iphdr) + l4);
  auto* eth = reinterpret_cast<ether_header*>(f.data());
  std::memcpy(eth->ether_dhost, dst_mac, 6);
  std::memcpy(eth->ether_shost, src_mac, 6);
  eth->ether_type = htons(ETHERTYPE_IP);
  auto* ip = reinterpret_cast<iphdr*>(f.data() + sizeof(ether_header));
  ip->version = 4;
  ip->ihl = 5;
  ip->ttl = 64;
  ip->tot_len = htons(static_cast<std::uint16_t>(sizeof(iphdr) + l4));
  ip->protocol = syn ? IPPROTO_TCP : IPPROTO_UDP;
  ip->saddr = src.s_addr;
  ip->daddr = dst.s_addr;
  ip->check = checksum(ip, sizeof(iphdr));
  std::uint8_t* body = f.data() + sizeof(ether_header) + sizeof(iphdr);
  // The pseudo-header's sum: addresses, protocol, length.
  std::uint32_t pseudo = 0;
  for (std::uint32_t a : {ntohl(src.s_addr), ntohl(dst.s_addr)}) pseudo += (a >> 16) + (a & 0xffff);
  pseudo += ip->protocol + static_cast<std::uint32_t>(l4);
  if (syn) {
    auto* t = reinterpret_cast<tcphdr*>(body);
    t->source = htons(sport);
    t->dest = htons(8000);
    t->seq = htonl(0x1000u + sport);
    t->doff = 5;
    t->syn = 1;
    t->window = htons(64240);
    t->check = checksum(body, l4, pseudo);
  } else {
    auto* u = reinterpret_cast<udphdr*>(body);
    u->source = htons(sport);
    u->dest = htons(9000);
    u->len = htons(static_cast<std::uint16_t>(l4));
    u->check = checksum(body, l4, pseudo);
  }
  return f;
}

int spoof(const char* iface, const char* dst_mac_text, const char* dst_ip, const char* first_src,
          int count, double seconds) {
  const int s = socket(AF_PACKET, SOCK_RAW, htons(ETH_P_IP));
  if (s < 0) return perror("spoof: packet socket"), 1;
  int on = 1;
  setsockopt(s, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on);
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", iface);
  if (ioctl(s, SIOCGIFHWADDR, &ifr) < 0) return perror("spoof: interface"), 1;
  std::uint8_t src_mac[6], dst_mac[6];
  std::memcpy(src_mac, ifr.ifr_hwaddr.sa_data, 6);
  if (std::sscanf(dst_mac_text, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &dst_mac[0], &dst_mac[1],
                  &dst_mac[2], &dst_mac[3], &dst_mac[4], &dst_mac[5]) != 6) {
    std::fprintf(stderr, "pwload: bad MAC %s\n", dst_mac_text);
    return 2;
  }
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(if_nametoindex(iface));
  to.sll_halen = 6;
  std::memcpy(to.sll_addr, dst_mac, 6);
  const in_addr dst = address(dst_ip, 0).sin_addr;
  const std::uint32_t first = ntohl(address(first_src, 0).sin_addr.s_addr);
  std::vector<std::vector<std::uint8_t>> frames;
  for (int i = 0; i < count; ++i) {
    const in_addr src{htonl(first + static_cast<std::uint32_t>(i))};
    for (bool syn : {false, true}) {
      frames.push_back(forged_frame(src_mac, dst_mac, src, dst, syn,
                                    static_cast<std::uint16_t>(20000 + i % 40000)));
    }
  }
  constexpr std::size_t kBatch = 64;
  std::vector<mmsghdr> msgs(kBatch);
  std::vector<iovec> iov(kBatch);
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock::now();
  std::uint64_t sent = 0;
  std::size_t next = 0;
  while (!stop && Clock::now() < end) {
    for (std::size_t i = 0; i < kBatch; ++i, next = (next + 1) % frames.size()) {
      iov[i] = {frames[next].data(), frames[next].size()};
      msgs[i].msg_hdr = {};
      msgs[i].msg_hdr.msg_name = &to;
      msgs[i].msg_hdr.msg_namelen = sizeof to;
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    const int n = sendmmsg(s, msgs.data(), kBatch, 0);
    if (n > 0) sent += static_cast<std::uint64_t>(n);
  }
  const double took = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf("sent %llu pps %.0f\n", static_cast<unsigned long long>(sent), sent / took);
  close(s);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  signal(SIGTERM, [](int) { stop = true; });
  signal(SIGINT, [](int) { stop = true; });
  signal(SIGPIPE, SIG_IGN);
  const std::string mode = argc > 1 ? argv[1] : "";
  std::vector<std::string> rest(argv + std::min(argc, 2), argv + argc);
  auto srcs = [&](std::size_t from) {
    return std::vector<std::string>(rest.begin() + static_cast<long>(std::min(from, rest.size())), rest.end());
  };
  if (mode == "serve" && rest.size() == 1) return serve(std::atoi(rest[0].c_str()));
  if (mode == "sink" && rest.size() == 1) return sink(std::atoi(rest[0].c_str()));
  if (mode == "echo" && rest.size() == 1) return echo(std::atoi(rest[0].c_str()));
  if (mode == "urr" && rest.size() >= 4) {
    return urr(rest[0].c_str(), std::atoi(rest[1].c_str()), std::atof(rest[2].c_str()), srcs(3));
  }
  if (mode == "conn" && rest.size() >= 5) {
    return conn(rest[0].c_str(), std::atoi(rest[1].c_str()), std::atof(rest[2].c_str()),
                std::atoi(rest[3].c_str()), srcs(4));
  }
  if (mode == "udp" && rest.size() >= 5) {
    return udp(rest[0].c_str(), std::atoi(rest[1].c_str()), std::atof(rest[2].c_str()),
               std::atoi(rest[3].c_str()), srcs(4));
  }
  if (mode == "spoof" && rest.size() == 6) {
    return spoof(rest[0].c_str(), rest[1].c_str(), rest[2].c_str(), rest[3].c_str(),
                 std::atoi(rest[4].c_str()), std::atof(rest[5].c_str()));
  }
  if (mode == "rr" && rest.size() == 3) {
    return rr(rest[0].c_str(), std::atoi(rest[1].c_str()), std::atoi(rest[2].c_str()));
  }
  std::fprintf(stderr, "usage: see the top of bench/pwload.cc\n");
  return 2;
}
