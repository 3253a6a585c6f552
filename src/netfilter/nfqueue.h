// nfqueue.h — one NFQUEUE queue, bound over libmnl with libnetfilter_queue's nfq_nlmsg_* API.
// Owns its netlink socket; used by exactly one thread. Receives packets in batches (recvmmsg)
// and sends the batch's verdicts in one sendto. Tuned as shared/NFQUEUE-NOTES.md measured:
// large receive buffer and queue length, NETLINK_NO_ENOBUFS, GSO, bounded copy range.
#pragma once

#include <cstdint>
#include <expected>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "policy/decision.h"

struct mnl_socket;
struct nlmsghdr;

namespace portwall {

struct NfQueueOptions {
  bool fail_open = true;  // NFQA_CFG_F_FAIL_OPEN: queue full -> accept (counted elsewhere)
  // Bytes of each packet copied to userspace: every header portwall reads fits (the parser
  // takes the wire length for the rest), and a 64 KiB GSO packet is not copied whole.
  std::uint32_t copy_range = 4096;
  std::uint32_t max_length = 16384;  // packets the kernel may hold for this queue
  int receive_buffer = 16 << 20;     // SO_RCVBUFFORCE
  std::uint32_t reject_mark = 0;     // mark bit that sends a packet to the REJECT rule
  unsigned batch = 32;               // messages per recvmmsg
  // inspect = "new": the connmark bit an accept verdict may set on the packet's kernel
  // connection, which a rule ahead of the queue then accepts without asking (0: never).
  std::uint32_t offload_mark = 0;
  // The mark bit of packets a port forward redirected to a local port (DiversionSpec).
  std::uint32_t redirect_mark = 0;
  // The mark bits of routed packets and of published connections (DiversionSpec).
  std::uint32_t routed_mark = 0;
  std::uint32_t published_mark = 0;
  // An accepted routed or published packet is not accepted for the whole hook (which would
  // skip Docker's isolation rules, a DOCKER-USER rule below portwall's jump, the FORWARD
  // policy): the hook runs again with this bit set, the forward chain returns at once, and the
  // rest of FORWARD decides as well. portwall only ever takes away there. 0: plain accepts.
  std::uint32_t passed_mark = 0;
};

// A verdict, and whether the rest of the packet's connection may bypass the queue.
struct PacketVerdict {
  PacketVerdict(Verdict v, bool off = false) : verdict(v), offload(off) {}  // NOLINT: implicit
  Verdict verdict;
  bool offload;
  // An accept that lets the rest of the hook's chains decide too (NfQueueOptions::passed_mark).
  bool pass_on = false;
  // No verdict yet: the handler sends it later with send_verdicts() (NFQUEUE takes verdicts in
  // any order; the kernel holds the packet meanwhile).
  bool deferred = false;
  static PacketVerdict later() {
    PacketVerdict v(Verdict::drop);
    v.deferred = true;
    return v;
  }
};

// A verdict for a packet whose handler deferred it: the packet's id and mark as queued.
struct DeferredVerdict {
  std::uint32_t id = 0;
  std::uint32_t mark = 0;
  PacketVerdict verdict{Verdict::drop};
};

// One packet as the kernel queued it. `payload` points into the receive buffer and is valid
// only during the handler call.
struct QueuedPacket {
  std::uint32_t id = 0;
  std::uint8_t hook = 0;  // NF_INET_LOCAL_IN, NF_INET_LOCAL_OUT, ...
  std::uint32_t in_ifindex = 0, out_ifindex = 0;
  std::uint32_t mark = 0;
  std::uint32_t wire_length = 0;  // NFQA_CAP_LEN when truncated, else payload size
  std::uint32_t skb_info = 0;     // NFQA_SKB_* flags
  std::span<const std::uint8_t> payload;
};

class PacketHandler {
 public:
  virtual ~PacketHandler() = default;
  // Called once per received batch, before its packets: the place to take a new rule
  // generation, so that no packet received after a swap is judged by the old rules. `full`:
  // the batch holds as many packets as it can, so more are likely waiting.
  virtual void on_batch(bool full) { (void)full; }
  virtual PacketVerdict on_packet(const QueuedPacket& packet) = 0;
};

class NfQueue {
 public:
  static std::expected<std::unique_ptr<NfQueue>, std::string> open(std::uint16_t number,
                                                                   const NfQueueOptions& options);
  // A queue a previous program image of this process bound and handed over across execve
  // (`fd`, inherited): not bound again (the kernel would refuse), only configured. The packets
  // the kernel queued meanwhile are waiting in the socket and are judged first.
  static std::expected<std::unique_ptr<NfQueue>, std::string> adopt(std::uint16_t number, int fd,
                                                                    const NfQueueOptions& options);
  // Gives the socket up without closing it, for a new program image (execve): a descriptor
  // that stays open across exec. The queue stays bound and keeps queueing. -1 on failure.
  // REQUIRES: no verdict pending (between two process() calls).
  int release();
  ~NfQueue();
  NfQueue(const NfQueue&) = delete;
  NfQueue& operator=(const NfQueue&) = delete;

  // Waits up to `timeout_ms` for packets, hands each to `handler`, and sends all verdicts.
  // Returns the number of packets handled (0 on timeout). A lost-message error (ENOBUFS) is not
  // fatal: the kernel has already applied fail-open or dropped; it is counted. `wake_fd` (an
  // eventfd, or -1): when it becomes readable the wait ends early; it is read empty.
  std::expected<std::size_t, std::string> process(PacketHandler& handler, int timeout_ms,
                                                  int wake_fd = -1);

  // The verdicts of packets deferred in earlier batches, at most one batch's worth.
  // REQUIRES: between two process() calls.
  std::expected<void, std::string> send_verdicts(std::span<const DeferredVerdict> verdicts);

  std::uint16_t number() const { return number_; }
  const NfQueueOptions& options() const { return options_; }
  std::uint64_t received() const { return received_; }
  std::uint64_t enobufs() const { return enobufs_; }

 private:
  NfQueue(std::uint16_t number, const NfQueueOptions& options);
  std::expected<void, std::string> configure(bool bind);
  // Sends one config message with NLM_F_ACK and waits for the kernel's answer.
  std::expected<void, std::string> request(nlmsghdr* nlh);
  void add_verdict(std::uint32_t id, PacketVerdict verdict, std::uint32_t mark);
  std::expected<void, std::string> flush_verdicts();

  std::uint16_t number_;
  NfQueueOptions options_;
  mnl_socket* socket_ = nullptr;
  unsigned port_id_ = 0;
  std::uint32_t sequence_ = 0;
  std::size_t buffer_size_;
  std::vector<char> receive_buffers_;  // batch * buffer_size_
  std::vector<char> verdicts_;         // verdict messages of one batch
  std::size_t verdict_bytes_ = 0;
  std::uint64_t received_ = 0;
  std::uint64_t enobufs_ = 0;
};

}  // namespace portwall
