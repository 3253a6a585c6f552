// fuzz_packet_policy.cc — the packet path as portwalld runs it: bytes -> parse_packet -> Engine
// decision -> decision log line, for a sequence of packets so that connection tracking, scan
// detection, rate limits and knocks see conversations, under a fake clock the input moves.
//
// Input: records of [control byte][length, 2 bytes big-endian][packet bytes]; a length past the
// end takes what is left. Control bits: 0 direction out; 1-3 how far the clock moves before the
// packet; 4 a capture shorter than the datagram (wire length + 1500); 5 the other interface;
// 6 the packet answers the previous one (its addresses and ports, swapped); 7 sweep expired
// flows and swap in the other rule generation (a reload).
// ASan/UBSan find the faults; abort() holds the parser and the engine to their invariants.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <span>
#include <string_view>
#include <utility>

#include "audit/log_event.h"
#include "config/config.h"
#include "policy/engine.h"
#include "rules/rule_loader.h"

namespace {

using namespace portwall;

constexpr std::string_view kConfig = R"(
[conntrack]
max_entries = 16
pickup_grace = "30s"

[scan_detection]
distinct_ports = 3
window = "5s"
block = "60s"
never_block = ["192.0.2.0/24"]

[limits]
new_connections = "5/10s"
new_connections_burst = 5
max_connections_per_source = 3
max_sources = 16
max_blocks = 16

[[knock]]
name = "door"
sequence = ["7000/tcp", "8000/udp", "9000/tcp"]
window = "10s"
open = ["2200/tcp", "2201/udp"]
duration = "30s"

[[knock]]
name = "once"
one_time_sequences = [["7101/tcp", "7102/tcp"], ["7103/udp", "7104/tcp"]]
open = "2300/tcp"

[[knock]]
name = "spa"
spa_port = 62201
spa_key = "0123456789abcdef0123456789abcdef"
open = "2400/tcp"
)";

constexpr std::string_view kRules = R"(
[defaults]
incoming = "deny"
outgoing = "allow"

[sets]
admins = ["203.0.113.0/24", "2001:db8:1::/48"]

[[rule]]
action = "allow"
proto = "tcp"
port = "22,80,443"

[[rule]]
action = "limit"
proto = "tcp"
port = 2222
rate = "3/10s"
burst = 3

[[rule]]
action = "limit"
port = "2223"

[[rule]]
action = "allow"
proto = "udp"
from = "@admins"
port = "53,123,5000:5100"

[[rule]]
action = "reject"
proto = "tcp"
port = 113

[[rule]]
action = "deny"
to = "10.0.0.0/8"

[[rule]]
action = "allow"
proto = "icmp"
interface = "eth0"

[[rule]]
action = "deny"
direction = "out"
proto = "tcp"
to = "198.51.100.0/24"
port = "25"
log = true

[[rule]]
action = "allow"
from = "2001:db8::/32"
from_port = "1024:65535"
proto = "udp"
)";

struct Setup {
  Config config;
  std::shared_ptr<const PolicySnapshot> policy[2];
};

const Setup& setup() {
  static const Setup s = [] {
    Setup s;
    auto config = parse_config(kConfig, "fuzz.toml");
    auto rules = parse_rules(kRules, "rules.toml");
    if (!config || !rules) {
      std::fprintf(stderr, "fuzz_packet_policy: the built-in configuration does not load\n");
      std::abort();
    }
    s.config = *config;
    s.policy[0] = std::make_shared<const PolicySnapshot>(*rules);
    RuleSet reordered = *rules;  // another generation: the same rules, the last one first
    std::rotate(reordered.rules.rbegin(), reordered.rules.rbegin() + 1, reordered.rules.rend());
    s.policy[1] = std::make_shared<const PolicySnapshot>(std::move(reordered));
    return s;
  }();
  return s;
}

EngineOptions options_of(const Config& c, Timestamp start) {
  EngineOptions o;
  o.conntrack.max_entries = c.conntrack.max_entries;
  o.conntrack.tcp_established = c.conntrack.tcp_established_timeout;
  o.conntrack.udp_unreplied = c.conntrack.udp_timeout;
  o.sources_policy.scan = c.scan_detection;
  o.sources_policy.new_connections = c.limits.new_connections;
  o.sources_policy.max_connections_per_source = c.limits.max_connections_per_source;
  o.sources_policy.knocks = c.knocks;
  o.max_sources = c.limits.max_sources;
  o.blocks = std::make_shared<BlockList>(c.limits.max_blocks);
  o.pickup_until = start + c.conntrack.pickup_grace;
  return o;
}

constexpr Duration kSteps[8] = {
    Duration::zero(),          std::chrono::milliseconds(1), std::chrono::milliseconds(300),
    std::chrono::seconds(2),   std::chrono::seconds(11),     std::chrono::seconds(61),
    std::chrono::seconds(301), std::chrono::hours(24 * 6)};

