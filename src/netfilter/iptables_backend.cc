// iptables_backend.cc — the diversion as iptables and ip6tables rules: chains PORTWALL_INPUT
// and PORTWALL_OUTPUT in the filter table, jumped to from the top of INPUT and OUTPUT.
// Installed with iptables-restore --noflush (atomic per family), never touching other chains.
#include <fmt/format.h>

#include <algorithm>
#include <sstream>
#include <string_view>
#include <tuple>
#include <utility>

#include "netfilter/command.h"
#include "netfilter/diversion.h"
#include "netfilter/kernel_block_set.h"
#include "packet/ip_address.h"

namespace portwall {
namespace {

struct Family {
  const char* iptables;
  const char* restore;
  const char* save;
  const char* icmp_reject;
  bool ipv6;
  const char* block_set;
};
constexpr Family kFamilies[] = {
    {"iptables", "iptables-restore", "iptables-save", "icmp-port-unreachable", false, kIpsetBlock4},
    {"ip6tables", "ip6tables-restore", "ip6tables-save", "icmp6-port-unreachable", true,
     kIpsetBlock6},
};
constexpr struct {
  const char* builtin;
  const char* chain;
  const char* loopback;
} kHooks[] = {{"INPUT", "PORTWALL_INPUT", "-i lo"}, {"OUTPUT", "PORTWALL_OUTPUT", "-o lo"}};
constexpr const char* kDefragChain = "PORTWALL_DEFRAG";
constexpr const char* kSaveChain = "PORTWALL_SAVE";
constexpr const char* kBlockedChain = "PORTWALL_BLOCKED";
// ICMPv6 that portwalld decides before blocks (engine.cc: is_neighbour_discovery, lets it
// through; is_redirect, [icmp] redirects): router and neighbour solicitations and
// advertisements, MLD, redirects. ICMP's redirect likewise.
constexpr int kDiscoveryTypes[] = {130, 131, 132, 133, 134, 135, 136, 137, 143};
constexpr std::pair<const char*, const char*> kSaveHooks[] = {{"security", "INPUT"},
                                                              {"mangle", "POSTROUTING"}};

std::string queue_target(const DiversionSpec& spec) {
  std::string t = spec.queues.size() == 1 ? fmt::format("--queue-num {}", spec.queues.front())
                                          : fmt::format("--queue-balance {}:{}",
                                                        spec.queues.front(), spec.queues.back());
  if (spec.bypass) t += " --queue-bypass";
  return t;
}

// How many jumps to portwall's chains each built-in chain holds now (an earlier run's).
struct LeftoverJumps {
  std::vector<std::tuple<std::string, std::string, int>> counts;  // table, built-in, jumps
  int count(std::string_view table, std::string_view builtin) const {
    for (const auto& [t, b, n] : counts) {
      if (t == table && b == builtin) return n;
    }
    return 0;
  }
};

// No rule here uses the kernel's connection tracking: turning it on in the namespace cost a
// fifth of the packets the queue can carry (docs/PERFORMANCE.md, "ceiling+ct"), and portwalld
// tracks connections itself. What conntrack gave for free is done otherwise:
// - IPv6 fragments must reach the queue reassembled, as IPv4 ones always do
//   (CONNTRACK-NOTES §1.7). A `socket` match enables the kernel's IPv6 defragmentation in the
//   namespace when it is added; it sits in a chain nothing jumps to, so it never matches.
// - REJECT's own TCP resets and ICMP errors leave through OUTPUT and are queued like any
//   packet: portwalld lets out resets and ICMP errors that answer what it received.
// `left`: the jumps to portwall's chains an earlier run left in the built-in chains. The script
// then deletes them, flushes and refills the chains (a chain line flushes an existing chain,
// with --noflush too) and jumps again, in the same transaction: a restart replaces the rules
// without a moment in which packets pass unjudged.
// `block_set`: the family's ipset of blocks exists; its members' packets are dropped here,
// before the queue (those of neighbour discovery go on to portwalld).
std::string restore_script(const Family& family, const DiversionSpec& spec,
                           const LeftoverJumps& left, bool block_set) {
  std::ostringstream s;
  s << "*filter\n";
  for (const auto& h : kHooks) s << ':' << h.chain << " - [0:0]\n";
  if (family.ipv6) s << ':' << kDefragChain << " - [0:0]\n";
  if (block_set) {
    s << ':' << kBlockedChain << " - [0:0]\n";
    if (family.ipv6) {
      for (int type : kDiscoveryTypes) {
        s << fmt::format("-A {} -p ipv6-icmp -m icmp6 --icmpv6-type {} -j RETURN\n", kBlockedChain,
                         type);
      }
    } else {
      s << fmt::format("-A {} -p icmp -m icmp --icmp-type 5 -j RETURN\n", kBlockedChain);
    }
    s << fmt::format("-A {} -j DROP\n", kBlockedChain);
  }
  for (const auto& h : kHooks) {
    s << fmt::format("-A {} {} -j RETURN\n", h.chain, h.loopback);
    if (block_set) {
      s << fmt::format("-A {} -m set --match-set {} {} -j {}\n", h.chain, family.block_set,
                       std::string_view(h.builtin) == "INPUT" ? "src" : "dst", kBlockedChain);
    }
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
  for (const auto& h : kHooks) {
    for (int i = 0; i < left.count("filter", h.builtin); ++i) {
      s << fmt::format("-D {} -j {}\n", h.builtin, h.chain);
    }
    s << fmt::format("-I {} 1 -j {}\n", h.builtin, h.chain);
  }
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
      for (int i = 0; i < left.count(table, builtin); ++i) {
        s << fmt::format("-D {} -j {}\n", builtin, kSaveChain);
      }
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

// Forwarding: chains of their own in mangle, nat and filter, only while forwards exist (NAT
// turns the kernel's connection tracking on in the namespace, and costs what it costs).
constexpr const char* kMarkChain = "PORTWALL_FWDMARK";     // mangle PREROUTING
constexpr const char* kForwardChain = "PORTWALL_FORWARD";  // filter FORWARD
// DOCKER-USER: Docker's chain for its users' rules, jumped to first from FORWARD (DiversionSpec).
constexpr std::pair<const char*, const char*> kForwardHooks[] = {{"mangle", "PREROUTING"},
                                                                 {"nat", "PREROUTING"},
                                                                 {"nat", "POSTROUTING"},
                                                                 {"filter", "FORWARD"},
                                                                 {"filter", "DOCKER-USER"}};
const char* forward_chain(std::string_view table, std::string_view builtin) {
  if (table == "mangle") return kMarkChain;
  if (table == "filter") return kForwardChain;
  return builtin == "PREROUTING" ? "PORTWALL_PREROUTING" : "PORTWALL_POSTROUTING";
}

std::vector<const char*> protocols_of(const Forward& f) {
  if (f.proto == Proto::tcp) return {"tcp"};
  if (f.proto == Proto::udp) return {"udp"};
  return {"tcp", "udp"};
}

// A forward belongs to a family by its destination; a redirect to both.
bool in_family(const Forward& f, bool ipv6) {
  return !f.to_address || (f.to_address->size() == 16) == ipv6;
}

// `left`: the jumps to the forward chains now (deleted in the same transaction, which also
// flushes the chains: the forwards are replaced without a moment in which none is in place).
std::string forward_script(const Family& family, const DiversionSpec& spec,
                           const LeftoverJumps& left = {}) {
  std::vector<const Forward*> mine;
  for (const Forward& f : spec.forwards) {
    if (in_family(f, family.ipv6)) mine.push_back(&f);
  }
  if (mine.empty() && !spec.route_queue && !spec.published_queue) return "";
  std::ostringstream mangle, nat, filter;
  for (const Forward* f : mine) {
    const std::string in = f->interface.empty() ? "" : " -i " + f->interface;
    for (const char* proto : protocols_of(*f)) {
      const std::string match =
          fmt::format("{} -p {} --dport {} -m addrtype --dst-type LOCAL", in, proto, f->port);
      if (f->redirect()) {
        mangle << fmt::format("-A {}{} -j MARK --set-xmark {:#x}/{:#x}\n", kMarkChain, match,
                              spec.redirect_mark, spec.redirect_mark);
        nat << fmt::format("-A PORTWALL_PREROUTING{} -j REDIRECT --to-ports {}\n", match,
                           f->to_port);
        continue;
      }
      const std::string to = to_string(*f->to_address);
      nat << fmt::format("-A PORTWALL_PREROUTING{} -j DNAT --to-destination {}\n", match,
                         family.ipv6 ? fmt::format("[{}]:{}", to, f->to_port)
                                     : fmt::format("{}:{}", to, f->to_port));
      // The host's answers must come back through it: the forwarded connection leaves with the
      // host's address (masquerade), as firewalld's forward-port with toaddr does.
      const std::string dnat =
          fmt::format("-p {} -m conntrack --ctstate DNAT --ctorigdstport {}", proto, f->port);
      nat << fmt::format("-A PORTWALL_POSTROUTING -d {} {} --dport {} -j MASQUERADE\n", to, dnat,
                         f->to_port);
      // Both directions of the forwarded connection go to portwalld: its policy decides.
      filter << fmt::format("-A {} {} --ctreplsrc {} --ctreplsrcport {} -j NFQUEUE {}\n",
                            kForwardChain, dnat, to, f->to_port, queue_target(spec));
    }
  }
  auto unjump = [&](const char* table, const char* builtin) {
    std::string out;
    for (int i = 0; i < left.count(table, builtin); ++i) {
      out += fmt::format("-D {} -j {}\n", builtin, forward_chain(table, builtin));
    }
    return out;
  };
  std::ostringstream s;
  // Without forwards, no NAT chain (the nat table turns the kernel's connection tracking on):
  // routed traffic alone needs only the filter chain.
  if (!mine.empty()) {
    s << "*mangle\n:" << kMarkChain << " - [0:0]\n"
      << mangle.str() << unjump("mangle", "PREROUTING") << "-I PREROUTING 1 -j " << kMarkChain
      << "\nCOMMIT\n";
    s << "*nat\n:PORTWALL_PREROUTING - [0:0]\n:PORTWALL_POSTROUTING - [0:0]\n"
      << nat.str() << unjump("nat", "PREROUTING") << unjump("nat", "POSTROUTING")
      << "-I PREROUTING 1 -j PORTWALL_PREROUTING\n-I POSTROUTING 1 -j PORTWALL_POSTROUTING\n"
         "COMMIT\n";
  }
  s << "*filter\n:" << kForwardChain << " - [0:0]\n";
  // Judged and passed on (routed, published): the rest of FORWARD decides as well.
  s << fmt::format("-A {} -m mark --mark {:#x}/{:#x} -j RETURN\n", kForwardChain, spec.passed_mark,
                   spec.passed_mark);
  s << fmt::format("-A {} -m mark --mark {:#x}/{:#x} -p tcp -j REJECT --reject-with tcp-reset\n",
                   kForwardChain, spec.reject_mark, spec.reject_mark);
  s << fmt::format("-A {} -m mark --mark {:#x}/{:#x} -j REJECT --reject-with {}\n", kForwardChain,
                   spec.reject_mark, spec.reject_mark, family.icmp_reject);
  // The routed and published bits are portwall's to set: whatever set them before is undone.
  const std::uint32_t kinds = spec.routed_mark | spec.published_mark;
  s << fmt::format("-A {} -j MARK --set-xmark 0x0/{:#x}\n", kForwardChain, kinds);
  s << filter.str();
  if (spec.published_queue) {
    // Connections another tool DNATs (Docker's published ports), both ways: judged as
    // connections to this host's port.
    s << fmt::format("-A {} -m conntrack --ctstate DNAT -j MARK --set-xmark {:#x}/{:#x}\n",
                     kForwardChain, spec.published_mark, spec.published_mark);
    s << fmt::format("-A {} -m conntrack --ctstate DNAT -j NFQUEUE {}\n", kForwardChain,
                     queue_target(spec));
  }
  const bool routed_deny = spec.routed_deny[family.ipv6 ? 1 : 0] && !mine.empty();
  if (routed_deny) {
    // ICMP errors about the forwarded connections (fragmentation needed, unreachable) pass.
    s << "-A " << kForwardChain << " -m conntrack --ctstate RELATED -m conntrack --ctstate DNAT -j ACCEPT\n";
  }
  if (spec.route_queue) {
    // Every other routed packet, both ways, goes to portwalld marked as routed: the route rules
    // and [defaults] routed decide, and its connection state lets the replies back.
    s << fmt::format("-A {} -j MARK --set-xmark {:#x}/{:#x}\n", kForwardChain, spec.routed_mark,
                     spec.routed_mark);
    s << fmt::format("-A {} -j NFQUEUE {}\n", kForwardChain, queue_target(spec));
  } else if (routed_deny) {
    s << "-A " << kForwardChain << " -j DROP\n";  // every other routed packet
  }
  // From DOCKER-USER's top when Docker's chains exist, else from FORWARD's (never both).
  const char* from = spec.docker_user[family.ipv6 ? 1 : 0] ? "DOCKER-USER" : "FORWARD";
  s << unjump("filter", "FORWARD") << unjump("filter", "DOCKER-USER") << "-I " << from << " 1 -j "
    << kForwardChain << "\nCOMMIT\n";
  return s.str();
}

// `nat_only`: the forwards' mangle and nat chains only (the filter chain stays, for routed
// traffic).
void remove_forwards(const Family& family, bool nat_only = false) {
  for (const auto& [table, builtin] : kForwardHooks) {
    if (nat_only && std::string_view(table) == "filter") continue;
    const char* chain = forward_chain(table, builtin);
    for (int i = 0; i < 16; ++i) {
      if (!run_command({family.iptables, "-w", "-t", table, "-D", builtin, "-j", chain}).ok()) {
        break;
      }
    }
    run_command({family.iptables, "-w", "-t", table, "-F", chain});
    run_command({family.iptables, "-w", "-t", table, "-X", chain});
  }
}

void remove_save_chains(const Family& family) {
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

// The chain that drops blocked sources and the family's set (once no rule names it any more).
void remove_block_set(const Family& family) {
  run_command({family.iptables, "-w", "-F", kBlockedChain});
  run_command({family.iptables, "-w", "-X", kBlockedChain});
  run_command({"ipset", "destroy", family.block_set});
}

// Makes the family's set of blocks, empty, with room for `size` entries: an earlier run's is
// emptied, or replaced (swapped, so that its rules stay valid) when its room differs.
std::expected<void, std::string> make_block_set(const Family& family, std::size_t size) {
  std::vector<std::string> create = {"ipset", "create"};
  for (std::string& a : ipset_create_args(family.block_set, family.ipv6, size)) {
    create.push_back(std::move(a));
  }
  create.push_back("-exist");
  if (const CommandResult made = run_command(create); made.ok()) {
    const std::vector<std::string> flush = {"ipset", "flush", family.block_set};
    if (const CommandResult r = run_command(flush); !r.ok())
      return std::unexpected(failure(flush, r));
    return {};
  } else if (made.exit_code < 0 || made.err.find("already exists") == std::string::npos) {
    return std::unexpected(failure(create, made));
  }
  const std::string fresh = std::string(family.block_set) + "-new";
  run_command({"ipset", "destroy", fresh});
  create[2] = fresh;
  create.pop_back();
  const std::vector<std::string> swap = {"ipset", "swap", fresh, family.block_set};
  if (const CommandResult r = run_command(create); !r.ok())
    return std::unexpected(failure(create, r));
  if (const CommandResult r = run_command(swap); !r.ok()) {
    run_command({"ipset", "destroy", fresh});
    return std::unexpected(failure(swap, r));
  }
  run_command({"ipset", "destroy", fresh});
  return {};
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
  remove_save_chains(family);
  remove_block_set(family);
}

// How many jumps to `chain` the built-in chain holds now, as `iptables -S` lists them.
int jumps_to(const Family& family, const char* table, const char* builtin, const char* chain) {
  const CommandResult r = run_command({family.iptables, "-w", "-t", table, "-S", builtin});
  const std::string jump = fmt::format("-A {} -j {}", builtin, chain);
  std::istringstream lines(r.out);
  int n = 0;
  for (std::string line; std::getline(lines, line);) n += line == jump;
  return n;
}

// The jumps to portwall's chains in the built-in chains now.
LeftoverJumps leftovers(const Family& family) {
  LeftoverJumps left;
  for (const auto& h : kHooks) {
    left.counts.emplace_back("filter", h.builtin, jumps_to(family, "filter", h.builtin, h.chain));
  }
  for (const auto& [table, builtin] : kSaveHooks) {
    left.counts.emplace_back(table, builtin, jumps_to(family, table, builtin, kSaveChain));
  }
  return left;
}

// The jumps to portwall's forward chains in the built-in chains now.
LeftoverJumps forward_leftovers(const Family& family) {
  LeftoverJumps left;
  for (const auto& [table, builtin] : kForwardHooks) {
    left.counts.emplace_back(table, builtin,
                             jumps_to(family, table, builtin, forward_chain(table, builtin)));
  }
  return left;
}

class IptablesDiversion final : public Diversion {
 public:
  const char* name() const override { return "iptables"; }

  std::expected<void, std::string> install(const DiversionSpec& spec) override {
    block_set_problem_ = spec.block_set_size ? "" : "not asked for";
    for (const Family& family : kFamilies) {
      if (spec.block_set_size && block_set_problem_.empty()) {
        if (auto made = make_block_set(family, spec.block_set_size); !made) {
          block_set_problem_ = made.error();
        }
      }
    }
    bool block_set = block_set_problem_.empty();
    auto load = [&](bool with_set) -> std::expected<void, std::string> {
      for (const Family& family : kFamilies) {
        const std::vector<std::string> argv = {family.restore, "-w", "--noflush"};
        const CommandResult r =
            run_command(argv, restore_script(family, spec, leftovers(family), with_set));
        if (!r.ok()) return std::unexpected(failure(argv, r));
      }
      return {};
    };
    auto loaded = load(block_set);
    if (!loaded && block_set) {
      // The set's match was refused (no xt_set?): the rules again without it (each family's
      // script replaces what an earlier one loaded); portwalld drops blocked sources itself.
      block_set_problem_ = loaded.error();
      block_set = false;
      loaded = load(false);
    }
    if (!loaded) {
      remove();
      return std::unexpected(loaded.error());
    }
    for (const Family& family : kFamilies) {
      // An earlier run's inspect = "new" chains, when this one has none: they only save marks.
      if (!spec.offload_mark) remove_save_chains(family);
      // An earlier run's set of blocks, when this one has none (no rule names it now).
      if (!block_set) remove_block_set(family);
    }
    return {};
  }

  std::string block_set_problem() const override { return block_set_problem_; }
  bool block_overlaps_allowed() const override { return true; }

  std::expected<void, std::string> change_blocks(const BlockSetChanges& changes) override {
    if (changes.empty()) return {};
    const std::vector<std::string> argv = {"ipset", "restore", "-exist"};
    if (const CommandResult r = run_command(argv, ipset_changes_script(changes)); !r.ok()) {
      return std::unexpected(failure(argv, r));
    }
    return {};
  }

  std::expected<void, std::string> clear_blocks() override {
    for (const Family& family : kFamilies) {
      const std::vector<std::string> argv = {"ipset", "flush", family.block_set};
      if (const CommandResult r = run_command(argv); !r.ok()) {
        return std::unexpected(failure(argv, r));
      }
    }
    return {};
  }

  std::expected<std::vector<KernelBlockCount>, std::string> block_counts() override {
    std::vector<KernelBlockCount> all;
    for (const Family& family : kFamilies) {
      const std::vector<std::string> argv = {"ipset", "save", family.block_set};
      const CommandResult r = run_command(argv);
      if (!r.ok()) return std::unexpected(failure(argv, r));
      std::vector<KernelBlockCount> some = parse_ipset_save(r.out);
      all.insert(all.end(), some.begin(), some.end());
    }
    return all;
  }

  std::expected<void, std::string> remove() override {
    for (const Family& family : kFamilies) {
      remove_forwards(family);
      remove_family(family);
    }
    return {};
  }

  // Each family's forwards are replaced in one transaction (old jumps deleted, chains flushed
  // and refilled); a refused one leaves that family's forwards as they were.
  std::expected<void, std::string> set_forwards(const DiversionSpec& spec) override {
    for (const Family& family : kFamilies) {
      const std::string script = forward_script(family, spec, forward_leftovers(family));
      if (script.empty()) {
        remove_forwards(family);
        continue;
      }
      const bool has_forwards = std::ranges::any_of(
          spec.forwards, [&](const Forward& f) { return in_family(f, family.ipv6); });
      if (!has_forwards) remove_forwards(family, true);  // routed traffic only: no NAT chains
      const std::vector<std::string> argv = {family.restore, "-w", "--noflush"};
      if (const CommandResult r = run_command(argv, script); !r.ok()) {
        return std::unexpected(failure(argv, r));
      }
    }
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

 private:
  std::string block_set_problem_ = "not installed";
};

}  // namespace

PublishedScan scan_published_rules() {
  PublishedScan scan;
  for (const auto& family : kFamilies) {
    const std::size_t i = family.ipv6 ? 1 : 0;
    if (const CommandResult nat = run_command({family.iptables, "-w", "-t", "nat", "-S"});
        nat.ok()) {
      std::vector<PublishedPort> found = parse_published_ports(nat.out);
      scan.ports.insert(scan.ports.end(), found.begin(), found.end());
    }
    // DOCKER-USER counts only when FORWARD jumps to it (Docker's doing); its first rule should
    // be the jump to portwall's forward chain.
    const CommandResult filter = run_command({family.iptables, "-w", "-S"});
    std::istringstream lines(filter.out);
    bool jumped = false, seen_first = false;
    for (std::string line; std::getline(lines, line);) {
      jumped = jumped || line == "-A FORWARD -j DOCKER-USER";
      if (!seen_first && line.starts_with("-A DOCKER-USER ")) {
        seen_first = true;
        scan.jump_in_place[i] = line == std::string("-A DOCKER-USER -j ") + kForwardChain;
      }
    }
    scan.docker_user[i] = filter.ok() && jumped;
  }
  return scan;
}

std::string iptables_restore_script(bool ipv6, const DiversionSpec& spec, int leftover_jumps,
                                    bool block_set) {
  LeftoverJumps left;
  for (const auto& h : kHooks) left.counts.emplace_back("filter", h.builtin, leftover_jumps);
  for (const auto& [table, builtin] : kSaveHooks) {
    left.counts.emplace_back(table, builtin, leftover_jumps);
  }
  return restore_script(kFamilies[ipv6 ? 1 : 0], spec, left, block_set);
}

std::string iptables_forward_script(bool ipv6, const DiversionSpec& spec, int leftover_jumps) {
  LeftoverJumps left;
  for (const auto& [table, builtin] : kForwardHooks) {
    // DOCKER-USER holds jumps only where it exists.
    const bool exists =
        std::string_view(builtin) != "DOCKER-USER" || spec.docker_user[ipv6 ? 1 : 0];
    left.counts.emplace_back(table, builtin, exists ? leftover_jumps : 0);
  }
  return forward_script(kFamilies[ipv6 ? 1 : 0], spec, left);
}

std::unique_ptr<Diversion> make_iptables_diversion() {
  return std::make_unique<IptablesDiversion>();
}

}  // namespace portwall
