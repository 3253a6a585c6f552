// privileges.h — least privilege for portwalld (libcap). Once the control socket is bound and
// given to its group, the process keeps only CAP_NET_ADMIN (queues, conntrack flushes, the
// diversion rules) and CAP_NET_RAW (iptables-legacy's raw socket, for the rules removed at
// stop): permitted, effective and bounding sets, so that the iptables it runs get no more.
// It keeps what it has of those two and never asks for more: a unit's CapabilityBoundingSet=
// or a container may have left one out. Capabilities are per thread on Linux: call it before
// any thread starts.
#pragma once

#include <expected>
#include <string>
#include <vector>

namespace portwall {

// REQUIRES: no other thread exists yet. Without CAP_NET_ADMIN portwalld cannot work, so its
// absence is an error that says where to grant it. What is only worth knowing (no CAP_NET_RAW,
// no CAP_SETPCAP to shrink the bounding set) is added to `notes`.
std::expected<void, std::string> keep_only_network_capabilities(std::vector<std::string>* notes);

}  // namespace portwall
