#!/usr/bin/env bash
# The system lab: a Debian 12 server booted with systemd as PID 1 (systemd-nspawn) inside a lab
# server namespace, with the lab's client namespaces joined to it by veth (tools/lab.sh), so that
# portwall is installed and run as on a real server and watched from a client over SSH.
#   tools/system-lab.sh up NAME [N] [PORTS]  boots NAME-srv (10.200.N.1, sshd on PORTS, a comma
#                                            list, default 22; `ssh` uses the first); clients
#                                            NAME-cli (.2) and NAME-cl2 (.130)
#   tools/system-lab.sh exec NAME CMD...     runs CMD inside the server (every namespace of its
#                                            PID 1), from this machine
#   tools/system-lab.sh ssh NAME CMD...      runs CMD on the server as root over SSH, from NAME-cli
#   tools/system-lab.sh ssh-command NAME     prints the ssh command line (for a test's own session)
#   tools/system-lab.sh root NAME            prints the server's root folder (files go in there)
#   tools/system-lab.sh down NAME            powers it off, ends what is left of it, deletes the
#                                            namespaces and the server's files
# NAME must start with pw-. The root file system comes from tools/debian-root.sh (cached); each
# `up` unpacks a fresh copy, so nothing of an earlier run stays. Installs systemd-container
# (systemd-nspawn) when missing. Nothing runs in this machine's own network namespace.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:-}; name=${2:-}
case "$name" in
  pw-*) ;;
  *) echo "system-lab.sh: the name must start with pw-, got '$name'" >&2; exit 2 ;;
esac
[ "$(id -u)" -eq 0 ] || { echo "system-lab.sh: run it as root" >&2; exit 2; }
labs=${PORTWALL_SYSTEM_LAB_DIR:-$repo/build/system-lab}
dir="$labs/$name"

# The container's PID 1, as this machine sees it: the process of the server namespace whose
# PID inside its own PID namespace is 1 (user sessions start more `systemd` processes there).
leader() {
  local pid
  for pid in $(ip netns pids "$name-srv" 2>/dev/null); do
    if grep -qE '^NSpid:\s+[0-9]+\s+1$' "/proc/$pid/status" 2>/dev/null; then
      echo "$pid"
      return 0
    fi
  done
  return 1
}

ssh_words() {
  local net port
  net=$(cat "$dir/net"); port=$(cat "$dir/ssh_port")
  echo "ip netns exec $name-cli ssh -i $dir/key -p $port -o StrictHostKeyChecking=no" \
    "-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o LogLevel=ERROR -o ConnectTimeout=10" \
    "root@10.200.$net.1"
}

