#include "host/host_sockets.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <unordered_map>

namespace portwall {
namespace {

std::optional<std::string> slurp(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

bool all_digits(const std::string& name) {
  return !name.empty() &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isdigit(c); });
}

}  // namespace

std::expected<std::vector<HostSocket>, std::string> read_host_sockets(const std::string& proc) {
  std::vector<HostSocket> out;
  std::unordered_map<std::uint64_t, std::size_t> by_inode;
  bool any = false;
  for (const auto& [file, proto, v6] :
       {std::tuple{"tcp", Proto::tcp, false}, std::tuple{"tcp6", Proto::tcp, true},
        std::tuple{"udp", Proto::udp, false}, std::tuple{"udp6", Proto::udp, true}}) {
    const auto text = slurp(std::filesystem::path(proc) / "net" / file);
    if (!text) continue;  // no IPv6 in this kernel, for one
    any = true;
    for (const ListeningSocket& s : parse_proc_net(*text, proto, v6)) {
      by_inode.emplace(s.inode, out.size());
      out.push_back({s, {}});
    }
  }
  if (!any) return std::unexpected("cannot read " + proc + "/net/tcp, tcp6, udp or udp6");

  // Owners: every process's fds, skipping what vanishes or is not ours to read.
  std::error_code ec;
  for (const auto& process : std::filesystem::directory_iterator(proc, ec)) {
    const std::string pid = process.path().filename().string();
    if (!all_digits(pid)) continue;
    std::error_code fd_ec;
    std::filesystem::directory_iterator fds(process.path() / "fd", fd_ec);
    if (fd_ec) continue;
    std::optional<std::string> command;
    for (const auto& fd : fds) {
      std::error_code link_ec;
      const std::string link = std::filesystem::read_symlink(fd.path(), link_ec).string();
      if (link_ec) continue;
      const auto inode = socket_inode(link);
      if (!inode) continue;
      const auto it = by_inode.find(*inode);
      if (it == by_inode.end()) continue;
      if (!command) {
        command = slurp(process.path() / "comm").value_or("?");
        if (!command->empty() && command->back() == '\n') command->pop_back();
      }
      auto& owners = out[it->second].owners;
      const SocketOwner owner{std::stoi(pid), *command};
      if (std::find(owners.begin(), owners.end(), owner) == owners.end()) owners.push_back(owner);
    }
  }
  for (HostSocket& h : out) {
    std::sort(h.owners.begin(), h.owners.end(),
              [](const SocketOwner& a, const SocketOwner& b) { return a.pid < b.pid; });
  }
  return out;
}

std::optional<PortRange> read_ephemeral_range(const std::string& proc) {
  const auto text = slurp(std::filesystem::path(proc) / "sys/net/ipv4/ip_local_port_range");
  return text ? parse_port_range(*text) : std::nullopt;
}

}  // namespace portwall
