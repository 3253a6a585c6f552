#!/usr/bin/env bash
# Installs every Debian package that portwall's build, tests and lab demo need.
# Idempotent, and quiet when everything is already there.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config
  libnetfilter-queue-dev libmnl-dev libnftables-dev libtomlplusplus-dev
  libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev libsystemd-dev
  libgtest-dev libgmock-dev libssl-dev libbenchmark-dev libcap-dev
  # fuzzing (libFuzzer; clang 14 cannot compile libstdc++'s <expected>)
  clang-19 libclang-rt-19-dev
  # lab, demo and integration tests: namespaces, diversion rules, real clients
  iproute2 iptables nftables netcat-openbsd nmap procps kmod util-linux
  knockd python3-scapy hping3
  # the completion test
  bash-completion
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
