#!/usr/bin/env bash
# Issue 16, point 2: the same SYN flood against kernel conntrack (nf_conntrack_max = 1024,
# iptables stateful rules) and against portwalld ([conntrack] max_entries = 1024), side by
# side: legit connects/s under the flood, established round trips, table sizes, evictions.
#
#   tools/bench/flood-vs-kernel.sh [--build DIR] [--variants "V..."] [--rounds N]
#                                  [--legit-rate N] [--spoof-rate N]
#
# nf_conntrack_max is global and read-only in a child namespace, and the machine's own
# firewall and conntrack settings are never touched: so both sides run in the throwaway qemu
# guest of tools/vm-lab.sh (Debian's kernel; tools/bench/flood-guest.sh describes the lab, the
# variants and the phases). Variants (all four by default): kernel (nf_conntrack_max 1024, the
# hash buckets as the guest's kernel sized them), kernel-b1024 (1024 buckets too), portwalld
# (backend iptables: no kernel conntrack), portwalld-nft (backend nftables: its `ct state`
# puts the kernel's 1024 entries in front of portwalld's); and portwalld-1q (one queue: the
# flood always shares the legit client's thread and table, which with two queues depends on
# a hash seeded at boot).
# --legit-rate: the legit client's new connections per second (default 5; 0: back to back,
# which fills a 1024-entry table with the client's own TIME_WAIT entries within seconds, flood
# or not: both tables keep them 120 s and never evict them for a new connection).
# --spoof-rate: phase 2's SYNs per second (default 4000: the 20,000 in 5 s; 0: as fast as they
# go). A lower rate keeps portwalld's queues from backing up under TCG, which separates its
# table's behaviour from its packet rate.
# --rounds N (default 1, at most 3): every variant N times, interleaved; the summary adds the
# rounds up. The guest has no KVM (TCG): absolute rates are low, the comparison is relative,
# and one 5 s phase at 5 connects/s is a small sample.
# portwalld and portwall are copied from the build folder (default build/) when the run
# starts, and their hash is printed, since that build may change meanwhile. Prints each run's
# phases and a summary ("legit connects/s under flood: kernel X, portwalld Y"), also kept in
# build/bench/flood-vs-kernel.log. About 45 s per variant and round, plus 20 s for the guest
# (its root file system and boot): 3 minutes by default, 9.5 with --rounds 3; bounded to 15.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$src/build
variants="kernel kernel-b1024 portwalld portwalld-nft"
legit_rate=5
rounds=1
spoof_rate=4000
while [ $# -gt 0 ]; do
  case $1 in
    --build) build=$(cd "${2:?--build needs a folder}" && pwd); shift 2 ;;
    --variants) variants=${2:?--variants needs a list}; shift 2 ;;
    --legit-rate) legit_rate=${2:?--legit-rate needs a number}; shift 2 ;;
    --rounds) rounds=${2:?--rounds needs a number}; shift 2 ;;
    --spoof-rate) spoof_rate=${2:?--spoof-rate needs a number}; shift 2 ;;
    *) sed -n '6,7p' "$0" | sed 's/^#  *//' >&2; exit 2 ;;
  esac
done
[[ "$legit_rate" =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "flood-vs-kernel: --legit-rate: a number" >&2; exit 2; }
[[ "$spoof_rate" =~ ^[0-9]+$ ]] || { echo "flood-vs-kernel: --spoof-rate: a whole number" >&2; exit 2; }
[[ "$rounds" =~ ^[1-3]$ ]] || { echo "flood-vs-kernel: --rounds: 1 to 3 (the 15 minutes)" >&2; exit 2; }
for v in $variants; do
  case $v in
    kernel | kernel-b1024 | portwalld | portwalld-nft | portwalld-1q) ;;
    *) echo "flood-vs-kernel: unknown variant $v" >&2; exit 2 ;;
  esac
done
for b in portwalld portwall; do
  [ -x "$build/$b" ] || { echo "flood-vs-kernel: $build/$b is missing: build first" >&2; exit 1; }
done

# A snapshot of the binaries: a rebuild during the run changes nothing in it.
snap=$(mktemp -d /var/tmp/pw-fk-bin.XXXXXX)  # not /tmp: the guest mounts a tmpfs there
trap 'rm -rf "$snap"' EXIT
cp -p "$build/portwalld" "$build/portwall" "$snap/"
echo "flood-vs-kernel: portwalld $(sha256sum "$snap/portwalld" | cut -c1-16), built" \
  "$(date -u -r "$snap/portwalld" '+%F %T UTC'); variants: $variants; legit client $legit_rate/s; spoofed SYNs $spoof_rate/s; $rounds round(s)"

mkdir -p "$build/bench"
log=$build/bench/flood-vs-kernel.log
started=$(date +%s)
status=0
# 900 s: the guest's boot, the variants (about a minute each) and its poweroff, within the
# 15 minutes this harness may take.
"$src/tools/vm-lab.sh" run --timeout 900 --copy "$snap" --copy "$src/tools/bench" \
  --copy "$src/tools/lab.sh" \
  -- "$src/tools/bench/flood-guest.sh" "$snap" /var/tmp/pw-fk-results "$legit_rate" "$rounds" "$spoof_rate" "$variants" 2>&1 |
  tee "$log" || status=$?
echo "flood-vs-kernel: exit $status after $(($(date +%s) - started)) s (output in $log)"
exit "$status"
