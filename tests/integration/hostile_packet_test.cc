// hostile_packet_test.cc — issue 6, part 3: malformed and hostile IPv4, IPv6, TCP, UDP and ICMP
// packets from the client namespace (scapy, scapy/hostile.py), each with the verdict it must
// get, checked on the wire; then the window anchor: RSTs and data injected into a real TCP
// connection. Afterwards the daemon is the same process and the ports behave as before.
//
// How a verdict is seen. Every kind is sent from its own source address (added to the client's
// interface, so that answers come back to it), which names it in the decision log (SRC=) and
// in what the server sends back (seen by scapy's sniffer in the client namespace). The allow
// rules log their accepts. Per kind, scapy reads the daemon's counters before and after, which
// is how a packet the parser rejects is told apart (its log line carries no address). A packet
// the kernel drops before the INPUT hook (bad IPv4 checksum, IHL < 5, lying total length,
// overlapping fragments, ...) never reaches portwalld: expected there is "no trace in the daemon,
// nothing delivered" (CONNTRACK-NOTES §1.7); those cases are unit-tested and fuzzed on bytes.
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <set>

#include "integration/wire_fixture.h"
#include "packet/packet_view.h"

namespace portwall::lab {
namespace {

// What must become of a kind.
enum class Outcome {
  kernel,     // dropped by the kernel before the hook: no trace in the daemon
  malformed,  // the parser rejects it: dropped, counted as malformed
  invalid,    // parsed, then dropped as invalid (flags, state, window, fragment, RH0)
  deny,       // dropped by the default policy
  accept,     // accepted by a rule (logged: the allow rules have log = true)
  reject,     // rejected: answered with a RST
};

const char* name_of(Outcome o) {
  switch (o) {
    case Outcome::kernel:
      return "kernel-drop";
    case Outcome::malformed:
      return "malformed";
    case Outcome::invalid:
      return "DROP invalid";
    case Outcome::deny:
      return "DROP default";
    case Outcome::accept:
      return "ACCEPT";
    case Outcome::reject:
      return "REJECT";
  }
  return "?";
}

struct Kind {
  std::string name;
  bool v6;
  std::string expr;  // scapy expression; A is the kind's source address, M its marker
  Outcome outcome;
  std::string answer;      // what the server sends back to A: "" nothing, or one word
  bool delivered = false;  // its UDP payload (M) reaches the server's socket
  std::string note = "";
  int malformed = 0;  // Outcome::malformed: packets the parser rejects; 0: every one sent
};

// Rules: 22/tcp and 5353/udp allowed and logged, 113/tcp rejected, the rest denied; no ping
// ([icmp]: an echo request here is a packet like any other, judged by the defaults).
constexpr const char* kHostileRules = R"(
[defaults]
incoming = "deny"
outgoing = "allow"

[icmp]
echo_request = false

[[rule]]
action = "allow"
proto = "tcp"
port = "22"
log = true

[[rule]]
action = "allow"
proto = "udp"
port = "5353"
log = true

[[rule]]
action = "reject"
proto = "tcp"
port = "113"
)";

// The first lines land in the daemon's [log] table (Daemon appends extra_sections right after
// it): every decision is logged, no pickup grace (a bare ACK must be judged, not adopted), and
// no scan detection (stealth probes would get the client blocked: the verdicts here are about
// each packet alone; scan detection has its own suite).
constexpr const char* kHostileConfig =
    "max_lines_per_second = 1000000\n"
    "[conntrack]\npickup_grace = \"0s\"\n"
    "[scan_detection]\nenabled = false\n";

const std::string v4 = "IP(src=A, dst=S4)";
const std::string v6 = "IPv6(src=A, dst=S6)";
const std::string syn22 = "TCP(sport=40000, dport=22, flags='S', seq=1000)";

std::vector<Kind> ipv4_kinds() {
  const std::string syn = "/" + syn22;
  return {
      {"ipv4-bad-header-checksum", false, "IP(src=A, dst=S4, chksum=0x1234)" + syn, Outcome::kernel,
       ""},
      {"ipv4-ihl-4", false, "IP(src=A, dst=S4, ihl=4)" + syn, Outcome::kernel, ""},
      {"ipv4-ihl-15-beyond-total-length", false, "IP(src=A, dst=S4, ihl=15)" + syn, Outcome::kernel,
       ""},
      {"ipv4-version-5", false, "IP(src=A, dst=S4, version=5)" + syn, Outcome::kernel, ""},
      {"ipv4-total-length-beyond-frame", false, "IP(src=A, dst=S4, len=1000)" + syn,
       Outcome::kernel, ""},
      {"ipv4-total-length-below-ihl", false, "IP(src=A, dst=S4, len=12)" + syn, Outcome::kernel,
       ""},
      {"ipv4-total-length-cuts-tcp-header", false, "IP(src=A, dst=S4, len=30)" + syn,
       Outcome::malformed, "", false, "kernel trims to 30 bytes: 10 of TCP"},
      {"ipv4-source-route-option", false,
       "IP(src=A, dst=S4, options=[IPOption_LSRR(routers=[S4])])" + syn, Outcome::kernel, ""},
      {"ipv4-option-length-overruns", false,
       "IP(src=A, dst=S4, options=[IPOption(b'\\x99\\x28\\x00\\x00')])" + syn, Outcome::kernel,
       "icmp-param-problem"},
      {"ipv4-record-route-option-valid", false,
       "IP(src=A, dst=S4, options=[IPOption_RR(routers=['0.0.0.0'])])" + syn, Outcome::accept,
       "synack"},
      {"ipv4-reserved-flag-set", false, "IP(src=A, dst=S4, flags=4)" + syn, Outcome::accept,
       "synack"},
      {"ipv4-land-source-is-server", false, "IP(src=S4, dst=S4)/TCP(sport=22, dport=22, flags='S')",
       Outcome::kernel, "", false, "martian source"},
      {"ipv4-unknown-protocol-253", false, v4 + "/Raw(M)", Outcome::deny, ""},
      {"ipv4-tiny-fragments-to-denied-port", false,
       "fragment(IP(src=A, dst=S4)/TCP(sport=40000, dport=2323, flags='S'), fragsize=8)",
       Outcome::deny, "", false, "reassembled first: judged whole"},
      {"ipv4-tiny-fragments-to-allowed-port", false,
       "fragment(IP(src=A, dst=S4)" + syn + ", fragsize=8)", Outcome::accept, "synack"},
      // Fragment payloads cut from a whole, checksummed datagram: T22 to port 22, T2323 to 2323.
      {"ipv4-overlapping-fragment-rewrites-port", false,
       "[IP(src=A, dst=S4, id=77, flags='MF', proto=6)/Raw(T2323(A)[:8]), IP(src=A, dst=S4, id=77, "
       "flags='MF', proto=6)/Raw(T22(A)[:16]), IP(src=A, dst=S4, id=77, frag=2, "
       "proto=6)/Raw(T22(A)[16:])]",
       Outcome::kernel, "", false, "a partial overlap discards the datagram (RFC 5722 rule)"},
      {"ipv4-duplicate-fragment-rewrites-port", false,
       "[IP(src=A, dst=S4, id=78, flags='MF', proto=6)/Raw(T22(A)[:16]), IP(src=A, dst=S4, id=78, "
       "flags='MF', proto=6)/Raw(T2323(A)[:8]), IP(src=A, dst=S4, id=78, frag=2, "
       "proto=6)/Raw(T22(A)[16:])]",
       Outcome::accept, "synack", false,
       "a contained duplicate is ignored: the first copy (port 22) is what is judged and "
       "delivered"},
      {"ipv4-first-fragment-never-completed", false,
       "IP(src=A, dst=S4, id=79, flags='MF')" + syn + "/Raw(b'x'*16)", Outcome::kernel, ""},
      {"ipv4-fragment-offset-past-64k", false,
       "[IP(src=A, dst=S4, id=80, flags='MF', proto=17)/Raw(b'x'*64), IP(src=A, dst=S4, id=80, "
       "frag=8189, proto=17)/Raw(b'y'*64)]",
       Outcome::kernel, ""},
  };
}

std::vector<Kind> tcp_kinds(const std::string& ip, bool is_v6, const std::string& prefix) {
  std::vector<Kind> k = {
      {prefix + "tcp-data-offset-4", is_v6,
       ip + "/TCP(sport=40000, dport=22, flags='S', dataofs=4)", Outcome::malformed, ""},
      {prefix + "tcp-data-offset-past-segment", is_v6,
       ip + "/TCP(sport=40000, dport=22, flags='S', dataofs=15)", Outcome::malformed, ""},
      {prefix + "tcp-header-truncated-12-bytes", is_v6,
       ip.substr(0, ip.size() - 1) + ", " + (is_v6 ? "nh=6" : "proto=6") + ")/Raw(bytes(" + syn22 +
           ")[:12])",
       Outcome::malformed, ""},
      {prefix + "tcp-dst-port-0", is_v6, ip + "/TCP(sport=40000, dport=0, flags='S')",
       Outcome::malformed, ""},
      {prefix + "tcp-src-port-0", is_v6, ip + "/TCP(sport=0, dport=22, flags='S')",
       Outcome::malformed, ""},
  };
  return k;
}

std::vector<Kind> more_tcp_kinds() {
  return {
      {"tcp-syn-with-payload", false, v4 + "/" + syn22 + "/Raw(M)", Outcome::accept, "synack"},
      {"tcp-syn-ece-cwr-ecn-setup", false, v4 + "/TCP(sport=40000, dport=22, flags='SEC')",
       Outcome::accept, "synack"},
      {"tcp-options-length-0-and-overrun", false,
       v4 + "/TCP(sport=40000, dport=22, flags='S', options=[(3, b''), ('NOP', None)])",
       Outcome::accept, "synack", false, "options parse stops, as the kernel's"},
      {"tcp-options-window-scale-255", false,
       v4 + "/TCP(sport=40000, dport=22, flags='S', options=[('WScale', 255)])", Outcome::accept,
       "synack", false, "clamped to 14"},
      {"tcp-bad-checksum-syn", false, v4 + "/TCP(sport=40000, dport=22, flags='S', chksum=1)",
       Outcome::accept, "", false, "not checked (GSO); the host's TCP discards it"},
      {"tcp-syn-to-denied-port", false, v4 + "/TCP(sport=40000, dport=2323, flags='S')",
       Outcome::deny, ""},
      {"tcp-syn-to-reject-port", false, v4 + "/TCP(sport=40000, dport=113, flags='S')",
       Outcome::reject, "rst"},
      {"tcp-bare-ack-without-flow", false, v4 + "/TCP(sport=40000, dport=22, flags='A', ack=5)",
       Outcome::invalid, ""},
      {"tcp-fin-ack-without-flow", false, v4 + "/TCP(sport=40000, dport=22, flags='FA')",
       Outcome::invalid, ""},
      {"tcp-rst-without-flow", false, v4 + "/TCP(sport=40000, dport=22, flags='R')",
       Outcome::invalid, ""},
      {"tcp-synack-without-flow", false, v4 + "/TCP(sport=40000, dport=22, flags='SA')",
       Outcome::invalid, ""},
  };
}

// Every combination of FIN SYN RST ACK URG that the kernel's tcp_valid_flags[] does not list
// (PSH, ECE and CWR are masked off first), plus PSH-only, XMAS and all eight flags.
std::vector<Kind> invalid_flag_kinds() {
  using namespace tcpflag;
  const std::set<int> valid = {syn,       syn | urg, syn | ack,       rst,      rst | ack,
                               fin | ack, ack,       fin | ack | urg, ack | urg};
  std::vector<std::pair<std::string, int>> combos;
  for (int f = 0; f < 64; ++f) {
    if (f & psh) continue;
    if (valid.contains(f)) continue;
    std::string letters;
    const std::pair<int, char> names[] = {
        {fin, 'F'}, {syn, 'S'}, {rst, 'R'}, {ack, 'A'}, {urg, 'U'}};
    for (auto [bit, letter] : names)
      if (f & bit) letters += letter;
    combos.emplace_back(letters.empty() ? "NULL" : letters, f);
  }
  combos.emplace_back("P", psh);
  combos.emplace_back("XMAS-FPU", fin | psh | urg);
  combos.emplace_back("ALL-FSRPAUEC", 0xff);
  std::vector<Kind> k;
  for (const auto& [letters, f] : combos) {
    k.push_back({"tcp-flags-" + letters, false,
                 v4 + "/TCP(sport=40000, dport=22, seq=1000, flags=" + std::to_string(f) + ")",
                 Outcome::invalid, ""});
  }
  k.push_back({"ipv6-tcp-flags-XMAS-FPU", true,
               v6 + "/TCP(sport=40000, dport=22, flags=" + std::to_string(fin | psh | urg) + ")",
               Outcome::invalid, ""});
  return k;
}

std::vector<Kind> udp_icmp_kinds() {
  return {
      {"udp-length-4", false, v4 + "/UDP(sport=4000, dport=5353, len=4)/Raw(M)", Outcome::malformed,
       ""},
      {"udp-length-beyond-datagram", false, v4 + "/UDP(sport=4000, dport=5353, len=600)/Raw(M)",
       Outcome::malformed, ""},
      {"udp-header-truncated-4-bytes", false,
       "IP(src=A, dst=S4, proto=17)/Raw(bytes(UDP(sport=4000, dport=5353))[:4])",
       Outcome::malformed, ""},
      {"udp-dst-port-0", false, v4 + "/UDP(sport=4000, dport=0)/Raw(M)", Outcome::malformed, ""},
      {"udp-src-port-0-is-legal", false, v4 + "/UDP(sport=0, dport=5353)/Raw(M)", Outcome::accept,
       "", true},
      {"udp-length-shorter-than-payload", false,
       v4 + "/UDP(sport=4000, dport=5353, len=8+len(M), chksum=0)/Raw(M + b'trailing-junk')",
       Outcome::accept, "", true, "the host reads the UDP length"},
      {"udp-bad-checksum", false, v4 + "/UDP(sport=4000, dport=5353, chksum=1)/Raw(M)",
       Outcome::accept, "", false, "not checked (GSO); the host's UDP discards it"},
      {"udp-to-denied-port", false, v4 + "/UDP(sport=4000, dport=5354)/Raw(M)", Outcome::deny, ""},
      {"icmp-echo-request-default-deny", false, v4 + "/ICMP(id=7)/Raw(M)", Outcome::deny, ""},
      {"icmp-truncated-4-bytes", false, "IP(src=A, dst=S4, proto=1)/Raw(b'\\x08\\x00\\x00\\x00')",
       Outcome::malformed, ""},
      {"icmp-type-255", false, v4 + "/ICMP(type=255)/Raw(M)", Outcome::deny, ""},
      {"icmp-unreach-quoting-forged-tcp", false,
       v4 + "/ICMP(type=3, code=3)/IPerror(src=S4, dst=A)/TCPerror(sport=22, dport=40000)",
       Outcome::invalid, "", false, "quotes no tracked flow"},
      {"icmp-unreach-quoting-truncated-ip", false,
       v4 + "/ICMP(type=3, code=1)/Raw(bytes(IP(src=S4, dst=A))[:10])", Outcome::invalid, ""},
      {"icmp-redirect-quoting-forged-udp", false,
       v4 + "/ICMP(type=5, code=1, gw='10.200.0.66')/IPerror(src=S4, dst=A)/UDPerror(sport=5353, "
            "dport=4000)",
       Outcome::deny, "", false, "[icmp] redirects = false"},
      {"icmp-error-quoting-ipv6-header", false,
       v4 + "/ICMP(type=11)/Raw(bytes(IPv6(src=S6, dst='fd00::1')/UDP())[:48])", Outcome::invalid,
       ""},
      {"icmp-bad-checksum-echo", false, v4 + "/ICMP(chksum=1)/Raw(M)", Outcome::deny, ""},
  };
}

std::vector<Kind> ipv6_kinds() {
  const std::string syn = "/" + syn22;
  return {
      {"ipv6-payload-length-beyond-frame", true, "IPv6(src=A, dst=S6, plen=1000)" + syn,
       Outcome::kernel, ""},
      {"ipv6-payload-length-cuts-tcp-header", true, "IPv6(src=A, dst=S6, plen=10)" + syn,
       Outcome::malformed, "", false, "kernel trims to 10 bytes of TCP"},
      {"ipv6-9-destination-options-headers", true,
       "IPv6(src=A, dst=S6)/" + std::string("IPv6ExtHdrDestOpt()/") + "IPv6ExtHdrDestOpt()/" +
           "IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/"
           "IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()" +
           syn,
       Outcome::malformed, "", false, "walk bounded at 8"},
      {"ipv6-7-destination-options-headers", true,
       "IPv6(src=A, dst=S6)/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/"
       "IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()/IPv6ExtHdrDestOpt()" +
           syn,
       Outcome::accept, "synack", false, "within the bound"},
      {"ipv6-routing-header-type-0", true,
       "IPv6(src=A, dst=S6)/IPv6ExtHdrRouting(type=0, addresses=['fd00::1'], segleft=1)" + syn,
       Outcome::invalid, "", false, "RFC 5095; ufw's before6.rules drop it too"},
      {"ipv6-routing-header-type-0-segleft-0", true,
       "IPv6(src=A, dst=S6)/IPv6ExtHdrRouting(type=0, addresses=['fd00::1'], segleft=0)" + syn,
       Outcome::invalid, ""},
      {"ipv6-hop-by-hop-not-first", true,
       "IPv6(src=A, dst=S6)/IPv6ExtHdrDestOpt()/IPv6ExtHdrHopByHop()" + syn, Outcome::accept,
       "icmp-param-problem", false, "the host rejects it after the hook"},
      {"ipv6-extension-header-truncated", true,
       "IPv6(src=A, dst=S6, nh=60)/Raw(b'\\x06\\x08' + b'\\x00'*6)", Outcome::malformed, ""},
      {"ipv6-no-next-header", true, "IPv6(src=A, dst=S6, nh=59)/Raw(M)", Outcome::deny, ""},
      {"ipv6-atomic-fragment", true,
       "IPv6(src=A, dst=S6)/IPv6ExtHdrFragment(offset=0, m=0, id=5)" + syn, Outcome::accept,
       "synack", false, "RFC 6946: processed as whole"},
      {"ipv6-tiny-fragments-header-split", true,
       "fragment6(IPv6(src=A, dst=S6)/IPv6ExtHdrFragment(id=6)" + syn + ", 56)", Outcome::malformed,
       "", false,
       "RFC 7112 violator: nf_defrag_ipv6 passes the first fragment raw, 8 bytes of TCP; the rest "
       "wait in the defrag queue",
       1},
      {"ipv6-overlapping-fragments", true,
       "[IPv6(src=A, dst=S6)/IPv6ExtHdrFragment(id=7, m=1, offset=0, nh=6)/Raw(T22(A)+b'a'*4), "
       "IPv6(src=A, dst=S6)/IPv6ExtHdrFragment(id=7, m=0, offset=2, nh=6)/Raw(b'b'*16)]",
       Outcome::kernel, "", false, "RFC 5722: the whole datagram is discarded"},
      {"ipv6-fragment-length-not-multiple-of-8", true,
       "[IPv6(src=A, dst=S6)/IPv6ExtHdrFragment(id=8, m=1, offset=0, nh=6)/Raw(T22(A)+b'a'*5), "
       "IPv6(src=A, dst=S6)/IPv6ExtHdrFragment(id=8, m=0, offset=4, nh=6)/Raw(b'b'*8)]",
       Outcome::invalid, "", false,
       "nf_defrag_ipv6 passes it raw for the stack's parameter problem; a fragment at the hook is "
       "dropped"},
      {"icmpv6-echo-request-default-deny", true, v6 + "/ICMPv6EchoRequest(id=7, data=M)",
       Outcome::deny, ""},
      {"icmpv6-unreach-quoting-forged-tcp", true,
       v6 + "/ICMPv6DestUnreach(code=4)/IPerror6(src=S6, dst=A)/TCPerror(sport=22, dport=40000)",
       Outcome::invalid, ""},
      {"icmpv6-neighbour-solicitation-hop-limit-64", true,
       "IPv6(src=A, dst=S6, hlim=64)/ICMPv6ND_NS(tgt=S6)", Outcome::deny, "", false,
       "not on-link ND (RFC 4861 needs 255)"},
      {"ipv6-udp-length-0", true, v6 + "/UDP(sport=4000, dport=5353, len=0)/Raw(M)",
       Outcome::malformed, "", false, "no jumbogram"},
  };
}

std::vector<Kind> all_kinds() {
  std::vector<Kind> all;
  for (auto part : {ipv4_kinds(), tcp_kinds(v4, false, ""), tcp_kinds(v6, true, "ipv6-"),
                    more_tcp_kinds(), invalid_flag_kinds(), udp_icmp_kinds(), ipv6_kinds()}) {
    all.insert(all.end(), part.begin(), part.end());
  }
  return all;
}

// The daemon's process: the one portwalld in the server namespace.
int daemon_pid(const Lab& lab) {
  const RunResult r = run("for p in $(ip netns pids " + lab.srv() +
                          "); do [ \"$(cat /proc/$p/comm)\" = portwalld ] && echo $p; done");
  return std::atoi(r.output.c_str());
}

std::string hostile_script() {
  return std::string(PORTWALL_SOURCE_DIR) + "/tests/integration/scapy/hostile.py";
}

// A new connection to 22 opens; one to a denied port gets no answer.
void expect_ports_behave_as_before(const Lab& lab) {
  Fd allowed(tcp_connect(lab.cl2(), lab.srv_v4_for_cl2(), 22, 2000ms));
  EXPECT_TRUE(allowed.valid()) << "the allowed port still connects";
  int error = 0;
  Fd denied(tcp_connect(lab.cl2(), lab.srv_v4_for_cl2(), 2323, 1000ms, &error));
  EXPECT_FALSE(denied.valid());
  EXPECT_EQ(error, ETIMEDOUT) << "the denied port is still dropped";
}

class Hostile : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon.ready()) << daemon.daemon_output();
    pid = daemon_pid(lab);
    ASSERT_GT(pid, 0);
  }
  nlohmann::json status() {
    const RunResult r = daemon.cli("--json status");
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return nlohmann::json::parse(r.output, nullptr, false);
  }

  Lab lab;
  Daemon daemon{lab, kHostileRules, "", kHostileConfig};
  int pid = 0;
};

