#!/usr/bin/env bash
# Issue 20, point 3: how close to "no firewall" any offload of answered UDP can bring request/
# response traffic on this machine, with no daemon at all: the kernel paths an offload would
# leave the packets on, measured against none, in rounds taken in turns (pwload urr: 32 flows,
# one 64-byte request in flight each, against pwload echo).
#
#   tools/bench/udp-floor.sh [--rounds N] [--seconds S]
#
# Variants:
#   none      no rule.
#   conntrack one `--ctstate ESTABLISHED -j ACCEPT` rule (iptables): the kernel's connection
#             tracking, which today's offload (the connmark accept) is built on.
#   notrack   UDP taken out of conntrack in the raw table, and one accept rule per direction
#             behind a loopback return (iptables): the least any conntrack-free rule set costs.
#   flowset   an nftables set keyed on the five-tuple, with timeouts, that exempts its flows
#             from conntrack (priority -300) and accepts them in input and output: the
#             conntrack-free offload itself, as portwalld would install it, minus the block set.
# Prints each round, then per variant the median of its per-round ratios to none (rate, and
# p50 latency as none's over the variant's). Runs in pw-bench-floor-* namespaces, removed at
# the end, also on failure. About (4 variants x rounds x (seconds + 1)) s: 50 s by default.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=3
seconds=3
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    *) echo "usage: tools/bench/udp-floor.sh [--rounds N] [--seconds S]" >&2; exit 2 ;;
  esac
done
[ "$rounds" -ge 1 ] && [ "$rounds" -le 20 ] && [ "$seconds" -ge 1 ] && [ "$seconds" -le 30 ] ||
  { echo "udp-floor.sh: --rounds 1..20, --seconds 1..30" >&2; exit 2; }

tools/deps.sh
tools/build.sh >/dev/null
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
lab=pw-bench-floor
net=6
srv=("${sudo[@]}" ip netns exec "$lab-srv")
cli=("${sudo[@]}" ip netns exec "$lab-cli")
work=$(mktemp -d /tmp/portwall-floor.XXXXXX)
echo_pid=""
cleanup() {
  set +e
  [ -n "$echo_pid" ] && "${sudo[@]}" kill -TERM "$echo_pid" 2>/dev/null && wait "$echo_pid" 2>/dev/null
  tools/lab.sh down "$lab"
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

tools/lab.sh up "$lab" "$net" >/dev/null
sources=()
for i in $(seq 10 41); do
  "${sudo[@]}" ip -n "$lab-cli" addr add "10.200.$net.$i/24" dev cli0
  sources+=("10.200.$net.$i")
done
"${srv[@]}" build/pwload echo 9001 &
echo_pid=$!
sleep 0.5

cat >"$work/flowset.nft" <<'NFT'
table inet pw_floor {
  set flows {
    type ipv4_addr . inet_service . ipv4_addr . inet_service
    flags timeout; timeout 60s; size 65536
  }
  chain pre { type filter hook prerouting priority -300; ip saddr . udp sport . ip daddr . udp dport @flows notrack; }
  chain rawout { type filter hook output priority -300; ip daddr . udp dport . ip saddr . udp sport @flows notrack; }
  chain in {
    type filter hook input priority 0; policy accept
    iif lo return
    ip saddr . udp sport . ip daddr . udp dport @flows accept
    # What portwalld's verdict would do for the first datagram of an allowed flow.
    udp dport 9001 add @flows { ip saddr . udp sport . ip daddr . udp dport } accept
  }
  chain out {
    type filter hook output priority 0; policy accept
    oif lo return
    ip daddr . udp dport . ip saddr . udp sport @flows accept
  }
}
NFT

clear_rules() {
  "${srv[@]}" nft delete table inet pw_floor 2>/dev/null || true
  "${srv[@]}" sh -c 'for t in raw filter; do iptables -t $t -F; iptables -t $t -X; done'
}
set_rules() {
  clear_rules
  case $1 in
    none) ;;
    conntrack) "${srv[@]}" sh -c 'iptables -A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT
      iptables -A INPUT -p udp --dport 9001 -j ACCEPT' ;;
    notrack) "${srv[@]}" sh -c 'iptables -t raw -A PREROUTING -p udp -j CT --notrack
      iptables -t raw -A OUTPUT -p udp -j CT --notrack
      iptables -N PW_IN; iptables -A INPUT -j PW_IN
      iptables -A PW_IN -i lo -j RETURN; iptables -A PW_IN -p udp -j ACCEPT
      iptables -N PW_OUT; iptables -A OUTPUT -j PW_OUT
      iptables -A PW_OUT -o lo -j RETURN; iptables -A PW_OUT -p udp -j ACCEPT' ;;
    flowset) "${srv[@]}" nft -f "$work/flowset.nft" ;;
  esac
}

variants=(none conntrack notrack flowset)
data="$work/data"
for r in $(seq "$rounds"); do
  for v in "${variants[@]}"; do
    set_rules "$v"
    read -r _ rate _ p50 _ _ < <(timeout $((seconds + 10)) "${cli[@]}" build/pwload urr "10.200.$net.1" 9001 "$seconds" "${sources[@]}")
    echo "round $r  $v  RR/s $rate  p50 ${p50} us"
    echo "$v $r $rate $p50" >>"$data"
  done
done
clear_rules

echo
echo "| variant | RR/s × none (median of rounds) | p50 none/variant | rounds |"
echo "|---|---|---|---|"
awk '
  { rate[$1, $2] = $3; p50[$1, $2] = $4; if (!($1 in seen)) { seen[$1] = 1; order[n++] = $1 } ; rounds[$2] = 1 }
  function median(a, k,   i, j, t) {
    for (i = 1; i < k; i++) for (j = i; j > 0 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
    return k % 2 ? a[int(k / 2)] : (a[k / 2 - 1] + a[k / 2]) / 2
  }
  END {
    for (i = 1; i < n; i++) {
      v = order[i]; k = 0; list = ""
      for (r in rounds) { rr[k] = rate[v, r] / rate["none", r]; pp[k] = p50["none", r] / p50[v, r]; k++
                          list = list sprintf(" %.2f", rr[k - 1]) }
      mr = median(rr, k); delete rr; mp = median(pp, k); delete pp
      printf "| %s | %.3f | %.3f |%s |\n", v, mr, mp, list
    }
  }' "$data"
