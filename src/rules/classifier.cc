#include "rules/classifier.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <tuple>
#include <unordered_map>

#include "packet/packet_view.h"
#include "rules/address_set.h"
#include "rules/huge_pages.h"

namespace portwall {
namespace {

// Lists longer than this are checked through an AddressSet rather than spread into the index.
constexpr std::size_t kSpreadAddresses = 16;
// Port lists and ranges of up to this many ports are spread into the index, one key each.
constexpr std::size_t kSpreadPorts = 256;
// A rule whose spread would need more keys than this is checked on every packet instead.
constexpr std::size_t kSpreadKeys = 4096;

bool proto_matches(const Rule& rule, std::uint8_t protocol) {
  switch (rule.proto) {
    case Proto::any:
      // A port only means something for TCP and UDP: `allow 53` is tcp and udp, as in ufw.
      if (!rule.port.any() || !rule.from_port.any()) {
        return protocol == ipproto::tcp || protocol == ipproto::udp;
      }
      return true;
    case Proto::tcp:
      return protocol == ipproto::tcp;
    case Proto::udp:
      return protocol == ipproto::udp;
    case Proto::icmp:
      return protocol == ipproto::icmp || protocol == ipproto::icmpv6;
  }
  return false;
}

std::array<std::uint8_t, 16> masked(const IpAddress& a, std::uint8_t length) {
  std::array<std::uint8_t, 16> out{};
  const std::size_t whole = length / 8;
  std::memcpy(out.data(), a.bytes.data(), std::min<std::size_t>(whole, 16));
  if (whole < 16 && length % 8) {
    out[whole] = static_cast<std::uint8_t>(a.bytes[whole] & (0xff00 >> (length % 8)));
  }
  return out;
}

// The fields one group hashes; unused fields stay zero.
struct Key {
  std::array<std::uint8_t, 16> src{}, dst{};
  std::uint16_t port = 0;
  std::uint8_t protocol = 0;
  friend bool operator==(const Key&, const Key&) = default;
};

struct KeyHash {
  std::size_t operator()(const Key& k) const noexcept {
    std::uint64_t w[4];
    std::memcpy(w, k.src.data(), 16);
    std::memcpy(w + 2, k.dst.data(), 16);
    std::uint64_t h = 0x9e3779b97f4a7c15ull ^ (std::uint64_t{k.port} << 8 | k.protocol);
    for (std::uint64_t x : w) {
      h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
      h *= 0xff51afd7ed558ccdull;
    }
    return static_cast<std::size_t>(h ^ (h >> 33));
  }
};

// One rule shape.
struct Shape {
  Direction direction;
  Family family;
  std::uint8_t src_length, dst_length;  // 0: not indexed (any, or checked by the candidate)
  bool by_protocol, by_port;
  friend bool operator==(const Shape&, const Shape&) = default;
};

// The rules of one shape, by key: an open-addressing table of key fingerprints, each naming its
// run of rule indices (ascending) in one array. The key itself is not kept: every candidate is
// checked whole (Index::matches), so a fingerprint shared by two keys costs a look at the other
// key's rules, never a wrong answer, as long as a lookup visits every slot with its fingerprint
// up to the first empty one. 8 bytes a slot where the key was 36: at 10^5 rules the tables
// went from 23 MB to 2 MB.
struct Group {
  Shape shape;
  std::uint32_t first_rule = UINT32_MAX;
  struct Slot {
    std::uint32_t tag = 0;  // the key's hash, high half; 0: empty
    std::uint32_t run = 0;  // runs[run] .. runs[run + 1] in `rules`
  };
  std::vector<Slot> slots;           // size a power of two, at most half full
  std::vector<std::uint32_t> runs;   // where each run begins in `rules`, and the end
  std::vector<std::uint32_t> rules;  // the runs
  std::vector<std::pair<Key, std::uint32_t>> pending;  // while compiling: (key, rule)

  void add(const Key& key, std::uint32_t rule) { pending.emplace_back(key, rule); }

  std::uint32_t tag_mask = 0xffffffff;  // ClassifierTuning::fingerprint_mask

  std::uint32_t tag_of(std::size_t hash) const {
    const auto tag = static_cast<std::uint32_t>(static_cast<std::uint64_t>(hash) >> 32) & tag_mask;
    return tag ? tag : 1;
  }

