// engine.h — the decision for one packet: connection state first, then the rules, then the
// default policy. One Engine per queue thread; it owns that thread's connection table.
// Pure logic: time is passed in, nothing here touches the operating system. Not thread-safe,
// except the counters, which other threads may read.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clock/clock.h"
#include "conntrack/conn_tracker.h"
#include "conntrack/flow_handover.h"
#include "detect/block_list.h"
#include "detect/blocked_log_gate.h"
#include "detect/source_table.h"
#include "packet/packet_parser.h"
#include "policy/counters.h"
#include "policy/decision.h"
#include "policy/local_sockets.h"
#include "policy/policy_snapshot.h"
#include "rules/published_ports.h"
#include "rules/rule.h"

namespace portwall {

// Where the packet was met: the hook's direction and the interfaces.
struct HookInfo {
  Direction direction = Direction::in;
  std::string_view in_interface;   // LOCAL_IN: the receiving interface
  std::string_view out_interface;  // LOCAL_OUT: the sending interface (may be empty)
  // After NAT: a packet of a forward (FORWARD hook, a DNAT) or redirected to a local port (it
  // carries the redirect mark). A new connection is judged by the forward's public port.
  bool forwarded = false;
  bool redirected = false;
  // A connection to a port another tool (Docker) publishes with its own DNAT (FORWARD hook,
  // the published mark; rules/published_ports.h): judged by the route rules about the
  // container if one matches, else as one to the host's public port.
  bool published = false;
};

struct EngineOptions {
  ConntrackLimits conntrack;
  // The defenses' state, shared by every queue thread of the daemon. Left empty, the engine
  // makes its own from `sources_policy` (tests, single-thread use).
  std::shared_ptr<SourceTable> sources;
  std::shared_ptr<BlockList> blocks;
  std::shared_ptr<BlockedLogGate> blocked_log;  // which blocked sources' packets are logged
  SourcePolicy sources_policy;
  std::size_t max_sources = 65536;
  // inspect = "new": established connections are offloaded to the kernel (Decision::offload).
  // portwalld's entry for one keeps its timeout, so that it is known when the kernel sends it
  // back (a flush of the offload marks), but may be evicted for a new flow: it ended unseen,
  // perhaps (Flow::offloaded).
  bool offload = false;
  // Other queue threads track flows too: an ICMP error quoting a flow this engine does not
  // hold is left to them (Decision::ask_other_queues), since the kernel's queue-balance hash,
  // over addresses and protocol, puts an error and its flow on different queues.
  bool other_queues = false;
  // Mid-stream TCP flows allowed by the rules are adopted until this instant (DESIGN.md
  // "A restart never cuts established connections"): start time + [conntrack] pickup_grace,
  // and again after each flush (open_pickup). What the host's sockets say decides the direction
  // (policy/local_sockets.h) and whether there is a connection at all; without them, the
  // direction is that of the packet met first.
  Timestamp pickup_until{};
  std::shared_ptr<const LocalSockets> sockets;
  // The ports other tools publish (Docker's DNAT), kept up to date by the daemon. Empty if null.
  std::shared_ptr<const PublishedSet> published;
};

// What Engine::recheck did to the tracked flows after a policy change.
struct RecheckResult {
  std::vector<FlowKey> cut;  // established flows the policy now denies: cut (their keys)
  std::size_t kept = 0;      // denied flows left up (the caller asked to keep them)
  std::size_t restored = 0;  // flows cut earlier that the policy allows again
};

// What the engine knows of the packet beyond its headers.
struct PacketExtras {
  std::span<const std::uint8_t> l4_payload;  // for SPA knocks; may be empty
  std::int64_t unix_seconds = 0;             // wall-clock time (SPA freshness)
};

class Engine {
 public:
  Engine(std::shared_ptr<const PolicySnapshot> policy, EngineOptions options);

  // The decision for a parsed packet. Advances connection state; counts the verdict.
  Decision decide(const PacketView& packet, const HookInfo& hook, Timestamp now,
                  const PacketExtras& extras = {});
  // The decision for bytes the parser rejected: dropped as invalid, counted.
  Decision decide_malformed();

  // An ICMP error another queue's engine received, judged against this engine's flows: accepted
  // by state, dropped when its flow was cut; nullopt when no flow here is the one it quotes.
  // Reads only: another thread may call it while it holds this engine's table.
  std::optional<Decision> related_decision(const PacketView& error, Timestamp now) const;
  // The decision for an ICMP error decide() left to the other queues, from what the one that
  // tracks its flow said (nullopt: none does, the error is invalid). Counted here.
  Decision settle_related(const std::optional<Decision>& found);

  // Mid-stream TCP flows are adopted again until `until` (after a flush of this table or of the
  // kernel's offload marks), as the host's `sockets` of that moment say (kept when null).
  void open_pickup(Timestamp until, std::shared_ptr<const LocalSockets> sockets);

  // Takes a new rule generation. Connection state is kept: established flows stay up.
  void set_policy(std::shared_ptr<const PolicySnapshot> policy) { policy_ = std::move(policy); }
  // Monitor mode: the caller accepts every packet whatever the decision, so a connection the
  // policy refuses goes on; it is tracked as if accepted (its refusal decided and logged once,
  // its later packets passing by state), as a "log, then accept" rule would have it.
  void set_monitor(bool monitor) { monitor_ = monitor; }
  const PolicySnapshot& policy() const { return *policy_; }