// The lab's network number N (10.200.N.0/24).
std::string net_of(const Lab& lab) {
  const std::string s = lab.srv_v4();  // 10.200.N.1
  return s.substr(7, s.size() - 9);
}

TEST_F(Hostile, EveryKindGetsItsVerdictAndTheDaemonCarriesOn) {
  const auto started = std::chrono::steady_clock::now();
  const std::vector<Kind> kinds = all_kinds();
  ASSERT_GE(kinds.size(), 40u);
  Fd tcp22(tcp_listen(lab.srv(), "::", 22));
  Fd udp(udp_bind(lab.srv(), "::", 5353));
  ASSERT_TRUE(tcp22.valid() && udp.valid());

  // Each kind its own source address on the client's interface: 10.200.N.10.. and ::a:0..
  const std::string net = net_of(lab);
  std::vector<std::string> sources;
  std::string add;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    if (kinds[i].v6) {
      char hex[24];
      std::snprintf(hex, sizeof hex, "%zx", i);
      sources.push_back("fd00:200:" + net + "::a:" + hex);
      add += "ip -6 addr add " + sources.back() + "/64 dev cli0 nodad; ";
    } else {
      sources.push_back("10.200." + net + "." + std::to_string(10 + i));
      add += "ip addr add " + sources.back() + "/24 dev cli0; ";
    }
  }
  ASSERT_LT(kinds.size(), 118u) << "v4 sources must stay below .128 (cl2's half)";
  ASSERT_EQ(lab.in(lab.cli(), add).exit_code, 0);
  // A first fragment never completed is answered by the server's kernel with ICMP time
  // exceeded once ipfrag_time (30 s, IPv6 60 s) passes; on a slow machine that falls inside a later
  // kind's sniffing. This namespace's own setting.
  ASSERT_EQ(
      lab.in(lab.srv(), "sysctl -qw net.ipv4.ipfrag_time=600 net.ipv6.ip6frag_time=600").exit_code,
      0);
  const std::string srv_mac = lab.in(lab.srv(), "cat /sys/class/net/srv0/address").output;

  nlohmann::json spec;
  spec["iface"] = "cli0";
  spec["srv_mac"] = srv_mac.substr(0, srv_mac.find('\n'));
  spec["socket"] = daemon.dir() + "/portwall.sock";
  spec["vars"] = {{"S4", lab.srv_v4()}, {"S6", lab.srv_v6()}};
  // The new addresses announce themselves (MLD reports, to the server's queue): wait until the
  // daemon sees nothing more, so that each kind's counter deltas are its own.
  daemon.wait_until_quiet();
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    spec["kinds"].push_back(
        {{"name", kinds[i].name}, {"expr", kinds[i].expr}, {"src", sources[i]}});
  }
  const std::string spec_file = daemon.dir() + "/hostile.json";
  std::ofstream(spec_file) << spec.dump();
  const RunResult sent =
      lab.in(lab.cli(), "/usr/bin/python3 " + hostile_script() + " " + spec_file, 90s);
  ASSERT_EQ(sent.exit_code, 0) << sent.output;
  const nlohmann::json report =
      nlohmann::json::parse(sent.output.substr(sent.output.rfind("{\"kinds\"")), nullptr, false);
  ASSERT_TRUE(report.contains("kinds")) << sent.output;
  ASSERT_EQ(report["kinds"].size(), kinds.size());

  // What reached the UDP socket, by marker.
  std::set<std::string> delivered;
  while (auto d = receive(udp.get(), 200ms)) {
    for (const Kind& k : kinds) {
      if (*d == "HK:" + k.name) delivered.insert(k.name);
    }
  }
  // Every decision is in the log before it is judged: a last probe, then its line.
  ASSERT_TRUE(udp_send(lab.cli(), lab.srv_v4(), 5399, "sentinel"));
  ASSERT_TRUE(log_line_with(daemon, {"ACTION=DROP", "DPT=5399"})) << daemon.log();
  std::this_thread::sleep_for(300ms);
  const std::string log = daemon.log();

  int packets = 0, wrong = 0;
  std::map<Outcome, int> by_outcome;
  for (std::size_t i = 0; i < kinds.size(); ++i) {
    const Kind& k = kinds[i];
    const nlohmann::json& r = report["kinds"][i];
    const int n = r["sent"].get<int>();
    packets += n;
    const nlohmann::json& delta = r["delta"];
    // The daemon's log lines about packets from this kind's address.
    std::vector<std::string> lines;
    {
      std::istringstream in(log);
      std::string line;
      while (std::getline(in, line)) {
        if (line.find("SRC=" + sources[i] + " ") != std::string::npos) lines.push_back(line);
        // The LAND kind spoofs the server itself: an inbound line from its address is its.
        if (k.expr.starts_with("IP(src=S4") && line.find("DIR=in") != std::string::npos &&
            line.find("SRC=" + lab.srv_v4() + " ") != std::string::npos) {
          lines.push_back(line);
        }
      }
    }
    auto line_with = [&](std::initializer_list<std::string> needles) {
      return std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
        return std::all_of(needles.begin(), needles.end(),
                           [&](const std::string& n) { return l.find(n) != std::string::npos; });
      });
    };
    auto any_line = [&](const std::string& needle) {
      return std::any_of(lines.begin(), lines.end(),
                         [&](const std::string& l) { return l.find(needle) != std::string::npos; });
    };
    std::string answers;
    for (const auto& a : r["answers"])
      answers += (answers.empty() ? "" : ",") + a.get<std::string>();
    const bool was_delivered = delivered.contains(k.name);
    std::vector<std::string> why;
    if (r.contains("error")) why.push_back("the row did not build: " + r["error"].dump());
    switch (k.outcome) {
      case Outcome::kernel:
        if (!lines.empty()) why.push_back("the daemon logged it: " + lines[0]);
        if (delta["malformed"] != 0) why.push_back("malformed counter moved");
        break;
      case Outcome::malformed:
        if (delta["malformed"].get<int>() != (k.malformed ? k.malformed : n)) {
          why.push_back("malformed +" + delta["malformed"].dump());
        }
        break;
      case Outcome::invalid:
        if (!line_with({"ACTION=DROP", "REASON=invalid "})) why.push_back("no DROP invalid line");
        break;
      case Outcome::deny:
        if (!line_with({"ACTION=DROP", "REASON=default "})) why.push_back("no DROP default line");
        break;
      case Outcome::accept:
        if (!any_line("ACTION=ACCEPT")) why.push_back("no ACCEPT line");
        break;
      case Outcome::reject:
        if (!any_line("ACTION=REJECT")) why.push_back("no REJECT line");
        break;
    }
    if (k.outcome != Outcome::accept && k.outcome != Outcome::reject && any_line("ACTION=ACCEPT")) {
      why.push_back("accepted: " + lines[0]);
    }
    if (answers != k.answer) why.push_back("answer '" + answers + "', expected '" + k.answer + "'");
    if (was_delivered != k.delivered) {
      why.push_back(was_delivered ? "its payload reached the server" : "its payload never arrived");
    }
    ++by_outcome[k.outcome];
    std::printf("[hostile] %-44s %-2d pkt  expect %-12s answer %-18s %s%s%s\n", k.name.c_str(), n,
                name_of(k.outcome), (answers.empty() ? "none" : answers).c_str(),
                why.empty() ? "ok" : "WRONG: ", why.empty() ? "" : why[0].c_str(),
                k.note.empty() ? "" : ("  (" + k.note + ")").c_str());
    for (std::size_t w = 1; w < why.size(); ++w)
      std::printf("[hostile]    also: %s\n", why[w].c_str());
    if (!why.empty()) {
      ++wrong;
      ADD_FAILURE() << k.name << ": " << why[0] << "\n  expr: " << k.expr;
    }
  }

  // The same daemon, answering, and the ports as before.
  const int pid_after = daemon_pid(lab);
  const nlohmann::json s = status();
  expect_ports_behave_as_before(lab);
  const int crashes = pid_after == pid ? 0 : 1;
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf(
      "[hostile] TOTAL kinds=%zu packets=%d wrong_verdicts=%d crashes=%d malformed=%s "
      "dropped=%s run_time=%.1fs\n",
      kinds.size(), packets, wrong, crashes, s["counters"]["malformed"].dump().c_str(),
      s["counters"]["dropped"].dump().c_str(), seconds);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(pid_after, pid) << "portwalld was restarted or died\n" << daemon.daemon_output();
  // A guard against a run that hangs, not a speed goal: run_time above is the figure.
  EXPECT_LT(seconds, 240.0);
}

