// fuzz_config.cc — the TOML loaders: the daemon configuration (parse_config) and the rules file
// (parse_rules) on the same text, then, for rules that load, what is built from them:
//   - write_rules gives back the same rules when loaded again (the CLI rewrites the file so);
//   - the compiled Classifier picks the same rule as a plain first-match scan of the rules.
//
// Input: the TOML text; after a NUL byte (which TOML text cannot hold), the contents of the set
// file and SPA key file the text may name: "set.txt" beside the rules file, and
// "/dev/shm/portwall-fuzz-config/spa.key" (see Scratch).
// Any other file a [[set]] or [[knock]] would read is refused before parsing, so that no input
// reads /dev/zero or the rest of the file system.
#include <toml++/toml.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "fuzz_checks.h"
#include "rules/classifier.h"
#include "config/config.h"
#include "rules/rule_loader.h"

namespace {

using namespace portwall;
using fuzz::check;

// The directory of the files a document may name, at a fixed place so that seeds can name it:
// /dev/shm/portwall-fuzz-config (memory-backed: the target may write two files per input).
// Removed at exit. One fuzz_config process at a time.
struct Scratch {
  std::string dir = std::filesystem::is_directory("/dev/shm") ? "/dev/shm/portwall-fuzz-config"
                                                              : "/tmp/portwall-fuzz-config";
  Scratch() {
    std::error_code error;
    std::filesystem::create_directories(dir, error);
    check(!error, "a scratch directory", dir + ": " + error.message());
  }
  ~Scratch() {
    std::error_code ignored;
    std::filesystem::remove_all(dir, ignored);
  }
};

const std::string& scratch_dir() {
  static const Scratch scratch;
  return scratch.dir;
}

// True when every file the document names is one of ours. Only a document that can name a
// file (it says "file", or escapes a key) is parsed for this.
bool names_only_our_files(std::string_view text) {
  if (text.find("file") == std::string_view::npos && text.find('\\') == std::string_view::npos) {
    return true;
  }
  toml::table doc;
  try {
    doc = toml::parse(text);
  } catch (const toml::parse_error&) {
    return true;  // the loaders will refuse it before reading anything
  }
  auto allowed = [](const toml::node* n, std::initializer_list<std::string> names) {
    if (!n || !n->is_string()) return true;
    const std::string& v = n->as_string()->get();
    for (const std::string& name : names) {
      if (v == name) return true;
    }
    return false;
  };
  for (const char* array : {"set", "knock"}) {
    const toml::array* list = doc[array].as_array();
    if (!list) continue;
    for (const toml::node& item : *list) {
      const toml::table* t = item.as_table();
      if (!t) continue;
      if (!allowed(t->get("file"), {"set.txt", scratch_dir() + "/set.txt"})) return false;
      if (!allowed(t->get("spa_key_file"), {scratch_dir() + "/spa.key"})) return false;
    }
  }
  return true;
}

// Rewritten only when it changes: a truncating rewrite per input makes ext4 flush on close.
void write_scratch(const std::string& name, std::string_view contents) {
  static std::map<std::string, std::string> written;
  auto [it, fresh] = written.try_emplace(name);
  if (!fresh && it->second == contents) return;
  it->second = contents;
  std::ofstream out(scratch_dir() + "/" + name, std::ios::binary | std::ios::trunc);
  out.write(contents.data(), static_cast<std::streamsize>(contents.size()));
  out.close();
  // A key others can read is refused (as sshd refuses one): the fuzzer's is private.
  std::filesystem::permissions(scratch_dir() + "/" + name, std::filesystem::perms::owner_read |
                                                               std::filesystem::perms::owner_write);
}

// The first rule that matches, the plain way: the meaning Classifier::match must keep.
std::optional<std::size_t> first_match(const RuleSet& set, const MatchInput& in) {
  for (std::size_t i = 0; i < set.rules.size(); ++i) {
    const Rule& r = set.rules[i];
    bool proto = true;
    switch (r.proto) {
      case Proto::any:
        proto = (r.port.any() && r.from_port.any()) || in.protocol == 6 || in.protocol == 17;
        break;
      case Proto::tcp:
        proto = in.protocol == 6;
        break;
      case Proto::udp:
        proto = in.protocol == 17;
        break;
      case Proto::icmp:
        proto = in.protocol == (in.src.family == Family::ipv4 ? 1 : 58);
        break;
    }
    if (r.direction == in.direction && proto && r.from.matches(in.src) && r.to.matches(in.dst) &&
        r.port.matches(in.dst_port) && r.from_port.matches(in.src_port) &&
        (r.interface.empty() || r.interface == in.interface)) {
      return i;
    }
  }
  return std::nullopt;
}

IpAddress pick(const AddressMatch& m, Family family, std::size_t variant) {
  IpAddress a;
  a.family = family;
  a.bytes[0] = family == Family::ipv4 ? 198 : 0x20;
  a.bytes[1] = family == Family::ipv4 ? 18 : 0x01;
  a.bytes[a.size() - 1] = 7;
  for (const Cidr& c : m.prefixes) {
    if (c.network.family != family) continue;
    a = c.network;
    if (variant & 1) a.bytes[a.size() - 1] ^= 1;  // another host of the network, or a neighbour
    if (variant & 2) a.bytes[0] ^= 0x80;
    break;
  }
  return a;
}

std::uint16_t pick_port(const PortMatch& m, std::size_t variant) {
  if (m.ranges.empty()) return static_cast<std::uint16_t>(1000 + variant);
  const PortRange& r = m.ranges[variant % m.ranges.size()];
  if (variant & 4) return static_cast<std::uint16_t>(r.last == 65535 ? 1 : r.last + 1);
  return (variant & 1) ? r.last : r.first;
}

// Probes built from the rules' own values (and their neighbours), so that they hit and miss.
void check_classifier(const RuleSet& set) {
  const Classifier classifier(set);
  constexpr std::uint8_t kProtocols[] = {6, 17, 1, 58, 47};
  const std::size_t rules = std::min<std::size_t>(set.rules.size(), 8);
  for (std::size_t i = 0; i < rules; ++i) {
    const Rule& r = set.rules[i];
    for (std::size_t variant = 0; variant < 8; ++variant) {
      MatchInput in;
      const Family family = (variant & 2) ? Family::ipv6 : Family::ipv4;
      in.direction = r.direction;
      if (variant == 7)
        in.direction = r.direction == Direction::in ? Direction::out : Direction::in;
      in.protocol = r.proto == Proto::tcp    ? 6
                    : r.proto == Proto::udp  ? 17
                    : r.proto == Proto::icmp ? (family == Family::ipv4 ? 1 : 58)
                                             : kProtocols[variant % 5];
      in.src = pick(r.from, family, variant);
      in.dst = pick(r.to, family, variant >> 1);
      if (in.protocol == 6 || in.protocol == 17) {
        in.src_port = pick_port(r.from_port, variant);
        in.dst_port = pick_port(r.port, variant);
      }
      in.interface = (variant & 4) ? std::string_view("eth9") : std::string_view(r.interface);
      const auto got = classifier.match(in);
      const auto want = first_match(set, in);
      check(got == want, "Classifier::match agrees with a first-match scan",
            "rule " + std::to_string(i + 1) + " variant " + std::to_string(variant) + ": got " +
                (got ? std::to_string(*got + 1) : "none") + ", want " +
                (want ? std::to_string(*want + 1) : "none"));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t nul = input.find('\0');
  const std::string_view text = input.substr(0, nul);
  if (!names_only_our_files(text)) return -1;  // not worth keeping in the corpus
  const std::string_view files = nul == std::string_view::npos
                                     ? "192.0.2.0/24\n# a comment\n2001:db8::/32\n"
                                     : input.substr(nul + 1);
  write_scratch("set.txt", files);
  write_scratch("spa.key", files);

  if (auto config = parse_config(text, scratch_dir() + "/portwall.toml"); !config) {
    check(!config.error().empty(), "a refused configuration says why");
    (void)to_string(config.error());
  }
  const std::string rules_file = scratch_dir() + "/rules.toml";
  auto rules = parse_rules(text, rules_file);
  if (!rules) {
    check(!rules.error().empty(), "refused rules say why");
    (void)to_string(rules.error());
    return 0;
  }
  fuzz::check_round_trip(*rules, rules_file);
  check_classifier(*rules);
  return 0;
}
