#!/usr/bin/env bash
# The end-to-end harness of issue 5: a server and a client namespace joined by veth, the same
# traffic through each variant, side by side in one run, with repetitions and medians.
#
#   tools/bench/run.sh [--rounds N] [--seconds S] [--only "none ceiling portwalld-10 ..."]
#
# Variants: none (no firewall), kernel (iptables conntrack rules doing the same stateful
# filtering), ceiling (bench/nfq_accept: accept-all NFQUEUE with portwalld's I/O), ceiling+ct
# (the same behind a conntrack match), ceiling-1q and portwalld-1q (one queue and thread instead
# of two), opensnitch (Debian's OpenSnitch, default allow, in the
# client namespace where the connections start), and portwalld (inspect = "full", fail-closed) with 10 rules, 1,000 rules plus a 1,000,000-entry
# address set, and 100,000 rules; portwalld-blocks: 10 rules and 100,000 blocks in the block
# list (addresses, /24s and IPv6 /64s, none the traffic's) restored from a state file;
# blocked-noflood, blocked-flood and blocked-flood-nokernel (issue 20, point 1): 10 rules and
# 1,000 blocked addresses, with no flood, then with a UDP and SYN flood from those 1,000 forged
# sources at the rate the client namespace's packet socket takes (pwload spoof) while the
# allowed client connects, their packets dropped by the kernel set, then by portwalld
# ([daemon] kernel_blocks = false): the client's connections/s and portwalld's CPU share, in a
# table of their own. Figures: new TCP connections/s (64 in flight, 32 client
# addresses), UDP 64-byte datagrams received and inspected per second, TCP single-stream
# throughput (iperf3), request/response latency p50/p99, the daemon's CPU µs per inspected
# packet and its RSS. Writes build/bench/results.md, results.csv and conn_us_vs_rules.png.
# Everything runs in namespaces named pw-bench-*, removed at the end, also on failure.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=3
seconds=4
only=""
while [ $# -gt 0 ]; do
  case $1 in
    --rounds) rounds=$2; shift 2 ;;
    --seconds) seconds=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;  # e.g. "none ceiling portwalld-10": a quick comparison
    *) echo "usage: tools/bench/run.sh [--rounds N] [--seconds S] [--only \"VARIANT ...\"]" >&2
       exit 2 ;;
  esac
done

tools/deps.sh
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
for p in iperf3 gnuplot-nox opensnitch; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' && continue
  # Debian starts a package's service on install; opensnitchd would then divert the host's own
  # traffic. policy-rc.d (exit 101) forbids the start; the service is disabled afterwards.
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "$p" >/dev/null
  [ -n "$made_policy" ] && "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
  [ "$p" = opensnitch ] && { "${sudo[@]}" systemctl disable opensnitch >/dev/null 2>&1 || true; }
done
tools/build.sh >/dev/null

