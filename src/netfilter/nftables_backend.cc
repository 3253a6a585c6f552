// nftables_backend.cc — the diversion as one nftables table, `table inet portwall`, loaded and
// deleted atomically through libnftables. Needs the kernel's nft queue statement
// (CONFIG_NFT_QUEUE); nftables_supported() asks the kernel with a dry run.
#include <fmt/format.h>
#include <nftables/libnftables.h>

#include <memory>
#include <sstream>
#include <string_view>
#include <tuple>

#include "netfilter/diversion.h"
#include "netfilter/kernel_block_set.h"
#include "packet/ip_address.h"

namespace portwall {
namespace {

struct NftDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

// Runs nft commands; the error text on failure.
std::expected<std::string, std::string> run_nft(const std::string& commands, bool dry_run,
                                                bool json = false) {
  std::unique_ptr<nft_ctx, NftDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return std::unexpected(std::string("nft_ctx_new failed"));
  if (json) nft_ctx_output_set_flags(ctx.get(), NFT_CTX_OUTPUT_JSON);
  nft_ctx_buffer_output(ctx.get());
  nft_ctx_buffer_error(ctx.get());
  nft_ctx_set_dry_run(ctx.get(), dry_run);
  if (nft_run_cmd_from_buffer(ctx.get(), commands.c_str()) != 0) {
    std::string err = nft_ctx_get_error_buffer(ctx.get());
    while (!err.empty() && err.back() == '\n') err.pop_back();
    return std::unexpected(err.empty() ? std::string("nft failed") : err);
  }
  return std::string(nft_ctx_get_output_buffer(ctx.get()));
}

// `block_sets`: the table holds the sets of blocks (DiversionSpec::block_set_size), whose
// members' packets are dropped before the queue (ICMP redirects and IPv6 neighbour discovery
// go on to portwalld, which decides them before blocks). The lookups come after the cheaper
// matches, so that an entry's counter counts each packet once.
std::string table_text(const DiversionSpec& spec, bool block_sets) {
  const std::string queues = spec.queues.size() == 1
                                 ? fmt::format("{}", spec.queues.front())
                                 : fmt::format("{}-{}", spec.queues.front(), spec.queues.back());
  std::ostringstream s;
  // "add; delete; define" replaces a leftover table in the same transaction, or creates it.
  s << "add table inet portwall\ndelete table inet portwall\ntable inet portwall {\n";
  if (block_sets) {
    for (const auto& [name, type] :
         {std::pair{"block4", "ipv4_addr"}, std::pair{"block6", "ipv6_addr"}}) {
      s << fmt::format(
          "  set {} {{\n    type {}\n    flags interval, timeout\n    counter\n"
          "    size {}\n  }}\n",
          name, type, 2 * spec.block_set_size);  // an interval takes two elements
    }
  }
  for (const auto& [chain, hook, lo] :
       {std::tuple{"input", "input", "iif"}, std::tuple{"output", "output", "oif"}}) {
    s << fmt::format("  chain {} {{\n    type filter hook {} priority 0; policy accept;\n", chain,
                     hook);
    s << fmt::format("    {} \"lo\" return\n", lo);
    if (block_sets) {
      const char* remote = std::string_view(chain) == "input" ? "saddr" : "daddr";
      s << fmt::format("    meta l4proto != icmp ip {} @block4 drop\n", remote);
      s << fmt::format("    icmp type != redirect ip {} @block4 drop\n", remote);
      s << fmt::format("    meta l4proto != ipv6-icmp ip6 {} @block6 drop\n", remote);
      s << fmt::format("    icmpv6 type != {{ 130-137, 143 }} ip6 {} @block6 drop\n", remote);
    }
    s << fmt::format("    meta mark & {0:#x} == {0:#x} meta l4proto tcp reject with tcp reset\n",
                     spec.reject_mark);
    s << fmt::format("    meta mark & {0:#x} == {0:#x} reject\n", spec.reject_mark);
    if (std::string_view(chain) == "output") {
      // Our own TCP REJECT answers are RELATED replies of the rejected packet: let them out.
      // ICMP errors are judged (and counted toward scan detection) by portwalld.
      s << "    meta l4proto tcp ct state related ct direction reply return\n";
    }
    if (spec.offload_mark) {
      // inspect = "new": connections portwalld has offloaded pass without asking.
      s << fmt::format("    ct mark & {0:#x} == {0:#x} accept\n", spec.offload_mark);
    }
    // ct state loads conntrack (and its IPv6 defragmentation) in this namespace.
    s << fmt::format(
        "    ct state new,established,related,invalid,untracked counter queue {}to {}\n",
        spec.bypass ? "flags bypass " : "", queues);
    s << "  }\n";
  }
  if (spec.offload_mark) {
    // inspect = "new": a packet portwalld accepted with the offload bit in its mark carries it
    // on to the next hook entries; there it is saved into its connection's ct mark (after the
    // input chain above, and in postrouting for what leaves), as the iptables backend's
    // CONNMARK --save-mark chains do.
    for (const auto& [chain, hook, priority] :
         {std::tuple{"save_in", "input", 50}, std::tuple{"save_out", "postrouting", 50}}) {
      s << fmt::format(
          "  chain {0} {{\n    type filter hook {1} priority {2}; policy accept;\n"
          "    meta mark & {3:#x} == {3:#x} ct mark set ct mark | {3:#x}\n  }}\n",
          chain, hook, priority, spec.offload_mark);
    }
  }
  s << "}\n";
  return s.str();
}

std::string queue_statement(const DiversionSpec& spec) {
  const std::string queues = spec.queues.size() == 1
                                 ? fmt::format("{}", spec.queues.front())
                                 : fmt::format("{}-{}", spec.queues.front(), spec.queues.back());
  return fmt::format("queue {}to {}", spec.bypass ? "flags bypass " : "", queues);
}

// Forwarding in a table of its own, `table inet portwall_forward`, so that a reload replaces
// it without touching the diversion's counters; absent while there is no forward and routed
// traffic is not judged (DiversionSpec::route_queue).
std::string forward_text(const DiversionSpec& spec) {
  std::string text = "add table inet portwall_forward\ndelete table inet portwall_forward\n";
  if (spec.forwards.empty() && !spec.route_queue && !spec.published_queue) return text;
  std::ostringstream mark, pre, post, forward;
  for (const Forward& f : spec.forwards) {
    const std::string in = f.interface.empty() ? "" : fmt::format("iifname \"{}\" ", f.interface);
    const std::vector<const char*> protos = f.proto == Proto::tcp ? std::vector<const char*>{"tcp"}
                                            : f.proto == Proto::udp
                                                ? std::vector<const char*>{"udp"}
                                                : std::vector<const char*>{"tcp", "udp"};
    for (const char* proto : protos) {
      const std::string match =
          fmt::format("{}fib daddr type local meta l4proto {} th dport {}", in, proto, f.port);
      if (f.redirect()) {
        mark << fmt::format("    {} meta mark set meta mark | {:#x}\n", match, spec.redirect_mark);
        pre << fmt::format("    {} redirect to :{}\n", match, f.to_port);
        continue;
      }
      const bool v6 = f.to_address->size() == 16;
      const char* ip = v6 ? "ip6" : "ip";
      const std::string to = to_string(*f.to_address);
      pre << fmt::format(
          "    meta nfproto {} {} dnat {} to {}\n", v6 ? "ipv6" : "ipv4", match, ip,
          v6 ? fmt::format("[{}]:{}", to, f.to_port) : fmt::format("{}:{}", to, f.to_port));
      const std::string dnat =
          fmt::format("ct status dnat meta l4proto {} ct original proto-dst {}", proto, f.port);
      post << fmt::format("    {} {} daddr {} th dport {} masquerade\n", dnat, ip, to, f.to_port);
      forward << fmt::format("    {} ct reply {} saddr {} ct reply proto-src {} counter {}\n", dnat,
                             ip, to, f.to_port, queue_statement(spec));
    }
  }
  std::ostringstream s;
  s << text << "table inet portwall_forward {\n";
  if (!spec.forwards.empty()) {  // NAT chains turn the kernel's connection tracking on
    s << "  chain mark_redirects {\n    type filter hook prerouting priority mangle; policy "
         "accept;\n"
      << mark.str() << "  }\n";
    s << "  chain nat_in {\n    type nat hook prerouting priority dstnat; policy accept;\n"
      << pre.str() << "  }\n";
    s << "  chain nat_out {\n    type nat hook postrouting priority srcnat; policy accept;\n"
      << post.str() << "  }\n";
  }
  s << "  chain forwarded {\n    type filter hook forward priority filter; policy accept;\n";
  // Judged and passed on (routed, published; iptables_backend.cc): the rest decides too.
  s << fmt::format("    meta mark & {0:#x} == {0:#x} return\n", spec.passed_mark);
  s << fmt::format("    meta mark & {0:#x} == {0:#x} meta l4proto tcp reject with tcp reset\n",
                   spec.reject_mark);
  s << fmt::format("    meta mark & {0:#x} == {0:#x} reject\n", spec.reject_mark);
  // The routed and published bits are portwall's to set.
  s << fmt::format("    meta mark set meta mark & {:#x}\n",
                   ~(spec.routed_mark | spec.published_mark));
  s << forward.str();
  if (spec.routed_deny[0] || spec.routed_deny[1]) {
    // ICMP errors about the forwarded connections (fragmentation needed, unreachable) pass.
    s << "    ct state related ct status dnat accept\n";
  }
  if (spec.published_queue) {
    // Connections another tool DNATs (Docker's published ports), both ways. An accept in
    // Docker's own tables does not keep this chain from seeing them (nftables' base chains).
    s << fmt::format("    ct status dnat meta mark set meta mark | {:#x} counter {}\n",
                     spec.published_mark, queue_statement(spec));
  }
  if (spec.route_queue) {
    // Every other routed packet, both ways, to portwalld marked as routed (iptables_backend.cc).
    s << fmt::format("    meta mark set meta mark | {:#x} counter {}\n", spec.routed_mark,
                     queue_statement(spec));
  } else {
    if (spec.routed_deny[0]) s << "    meta nfproto ipv4 counter drop\n";
    if (spec.routed_deny[1]) s << "    meta nfproto ipv6 counter drop\n";
  }
  s << "  }\n}\n";
  return s.str();
}

class NftablesDiversion final : public Diversion {
 public:
  const char* name() const override { return "nftables"; }

