#!/usr/bin/env bash
# The guest side of tools/bench/flood-vs-kernel.sh: run inside the throwaway qemu guest of
# tools/vm-lab.sh (its own kernel, so that nf_conntrack_max, global and read-only in a child
# namespace, can be set), never on a host.
#   tools/bench/flood-guest.sh BIN_DIR RESULTS_DIR LEGIT_RATE ROUNDS SPOOF_RATE VARIANT...
# BIN_DIR holds portwalld and portwall. VARIANTs, each in a fresh lab (tools/lab.sh pw-fk:
# pw-fk-srv 10.200.240.1 and .129, flood source pw-fk-cli 10.200.240.2, legit client
# pw-fk-cl2 10.200.240.130), the server listening on 8080/tcp (backlog 4096, syncookies as the
# kernel has them):
#   kernel         iptables stateful rules in pw-fk-srv (ESTABLISHED,RELATED accept, INVALID
#                  drop, 8080 --syn NEW accept, policy DROP), nf_conntrack_max = 1024, the
#                  hash buckets as the guest's kernel sized them
#   kernel-b1024   the same with nf_conntrack_buckets = 1024 too (what the kernel picks for
#                  itself on a machine whose max is 1024: early_drop looks at 8 buckets)
#   portwalld      portwalld in pw-fk-srv, [conntrack] max_entries = 1024, 8080/tcp allowed,
#                  default deny incoming, fail_open = false, backend = "iptables" (its rules
#                  use no kernel conntrack, so its own table is the only one), queues 100 and
#                  101 (512 entries each; --queue-balance hashes the address pair with a seed
#                  drawn at boot, so whether phase 1's one source shares the legit client's
#                  queue changes from boot to boot: the per-queue counts show it)
#   portwalld-nft  the same with backend = "nftables" (Debian's default pick: its `ct state`
#                  turns kernel conntrack on, so the kernel's 1024 entries sit in front)
#   portwalld-1q   portwalld with one queue (queues = [100]): one thread, one 1024-entry
#                  table, which every flood shares with the legit client
# Each: 3 s before; phase 1, 5 s of `hping3 --flood -S` from pw-fk-cli's one address; 5 s
# after; phase 2, 20,000 SYNs from 200 spoofed sources (10.200.241.1-200, prebuilt frames,
# SPOOF_RATE a second, 4000: over 5 s; 0: as fast as they go; at most 30 s; the server's
# SYN-ACKs to them are routed to pw-fk-cli, which drops them);
# 10 s after. Meanwhile pw-fk-cl2 makes LEGIT_RATE new connections a second (1 s timeout each;
# 0: back to back) and an established connection exchanges a message every 100 ms. Each
# variant runs ROUNDS times, interleaved. Prints each run's phases and the summary.
set -euo pipefail

# It sets the kernel's global nf_conntrack_max and buckets: only in vm-lab's guest, which has
# this file (tools/vm-lab.sh writes it), never on a machine of anyone's.
if [ ! -f /var/lib/vm-lab/command ]; then
  echo "flood-guest: not in tools/vm-lab.sh's guest: refusing to change the kernel's conntrack" \
    "settings; run tools/bench/flood-vs-kernel.sh" >&2
  exit 2
fi

