#include "exposure/exposure.h"

#include <algorithm>

namespace portwall {
bool is_loopback(const IpAddress& a) {
  if (a.family == Family::ipv4) return a.bytes[0] == 127;
  return std::all_of(a.bytes.begin(), a.bytes.begin() + 15,
                     [](std::uint8_t b) { return b == 0; }) &&
         a.bytes[15] == 1;
}

namespace {

bool same_proto(Proto rule, Proto socket) { return rule == Proto::any || rule == socket; }

enum class Match { none, some, every };

// How much of the traffic to the socket a rule's conditions take in.
Match match_of(const Rule& r, Proto proto, const IpAddress& bound, std::uint16_t port) {
  if (r.direction != Direction::in || !same_proto(r.proto, proto) || !r.port.matches(port)) {
    return Match::none;
  }
  bool partial = !r.from.any || !r.from_port.any() || !r.interface.empty();
  if (!r.to.any) {
    if (is_wildcard(bound)) {
      partial = true;  // only the connections to the rule's addresses
    } else if (!r.to.matches(bound)) {
      return Match::none;
    }
  }
  return partial ? Match::some : Match::every;
}

bool lets_in(Action a) { return a == Action::allow || a == Action::limit; }

}  // namespace

const char* to_string(Reach reach) {
  switch (reach) {
    case Reach::everyone:
      return "everyone";
    case Reach::limited:
      return "rate-limited";
    case Reach::some:
      return "some sources";
    case Reach::knock:
      return "after a knock";
    case Reach::local:
      return "this host";
    case Reach::nobody:
      return "nobody";
  }
  return "?";
}

Exposure exposure_of(const RuleSet& rules, const std::vector<KnockSection>& knocks, Proto proto,
                     const IpAddress& bound, std::uint16_t port) {
  Exposure e;
  if (is_loopback(bound)) {
    e.reach = Reach::local;
    return e;
  }
  const std::uint8_t number = proto == Proto::tcp ? 6 : 17;
  for (const KnockSection& k : knocks) {
    for (const PortProto& door : k.open) {
      if (door.protocol == number && door.port == port) {
        e.knocks.push_back(k.name);
        break;
      }
    }
  }
  Action decided = rules.defaults.incoming;
  for (std::size_t i = 0; i < rules.rules.size(); ++i) {
    const Rule& r = rules.rules[i];
    const Match m = match_of(r, proto, bound, port);
    if (m == Match::none) continue;
    const auto n = static_cast<std::uint32_t>(i + 1);
    if (m == Match::some) {
      if (lets_in(r.action)) e.partial.push_back(n);
      continue;
    }
    e.rule = n;
    decided = r.action;
    break;
  }
  if (decided == Action::allow) {
    e.reach = Reach::everyone;
  } else if (decided == Action::limit) {
    e.reach = Reach::limited;
  } else if (!e.partial.empty()) {
    e.reach = Reach::some;
  } else {
    e.reach = e.knocks.empty() ? Reach::nobody : Reach::knock;
  }
  return e;
}

std::vector<std::uint32_t> allows_without_listener(const RuleSet& rules,
                                                   const std::vector<ListeningSocket>& sockets) {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < rules.rules.size(); ++i) {
    const Rule& r = rules.rules[i];
    if (r.direction != Direction::in || !lets_in(r.action) || r.port.any() ||
        (r.proto != Proto::tcp && r.proto != Proto::udp && r.proto != Proto::any)) {
      continue;
    }
    const bool heard = std::any_of(sockets.begin(), sockets.end(), [&](const ListeningSocket& s) {
      return same_proto(r.proto, s.proto) && r.port.matches(s.port) && !is_loopback(s.address);
    });
    if (!heard) out.push_back(static_cast<std::uint32_t>(i + 1));
  }
  return out;
}

const char* port_class(std::uint16_t port, const std::optional<PortRange>& ephemeral) {
  if (port < 1024) return "well-known";
  if (ephemeral && port >= ephemeral->first && port <= ephemeral->last) return "ephemeral";
  return port < 49152 ? "registered" : "dynamic";
}

}  // namespace portwall
