#include "crowdsec/decision_feed.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <nlohmann/json.hpp>
#include <unordered_set>

namespace portwall {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// "192.0.2.7", "2001:db8::/64", "198.51.100.7/24" (host bits are cleared: the LAPI keeps what
// it was given). nullopt when it is none of these.
std::optional<std::pair<IpAddress, std::uint8_t>> range_of(const std::string& value) {
  const std::size_t slash = value.find('/');
  const std::optional<IpAddress> address =
      parse_ip_address(std::string_view(value).substr(0, slash));
  if (!address) return std::nullopt;
  const unsigned bits = address->family == Family::ipv4 ? 32 : 128;
  unsigned length = bits;
  if (slash != std::string::npos) {
    const char* first = value.data() + slash + 1;
    const char* last = value.data() + value.size();
    auto [end, ec] = std::from_chars(first, last, length);
    if (ec != std::errc() || end != last || first == last || length > bits) return std::nullopt;
  }
  return std::pair{masked(*address, length), static_cast<std::uint8_t>(length)};
}

}  // namespace

std::expected<Duration, std::string> parse_go_duration(std::string_view text) {
  const std::string_view whole = text;
  bool negative = false;
  if (!text.empty() && (text[0] == '-' || text[0] == '+')) {
    negative = text[0] == '-';
    text.remove_prefix(1);
  }
  if (text == "0") return Duration::zero();
  if (text.empty()) return std::unexpected("empty duration");
  long double ns = 0;
  while (!text.empty()) {
    std::size_t i = 0;
    while (i < text.size() &&
           (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) {
      ++i;
    }
    if (i == 0) return std::unexpected("not a duration: \"" + std::string(whole) + "\"");
    const std::string number(text.substr(0, i));
    text.remove_prefix(i);
    std::size_t u = 0;
    while (u < text.size() && !std::isdigit(static_cast<unsigned char>(text[u])) &&
           text[u] != '.') {
      ++u;
    }
    const std::string_view unit = text.substr(0, u);
    text.remove_prefix(u);
    long double scale = 0;
    if (unit == "ns")
      scale = 1;
    else if (unit == "us" || unit == "\xC2\xB5s" || unit == "\xCE\xBCs")
      scale = 1e3;
    else if (unit == "ms")
      scale = 1e6;
    else if (unit == "s")
      scale = 1e9;
    else if (unit == "m")
      scale = 60e9;
    else if (unit == "h")
      scale = 3600e9;
    else
      return std::unexpected("unknown unit in duration \"" + std::string(whole) + "\"");
    char* end = nullptr;
    const long double value = std::strtold(number.c_str(), &end);
    if (end != number.c_str() + number.size()) {
      return std::unexpected("not a number in duration \"" + std::string(whole) + "\"");
    }
    ns += value * scale;
  }
  // Bounded to a century: whatever the feed says, adding it to a Timestamp cannot overflow.
  ns = std::min<long double>(ns, 100.0L * 366 * 24 * 3600 * 1e9);
  const auto d = std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(ns)));
  return std::chrono::duration_cast<Duration>(negative ? -d : d);
}

void DecisionFeed::forget(std::int64_t id) {
  auto it = by_id_.find(id);
  if (it == by_id_.end()) return;
  auto ids = ids_by_range_.find(it->second.range);
  if (ids != ids_by_range_.end()) {
    std::erase(ids->second, id);
    if (ids->second.empty()) ids_by_range_.erase(ids);
  }
  by_id_.erase(it);
}

BlockEntry DecisionFeed::block_of(const Range& range, Timestamp now) const {
  BlockEntry best{range.network, Timestamp{}, BlockReason::crowdsec, range.length, 0};
  if (auto ids = ids_by_range_.find(range); ids != ids_by_range_.end()) {
    for (std::int64_t id : ids->second) {
      const Held& held = by_id_.at(id);
      if (held.until > now && held.until > best.until) {
        best.until = held.until;
        best.tag = held.tag;
      }
    }
  }
  return best;
}

void DecisionFeed::sweep(Timestamp now) {
  std::vector<std::int64_t> over;
  for (const auto& [id, held] : by_id_) {
    if (held.until <= now) over.push_back(id);
  }
  for (std::int64_t id : over) forget(id);
}