usage="usage: flood-guest.sh BIN_DIR RESULTS_DIR LEGIT_RATE ROUNDS SPOOF_RATE VARIANT..."
bin=$(cd "${1:?$usage}" && pwd)
res=${2:?$usage}
legit_rate=${3:?$usage}
rounds=${4:?$usage}
spoof_rate=${5:?$usage}
shift 5
[ $# -gt 0 ] || { echo "flood-guest: no variant" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
peer=$here/flood-peer.py
lab=pw-fk
net=240
spoof_net=241
port=8080
srv_ip=10.200.$net.1        # pw-fk-srv on the flood side (srv0)
srv_ip2=10.200.$net.129     # pw-fk-srv on the legit client's side (srv1)
# Phase lengths and the flood's size (seconds; frames).
before=3 flood1=5 after1=5 after2=10
spoof_addresses=200 spoof_per_address=100
max_entries=1024

mkdir -p "$res"
now() { date +%s.%N; }
in_srv() { ip netns exec "$lab-srv" "$@"; }
in_cli() { ip netns exec "$lab-cli" "$@"; }
in_cl2() { ip netns exec "$lab-cl2" "$@"; }

pids=()
daemon_pid=
cleanup() {
  # Only what this script started, by its pids; then the lab (its namespaces and every rule in
  # them). The guest is thrown away anyway.
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
    daemon_pid=
  fi
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  pids=()
  "$src/tools/lab.sh" down "$lab" >/dev/null 2>&1 || true
}
trap cleanup EXIT

modprobe nf_conntrack
default_buckets=$(cat /proc/sys/net/netfilter/nf_conntrack_buckets)
echo "flood-guest: kernel $(uname -r), $(nproc) CPUs, nf_conntrack_max" \
  "$(cat /proc/sys/net/netfilter/nf_conntrack_max) and buckets $default_buckets by default;" \
  "hping3 $(command -v hping3 >/dev/null && echo present || echo MISSING)"
sysctl -qw net.netfilter.nf_conntrack_max=$max_entries

run_variant() {  # run_variant VARIANT ROUND
  local v=$1 d=$res/$1.r$2
  rm -rf "$d"
  mkdir -p "$d"
  local title label notes=()
  SECONDS=0
  "$src/tools/lab.sh" up "$lab" "$net"
  # The spoofed sources' answers go to pw-fk-cli, which does not forward: they die there.
  in_srv ip route add "10.200.$spoof_net.0/24" via "10.200.$net.2"
  # Back-to-back connects leave TIME_WAITs behind: ports enough for the whole run.
  in_cl2 sysctl -qw net.ipv4.ip_local_port_range="1024 65000"

  local buckets=$default_buckets
  [ "$v" = kernel-b1024 ] && buckets=1024
  if [ "$(cat /proc/sys/net/netfilter/nf_conntrack_buckets)" != "$buckets" ]; then
    sysctl -qw net.netfilter.nf_conntrack_buckets="$buckets"
  fi
  local cfg="" sample_cmd=()
  case $v in
    kernel | kernel-b1024)
      in_srv iptables -A INPUT -i lo -j ACCEPT
      in_srv iptables -A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
      in_srv iptables -A INPUT -m conntrack --ctstate INVALID -j DROP
      in_srv iptables -A INPUT -p tcp --dport $port --syn -m conntrack --ctstate NEW -j ACCEPT
      in_srv iptables -P INPUT DROP
      title="kernel conntrack, iptables stateful rules, nf_conntrack_max $max_entries"
      label="kernel, $buckets buckets"
      notes+=("\"nf_conntrack_max\": $(cat /proc/sys/net/netfilter/nf_conntrack_max)"
        "\"nf_conntrack_buckets\": $(cat /proc/sys/net/netfilter/nf_conntrack_buckets)"
        "\"iptables\": \"$(in_srv iptables -S INPUT | tr '\n' ';' | sed 's/;$//')\"")
      ;;
    portwalld | portwalld-nft | portwalld-1q)
      local backend=iptables queues="100, 101"
      [ "$v" = portwalld-nft ] && backend=nftables
      [ "$v" = portwalld-1q ] && queues=100
      cat >"$d/rules.toml" <<EOF
[defaults]
incoming = "deny"
[[rule]]
action = "allow"
proto = "tcp"
port = "$port"
EOF
      cfg=$d/portwall.toml
      cat >"$cfg" <<EOF
