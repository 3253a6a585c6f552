#include "exposure/ports_report.h"

#include <netdb.h>
#include <netinet/in.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <sstream>
#include <tuple>

#include "exposure/exposure.h"
#include "rules/forward.h"
#include "rules/rule_grammar.h"

namespace portwall {
namespace {

// The name /etc/services gives the port ("ssh"), or "".
std::string service_name(std::uint16_t port, Proto proto) {
  servent entry{}, *found = nullptr;
  char buf[1024];
  getservbyport_r(htons(port), proto == Proto::tcp ? "tcp" : "udp", &entry, buf, sizeof buf,
                  &found);
  return found ? found->s_name : "";
}

const char* proto_name(Proto p) { return p == Proto::tcp ? "tcp" : "udp"; }

// Two sockets take the same traffic: same protocol and port, and addresses of one family that
// are equal or of which one is the wildcard.
bool overlap(const ListeningSocket& a, const ListeningSocket& b) {
  return a.proto == b.proto && a.port == b.port && a.address.family == b.address.family &&
         (a.address == b.address || is_wildcard(a.address) || is_wildcard(b.address));
}

nlohmann::json owners_json(const std::vector<SocketOwner>& owners) {
  nlohmann::json out = nlohmann::json::array();
  for (const SocketOwner& o : owners) out.push_back({{"pid", o.pid}, {"command", o.command}});
  return out;
}

// "sshd(812),sshd(4711)", or "-" for none.
std::string processes_text(const nlohmann::json& processes) {
  std::string out;
  for (const auto& p : processes) {
    out += (out.empty() ? "" : ",") + p["command"].get<std::string>() + "(" +
           std::to_string(p["pid"].get<int>()) + ")";
  }
  return out.empty() ? "-" : out;
}

}  // namespace

nlohmann::json ports_report(const std::vector<HostSocket>& sockets, const PortsPolicy& policy,
                            const std::optional<PortRange>& ephemeral) {
  const RuleSet& rules = policy.rules;
  nlohmann::json listening = nlohmann::json::array();
  std::vector<ListeningSocket> plain;
  std::vector<HostSocket> sorted = sockets;  // by protocol, port, address
  std::sort(sorted.begin(), sorted.end(), [](const HostSocket& a, const HostSocket& b) {
    return std::tie(a.socket.proto, a.socket.port, a.socket.address.family,
                    a.socket.address.bytes) <
           std::tie(b.socket.proto, b.socket.port, b.socket.address.family, b.socket.address.bytes);
  });
  std::map<std::pair<std::uint16_t, Proto>, std::string> services;  // /etc/services, once each
  auto service = [&](std::uint16_t port, Proto proto) -> const std::string& {
    auto [it, fresh] = services.try_emplace({port, proto});
    if (fresh) it->second = service_name(port, proto);
    return it->second;
  };
  for (const HostSocket& h : sorted) {
    const ListeningSocket& s = h.socket;
    plain.push_back(s);
    Exposure e = exposure_of(rules, policy.knocks, s.proto, s.address, s.port);
    const std::size_t partial_count = e.partial.size();
    if (e.partial.size() > kMaxListedRules) e.partial.resize(kMaxListedRules);
    nlohmann::json j = {{"proto", proto_name(s.proto)},
                        {"address", to_string(s.address)},
                        {"port", s.port},
                        {"service", service(s.port, s.proto)},
                        {"class", port_class(s.port, ephemeral)},
                        {"uid", s.uid},
                        {"processes", owners_json(h.owners)},
                        {"reach", to_string(e.reach)},
                        {"rule", e.rule == 0 ? nlohmann::json(nullptr) : nlohmann::json(e.rule)},
                        {"partial_rules", e.partial},
                        {"knocks", e.knocks}};
    if (e.reach == Reach::some) {
      std::string from;
      for (std::uint32_t n : e.partial) {
        const Rule& r = rules.rules[n - 1];
        from += (from.empty() ? "" : ", ") +
                (r.interface.empty() ? r.from_text : r.from_text + " on " + r.interface);
      }
      if (partial_count > e.partial.size()) {
        from += " and " + std::to_string(partial_count - e.partial.size()) + " more";
      }
      j["from"] = from;
    }
    listening.push_back(std::move(j));
  }
  // Forwards: who reaches the public port (as if something listened there on every address),
  // and the sockets a redirect leads to.
  nlohmann::json forwards = nlohmann::json::array();
  std::vector<ListeningSocket> with_public = plain;
  for (std::size_t i = 0; i < rules.forwards.size(); ++i) {
    const Forward& f = rules.forwards[i];
    nlohmann::json reached = nlohmann::json::array();
    for (Proto proto : {Proto::tcp, Proto::udp}) {
      if (!protocols_overlap(f.proto, proto)) continue;
      for (Family family : {Family::ipv4, Family::ipv6}) {
        if (f.to_address && f.to_address->family != family) continue;
        IpAddress any;
        any.family = family;
        with_public.push_back({proto, any, f.port, 0, 0});
      }
      const Exposure e = exposure_of(rules, policy.knocks, proto, IpAddress{}, f.port);
      nlohmann::json target = nlohmann::json::array();
      if (f.redirect()) {
        for (nlohmann::json& l : listening) {
          if (l["proto"] == proto_name(proto) && l["port"] == f.to_port) {
            l["forwarded_from"].push_back(std::to_string(f.port) + "/" + proto_name(proto));
            target.push_back({{"address", l["address"]}, {"processes", l["processes"]}});
          }
        }
      }
      reached.push_back({{"proto", proto_name(proto)},
                         {"reach", to_string(e.reach)},
                         {"rule", e.rule == 0 ? nlohmann::json(nullptr) : nlohmann::json(e.rule)},
                         {"partial_rules", e.partial},
                         {"listeners", f.redirect() ? target : nlohmann::json(nullptr)}});
    }
    forwards.push_back({{"number", i + 1},
                        {"text", forward_words(f)},
                        {"port", f.port},
                        {"to", forward_destination(f)},
                        {"kind", f.redirect() ? "redirect" : "dnat"},
                        {"by_protocol", reached}});
  }
  // Published by another tool (Docker): reached through the host's port, as a forward is.
  nlohmann::json published = nlohmann::json::array();
  for (const PublishedPort& p : policy.published) {
    IpAddress any;
    any.family = p.forward.to_address->family;
    with_public.push_back({p.forward.proto, any, p.forward.port, 0, 0});
    const Exposure e = exposure_of(rules, policy.knocks, p.forward.proto,
                                   p.host_address.value_or(IpAddress{}), p.forward.port);
    published.push_back({{"text", published_words(p)},
                         {"proto", to_string(p.forward.proto)},
                         {"port", p.forward.port},
                         {"to", forward_destination(p.forward)},
                         {"chain", p.chain},
                         {"reach", to_string(e.reach)},
                         {"rule", e.rule == 0 ? nlohmann::json(nullptr) : nlohmann::json(e.rule)},
                         {"partial_rules", e.partial}});
  }
  nlohmann::json unused = nlohmann::json::array();
  for (std::uint32_t n : allows_without_listener(rules, with_public)) {
    unused.push_back({{"rule", n}, {"text", rule_words(rules.rules[n - 1])}});
  }
  // Sockets that share traffic: a group per port, with every socket overlapping another.
  nlohmann::json shared = nlohmann::json::array();
  std::vector<bool> grouped(sorted.size(), false);
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    if (grouped[i]) continue;
    std::vector<std::size_t> group{i};
    for (std::size_t k = i + 1; k < sorted.size(); ++k) {
      if (!grouped[k] && overlap(sorted[i].socket, sorted[k].socket)) group.push_back(k);
    }
    if (group.size() < 2) continue;
    std::vector<std::string> commands;
    nlohmann::json members = nlohmann::json::array();
    for (std::size_t k : group) {
      grouped[k] = true;
      members.push_back({{"address", to_string(sorted[k].socket.address)},
                         {"processes", owners_json(sorted[k].owners)}});
      for (const SocketOwner& o : sorted[k].owners) commands.push_back(o.command);
    }
    std::sort(commands.begin(), commands.end());
    commands.erase(std::unique(commands.begin(), commands.end()), commands.end());
    shared.push_back({{"proto", proto_name(sorted[i].socket.proto)},
                      {"port", sorted[i].socket.port},
                      {"kind", commands.size() > 1 ? "conflict" : "SO_REUSEPORT group"},
                      {"sockets", members}});
  }
  return {{"listening", listening},
          {"forwards", forwards},
          {"published", published},
          {"allowed_without_listener", unused},
          {"shared", shared},
          {"ephemeral",
           ephemeral ? nlohmann::json({{"first", ephemeral->first}, {"last", ephemeral->last}})
                     : nlohmann::json(nullptr)},
          {"rules_file", policy.rules_file},
          {"policy_from", policy.from}};
}

