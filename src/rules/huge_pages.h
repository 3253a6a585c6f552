// huge_pages.h — room for a large vector in transparent huge pages where the kernel allows them
// (madvise; THP "madvise" mode, as Debian ships it). Compiling 10^5 rules fills tens of MiB of
// fresh memory; taking it 4 KiB page by page cost more than the work itself (a rule change's copy
// of the rules: 150 ms, against 13 ms in huge pages). A hint only: without THP nothing changes.
#pragma once

#include <sys/mman.h>

#include <cstdint>
#include <vector>

namespace portwall {

// Makes room for `count` elements in `v` at once; the part not yet used is advised to come in
// huge pages (whole 2 MiB pages only: smaller vectors are left as they are).
template <typename T>
void reserve_in_huge_pages(std::vector<T>& v, std::size_t count) {
  if (count <= v.capacity()) return;
  v.reserve(count);
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto begin = reinterpret_cast<std::uintptr_t>(v.data() + v.size());
  const auto end = reinterpret_cast<std::uintptr_t>(v.data() + v.capacity());
  const std::uintptr_t first = (begin + kHuge - 1) & ~(kHuge - 1), last = end & ~(kHuge - 1);
  if (first < last) (void)madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

}  // namespace portwall
