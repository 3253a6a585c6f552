// nftables_backend.cc — the diversion as one nftables table, `table inet portwall`, loaded and
// deleted atomically through libnftables. Needs the kernel's nft queue statement
// (CONFIG_NFT_QUEUE); nftables_supported() asks the kernel with a dry run.
#include <fmt/format.h>
#include <nftables/libnftables.h>

#include <memory>
#include <sstream>
#include <string_view>

#include "netfilter/diversion.h"

namespace portwall {
namespace {

struct NftDeleter {
  void operator()(nft_ctx* ctx) const { nft_ctx_free(ctx); }
};

// Runs nft commands; the error text on failure.
std::expected<std::string, std::string> run_nft(const std::string& commands, bool dry_run) {
  std::unique_ptr<nft_ctx, NftDeleter> ctx(nft_ctx_new(NFT_CTX_DEFAULT));
  if (!ctx) return std::unexpected(std::string("nft_ctx_new failed"));
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

std::string table_text(const DiversionSpec& spec) {
  const std::string queues = spec.queues.size() == 1
                                 ? fmt::format("{}", spec.queues.front())
                                 : fmt::format("{}-{}", spec.queues.front(), spec.queues.back());
  std::ostringstream s;
  // "add; delete; define" replaces a leftover table in the same transaction, or creates it.
  s << "add table inet portwall\ndelete table inet portwall\ntable inet portwall {\n";
  for (const auto& [chain, hook, lo] :
       {std::tuple{"input", "input", "iif"}, std::tuple{"output", "output", "oif"}}) {
    s << fmt::format("  chain {} {{\n    type filter hook {} priority 0; policy accept;\n", chain,
                     hook);
    s << fmt::format("    {} \"lo\" return\n", lo);
    s << fmt::format("    meta mark & {0:#x} == {0:#x} meta l4proto tcp reject with tcp reset\n",
                     spec.reject_mark);
    s << fmt::format("    meta mark & {0:#x} == {0:#x} reject\n", spec.reject_mark);
    if (std::string_view(chain) == "output") {
      // Our own TCP REJECT answers are RELATED replies of the rejected packet: let them out.
      // ICMP errors are judged (and counted toward scan detection) by portwalld.
      s << "    meta l4proto tcp ct state related ct direction reply return\n";
    }
    // ct state loads conntrack (and its IPv6 defragmentation) in this namespace.
    s << fmt::format(
        "    ct state new,established,related,invalid,untracked counter queue {}to {}\n",
        spec.bypass ? "flags bypass " : "", queues);
    s << "  }\n";
  }
  s << "}\n";
  return s.str();
}

class NftablesDiversion final : public Diversion {
 public:
  const char* name() const override { return "nftables"; }

  std::expected<void, std::string> install(const DiversionSpec& spec) override {
    auto r = run_nft(table_text(spec), false);
    if (!r) return std::unexpected(r.error());
    return {};
  }

  std::expected<void, std::string> remove() override {
    auto r = run_nft("add table inet portwall\ndelete table inet portwall\n", false);
    if (!r) return std::unexpected(r.error());
    return {};
  }

  std::expected<std::uint64_t, std::string> queued_packets() override {
    auto listing = run_nft("list table inet portwall\n", false);
    if (!listing) return std::unexpected(listing.error());
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
};

}  // namespace

std::string nftables_table_text(const DiversionSpec& spec) { return table_text(spec); }

std::unique_ptr<Diversion> make_nftables_diversion() {
  return std::make_unique<NftablesDiversion>();
}

std::expected<void, std::string> nftables_supported(const DiversionSpec& spec) {
  auto r = run_nft(table_text(spec), true);
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
