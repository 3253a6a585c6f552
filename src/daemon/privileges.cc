#include "daemon/privileges.h"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>

namespace portwall {
namespace {

constexpr std::array<cap_value_t, 2> kKept = {CAP_NET_ADMIN, CAP_NET_RAW};

bool kept(cap_value_t cap) {
  for (cap_value_t k : kKept) {
    if (k == cap) return true;
  }
  return false;
}

std::string error_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

using Caps = std::unique_ptr<_cap_struct, int (*)(void*)>;

bool has(cap_t caps, cap_value_t cap, cap_flag_t flag) {
  cap_flag_value_t value = CAP_CLEAR;
  return cap_get_flag(caps, cap, flag, &value) == 0 && value == CAP_SET;
}

}  // namespace

std::expected<void, std::string> keep_only_network_capabilities(std::vector<std::string>* notes) {
  const Caps current(cap_get_proc(), cap_free);
  if (!current) return std::unexpected(error_text("cap_get_proc"));
  // A capability can only be kept if the process holds it: asking cap_set_proc for one outside
  // the permitted set fails with EPERM, whatever the others are.
  std::vector<cap_value_t> keep;
  for (cap_value_t cap : kKept) {
    if (has(current.get(), cap, CAP_PERMITTED)) keep.push_back(cap);
  }
  if (!has(current.get(), CAP_NET_ADMIN, CAP_PERMITTED)) {
    return std::unexpected(
        "this process does not have CAP_NET_ADMIN, which the queues and the diversion rules "
        "need: run portwalld as root, and where a unit or a container limits capabilities, "
        "grant it (CapabilityBoundingSet=CAP_NET_ADMIN ..., systemd-nspawn "
        "--capability=CAP_NET_ADMIN, docker --cap-add NET_ADMIN)");
  }
  if (notes && !has(current.get(), CAP_NET_RAW, CAP_PERMITTED)) {
    notes->push_back(
        "no CAP_NET_RAW: iptables-legacy needs it to change rules; iptables-nft and nftables do "
        "not");
  }
  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes last.
  if (has(current.get(), CAP_SETPCAP, CAP_EFFECTIVE)) {
    for (cap_value_t cap = 0; cap < cap_max_bits(); ++cap) {
      if (kept(cap) || CAP_IS_SUPPORTED(cap) == 0) continue;
      if (cap_drop_bound(cap) != 0) return std::unexpected(error_text("cap_drop_bound"));
    }
  } else if (notes) {
    notes->push_back("no CAP_SETPCAP: the capability bounding set stays as it was");
  }
  const Caps wanted(cap_init(), cap_free);
  if (!wanted) return std::unexpected(error_text("cap_init"));
  for (cap_flag_t flag : {CAP_PERMITTED, CAP_EFFECTIVE}) {
    if (cap_set_flag(wanted.get(), flag, static_cast<int>(keep.size()), keep.data(), CAP_SET) !=
        0) {
      return std::unexpected(error_text("cap_set_flag"));
    }
  }
  if (cap_set_proc(wanted.get()) != 0) return std::unexpected(error_text("cap_set_proc"));
  if (CAP_AMBIENT_SUPPORTED() && cap_reset_ambient() != 0) {
    return std::unexpected(error_text("cap_reset_ambient"));
  }
  return {};
}

}  // namespace portwall
