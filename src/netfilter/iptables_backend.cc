// iptables_backend.cc — the diversion as iptables and ip6tables rules: chains PORTWALL_INPUT
// and PORTWALL_OUTPUT in the filter table, jumped to from the top of INPUT and OUTPUT.
// Installed with iptables-restore --noflush (atomic per family), never touching other chains.
#include <fmt/format.h>

#include <sstream>
#include <utility>

#include "netfilter/command.h"
#include "netfilter/diversion.h"

namespace portwall {
namespace {

struct Family {
  const char* iptables;
  const char* restore;
  const char* save;
  const char* icmp_reject;
  bool ipv6;
};
constexpr Family kFamilies[] = {
    {"iptables", "iptables-restore", "iptables-save", "icmp-port-unreachable", false},
    {"ip6tables", "ip6tables-restore", "ip6tables-save", "icmp6-port-unreachable", true},
};
constexpr struct {
  const char* builtin;
  const char* chain;
  const char* loopback;
} kHooks[] = {{"INPUT", "PORTWALL_INPUT", "-i lo"}, {"OUTPUT", "PORTWALL_OUTPUT", "-o lo"}};
constexpr const char* kDefragChain = "PORTWALL_DEFRAG";
constexpr const char* kSaveChain = "PORTWALL_SAVE";
constexpr std::pair<const char*, const char*> kSaveHooks[] = {{"security", "INPUT"},
                                                              {"mangle", "POSTROUTING"}};

std::string queue_target(const DiversionSpec& spec) {
  std::string t = spec.queues.size() == 1 ? fmt::format("--queue-num {}", spec.queues.front())
                                          : fmt::format("--queue-balance {}:{}",
                                                        spec.queues.front(), spec.queues.back());
  if (spec.bypass) t += " --queue-bypass";
  return t;
}

// No rule here uses the kernel's connection tracking: turning it on in the namespace cost a
// fifth of the packets the queue can carry (docs/PERFORMANCE.md, "ceiling+ct"), and portwalld
// tracks connections itself. What conntrack gave for free is done otherwise:
// - IPv6 fragments must reach the queue reassembled, as IPv4 ones always do
//   (CONNTRACK-NOTES §1.7). A `socket` match enables the kernel's IPv6 defragmentation in the
//   namespace when it is added; it sits in a chain nothing jumps to, so it never matches.
// - REJECT's own TCP resets and ICMP errors leave through OUTPUT and are queued like any
//   packet: portwalld lets out resets and ICMP errors that answer what it received.
std::string restore_script(const Family& family, const DiversionSpec& spec) {
  std::ostringstream s;
  s << "*filter\n";
  for (const auto& h : kHooks) s << ':' << h.chain << " - [0:0]\n";
  if (family.ipv6) s << ':' << kDefragChain << " - [0:0]\n";
  for (const auto& h : kHooks) {
    s << fmt::format("-A {} {} -j RETURN\n", h.chain, h.loopback);
    s << fmt::format("-A {} -m mark --mark {:#x}/{:#x} -p tcp -j REJECT --reject-with tcp-reset\n",
                     h.chain, spec.reject_mark, spec.reject_mark);
    s << fmt::format("-A {} -m mark --mark {:#x}/{:#x} -j REJECT --reject-with {}\n", h.chain,
                     spec.reject_mark, spec.reject_mark, family.icmp_reject);
    if (spec.offload_mark) {
      // inspect = "new": connections portwalld has offloaded pass without asking. The connmark
      // match turns the kernel's connection tracking on: only this mode pays for it.
      s << fmt::format("-A {} -m connmark --mark {:#x}/{:#x} -j ACCEPT\n", h.chain,
                       spec.offload_mark, spec.offload_mark);
    }
    s << fmt::format("-A {} -j NFQUEUE {}\n", h.chain, queue_target(spec));
  }
  if (family.ipv6) s << fmt::format("-A {} -m socket -j RETURN\n", kDefragChain);
  for (const auto& h : kHooks) s << fmt::format("-I {} 1 -j {}\n", h.builtin, h.chain);
  s << "COMMIT\n";
  if (spec.offload_mark) {
    // inspect = "new": a packet portwalld accepted with the offload bit carries it on to the
    // hooks after filter; there it is saved into the connection's connmark (security INPUT
    // runs after filter INPUT, mangle POSTROUTING after filter OUTPUT).
    for (const auto& [table, builtin] : kSaveHooks) {
      s << "*" << table << "\n:" << kSaveChain << " - [0:0]\n";
      s << fmt::format(
          "-A {} -m mark --mark {:#x}/{:#x} -j CONNMARK --save-mark --nfmask {:#x} "
          "--ctmask {:#x}\n",
          kSaveChain, spec.offload_mark, spec.offload_mark, spec.offload_mark, spec.offload_mark);
      s << fmt::format("-I {} 1 -j {}\nCOMMIT\n", builtin, kSaveChain);
    }
  }
  return s.str();
}

std::string failure(const std::vector<std::string>& argv, const CommandResult& r) {
  std::string cmd;
  for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
  return fmt::format("{} failed ({}): {}", cmd, r.exit_code, r.err.empty() ? r.out : r.err);
}

// Deletes every jump to our chain from the built-in chain (a crashed run may have left one, or
// several), then flushes and deletes the chain. Missing pieces are not errors.
void remove_family(const Family& family) {
  for (const auto& h : kHooks) {
    for (int i = 0; i < 16; ++i) {
      if (!run_command({family.iptables, "-w", "-D", h.builtin, "-j", h.chain}).ok()) break;
    }
    run_command({family.iptables, "-w", "-F", h.chain});
    run_command({family.iptables, "-w", "-X", h.chain});
  }
  if (family.ipv6) {
    run_command({family.iptables, "-w", "-F", kDefragChain});
    run_command({family.iptables, "-w", "-X", kDefragChain});
  }
  for (const auto& [table, builtin] : kSaveHooks) {
    for (int i = 0; i < 16; ++i) {
      if (!run_command({family.iptables, "-w", "-t", table, "-D", builtin, "-j", kSaveChain})
               .ok()) {
        break;
      }
    }
    run_command({family.iptables, "-w", "-t", table, "-F", kSaveChain});
    run_command({family.iptables, "-w", "-t", table, "-X", kSaveChain});
  }
}

class IptablesDiversion final : public Diversion {
 public:
  const char* name() const override { return "iptables"; }