std::string render_ports(const nlohmann::json& report) {
  std::ostringstream out;
  const auto cell = [](std::string text, std::size_t width) {
    if (text.size() < width) text.resize(width, ' ');
    return text + " ";
  };
  out << (report.value("policy_from", "") == "portwalld"
              ? "Policy: the running portwalld's"
              : "Policy: the files' (portwalld is not running)")
      << ", rules from " << report.value("rules_file", "?") << "\n";
  out << cell("Proto", 5) << cell("Address", 22) << cell("Port", 5) << cell("Service", 12)
      << cell("Class", 10) << cell("Process", 20) << "Reachable by\n";
  for (const nlohmann::json& s : report["listening"]) {
    const std::string decider =
        s["rule"].is_null() ? "default policy" : "rule " + std::to_string(s["rule"].get<int>());
    std::string reach = s["reach"].get<std::string>();
    if (s.contains("from")) {
      std::string rules;
      for (const auto& n : s["partial_rules"]) {
        rules += (rules.empty() ? "" : ", ") + std::to_string(n.get<int>());
      }
      reach = "only " + s["from"].get<std::string>() + " (rule " + rules + "); others: " + decider;
    } else if (reach != "this host") {
      reach += ", " + decider;
    }
    for (const auto& k : s["knocks"]) reach += ", knock " + k.get<std::string>();
    if (s.contains("forwarded_from")) {
      std::string from;
      for (const auto& p : s["forwarded_from"]) {
        from += (from.empty() ? "" : ", ") + p.get<std::string>();
      }
      reach += "; forwarded from " + from;
    }
    const std::string service = s["service"].get<std::string>();
    out << cell(s["proto"].get<std::string>(), 5) << cell(s["address"].get<std::string>(), 22)
        << cell(std::to_string(s["port"].get<int>()), 5)
        << cell(service.empty() ? "-" : service, 12) << cell(s["class"].get<std::string>(), 10)
        << cell(processes_text(s["processes"]), 20) << reach << "\n";
  }
  if (report.contains("forwards") && !report["forwards"].empty()) {
    out << "\nForwards:\n";
    for (const auto& f : report["forwards"]) {
      out << "  " << f["number"].get<int>() << ": " << f["text"].get<std::string>();
      for (const auto& p : f["by_protocol"]) {
        const std::string decider =
            p["rule"].is_null() ? "default policy" : "rule " + std::to_string(p["rule"].get<int>());
        out << "; " << p["proto"].get<std::string>() << " reachable by "
            << p["reach"].get<std::string>() << ", " << decider;
        if (p["listeners"].is_array()) {
          out << (p["listeners"].empty()
                      ? ", nothing listens on " + f["to"].get<std::string>()
                      : std::string(", to ") + processes_text(p["listeners"][0]["processes"]));
        }
      }
      out << "\n";
    }
  }
  if (report.contains("published") && !report["published"].empty()) {
    out << "\nPublished by other tools (Docker), judged as this host's port (a route rule about "
           "the container goes first):\n";
    for (const auto& p : report["published"]) {
      const std::string decider =
          p["rule"].is_null() ? "default policy" : "rule " + std::to_string(p["rule"].get<int>());
      out << "  " << p["text"].get<std::string>() << "; reachable by "
          << p["reach"].get<std::string>() << ", " << decider << "\n";
    }
  }
  if (!report["allowed_without_listener"].empty()) {
    out << "\nAllowed, but nothing listens:\n";
    for (const auto& u : report["allowed_without_listener"]) {
      out << "  rule " << u["rule"].get<int>() << ": " << u["text"].get<std::string>() << "\n";
    }
  }
  if (!report["shared"].empty()) {
    out << "\nShared ports:\n";
    for (const auto& g : report["shared"]) {
      out << "  " << g["proto"].get<std::string>() << " " << g["port"].get<int>() << " ("
          << g["kind"].get<std::string>() << "):";
      for (const auto& m : g["sockets"]) {
        out << " " << m["address"].get<std::string>() << " " << processes_text(m["processes"])
            << ";";
      }
      out << "\n";
    }
  }
  return out.str();
}