  // Judges every tracked flow again by the current rules, defaults and blocks, as if its first
  // packet came now (limits aside; flows a knock let in are left alone). With cut, a flow they
  // deny is cut: its later packets are dropped (the first one logged) and its entry stays
  // `kCutKept` past its last packet, so that a rollback can restore it. A cut flow the policy
  // allows again is restored. With keep (--keep-established), a flow the rules deny stays up,
  // and later changes leave it up too (Flow::kept; only a block cuts it); past a block only
  // when its remote is in `spared` (what `blocked add --keep-established` names; other
  // blocked remotes' flows are cut). With leave (monitor mode, an unblock), nothing is cut, cut
  // flows allowed again are restored. The caller ends the kernel's entries of the flows cut.
  enum class Denied { cut, keep, leave };
  RecheckResult recheck(Timestamp now, Denied denied,
                        const std::optional<Cidr>& spared = std::nullopt);
  static constexpr Duration kCutKept = std::chrono::minutes(10);

  // A re-exec (conntrack/flow_handover.h): the flows tracked now, with the names of the
  // interfaces they were opened on; and, in the new image, taking them over (how many were).
  std::vector<HandedFlow> hand_over(Timestamp now) const;
  std::size_t take_over(const std::vector<HandedFlow>& flows, Timestamp now);

  ConnTracker& conntrack() { return conntrack_; }
  const ConnTracker& conntrack() const { return conntrack_; }
  const Counters& counters() const { return counters_; }
  // For the queue thread that owns this engine: what it counts besides (Counter::flows ...).
  Counters& counters() { return counters_; }
  SourceTable& sources() const { return *sources_; }
  BlockList& blocks() { return *blocks_; }

 private:
  // A mid-stream TCP packet within the pickup grace: judged and tracked from the side that
  // opened its connection (EngineOptions::sockets), never a scan touch; refused as invalid
  // (a touch) when the host holds no such connection: an ACK scan, a stray segment.
  Decision pick_up(const PacketView& packet, const HookInfo& hook, Timestamp now,
                   const PacketExtras& extras);
  Decision judge_new(const PacketView& packet, const HookInfo& hook, Timestamp now, bool pickup,
                     const PacketExtras& extras);
  // The rules' (or the default's) decision for a new flow, limits applied.
  Decision classify(const PacketView& packet, const HookInfo& hook, Timestamp now, bool pickup);
  Decision count(Decision decision);
  // An outgoing SYN/ACK without a flow: the inbound connection it answers, judged and tracked.
  Decision adopt_handshake(const PacketView& packet, const HookInfo& hook, Timestamp now);
  // An outgoing packet that says a port is closed (RST to an unanswered SYN, ICMP port
  // unreachable for UDP) counts as the remote's touch toward scan detection.
  void note_closed_port(const PacketView& packet, Timestamp now);
  // A TCP connection whose remote completed the handshake vouches for that address while it
  // is established and not cut (scan detection spares it, detect/source_table.h).
  static bool should_vouch(const Flow& flow);
  void note_vouch(Flow& flow);
  // A refused touch of `port` by `source` toward scan detection; true if it made the source a
  // scanner, now blocked and counted.
  bool touched_refused(const IpAddress& source, std::uint8_t protocol, std::uint16_t port,
                       Timestamp now);
  // Applies the per-source limits to a new inbound connection that `d` accepts: `d`, or the
  // rate-limit drop. `limit_key`: the limit rule's (PolicySnapshot::limit_key), with `rule_rate`.
  Decision admit(const PacketView& packet, Timestamp now, std::uint64_t limit_key,
                 const Rate* rule_rate, const Decision& d);
  // Tracks the flow `d` accepted; nullptr when the table has no room.
  Flow* open_flow(const PacketView& packet, const HookInfo& hook, Timestamp now, const Decision& d,
                  bool pickup);
  // The public port of a forwarded, redirected or published inbound packet, or 0.
  std::uint16_t public_port_of(const PacketView& packet, const HookInfo& hook) const;
  // A published connection: the decision of the first route rule about its container (the
  // packet as routed, after the DNAT), if one matches.
  std::optional<Decision> route_rule_decision(const PacketView& packet, const HookInfo& hook);
  // Small ids for the interfaces flows were opened on (Flow::interface_id), so that a recheck
  // can match rules with `on IFACE`. 0: none; kUnknownInterface: the table was full.
  std::uint8_t interface_id(std::string_view name);
  static constexpr std::uint8_t kUnknownInterface = 255;
  std::vector<std::string> interfaces_;
  // Counts a refused inbound touch toward scan detection; the decision, or scan-block if this
  // touch made the source a scanner.
  Decision refused(const PacketView& packet, const HookInfo& hook, Timestamp now, Decision d);

  std::shared_ptr<const PolicySnapshot> policy_;
  EngineOptions options_;
  bool monitor_ = false;
  ConnTracker conntrack_;
  std::shared_ptr<SourceTable> sources_;
  std::shared_ptr<BlockList> blocks_;
  std::shared_ptr<BlockedLogGate> blocked_log_;
  std::shared_ptr<const PublishedSet> published_;
  BlockList::Reader block_reader_;  // this thread's lock-free view of blocks_
  Counters counters_;
  bool counted_inbound_ = false;  // admit() counted the connection being opened
};

// True for the ICMPv6 messages IPv6 cannot live without (neighbour and router discovery,
// RFC 4861), which portwall accepts whatever the defaults say, as ufw's before6.rules do.
bool is_neighbour_discovery(const PacketView& packet);

}  // namespace portwall
