// duration.h — durations as administrators write them: "500ms", "30s", "10m", "2h", "5d".
// An integer followed by exactly one unit; no unit, a negative number or an unknown unit is an
// error whose message says what was expected.
#pragma once

#include <expected>
#include <string>
#include <string_view>

#include "clock/clock.h"

namespace portwall {

std::expected<Duration, std::string> parse_duration(std::string_view text);
std::string format_duration(Duration d);  // the largest unit that divides it exactly: "5d", "30s"

// The window of a "commit confirmed" (`apply --confirm`, `enable --confirm`): 1s to 24h. The
// error says which, prefixed "--confirm".
std::expected<Duration, std::string> parse_confirm_window(std::string_view text);

}  // namespace portwall
