// spa.h — portwall's single-packet authorization (SPA) knock: one UDP datagram that proves the
// sender holds the knock's shared key, so that a sniffed knock cannot be replayed.
//
//   bytes 0-3    "PWK1"
//   bytes 4-11   Unix time in seconds, big-endian
//   bytes 12-27  nonce: 16 random bytes, each accepted once
//   bytes 28-59  HMAC-SHA256(key, bytes 0-27)
//
// The daemon checks the MAC (in constant time), then freshness and the nonce (source_table.h).
// OpenSSL's libcrypto does the cryptography.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

namespace portwall {

inline constexpr std::size_t kSpaPacketSize = 60;
using SpaNonce = std::array<std::uint8_t, 16>;
using SpaPacket = std::array<std::uint8_t, kSpaPacketSize>;

struct SpaToken {
  std::int64_t unix_seconds = 0;
  SpaNonce nonce{};
};

SpaPacket make_spa_packet(std::string_view key, std::int64_t unix_seconds, const SpaNonce& nonce);
// A fresh random nonce from the operating system's generator (for the client).
std::expected<SpaNonce, std::string> random_spa_nonce();

// The token the packet carries when it is well-formed and its MAC matches `key`; else what is
// wrong ("not an SPA packet", "bad MAC").
std::expected<SpaToken, std::string> open_spa_packet(std::string_view key,
                                                     std::span<const std::uint8_t> payload);

}  // namespace portwall
