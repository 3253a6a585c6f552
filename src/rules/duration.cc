#include "rules/duration.h"

#include <charconv>

namespace portwall {

std::expected<Duration, std::string> parse_duration(std::string_view text) {
  const std::string expected =
      "expected a duration like \"30s\" (a whole number and one of ms, s, m, h, d), got \"" +
      std::string(text) + "\"";
  std::uint64_t value = 0;
  const char* end = text.data() + text.size();
  auto [rest, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || rest == text.data()) return std::unexpected(expected);
  const std::string_view unit(rest, static_cast<std::size_t>(end - rest));
  using namespace std::chrono;
  constexpr std::uint64_t kMaxSeconds = 100ull * 365 * 86400;  // sanity bound: a century
  std::uint64_t per_unit_ms;
  if (unit == "ms")
    per_unit_ms = 1;
  else if (unit == "s")
    per_unit_ms = 1000;
  else if (unit == "m")
    per_unit_ms = 60'000;
  else if (unit == "h")
    per_unit_ms = 3'600'000;
  else if (unit == "d")
    per_unit_ms = 86'400'000;
  else
    return std::unexpected(expected);
  if (value > kMaxSeconds * 1000 / per_unit_ms) {
    return std::unexpected("duration \"" + std::string(text) + "\" is longer than 100 years");
  }
  return duration_cast<Duration>(milliseconds(value * per_unit_ms));
}

std::expected<Duration, std::string> parse_confirm_window(std::string_view text) {
  auto d = parse_duration(text);
  if (!d) return std::unexpected("--confirm: " + d.error());
  if (*d < std::chrono::seconds(1) || *d > std::chrono::hours(24)) {
    return std::unexpected("--confirm takes 1s to 24h, got " + std::string(text));
  }
  return *d;
}

std::string format_duration(Duration d) {
  using namespace std::chrono;
  const auto ms = duration_cast<milliseconds>(d).count();
  constexpr struct {
    long long ms;
    const char* unit;
  } kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& u : kUnits) {
    if (ms != 0 && ms % u.ms == 0) return std::to_string(ms / u.ms) + u.unit;
  }
  return "0s";
}

}  // namespace portwall
