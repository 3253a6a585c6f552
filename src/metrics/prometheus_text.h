// prometheus_text.h — portwalld's figures in the Prometheus text exposition format (version
// 0.0.4), for `portwall metrics` and the node_exporter textfile ([metrics] textfile). Made from
// the `status` answer (DESIGN.md), so that the CLI and the daemon print the same thing. Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace portwall {

// Every metric is named portwall_*; counters end in _total. A figure absent from `status`
// (an older daemon, or unknown: "uninspected" without the kernel's counters) is left out,
// never printed as 0.
std::string render_prometheus(const nlohmann::json& status);

}  // namespace portwall