std::expected<FeedUpdate, std::string> DecisionFeed::apply(std::string_view json, bool startup,
                                                           Timestamp now) {
  const nlohmann::json answer = nlohmann::json::parse(json, nullptr, false);
  if (answer.is_discarded() || !answer.is_object()) {
    return std::unexpected(std::string("the decision stream's answer is not a JSON object"));
  }
  const nlohmann::json* fresh = nullptr;
  const nlohmann::json* deleted = nullptr;
  for (auto [key, slot] : {std::pair{"new", &fresh}, std::pair{"deleted", &deleted}}) {
    auto it = answer.find(key);
    if (it == answer.end() || it->is_null()) continue;
    if (!it->is_array()) {
      return std::unexpected("\"" + std::string(key) + "\" of the decision stream is not a list");
    }
    *slot = &*it;
  }
  FeedUpdate update;
  std::unordered_set<Range, RangeHash> changed;
  if (startup) {
    // Every decision in force is in this answer: what was held before is replaced.
    by_id_.clear();
    ids_by_range_.clear();
  }
  // A field's text; "" when it is missing or not a string (a broken or hostile answer never
  // throws here: such an entry is counted as malformed).
  auto text = [](const nlohmann::json& d, const char* key) {
    const auto it = d.find(key);
    return it != d.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  auto entry_range = [&](const nlohmann::json& d) -> std::optional<Range> {
    const std::string scope = lower(text(d, "scope"));
    if (scope != "ip" && scope != "range") {
      ++update.counts.ignored_scope;
      return std::nullopt;
    }
    const auto range = range_of(text(d, "value"));
    if (!range) {
      ++update.counts.malformed;
      return std::nullopt;
    }
    // Wider than a /8 (IPv4) or a /32 (IPv6): no attacker owns that much; such a decision is
    // a mistake (or an attack on the fleet) that would cut every host off.
    if (range->second < (range->first.family == Family::ipv4 ? kWidestV4 : kWidestV6)) {
      ++update.counts.too_wide;
      return std::nullopt;
    }
    return Range{range->first, range->second};
  };
  if (deleted) {
    for (const nlohmann::json& d : *deleted) {
      if (!d.is_object()) continue;
      ++update.counts.deleted_decisions;
      // Only a decision this feed holds is lifted, by its id. The first pull is a full one, so
      // every decision in force here has a known id; a deletion of another one (an expired
      // decision the LAPI reports again, a captcha on the same address) must not lift a ban
      // that another decision still holds.
      const auto id = d.find("id");
      if (id == d.end() || !id->is_number_integer()) continue;
      const auto known = by_id_.find(id->get<std::int64_t>());
      if (known == by_id_.end()) continue;
      changed.insert(known->second.range);
      forget(known->first);
    }
  }
  if (fresh) {
    for (const nlohmann::json& d : *fresh) {
      if (!d.is_object()) {
        ++update.counts.malformed;
        continue;
      }
      ++update.counts.new_decisions;
      if (lower(text(d, "type")) != "ban") {
        ++update.counts.ignored_type;
        continue;
      }
      const auto range = entry_range(d);
      if (!range) continue;
      const auto id = d.find("id");
      const auto duration = parse_go_duration(text(d, "duration"));
      if (id == d.end() || !id->is_number_integer() || !duration) {
        ++update.counts.malformed;
        continue;
      }
      const std::int64_t key = id->get<std::int64_t>();
      forget(key);
      changed.insert(*range);
      if (*duration <= Duration::zero()) continue;  // over already
      if (by_id_.size() >= max_decisions_) {
        ++update.counts.over_limit;
        continue;
      }
      by_id_[key] = Held{*range, now + *duration, blocks_->tag_of(text(d, "scenario"))};
      ids_by_range_[*range].push_back(key);
    }
  }
  sweep(now);
  std::vector<BlockEntry> set, cleared;
  set.reserve(changed.size());
  for (const Range& range : changed) {
    BlockEntry block = block_of(range, now);
    (block.until > now ? set : cleared).push_back(block);
  }
  update.applied = blocks_->apply_feed(set, cleared, startup, now);
  return update;
}

}  // namespace portwall