[daemon]
queues = [$queues]
backend = "$backend"
fail_open = false
rules = "$d/rules.toml"
socket = "$d/portwall.sock"
state_file = "$d/state.json"
[log]
file = "$d/portwall.log"
audit_file = "$d/audit.log"
[conntrack]
max_entries = $max_entries
EOF
      # `ip netns exec` execs portwalld in place: $! is portwalld's pid.
      ip netns exec "$lab-srv" "$bin/portwalld" --config "$cfg" 2>"$d/portwalld.err" &
      daemon_pid=$!
      local up=0
      for _ in $(seq 150); do
        if in_srv "$bin/portwall" --config "$cfg" --socket "$d/portwall.sock" status >/dev/null 2>&1; then
          up=1; break
        fi
        kill -0 "$daemon_pid" 2>/dev/null || break
        sleep 0.2
      done
      if [ $up = 0 ]; then
        echo "flood-guest: $v: portwalld did not start: $(cat "$d/portwalld.err")"
        return 1
      fi
      sample_cmd=("$bin/portwall" --config "$cfg" --socket "$d/portwall.sock" --json status)
      title="portwalld, [conntrack] max_entries = $max_entries, backend $backend, queues [$queues], fail_open false"
      label="portwalld, backend $backend"
      [ "$v" = portwalld-1q ] && label="portwalld, $backend, 1 queue"
      notes+=("\"portwalld\": \"$(sha256sum "$bin/portwalld" | cut -c1-16) $(date -u -r "$bin/portwalld" +%FT%TZ)\""
        "\"diversion\": \"$(grep -o 'diverting[^\"]*' "$d/portwalld.err" | head -n 1)\""
        "\"nf_conntrack_max\": $(cat /proc/sys/net/netfilter/nf_conntrack_max)")
      ;;
    *) echo "flood-guest: unknown variant $v" >&2; return 2 ;;
  esac

  # The server, the sampler, the legit client.
  ip netns exec "$lab-srv" python3 "$peer" server $port 300 2>"$d/server.err" &
  pids+=($!)
  for _ in $(seq 100); do
    in_srv ss -Hltn "sport = :$port" | grep -q . && break
    sleep 0.1
  done
  ip netns exec "$lab-srv" python3 "$peer" sample "$d/samples" "$d/stop" 0.5 200 \
    "${sample_cmd[@]}" 2>"$d/sampler.err" &
  local sampler=$!
  pids+=("$sampler")
  ip netns exec "$lab-cl2" python3 "$peer" legit "$srv_ip2" $port "$legit_rate" "$d/events" "$d/ready" \
    "$d/stop" 200 2>"$d/legit.err" &
  local client=$!
  pids+=("$client")
  for _ in $(seq 150); do
    [ -e "$d/ready" ] && break
    kill -0 "$client" 2>/dev/null || break
    sleep 0.2
  done
  if [ ! -e "$d/ready" ]; then
    echo "flood-guest: $v: the legit client never connected: $(cat "$d/legit.err")"
    return 1
  fi
  local setup=$SECONDS
  local full0
  full0=$(dmesg | grep -c 'table full, dropping packet' || true)

  local t0 t1 t2 t3 t4 t5
  t0=$(now)
  sleep $before
  # Phase 1: hping3's flood from the one address of pw-fk-cli, 5 s.
  local tx0 tx1
  tx0=$(in_cli cat /sys/class/net/cli0/statistics/tx_packets)
  t1=$(now)
  in_cli timeout -k 3 -s INT $flood1 hping3 --flood -S -p $port "$srv_ip" >"$d/hping3.out" 2>&1 || true
  t2=$(now)
  tx1=$(in_cli cat /sys/class/net/cli0/statistics/tx_packets)
  local hsent
  hsent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$d/hping3.out" | tail -n 1)
  sleep $after1
  # Phase 2: the spoofed sources (the frames are built first; the phase is their sending).
  local smac dmac
  smac=$(in_cli cat /sys/class/net/cli0/address)
  dmac=$(in_srv cat /sys/class/net/srv0/address)
  local spoof_out
  spoof_out=$(in_cli timeout -k 3 60 python3 "$peer" spoof cli0 "$smac" "$dmac" "$srv_ip" $port \
    $spoof_net $spoof_addresses $spoof_per_address "$spoof_rate" 30) || true
  echo "$spoof_out" >"$d/spoof.out"
  t3=$(sed -n 's/.*"start": \([0-9.]*\).*/\1/p' <<<"$spoof_out")
  t4=$(sed -n 's/.*"end": \([0-9.]*\).*/\1/p' <<<"$spoof_out")
  local ssent
  ssent=$(sed -n 's/.*"sent": \([0-9]*\).*/\1/p' <<<"$spoof_out")
  if [ -z "$t3" ] || [ -z "$t4" ]; then
    echo "flood-guest: $v: the spoofed flood failed: $spoof_out"
    t3=$(now) t4=$t3 ssent=0
  fi
  sleep $after2
  t5=$(now)

  touch "$d/stop"
  for _ in $(seq 50); do
    kill -0 "$client" 2>/dev/null || kill -0 "$sampler" 2>/dev/null || break
    sleep 0.2
  done
  if [ -n "$cfg" ]; then
    in_srv "$bin/portwall" --config "$cfg" --socket "$d/portwall.sock" --json status \
      >"$d/status-end.json" 2>&1 || true
    # What portwalld's decision log says about the legit client's packets (drops are logged,
    # at most max_lines_per_second: a lower bound).
    local legit_log
    legit_log=$(grep -E "(SRC|DST)=10\.200\.$net\.130 " "$d/portwall.log" 2>/dev/null |
      sed -n 's/.*ACTION=\([A-Z]*\) .*REASON=\([a-z-]*\) DIR=\([a-z]*\) .*FLAGS=\([A-Z]*\).*/\1 \2 \3 \4/p' |
      sort | uniq -c | sort -rn | awk '{printf "%s%sx %s %s %s %s", (NR > 1 ? "; " : ""), $1, $2, $3, $4, $5}')
    notes+=("\"logged packets of the legit client (count action reason dir flags)\": \"${legit_log:-none}\""
      "\"log lines\": $(wc -l <"$d/portwall.log" 2>/dev/null || echo 0)")
  fi
  in_srv cat /proc/net/stat/nf_conntrack >"$d/nf_conntrack-stat-end" 2>/dev/null || true
  local full1
  full1=$(dmesg | grep -c 'table full, dropping packet' || true)
  notes+=("\"setup_seconds\": $setup"
    "\"kernel log lines 'table full, dropping packet' (rate-limited)\": $((full1 - full0))")

  {
    echo "{\"title\": \"$title\", \"label\": \"$label\", \"legit_rate\": $legit_rate,"
    echo " \"notes\": {$(IFS=,; echo "${notes[*]}")},"
    echo " \"phases\": ["
    echo "  {\"name\": \"before\", \"start\": $t0, \"end\": $t1},"
    echo "  {\"name\": \"flood 1 addr\", \"start\": $t1, \"end\": $t2, \"flood\":" \
      "{\"hping3 packets transmitted\": ${hsent:-null}, \"cli0 tx packets (its RSTs too)\": $((tx1 - tx0))}},"
    echo "  {\"name\": \"after flood 1\", \"start\": $t2, \"end\": $t3},"
    echo "  {\"name\": \"spoofed x200\", \"start\": $t3, \"end\": $t4, \"flood\":" \
      "{\"SYNs sent\": ${ssent:-0}, \"sources\": $spoof_addresses, \"paced at\": \"$spoof_rate/s\"}},"
    echo "  {\"name\": \"after spoofed\", \"start\": $t4, \"end\": $t5}"
    echo "]}"
  } >"$d/meta.json"
  cleanup
  echo "flood-guest: $v round $2 done in $SECONDS s (setup $setup s)"
}

started=$(date +%s)
status=0
# The rounds interleaved (every variant once, then again), so that a slow spell of the host
# does not fall on one variant only.
for round in $(seq "$rounds"); do
  for v in "$@"; do
    run_variant "$v" "$round" || { status=1; cleanup; }
  done
done
python3 "$peer" report "$res" "$rounds" "$@" || status=1
echo "flood-guest: $(($(date +%s) - started)) s in the guest"
exit $status
