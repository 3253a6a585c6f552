// published_ports.h — ports another tool publishes on this host with a DNAT in the nat table,
// as Docker does for `docker run -p 8080:80` (`-A DOCKER ! -i docker0 -p tcp -m tcp --dport 8080
// -j DNAT --to-destination 172.17.0.2:80`). portwalld reads them from `iptables -t nat -S`, so
// that a connection to a container's published port is judged as one to the host's own port,
// and `portwall ports` can say who reaches it. Pure: text in, values out.
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "rules/rule.h"

namespace portwall {

struct PublishedPort {
  Forward forward;                        // proto, port (public), to_address, to_port
  std::optional<IpAddress> host_address;  // `-d ADDR/32`: published on this address only
  std::string chain;                      // the nat chain that holds it ("DOCKER")
  std::string bridge;                     // `! -i IFACE`: the container side's interface
  friend bool operator==(const PublishedPort& a, const PublishedPort& b);
};

// The single-port TCP and UDP DNAT rules of `iptables -t nat -S` (or ip6tables) output, in order,
// but portwall's own (chains PORTWALL_*), redirects and port ranges.
std::vector<PublishedPort> parse_published_ports(std::string_view nat_rules);

// "8080/tcp -> 172.17.0.2:80 (DOCKER)", as status shows it.
std::string published_words(const PublishedPort& port);

// The published ports in force, replaced as a whole by the thread that reads them and read by
// the queue threads (only for the packets of published connections).
class PublishedSet {
 public:
  std::shared_ptr<const std::vector<PublishedPort>> get() const {
    return ports_.load(std::memory_order_acquire);
  }
  void set(std::vector<PublishedPort> ports) {
    ports_.store(std::make_shared<const std::vector<PublishedPort>>(std::move(ports)),
                 std::memory_order_release);
  }

 private:
  std::atomic<std::shared_ptr<const std::vector<PublishedPort>>> ports_{
      std::make_shared<const std::vector<PublishedPort>>()};
};

// Whether a packet seen after the DNAT goes to this published port's container.
bool leads_to(const PublishedPort& port, std::uint8_t protocol, const IpAddress& dst,
              std::uint16_t dst_port);
// The published port a packet seen after the DNAT belongs to (its destination is the
// container's), or null; and whether a packet comes from one (its connection's reply).
const PublishedPort* published_of(const std::vector<PublishedPort>& ports, std::uint8_t protocol,
                                  const IpAddress& dst, std::uint16_t dst_port);
bool from_published(const std::vector<PublishedPort>& ports, std::uint8_t protocol,
                    const IpAddress& src, std::uint16_t src_port);

}  // namespace portwall
