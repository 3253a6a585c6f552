#include "detect/spa.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <cstring>

namespace portwall {
namespace {

constexpr std::size_t kSignedBytes = 62;  // magic, time, nonce, addresses and port
constexpr std::uint8_t kMagic[4] = {'P', 'W', 'K', '2'};
constexpr std::size_t kSourceAt = 28, kDestinationAt = 44, kPortAt = 60;

std::array<std::uint8_t, 32> mac_of(std::string_view key, const std::uint8_t* data) {
  std::array<std::uint8_t, 32> mac{};
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data, kSignedBytes, mac.data(),
       &length);
  return mac;
}

// IPv4 as an IPv4-mapped IPv6 address, so that every address takes 16 bytes.
void put_address(std::uint8_t* at, const IpAddress& a) {
  std::memset(at, 0, 16);
  if (a.family == Family::ipv4) {
    at[10] = at[11] = 0xff;
    std::memcpy(at + 12, a.bytes.data(), 4);
  } else {
    std::memcpy(at, a.bytes.data(), 16);
  }
}

IpAddress get_address(const std::uint8_t* at) {
  static constexpr std::uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (std::memcmp(at, kMapped, sizeof kMapped) == 0) return IpAddress::v4(at + 12);
  return IpAddress::v6(at);
}

}  // namespace

SpaPacket make_spa_packet(std::string_view key, const SpaToken& token) {
  SpaPacket p{};
  std::memcpy(p.data(), kMagic, 4);
  const auto t = static_cast<std::uint64_t>(token.unix_seconds);
  for (int i = 0; i < 8; ++i) p[4 + i] = static_cast<std::uint8_t>(t >> (56 - 8 * i));
  std::memcpy(p.data() + 12, token.nonce.data(), token.nonce.size());
  put_address(p.data() + kSourceAt, token.source);
  put_address(p.data() + kDestinationAt, token.destination);
  p[kPortAt] = static_cast<std::uint8_t>(token.port >> 8);
  p[kPortAt + 1] = static_cast<std::uint8_t>(token.port);
  const auto mac = mac_of(key, p.data());
  std::memcpy(p.data() + kSignedBytes, mac.data(), mac.size());
  return p;
}

std::expected<SpaNonce, std::string> random_spa_nonce() {
  SpaNonce n{};
  if (RAND_bytes(n.data(), static_cast<int>(n.size())) != 1) {
    return std::unexpected(std::string("no random bytes from OpenSSL"));
  }
  return n;
}

std::expected<SpaToken, std::string> open_spa_packet(std::string_view key,
                                                     std::span<const std::uint8_t> payload) {
  if (payload.size() != kSpaPacketSize || std::memcmp(payload.data(), kMagic, 4) != 0) {
    return std::unexpected(std::string("not an SPA packet"));
  }
  const auto mac = mac_of(key, payload.data());
  if (CRYPTO_memcmp(mac.data(), payload.data() + kSignedBytes, mac.size()) != 0) {
    return std::unexpected(std::string("bad MAC"));
  }
  SpaToken token;
  std::uint64_t t = 0;
  for (int i = 0; i < 8; ++i) t = t << 8 | payload[4 + i];
  token.unix_seconds = static_cast<std::int64_t>(t);
  std::memcpy(token.nonce.data(), payload.data() + 12, token.nonce.size());
  token.source = get_address(payload.data() + kSourceAt);
  token.destination = get_address(payload.data() + kDestinationAt);
  token.port = static_cast<std::uint16_t>(payload[kPortAt] << 8 | payload[kPortAt + 1]);
  return token;
}

}  // namespace portwall
