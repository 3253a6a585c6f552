#!/usr/bin/env bash
# Installs every Debian package that portwall's build, tests and lab demo need.
# Idempotent, and quiet when everything is already there.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  libnetfilter-queue-dev libmnl-dev libnftables-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev libsystemd-dev
  libgtest-dev libgmock-dev libssl-dev libbenchmark-dev libcap-dev libcurl4-openssl-dev
  # the CrowdSec wire tests push decisions through the LAPI's own API
  curl
  # fuzzing (libFuzzer; clang 14 cannot compile libstdc++'s <expected>)
  clang-19 libclang-rt-19-dev
  # lab, demo and integration tests: namespaces, diversion rules, real clients
  iproute2 iptables ipset nftables netcat-openbsd nmap procps kmod util-linux iputils-ping
  knockd python3-scapy hping3
  # the completion test
  bash-completion
  # the system lab (tools/system-lab.sh): a booted Debian with systemd, reached over SSH; the
  # nftables guest (tools/vm-lab.sh): Debian's kernel under qemu
  systemd-container mmdebstrap openssh-client qemu-system-x86 e2fsprogs
  # packaging: man pages, the .deb and its checks (tools/package.sh, tests/package/)
  scdoc lintian dpkg-dev fakeroot
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# A real dockerd for tests/docker/ (Debian's docker.io, busybox for its image). Debian starts a
# package's service on install, and a dockerd in the machine's own namespace would write its
# firewall: policy-rc.d (exit 101) forbids the start, and the units are masked afterwards. The
# test runs its own dockerd inside a namespace.
docker_packages=()
for p in docker.io busybox-static; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || docker_packages+=("$p")
done
if [ ${#docker_packages[@]} -gt 0 ]; then
  echo "deps: installing ${docker_packages[*]} (their services kept from starting)"
  made_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    # Removed whatever happens next (a failed install must not leave every later package's
    # service unstarted).
    trap '"${sudo[@]}" rm -f /usr/sbin/policy-rc.d' EXIT
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee /usr/sbin/policy-rc.d >/dev/null
    "${sudo[@]}" chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${docker_packages[@]}" >/dev/null ||
    { "${sudo[@]}" apt-get update -qq &&
      "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${docker_packages[@]}" >/dev/null; }
  if [ -n "$made_policy" ]; then
    "${sudo[@]}" rm -f /usr/sbin/policy-rc.d
    trap - EXIT
  fi
  # Never started at boot either: masked under systemd, disabled for sysvinit.
  if [ -d /run/systemd/system ]; then
    "${sudo[@]}" systemctl mask docker.service docker.socket containerd.service >/dev/null 2>&1 || true
  fi
  if command -v update-rc.d >/dev/null; then
    "${sudo[@]}" update-rc.d docker disable >/dev/null 2>&1 || true
  fi
fi

# Tools the tests run but that must not be installed: the fail2ban package would start its
# server (and ban through this machine's own firewall), prometheus and crowdsec their servers.
# fail2ban-regex, promtool, and crowdsec (run as a Local API only, in a namespace) with cscli
# are taken from the packages, unpacked into build-deps/root (tests/integration/).
unpacked=(fail2ban prometheus crowdsec)
root="$(cd "$(dirname "$0")/.." && pwd)/build-deps"
for p in "${unpacked[@]}"; do
  [ -e "$root/$p.unpacked" ] && continue
  mkdir -p "$root/debs"
  (cd "$root/debs" && { apt-get download -qq "$p" 2>/dev/null ||
    { "${sudo[@]}" apt-get update -qq && apt-get download -qq "$p"; }; })
  dpkg-deb -x "$(ls -t "$root"/debs/"${p}"_*.deb | head -1)" "$root/root"
  touch "$root/$p.unpacked"
  echo "deps: unpacked $p into $root/root"
done
