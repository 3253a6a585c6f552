// conntrack_flush.h — ends the kernel's connection entries that carry a connmark bit
// (ctnetlink IPCTNL_MSG_CT_DELETE with a mark filter), in the namespace the process runs in.
// inspect = "new" uses it so that offloaded connections come back to portwalld after a block
// or a rule change: their next packet finds no marked entry and is queued again.
#pragma once

#include <cstdint>
#include <expected>
#include <string>

namespace portwall {

std::expected<void, std::string> flush_conntrack_by_mark(std::uint32_t mark_bit);

}  // namespace portwall
