#!/usr/bin/env bash
# Runs one command as root inside a throwaway qemu guest booted from Debian 12's own kernel
# (linux-image-cloud-amd64: it has nft_queue, which the machines running CI may lack), for the
# tests that need a kernel of Debian's, like the nftables suite (tests/nft/). No KVM needed:
# qemu's TCG emulation is fast enough for a small guest.
#
#   tools/vm-lab.sh run [--timeout SECS] [--space MB] [--copy HOSTPATH]... -- COMMAND...
#
# The root file system is tools/debian-root.sh's cached tarball, extracted afresh each run;
# each --copy HOSTPATH (file or folder) appears in the guest at the same absolute path.
# COMMAND's words are joined with spaces (as ssh does) and run by `bash -c` as root, from a
# oneshot systemd unit once the guest has booted; the guest then powers off. vm-lab.sh prints
# what COMMAND wrote (stdout and stderr) and exits with COMMAND's exit code, or, when the guest
# produced none, with
#   124  out of time: --timeout (default 900 s) bounds the guest's boot, command and poweroff;
#        the command itself gets that less 60 s, so that its output is still read back
#   125  the guest never ran the command or never finished it (boot failure, kernel panic),
#        or could not be made
# (a command of its own exiting 124 or 125 reads the same, but then no "vm-lab:" message says
# why) and, when the guest produced nothing, the end of the serial console's log. The guest has no network (-nic none);
# namespaces and veth pairs inside it are the command's own business. --space: free room on
# the guest's disk for what COMMAND writes (default 256 MB). Phase timings go to stderr.
# VM_LAB_KEEP=1 keeps the work folder (disk image, console log) for a look; VM_LAB_TMPDIR
# chooses where it goes (default /dev/shm when it has 4 GB free, else build/).
# Needs root (it re-runs itself with sudo); installs qemu-system-x86 and e2fsprogs if missing.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)

usage() {
  sed -n '7p' "$0" | sed 's/^#  *//' >&2
  exit 2
}

args=("$@")
[ "${1:-}" = run ] || usage
shift
timeout=900
space=256
copies=()
while [ $# -gt 0 ]; do
  case "$1" in
    --timeout) timeout=${2:?--timeout needs seconds}; shift 2 ;;
    --space) space=${2:?--space needs megabytes}; shift 2 ;;
    --copy) copies+=("${2:?--copy needs a path}"); shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