down() {
  if [ -s "$dir/nspawn.pid" ]; then
    local nspawn
    nspawn=$(cat "$dir/nspawn.pid")
    if kill -0 "$nspawn" 2>/dev/null && grep -q systemd-nspawn "/proc/$nspawn/cmdline" 2>/dev/null; then
      # SIGTERM makes nspawn ask the container's systemd to power off; 20 s at most.
      kill -TERM "$nspawn" 2>/dev/null || true
      for _ in $(seq 200); do kill -0 "$nspawn" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$nspawn" 2>/dev/null || true
    fi
  fi
  # Whatever is left in the server namespace belongs to this lab (its container's processes).
  for pid in $(ip netns pids "$name-srv" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null || true; done
  "$repo/tools/lab.sh" down "$name"
  # nspawn's mounts live in its own mount namespace; if anything still holds the root, free it.
  grep -F " $dir/" /proc/mounts | awk '{print $2}' | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
  rm -rf "$dir"
}

# Labs whose owner (PORTWALL_LAB_OWNER, the test process that made them) is gone: a test killed
# before its teardown (a ctest timeout) leaves them running. Taken down before a new one boots.
sweep() {
  local lab owner
  for lab in "$labs"/pw-*; do
    [ -s "$lab/owner" ] || continue
    owner=$(cat "$lab/owner")
    kill -0 "$owner" 2>/dev/null && continue
    echo "system-lab.sh: taking down $(basename "$lab"), left by process $owner" >&2
    "$0" down "$(basename "$lab")" || true
  done
}

up() {
  local net=${1:-210} port=${2:-22}
  sweep
  command -v systemd-nspawn >/dev/null ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      systemd-container >/dev/null
  local tarball
  tarball=$("$repo/tools/debian-root.sh" "$repo/build/debian-root")
  down
  # Whatever fails or interrupts from here on, nothing of this lab stays.
  trap 'down; exit 1' ERR INT TERM
  mkdir -p "$dir/root"
  echo "$net" >"$dir/net"
  [ -z "${PORTWALL_LAB_OWNER:-}" ] || echo "$PORTWALL_LAB_OWNER" >"$dir/owner"
  echo "${port%%,*}" >"$dir/ssh_port"
  tar -C "$dir/root" -xf "$tarball"
  local root="$dir/root"
  echo server >"$root/etc/hostname"
  printf '127.0.0.1 localhost\n127.0.1.1 server\n10.200.%s.1 server\n' "$net" >"$root/etc/hosts"
  # Root logs in with the lab's key only; sshd on the port asked for.
  ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/key"
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 "$dir/key.pub" "$root/root/.ssh/authorized_keys"
  { printf 'Port %s\n' ${port//,/ }; printf 'PasswordAuthentication no\nUseDNS no\n'; } \
    >"$root/etc/ssh/sshd_config.d/lab.conf"
  # What a server in a lab does not need, and what would only slow its boot or wake up in the
  # middle of a test (the daily apt and man-db jobs, the console login).
  for unit in apt-daily.timer apt-daily-upgrade.timer man-db.timer e2scrub_all.timer \
    fstrim.timer console-getty.service getty@.service systemd-networkd-wait-online.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  "$repo/tools/lab.sh" up "$name" "$net"
  # The container joins the lab's server namespace. There nspawn grants neither CAP_NET_ADMIN
  # nor a writable /proc/sys/net on its own (it does for the networks it makes itself): a
  # server's root has both.
  SYSTEMD_NSPAWN_API_VFS_WRITABLE=network setsid systemd-nspawn --quiet -D "$root" -M "$name" \
    --network-namespace-path="/run/netns/$name-srv" --capability=CAP_NET_ADMIN \
    --register=no --keep-unit --resolv-conf=off --timezone=off --link-journal=no \
    -b --console=pipe </dev/null >"$dir/console.log" 2>&1 &
  echo $! >"$dir/nspawn.pid"
  local pid="" state=""
  for _ in $(seq 300); do
    pid=$(leader) && state=$(nsenter -t "$pid" -a systemctl is-system-running 2>/dev/null) || true
    case "$state" in running | degraded) break ;; esac
    kill -0 "$(cat "$dir/nspawn.pid")" 2>/dev/null || break
    sleep 0.1
  done
  case "$state" in
    running | degraded) ;;
    *)
      echo "system-lab.sh: $name did not boot (state '${state:-none}'); its console:" >&2
      tail -30 "$dir/console.log" >&2
      down
      exit 1
      ;;
  esac
  # sshd answers once the system runs; wait for its port (bounded) so that `ssh` works at once.
  for _ in $(seq 100); do
    ip netns exec "$name-cli" bash -c "exec 3<>/dev/tcp/10.200.$net.1/${port%%,*}" 2>/dev/null &&
      break
    sleep 0.1
  done
  trap - ERR INT TERM
  echo "system-lab.sh: $name is up ($state): server 10.200.$net.1 (sshd on $port), PID 1 is $pid"
}

case "$cmd" in
  up) up "${3:-}" "${4:-}" ;;
  down) down ;;
  exec)
    shift 2
    pid=$(leader) || { echo "system-lab.sh: $name is not running" >&2; exit 2; }
    exec nsenter -t "$pid" -a -- "$@"
    ;;
  ssh)
    shift 2
    # shellcheck disable=SC2046
    exec $(ssh_words) "$@"
    ;;
  ssh-command) ssh_words ;;
  root) echo "$dir/root" ;;
  *) sed -n "2,17p" "$0" >&2; exit 2 ;;
esac
