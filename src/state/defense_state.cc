#include "state/defense_state.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "audit/log_event.h"
#include "rules/rule_values.h"

namespace portwall {
namespace {

std::string hex_of(const SpaNonce& nonce) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : nonce) {
    out += kDigits[b >> 4];
    out += kDigits[b & 15];
  }
  return out;
}

bool nonce_of(const std::string& text, SpaNonce& nonce) {
  if (text.size() != 2 * nonce.size()) return false;
  auto digit = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < nonce.size(); ++i) {
    const int hi = digit(text[2 * i]), lo = digit(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    nonce[i] = static_cast<std::uint8_t>(hi << 4 | lo);
  }
  return true;
}

}  // namespace

std::string write_defense_state(const DefenseState& state) {
  // The blocks are written as text directly: 100,000 of them as a JSON tree would take about
  // 100 MB of heap for a moment, every time the list changes. Their values need no escaping
  // (addresses, words, digits).
  std::string blocks = "[";
  blocks.reserve(state.blocks.size() * 128 + 2);
  for (std::size_t i = 0; i < state.blocks.size(); ++i) {
    const SavedBlock& b = state.blocks[i];
    blocks += i ? ",\n  " : "\n  ";
    blocks += "{\"address\": \"" + range_text({b.address, {}, b.reason, b.prefix_length}) +
              "\", \"reason\": \"" + to_string(b.reason) + "\", \"expires\": \"" +
              (b.expires_unix_ms ? rfc3339_ms(b.expires_unix_ms) : std::string("never")) +
              "\", \"expires_unix_ms\": " + std::to_string(b.expires_unix_ms) + "}";
  }
  blocks += state.blocks.empty() ? "]" : "\n ]";
  nlohmann::json nonces = nlohmann::json::array();
  for (const SavedSpaNonce& n : state.used_spa_nonces) {
    nonces.push_back({{"nonce", hex_of(n.nonce)}, {"forget_unix_ms", n.forget_unix_ms}});
  }
  const nlohmann::json sequences = state.used_one_time_sequences;
  return "{\n \"version\": 1,\n \"blocks\": " + blocks +
         ",\n \"used_one_time_sequences\": " + sequences.dump() +
         ",\n \"used_spa_nonces\": " + nonces.dump() + "\n}\n";
}

std::expected<DefenseState, std::string> read_defense_state(std::string_view text) {
  const nlohmann::json j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return std::unexpected(std::string("not a JSON object"));
  if (j.value("version", 0) != 1) return std::unexpected(std::string("unknown version"));
  DefenseState state;
  const nlohmann::json blocks = j.value("blocks", nlohmann::json::array());
  if (!blocks.is_array()) return std::unexpected(std::string("\"blocks\" must be an array"));
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    const nlohmann::json& b = blocks[i];
    const std::string where = "blocks[" + std::to_string(i) + "]";
    if (!b.is_object() || !b.contains("address") || !b["address"].is_string() ||
        !b.contains("expires_unix_ms") || !b["expires_unix_ms"].is_number_integer()) {
      return std::unexpected(where + " needs \"address\" and \"expires_unix_ms\"");
    }
    auto range = parse_cidr(b["address"].get<std::string>());
    if (!range) return std::unexpected(where + ": not an address: " + b["address"].dump());
    SavedBlock saved{range->network, BlockReason::scan, b["expires_unix_ms"].get<std::int64_t>(),
                     range->prefix_length};
    if (b.value("reason", std::string("scan")) == "manual") saved.reason = BlockReason::manual;
    state.blocks.push_back(saved);
  }
  const nlohmann::json used = j.value("used_one_time_sequences", nlohmann::json::array());
  if (!used.is_array()) {
    return std::unexpected(std::string("\"used_one_time_sequences\" must be an array"));
  }
  for (const nlohmann::json& u : used) {
    if (!u.is_string()) return std::unexpected(std::string("used_one_time_sequences: strings"));
    state.used_one_time_sequences.push_back(u.get<std::string>());
  }
  const nlohmann::json nonces = j.value("used_spa_nonces", nlohmann::json::array());
  if (!nonces.is_array())
    return std::unexpected(std::string("\"used_spa_nonces\" must be an array"));
  for (std::size_t i = 0; i < nonces.size(); ++i) {
    const nlohmann::json& n = nonces[i];
    const std::string where = "used_spa_nonces[" + std::to_string(i) + "]";
    SavedSpaNonce saved;
    if (!n.is_object() || !n.contains("nonce") || !n["nonce"].is_string() ||
        !n.contains("forget_unix_ms") || !n["forget_unix_ms"].is_number_integer() ||
        !nonce_of(n["nonce"].get<std::string>(), saved.nonce)) {
      return std::unexpected(where + " needs \"nonce\" (32 hex digits) and \"forget_unix_ms\"");
    }
    saved.forget_unix_ms = n["forget_unix_ms"].get<std::int64_t>();
    state.used_spa_nonces.push_back(saved);
  }
  return state;
}

SavedBlock save_block(const BlockEntry& entry, Timestamp now, std::int64_t unix_now_ms) {
  SavedBlock s{entry.address, entry.reason, 0, entry.prefix_length};
  if (entry.until != Timestamp::max()) {
    s.expires_unix_ms =
        unix_now_ms +
        std::chrono::duration_cast<std::chrono::milliseconds>(entry.until - now).count();
  }
  return s;
}

BlockEntry restore_block(const SavedBlock& saved, Timestamp now, std::int64_t unix_now_ms) {
  BlockEntry e{saved.address, Timestamp::max(), saved.reason, saved.prefix_length};
  if (saved.expires_unix_ms != 0) e.until = now + steady_offset(saved.expires_unix_ms, unix_now_ms);
  return e;
}

Duration steady_offset(std::int64_t unix_ms, std::int64_t unix_now_ms) {
  // Clamped to a century either way: a broken file never overflows the clock's arithmetic.
  constexpr std::int64_t kBound = 100LL * 366 * 24 * 3600 * 1000;
  const std::int64_t delta =
      std::clamp(unix_ms, -kBound, kBound) - std::clamp(unix_now_ms, -kBound, kBound);
  return std::chrono::milliseconds(std::clamp(delta, -kBound, kBound));
}

}  // namespace portwall
