#!/usr/bin/env bash
# Builds portwall's Debian package: tools/package.sh → build/portwall_VERSION_ARCH.deb
# (CPack DEB; what goes where: packaging/package.cmake). Then checks it with lintian:
# non-zero when lintian reports an error.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/deps.sh
tools/build.sh
(cd build && cpack -G DEB >/dev/null)
deb=$(ls -t build/portwall_*.deb | head -1)
echo "package: $deb"
dpkg-deb --field "$deb" | sed 's/^/  /'
echo "lintian:"
lintian --allow-root --fail-on error "$deb" || { echo "package.sh: lintian found errors" >&2; exit 1; }
echo "package.sh: $deb is lint-clean (no errors)"
