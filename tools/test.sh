#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through ctest: unit tests
# and the wire tests (portwalld inside network namespaces this suite creates and deletes).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
tools/build.sh
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
cd build
"${sudo[@]}" ctest --output-on-failure --timeout 300 -j "$(nproc)" "$@"
