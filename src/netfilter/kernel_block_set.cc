#include "netfilter/kernel_block_set.h"

#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <sstream>

#include "rules/rule_values.h"

namespace portwall {
namespace {

bool is_v6(const Cidr& c) { return c.network.family == Family::ipv6; }

// "2001:db8::/64" or "203.0.113.9" (one address) into a range.
std::optional<Cidr> entry_range(std::string_view text) {
  if (text.find('/') == std::string_view::npos) {
    const auto a = parse_ip_address(text);
    if (!a) return std::nullopt;
    return Cidr{*a, static_cast<std::uint8_t>(a->size() * 8)};
  }
  auto c = parse_cidr(text);
  if (!c) return std::nullopt;
  return *c;
}

std::uint64_t number_after(std::string_view line, std::string_view word) {
  const auto at = line.find(word);
  if (at == std::string_view::npos) return 0;
  std::uint64_t n = 0;
  const char* begin = line.data() + at + word.size();
  std::from_chars(begin, line.data() + line.size(), n);
  return n;
}

}  // namespace

std::vector<std::string> ipset_create_args(const char* name, bool ipv6, std::size_t max_entries) {
  // hashsize grows by itself; maxelem bounds it. timeout 0: entries keep their own.
  return {name,
          "hash:net",
          "family",
          ipv6 ? "inet6" : "inet",
          "timeout",
          "0",
          "counters",
          "maxelem",
          std::to_string(std::max<std::size_t>(max_entries, 1))};
}

std::string ipset_changes_script(const BlockSetChanges& changes) {
  std::string s;
  for (const Cidr& c : changes.remove) {
    s += fmt::format("del {} {}\n", is_v6(c) ? kIpsetBlock6 : kIpsetBlock4, range_text(c));
  }
  for (const KernelBlock& k : changes.add) {
    s += fmt::format("add {} {} timeout {}\n", is_v6(k.range) ? kIpsetBlock6 : kIpsetBlock4,
                     range_text(k.range), k.timeout_s);
  }
  return s;
}

std::vector<KernelBlockCount> parse_ipset_save(std::string_view text) {
  // "add portwall-block4 203.0.113.9 timeout 3591 packets 12 bytes 720"
  std::vector<KernelBlockCount> out;
  while (!text.empty()) {
    const auto end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    if (!line.starts_with("add ")) continue;
    const auto name_end = line.find(' ', 4);
    if (name_end == std::string_view::npos) continue;
    const auto entry_end = line.find(' ', name_end + 1);
    const auto range = entry_range(line.substr(name_end + 1, entry_end == std::string_view::npos
                                                                 ? std::string_view::npos
                                                                 : entry_end - name_end - 1));
    if (!range) continue;
    out.push_back({*range, number_after(line, " packets ")});
  }
  return out;
}

std::string nft_block_adds(const BlockSetChanges& changes) {
  std::string sets[2];
  for (const KernelBlock& k : changes.add) {
    std::string& s = sets[is_v6(k.range) ? 1 : 0];
    s += (s.empty() ? "" : ", ") + range_text(k.range);
    if (k.timeout_s) s += fmt::format(" timeout {}s", k.timeout_s);
  }
  std::string out;
  for (int i = 0; i < 2; ++i) {
    if (!sets[i].empty()) {
      out += fmt::format("add element inet portwall block{} {{ {} }}\n", i ? 6 : 4, sets[i]);
    }
  }
  return out;
}

std::string nft_block_deletes(const std::vector<Cidr>& ranges) {
  std::string sets[2];
  for (const Cidr& c : ranges) {
    std::string& s = sets[is_v6(c) ? 1 : 0];
    s += (s.empty() ? "" : ", ") + range_text(c);
  }
  std::string out;
  for (int i = 0; i < 2; ++i) {
    if (!sets[i].empty()) {
      out += fmt::format("delete element inet portwall block{} {{ {} }}\n", i ? 6 : 4, sets[i]);
    }
  }
  return out;
}

std::expected<std::vector<KernelBlockCount>, std::string> parse_nft_set_json(
    std::string_view json) {
  // {"nftables": [{"metainfo": ...}, {"set": {..., "elem": [{"elem": {"val": "10.0.0.1",
  //  "counter": {"packets": 0, ...}}}, {"elem": {"val": {"prefix": {"addr": ..., "len": 24}},
  //  ...}}]}}]}
  const nlohmann::json doc = nlohmann::json::parse(json, nullptr, false);
  if (doc.is_discarded() || !doc.contains("nftables")) {
    return std::unexpected(std::string("nft's JSON listing did not parse"));
  }
  std::vector<KernelBlockCount> out;
  for (const auto& item : doc["nftables"]) {
    if (!item.contains("set") || !item["set"].contains("elem")) continue;
    for (const auto& e : item["set"]["elem"]) {
      const auto& elem = e.contains("elem") ? e["elem"] : e;
      const auto& val = elem.is_object() && elem.contains("val") ? elem["val"] : elem;
      std::optional<Cidr> range;
      if (val.is_string()) {
        range = entry_range(val.get<std::string>());
      } else if (val.is_object() && val.contains("prefix")) {
        range = entry_range(val["prefix"].value("addr", "") + "/" +
                            std::to_string(val["prefix"].value("len", 0)));
      }
      if (!range) continue;
      std::uint64_t packets = 0;
      if (elem.is_object() && elem.contains("counter") && elem["counter"].is_object()) {
        packets = elem["counter"].value("packets", std::uint64_t{0});
      }
      out.push_back({*range, packets});
    }
  }
  return out;
}

}  // namespace portwall
