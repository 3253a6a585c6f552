#include "exposure/ssh_lockout.h"

#include <algorithm>

#include "exposure/exposure.h"
#include "policy/explain.h"

namespace portwall {
namespace {

std::string endpoint_words(const IpAddress& address, std::uint16_t port) {
  return to_string(address) + " port " + std::to_string(port);
}

// Who decides for the sources a port is closed to, in words.
std::string closed_because(const Exposure& e) {
  if (e.rule != 0) return "rule " + std::to_string(e.rule) + " refuses everyone";
  return "no rule lets anyone in, so the default incoming policy decides";
}

}  // namespace

LockoutCheck check_ssh_lockout(const PolicySnapshot& policy,
                               const std::vector<KnockSection>& knocks,
                               const std::vector<ListeningSocket>& listeners,
                               const std::vector<SshSession>& sessions) {
  LockoutCheck check;
  // Per closed port, the addresses it is bound to ("0.0.0.0 and ::"), and why it is closed.
  std::vector<std::pair<std::string, std::string>> closed_addresses;  // port, addresses
  std::vector<std::string> closed_why;
  bool any_outside = false;
  for (const ListeningSocket& l : listeners) {
    if (l.proto != Proto::tcp || is_loopback(l.address)) continue;
    any_outside = true;
    const Exposure e = exposure_of(policy.rule_set(), knocks, Proto::tcp, l.address, l.port);
    const std::string port = std::to_string(l.port) + "/tcp";
    if (e.reach == Reach::nobody) {
      const auto known =
          std::find(check.unreachable_ports.begin(), check.unreachable_ports.end(), l.port);
      if (known == check.unreachable_ports.end()) {
        check.unreachable_ports.push_back(l.port);
        closed_addresses.emplace_back(port, to_string(l.address));
        closed_why.push_back(closed_because(e));
      } else {
        closed_addresses[known - check.unreachable_ports.begin()].second +=
            " and " + to_string(l.address);
      }
    } else if (const std::string words = port + " (" + to_string(e.reach) + ")";
               std::find(check.reachable.begin(), check.reachable.end(), words) ==
               check.reachable.end()) {
      check.reachable.push_back(words);  // once, where IPv4 and IPv6 listeners say the same
    }
  }
  std::vector<std::string> closed;
  for (std::size_t i = 0; i < closed_addresses.size(); ++i) {
    closed.push_back("the SSH server listens on " + closed_addresses[i].first + " (" +
                     closed_addresses[i].second + "), and nobody may reach it: " + closed_why[i]);
  }
  // One SSH port that stays open is enough to log in; the closed ones are then a choice.
  if (any_outside && check.reachable.empty()) {
    check.problems.insert(check.problems.end(), closed.begin(), closed.end());
  }
  for (const SshSession& s : sessions) {
    const TcpConnection& c = s.connection;
    if (is_loopback(c.local)) continue;  // loopback never meets the diversion
    ++check.sessions;
    Probe probe;
    probe.input.direction = Direction::in;
    probe.input.protocol = ipproto::tcp;
    probe.input.src = c.remote;
    probe.input.src_port = c.remote_port;
    probe.input.dst = c.local;
    probe.input.dst_port = c.local_port;
    probe.interface = s.interface;
    const Explanation e = explain(policy, probe, std::nullopt);
    if (e.decision.verdict == Verdict::accept) continue;
    check.problems.push_back("the SSH session from " + endpoint_words(c.remote, c.remote_port) +
                             " to " + endpoint_words(c.local, c.local_port) +
                             " would be cut: " + e.why);
    if (std::find(check.unreachable_ports.begin(), check.unreachable_ports.end(), c.local_port) ==
        check.unreachable_ports.end()) {
      check.unreachable_ports.push_back(c.local_port);
    }
  }
  return check;
}

std::string lockout_refusal(const LockoutCheck& check, const std::string& how_to_force) {
  std::string text = "these rules would lock SSH out:\n";
  for (const std::string& p : check.problems) text += "  - " + p + "\n";
  text += "Allow SSH first (";
  for (std::size_t i = 0; i < check.unreachable_ports.size(); ++i) {
    text += (i ? "; " : "") + std::string("portwall allow ") +
            std::to_string(check.unreachable_ports[i]) + "/tcp";
  }
  text += "), or start anyway with `" + how_to_force + "`";
  return text;
}

std::string lockout_summary(const LockoutCheck& check) {
  if (check.reachable.empty() && check.sessions == 0) {
    return "no SSH server listens outside loopback and no SSH session is open";
  }
  std::string text = "SSH stays reachable";
  if (!check.reachable.empty()) {
    text += " on";
    for (std::size_t i = 0; i < check.reachable.size(); ++i) {
      text += (i ? ", " : " ") + check.reachable[i];
    }
  }
  text += "; " + std::to_string(check.sessions) + " open SSH session(s) go on";
  return text;
}

}  // namespace portwall