  std::expected<void, std::string> install(const DiversionSpec& spec) override {
    block_set_problem_ = spec.block_set_size ? "" : "not asked for";
    if (spec.block_set_size) {
      if (auto r = run_nft(table_text(spec, true), false))
        return {};
      else
        block_set_problem_ =
            "the kernel refused the sets of blocks: " + r.error().substr(0, r.error().find('\n'));
    }
    auto r = run_nft(table_text(spec, false), false);
    if (!r) return std::unexpected(r.error());
    return {};
  }

  std::string block_set_problem() const override { return block_set_problem_; }
  bool block_overlaps_allowed() const override { return false; }

  std::expected<void, std::string> change_blocks(const BlockSetChanges& changes) override {
    if (changes.empty()) return {};
    // One transaction: an entry given a new end is deleted and added again in it.
    const std::string deletes = nft_block_deletes(changes.remove);
    if (run_nft(deletes + nft_block_adds(changes), false)) return {};
    // Refused as a whole: most likely an entry to delete was gone (the kernel expired it).
    // The deletions one by one, then the additions.
    for (const Cidr& c : changes.remove) {
      auto r = run_nft(nft_block_deletes({c}), false);
      if (!r && r.error().find("does not exist") == std::string::npos &&
          r.error().find("No such file") == std::string::npos) {
        return std::unexpected(r.error().substr(0, r.error().find('\n')));
      }
    }
    if (changes.add.empty()) return {};
    auto r = run_nft(nft_block_adds(changes), false);
    if (!r) return std::unexpected(r.error().substr(0, r.error().find('\n')));
    return {};
  }

