// Fuzz target for the packet parser: any bytes, both entry points. ASan/UBSan find the faults;
// the check below holds the parser to its promise of no payload past the end.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "packet/packet_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  if (auto p = portwall::parse_packet(bytes)) {
    if (std::size_t{p->payload_offset} + p->payload_length > size) std::abort();
  }
  (void)portwall::parse_packet(bytes, size + 1500);  // a capture shorter than the datagram
  return 0;
}