nlohmann::json sockets_json(const std::vector<HostSocket>& sockets) {
  nlohmann::json list = nlohmann::json::array();
  for (const HostSocket& h : sockets) {
    list.push_back({{"proto", proto_name(h.socket.proto)},
                    {"address", to_string(h.socket.address)},
                    {"port", h.socket.port},
                    {"uid", h.socket.uid},
                    {"owners", owners_json(h.owners)}});
  }
  return list;
}

std::optional<std::vector<HostSocket>> sockets_of(const nlohmann::json& list) {
  if (!list.is_array() || list.size() > kMaxPortsSockets) return std::nullopt;
  // A field of the wrong type is a malformed list, never an exception.
  auto field = [](const nlohmann::json& j, const char* key) -> const nlohmann::json* {
    const auto it = j.find(key);
    return it == j.end() ? nullptr : &*it;
  };
  std::vector<HostSocket> sockets;
  sockets.reserve(list.size());
  for (const nlohmann::json& j : list) {
    if (!j.is_object()) return std::nullopt;
    const nlohmann::json* proto = field(j, "proto");
    const nlohmann::json* address = field(j, "address");
    const nlohmann::json* port = field(j, "port");
    if (!proto || !proto->is_string() || (*proto != "tcp" && *proto != "udp") || !address ||
        !address->is_string() || !port || !port->is_number_integer() ||
        port->get<std::int64_t>() < 0 || port->get<std::int64_t>() > 65535) {
      return std::nullopt;
    }
    const auto parsed = parse_ip_address(address->get<std::string>());
    if (!parsed) return std::nullopt;
    HostSocket h;
    h.socket.proto = *proto == "tcp" ? Proto::tcp : Proto::udp;
    h.socket.address = *parsed;
    h.socket.port = static_cast<std::uint16_t>(port->get<std::int64_t>());
    if (const nlohmann::json* uid = field(j, "uid");
        uid && uid->is_number_integer() && uid->get<std::int64_t>() >= 0 &&
        uid->get<std::int64_t>() <= UINT32_MAX) {
      h.socket.uid = static_cast<std::uint32_t>(uid->get<std::int64_t>());
    }
    if (const nlohmann::json* owners = field(j, "owners")) {
      if (!owners->is_array() || owners->size() > kMaxSocketOwners) return std::nullopt;
      for (const nlohmann::json& o : *owners) {
        if (!o.is_object()) return std::nullopt;
        const nlohmann::json* pid = field(o, "pid");
        const nlohmann::json* command = field(o, "command");
        if (!pid || !pid->is_number_integer() || !command || !command->is_string()) {
          return std::nullopt;
        }
        const auto id = pid->get<std::int64_t>();
        if (id < 0 || id > INT32_MAX) return std::nullopt;
        h.owners.push_back({static_cast<int>(id), command->get<std::string>()});
      }
    }
    sockets.push_back(std::move(h));
  }
  return sockets;
}

}  // namespace portwall