  std::expected<void, std::string> clear_blocks() override {
    auto r = run_nft("flush set inet portwall block4\nflush set inet portwall block6\n", false);
    if (!r) return std::unexpected(r.error().substr(0, r.error().find('\n')));
    return {};
  }

  std::expected<std::vector<KernelBlockCount>, std::string> block_counts() override {
    std::vector<KernelBlockCount> all;
    for (const char* set : {"block4", "block6"}) {
      auto listing = run_nft(fmt::format("list set inet portwall {}\n", set), false, true);
      if (!listing) return std::unexpected(listing.error());
      auto some = parse_nft_set_json(*listing);
      if (!some) return std::unexpected(some.error());
      all.insert(all.end(), some->begin(), some->end());
    }
    return all;
  }

  std::expected<void, std::string> remove() override {
    auto r = run_nft(
        "add table inet portwall\ndelete table inet portwall\n"
        "add table inet portwall_forward\ndelete table inet portwall_forward\n",
        false);
    if (!r) return std::unexpected(r.error());
    return {};
  }

  std::expected<void, std::string> set_forwards(const DiversionSpec& spec) override {
    auto r = run_nft(forward_text(spec), false);
    if (!r) return std::unexpected(r.error());
    return {};
  }

  std::expected<std::uint64_t, std::string> queued_packets() override {
    auto listing = run_nft("list table inet portwall\n", false);
    if (!listing) return std::unexpected(listing.error());
    if (auto forwards = run_nft("list table inet portwall_forward\n", false)) {
      *listing += *forwards;
    }
    // "... counter packets 12 bytes 840 queue flags bypass to 100"
    std::uint64_t total = 0;
    std::istringstream lines(*listing);
    std::string line;
    while (std::getline(lines, line)) {
      const auto at = line.find("counter packets ");
      if (at == std::string::npos || line.find(" queue ") == std::string::npos) continue;
      total += std::stoull(line.substr(at + 16));
    }
    return total;
  }

