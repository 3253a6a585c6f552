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

std::expected<void, std::string> flush_conntrack_by_mark(std::uint32_t mark_bit) {
  std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> nl(mnl_socket_open(NETLINK_NETFILTER),
                                                              &mnl_socket_close);
  if (!nl || mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return std::unexpected(std::string("ctnetlink socket: ") + std::strerror(errno));
  }
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
  if (mnl_socket_sendto(nl.get(), nlh, nlh->nlmsg_len) < 0) {
    return std::unexpected(std::string("ctnetlink send: ") + std::strerror(errno));
  }
  const ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
  if (n < 0) return std::unexpected(std::string("ctnetlink ack: ") + std::strerror(errno));
  if (mnl_cb_run(buf.data(), static_cast<std::size_t>(n), nlh->nlmsg_seq,
                 mnl_socket_get_portid(nl.get()), nullptr, nullptr) < 0 &&
      errno != ENOENT) {
    return std::unexpected(std::string("ctnetlink flush: ") + std::strerror(errno));
  }
  return {};
}

}  // namespace portwall
