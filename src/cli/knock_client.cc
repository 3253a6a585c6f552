#include "cli/knock_client.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <charconv>
#include <cstring>
#include <thread>

#include "detect/spa.h"

namespace portwall {
namespace {

struct Resolved {
  sockaddr_storage address{};
  socklen_t length = 0;
  int family = AF_UNSPEC;
};

std::expected<Resolved, std::string> resolve(const std::string& host, std::uint16_t port,
                                             int family, int socktype) {
  addrinfo hints{};
  hints.ai_family = family;
  hints.ai_socktype = socktype;
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) {
    return std::unexpected("cannot resolve " + host + ": " + gai_strerror(rc));
  }
  Resolved r;
  std::memcpy(&r.address, found->ai_addr, found->ai_addrlen);
  r.length = found->ai_addrlen;
  r.family = found->ai_family;
  freeaddrinfo(found);
  return r;
}

std::expected<void, std::string> send_one(const std::string& host, const PortProto& knock,
                                          int family, const std::uint8_t* data, std::size_t size) {
  const bool tcp = knock.protocol == 6;
  auto to = resolve(host, knock.port, family, tcp ? SOCK_STREAM : SOCK_DGRAM);
  if (!to) return std::unexpected(to.error());
  const int fd = socket(to->family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  std::expected<void, std::string> result;
  if (tcp) {
    // The SYN leaves with connect(); closing at once keeps the kernel from retrying it.
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (connect(fd, reinterpret_cast<const sockaddr*>(&to->address), to->length) != 0 &&
        errno != EINPROGRESS) {
      result = std::unexpected("knock " + to_string(knock) + ": " + std::strerror(errno));
    }
  } else if (sendto(fd, data, size, 0, reinterpret_cast<const sockaddr*>(&to->address),
                    to->length) < 0) {
    result = std::unexpected("knock " + to_string(knock) + ": " + std::strerror(errno));
  }
  close(fd);
  return result;
}

IpAddress address_of(const sockaddr_storage& s) {
  if (s.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&s);
    return IpAddress::v4(reinterpret_cast<const std::uint8_t*>(&in->sin_addr));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&s);
  return IpAddress::v6(reinterpret_cast<const std::uint8_t*>(&in6->sin6_addr));
}

}  // namespace

std::expected<PortProto, std::string> parse_knock(std::string_view text,
                                                  std::uint8_t default_protocol) {
  const std::size_t sep = text.find_first_of("/:");
  const std::string_view number = text.substr(0, sep);
  std::uint8_t protocol = default_protocol;
  if (sep != std::string_view::npos) {
    const std::string_view proto = text.substr(sep + 1);
    if (proto == "tcp") {
      protocol = 6;
    } else if (proto == "udp") {
      protocol = 17;
    } else {
      return std::unexpected("knock must be PORT, PORT/tcp or PORT/udp, got \"" +
                             std::string(text) + "\"");
    }
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || value < 1 || value > 65535) {
    return std::unexpected("knock port must be 1-65535, got \"" + std::string(text) + "\"");
  }
  return PortProto{protocol, static_cast<std::uint16_t>(value)};
}

std::expected<void, std::string> send_knocks(const std::string& host,
                                             const std::vector<PortProto>& knocks,
                                             std::chrono::milliseconds delay, int family) {
  const std::uint8_t byte = 0;
  for (std::size_t i = 0; i < knocks.size(); ++i) {
    if (i > 0 && delay.count() > 0) std::this_thread::sleep_for(delay);
    if (auto ok = send_one(host, knocks[i], family, &byte, 1); !ok) return ok;
  }
  return {};
}

std::expected<void, std::string> send_spa(const std::string& host, std::uint16_t port,
                                          std::string_view key, int family,
                                          const std::optional<IpAddress>& source) {
  auto nonce = random_spa_nonce();
  if (!nonce) return std::unexpected(nonce.error());
  auto to = resolve(host, port, source ? (source->family == Family::ipv4 ? AF_INET : AF_INET6)
                                       : family,
                    SOCK_DGRAM);
  if (!to) return std::unexpected(to.error());
  const int fd = socket(to->family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(std::string("socket: ") + std::strerror(errno));
  std::expected<void, std::string> result;
  SpaToken token;
  token.nonce = *nonce;
  token.port = port;
  token.unix_seconds = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch())
                           .count();
  // The address the kernel sends from (a connected socket knows it), unless the client says
  // which address the server will see (behind NAT).
  sockaddr_storage local{};
  socklen_t local_length = sizeof local;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to->address), to->length) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&local), &local_length) != 0) {
    result = std::unexpected("SPA to " + host + ": " + std::strerror(errno));
  } else {
    token.destination = address_of(to->address);
    token.source = source ? *source : address_of(local);
    const SpaPacket packet = make_spa_packet(key, token);
    if (send(fd, packet.data(), packet.size(), 0) < 0) {
      result = std::unexpected("SPA to " + host + ": " + std::strerror(errno));
    }
  }
  close(fd);
  return result;
}

}  // namespace portwall