 private:
  std::string block_set_problem_ = "not installed";
};

}  // namespace

std::string nftables_table_text(const DiversionSpec& spec) {
  return table_text(spec, spec.block_set_size > 0);
}
std::string nftables_forward_text(const DiversionSpec& spec) { return forward_text(spec); }

std::unique_ptr<Diversion> make_nftables_diversion() {
  return std::make_unique<NftablesDiversion>();
}

std::expected<void, std::string> nftables_supported(const DiversionSpec& spec) {
  auto r = run_nft(table_text(spec, false), true);
  if (!r) return std::unexpected(r.error());
  return {};
}

std::unique_ptr<Diversion> choose_diversion(Backend backend, const DiversionSpec& spec,
                                            std::string* fallback_reason) {
  switch (backend) {
    case Backend::iptables:
      return make_iptables_diversion();
    case Backend::nftables:
      return make_nftables_diversion();
    case Backend::automatic:
      break;
  }
  if (auto ok = nftables_supported(spec); !ok) {
    // nft's error repeats the rule with carets under it: its first line says enough.
    const std::string first_line = ok.error().substr(0, ok.error().find('\n'));
    if (fallback_reason) {
      *fallback_reason = "the kernel refused nft's queue statement (" + first_line +
                         "; CONFIG_NFT_QUEUE missing?)";
    }
    return make_iptables_diversion();
  }
  return make_nftables_diversion();
}

}  // namespace portwall
