// ssh_lockout.h — would the rules lock the administrator out once portwalld filters? What ufw
// only warns about before `ufw enable`, checked: the SSH server must stay reachable on at least
// one of the ports it listens on (outside loopback), and every SSH session open now must be one
// the rules allow, because portwalld adopts a mid-stream connection after a start only when the
// rules allow its tuple (DESIGN.md "Promises to the administrator"). A knock-opened door is
// empty at start, so a session that only a knock let in counts as cut. Pure: the sockets come
// from the caller (host/host_sockets.h reads them).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "exposure/listening_sockets.h"
#include "policy/policy_snapshot.h"
#include "config/config.h"

namespace portwall {

struct SshSession {
  TcpConnection connection;  // local: this host's end (the SSH server's port)
  std::string interface;     // where its packets arrive ("" if unknown)
};

struct LockoutCheck {
  // One sentence each: an SSH port nobody may reach (when no SSH port stays reachable), a
  // session that would be cut. Empty: starting locks nobody out.
  std::vector<std::string> problems;
  std::vector<std::uint16_t> unreachable_ports;  // the advice: `portwall allow PORT/tcp`
  std::vector<std::string> reachable;            // "2222/tcp (everyone)", for the good news
  std::size_t sessions = 0;                      // sessions checked
};

LockoutCheck check_ssh_lockout(const PolicySnapshot& policy,
                               const std::vector<KnockSection>& knocks,
                               const std::vector<ListeningSocket>& listeners,
                               const std::vector<SshSession>& sessions);

// The refusal, several lines: what would be locked out, and the two ways on. `how_to_force` is
// how the caller's user starts anyway ("portwall enable --force").
std::string lockout_refusal(const LockoutCheck& check, const std::string& how_to_force);

// One line for the log when nothing is locked out: which SSH ports stay reachable, how many
// sessions go on.
std::string lockout_summary(const LockoutCheck& check);

}  // namespace portwall
