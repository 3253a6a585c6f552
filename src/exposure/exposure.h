// exposure.h — who can reach a listening port under a policy, as `portwall ports` reports it.
// For a new incoming connection to (proto, bound address, port) from any source, the incoming
// rules are walked in order as the policy walks them: a rule that matches every source decides
// for everyone still undecided; rules that match only some sources (from, interface, source
// port, a destination narrower than the bound address) let those in before it. Knocks whose
// door opens the port come on top. A socket bound to loopback is reachable from this host only.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "exposure/listening_sockets.h"
#include "config/config.h"
#include "rules/rule.h"

namespace portwall {

enum class Reach : std::uint8_t { everyone, limited, some, knock, local, nobody };
// "everyone", "rate-limited", "some sources", "after a knock", "this host", "nobody"
const char* to_string(Reach reach);

struct Exposure {
  Reach reach = Reach::nobody;
  std::uint32_t rule = 0;              // the rule deciding for every other source; 0: default
  std::vector<std::uint32_t> partial;  // earlier allow/limit rules for some sources only
  std::vector<std::string> knocks;     // [[knock]] names whose door opens this port
};

Exposure exposure_of(const RuleSet& rules, const std::vector<KnockSection>& knocks, Proto proto,
                     const IpAddress& bound, std::uint16_t port);

// 127.0.0.0/8 or ::1: traffic that never meets the diversion (loopback is exempt).
bool is_loopback(const IpAddress& address);

// Incoming allow and limit rules for TCP or UDP ports on which no socket listens (rule numbers).
std::vector<std::uint32_t> allows_without_listener(const RuleSet& rules,
                                                   const std::vector<ListeningSocket>& sockets);

// "well-known" (below 1024), "ephemeral" (in `ephemeral`), "registered" (below 49152) or
// "dynamic".
const char* port_class(std::uint16_t port, const std::optional<PortRange>& ephemeral);

}  // namespace portwall