// The anchor (CONNTRACK-NOTES §1.3): a real connection, then packets with its own 4-tuple and
// sequence numbers far from the window. None may close it or reach the application; the
// in-window but inexact RST passes (the host answers with a challenge ACK, RFC 5961) and keeps
// it; only the exact RST closes it, as in the kernel.
TEST_F(Hostile, InjectedRstAndDataOutsideTheWindowNeitherCloseNorEnterAConnection) {
  Fd listener(tcp_listen(lab.srv(), "0.0.0.0", 22));
  ASSERT_TRUE(listener.valid());
  // The server application: echoes what arrives and keeps all of it.
  std::string arrived;
  bool reset = false;
  std::thread app([&] {
    Fd conn(tcp_accept(listener.get(), 10000ms));
    if (!conn.valid()) return;
    const auto until = std::chrono::steady_clock::now() + 40s;
    while (std::chrono::steady_clock::now() < until) {
      pollfd p{conn.get(), POLLIN, 0};
      if (poll(&p, 1, 200) != 1) continue;
      char buf[4096];
      const ssize_t n = recv(conn.get(), buf, sizeof buf, 0);
      if (n <= 0) {
        reset = n < 0 && errno == ECONNRESET;
        return;
      }
      arrived.append(buf, static_cast<std::size_t>(n));
      send_all(conn.get(), std::string(buf, static_cast<std::size_t>(n)));
    }
  });
  const RunResult r = lab.in(lab.cli(),
                             "/usr/bin/python3 " + std::string(PORTWALL_SOURCE_DIR) +
                                 "/tests/integration/scapy/window.py " + lab.srv_v4() +
                                 " 22 cli0 " + daemon.dir() + "/portwall.sock",
                             60s);
  app.join();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json report =
      nlohmann::json::parse(r.output.substr(r.output.rfind("{\"client_port\"")), nullptr, false);
  ASSERT_TRUE(report.contains("steps")) << r.output;
  const std::string spt = "SPT=" + report["client_port"].dump() + " ";

  // name -> {state of portwalld's entry after it, the connection still echoes}
  const std::map<std::string, std::pair<std::string, bool>> expected = {
      {"established", {"ESTABLISHED", true}},
      {"rst-far-ahead-of-window", {"ESTABLISHED", true}},
      {"rst-ack-far-ahead-of-window", {"ESTABLISHED", true}},
      {"rst-before-acknowledged-data", {"ESTABLISHED", true}},
      {"data-far-ahead-of-window", {"ESTABLISHED", true}},
      {"data-far-behind-window", {"ESTABLISHED", true}},  // IGNOREd as the kernel; host drops it
      {"ack-for-data-never-sent", {"ESTABLISHED", true}},
      {"fin-far-ahead-of-window", {"ESTABLISHED", true}},
      {"syn-on-established-flow", {"ESTABLISHED", true}},  // sIG: host answers a challenge ACK
      {"rst-in-window-not-exact", {"ESTABLISHED", true}},
      {"rst-exact", {"CLOSE", false}},
  };
  ASSERT_EQ(report["steps"].size(), expected.size()) << report.dump();
  int wrong = 0;
  for (const auto& step : report["steps"]) {
    const std::string name = step["name"];
    const auto& [state, echoes] = expected.at(name);
    const bool right = step["state"] == state && step["echo_ok"] == echoes;
    wrong += !right;
    std::printf("[window] %-30s portwall state %-12s echo %-4s host answered %-12s %s\n",
                name.c_str(), step["state"].get<std::string>().c_str(),
                step["echo_ok"].get<bool>() ? "ok" : "none", step["answers"].dump().c_str(),
                right ? "ok" : "WRONG");
    EXPECT_TRUE(right) << step.dump();
  }
  // The far-off packets were dropped as invalid (RST x3, data x2, FIN), not passed.
  std::istringstream lines(daemon.log());
  int invalid = 0;
  for (std::string line; std::getline(lines, line);) {
    invalid += line.find("ACTION=DROP") != std::string::npos &&
               line.find("REASON=invalid") != std::string::npos &&
               line.find(spt) != std::string::npos;
  }
  std::printf("[window] TOTAL steps=%zu wrong=%d dropped_as_invalid=%d server_saw_reset=%d\n",
              report["steps"].size(), wrong, invalid, reset);
  EXPECT_EQ(invalid, 6) << daemon.log();
  EXPECT_EQ(arrived.find("INJECTED"), std::string::npos) << arrived;
  EXPECT_NE(arrived.find("after-rst-in-window-not-exact"), std::string::npos) << arrived;
  EXPECT_TRUE(reset) << "the exact RST reset the server's socket";
  EXPECT_EQ(daemon_pid(lab), pid);
  expect_ports_behave_as_before(lab);
}

}  // namespace
}  // namespace portwall::lab
