#!/usr/bin/env bash
# The nftables suite's guest side: run by tests/nft/nft_test.sh inside the qemu guest of
# tools/vm-lab.sh (Debian's kernel, which has nft_queue), never on a host.
#   tests/nft/guest.sh BUILD_DIR GTEST_FILTER
# First a preflight that shows the nftables backend really filters here: portwalld with
# backend = "nftables" in a lab, its "diverting ... with nftables" line, `table inet portwall`
# with the queue statement, packets counted by that rule, an allowed port open and a denied one
# dropped, the table gone after SIGTERM. Then the wire tests of GTEST_FILTER, every test
# daemon with backend = "nftables" (PORTWALL_TEST_BACKEND, read by tests/integration/lab.cc;
# an explicit backend never falls back to iptables: a refused table stops the daemon).
set -euo pipefail

build=${1:?usage: guest.sh BUILD_DIR GTEST_FILTER}
filter=${2:?usage: guest.sh BUILD_DIR GTEST_FILTER}
src=$(cd "$(dirname "$0")/../.." && pwd)

fail() {
  echo "nft preflight: FAILED: $*"
  exit 1
}

SECONDS=0
modprobe nft_queue || fail "modprobe nft_queue"
echo "nft preflight: kernel $(uname -r), nft_queue loaded"

# --- preflight -----------------------------------------------------------------------------
lab=pw-nftpre
net=230  # the wire tests' labs use 10.200.10-209
pre=$(mktemp -d /tmp/nft-preflight.XXXXXX)
daemon_pid=
listeners=()
preflight_cleanup() {
  [ -z "$daemon_pid" ] || kill -TERM "$daemon_pid" 2>/dev/null || true
  for pid in "${listeners[@]}"; do kill "$pid" 2>/dev/null || true; done
  "$src/tools/lab.sh" down "$lab" || true
  rm -rf "$pre"
}
trap preflight_cleanup EXIT
"$src/tools/lab.sh" up "$lab" "$net"
srv=10.200.$net.1
cat >"$pre/rules.toml" <<'EOF'
[defaults]
incoming = "deny"
[[rule]]
action = "allow"
proto = "tcp"
port = "22"
EOF
cat >"$pre/portwall.toml" <<EOF
[daemon]
queues = [100, 101]
backend = "nftables"
rules = "$pre/rules.toml"
socket = "$pre/portwall.sock"
state_file = "$pre/state.json"
[log]
file = "$pre/portwall.log"
audit_file = "$pre/audit.log"
EOF
in_srv() { ip netns exec "$lab-srv" "$@"; }
in_cli() { ip netns exec "$lab-cli" "$@"; }
pw() { in_srv "$build/portwall" --config "$pre/portwall.toml" --socket "$pre/portwall.sock" "$@"; }
# Not through in_srv: a function in the background is a subshell, and $! would be its pid;
# `ip netns exec` execs portwalld in place, so $! is portwalld's.
ip netns exec "$lab-srv" "$build/portwalld" --config "$pre/portwall.toml" 2>"$pre/portwalld.err" &
daemon_pid=$!
for _ in $(seq 100); do
  pw status >/dev/null 2>&1 && break
  kill -0 "$daemon_pid" 2>/dev/null || fail "portwalld exited: $(cat "$pre/portwalld.err")"
  sleep 0.1
done
pw status >/dev/null || fail "portwalld never answered: $(cat "$pre/portwalld.err")"
grep -q 'diverting to queue(s) 100-101 with nftables' "$pre/portwalld.err" ||
  fail "portwalld did not say it diverts with nftables: $(cat "$pre/portwalld.err")"
table=$(in_srv nft list table inet portwall) || fail "no table inet portwall"
[ "$(grep -c 'queue flags bypass to 100-101' <<<"$table")" = 2 ] ||
  fail "table inet portwall has not its two queue rules: $table"
if in_srv iptables-save | grep -q PORTWALL; then fail "iptables chains of portwall exist"; fi
for port in 22 2323; do
  ip netns exec "$lab-srv" nc -lk "$srv" "$port" >/dev/null 2>&1 &
  listeners+=($!)
done
sleep 0.3
in_cli nc -z -w 3 "$srv" 22 || fail "allowed 22/tcp did not connect"
if in_cli nc -z -w 1 "$srv" 2323; then fail "denied 2323/tcp connected"; fi
queued=$(in_srv nft list chain inet portwall input | sed -n 's/.*counter packets \([0-9]*\) .*queue.*/\1/p')
[ "${queued:-0}" -ge 2 ] || fail "the nft queue rule counted ${queued:-no} packets"
# grep rather than python: a python start costs a second under TCG.
counters=$(pw --json status | tr -d ' \n' | grep -o '"counters":{[^}]*}')
accepted=$(grep -o '"accepted":[0-9]*' <<<"$counters" | head -n 1 | cut -d: -f2)
dropped=$(grep -o '"dropped":[0-9]*' <<<"$counters" | head -n 1 | cut -d: -f2)
if [ "${accepted:-0}" -lt 1 ] || [ "${dropped:-0}" -lt 1 ]; then
  fail "portwalld counted accepted=${accepted:-?} dropped=${dropped:-?}"
fi
kill -TERM "$daemon_pid"
code=0
wait "$daemon_pid" || code=$?
daemon_pid=
[ "$code" = 0 ] || fail "portwalld exited $code on SIGTERM: $(cat "$pre/portwalld.err")"
if in_srv nft list table inet portwall >/dev/null 2>&1; then
  fail "table inet portwall is still there after SIGTERM"
fi
echo "nft preflight: ok: portwalld diverted with nftables (table inet portwall, its input queue" \
  "rule counted $queued packets), 22/tcp allowed, 2323/tcp dropped ($accepted accepted," \
  "$dropped dropped), the table removed at SIGTERM ($SECONDS s)"
preflight_cleanup
trap - EXIT

# --- the wire tests on nftables -----------------------------------------------------------
cd "$build"
PORTWALL_TEST_BACKEND=nftables "$build/integration_tests" --gtest_filter="$filter" --gtest_color=no
