// log_event.h — one decision worth logging, as plain values copied off the packet path.
// Fixed size, no pointers: it crosses from a queue thread to the log writer by value.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "packet/packet_view.h"
#include "policy/decision.h"
#include "rules/rule.h"

namespace portwall {

struct LogEvent {
  std::int64_t unix_ms = 0;  // wall-clock time of the decision
  Decision decision;
  Direction direction = Direction::in;
  char in_interface[16] = {};
  char out_interface[16] = {};
  bool malformed = false;  // the bytes did not parse: only the fields below that parsed are set
  IpAddress src, dst;
  std::uint8_t protocol = 0;
  std::uint16_t src_port = 0, dst_port = 0;
  std::uint8_t tcp_flags = 0;
  std::uint8_t icmp_type = 0, icmp_code = 0;
  std::uint32_t length = 0;
  char knock[24] = {};  // the [[knock]]'s name, for knock events and connections a knock let in
  bool monitor = false;  // monitor mode: the verdict was logged, the packet accepted anyway
  // Packets of a blocked source that the kernel's set of blocks dropped before the queue
  // (block_mirror.h): known by its counter only, so the line has the block's range for SRC
  // (`src_prefix` its length), IN_KERNEL=1 and COUNT, and no packet fields.
  bool in_kernel = false;
  std::uint8_t src_prefix = 0;
};

// The decision log line of DESIGN.md, kernel-LOG style:
// 2026-11-23T22:41:07.123Z portwall ACTION=DROP RULE=7 REASON=rule DIR=in IN=eth0 SRC=...
std::string format_text(const LogEvent& event);
// The same fields as one JSON object, keys in lower case.
std::string format_json(const LogEvent& event);
// "S", "SA", "FA", "R", "PA" ...: TCP flags as letters in the order S A F R P U E C.
std::string tcp_flag_letters(std::uint8_t flags);
// RFC 3339 in UTC with milliseconds: 2026-11-23T22:41:07.123Z
std::string rfc3339_ms(std::int64_t unix_ms);
// A value of a log line in double quotes, with \\, \" and every control character escaped
// (\n, \r, \t, else \xHH), so that no input can split the line or forge a field of it.
std::string log_quoted(std::string_view value);

}  // namespace portwall