  // Sorts what add() gathered into runs and builds the table.
  void finish() {
    auto order = [](const std::pair<Key, std::uint32_t>& a,
                    const std::pair<Key, std::uint32_t>& b) {
      return std::tie(a.first.src, a.first.dst, a.first.port, a.first.protocol, a.second) <
             std::tie(b.first.src, b.first.dst, b.first.port, b.first.protocol, b.second);
    };
    std::sort(pending.begin(), pending.end(), order);
    pending.erase(std::unique(pending.begin(), pending.end()), pending.end());
    std::size_t keys = 0;
    for (std::size_t k = 0; k < pending.size(); ++k) {
      keys += k == 0 || !(pending[k].first == pending[k - 1].first);
    }
    std::size_t size = 2;
    while (size < 2 * keys) size *= 2;
    reserve_in_huge_pages(slots, size);
    slots.assign(size, Slot{});
    runs.reserve(keys + 1);
    reserve_in_huge_pages(rules, pending.size());
    for (std::size_t k = 0; k < pending.size();) {
      const Key& key = pending[k].first;
      const auto run = static_cast<std::uint32_t>(runs.size());
      runs.push_back(static_cast<std::uint32_t>(rules.size()));
      for (; k < pending.size() && pending[k].first == key; ++k) rules.push_back(pending[k].second);
      const std::size_t hash = KeyHash{}(key);
      std::size_t at = hash & (size - 1);
      while (slots[at].tag != 0) at = (at + 1) & (size - 1);
      slots[at] = Slot{tag_of(hash), run};
    }
    runs.push_back(static_cast<std::uint32_t>(rules.size()));
    // Not `pending = {}`: that assigns an empty initializer list and keeps the capacity (40
    // bytes per key, 10 MB at 10^5 rules, for the classifier's whole life).
    std::vector<std::pair<Key, std::uint32_t>>().swap(pending);
  }

  // Calls `visit(begin, end)` with the run of every key whose fingerprint is `key`'s, in table
  // order: any of them may hold the rule wanted.
  template <typename Visit>
  void find(const Key& key, Visit&& visit) const {
    if (slots.empty()) return;
    const std::size_t mask = slots.size() - 1;
    const std::size_t hash = KeyHash{}(key);
    const std::uint32_t tag = tag_of(hash);
    for (std::size_t at = hash & mask;; at = (at + 1) & mask) {
      const Slot& slot = slots[at];
      if (slot.tag == 0) return;
      if (slot.tag == tag) visit(runs[slot.run], runs[slot.run + 1]);
    }
  }
};

// Whether a rule's address list is checked through an AddressSet rather than one by one.
bool compiled_as_set(const AddressMatch& m) {
  return !m.any && m.prefixes.size() > kSpreadAddresses;
}

// The address sets of the rules with long lists (compiled_as_set), by rule: few rules have one,
// so the rest pay nothing for it.
struct CompiledSets {
  std::uint32_t rule = 0;
  std::shared_ptr<const AddressSet> from, to;  // shared with the generation before, if its list is
};

// At most two of anything below: a fixed list, so that compiling 10^5 rules allocates nothing
// per rule for them.
template <typename T>
struct TwoAtMost {
  std::array<T, 2> items{};
  std::size_t size = 0;
  void push_back(T t) { items[size++] = t; }
  const T* begin() const { return items.data(); }
  const T* end() const { return items.data() + size; }
  bool empty() const { return size == 0; }
};

TwoAtMost<Family> families_of(const Rule& r) {
  TwoAtMost<Family> out;
  for (Family f : {Family::ipv4, Family::ipv6}) {
    auto has = [f](const AddressMatch& m) {
      if (m.any) return true;
      for (const Cidr& c : m.prefixes) {
        if (c.network.family == f) return true;
      }
      return false;
    };
    if (has(r.from) && has(r.to)) out.push_back(f);
  }
  return out;
}

TwoAtMost<std::uint8_t> protocols_of(const Rule& r, Family family) {
  TwoAtMost<std::uint8_t> out;
  switch (r.proto) {
    case Proto::any:
      if (!r.port.any() || !r.from_port.any()) {
        out.push_back(ipproto::tcp);
        out.push_back(ipproto::udp);
      }
      break;  // else not indexed: every protocol
    case Proto::tcp:
      out.push_back(ipproto::tcp);
      break;
    case Proto::udp:
      out.push_back(ipproto::udp);
      break;
    case Proto::icmp:
      out.push_back(family == Family::ipv4 ? ipproto::icmp : ipproto::icmpv6);
      break;
  }
  return out;
}

std::size_t port_count(const PortMatch& p) {
  std::size_t n = 0;
  for (const PortRange& r : p.ranges) n += std::size_t{r.last} - r.first + 1;
  return n;
}

}  // namespace

struct Classifier::Index {
  std::vector<Group> groups;             // by first_rule, ascending
  std::vector<std::uint32_t> unindexed;  // rules checked on every packet, ascending
  std::vector<CompiledSets> sets;        // by rule, ascending
  const Rule* rules = nullptr;  // rules_.rules.data(): stays valid when the Classifier moves