[ $# -gt 0 ] || usage
[[ "$timeout" =~ ^[0-9]+$ && "$space" =~ ^[0-9]+$ ]] || usage
command_line="$*"

# Extracting a root file system with its owners, and the image made from it, need root.
if [ "$(id -u)" -ne 0 ]; then
  exec sudo --preserve-env=VM_LAB_KEEP,VM_LAB_TMPDIR "$0" "${args[@]}"
fi

say() { echo "vm-lab: $*" >&2; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

missing=()
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
command -v mkfs.ext4 >/dev/null && command -v debugfs >/dev/null || missing+=(e2fsprogs)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  # The package lists of a fresh machine may be missing or stale: update first, as deps.sh does.
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    >/dev/null
fi

tarball=$("$repo/tools/debian-root.sh")

# The work folder holds an extracted root (~550 MB with the copies) and its disk image (~800 MB)
# at once: in /dev/shm when it has room (then nothing goes to the disk, which made extracting
# and mkfs 5-8 s slower), else under build/ (not /tmp, which may be a small tmpfs).
# VM_LAB_TMPDIR chooses. The guest's kernel is booted directly (no initramfs): the cloud
# kernel has its NVMe driver and ext4 built in, so the disk goes in as NVMe.
tmp=${VM_LAB_TMPDIR:-}
if [ -z "$tmp" ]; then
  tmp=$repo/build
  if [ -d /dev/shm ] && [ "$(df -Pm /dev/shm | awk 'NR == 2 { print $4 }')" -ge 4096 ]; then
    tmp=/dev/shm
  fi
fi
mkdir -p "$tmp"
work=$(mktemp -d "$tmp/vm-lab.XXXXXX")
qemu_pid=
# shellcheck disable=SC2317  # called by the EXIT trap
cleanup() {
  local status=$?
  trap - EXIT INT TERM
  # Only the qemu this run started, by its recorded PID.
  if [ -n "$qemu_pid" ] && kill -0 "$qemu_pid" 2>/dev/null; then
    kill "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
  fi
  if [ "${VM_LAB_KEEP:-0}" = 1 ]; then
    say "kept $work"
  else
    rm -rf "$work"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'say interrupted; exit 130' INT
trap 'say terminated; exit 143' TERM

# 1. The root file system. Documentation, manuals and translations serve nobody in the guest.
started=$(now)
root=$work/root
mkdir "$root"
tar -xf "$tarball" -C "$root" --numeric-owner \
  --exclude='./usr/share/doc/*' --exclude='./usr/share/man/*' --exclude='./usr/share/info/*' \
  --exclude='./usr/share/locale/*'
for path in "${copies[@]}"; do
  # Absolute, without resolving symbolic links: the guest path is the one the caller names.
  abs=$(realpath -s -- "$path")
  [ -e "$abs" ] || { say "--copy $path: no such file or folder"; exit 125; }
  [ "$abs" != / ] || { say "--copy /: refusing to copy the whole host"; exit 125; }
  mkdir -p "$root$(dirname "$abs")"
  cp -a -H -- "$abs" "$root$(dirname "$abs")/"
done
# The kernel boots without an initramfs: the cloud flavour has its NVMe driver and ext4 built
# in, so the disk goes in as NVMe and the kernel mounts it itself (unpacking and running an
# initramfs took about 4 s of a 12 s boot under TCG).
kernel=$(printf '%s\n' "$root"/boot/vmlinuz-* | sort -V | tail -n 1)
config=$root/boot/config-${kernel##*/vmlinuz-}
if ! grep -qx 'CONFIG_BLK_DEV_NVME=y' "$config" || ! grep -qx 'CONFIG_EXT4_FS=y' "$config"; then
  say "$kernel needs an initramfs for its root disk (NVMe or ext4 is a module): not supported"
  exit 125
fi
cp "$kernel" "$work/vmlinuz"
extract_took=$(since "$started")

# 2. What the guest does at boot: the command's unit as the whole boot target, so that nothing
# of multi-user.target (ssh, getty, cron) starts, and sysinit's and timers' jobs that only cost
# time masked.
lab=$root/var/lib/vm-lab
mkdir -p "$lab"
printf '%s\n' "$command_line" >"$lab/command"
limit=$((timeout > 120 ? timeout - 60 : timeout * 2 / 3))
cat >"$lab/run" <<EOF
#!/bin/bash
# vm-lab's command wrapper (tools/vm-lab.sh): runs the command, keeps its output and exit code
# on the disk for the host, mirrors the output to the serial console (read on a timeout).
exec 3>/dev/ttyS0
echo "vm-lab-mark: command starts" >&3
cd /
# Within the guest's own bound, so that a hung command still leaves its output and a code.
SECONDS=0
timeout -k 10 $limit bash -c "\$(cat /var/lib/vm-lab/command)" </dev/null 2>&1 \\
  | tee /var/lib/vm-lab/output >&3
code=\${PIPESTATUS[0]}
if [ "\$code" -eq 124 ] && [ "\$SECONDS" -ge $limit ]; then
  echo "timed out after $limit s in the guest" >/var/lib/vm-lab/timed-out
fi
echo "\$code" >/var/lib/vm-lab/exit-code
sync
echo "vm-lab-mark: command ended (\$code)" >&3
EOF
chmod 755 "$lab/run"
units=$root/etc/systemd/system
cat >"$units/vm-lab.service" <<'EOF'
[Unit]
Description=vm-lab: the command
After=basic.target
# Power off at once when done, whatever happened: the disk keeps the results.
SuccessAction=poweroff-force
FailureAction=poweroff-force

[Service]
Type=oneshot
Environment=HOME=/root
ExecStart=/var/lib/vm-lab/run
EOF
cat >"$units/vm-lab.target" <<'EOF'
[Unit]
Description=vm-lab: boot just far enough for the command
Requires=basic.target
After=basic.target
Wants=vm-lab.service
AllowIsolate=yes
EOF
ln -sfn vm-lab.target "$units/default.target"
# A boot that falls into emergency mode would sit there until the timeout: power off instead.
for unit in emergency rescue; do
  mkdir -p "$units/$unit.service.d"
  cat >"$units/$unit.service.d/vm-lab.conf" <<EOF
[Service]
ExecStart=
ExecStart=/bin/sh -c 'echo "vm-lab-mark: the guest fell into $unit mode" >/dev/ttyS0; systemctl poweroff -ff'
EOF
done
# Masked: timers and jobs of a long-running server; udev (nothing here needs device naming or
# coldplug, and it would process every veth pair a test makes); binfmt, utmp, the persistent
# journal's flush (journalctl still has this boot's log, in /run) and modules nobody uses.
for unit in apt-daily.timer apt-daily-upgrade.timer dpkg-db-backup.timer e2scrub_all.timer \
  fstrim.timer logrotate.timer systemd-tmpfiles-clean.timer e2scrub_reap.service \
  systemd-pstore.service systemd-networkd-wait-online.service getty@tty1.service \
  serial-getty@ttyS0.service ssh.service \
  systemd-udevd.service systemd-udevd-control.socket systemd-udevd-kernel.socket \
  systemd-udev-trigger.service systemd-udev-settle.service \
  systemd-binfmt.service proc-sys-fs-binfmt_misc.automount systemd-update-utmp.service \
  systemd-journal-flush.service modprobe@dm_mod.service modprobe@fuse.service \
  modprobe@loop.service sys-fs-fuse-connections.mount; do
  ln -sfn /dev/null "$units/$unit"
done
printf '/dev/nvme0n1 / ext4 rw,noatime 0 0\n' >"$root/etc/fstab"
# A machine id: without one systemd treats every boot as a first boot and sets things up.
printf '%s\n' "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >"$root/etc/machine-id"

# 3. The disk: what the root takes, a tenth more for ext4's own, and --space. No journal: the
# image is thrown away, and debugfs reads the results without replaying one.
started=$(now)
used=$(du -sm "$root" | cut -f1)
size=$((used + used / 10 + space))
mkfs.ext4 -q -F -O ^has_journal -L vm-lab -d "$root" "$work/disk.img" "${size}M" >/dev/null
rm -rf "$root"
mkfs_took=$(since "$started")

# 4. Boot, run, power off. cache=unsafe: the image is thrown away, flushes only cost time.
# panic=1 with -no-reboot: a kernel that cannot mount its root ends qemu at once.
started=$(now)
qemu-system-x86_64 -machine q35 -cpu max -smp 2 -m 2048 -nographic -no-reboot -nic none \
  -kernel "$work/vmlinuz" \
  -append "root=/dev/nvme0n1 rootfstype=ext4 rootwait rw console=ttyS0 quiet panic=1" \
  -drive "file=$work/disk.img,format=raw,if=none,id=root,cache=unsafe" \
  -device nvme,drive=root,serial=vm-lab \
  </dev/null >"$work/console.log" 2>&1 &
qemu_pid=$!
timed_out=0
booted='' ended=''
while kill -0 "$qemu_pid" 2>/dev/null; do
  # The wrapper's marks on the serial console time the boot and the command.
  if [ -z "$booted" ] && grep -q 'vm-lab-mark: command starts' "$work/console.log"; then
    booted=$(since "$started")
  fi
  if [ -z "$ended" ] && grep -q 'vm-lab-mark: command ended' "$work/console.log"; then
    ended=$(since "$started")
  fi
  if awk -v a="$started" -v b="$(now)" -v t="$timeout" 'BEGIN { exit !(b - a > t) }'; then
    timed_out=1
    kill "$qemu_pid" 2>/dev/null || true
    break
  fi
  sleep 0.2
done
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=
total=$(since "$started")

# 5. The results, read from the image.
# `debugfs -R dump` copies a file out byte for byte (its `cat` may lose the last newline).
guest_file() {
  rm -f "$work/$1"
  debugfs -R "dump /var/lib/vm-lab/$1 $work/$1" "$work/disk.img" >/dev/null 2>&1 || true
  cat "$work/$1" 2>/dev/null || true
}
code=$(guest_file exit-code | tr -d '[:space:]')
guest_file output || true
say "extract ${extract_took} s, image ${size} MB in ${mkfs_took} s, boot to the command" \
  "${booted:-?} s, command $(awk -v a="${booted:-0}" -v b="${ended:-0}" \
  'BEGIN { if (a && b) printf "%.1f", b - a; else printf "?" }') s, poweroff" \
  "$(awk -v a="${ended:-0}" -v b="$total" 'BEGIN { if (a) printf "%.1f", b - a; else printf "?" }') s"
tail_console() {
  say "the end of the serial console's log:"
  # Without the terminal resets and colours of the firmware and the kernel.
  tail -n 40 "$work/console.log" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g; s/\r$//; s/^/  | /' >&2
}
if [ -n "$(guest_file timed-out)" ]; then
  say "the command $(guest_file timed-out)"
  exit 124
fi
if [[ "$code" =~ ^[0-9]+$ ]]; then
  exit "$code"
fi
if [ "$timed_out" = 1 ]; then
  say "no result: the guest was still running after ${timeout} s (killed)"
  tail_console
  exit 124
fi
if [ -n "$booted" ]; then
  say "no result: the guest stopped while the command ran (a kernel panic?)"
else
  say "no result: the guest stopped before the command started (boot failure?)"
fi
tail_console
exit 125
