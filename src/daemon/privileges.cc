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

}  // namespace

std::expected<void, std::string> keep_only_network_capabilities(std::string* note) {
  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes last.
  const std::unique_ptr<_cap_struct, int (*)(void*)> current(cap_get_proc(), cap_free);
  if (!current) return std::unexpected(error_text("cap_get_proc"));
  cap_flag_value_t setpcap = CAP_CLEAR;
  cap_get_flag(current.get(), CAP_SETPCAP, CAP_EFFECTIVE, &setpcap);
  if (setpcap == CAP_SET) {
    for (cap_value_t cap = 0; cap < cap_max_bits(); ++cap) {
      if (kept(cap) || CAP_IS_SUPPORTED(cap) == 0) continue;
      if (cap_drop_bound(cap) != 0) return std::unexpected(error_text("cap_drop_bound"));
    }
  } else if (note) {
    *note = "no CAP_SETPCAP: the capability bounding set stays as it was";
  }
  const std::unique_ptr<_cap_struct, int (*)(void*)> wanted(cap_init(), cap_free);
  if (!wanted) return std::unexpected(error_text("cap_init"));
  for (cap_flag_t flag : {CAP_PERMITTED, CAP_EFFECTIVE}) {
    if (cap_set_flag(wanted.get(), flag, static_cast<int>(kKept.size()), kKept.data(), CAP_SET) !=
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
