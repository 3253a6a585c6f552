#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through ctest: unit tests
# and the wire tests (portwalld inside network namespaces this suite creates and deletes), then a
# short run of every fuzz target.
#   tools/test.sh [--sanitize | --tsan] [ctest arguments...]
# --sanitize: the same suite, wire tests included, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (./build-sanitize); any report fails the test it happens in.
# --tsan: the same suite built with ThreadSanitizer (./build-tsan): a data race anywhere, in a
# test binary or in the portwalld a wire test runs, fails that test.
set -euo pipefail
cd "$(dirname "$0")/.."
sanitize=0
tsan=0
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=1
  shift
elif [ "${1:-}" = "--tsan" ]; then
  tsan=1
  shift
fi
tools/deps.sh
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)

if [ "$sanitize" = 1 ]; then
  tools/build.sh --sanitize
  # Leaks, memory errors and undefined behaviour end the process with an error, so that the
  # test that ran it fails; portwalld's own reports land in the wire test's output.
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:exitcode=86:strict_string_checks=1"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:exitcode=87"
  cd build-sanitize
  "${sudo[@]}" env ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
    ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"
  exit 0
fi

if [ "$tsan" = 1 ]; then
  tools/build.sh --tsan
  # Reported at exit with code 88, which the wire tests' daemon helper turns into a failure.
  export TSAN_OPTIONS="halt_on_error=0:exitcode=88:second_deadlock_stack=1"
  cd build-tsan
  "${sudo[@]}" env TSAN_OPTIONS="$TSAN_OPTIONS" \
    ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"
  exit 0
fi

tools/build.sh
(cd build && "${sudo[@]}" ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@")

# Fuzzing: every libFuzzer target for a few seconds, and each crash input kept in
# tests/fuzz/regressions/ replayed (tools/fuzz.sh; clang-19 build in ./build-fuzz). Non-zero on
# any crash, leak, timeout or failed invariant.
tools/fuzz.sh --seconds 5
