#!/usr/bin/env bash
# The nftables suite (ctest): portwall's wire tests on the nftables diversion backend, in a
# qemu guest booted from Debian's own kernel (tools/vm-lab.sh), since the machine running the
# tests may lack nft_queue. The guest (tests/nft/guest.sh) first proves that portwalld really
# diverts with nftables there, then runs a subset of build/integration_tests with
# PORTWALL_TEST_BACKEND=nftables.
#   tests/nft/nft_test.sh BUILD_DIR [GTEST_FILTER]
# GTEST_FILTER defaults to the subset below. Passes when the preflight and every test pass.
# Runs as root (tools/vm-lab.sh re-runs itself with sudo); builds Debian's root tarball once
# (tools/debian-root.sh, one to two minutes) when it is not cached yet. About 150 s otherwise:
# the guest boots in under 10 s, the tests take 4-18 s each under TCG, most of it the lab's
# and the daemon's start and the tests' own waits.
set -euo pipefail

src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: tests/nft/nft_test.sh BUILD_DIR [GTEST_FILTER]}" && pwd)

# What the nftables backend must do like the iptables one: allow, deny and reject over IPv4 and
# IPv6, TCP and UDP; a live rule change, and the cut of the connections it now denies; a knock
# (knockd's client); scan detection (many connections to one port are no scan, a scan of
# closed but allowed ports gets the scanner blocked; EveryNmapScanType takes ~55 s under TCG);
# inspect = "new"; fail-open and fail-closed after a SIGKILL; every rule gone at SIGTERM.
subset=(
  Wire.AllowedTcpPortConnectsWithNc
  Wire.DeniedTcpPortIsDroppedSilently
  Wire.RejectedTcpPortIsRefusedAtOnce
  Wire.AllowedUdpIsDeliveredAndDeniedUdpIsNot
  Wire.Ipv6TcpAllowedAndDenied
  Wire.RuleChangesApplyLiveWithoutBreakingOtherConnections
  Cut.RuleChangeCutsTheEstablishedConnectionsItDenies
  Knock.KnockdsClientOpensThePortForTheKnockingSourceOnlyThenItCloses
  ScanDetection.ManyConnectionsToOneAllowedPortAreNoScan
  ScanDetection.ClosedButAllowedPortsCountToo
  InspectNew.EstablishedConnectionsBypassTheQueueAndABlockStillEndsThem
  Faults.SigkillWithFailOpenKeepsConnectionsAndLetsNewOnesInUninspected
  Faults.SigkillWithFailClosedStopsTrafficUntilTheRestart
  Wire.SigtermRemovesEveryRuleAndExitsZero
  # blocked sources dropped by the table's named sets, kept equal to the block list
  KernelBlocks.TheSetEqualsTheBlockListAfterEveryChangeExpiryRestartReloadAndModeSwitch
  KernelBlocks.ABlockedSourcesPacketsNeverReachTheQueueAndAreCountedAndLogged
  # routed traffic judged by route rules (issue 21)
  Route.RoutedTrafficIsJudgedByRouteRulesAndItsRepliesPassByState
  # the upgrade's re-exec (SIGUSR2), on the backend a Debian server picks
  Reexec.SigusrTwoReexecutesInPlaceAndNoPacketPassesUnjudged
  Reexec.AnIdleConnectionOutlivesThePickupGrace
)
filter=${2:-$(IFS=:; echo "${subset[*]}")}

for bin in portwalld portwall integration_tests; do
  [ -x "$build/$bin" ] || { echo "nft_test: $build/$bin is missing: build first" >&2; exit 1; }
done
# The test binary runs portwalld, portwall and tools/lab.sh by the absolute paths it was built
# with (PORTWALLD_BIN, PORTWALL_SOURCE_DIR); the guest has them at those paths only if this is
# that build and that source folder.
strings=$(tr '\0' '\n' <"$build/integration_tests" | grep -xF -e "$build/portwalld" -e "$src" | sort -u)
for path in "$build/portwalld" "$src"; do
  grep -qxF "$path" <<<"$strings" ||
    { echo "nft_test: $build/integration_tests was not built with $path" >&2; exit 1; }
done

started=$(date +%s)
status=0
"$src/tools/vm-lab.sh" run --timeout 420 \
  --copy "$build/portwalld" --copy "$build/portwall" --copy "$build/integration_tests" \
  --copy "$src/tools/lab.sh" --copy "$src/tests/integration/scapy" --copy "$src/tests/nft" \
  -- "$src/tests/nft/guest.sh" "$build" "'$filter'" 2>&1 | tee "$build/nft_test.log" || status=$?

# Each test's time under TCG, from gtest's own lines.
echo "nft_test: per test (nftables, in the guest):"
sed -n 's/^\[ *\(OK\|FAILED\) *\] \([A-Za-z0-9_]*\.[A-Za-z0-9_]*\) (\([0-9]*\) ms)$/  \1 \2 \3 ms/p' \
  "$build/nft_test.log"
echo "nft_test: exit $status after $(($(date +%s) - started)) s (output in $build/nft_test.log)"
exit "$status"
