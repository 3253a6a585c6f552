// interface_names.h — interface index -> name ("eth0"), cached per queue thread so that the
// packet path asks the kernel (if_indextoname) only the first time it meets an index.
// Not thread-safe: one owner. Bounded: a fixed number of slots, overwritten round-robin.
#pragma once

#include <net/if.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace portwall {

class InterfaceNames {
 public:
  std::string_view name(std::uint32_t index) {
    if (index == 0) return {};
    for (const Slot& s : slots_) {
      if (s.index == index) return s.name;
    }
    Slot& s = slots_[next_++ % slots_.size()];
    s.index = index;
    if (!if_indextoname(index, s.name)) std::strcpy(s.name, "?");
    return s.name;
  }
  void clear() { slots_ = {}; }  // after a reload: interfaces may have been renamed

 private:
  struct Slot {
    std::uint32_t index = 0;
    char name[IF_NAMESIZE] = {};
  };
  std::array<Slot, 32> slots_{};
  std::size_t next_ = 0;
};

}  // namespace portwall
