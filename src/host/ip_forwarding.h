// ip_forwarding.h — the kernel's routing switches of the network namespace the process runs in
// (net.ipv4.ip_forward, net.ipv6.conf.all.forwarding), which a port forward to another host
// needs on, as firewalld turns them on for its forward-ports. `proc_root` is for tests.
#pragma once

#include <expected>
#include <string>

#include "packet/ip_address.h"

namespace portwall {

std::expected<bool, std::string> read_ip_forwarding(Family family,
                                                    const std::string& proc_root = "/proc");
std::expected<void, std::string> write_ip_forwarding(Family family, bool on,
                                                     const std::string& proc_root = "/proc");

}  // namespace portwall