  std::expected<void, std::string> install(const DiversionSpec& spec) override {
    for (const Family& family : kFamilies) {
      remove_family(family);
      const std::vector<std::string> argv = {family.restore, "-w", "--noflush"};
      const CommandResult r = run_command(argv, restore_script(family, spec));
      if (!r.ok()) {
        remove();
        return std::unexpected(failure(argv, r));
      }
    }
    return {};
  }

  std::expected<void, std::string> remove() override {
    for (const Family& family : kFamilies) remove_family(family);
    return {};
  }

  std::expected<std::uint64_t, std::string> queued_packets() override {
    std::uint64_t total = 0;
    for (const Family& family : kFamilies) {
      const std::vector<std::string> argv = {family.save, "-c", "-t", "filter"};
      const CommandResult r = run_command(argv);
      if (!r.ok()) return std::unexpected(failure(argv, r));
      std::istringstream lines(r.out);
      std::string line;
      // "[12:840] -A PORTWALL_INPUT -j NFQUEUE --queue-num 100"
      while (std::getline(lines, line)) {
        if (line.find("-A PORTWALL_") == std::string::npos ||
            line.find("-j NFQUEUE") == std::string::npos || line.empty() || line[0] != '[') {
          continue;
        }
        total += std::stoull(line.substr(1));
      }
    }
    return total;
  }
};

}  // namespace

std::string iptables_restore_script(bool ipv6, const DiversionSpec& spec) {
  return restore_script(kFamilies[ipv6 ? 1 : 0], spec);
}

std::unique_ptr<Diversion> make_iptables_diversion() {
  return std::make_unique<IptablesDiversion>();
}

}  // namespace portwall
