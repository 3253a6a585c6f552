// privileges.h — least privilege for portwalld (libcap). Once the control socket is bound and
// given to its group, the process keeps only CAP_NET_ADMIN (queues, conntrack flushes, the
// diversion rules) and CAP_NET_RAW (iptables-legacy's raw socket, for the rules removed at
// stop): permitted, effective and bounding sets, so that the iptables it runs get no more.
// Capabilities are per thread on Linux: call it before any thread starts.
#pragma once

#include <expected>
#include <string>

namespace portwall {

// REQUIRES: no other thread exists yet. What could not be dropped is an error; a process
// without CAP_SETPCAP (a non-root service user) keeps its bounding set and says so in `note`.
std::expected<void, std::string> keep_only_network_capabilities(std::string* note);

}  // namespace portwall