lab=pw-bench
net=5
srv_ip=10.200.$net.1
out=build/bench
work=$(mktemp -d /tmp/portwall-bench.XXXXXX)
mkdir -p "$out"
srv=("${sudo[@]}" ip netns exec "$lab-srv")
cli=("${sudo[@]}" ip netns exec "$lab-cli")
pids=()
cleanup() {
  set +e
  for p in "${pids[@]}"; do "${sudo[@]}" kill -TERM "$p" 2>/dev/null; done
  wait 2>/dev/null
  tools/lab.sh down "$lab"
  "${sudo[@]}" rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT  # through the EXIT trap: cleaned once, and no variant runs after it
trap 'exit 143' TERM

tools/lab.sh up "$lab" "$net"
sources=()
for i in $(seq 10 41); do
  "${sudo[@]}" ip -n "$lab-cli" addr add "10.200.$net.$i/24" dev cli0
  sources+=("10.200.$net.$i")
done

# Servers: TCP accept/echo on 8000, a UDP sink per round (9000), UDP echo on 9001, iperf3 on 5201.
"${srv[@]}" build/pwload serve 8000 & pids+=($!)
"${srv[@]}" build/pwload echo 9001 & pids+=($!)
"${srv[@]}" iperf3 -s -p 5201 >/dev/null 2>&1 & pids+=($!)
sleep 0.5

# --- Rule sets: the ports the traffic uses, after N-4 filler rules in the shape of a real
# server (fail2ban denies, service ports, networks to a database) that never match it.
rules_file() {  # rules_file N [SET]  -> path
  local n=$1 set=${2:-} f="$work/rules-$1${2:+-set}.toml"
  {
    echo '[defaults]'; echo 'incoming = "deny"'; echo 'outgoing = "allow"'
    if [ -n "$set" ]; then
      printf '[[set]]\nname = "blocklist"\nfile = "%s"\n' "$set"
      printf '[[rule]]\naction = "deny"\nfrom = "@blocklist"\n'
    fi
    awk -v n="$n" 'BEGIN {
      for (i = 0; i < n - 4; i++) {
        k = i % 3
        if (k == 0) printf "[[rule]]\naction = \"deny\"\nfrom = \"198.18.%d.%d\"\n", int(i / 256) % 256, i % 256
        else if (k == 1) printf "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"%d\"\n", 10000 + i % 50000
        else printf "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nfrom = \"10.%d.%d.0/24\"\nport = \"5432\"\n", int(i / 256) % 256, i % 256
      }
    }'
    printf '[[rule]]\naction = "allow"\nproto = "tcp"\nport = "8000"\n'
    printf '[[rule]]\naction = "allow"\nproto = "tcp"\nport = "5201"\n'
    printf '[[rule]]\naction = "allow"\nproto = "udp"\nport = "9000"\n'
    printf '[[rule]]\naction = "allow"\nproto = "udp"\nport = "9001"\n'
  } >"$f"
  echo "$f"
}
set_file="$work/blocklist.txt"
awk 'BEGIN { srand(7); for (i = 0; i < 1000000; i++) {
  if (i % 10 == 9) printf "2001:db8:%x:%x::/64\n", int(rand() * 65536), int(rand() * 65536)
  else printf "%d.%d.%d.%d\n", 100 + int(rand() * 100), int(rand() * 256), int(rand() * 256), int(rand() * 256) } }' >"$set_file"

# 100,000 blocks for portwalld-blocks: 80,000 IPv4 addresses, 10,000 /24s and 10,000 IPv6 /64s,
# none of them the traffic's (10.200.0.0/16), a year from now.
blocks_file="$work/blocks-state.json"
awk -v until="$(( ($(date +%s) + 365 * 86400) * 1000 ))" 'BEGIN {
  printf "{\"version\": 1, \"blocks\": ["
  for (i = 0; i < 100000; i++) {
    if (i % 10 == 8) a = sprintf("198.%d.%d.0/24", 51 + int(i / 65536), int(i / 256) % 256)
    else if (i % 10 == 9) a = sprintf("2001:db8:%x:%x::/64", int(i / 65536), i % 65536)
    else a = sprintf("203.%d.%d.%d", int(i / 65536), int(i / 256) % 256, i % 256)
    printf "%s{\"address\": \"%s\", \"reason\": \"manual\", \"expires_unix_ms\": %s}", (i ? "," : ""), a, until
  }
  print "]}"
}' >"$blocks_file"

# 1,000 blocks for the blocked-* variants: the flood's forged sources 10.200.64.0 onwards (on
# the server's link by a route of their own, so that the server takes them in), a day long.
flood_first=10.200.64.0
flood_sources=1000
flood_state="$work/flood-state.json"
awk -v until="$(( ($(date +%s) + 86400) * 1000 ))" -v n="$flood_sources" 'BEGIN {
  printf "{\"version\": 1, \"blocks\": ["
  for (i = 0; i < n; i++)
    printf "%s{\"address\": \"10.200.%d.%d\", \"reason\": \"manual\", \"expires_unix_ms\": %s}", (i ? "," : ""), 64 + int(i / 256), i % 256, until
  print "]}"
}' >"$flood_state"
"${sudo[@]}" ip -n "$lab-srv" route add 10.200.64.0/22 dev srv0
srv_mac=$("${srv[@]}" cat /sys/class/net/srv0/address)

