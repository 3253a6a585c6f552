#!/usr/bin/env bash
# A Debian 12 root file system for the tests that boot a real system: the system lab
# (tools/system-lab.sh: systemd-nspawn) and the nftables guest (tools/vm-lab.sh: qemu with
# Debian's kernel). Made once with mmdebstrap from Debian's archive and cached as a tarball
# under the build folder, keyed by its package list and hooks, so that a change builds a new one.
#   tools/debian-root.sh [CACHE_DIR]   prints the tarball's path (building it when missing)
# CACHE_DIR defaults to build/debian-root. Installs mmdebstrap when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=$(realpath -m "${1:-build/debian-root}")

packages=(
  # a booted server: systemd as PID 1, what an administrator logs in with, the log rotation
  systemd systemd-sysv dbus udev kmod procps iproute2 util-linux openssh-server openssh-client
  logrotate sudo python3
  # the firewall's own tools and what portwall's package depends on, so that `apt install
  # ./portwall_*.deb` needs no network inside
  iptables ipset nftables passwd libcap2 libfmt9 libmnl0 libnetfilter-queue1 libnftables1
  libspdlog1.10-fmt9 libssl3 libsystemd0 libtomlplusplus3 libcurl4
  # the clients and tools the wire tests run (in the nftables guest)
  netcat-openbsd nmap knockd python3-scapy hping3
  # Debian's own kernel (it has nft_queue), booted by qemu; the kernel package wants an
  # initramfs generator installed, but none is run (below)
  linux-image-cloud-amd64 initramfs-tools
)

sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
if ! command -v mmdebstrap >/dev/null; then
  "${sudo[@]}" apt-get update -qq  # a fresh machine's package lists may be missing or stale
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    mmdebstrap >/dev/null
fi

# No initramfs: tools/vm-lab.sh boots the cloud kernel straight from its built-in NVMe driver
# and ext4, and systemd-nspawn needs no kernel at all. update-initramfs is diverted to a no-op
# before the kernel is installed, which saves building one (about 20 s).
# shellcheck disable=SC2016  # mmdebstrap's shell expands "$1" (the root), not this one
hooks=(
  --essential-hook='chroot "$1" dpkg-divert --quiet --local --rename --add /usr/sbin/update-initramfs && printf "#!/bin/sh\n# tools/debian-root.sh: no initramfs wanted\nexit 0\n" >"$1/usr/sbin/update-initramfs" && chmod 755 "$1/usr/sbin/update-initramfs"'
)

# The key covers everything the tarball is made from: a changed list or hook builds a new one.
key=$(printf '%s\n' bookworm minbase "${packages[@]}" "${hooks[@]}" | sha256sum | cut -c1-16)
tarball="$cache/root-$key.tar"
if [ ! -s "$tarball" ]; then
  mkdir -p "$cache"
  rm -f "$cache"/root-*.tar "$cache"/root-*.tar.part
  echo "debian-root: building $tarball with mmdebstrap (about a minute)" >&2
  list=$(IFS=,; echo "${packages[*]}")
  "${sudo[@]}" mmdebstrap --quiet --variant=minbase --format=tar --include="$list" "${hooks[@]}" \
    bookworm "$tarball.part" >&2
  mv "$tarball.part" "$tarball"
fi
echo "$tarball"
