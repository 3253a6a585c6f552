// kernel_block_set.h — the kernel set that holds the block list's copy (detect/block_mirror.h)
// in each backend's own words: ipset's `restore` batches and `save` listing (one hash:net set
// per family, with timeouts and per-entry counters), and nftables' element commands and JSON
// listing (sets `block4` and `block6` of `table inet portwall`). The diversion rules that match
// these sets are the backends' (diversion.h). Text only here: tests pin it.
#pragma once

#include <expected>
#include <string>
#include <string_view>
#include <vector>

#include "detect/block_mirror.h"

namespace portwall {

inline constexpr const char* kIpsetBlock4 = "portwall-block4";
inline constexpr const char* kIpsetBlock6 = "portwall-block6";

// `ipset create` arguments for the family's set (after "create"), with room for `max_entries`.
std::vector<std::string> ipset_create_args(const char* name, bool ipv6, std::size_t max_entries);
// Lines for `ipset restore -exist`: adds (an entry already there takes the new timeout) and
// deletions (of an entry already gone: nothing).
std::string ipset_changes_script(const BlockSetChanges& changes);
// The entries and their packet counters in `ipset save` output; lines it does not know are
// skipped.
std::vector<KernelBlockCount> parse_ipset_save(std::string_view text);

// nft commands that make the changes in `table inet portwall`: one batch of adds, one of
// deletions (each a transaction; nft refuses to delete an element that is gone).
std::string nft_block_adds(const BlockSetChanges& changes);
std::string nft_block_deletes(const std::vector<Cidr>& ranges);
// The entries and their counters in `nft -j list set inet portwall block4` (or block6).
std::expected<std::vector<KernelBlockCount>, std::string> parse_nft_set_json(std::string_view json);

}  // namespace portwall
