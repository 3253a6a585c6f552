#include "netfilter/nfqueue.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace portwall {
namespace {

// A verdict message: header, nfgenmsg, NFQA_VERDICT_HDR, NFQA_MARK, with room to spare.
constexpr std::size_t kVerdictSpace = 128;

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

struct Parsed {
  QueuedPacket packet;
  bool ok = false;
};

int on_message(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<Parsed*>(data);
  nlattr* attr[NFQA_MAX + 1] = {};
  if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) return MNL_CB_OK;
  auto* ph = static_cast<nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(attr[NFQA_PACKET_HDR]));
  QueuedPacket& p = out->packet;
  p.id = ntohl(ph->packet_id);
  p.hook = ph->hook;
  if (attr[NFQA_PAYLOAD]) {
    p.payload = {static_cast<const std::uint8_t*>(mnl_attr_get_payload(attr[NFQA_PAYLOAD])),
                 mnl_attr_get_payload_len(attr[NFQA_PAYLOAD])};
  }
  p.wire_length = attr[NFQA_CAP_LEN] ? ntohl(mnl_attr_get_u32(attr[NFQA_CAP_LEN]))
                                     : static_cast<std::uint32_t>(p.payload.size());
  p.in_ifindex = attr[NFQA_IFINDEX_INDEV] ? ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_INDEV])) : 0;
  p.out_ifindex =
      attr[NFQA_IFINDEX_OUTDEV] ? ntohl(mnl_attr_get_u32(attr[NFQA_IFINDEX_OUTDEV])) : 0;
  p.mark = attr[NFQA_MARK] ? ntohl(mnl_attr_get_u32(attr[NFQA_MARK])) : 0;
  p.skb_info = attr[NFQA_SKB_INFO] ? ntohl(mnl_attr_get_u32(attr[NFQA_SKB_INFO])) : 0;
  out->ok = true;
  return MNL_CB_OK;
}

}  // namespace

NfQueue::NfQueue(std::uint16_t number, const NfQueueOptions& options)
    : number_(number),
      options_(options),
      buffer_size_(options.copy_range + MNL_SOCKET_BUFFER_SIZE),
      receive_buffers_(buffer_size_ * options.batch),
      verdicts_(kVerdictSpace * options.batch) {}

NfQueue::~NfQueue() {
  if (socket_) mnl_socket_close(socket_);
}

std::expected<std::unique_ptr<NfQueue>, std::string> NfQueue::open(std::uint16_t number,
                                                                   const NfQueueOptions& options) {
  std::unique_ptr<NfQueue> q(new NfQueue(number, options));
  q->socket_ = mnl_socket_open(NETLINK_NETFILTER);
  if (!q->socket_) return std::unexpected(errno_text("mnl_socket_open"));
  if (mnl_socket_bind(q->socket_, 0, MNL_SOCKET_AUTOPID) < 0) {
    return std::unexpected(errno_text("mnl_socket_bind"));
  }
  q->port_id_ = mnl_socket_get_portid(q->socket_);
  if (auto ok = q->configure(true); !ok) return std::unexpected(ok.error());
  return q;
}

std::expected<std::unique_ptr<NfQueue>, std::string> NfQueue::adopt(std::uint16_t number, int fd,
                                                                    const NfQueueOptions& options) {
  std::unique_ptr<NfQueue> q(new NfQueue(number, options));
  fcntl(fd, F_SETFD, FD_CLOEXEC);  // ours now: not handed to the programs this one runs
  q->socket_ = mnl_socket_fdopen(fd);
  if (!q->socket_) {
    close(fd);
    return std::unexpected(errno_text("mnl_socket_fdopen"));
  }
  q->port_id_ = mnl_socket_get_portid(q->socket_);
  if (auto ok = q->configure(false); !ok) return std::unexpected(ok.error());
  return q;
}

int NfQueue::release() {
  if (!socket_) return -1;
  // A duplicate keeps the socket (and so the queue's binding) alive when the original closes.
  const int kept = dup(mnl_socket_get_fd(socket_));
  mnl_socket_close(socket_);
  socket_ = nullptr;
  return kept;
}

