#include "netfilter/conntrack_flush.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <memory>
#include <vector>

namespace portwall {
namespace {

using NetlinkSocket = std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)>;

std::expected<NetlinkSocket, std::string> open_ctnetlink() {
  NetlinkSocket nl(mnl_socket_open(NETLINK_NETFILTER), &mnl_socket_close);
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return std::unexpected(std::string("ctnetlink socket: ") + std::strerror(errno));
  }
  return nl;
}

void put_address(nlmsghdr* nlh, std::uint16_t v4_type, std::uint16_t v6_type, const IpAddress& a) {
  if (a.family == Family::ipv4) {
    mnl_attr_put(nlh, v4_type, 4, a.bytes.data());
  } else {
    mnl_attr_put(nlh, v6_type, 16, a.bytes.data());
  }
}

// One delete request for `key`'s tuple, answered: 0 deleted, else the errno (ENOENT: none).
std::expected<int, std::string> delete_one(mnl_socket* nl, const FlowKey& key, unsigned seq) {
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = key.src.family == Family::ipv4 ? AF_INET : AF_INET6;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  nlattr* tuple = mnl_attr_nest_start(nlh, CTA_TUPLE_ORIG);
  nlattr* ip = mnl_attr_nest_start(nlh, CTA_TUPLE_IP);
  put_address(nlh, CTA_IP_V4_SRC, CTA_IP_V6_SRC, key.src);
  put_address(nlh, CTA_IP_V4_DST, CTA_IP_V6_DST, key.dst);
  mnl_attr_nest_end(nlh, ip);
  nlattr* proto = mnl_attr_nest_start(nlh, CTA_TUPLE_PROTO);
  mnl_attr_put_u8(nlh, CTA_PROTO_NUM, key.protocol);
  mnl_attr_put_u16(nlh, CTA_PROTO_SRC_PORT, htons(key.src_port));
  mnl_attr_put_u16(nlh, CTA_PROTO_DST_PORT, htons(key.dst_port));
  mnl_attr_nest_end(nlh, proto);
  mnl_attr_nest_end(nlh, tuple);
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    return std::unexpected(std::string("ctnetlink send: ") + std::strerror(errno));
  }
  const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
  if (n < 0) return std::unexpected(std::string("ctnetlink ack: ") + std::strerror(errno));
  if (mnl_cb_run(buf.data(), static_cast<std::size_t>(n), seq, mnl_socket_get_portid(nl), nullptr,
                 nullptr) < 0) {
    return errno;
  }
  return 0;
}

}  // namespace

std::expected<std::size_t, std::string> delete_conntrack_entries(std::span<const FlowKey> keys) {
  std::size_t deleted = 0;
  if (keys.empty()) return deleted;
  auto nl = open_ctnetlink();
  if (!nl) return std::unexpected(nl.error());
  unsigned seq = static_cast<unsigned>(time(nullptr));
  for (const FlowKey& key : keys) {
    if (key.protocol != ipproto::tcp && key.protocol != ipproto::udp) continue;
    for (const FlowKey& k : {key, key.reversed()}) {
      auto answer = delete_one(nl->get(), k, ++seq);
      if (!answer) return std::unexpected(answer.error());
      if (*answer == 0) {
        ++deleted;
        break;
      }
      if (*answer != ENOENT) {
        return std::unexpected(std::string("ctnetlink delete: ") + std::strerror(*answer));
      }
    }
  }
  return deleted;
}

std::expected<void, std::string> flush_conntrack_by_mark(std::uint32_t mark_bit) {
  auto opened = open_ctnetlink();
  if (!opened) return std::unexpected(opened.error());
  mnl_socket* nl = opened->get();
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  nlh->nlmsg_seq = static_cast<unsigned>(time(nullptr));
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;  // both families
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  // No tuple: a flush, limited to the entries whose mark has the bit.
  mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark_bit));
  mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mark_bit));
  if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) {
    return std::unexpected(std::string("ctnetlink send: ") + std::strerror(errno));
  }
  const ssize_t n = mnl_socket_recvfrom(nl, buf.data(), buf.size());
  if (n < 0) return std::unexpected(std::string("ctnetlink ack: ") + std::strerror(errno));
  if (mnl_cb_run(buf.data(), static_cast<std::size_t>(n), nlh->nlmsg_seq, mnl_socket_get_portid(nl),
                 nullptr, nullptr) < 0 &&
      errno != ENOENT) {
    return std::unexpected(std::string("ctnetlink flush: ") + std::strerror(errno));
  }
  return {};
}

}  // namespace portwall