daemon_pid=""
start_variant() {  # start_variant NAME [RULES]
  case $1 in
    none) ;;
    kernel)
      "${srv[@]}" sh -c 'for t in iptables ip6tables; do
        $t -A INPUT -i lo -j ACCEPT
        $t -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
        $t -A INPUT -m conntrack --ctstate INVALID -j DROP
        $t -A INPUT -p tcp -m multiport --dports 8000,5201 --syn -m conntrack --ctstate NEW -j ACCEPT
        $t -A INPUT -p udp --dport 9000:9001 -j ACCEPT
        $t -A INPUT -j DROP
      done' ;;
    ceiling | ceiling+ct | ceiling-1q)
      # ceiling+ct: the same, with the conntrack match portwalld's diversion rules carry (it
      # loads the kernel's connection tracking in the namespace): what that costs by itself.
      # ceiling-1q: one queue and one thread instead of two.
      local ct="" target="--queue-balance 100:101" queues="100 101"
      [ "$1" = ceiling+ct ] && ct="-m conntrack --ctstate INVALID,NEW,RELATED,ESTABLISHED,UNTRACKED"
      [ "$1" = ceiling-1q ] && { target="--queue-num 100"; queues=100; }
      "${srv[@]}" sh -c "for t in iptables ip6tables; do
        \$t -A INPUT -i lo -j ACCEPT; \$t -A OUTPUT -o lo -j ACCEPT
        \$t -A INPUT $ct -j NFQUEUE $target
        \$t -A OUTPUT $ct -j NFQUEUE $target
      done"
      # shellcheck disable=SC2086  # the queue numbers are words
      "${srv[@]}" build/nfq_accept $queues >"$work/nfq.out" 2>"$work/nfq.err" &
      daemon_pid=$!; pids+=("$daemon_pid"); sleep 0.5 ;;
    opensnitch)
      # OpenSnitch is an application firewall for outgoing connections: it runs where the
      # connections start, in the client namespace, with its shipped default-allow
      # configuration (/etc/opensnitchd/default-config.json: DefaultAction "allow") and no UI.
      mkdir -p "$work/osn-rules"
      "${cli[@]}" opensnitchd -rules-path "$work/osn-rules" -queue-num 0 \
        -process-monitor-method proc -log-file "$work/opensnitchd.log" >/dev/null 2>&1 &
      daemon_pid=$!; pids+=("$daemon_pid")
      for _ in $(seq 50); do
        "${cli[@]}" iptables-save | grep -q NFQUEUE && break
        sleep 0.1
      done ;;
    portwalld* | blocked-*)
      local inspect=full state='""' queues="100, 101" kernel_blocks=true
      [ "$1" = portwalld-new ] && inspect=new
      [ "$1" = portwalld-1q ] && queues=100  # one queue and one thread
      if [ "$1" = portwalld-blocks ]; then
        cp "$blocks_file" "$work/state.json"
        state="\"$work/state.json\""
      fi
      if [[ $1 == blocked-* ]]; then
        cp "$flood_state" "$work/state.json"
        state="\"$work/state.json\""
        [ "$1" = blocked-flood-nokernel ] && kernel_blocks=false
      fi
      cat >"$work/portwall.toml" <<CONF
