#include "host/ip_forwarding.h"

#include <cerrno>
#include <cstring>
#include <fstream>

namespace portwall {
namespace {

std::string switch_path(Family family, const std::string& proc_root) {
  return proc_root + (family == Family::ipv4 ? "/sys/net/ipv4/ip_forward"
                                             : "/sys/net/ipv6/conf/all/forwarding");
}

}  // namespace

std::expected<bool, std::string> read_ip_forwarding(Family family, const std::string& proc_root) {
  const std::string path = switch_path(family, proc_root);
  std::ifstream in(path);
  if (!in) return std::unexpected("cannot read " + path + ": " + std::strerror(errno));
  char c = 0;
  if (!(in >> c) || (c != '0' && c != '1')) {
    return std::unexpected(path + " holds neither 0 nor 1");
  }
  return c == '1';
}

std::expected<void, std::string> write_ip_forwarding(Family family, bool on,
                                                     const std::string& proc_root) {
  const std::string path = switch_path(family, proc_root);
  std::ofstream out(path);
  if (!out) return std::unexpected("cannot open " + path + ": " + std::strerror(errno));
  out << (on ? "1\n" : "0\n");
  out.close();  // the kernel takes the value when it is written
  if (!out) return std::unexpected("cannot write " + path + ": " + std::strerror(errno));
  return {};
}

}  // namespace portwall
