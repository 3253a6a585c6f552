// rule.h — the rule model: what one `[[rule]]` table means once validated.
// Values only; a Rule never refers to the file it came from except through `origin`.
// Address sets (`@name`) are resolved at load time into `from`/`to` prefixes, while the
// text the administrator wrote is kept for display (`from_text`, `to_text`, `port_text`).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "clock/clock.h"
#include "packet/ip_address.h"
#include "rules/compact_text.h"

namespace portwall {

enum class Action : std::uint8_t { allow, deny, reject, limit };
// route: traffic this host forwards between two other hosts (the FORWARD hook), as ufw's
// `route` rules judge it.
enum class Direction : std::uint8_t { in, out, route };
// icmp matches ICMP over IPv4 and ICMPv6 over IPv6.
enum class Proto : std::uint8_t { any, tcp, udp, icmp };

const char* to_string(Action);
const char* to_string(Direction);
const char* to_string(Proto);

// An address prefix: 192.0.2.0/24, 2001:db8::/32, or a single address (/32, /128).
struct Cidr {
  IpAddress network;  // host bits are zero
  std::uint8_t prefix_length = 0;

  bool contains(const IpAddress& address) const;
  friend bool operator==(const Cidr&, const Cidr&) = default;
};
std::string to_string(const Cidr&);

// A list of prefixes that never changes once made. One prefix (what almost every rule names) is
// held in place; longer lists are shared by whoever copies them: a 10^6-entry set is held once
// however many rules name it and however many rule generations (a reload, a change, a copy
// being edited) are alive, and copying a RuleSet costs nothing for it.
class CidrList {
 public:
  using value_type = Cidr;
  using iterator = const Cidr*;
  using const_iterator = iterator;

  CidrList() = default;
  CidrList(std::vector<Cidr> prefixes);  // NOLINT: a list is made from its prefixes
  CidrList(std::initializer_list<Cidr> prefixes) : CidrList(std::vector<Cidr>(prefixes)) {}
  CidrList(const CidrList& other);
  CidrList(CidrList&& other) noexcept;
  CidrList& operator=(CidrList other) noexcept;
  ~CidrList();

  iterator begin() const { return items().data(); }
  iterator end() const { return items().data() + items().size(); }
  std::size_t size() const { return items().size(); }
  bool empty() const { return kind_ == Kind::none; }
  const Cidr& operator[](std::size_t i) const { return items()[i]; }
  std::span<const Cidr> items() const;
  // What a shared list is held in, to tell the same list from an equal one (null: one held in
  // place, or none).
  const void* identity() const;
  // The same list, not only equal ones: what was compiled from one serves the other.
  bool shares_with(const CidrList& other) const {
    return identity() != nullptr && identity() == other.identity();
  }

  friend bool operator==(const CidrList& a, const CidrList& b) {
    return a.shares_with(b) || std::ranges::equal(a.items(), b.items());
  }
  friend bool operator==(const CidrList& a, const std::vector<Cidr>& b) {
    return std::ranges::equal(a.items(), b);
  }

 private:
  using Shared = std::shared_ptr<const std::vector<Cidr>>;
  enum class Kind : std::uint8_t { none, one, shared };
  Shared& shared() { return *std::launder(reinterpret_cast<Shared*>(storage_)); }
  const Shared& shared() const { return *std::launder(reinterpret_cast<const Shared*>(storage_)); }

  // Kind::one: a Cidr (trivially copyable) in place; Kind::shared: a Shared.
  alignas(8) unsigned char storage_[std::max(sizeof(Cidr), sizeof(Shared))]{};
  Kind kind_ = Kind::none;
};
static_assert(sizeof(CidrList) <= 24);

// An address condition: any address, or any of a list of prefixes (a set may mix families).
struct AddressMatch {
  bool any = true;
  CidrList prefixes;

  bool matches(const IpAddress& address) const;
};

struct PortRange {
  std::uint16_t first = 0, last = 0;  // inclusive, 1..65535, first <= last
  friend bool operator==(const PortRange&, const PortRange&) = default;
};

// Port ranges: up to three in place (a port, a range, "80,443"), more in a block of their own.
class PortRanges {
 public:
  PortRanges() = default;
  PortRanges(std::initializer_list<PortRange> ranges) { assign(ranges.begin(), ranges.size()); }
  PortRanges(const PortRanges& other) { assign(other.data(), other.size_); }
  PortRanges(PortRanges&& other) noexcept;
  PortRanges& operator=(PortRanges other) noexcept;
  ~PortRanges();

  const PortRange* data() const { return size_ <= kInPlace ? in_place_ : heap(); }
  PortRange* data() { return size_ <= kInPlace ? in_place_ : heap(); }
  const PortRange* begin() const { return data(); }
  const PortRange* end() const { return data() + size_; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const PortRange& operator[](std::size_t i) const { return data()[i]; }
  PortRange& operator[](std::size_t i) { return data()[i]; }
  void push_back(PortRange r);

  friend bool operator==(const PortRanges& a, const PortRanges& b) {
    return std::ranges::equal(a, b);
  }
  friend bool operator==(const PortRanges& a, const std::vector<PortRange>& b) {
    return std::ranges::equal(a, b);
  }

 private:
  static constexpr std::uint16_t kInPlace = 3;
  void assign(const PortRange* from, std::size_t n);
  // Out of place, the block's address is kept in the first bytes of in_place_, which are aligned
  // as a pointer (a leak checker looks for it there). Its capacity: the size rounded up to a
  // power of two, at least kInPlace + 1.
  PortRange* heap() const {
    PortRange* p;
    std::memcpy(&p, static_cast<const void*>(in_place_), sizeof p);
    return p;
  }
  void set_heap(PortRange* p) { std::memcpy(static_cast<void*>(in_place_), &p, sizeof p); }

  alignas(8) PortRange in_place_[kInPlace]{};
  std::uint16_t size_ = 0;
};
static_assert(sizeof(PortRanges) <= 16);

// A port condition: any port (empty), or any of the ranges.
struct PortMatch {
  PortRanges ranges;

