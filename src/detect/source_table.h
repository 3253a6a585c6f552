// source_table.h — per-source state for portwall's defenses (here: `limit` rules' recent new
// connections), one table per queue thread. Bounded: at most `max_sources` addresses; when full,
// the source idle the longest is forgotten first, so a flood of spoofed sources cannot exhaust
// memory. Not thread-safe: one owner. Time is passed in.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "clock/clock.h"
#include "packet/ip_address.h"
#include "rules/rule.h"

namespace portwall {

struct LimitPolicy {
  std::uint32_t max_new = 6;  // new connections per source and rule within `window` (ufw's 6/30 s)
  Duration window = std::chrono::seconds(30);
};

// Port-scan detection: a source that touches more than `distinct_ports` distinct denied ports
// within `window` is blocked for `block`. Sources in `never_block` are never blocked.
struct ScanPolicy {
  bool enabled = true;
  std::uint32_t distinct_ports = 10;
  Duration window = std::chrono::seconds(5);
  Duration block = std::chrono::minutes(10);
  std::vector<Cidr> never_block;
};

struct SourceTableStats {
  std::uint64_t blocks = 0;           // sources blocked for scanning
  std::uint64_t blocked_packets = 0;  // packets dropped because their source is blocked
  std::uint64_t evicted = 0;          // sources forgotten to make room
  std::uint64_t limit_drops = 0;      // new connections refused by a limit rule
};

class SourceTable {
 public:
  explicit SourceTable(std::size_t max_sources = 65536, LimitPolicy limit = {},
                       ScanPolicy scan = {});
  ~SourceTable();
  SourceTable(const SourceTable&) = delete;
  SourceTable& operator=(const SourceTable&) = delete;

  // A new connection from `source` matched limit rule `rule_number`: true if it may pass.
  // Every attempt counts, refused ones too (as iptables' `recent --set`), so a source that keeps
  // hammering stays limited until it pauses for a whole window.
  bool allow_new_connection(const IpAddress& source, std::uint32_t rule_number, Timestamp now);

  // `source` was refused while reaching `port` (a denied or rejected new flow, or a stealth
  // probe: NULL, FIN, XMAS, a bare ACK without a flow). True if this makes it a scanner, now
  // blocked.
  bool note_refused(const IpAddress& source, std::uint8_t protocol, std::uint16_t port,
                    Timestamp now);
  // Whether packets from (or to) `address` are dropped as a blocked scanner's. Cheap when
  // nobody is blocked: the packet path asks it for every packet.
  bool is_blocked(const IpAddress& address, Timestamp now);

  struct Block {
    IpAddress address;
    Timestamp until;
  };
  std::vector<Block> blocked(Timestamp now) const;  // for `portwall blocked list`
  bool unblock(const IpAddress& address);           // `portwall blocked remove ADDR`

  std::size_t size() const;
  const SourceTableStats& stats() const;

  // Attempts remembered per source and rule: more than any max_new needs (ufw uses 6).
  static constexpr std::size_t kRemembered = 16;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace portwall