[daemon]
queues = [$queues]
inspect = "$inspect"
fail_open = false
rules = "$2"
socket = "$work/portwall.sock"
state_file = $state
kernel_blocks = $kernel_blocks
[log]
file = "$work/portwall.log"
audit_file = "$work/audit.log"
[scan_detection]
enabled = false
[conntrack]
max_entries = 1048576
[limits]
max_blocks = 200000
CONF
      "${srv[@]}" build/portwalld --config "$work/portwall.toml" 2>"$work/portwalld.err" &
      daemon_pid=$!; pids+=("$daemon_pid")
      for _ in $(seq 600); do
        "${srv[@]}" build/portwall --socket "$work/portwall.sock" status >/dev/null 2>&1 && break
        sleep 0.1
      done ;;
  esac
}
stop_variant() {
  if [ -n "$daemon_pid" ]; then
    "${sudo[@]}" kill -TERM "$daemon_pid"; wait "$daemon_pid" 2>/dev/null || true; daemon_pid=""
  fi
  "${srv[@]}" sh -c 'for t in iptables ip6tables; do $t -F INPUT; $t -F OUTPUT; done'
  "${cli[@]}" sh -c 'for t in iptables ip6tables; do for tb in filter mangle; do
    $t -t $tb -F; $t -t $tb -X; done; done' 2>/dev/null || true
}
inspected() {  # packets the userspace program has received so far
  case $1 in
    ceiling*) "${sudo[@]}" kill -USR1 "$daemon_pid"; sleep 0.2; tail -1 "$work/nfq.out" | awk '{print $2}' ;;
    # counters.received: every queue's (the per-queue figures say "received" too).
    portwalld* | blocked-*) "${srv[@]}" build/portwall --json --socket "$work/portwall.sock" status |
                  /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["counters"]["received"])' ;;
    *) echo 0 ;;
  esac
}
cpu_ticks() { [ -n "$daemon_pid" ] && awk '{print $14 + $15}' "/proc/$daemon_pid/stat" || echo 0; }
rss_kib() { [ -n "$daemon_pid" ] && awk '/VmRSS/ {print $2}' "/proc/$daemon_pid/status" || echo 0; }

csv="$out/results.csv"
echo "variant,rules,round,conn_per_s,udp_rx_pps,udp_inspected_pps,tcp_gbit,rr_p50_us,rr_p99_us,cpu_us_per_pkt,rss_kib,urr_per_s,urr_p50_us,urr_p99_us,urr_inspected_pct" >"$csv"
hz=$(getconf CLK_TCK)
measure() {  # measure VARIANT RULES
  local v=$1 n=$2
  for r in $(seq "$rounds"); do
    conn=$("${cli[@]}" build/pwload conn "$srv_ip" 8000 "$seconds" 64 "${sources[@]}" | awk '{print $2}')
    "${srv[@]}" build/pwload sink 9000 >"$work/sink.out" & sink=$!
    sleep 0.2
    local before_pkts before_cpu after_pkts after_cpu
    before_pkts=$(inspected "$v"); before_cpu=$(cpu_ticks)
    "${cli[@]}" build/pwload udp "$srv_ip" 9000 "$seconds" 64 "${sources[@]}" >/dev/null
    sleep 0.3
    # The CPU first: the status that says what was inspected costs the daemon CPU too (at
    # 100,000 rules about a second of it, which inflated that variant's µs per packet).
    after_cpu=$(cpu_ticks); after_pkts=$(inspected "$v")
    "${sudo[@]}" kill -TERM "$sink"; wait "$sink" || true
    local rx; rx=$(awk '{print $2}' "$work/sink.out")
    local insp=$((after_pkts - before_pkts))
    local cpu_us=0
    [ "$insp" -gt 0 ] && cpu_us=$(awk -v t=$((after_cpu - before_cpu)) -v hz="$hz" -v p="$insp" 'BEGIN {printf "%.2f", t * 1e6 / hz / p}')
    gbit=$("${cli[@]}" iperf3 -c "$srv_ip" -p 5201 -t "$seconds" -J 2>/dev/null |
           awk -F: '/"bits_per_second"/ {v=$2} END {gsub(/[ ,]/, "", v); printf "%.2f", v / 1e9}')
    read -r _ p50 _ p99 < <("${cli[@]}" build/pwload rr "$srv_ip" 8000 5000)
    # UDP request/response (as DNS), 32 flows with one request in flight each: what share of
    # its datagrams the daemon saw (inspect = "new" offloads an answered flow).
    local urr_before urr_after urr up50 up99 urr_pct
    urr_before=$(inspected "$v")
    read -r _ urr _ up50 _ up99 _ _ < <("${cli[@]}" build/pwload urr "$srv_ip" 9001 "$seconds" "${sources[@]}")
    urr_after=$(inspected "$v")
    urr_pct=$(awk -v i=$((urr_after - urr_before)) -v r="$urr" -v s="$seconds" 'BEGIN {if (r > 0) printf "%.1f", 100 * i / (2 * r * s); else print 0}')
    case $v in ceiling* | portwalld*) ;; *) urr_pct=- ;; esac  # no daemon counts them
    echo "$v,$n,$r,$conn,$(awk -v x="$rx" -v s="$seconds" 'BEGIN {printf "%.0f", x / s}'),$(awk -v x="$insp" -v s="$seconds" 'BEGIN {printf "%.0f", x / s}'),$gbit,$p50,$p99,$cpu_us,$(rss_kib),$urr,$up50,$up99,$urr_pct" | tee -a "$csv"
  done
}