  const CompiledSets& sets_of(std::uint32_t i) const {
    return *std::lower_bound(
        sets.begin(), sets.end(), i,
        [](const CompiledSets& c, std::uint32_t rule) { return c.rule < rule; });
  }

  bool address_matches(std::uint32_t i, const AddressMatch& m, bool from,
                       const IpAddress& a) const {
    if (m.any) return true;
    if (m.prefixes.size() <= kSpreadAddresses) return m.matches(a);
    const CompiledSets& c = sets_of(i);
    return (from ? c.from : c.to)->contains(a);
  }

  // The whole rule: the index only narrows down which rules are looked at.
  bool matches(std::uint32_t i, const MatchInput& in) const {
    const Rule& rule = rules[i];
    return rule.direction == in.direction && proto_matches(rule, in.protocol) &&
           address_matches(i, rule.from, true, in.src) &&
           address_matches(i, rule.to, false, in.dst) && rule.port.matches(in.dst_port) &&
           rule.from_port.matches(in.src_port) &&
           (rule.interface.empty() || rule.interface == in.interface) &&
           (rule.out_interface.empty() || rule.out_interface == in.out_interface);
  }

  std::uint32_t tag_mask = 0xffffffff;

  Group& group(const Shape& s) {
    for (Group& g : groups) {
      if (g.shape == s) return g;
    }
    Group& g = groups.emplace_back();
    g.shape = s;
    g.tag_mask = tag_mask;
    return g;
  }

  // What spread() fills for one rule, kept between rules so that compiling allocates per key
  // only.
  struct Entry {
    Shape shape;
    Key key;
  };
  std::vector<Entry> entries;
  std::vector<std::uint16_t> ports;
  std::vector<const Cidr*> sources, destinations;

