// status_view.h — `portwall status` as a person reads it, from the daemon's status JSON,
// laid out as ufw's `status` so that an administrator's eye finds the same columns.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace portwall {

enum class StatusStyle { plain, numbered, verbose };

std::string render_status(const nlohmann::json& status, StatusStyle style);
// The "Defenses:" block of `status verbose`: scan detection, the block list, the per-source
// table, limits and knocks, with their counters.
std::string render_defenses(const nlohmann::json& defenses);
// The "Forward / To / On" table of status: one line per port forward, or nothing.
std::string render_forwards(const nlohmann::json& forwards);
// What a change did to established connections ({"cut", "kept", "restored", ...}): a line
// for each count that is not 0, or nothing.
std::string render_connections(const nlohmann::json& connections);
// `portwall conntrack list`: one tracked connection per line, conntrack(8)-like.
std::string render_flows(const nlohmann::json& flows);

}  // namespace portwall
