#!/usr/bin/env bash
# The control plane at scale (issue 18, B9): portwalld with 100,000 rules, the first of which
# denies a 10^6-entry set kept in its own file, and 100,000 manual blocks in its state file,
# in a lab of its own (pw-ctl-*). Prints how long it takes to be ready, to answer status
# (--json, complete), to make CLI changes, to reload unchanged and with one rule changed by
# hand, and the daemon's RSS. Goals: ready < 3 s, a reload with one rule changed < 1 s, a CLI
# change answered < 200 ms, status --json complete and valid.
#
#   tools/bench/control.sh [--build DIR] [--rounds N]
set -euo pipefail
cd "$(dirname "$0")/../.."
build=build
rounds=3
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    *) echo "usage: tools/bench/control.sh [--build DIR] [--rounds N]" >&2; exit 2 ;;
  esac
done
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
lab=pw-ctl-$$
net=$((150 + $$ % 50))
work=$(mktemp -d /tmp/pw-control.XXXXXX)
pid=""
cleanup() {
  if [ -n "$pid" ]; then "${sudo[@]}" kill -TERM "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  tools/lab.sh down "$lab" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
tools/lab.sh up "$lab" "$net" >/dev/null

awk 'BEGIN { srand(7); for (i = 0; i < 1000000; i++) {
  if (i % 10 == 9) printf "2001:db8:%x:%x::/64\n", int(rand() * 65536), int(rand() * 65536)
  else printf "%d.%d.%d.%d\n", 100 + int(rand() * 100), int(rand() * 256), int(rand() * 256), int(rand() * 256) } }' >"$work/blocklist.txt"
{
  printf '[defaults]\nincoming = "deny"\noutgoing = "allow"\n'
  printf '[[set]]\nname = "blocklist"\nfile = "blocklist.txt"\n[[rule]]\naction = "deny"\nfrom = "@blocklist"\n'
  awk 'BEGIN { for (i = 0; i < 99998; i++) { k = i % 3
    if (k == 0) printf "[[rule]]\naction = \"deny\"\nfrom = \"198.18.%d.%d\"\n", int(i / 256) % 256, i % 256
    else if (k == 1) printf "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nport = \"%d\"\n", 10000 + i % 50000
    else printf "[[rule]]\naction = \"allow\"\nproto = \"tcp\"\nfrom = \"10.%d.%d.0/24\"\nport = \"5432\"\n", int(i / 256) % 256, i % 256 } }'
  printf '[[rule]]\naction = "allow"\nproto = "tcp"\nport = "22"\n'
} >"$work/rules.toml"
awk 'BEGIN { printf "{\"version\": 1, \"blocks\": ["; for (i = 0; i < 100000; i++) printf "%s{\"address\": \"198.%d.%d.%d\", \"reason\": \"manual\", \"expires_unix_ms\": 0}", (i ? ", " : ""), 20 + int(i / 65536), int(i / 256) % 256, i % 256; printf "], \"used_one_time_sequences\": []}\n" }' >"$work/state.json"
cat >"$work/portwall.toml" <<CONF
[daemon]
queues = [100, 101]
rules = "$work/rules.toml"
socket = "$work/portwall.sock"
state_file = "$work/state.json"
[log]
file = "$work/portwall.log"
audit_file = "$work/audit.log"
[limits]
max_blocks = 200000
CONF
srv=("${sudo[@]}" ip netns exec "$lab-srv")
# The CLI runs where an administrator runs it: the control socket is a file, reached from any
# network namespace.
cli() { "${sudo[@]}" "$build/portwall" --config "$work/portwall.toml" --socket "$work/portwall.sock" "$@"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
# One figure: NAME, then the command; its time, exit code and first words.
timed() {
  local name=$1; shift
  local s; s=$(now)
  local out rc=0
  out=$("$@" 2>&1) || rc=$?
  printf '%-36s %7s s  rc=%s  %s\n' "$name" "$(since "$s")" "$rc" "$(head -1 <<<"$out" | cut -c1-60)"
}

for round in $(seq "$rounds"); do
  echo "== round $round: 100,000 rules + a 10^6-entry set file + 100,000 blocks"
  : >"$work/err"
  s=$(now)
  "${srv[@]}" "$build/portwalld" --config "$work/portwall.toml" 2>"$work/err" >/dev/null &
  pid=$!
  for _ in $(seq 1500); do grep -q "portwalld: ready" "$work/err" && break; sleep 0.02; done
  printf '%-36s %7s s\n' "ready (\"portwalld: ready\" said)" "$(since "$s")"
  timed "allow 7777/tcp" cli allow 7777/tcp
  timed "insert 5 deny 6666/udp" cli insert 5 deny 6666/udp
  timed "delete 5" cli delete 5
  timed "delete allow 7777/tcp" cli delete allow 7777/tcp
  timed "reload (nothing changed)" cli reload
  sed -i '0,/port = "10001"/s//port = "10002"/' "$work/rules.toml"
  timed "reload (one rule changed by hand)" cli reload
  sed -i '0,/port = "10002"/s//port = "10001"/' "$work/rules.toml"
  timed "allow after a hand edit (re-read)" cli allow 7778/tcp
  timed "delete allow 7778/tcp" cli delete allow 7778/tcp
  # Changes in a row, as a script or fail2ban makes them: the median of ten.
  for i in $(seq 10); do
    s=$(now); cli allow 7779/tcp >/dev/null; echo "$(since "$s")"
    s=$(now); cli delete allow 7779/tcp >/dev/null; echo "$(since "$s")"
  done | sort -n | awk '{ v[NR] = $1 } END { printf "%-36s %7s s  (min %s, max %s of %d)\n",
    "change, median of a series", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
  s=$(now)
  bytes=$(cli --json status | "${sudo[@]}" python3 -c 'import json, sys; d = json.load(sys.stdin); print(len(d["rules"]), "rules,", end=" ")' && echo valid)
  printf '%-36s %7s s  %s\n' "status --json (parsed)" "$(since "$s")" "$bytes"
  timed "blocked add 203.0.113.77" cli blocked add 203.0.113.77
  echo "RSS: $(awk '/VmRSS/ {print $2 / 1024 " MiB"}' /proc/$pid/status)"
  "${sudo[@]}" kill -TERM "$pid"
  rc=0; wait "$pid" || rc=$?; pid=""
  [ "$rc" -eq 0 ] || { echo "portwalld exited $rc"; tail -5 "$work/err"; exit 1; }
done