std::expected<void, std::string> NfQueue::configure(bool bind) {
  char buf[1024];
  const std::string where = "queue " + std::to_string(number_) + ": ";

  nlmsghdr* nlh = nullptr;
  if (bind) {
    nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number_);
    nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND);
    if (auto ok = request(nlh); !ok) {
      return std::unexpected(
          where + "bind: " + ok.error() +
          (ok.error() == std::strerror(EBUSY) ? " (is another portwalld using this queue?)" : ""));
    }
  }

  nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, number_);
  nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, static_cast<int>(options_.copy_range));
  nfq_nlmsg_cfg_put_qmaxlen(nlh, options_.max_length);
  std::uint32_t flags = NFQA_CFG_F_GSO | (options_.fail_open ? NFQA_CFG_F_FAIL_OPEN : 0);
  mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(flags));
  mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
  // A refused configuration would leave a bound queue that never delivers: fail the start.
  if (auto ok = request(nlh); !ok) return std::unexpected(where + "configure: " + ok.error());

  int on = 1;
  mnl_socket_setsockopt(socket_, NETLINK_NO_ENOBUFS, &on, sizeof on);
  int size = options_.receive_buffer;
  const int fd = mnl_socket_get_fd(socket_);
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);  // without CAP_NET_ADMIN
  }
  return {};
}

std::expected<void, std::string> NfQueue::request(nlmsghdr* nlh) {
  nlh->nlmsg_flags |= NLM_F_ACK;
  nlh->nlmsg_seq = ++sequence_;
  if (mnl_socket_sendto(socket_, nlh, nlh->nlmsg_len) < 0)
    return std::unexpected(errno_text("send"));
  // The kernel answers with an ack (an NLMSG_ERROR, code 0 on success). Packets may come first
  // when an earlier run's diversion rules still point at this queue (a crash): they are handed
  // back with NF_REPEAT and queued again, to be judged once the queue is set up.
  // A queue handed over by a re-exec may hold as many packets as its length allows before the
  // answer: each read takes one message, so the bound follows the queue's length.
  alignas(nlmsghdr) char buf[8192];
  const std::uint64_t most_reads = std::uint64_t{options_.max_length} + 64;
  for (std::uint64_t reads = 0; reads < most_reads; ++reads) {
    const ssize_t n = mnl_socket_recvfrom(socket_, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR || errno == ENOBUFS) continue;
      return std::unexpected(errno_text("waiting for the kernel's answer"));
    }
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<nlmsghdr*>(buf); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if (m->nlmsg_type == NLMSG_ERROR && m->nlmsg_seq == sequence_) {
        const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(m));
        if (err->error == 0) return {};
        return std::unexpected(std::string(std::strerror(-err->error)));
      }
      if ((m->nlmsg_type & 0xff) == NFQNL_MSG_PACKET) {
        Parsed stray;
        on_message(m, &stray);
        if (!stray.ok) continue;
        char vbuf[kVerdictSpace];
        nlmsghdr* v = nfq_nlmsg_put(vbuf, NFQNL_MSG_VERDICT, number_);
        nfq_nlmsg_verdict_put(v, static_cast<int>(stray.packet.id), NF_REPEAT);
        mnl_socket_sendto(socket_, v, v->nlmsg_len);
      }
    }
  }
  return std::unexpected(std::string("no answer from the kernel"));
}

