// nfq_accept.cc — the ceiling of issue 5's harness: the least a userspace NFQUEUE program can
// do, accept every packet, with the same I/O as portwalld (libmnl, batched receive and
// verdicts, a small copy range, a large receive buffer), one thread per queue.
//   nfq_accept QUEUE...      runs until SIGTERM/SIGINT, then prints "received N";
//                            SIGUSR1 prints the running count the same way
#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "netfilter/nfqueue.h"

namespace {

std::atomic<bool> stop{false};
std::atomic<bool> report{false};

class AcceptAll final : public portwall::PacketHandler {
 public:
  portwall::PacketVerdict on_packet(const portwall::QueuedPacket&) override {
    return portwall::Verdict::accept;
  }
};

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: nfq_accept QUEUE...\n");
    return 2;
  }
  signal(SIGTERM, [](int) { stop = true; });
  signal(SIGINT, [](int) { stop = true; });
  signal(SIGUSR1, [](int) { report = true; });
  portwall::NfQueueOptions options;
  options.fail_open = false;  // the harness counts every packet: nothing may pass unseen
  options.copy_range = 128;
  std::vector<std::unique_ptr<portwall::NfQueue>> queues;
  for (int i = 1; i < argc; ++i) {
    auto q = portwall::NfQueue::open(static_cast<std::uint16_t>(std::atoi(argv[i])), options);
    if (!q) {
      std::fprintf(stderr, "nfq_accept: %s\n", q.error().c_str());
      return 1;
    }
    queues.push_back(std::move(*q));
  }
  std::vector<std::thread> threads;
  for (auto& q : queues) {
    threads.emplace_back([&q] {
      AcceptAll handler;
      while (!stop.load(std::memory_order_relaxed)) {
        if (!q->process(handler, 200)) return;
      }
    });
  }
  std::fprintf(stderr, "nfq_accept: ready\n");
  auto print_received = [&] {
    std::uint64_t received = 0;
    for (auto& q : queues) received += q->received();  // a racy read is fine for a figure
    std::printf("received %llu\n", static_cast<unsigned long long>(received));
    std::fflush(stdout);
  };
  while (!stop.load()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (report.exchange(false)) print_received();
  }
  for (auto& t : threads) t.join();
  print_received();
  return 0;
}