flood_csv="$out/flood.csv"
echo "variant,round,conn_per_s,flood_pps,daemon_cpu_pct,kernel_dropped" >"$flood_csv"
kernel_dropped() {  # packets the kernel's set of blocks has dropped since portwalld started
  "${srv[@]}" build/portwall --json --socket "$work/portwall.sock" status |
    /usr/bin/python3 -c 'import json, sys; k = json.load(sys.stdin)["defenses"]["blocks"]["in_kernel"]; print(k["packets_dropped"] if k else 0)'
}
measure_flood() {  # measure_flood VARIANT: portwalld's CPU under the flood alone, then the
  # client's connections/s under it. The flooder stands for other machines: it has the second
  # core to itself (taskset), where the kernel also drops what it sends (veth runs the
  # receiver's stack on the sender's core).
  local v=$1
  for r in $(seq "$rounds"); do
    local spoof="" before_cpu after_cpu cpu conn pps=0 dropped_before dropped
    if [ "$v" != blocked-noflood ]; then
      # blocked-flood-elsewhere: the same frames to a MAC address nobody has: the server's link
      # drops them before IP, so this is what the flooder's core alone costs the client.
      local mac=$srv_mac
      [ "$v" = blocked-flood-elsewhere ] && mac=02:00:00:00:00:01
      "${cli[@]}" taskset -c 1 build/pwload spoof cli0 "$mac" "$srv_ip" "$flood_first" \
        "$flood_sources" "$((2 * seconds + 2))" >"$work/spoof.out" & spoof=$!; pids+=("$spoof")
    fi
    dropped_before=$(kernel_dropped)
    sleep 1
    before_cpu=$(cpu_ticks); sleep "$seconds"; after_cpu=$(cpu_ticks)
    cpu=$(awk -v t=$((after_cpu - before_cpu)) -v hz="$hz" -v s="$seconds" 'BEGIN {printf "%.1f", 100 * t / hz / s}')
    conn=$("${cli[@]}" taskset -c 0 build/pwload conn "$srv_ip" 8000 "$seconds" 64 "${sources[@]}" | awk '{print $2}')
    if [ -n "$spoof" ]; then
      wait "$spoof"
      pps=$(awk '{print $4}' "$work/spoof.out")
      [ -n "$pps" ] || { echo "run.sh: the flood did not run: $(cat "$work/spoof.out")" >&2; exit 1; }
    fi
    dropped=$(( $(kernel_dropped) - dropped_before ))
    echo "$v,$r,$conn,$pps,$cpu,$dropped" | tee -a "$flood_csv"
  done
}

