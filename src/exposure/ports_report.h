// ports_report.h — `portwall ports`: every listening socket of this host (host_sockets.h) with
// its service name, port class, owning processes and who the policy lets reach it
// (exposure.h); the allow rules for ports on which nothing listens; and ports shared by several
// sockets (an SO_REUSEPORT group of one program, or a conflict between programs).
#pragma once

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"
#include "exposure/listening_sockets.h"
#include "rules/published_ports.h"
#include "rules/rule.h"

namespace portwall {

// The policy a report is made against: the running daemon's (asked over the control socket)
// or, without one, the files'. `knocks` only for those who may know them.
struct PortsPolicy {
  const RuleSet& rules;
  const std::vector<KnockSection>& knocks;
  std::string rules_file;
  std::string from;  // "portwalld" or "files"
  // Ports other tools (Docker) publish, judged as the host's own (the daemon's reading; none
  // without it).
  std::vector<PublishedPort> published;
};

// The report as JSON (`portwall --json ports`); pure but for the service-name lookup in
// /etc/services.
nlohmann::json ports_report(const std::vector<HostSocket>& sockets, const PortsPolicy& policy,
                            const std::optional<PortRange>& ephemeral);
// The sockets as a request carries them to portwalld, and back; nullopt for a malformed list or
// one of more than kMaxPortsSockets sockets (or kMaxSocketOwners owners to a socket): a reader
// may ask, so what one request costs the daemon is bounded. A host with more asks nothing and
// reports against the files. At most kMaxListedRules source-restricted rules per socket.
inline constexpr std::size_t kMaxPortsSockets = 4096, kMaxSocketOwners = 64, kMaxListedRules = 32;
nlohmann::json sockets_json(const std::vector<HostSocket>& sockets);
std::optional<std::vector<HostSocket>> sockets_of(const nlohmann::json& list);
// The same for a person, in ss-like columns.
std::string render_ports(const nlohmann::json& report);

}  // namespace portwall
