#!/usr/bin/env bash
# The lab demo: portwalld with the shipped default rules (rules/default.toml) inside a
# network namespace, real traffic from a second namespace allowed and blocked, the decision
# log shown, and everything removed at the end, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
tools/build.sh

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
lab=pw-demo
srv=("${sudo[@]}" ip netns exec "$lab-srv")
cli=("${sudo[@]}" ip netns exec "$lab-cli")
cl2=("${sudo[@]}" ip netns exec "$lab-cl2")
work=$(mktemp -d /tmp/portwall-demo.XXXXXX)
daemon_pid=""
listener_pids=()

cleanup() {
  set +e
  if [ -n "$daemon_pid" ]; then "${sudo[@]}" kill -TERM "$daemon_pid" 2>/dev/null; wait "$daemon_pid" 2>/dev/null; fi
  for p in "${listener_pids[@]}"; do "${sudo[@]}" kill "$p" 2>/dev/null; done
  tools/lab.sh down "$lab"
  "${sudo[@]}" rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT  # through the EXIT trap: cleaned once, and the demo goes no further
trap 'exit 143' TERM

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "lab: namespaces $lab-srv (10.200.1.1, fd00:200:1::1), $lab-cli (10.200.1.2), $lab-cl2 (10.200.1.130)"
tools/lab.sh up "$lab" 1

# A copy of the shipped rules: the demo changes rules live, and must not edit the repository.
cp rules/default.toml "$work/rules.toml"
cat >"$work/portwall.toml" <<CONF
[daemon]
queues = [100, 101]
rules = "$work/rules.toml"
socket = "$work/portwall.sock"
state_file = "$work/state.json"
[log]
file = "$work/portwall.log"
audit_file = "$work/audit.log"
[[knock]]
name = "web"
sequence = ["7000/tcp", "8000/udp", "9000/tcp"]
open = "8080/tcp"
duration = "30s"
CONF

step "portwalld --config $work/portwall.toml (rules: rules/default.toml)"
sed -n '/^\[/,$p' rules/default.toml | grep -v '^#' | sed 's/^/    /'
"${srv[@]}" build/portwalld --config "$work/portwall.toml" &
daemon_pid=$!
for _ in $(seq 50); do
  "${srv[@]}" build/portwall --socket "$work/portwall.sock" status >/dev/null 2>&1 && break
  sleep 0.1
done
"${srv[@]}" build/portwall --socket "$work/portwall.sock" status numbered

step "servers in $lab-srv: tcp/22 (ssh, allowed), tcp/8080 (not allowed, opened by a knock)"
for port in 22 8080; do
  "${srv[@]}" timeout 60 nc -lk "$port" >/dev/null 2>&1 &
  listener_pids+=($!)
done
sleep 0.3

probe() {  # probe LABEL nc-args...   (from $lab-cli; PROBE_NS=... for another namespace)
  local label=$1; shift
  if "${sudo[@]}" ip netns exec "${PROBE_NS:-$lab-cli}" timeout 5 nc "$@" >/dev/null 2>&1; then
    printf '  %-44s connected\n' "$label"
  else
    printf '  %-44s blocked\n' "$label"
  fi
}
step "traffic from $lab-cli"
probe "tcp 10.200.1.2 -> 10.200.1.1:22" -z -w 2 10.200.1.1 22
probe "tcp 10.200.1.2 -> 10.200.1.1:8080" -z -w 2 10.200.1.1 8080
probe "tcp [fd00:200:1::2] -> [fd00:200:1::1]:8080" -6 -z -w 2 fd00:200:1::1 8080
step "outgoing from $lab-srv (allowed by default; replies pass by state)"
"${cli[@]}" timeout 10 nc -l 10.200.1.2 9000 >/dev/null 2>&1 &
listener_pids+=($!)
sleep 0.2
if "${srv[@]}" timeout 5 nc -z -w 2 10.200.1.2 9000; then
  echo "  tcp 10.200.1.1 -> 10.200.1.2:9000              connected"
else
  echo "  tcp 10.200.1.1 -> 10.200.1.2:9000              blocked"
fi

step "live change: portwall allow 8080/tcp (ssh connections stay up)"
pw=("${srv[@]}" build/portwall --socket "$work/portwall.sock")
"${pw[@]}" allow 8080/tcp comment demo
probe "tcp 10.200.1.2 -> 10.200.1.1:8080" -z -w 2 10.200.1.1 8080
"${pw[@]}" explain tcp 10.200.1.2:40000 '->' 10.200.1.1:8080
"${pw[@]}" delete allow 8080/tcp
probe "tcp 10.200.1.2 -> 10.200.1.1:8080" -z -w 2 10.200.1.1 8080

step "port knocking: knockd's knock client opens 8080/tcp for $lab-cli only"
probe "tcp 10.200.1.2 -> 10.200.1.1:8080" -z -w 2 10.200.1.1 8080
"${cli[@]}" knock -d 100 10.200.1.1 7000 8000:udp 9000 && echo "  knock 10.200.1.1 7000 8000:udp 9000"
probe "tcp 10.200.1.2 -> 10.200.1.1:8080" -z -w 2 10.200.1.1 8080
PROBE_NS=$lab-cl2 probe "tcp 10.200.1.130 -> 10.200.1.129:8080 ($lab-cl2)" -z -w 2 10.200.1.129 8080

step "scan detection: nmap -sS from $lab-cl2 (10.200.1.130) gets it blocked"
"${cl2[@]}" timeout 30 nmap -sS -T4 -Pn -n --max-retries 1 --host-timeout 5s -p 1-40 10.200.1.129 |
  grep -E "^(Nmap done|[0-9]+/tcp)" | sed 's/^/  /' || true
"${pw[@]}" blocked list
PROBE_NS=$lab-cl2 probe "tcp 10.200.1.130 -> 10.200.1.129:22 ($lab-cl2)" -z -w 2 10.200.1.129 22
probe "tcp 10.200.1.2 -> 10.200.1.1:22 (the other client)" -z -w 2 10.200.1.1 22

step "status"
"${srv[@]}" build/portwall --socket "$work/portwall.sock" status verbose

step "decision log ($work/portwall.log)"
sleep 1.2  # the writer flushes at least once a second
cat "$work/portwall.log"
step "audit log ($work/audit.log)"
cat "$work/audit.log"

step "SIGTERM: portwalld removes its rules"
"${sudo[@]}" kill -TERM "$daemon_pid"
wait "$daemon_pid" && echo "  portwalld exited 0"
daemon_pid=""
left=$("${srv[@]}" sh -c 'iptables-save; ip6tables-save' | grep -c PORTWALL || true)
echo "  portwall rules left in $lab-srv: $left"
step "done: removing the lab"