for v in none kernel ceiling ceiling+ct ceiling-1q opensnitch "portwalld 10" "portwalld-1q 10" \
  "portwalld-blocks 10" "portwalld 1000+set" "portwalld 100000" "portwalld-new 1000+set" \
  "blocked-noflood 10" "blocked-flood-elsewhere 10" "blocked-flood 10" "blocked-flood-nokernel 10"; do
  name=${v%% *}
  case $v in
    "portwalld 10" | "portwalld-1q 10" | "portwalld-blocks 10" | blocked-*) rules=$(rules_file 10); n=10 ;;
    "portwalld 1000+set" | "portwalld-new 1000+set") rules=$(rules_file 1000 "$set_file"); n=1000 ;;
    "portwalld 100000") rules=$(rules_file 100000); n=100000 ;;
    *) rules=""; n=0 ;;
  esac
  if [ -n "$only" ] && ! [[ " $only " == *" $(echo "$v" | tr ' ' '-') "* ]]; then continue; fi
  echo "== $v" >&2
  start_variant "$name" "$rules"
  case $name in
    blocked-*) measure_flood "$name" ;;
    *) measure "$(echo "$v" | tr ' ' '-')" "$n" ;;
  esac
  stop_variant
done

# --- Medians (min–max) per variant, ratios to "none" and to "ceiling".
# The median of column c of `key`'s rows (v[key, c, 1..n[key]]), its extremes in lo and hi.
median_fn='
  function med(key, c,   i, j, t, a, m) {
    m = n[key]
    for (i = 1; i <= m; i++) a[i] = v[key, c, i] + 0
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    lo[key, c] = a[1]; hi[key, c] = a[m]
    return a[int((m + 1) / 2)]
  }
'
awk -F, "$median_fn"'
  function ratio(x, y) { if (y > 0 && x > 0) return sprintf("%.2f", x / y); return "-" }
  NR > 1 { key = $1; seen[key] = 1; rules[key] = $2; n[key]++; for (c = 4; c <= 15; c++) v[key, c, n[key]] = $c }
  END {
    split("none kernel ceiling ceiling+ct ceiling-1q opensnitch portwalld-10 portwalld-1q-10 portwalld-blocks-10 portwalld-1000+set portwalld-100000 portwalld-new-1000+set", order, " ")
    for (k = 1; k <= 12; k++) { key = order[k]; if (key in seen) for (c = 4; c <= 15; c++) md[key, c] = med(key, c) }
    print "| variant | rules | conn/s (min–max) | × none | × ceiling | UDP rx pps | UDP inspected pps (min–max) | × ceiling | TCP Gbit/s | × none | RR p50 µs | RR p99 µs | CPU µs/pkt | RSS MiB | UDP RR/s | × none | UDP RR p50 / p99 µs | p50 none / this | UDP RR inspected % |"
    print "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
    for (k = 1; k <= 12; k++) {
      key = order[k]
      if (!(key in seen)) continue
      conn = sprintf("%.0f (%.0f–%.0f)", md[key, 4], lo[key, 4], hi[key, 4])
      insp = "-"
      if (md[key, 6] > 0) insp = sprintf("%.0f (%.0f–%.0f)", md[key, 6], lo[key, 6], hi[key, 6])
      cpu = "-"
      if (md[key, 10] > 0) cpu = sprintf("%.2f", md[key, 10])
      rss = "-"
      if (md[key, 11] > 0) rss = sprintf("%.0f", md[key, 11] / 1024)
      printf "| %s | %s | %s | %s | %s | %.0f | %s | %s | %.2f | %s | %.0f | %.0f | %s | %s | %.0f | %s | %.0f / %.0f | %s | %s |\n", \
        key, rules[key], conn, ratio(md[key, 4], md["none", 4]), ratio(md[key, 4], md["ceiling", 4]), \
        md[key, 5], insp, ratio(md[key, 6], md["ceiling", 6]), md[key, 7], ratio(md[key, 7], md["none", 7]), \
        md[key, 8], md[key, 9], cpu, rss, md[key, 12], ratio(md[key, 12], md["none", 12]), md[key, 13], md[key, 14], \
        ratio(md["none", 13], md[key, 13]), (key ~ /^(ceiling|portwalld)/ ? md[key, 15] : "-")
    }
    if (("opensnitch" in seen) && ("portwalld-1000+set" in seen)) {
      printf "\nportwalld (1,000 rules + 10^6 set) against OpenSnitch in new connections/s: %s ×\n", \
        ratio(md["portwalld-1000+set", 4], md["opensnitch", 4])
    }
  }' "$csv" >"$out/results.md"