  // Spreads rule `i` into the groups; false if it is too wide to spread.
  bool spread(std::uint32_t i, const Rule& r) {
    const bool from_spread = !r.from.any && r.from.prefixes.size() <= kSpreadAddresses;
    const bool to_spread = !r.to.any && r.to.prefixes.size() <= kSpreadAddresses;
    const bool port_spread = !r.port.any() && port_count(r.port) <= kSpreadPorts;
    ports.clear();
    if (port_spread) {
      for (const PortRange& pr : r.port.ranges) {
        for (std::uint32_t p = pr.first; p <= pr.last; ++p)
          ports.push_back(static_cast<std::uint16_t>(p));
      }
    }
    entries.clear();
    for (Family family : families_of(r)) {
      auto prefixes = [&](const AddressMatch& m, bool spread_it, std::vector<const Cidr*>& out) {
        out.clear();
        if (!spread_it) {
          out.push_back(nullptr);
        } else {
          for (const Cidr& c : m.prefixes) {
            if (c.network.family == family) out.push_back(&c);
          }
        }
      };
      prefixes(r.from, from_spread, sources);
      prefixes(r.to, to_spread, destinations);
      const auto protocols = protocols_of(r, family);
      TwoAtMost<std::uint8_t> proto_keys = protocols;
      if (proto_keys.empty()) proto_keys.push_back(0);
      for (const Cidr* src : sources) {
        for (const Cidr* dst : destinations) {
          for (std::uint8_t proto : proto_keys) {
            const std::size_t n_ports = port_spread ? ports.size() : 1;
            if (entries.size() + n_ports > kSpreadKeys) return false;
            for (std::size_t k = 0; k < n_ports; ++k) {
              Shape s{r.direction,
                      family,
                      src ? src->prefix_length : std::uint8_t{0},
                      dst ? dst->prefix_length : std::uint8_t{0},
                      !protocols.empty(),
                      port_spread};
              Key key;
              if (src) key.src = masked(src->network, src->prefix_length);
              if (dst) key.dst = masked(dst->network, dst->prefix_length);
              key.protocol = proto;
              if (port_spread) key.port = ports[k];
              entries.push_back({s, key});
            }
          }
        }
      }
    }
    for (const Entry& e : entries) {
      Group& g = group(e.shape);
      g.add(e.key, i);
      g.first_rule = std::min(g.first_rule, i);
    }
    return true;
  }
};

Classifier::Classifier(RuleSet rules, const Classifier* previous, ClassifierTuning tuning)
    : rules_(std::move(rules)), index_(std::make_unique<Index>()) {
  Index& x = *index_;
  x.tag_mask = tuning.fingerprint_mask;
  // The address sets the generation before compiled, by the list they were compiled from: a
  // list still shared (a set file that did not change) is not compiled again.
  std::unordered_map<const void*, std::shared_ptr<const AddressSet>> compiled_before;
  if (previous) {
    const Index& p = *previous->index_;
    for (const CompiledSets& c : p.sets) {
      const Rule& r = p.rules[c.rule];
      if (c.from) compiled_before.emplace(r.from.prefixes.identity(), c.from);
      if (c.to) compiled_before.emplace(r.to.prefixes.identity(), c.to);
    }
  }
  auto address_set = [&](const CidrList& list) -> std::shared_ptr<const AddressSet> {
    if (auto it = compiled_before.find(list.identity()); it != compiled_before.end()) {
      return it->second;
    }
    return std::make_shared<const AddressSet>(list.items());
  };
  x.rules = rules_.rules.data();
  for (std::uint32_t i = 0; i < rules_.rules.size(); ++i) {
    const Rule& r = rules_.rules[i];
    if (compiled_as_set(r.from) || compiled_as_set(r.to)) {
      CompiledSets& c = x.sets.emplace_back();
      c.rule = i;
      if (compiled_as_set(r.from)) c.from = address_set(r.from.prefixes);
      if (compiled_as_set(r.to)) c.to = address_set(r.to.prefixes);
    }
    if (!x.spread(i, r)) x.unindexed.push_back(i);
  }
  for (Group& g : x.groups) g.finish();
  std::sort(x.groups.begin(), x.groups.end(),
            [](const Group& a, const Group& b) { return a.first_rule < b.first_rule; });
}

Classifier::~Classifier() = default;
Classifier::Classifier(Classifier&&) noexcept = default;
Classifier& Classifier::operator=(Classifier&&) noexcept = default;

std::optional<std::size_t> Classifier::match(const MatchInput& in) const {
  const Index& x = *index_;
  std::uint32_t best = UINT32_MAX;
  for (const Group& g : x.groups) {
    if (g.first_rule >= best) break;  // groups are in order of their first rule
    const Shape& s = g.shape;
    if (s.direction != in.direction || s.family != in.src.family) continue;
    Key key;
    if (s.src_length) key.src = masked(in.src, s.src_length);
    if (s.dst_length) key.dst = masked(in.dst, s.dst_length);
    if (s.by_protocol) key.protocol = in.protocol;
    if (s.by_port) key.port = in.dst_port;
    g.find(key, [&](std::uint32_t begin, std::uint32_t end) {
      for (std::uint32_t k = begin; k < end; ++k) {
        const std::uint32_t i = g.rules[k];
        if (i >= best) break;
        if (x.matches(i, in)) {
          best = i;
          break;
        }
      }
    });
  }
  for (std::uint32_t i : x.unindexed) {
    if (i >= best) break;
    if (x.matches(i, in)) {
      best = i;
      break;
    }
  }
  if (best == UINT32_MAX) return std::nullopt;
  return best;
}

Action Classifier::default_action(Direction direction) const {
  switch (direction) {
    case Direction::in:
      return rules_.defaults.incoming;
    case Direction::out:
      return rules_.defaults.outgoing;
    case Direction::route:
      return rules_.defaults.routed;
  }
  return rules_.defaults.incoming;
}

std::size_t Classifier::groups() const { return index_->groups.size(); }

}  // namespace portwall
