#!/usr/bin/env bash
# Configures and builds portwall: into ./build (Ninja, RelWithDebInfo), with --sanitize into
# ./build-sanitize with AddressSanitizer and UndefinedBehaviorSanitizer, or with --tsan into
# ./build-tsan with ThreadSanitizer (these two: what the tests need only).
set -euo pipefail
cd "$(dirname "$0")/.."

# clang 19 (as the fuzz build; tools/deps.sh installs it) compiles an instrumented tree in about
# half GCC's time (1227 CPU-s with GCC here), and line tables are all a report needs.
instrumented() {  # DIR SANITIZERS EXTRA_FLAGS
  cmake -S . -B "$1" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -fno-omit-frame-pointer -fsanitize=$2 $3" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$2" -DPORTWALL_PACKAGE_TESTS=OFF >/dev/null
  cmake --build "$1" -j "$(nproc)" --target portwalld portwall unit_tests integration_tests
}

case "${1:-}" in
  --sanitize) instrumented build-sanitize address,undefined -fno-sanitize-recover=undefined ;;
  # Data races between the queue threads, the control thread and a SIGHUP reload.
  --tsan) instrumented build-tsan thread "" ;;
  *)
    cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
    cmake --build build -j "$(nproc)"
    ;;
esac
