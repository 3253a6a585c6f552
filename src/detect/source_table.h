// source_table.h — portwall's per-source state, in one bounded table shared by every queue
// thread: scan-detection touches, rate-limit buckets, the count of tracked connections each
// source opened, port-knock progress and the ports a knock opened. Blocks live apart, in the
// BlockList, so that evicting idle sources never lifts a block.
//
// Bounded: at most `max_sources` entries, so a flood of spoofed sources cannot exhaust memory.
// When full, a source that holds nothing goes first (the idle longest of the few looked at):
// one holds something while it has a door open, a rate bucket not yet empty again, a knock
// under way or a counted connection. Only when all those looked at hold something does one
// go: the one whose holding ends soonest. So a flood of forged sources, which hold nothing or
// for a moment, neither closes a door nor resets anyone's limit. Thread-safe (one mutex, taken only
// for new connections, refused packets and knocks, never for packets of established flows). Time is
// passed in.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "config/config.h"
#include "detect/spa.h"
#include "packet/ip_address.h"
#include "rules/rule.h"

namespace portwall {

// Port-scan detection: a source that touches more than `distinct_ports` distinct refused ports
// within `window` is blocked for `block`. A touch is a packet nobody verified (a SYN, a stray
// ACK or FIN): anyone can forge it with any source. So these are never blocked by it: sources
// in `never_block`; the host's infrastructure (SourceTable::trust: its own addresses, gateways
// and resolvers); and an address while it holds a TCP connection whose handshake it completed
// (SourceTable::vouch), which a blind spoofer cannot. The configuration's [scan_detection], as
// it is written (new_blocks_per_second is the block list's: BlockList::set_scan_rate).
using ScanPolicy = ScanDetectionSection;

// Everything the table enforces; replaced as a whole on reload.
struct SourcePolicy {
  ScanPolicy scan;
  Rate new_connections;  // per source across all rules ([limits]); count 0: off
  std::uint32_t max_connections_per_source = 0;  // 0: off
  std::vector<KnockSection> knocks;
};

// ufw's limit: a source's 6th new connection attempt within 30 s is dropped, and so is every
// one after it while 6 fall within 30 s (the attempt itself counts, as ufw's recent match
// counts it with --set before --update --hitcount 6).
inline constexpr Rate kUfwLimit{6, std::chrono::seconds(30), 0, true};
inline constexpr std::size_t kMaxAttemptWindow = 6;  // every_attempt_counts rates: count <= 6
// The bits of a limit rule's key the table keeps (PolicySnapshot::limit_key gives no more).
inline constexpr std::uint64_t kLimitKeyMask = (std::uint64_t{1} << 56) - 1;

enum class Admission : std::uint8_t {
  admitted,
  rule_rate,     // the limit rule's rate is used up
  source_rate,   // [limits] new_connections is used up
  source_flows,  // [limits] max_connections_per_source reached
};

enum class KnockEvent : std::uint8_t {
  none,
  step,          // a right knock, sequence not complete yet
  opened,        // the last knock of a sequence: the door is open for this source
  failed,        // a wrong knock (or too late): this source's progress is reset
  spa_opened,    // an authenticated single-packet knock opened the door
  spa_rejected,  // an SPA packet that is malformed, has a bad MAC or is stale
  spa_replayed,  // an SPA packet whose nonce was seen before
};

// An SPA nonce already accepted, remembered until `forget_at`.
struct SeenSpaNonce {
  SpaNonce nonce{};
  Timestamp forget_at{};
};

struct KnockResult {
  bool is_knock = false;  // the packet is a knock: drop it silently, never answer it
  KnockEvent event = KnockEvent::none;
  std::uint16_t door = 0;  // index into SourcePolicy::knocks when event != none
};

// Counters, readable from any thread.
struct SourceTableStats {
  std::atomic<std::uint64_t> evicted{0};          // sources forgotten to make room
  std::atomic<std::uint64_t> evicted_holding{0};  // of those, holding something (see above)
  std::atomic<std::uint64_t> knock_opened{0}, knock_failed{0};
  std::atomic<std::uint64_t> spa_opened{0}, spa_rejected{0}, spa_replayed{0};
  std::atomic<std::uint64_t> spa_misbound{0};  // of spa_rejected: a right MAC, sent from or to
                                               // another address or port than it names
  std::atomic<std::uint64_t> rule_rate_drops{0}, source_rate_drops{0}, source_flow_drops{0};
  std::atomic<std::uint64_t> scan_spared{0};  // scanners not blocked: infrastructure, vouched
};

class SourceTable {
 public:
  explicit SourceTable(std::size_t max_sources = 65536, SourcePolicy policy = {});
  ~SourceTable();
  SourceTable(const SourceTable&) = delete;
  SourceTable& operator=(const SourceTable&) = delete;

