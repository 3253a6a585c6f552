#include "rules/classifier.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <unordered_map>

#include "packet/packet_view.h"
#include "rules/address_set.h"

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

struct Group {
  Shape shape;
  std::uint32_t first_rule = UINT32_MAX;
  std::unordered_map<Key, std::vector<std::uint32_t>, KeyHash> rules;  // rule indices, ascending
};

// An address condition as a candidate check: any, a short list, or a compiled set.
struct AddressCheck {
  const AddressMatch* match = nullptr;
  std::unique_ptr<AddressSet> set;
  bool matches(const IpAddress& a) const {
    if (match->any) return true;
    return set ? set->contains(a) : match->matches(a);
  }
};

struct CompiledRule {
  AddressCheck from, to;
};

std::vector<Family> families_of(const Rule& r) {
  std::vector<Family> out;
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

std::vector<std::uint8_t> protocols_of(const Rule& r, Family family) {
  switch (r.proto) {
    case Proto::any:
      if (!r.port.any() || !r.from_port.any()) return {ipproto::tcp, ipproto::udp};
      return {};  // not indexed: every protocol
    case Proto::tcp:
      return {ipproto::tcp};
    case Proto::udp:
      return {ipproto::udp};
    case Proto::icmp:
      return {family == Family::ipv4 ? ipproto::icmp : ipproto::icmpv6};
  }
  return {};
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
  std::vector<CompiledRule> compiled;    // per rule
  const Rule* rules = nullptr;  // rules_.rules.data(): stays valid when the Classifier moves

  bool matches(std::uint32_t i, const MatchInput& in) const {
    const Rule& rule = rules[i];
    const CompiledRule& c = compiled[i];
    return rule.direction == in.direction && proto_matches(rule, in.protocol) &&
           c.from.matches(in.src) && c.to.matches(in.dst) && rule.port.matches(in.dst_port) &&
           rule.from_port.matches(in.src_port) &&
           (rule.interface.empty() || rule.interface == in.interface);
  }

  Group& group(const Shape& s) {
    for (Group& g : groups) {
      if (g.shape == s) return g;
    }
    groups.push_back(Group{s, UINT32_MAX, {}});
    return groups.back();
  }

  // Spreads rule `i` into the groups; false if it is too wide to spread.
  bool spread(std::uint32_t i, const Rule& r) {
    const bool from_spread = !r.from.any && r.from.prefixes.size() <= kSpreadAddresses;
    const bool to_spread = !r.to.any && r.to.prefixes.size() <= kSpreadAddresses;
    const bool port_spread = !r.port.any() && port_count(r.port) <= kSpreadPorts;
    std::vector<std::uint16_t> ports;
    if (port_spread) {
      for (const PortRange& pr : r.port.ranges) {
        for (std::uint32_t p = pr.first; p <= pr.last; ++p)
          ports.push_back(static_cast<std::uint16_t>(p));
      }
    }
    struct Entry {
      Shape shape;
      Key key;
    };
    std::vector<Entry> entries;
    for (Family family : families_of(r)) {
      auto prefixes = [&](const AddressMatch& m, bool spread_it) {
        std::vector<const Cidr*> out;
        if (!spread_it) {
          out.push_back(nullptr);
        } else {
          for (const Cidr& c : m.prefixes) {
            if (c.network.family == family) out.push_back(&c);
          }
        }
        return out;
      };
      const auto protocols = protocols_of(r, family);
      const std::vector<std::uint8_t> proto_keys =
          protocols.empty() ? std::vector<std::uint8_t>{0} : protocols;
      for (const Cidr* src : prefixes(r.from, from_spread)) {
        for (const Cidr* dst : prefixes(r.to, to_spread)) {
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
      std::vector<std::uint32_t>& list = g.rules[e.key];
      if (list.empty() || list.back() != i) list.push_back(i);
      g.first_rule = std::min(g.first_rule, i);
    }
    return true;
  }
};

Classifier::Classifier(RuleSet rules)
    : rules_(std::move(rules)), index_(std::make_unique<Index>()) {
  Index& x = *index_;
  x.rules = rules_.rules.data();
  x.compiled.resize(rules_.rules.size());
  for (std::uint32_t i = 0; i < rules_.rules.size(); ++i) {
    const Rule& r = rules_.rules[i];
    CompiledRule& c = x.compiled[i];
    c.from.match = &r.from;
    c.to.match = &r.to;
    if (r.from.prefixes.size() > kSpreadAddresses)
      c.from.set = std::make_unique<AddressSet>(r.from.prefixes);
    if (r.to.prefixes.size() > kSpreadAddresses)
      c.to.set = std::make_unique<AddressSet>(r.to.prefixes);
    if (!x.spread(i, r)) x.unindexed.push_back(i);
  }
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
    auto it = g.rules.find(key);
    if (it == g.rules.end()) continue;
    for (std::uint32_t i : it->second) {
      if (i >= best) break;
      if (x.matches(i, in)) {
        best = i;
        break;
      }
    }
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
  return direction == Direction::in ? rules_.defaults.incoming : rules_.defaults.outgoing;
}

std::size_t Classifier::groups() const { return index_->groups.size(); }

}  // namespace portwall
