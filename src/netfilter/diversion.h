// diversion.h — the kernel rules that divert packets to portwall's queues, behind one
// interface with two backends: iptables/ip6tables (portwall's own chains hooked from INPUT
// and OUTPUT) and nftables (portwall's own `table inet portwall`). Either touches only what it
// owns: it never flushes anyone else's rules. Each is installed in the network namespace the
// daemon runs in.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <memory>
#include <string>
#include <vector>

#include "config/config.h"
#include "detect/block_mirror.h"
#include "rules/published_ports.h"
#include "rules/rule.h"

namespace portwall {

struct DiversionSpec {
  std::vector<std::uint16_t> queues;       // consecutive numbers: one or a --queue-balance range
  bool bypass = true;                      // --queue-bypass: nobody listening -> accept
  std::uint32_t reject_mark = 0x00800000;  // packets repeated with this mark bit are rejected
  // inspect = "new": connections whose kernel connmark has this bit skip the queue (0: none).
  std::uint32_t offload_mark = 0;
  // Port forwards, as kernel NAT rules in portwall's own chains (or table): redirected packets
  // carry `redirect_mark` (set before NAT) so that portwalld can tell them from direct ones;
  // DNAT'ed connections are masqueraded and queued in the forward hook, both ways. No forward:
  // none of these rules exist, and nothing here turns the kernel's connection tracking on.
  std::vector<Forward> forwards;
  std::uint32_t redirect_mark = 0x00200000;
  // Routed traffic (`route` rules, [defaults] routed: RuleSet::judges_routed): every forwarded
  // packet that no forward carries goes to the queue, in both directions, marked with
  // `routed_mark` so that portwalld judges it by the route rules. Off: FORWARD is left alone
  // (but for the forwards and routed_deny).
  bool route_queue = false;
  std::uint32_t routed_mark = 0x00100000;
  // Ports another tool publishes with its own DNAT (Docker's `-p`; rules/published_ports.h):
  // the packets of every DNAT'ed connection that is not one of the forwards go to the queue,
  // both ways, marked with `published_mark`, to be judged as connections to the host's port.
  bool published_queue = false;
  std::uint32_t published_mark = 0x00080000;
  // Routed and published packets portwalld accepted come back with this bit (NfQueueOptions::
  // passed_mark) and leave the forward chain at once, for the rest of FORWARD to decide too.
  std::uint32_t passed_mark = 0x00040000;
  // By family: Docker's DOCKER-USER chain exists. The forward chain is then jumped to from its
  // top, where Docker wants users' rules (it never flushes that chain, and jumps to it first
  // from FORWARD, above its own ACCEPTs, which it re-inserts at FORWARD's top when it starts).
  std::array<bool, 2> docker_user{};
  // By family (ipv4, ipv6): portwalld turned the kernel's forwarding on for the forwards, so
  // it drops every routed packet they do not carry (a routed default of deny), rather than
  // leaving the host an open router under the FORWARD policy. Off when forwarding was on
  // before: the host was a router by its administrator's choice.
  std::array<bool, 2> routed_deny{};
  // The block list's copy in the kernel (detect/block_mirror.h): a set per family, with room
  // for this many entries, whose members' packets are dropped before the queue (an IPv6
  // member's neighbour discovery and ICMP redirects still go to portwalld, which decides them
  // before blocks). 0: none.
  std::size_t block_set_size = 0;
};

// What the nat and filter tables say of the ports other tools publish (Docker), by family.
struct PublishedScan {
  std::vector<PublishedPort> ports;   // both families' DNAT rules but portwall's own
  std::array<bool, 2> docker_user{};  // the DOCKER-USER chain exists
  // Its first rule is the jump to portwall's forward chain (iptables backend only).
  std::array<bool, 2> jump_in_place{};
};
// Reads them with iptables-save's listings (`iptables -t nat -S`, `iptables -S DOCKER-USER`):
// Docker writes its rules with iptables whichever backend portwalld uses.
PublishedScan scan_published_rules();

class Diversion {
 public:
  virtual ~Diversion() = default;
  virtual const char* name() const = 0;
  // Installs the rules, replacing leftovers of an earlier run (a crash) in one step; the
  // forwards are left as they are (set_forwards() follows).
  virtual std::expected<void, std::string> install(const DiversionSpec& spec) = 0;
  // Removes exactly what install() added. Idempotent.
  virtual std::expected<void, std::string> remove() = 0;
  // Replaces the forwarding rules with those of spec.forwards (at start, after a reload) in one
  // transaction per family, so that none is missing meanwhile; none: removed.
  virtual std::expected<void, std::string> set_forwards(const DiversionSpec& spec) = 0;
  // Packets the queue rules have sent toward the queues (IPv4 + IPv6, in + out), from the
  // kernel's own rule counters: what the daemon did not receive of these passed uninspected.
  virtual std::expected<std::uint64_t, std::string> queued_packets() = 0;

  // The kernel set of blocks (DiversionSpec::block_set_size), made empty by install(): "" when
  // it is in place, else why not (not asked for, no ipset, refused by the kernel); without it
  // portwalld drops blocked sources' packets itself.
  virtual std::string block_set_problem() const = 0;
  // Whether two entries of the set may overlap (ipset's hash:net: yes; an nftables interval
  // set: no).
  virtual bool block_overlaps_allowed() const = 0;
  // Adds (an entry already there takes the new timeout) and removals, in as few transactions as
  // the backend allows. An entry to remove that the kernel already expired is no error.
  virtual std::expected<void, std::string> change_blocks(const BlockSetChanges& changes) = 0;
  // Empties the set (after a failed change, whose part the kernel took is unknown).
  virtual std::expected<void, std::string> clear_blocks() = 0;
  // Every entry of the set with its packet counter.
  virtual std::expected<std::vector<KernelBlockCount>, std::string> block_counts() = 0;
};

std::unique_ptr<Diversion> make_iptables_diversion();
// What the backends load, exposed so that tests can pin the exact rules.
// `leftover_jumps`: as many jumps to each of portwall's chains an earlier run left (deleted
// in the same transaction).
std::string iptables_restore_script(bool ipv6, const DiversionSpec& spec, int leftover_jumps = 0,
                                    bool block_set = false);
// "" if none; `leftover_jumps` as above, to the forward chains.
std::string iptables_forward_script(bool ipv6, const DiversionSpec& spec, int leftover_jumps = 0);
std::string nftables_table_text(const DiversionSpec& spec);
std::string nftables_forward_text(const DiversionSpec& spec);  // deletes the table if none
std::unique_ptr<Diversion> make_nftables_diversion();

// For nftables: would the kernel accept the rules (nft's queue statement needs
// CONFIG_NFT_QUEUE)? The error, if not.
std::expected<void, std::string> nftables_supported(const DiversionSpec& spec);

// Picks the backend: `automatic` prefers nftables where the kernel supports its queue
// statement, else iptables; `fallback_reason` then says why nftables was not used.
std::unique_ptr<Diversion> choose_diversion(Backend backend, const DiversionSpec& spec,
                                            std::string* fallback_reason);

}  // namespace portwall