void check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "invariant broken: %s\n", what);
    std::abort();
  }
}

// What the parser promises about any packet it accepts.
void check_view(const PacketView& p, std::size_t size, std::size_t wire) {
  check(p.ip_length <= wire, "ip_length within the datagram");
  if (p.has_l4) {
    check(p.l4_offset <= size, "l4_offset within the bytes");
    check(p.payload_offset >= p.l4_offset, "payload after the L4 header");
    check(std::size_t{p.payload_offset} + p.payload_length <= wire, "payload within the datagram");
    check(std::size_t{p.payload_offset} + p.payload_length <= std::size_t{p.ip_length},
          "payload within ip_length");
  }
  if (p.protocol == ipproto::tcp && p.has_l4) check(p.src_port && p.dst_port, "TCP ports");
  if (p.fragment_offset != 0) check(!p.has_l4, "non-first fragment without L4");
}

// The log line portwalld would write (QueueWorker::make_event), in both formats.
void log_line(const PacketView& p, const Decision& d, Direction dir, std::string_view iface) {
  LogEvent e;
  e.unix_ms = 1'790'000'000'000;
  e.decision = d;
  e.direction = dir;
  iface.copy(dir == Direction::in ? e.in_interface : e.out_interface, 15);
  e.src = p.src;
  e.dst = p.dst;
  e.protocol = p.protocol;
  e.src_port = p.src_port;
  e.dst_port = p.dst_port;
  e.tcp_flags = p.tcp_flags;
  e.icmp_type = p.icmp_type;
  e.icmp_code = p.icmp_code;
  e.length = p.ip_length;
  check(!format_text(e).empty(), "text log line");
  check(nlohmann::json::accept(format_json(e)), "JSON log line parses");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Setup& s = setup();
  const Timestamp start = Timestamp{} + std::chrono::hours(1000);
  Engine engine(s.policy[0], options_of(s.config, start));
  const std::size_t rule_count = s.policy[0]->rule_set().rules.size();
  Timestamp now = start;
  int generation = 0;
  std::optional<PacketView> previous;

  std::size_t at = 0;
  while (at + 3 <= size) {
    const std::uint8_t control = data[at];
    std::size_t length = std::size_t{data[at + 1]} << 8 | data[at + 2];
    at += 3;
    length = std::min(length, size - at);
    const std::span<const std::uint8_t> bytes(data + at, length);
    at += length;

    now += kSteps[(control >> 1) & 7];
    if (control & 0x80) {
      engine.conntrack().expire(now);
      generation ^= 1;
      engine.set_policy(s.policy[generation]);
    }
    const Direction dir = (control & 1) ? Direction::out : Direction::in;
    const std::string_view iface = (control & 0x20) ? "eth1" : "eth0";
    const HookInfo hook{dir, dir == Direction::in ? iface : "", dir == Direction::out ? iface : ""};
    const std::size_t wire = (control & 0x10) ? length + 1500 : length;

    auto parsed = parse_packet(bytes, wire);
    Decision d;
    if (!parsed) {
      check(parsed.error().offset <= wire, "error offset within the datagram");
      d = engine.decide_malformed();
    } else {
      check_view(*parsed, length, wire);
      PacketView p = *parsed;
      const bool has_ports = p.has_l4 && (p.protocol == ipproto::tcp || p.protocol == ipproto::udp);
      if ((control & 0x40) && has_ports && previous && previous->family == p.family &&
          previous->src_port != 0 && previous->dst_port != 0) {
        p.src = previous->dst;
        p.dst = previous->src;
        p.src_port = previous->dst_port;
        p.dst_port = previous->src_port;
      }
      PacketExtras extras;
      extras.unix_seconds = 1'790'000'000 + (now - start) / std::chrono::seconds(1);
      if (p.payload_offset < length) {  // as QueueWorker::on_packet
        extras.l4_payload = bytes.subspan(
            p.payload_offset, std::min<std::size_t>(p.payload_length, length - p.payload_offset));
      }
      d = engine.decide(p, hook, now, extras);
      log_line(p, d, dir, iface);
      previous = p;
    }
    check(
        d.verdict == Verdict::accept || d.verdict == Verdict::drop || d.verdict == Verdict::reject,
        "verdict");
    check(d.rule_number <= rule_count, "rule number names a rule");
    check(d.reason != Reason::rule || d.rule_number != 0, "a rule decision names its rule");
    check(engine.conntrack().size() <= engine.conntrack().max_entries(), "conntrack bound");
    check(engine.sources().size() <= engine.sources().max_sources(), "source table bound");
    check(engine.blocks().size() <= engine.blocks().max_entries(), "block list bound");
    const Counters& c = std::as_const(engine).counters();
    check(c[Counter::received] == c[Counter::accepted] + c[Counter::dropped] + c[Counter::rejected],
          "every packet counted once");
  }
  return 0;
}
