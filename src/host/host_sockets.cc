#include "host/host_sockets.h"

#include <ifaddrs.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <cstring>
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

// The socket inodes among a process's fd links. `refused`: the kernel would not show them (a
// process with fewer capabilities than its target needs CAP_SYS_PTRACE); an fd closed
// meanwhile, or a process gone, is no refusal.
struct ProcessSockets {
  std::vector<std::uint64_t> inodes;
  bool refused = false;
};
ProcessSockets sockets_of(const std::filesystem::path& process) {
  ProcessSockets out;
  std::error_code ec;
  std::filesystem::directory_iterator fds(process / "fd", ec);
  if (ec) {
    out.refused = ec == std::errc::permission_denied || ec == std::errc::operation_not_permitted;
    return out;
  }
  for (const auto& fd : fds) {
    std::error_code link_ec;
    const std::string link = std::filesystem::read_symlink(fd.path(), link_ec).string();
    if (link_ec) {
      out.refused = out.refused || link_ec != std::errc::no_such_file_or_directory;
      continue;
    }
    if (const auto inode = socket_inode(link)) out.inodes.push_back(*inode);
  }
  return out;
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
    std::optional<std::string> command;
    for (std::uint64_t inode : sockets_of(process.path()).inodes) {
      const auto it = by_inode.find(inode);
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

std::optional<LocalSockets> read_local_sockets(const std::string& proc) {
  std::vector<LocalEndpoint> listening;
  std::vector<FlowKey> connected;
  bool any = false;
  for (const auto& [file, v6] : {std::pair{"tcp", false}, std::pair{"tcp6", true}}) {
    const auto text = slurp(std::filesystem::path(proc) / "net" / file);
    if (!text) continue;
    any = true;
    for (const ListeningSocket& s : parse_proc_net(*text, Proto::tcp, v6)) {
      listening.push_back({s.address, s.port});
    }
    for (const TcpConnection& c : parse_connected(*text, v6)) {
      connected.push_back({ipproto::tcp, c.local, c.remote, c.local_port, c.remote_port});
    }
  }
  if (!any) return std::nullopt;
  return LocalSockets(listening, connected);
}

std::expected<SshSockets, std::string> read_ssh_sockets(const std::string& proc) {
  SshSockets out;
  std::vector<ListeningSocket> listeners;
  std::vector<TcpConnection> connections;
  bool any = false;
  for (const auto& [file, v6] : {std::pair{"tcp", false}, std::pair{"tcp6", true}}) {
    const auto text = slurp(std::filesystem::path(proc) / "net" / file);
    if (!text) continue;
    any = true;
    for (const ListeningSocket& s : parse_proc_net(*text, Proto::tcp, v6)) listeners.push_back(s);
    for (const TcpConnection& c : parse_established(*text, v6)) connections.push_back(c);
  }
  if (!any) return std::unexpected("cannot read " + proc + "/net/tcp or tcp6");
  std::unordered_map<std::uint64_t, std::size_t> listener_of, connection_of;
  for (std::size_t i = 0; i < listeners.size(); ++i) listener_of.emplace(listeners[i].inode, i);
  for (std::size_t i = 0; i < connections.size(); ++i) {
    if (connections[i].inode != 0) connection_of.emplace(connections[i].inode, i);
  }
  std::vector<bool> listener_taken(listeners.size()), connection_taken(connections.size());
  std::error_code ec;
  for (const auto& process : std::filesystem::directory_iterator(proc, ec)) {
    if (!all_digits(process.path().filename().string())) continue;
    const std::string command = slurp(process.path() / "comm").value_or("");
    if (command != "sshd\n" && command != "dropbear\n") continue;
    out.server_running = true;
    const ProcessSockets held = sockets_of(process.path());
    out.owners_read = out.owners_read && !held.refused;
    for (std::uint64_t inode : held.inodes) {
      if (auto it = listener_of.find(inode); it != listener_of.end()) {
        listener_taken[it->second] = true;
      }
      if (auto it = connection_of.find(inode); it != connection_of.end()) {
        connection_taken[it->second] = true;
      }
    }
  }
  if (!out.server_running) return out;
  if (!out.owners_read) {
    constexpr std::uint16_t kSshPort = 22;
    for (std::size_t i = 0; i < listeners.size(); ++i)
      listener_taken[i] = listeners[i].port == kSshPort;
    for (std::size_t i = 0; i < connections.size(); ++i) {
      connection_taken[i] = connections[i].local_port == kSshPort;
    }
  }
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    if (listener_taken[i]) out.listeners.push_back(listeners[i]);
  }
  for (std::size_t i = 0; i < connections.size(); ++i) {
    if (connection_taken[i]) out.sessions.push_back(connections[i]);
  }
  return out;
}

std::string interface_with_address(const IpAddress& address) {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "";
  std::string name;
  for (const ifaddrs* i = list; i && name.empty(); i = i->ifa_next) {
    if (!i->ifa_addr) continue;
    if (i->ifa_addr->sa_family == AF_INET && address.family == Family::ipv4) {
      const auto* in = reinterpret_cast<const sockaddr_in*>(i->ifa_addr);
      if (std::memcmp(&in->sin_addr, address.bytes.data(), 4) == 0) name = i->ifa_name;
    } else if (i->ifa_addr->sa_family == AF_INET6 && address.family == Family::ipv6) {
      const auto* in6 = reinterpret_cast<const sockaddr_in6*>(i->ifa_addr);
      if (std::memcmp(&in6->sin6_addr, address.bytes.data(), 16) == 0) name = i->ifa_name;
    }
  }
  freeifaddrs(list);
  return name;
}

std::expected<LockoutHere, std::string> check_ssh_lockout_here(
    const PolicySnapshot& policy, const std::vector<KnockSection>& knocks) {
  auto ssh = read_ssh_sockets();
  if (!ssh) return std::unexpected(ssh.error());
  std::vector<SshSession> sessions;
  for (const TcpConnection& c : ssh->sessions) {
    sessions.push_back({c, interface_with_address(c.local)});
  }
  return LockoutHere{check_ssh_lockout(policy, knocks, ssh->listeners, sessions),
                     !ssh->server_running || ssh->owners_read};
}

std::optional<PortRange> read_ephemeral_range(const std::string& proc) {
  const auto text = slurp(std::filesystem::path(proc) / "sys/net/ipv4/ip_local_port_range");
  return text ? parse_port_range(*text) : std::nullopt;
}

}  // namespace portwall