  bool any() const { return ranges.empty(); }
  bool matches(std::uint16_t port) const;
};

// A rate: `count` events per `per`, with room for `burst` at once (0: burst = count).
// `limit` rules default to ufw's 6 per 30 s.
struct Rate {
  std::uint32_t count = 0;  // 0: no limit
  Duration per{};
  std::uint32_t burst = 0;
  // ufw's `limit` (iptables `recent`): at most `count` attempts within `per`, refused ones
  // counting too, so that a source which keeps hammering stays out. Otherwise a token bucket.
  bool every_attempt_counts = false;
  friend bool operator==(const Rate&, const Rate&) = default;
};

// Where a rule was written, for error messages and `status`.
struct Origin {
  CompactText file;
  int line = 0, column = 0;
};

struct Rule {
  Action action = Action::allow;
  Direction direction = Direction::in;
  Proto proto = Proto::any;
  bool log = false;  // log the connections it accepts too (here: in the head's padding)
  AddressMatch from, to;
  PortMatch port;       // destination port
  PortMatch from_port;  // source port
  CompactText interface;      // empty: any interface; else IN= (direction in, route) or OUT= (out)
  CompactText out_interface;  // route rules: the interface it leaves by (OUT=); empty: any
  CompactText comment;
  Rate rate;  // action limit only: `rate = "6/30s"`, `burst = 6`; count 0: ufw's 6/30s

  // As written, for display: "any", "10.0.0.0/8", "@admins"; "22", "80,443", "8000:8100", "ssh".
  CompactText from_text = "any", to_text = "any";
  CompactText port_text, from_port_text;  // empty: any
  Origin origin;
};

// A port forward (forward.h): connections to this host's public `port` go to `to_port` of this
// host (a redirect) or of `to_address` (DNAT, masqueraded). The rules judge them by `port`.
struct Forward {
  Proto proto = Proto::any;             // tcp, udp, or any (both)
  std::uint16_t port = 0;               // the public port, on this host's addresses
  std::string interface;                // empty: any incoming interface
  std::optional<IpAddress> to_address;  // none: this host (a redirect)
  std::uint16_t to_port = 0;
  std::string comment;
  Origin origin;

  bool redirect() const { return !to_address; }
};

// The policy when no rule matches. Only allow, deny and reject are valid here.
struct Defaults {
  Action incoming = Action::deny;
  Action outgoing = Action::allow;
  // Routed traffic no rule decides (ufw's `default deny routed`). portwalld only judges routed
  // traffic when asked: a `route` rule exists or `routed` was set (RuleSet::judges_routed).
  Action routed = Action::deny;
  bool routed_given = false;
};

// What ICMP and the host's own network plumbing may do whatever [defaults] say, as ufw's
// before.rules has it; the rules file's [icmp] table. ICMP errors about tracked connections
// pass by state, and IPv6 neighbour discovery (hop limit 255) and MLD from link-local sources
// always pass: IPv6 does not work without them.
struct IcmpPolicy {
  bool echo_request = true;  // ping (ICMP echo request, ICMPv6 128) in: accepted
  bool dhcp_client = true;   // DHCP (udp 67 -> 68) and DHCPv6 (link-local 547 -> 546) replies
  bool redirects = false;    // ICMP redirect (type 5) and ICMPv6 redirect (137) in: accepted
  friend bool operator==(const IcmpPolicy&, const IcmpPolicy&) = default;
};

struct RuleSet {
  Defaults defaults;
  IcmpPolicy icmp;
  bool has_icmp = false;  // the file had an [icmp] table (then written back)
  // Which keys of [defaults] the file holds: each overrides the configuration's, key by key.
  // Only `portwall default ...` adds one; a rule change writes back what was there.
  bool has_incoming = false, has_outgoing = false, has_routed = false;
  bool has_defaults() const { return has_incoming || has_outgoing || has_routed; }
  // The keys the file does not hold take `in_force` (the configuration's): what the rules then
  // decide, and what `portwall default` changes from.
  void default_to(const Defaults& in_force) {
    if (!has_incoming) defaults.incoming = in_force.incoming;
    if (!has_outgoing) defaults.outgoing = in_force.outgoing;
    if (!has_routed) {
      defaults.routed = in_force.routed;
      defaults.routed_given = in_force.routed_given;
    }
  }
  // Whether routed traffic goes to portwalld at all: a `route` rule, or a routed default.
  bool judges_routed() const {
    return defaults.routed_given || std::ranges::any_of(rules, [](const Rule& r) {
             return r.direction == Direction::route;
           });
  }
  std::vector<Rule> rules;               // ordered; rule number N is rules[N-1]
  std::map<std::string, CidrList> sets;  // `[sets]` / `[[set]]` name -> prefixes
  // Sets whose entries come from a file (`[[set]] file = "..."`): the file as written, and how
  // many of the set's prefixes (the first ones) were written inline. The rules writer keeps
  // them in their file rather than copying them into the rules file.
  struct SetFile {
    std::string path;
    std::size_t inline_entries = 0;
  };
  std::map<std::string, SetFile> set_files;
  std::vector<Forward> forwards;  // `[[forward]]` tables, in order
};

}  // namespace portwall
