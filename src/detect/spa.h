// spa.h — portwall's single-packet authorization (SPA) knock: one UDP datagram that proves the
// sender holds the knock's shared key, bound to who sends it, to whom and to which door, so
// that a sniffed knock opens nothing for anyone else, anywhere else, at any other time.
//
//   bytes 0-3    "PWK2"
//   bytes 4-11   Unix time in seconds, big-endian
//   bytes 12-27  nonce: 16 random bytes, each accepted once (across restarts: the state file)
//   bytes 28-43  the source address the door opens for (IPv4 as ::ffff:a.b.c.d)
//   bytes 44-59  the destination address the packet is sent to (IPv4 likewise)
//   bytes 60-61  the destination port (the door's spa_port), big-endian
//   bytes 62-93  HMAC-SHA256(key, bytes 0-61)
//
// As fwknop binds its "allow IP": a client behind NAT states the address it will come from
// (`portwall knock --spa --source ADDR`), a server behind NAT lists the addresses clients knock
// at ([[knock]] spa_destinations). The daemon checks the MAC (in constant time) first, then
// the addresses, the port, freshness and the nonce (source_table.h). OpenSSL's libcrypto does
// the cryptography.
#pragma once

#include <array>
#include <cstdint>
#include <expected>
#include <span>
#include <string>
#include <string_view>

#include "packet/ip_address.h"

namespace portwall {

inline constexpr std::size_t kSpaPacketSize = 94;
using SpaNonce = std::array<std::uint8_t, 16>;
using SpaPacket = std::array<std::uint8_t, kSpaPacketSize>;

// What a packet says, and what the MAC binds.
struct SpaToken {
  std::int64_t unix_seconds = 0;
  SpaNonce nonce{};
  IpAddress source;        // the door opens for this address only
  IpAddress destination;   // the address the client sent it to
  std::uint16_t port = 0;  // the port it was sent to
};

SpaPacket make_spa_packet(std::string_view key, const SpaToken& token);
// A fresh random nonce from the operating system's generator (for the client).
std::expected<SpaNonce, std::string> random_spa_nonce();

// The token the packet carries when it is well-formed and its MAC matches `key`; else what is
// wrong ("not an SPA packet", "bad MAC").
std::expected<SpaToken, std::string> open_spa_packet(std::string_view key,
                                                     std::span<const std::uint8_t> payload);

}  // namespace portwall