  // Takes a new policy (reload). Knock progress is reset; open doors stay open when a knock of
  // the same name still exists; one-time sequences already used stay used.
  void configure(SourcePolicy policy);

  // --- Scan detection.
  // `source` was refused while reaching `port` (a denied or rejected new flow, or a stealth
  // probe). Knock ports never count; an IPv6 source's touches count for its
  // ipv6_block_prefix. 0, or when this makes it a scanner the prefix length the caller blocks
  // it with: 32 for IPv4; ipv6_block_prefix for IPv6, or 128 when that prefix holds an address
  // scan detection spares (infrastructure, vouched).
  std::uint8_t note_refused(const IpAddress& source, std::uint8_t protocol, std::uint16_t port,
                            Timestamp now);
  Duration block_duration() const;
  // The host's infrastructure (host/infrastructure.h), replaced as a whole; kept across
  // configure().
  void trust(std::vector<IpAddress> infrastructure);
  std::vector<IpAddress> trusted() const;
  // `remote` completed a TCP handshake with this host and holds that connection (one call per
  // connection, from when it is assured); unvouch() when it ends. Not bounded by max_sources:
  // one count per live tracked connection, which the connection tables bound.
  void vouch(const IpAddress& remote);
  void unvouch(const IpAddress& remote);
  std::size_t vouched() const;  // distinct addresses

  // --- Limits. A new inbound connection from `source` that the policy would accept; `rule_rate`
  // is the limit rule's rate (nullptr for other rules) and `rule_key` the key of its buckets
  // (PolicySnapshot::limit_key, not 0). When max_connections_per_source is set, an admitted
  // connection counts (`*counted` = true) until connection_closed().
  Admission admit(const IpAddress& source, std::uint64_t rule_key, const Rate* rule_rate,
                  Timestamp now, bool* counted = nullptr);
  void connection_closed(const IpAddress& source);
  // What admit() would say now, without counting anything (for `portwall explain`).
  Admission peek(const IpAddress& source, std::uint64_t rule_key, const Rate* rule_rate,
                 Timestamp now) const;

  // --- Knocking. A new inbound TCP SYN or UDP datagram; `payload` is its L4 payload (for SPA),
  // `unix_seconds` the wall-clock time (SPA freshness). Cheap when no knock is configured.
  // `destination` is the address the packet was sent to (SPA binds it).
  KnockResult knock(const IpAddress& source, const IpAddress& destination, std::uint8_t protocol,
                    std::uint16_t port, std::span<const std::uint8_t> payload, Timestamp now,
                    std::int64_t unix_seconds);
  // The door that a knock opened for `source` to (protocol, port): its index + 1; 0 if none.
  std::size_t granted(const IpAddress& source, std::uint8_t protocol, std::uint16_t port,
                      Timestamp now);
  std::string door_name(std::size_t index) const;
  // The [[knock]] whose sequence or SPA port this is (index + 1); 0: not a knock port.
  std::size_t knock_door_of(std::uint8_t protocol, std::uint16_t port) const;
  // One-time sequences already used, as "knock name: 7001/tcp,7002/tcp" (for the state file),
  // and the restore of that list at start.
  std::vector<std::string> used_one_time_sequences() const;
  void restore_used_one_time_sequences(const std::vector<std::string>& used);
  // The SPA nonces accepted and still fresh enough to be replayed, and their restore at start
  // (the state file keeps them, so that a restart opens no window for a replay).
  std::vector<SeenSpaNonce> used_spa_nonces(Timestamp now) const;
  void restore_used_spa_nonces(const std::vector<SeenSpaNonce>& used, Timestamp now);
  std::uint64_t generation() const;  // moves when a one-time sequence or an SPA nonce is used

  std::size_t size() const;
  std::size_t max_sources() const;
  const SourceTableStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  mutable std::mutex mutex_;
  std::atomic<bool> has_knocks_{false};
  std::atomic<bool> has_limits_{false};  // [limits] new_connections or a connection cap is set
  std::atomic<std::size_t> grants_{0};   // open doors, maybe expired: granted() is free when 0
  std::atomic<std::uint64_t> generation_{0};
  SourceTableStats stats_;
};

}  // namespace portwall