# The flood from blocked sources: medians per variant, against no flood and no kernel set.
awk -F, "$median_fn"'
  function ratio(x, y) { if (y > 0) return sprintf("%.2f", x / y); return "-" }
  NR > 1 { key = $1; seen[key] = 1; n[key]++; for (c = 3; c <= 6; c++) v[key, c, n[key]] = $c }
  END {
    if (!("blocked-noflood" in seen)) exit
    split("blocked-noflood blocked-flood-elsewhere blocked-flood blocked-flood-nokernel", order, " ")
    for (k = 1; k <= 4; k++) { key = order[k]; if (key in seen) for (c = 3; c <= 6; c++) md[key, c] = med(key, c) }
    print "\n| blocked sources flooding (1,000 forged, UDP + SYN) | client conn/s | × no flood | × flooder elsewhere | flood pps sent | portwalld CPU %, flood alone | × without the kernel set | portwalld CPU µs per flood packet | dropped in the kernel |"
    print "|---|---|---|---|---|---|---|---|---|"
    for (k = 1; k <= 4; k++) {
      key = order[k]
      if (!(key in seen)) continue
      per = "-"
      if (key == "blocked-flood" || key == "blocked-flood-nokernel") per = sprintf("%.2f", md[key, 5] * 1e4 / md[key, 4])
      printf "| %s | %.0f | %s | %s | %.0f | %.1f | %s | %s | %.0f |\n", key, md[key, 3], ratio(md[key, 3], md["blocked-noflood", 3]), \
        ratio(md[key, 3], md["blocked-flood-elsewhere", 3]), md[key, 4], md[key, 5], \
        (key == "blocked-flood" || key == "blocked-flood-nokernel" ? sprintf("%.3f", md[key, 5] / md["blocked-flood-nokernel", 5]) : "-"), per, md[key, 6]
    }
  }' "$flood_csv" >>"$out/results.md"
cat "$out/results.md"

# --- The plot: connections/s and µs/packet against the rule count (portwalld variants).
awk -F, '$1 ~ /^portwalld-[0-9]/ { print $2, $4, $10 }' "$csv" | sort -n >"$work/plot.dat"
if [ ! -s "$work/plot.dat" ]; then  # --only without a portwalld-N variant: no curve to draw
  echo "wrote $out/results.md, $out/results.csv" >&2
  exit 0
fi
gnuplot <<PLOT
set terminal pngcairo size 900,500 noenhanced
set output "$out/conn_us_vs_rules.png"
set logscale x
set xlabel "rules"
set ylabel "new TCP connections/s"
set y2label "daemon CPU µs per packet"
set y2tics
set yrange [0:*]
set y2range [0:*]
set key bottom left
set title "portwalld (inspect = full): cost against rule count"
plot "$work/plot.dat" using 1:2 with points pt 7 title "connections/s", \
     "$work/plot.dat" using 1:3 axes x1y2 with points pt 5 title "CPU µs/packet"
PLOT
echo "wrote $out/results.md, $out/results.csv, $out/conn_us_vs_rules.png" >&2