void NfQueue::add_verdict(std::uint32_t id, PacketVerdict pv, std::uint32_t mark) {
  const Verdict verdict = pv.verdict;
  char* at = verdicts_.data() + verdict_bytes_;
  nlmsghdr* nlh = nfq_nlmsg_put(at, NFQNL_MSG_VERDICT, number_);
  if (verdict == Verdict::accept && pv.offload && options_.offload_mark) {
    // Mark the packet with the offload bit: a rule in a later hook saves it into the kernel
    // connection's connmark, and the connmark rule ahead of the queue then accepts the
    // connection's later packets by itself. (Setting the connmark through the verdict's
    // NFQA_CT needs the kernel's ctnetlink glue, which this kind of kernel lacks.)
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), NF_ACCEPT);
    nfq_nlmsg_verdict_put_mark(nlh, mark | options_.offload_mark);
  } else if (verdict == Verdict::accept && pv.pass_on && options_.passed_mark) {
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), NF_REPEAT);
    nfq_nlmsg_verdict_put_mark(nlh, mark | options_.passed_mark);
  } else if (verdict == Verdict::reject && options_.reject_mark) {
    // Re-run the hook with the reject bit set: the diversion chain's REJECT rule answers with a
    // TCP RST or ICMP port unreachable, as the kernel's REJECT target does.
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id), NF_REPEAT);
    nfq_nlmsg_verdict_put_mark(nlh, mark | options_.reject_mark);
  } else {
    nfq_nlmsg_verdict_put(nlh, static_cast<int>(id),
                          verdict == Verdict::accept ? NF_ACCEPT : NF_DROP);
  }
  verdict_bytes_ += NLMSG_ALIGN(nlh->nlmsg_len);
}

std::expected<void, std::string> NfQueue::send_verdicts(std::span<const DeferredVerdict> verdicts) {
  for (std::size_t at = 0; at < verdicts.size(); at += options_.batch) {
    const std::size_t end = std::min<std::size_t>(verdicts.size(), at + options_.batch);
    for (std::size_t i = at; i < end; ++i) {
      add_verdict(verdicts[i].id, verdicts[i].verdict, verdicts[i].mark);
    }
    if (auto ok = flush_verdicts(); !ok) return ok;
  }
  return {};
}

std::expected<void, std::string> NfQueue::flush_verdicts() {
  if (verdict_bytes_ == 0) return {};
  const ssize_t sent = mnl_socket_sendto(socket_, verdicts_.data(), verdict_bytes_);
  verdict_bytes_ = 0;
  if (sent < 0) return std::unexpected(errno_text("send verdicts"));
  return {};
}

std::expected<std::size_t, std::string> NfQueue::process(PacketHandler& handler, int timeout_ms,
                                                         int wake_fd) {
  const int fd = mnl_socket_get_fd(socket_);
  pollfd pfd[2] = {{fd, POLLIN, 0}, {wake_fd, POLLIN, 0}};
  const int ready = poll(pfd, wake_fd >= 0 ? 2 : 1, timeout_ms);
  if (ready < 0) {
    if (errno == EINTR) return 0;
    return std::unexpected(errno_text("poll"));
  }
  if (ready == 0) return 0;
  if (wake_fd >= 0 && (pfd[1].revents & POLLIN)) {
    std::uint64_t count;
    (void)!read(wake_fd, &count, sizeof count);
    if (!(pfd[0].revents & POLLIN)) return 0;
  }

  const unsigned batch = options_.batch;
  mmsghdr msgs[64];
  iovec iov[64];
  const unsigned count = batch < 64 ? batch : 64;
  for (unsigned i = 0; i < count; ++i) {
    iov[i] = {receive_buffers_.data() + i * buffer_size_, buffer_size_};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const int got = recvmmsg(fd, msgs, count, MSG_DONTWAIT, nullptr);
  if (got < 0) {
    if (errno == EAGAIN || errno == EINTR) return 0;
    if (errno == ENOBUFS) {
      ++enobufs_;
      return 0;
    }
    return std::unexpected(errno_text("recvmmsg"));
  }
  handler.on_batch(static_cast<unsigned>(got) == count);
  std::size_t handled = 0;
  for (int i = 0; i < got; ++i) {
    Parsed parsed;
    mnl_cb_run(iov[i].iov_base, msgs[i].msg_len, 0, port_id_, on_message, &parsed);
    if (!parsed.ok) continue;
    ++received_;
    ++handled;
    const PacketVerdict verdict = handler.on_packet(parsed.packet);
    if (!verdict.deferred) add_verdict(parsed.packet.id, verdict, parsed.packet.mark);
  }
  if (auto ok = flush_verdicts(); !ok) return std::unexpected(ok.error());
  return handled;
}

}  // namespace portwall
