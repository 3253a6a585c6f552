// conntrack_flush.h — ends the kernel's connection entries that carry a connmark bit
// (ctnetlink IPCTNL_MSG_CT_DELETE with a mark filter), in the namespace the process runs in.
// inspect = "new" uses it so that offloaded connections come back to portwalld after a block
// or a rule change: their next packet finds no marked entry and is queued again.
#pragma once

#include <cstdint>
#include <expected>
#include <span>
#include <string>

#include "conntrack/flow.h"

namespace portwall {

std::expected<void, std::string> flush_conntrack_by_mark(std::uint32_t mark_bit);

// Ends the kernel's entries of these TCP and UDP connections (IPCTNL_MSG_CT_DELETE by tuple),
// so that no stale kernel state lets a connection portwalld cut go on (an offloaded one, or
// one that meets no queue). A key is tried as given, then reversed (a redirect: portwalld
// sees the translated tuple, which is the kernel's reply tuple reversed). A DNAT with
// masquerade matches neither and is left (its every packet is queued anyway). Returns how many
// entries were ended; absent ones are not an error.
std::expected<std::size_t, std::string> delete_conntrack_entries(std::span<const FlowKey> keys);

}  // namespace portwall
