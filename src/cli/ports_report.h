// ports_report.h — `portwall ports`: every listening socket of this host (host_sockets.h) with
// its service name, port class, owning processes and who the policy lets reach it
// (exposure.h); the allow rules for ports on which nothing listens; and ports shared by several
// sockets (an SO_REUSEPORT group of one program, or a conflict between programs).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "host/host_sockets.h"
#include "rules/policy_files.h"

namespace portwall {

// The report as JSON (`portwall --json ports`); pure but for the service-name lookup in
// /etc/services.
nlohmann::json ports_report(const std::vector<HostSocket>& sockets, const PolicyFiles& policy,
                            const std::optional<PortRange>& ephemeral);
// The same for a person, in ss-like columns.
std::string render_ports(const nlohmann::json& report);

}  // namespace portwall
