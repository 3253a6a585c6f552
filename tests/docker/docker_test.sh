#!/usr/bin/env bash
# Issue 21, point 3: the published-port checks against a real dockerd (Debian's docker.io),
# confined to a network namespace of its own and a private mount namespace:
#   tests/docker/docker_test.sh BUILD_DIR
# A host namespace pw-dk<pid>-host runs dockerd (state in a temporary folder, bridge
# 10.200.243.1/24) and a busybox httpd container published with `-p 8080:80`; a client namespace
# pw-dk<pid>-cli reaches the host at 10.200.242.1 over a veth. Checked: 8080 answers anyone
# before portwalld; with portwalld (rules: 22/tcp only) it does not; `allow 8080/tcp` opens it;
# after dockerd restarts (its FORWARD rules back on top), `delete allow 8080/tcp` closes it
# again; `route allow to CONTAINER port 80` opens it for that container; SIGTERM leaves no
# PORTWALL rule and Docker's chains as they were. Everything is removed at the end, also on
# failure. About 20 s.
set -euo pipefail
build=$(cd "${1:?usage: docker_test.sh BUILD_DIR}" && pwd)
[ "$(id -u)" -eq 0 ] || { echo "docker_test: needs root (namespaces, dockerd)" >&2; exit 1; }
for bin in /usr/sbin/dockerd /usr/bin/docker /bin/busybox; do
  [ -x "$bin" ] || { echo "docker_test: $bin is missing (tools/deps.sh installs it)" >&2; exit 1; }
done
# The Debian client: /usr/local/bin may hold another docker.
docker_cli=/usr/bin/docker

id=$$
host=pw-dk$id-host
cli=pw-dk$id-cli
work=$(mktemp -d /tmp/pw-dk.XXXXXX)
made_dirs=()
for d in /run/docker /run/containerd /opt/containerd; do
  [ -e "$d" ] || made_dirs+=("$d")
done

cleanup() {
  set +e
  for ns in "$host" "$cli"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -TERM "$pid" 2>/dev/null; done
  done
  sleep 1
  for ns in "$host" "$cli"; do
    for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    ip netns del "$ns" 2>/dev/null
  done
  # The containers' processes (in their own network namespaces) by the cgroups our dockerd
  # made for them; then the cgroups (v1 per controller, v2 unified).
  for d in /sys/fs/cgroup/*/pw-dk$id /sys/fs/cgroup/pw-dk$id; do
    [ -d "$d" ] || continue
    find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null | xargs -r kill -KILL 2>/dev/null
  done
  sleep 0.5
  for d in /sys/fs/cgroup/*/pw-dk$id /sys/fs/cgroup/pw-dk$id; do
    [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  for d in "${made_dirs[@]}"; do rmdir "$d" 2>/dev/null; done
  rm -rf "$work"
}
trap cleanup EXIT

ip netns add "$host"
ip netns add "$cli"
ip -n "$host" link add dk0 type veth peer name dk1 netns "$cli"
ip -n "$host" addr add 10.200.242.1/24 dev dk0
ip -n "$cli" addr add 10.200.242.2/24 dev dk1
for ns in "$host" "$cli"; do ip -n "$ns" link set lo up; done
ip -n "$host" link set dk0 up
ip -n "$cli" link set dk1 up

# The image: busybox and a page, imported (no registry here).
mkdir -p "$work/rootfs/bin" "$work/rootfs/www"
cp /bin/busybox "$work/rootfs/bin/busybox"
echo "hello from the container" >"$work/rootfs/www/index.html"
tar -C "$work/rootfs" -cf "$work/image.tar" .
echo '{}' >"$work/daemon.json"
printf '[defaults]\nincoming = "deny"\noutgoing = "allow"\n\n[[rule]]\naction = "allow"\nproto = "tcp"\nport = "22"\n' \
  >"$work/rules.toml"
cat >"$work/portwall.toml" <<EOF
[daemon]
queues = [100, 101]
rules = "$work/rules.toml"
socket = "$work/portwall.sock"
state_file = "$work/state.json"
[log]
file = "$work/portwall.log"
audit_file = "$work/audit.log"
EOF

# Runs inside the host namespace, in a mount namespace of its own.
cat >"$work/inside.sh" <<'INSIDE'
set -eu
work=$1 host=$2 cli=$3 build=$4 docker_cli=$5 id=$6
[ "$(ip netns identify $$)" = "$host" ] || { echo "not in $host"; exit 1; }
[ "$(readlink /proc/self/ns/net)" != "$(readlink /proc/1/ns/net)" ] || { echo "root netns"; exit 1; }
[ "$(readlink /proc/self/ns/mnt)" != "$(readlink /proc/1/ns/mnt)" ] || { echo "root mntns"; exit 1; }
# This namespace's sysfs (dockerd reads its interfaces there), the cgroups kept; Docker's
# files in /etc/docker and /run go to tmpfs.
mkdir -p "$work/cg"
mount --rbind /sys/fs/cgroup "$work/cg"
mount -t sysfs sysfs /sys
mount --rbind "$work/cg" /sys/fs/cgroup
umount -l "$work/cg"
mount -t tmpfs tmpfs /etc/docker
for d in /run/docker /run/containerd /opt/containerd; do mkdir -p "$d"; mount -t tmpfs tmpfs "$d"; done
sysctl -qw net.ipv4.ip_forward=1

docker() { "$docker_cli" -H "unix://$work/docker.sock" "$@"; }
pw() { "$build/portwall" --socket "$work/portwall.sock" "$@"; }
reach() { nsenter --net="/run/netns/$cli" curl -s -m 3 http://10.200.242.1:8080/ 2>/dev/null | grep -q "hello from the container"; }
fail() { echo "FAIL: $*"; iptables-save; tail -20 "$work/portwall.log" 2>/dev/null; exit 1; }
dockerd_pid=""
start_dockerd() {
  /usr/sbin/dockerd --config-file "$work/daemon.json" --data-root "$work/data" \
    --exec-root "$work/exec" --pidfile "$work/docker.pid" -H "unix://$work/docker.sock" \
    --bip 10.200.243.1/24 --storage-driver vfs --cgroup-parent "/pw-dk$id" \
    >>"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  for _ in $(seq 120); do
    docker version >/dev/null 2>&1 && return 0
    kill -0 "$dockerd_pid" 2>/dev/null || { tail -30 "$work/dockerd.log"; return 1; }
    sleep 0.25
  done
  tail -30 "$work/dockerd.log"
  return 1
}
stop_dockerd() {
  kill -TERM "$dockerd_pid"
  for _ in $(seq 80); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.25; done
  kill -KILL "$dockerd_pid" 2>/dev/null || true
  wait "$dockerd_pid" 2>/dev/null || true
}

start_dockerd || fail "dockerd did not start"
docker import "$work/image.tar" pwtest:1 >/dev/null
docker run -d --init --name web -p 8080:80 pwtest:1 /bin/busybox httpd -f -p 80 -h /www >/dev/null
container=$(docker inspect -f '{{.NetworkSettings.IPAddress}}' web)
echo "dockerd $(docker version -f '{{.Server.Version}}'), container $container published on 8080"
for _ in $(seq 20); do reach && break; sleep 0.25; done
reach || fail "8080 does not answer even without portwalld"
echo "ok: without portwalld, 8080 answers anyone (the complaint)"

"$build/portwalld" --config "$work/portwall.toml" 2>>"$work/portwalld.err" &
pw_pid=$!
for _ in $(seq 100); do pw status >/dev/null 2>&1 && break; sleep 0.1; done
pw status >/dev/null || fail "portwalld did not start: $(cat "$work/portwalld.err")"
iptables -S DOCKER-USER | sed -n 2p | grep -qx -- "-A DOCKER-USER -j PORTWALL_FORWARD" ||
  fail "no jump at DOCKER-USER's top"
reach && fail "8080 answers although no rule allows it"
echo "ok: with portwalld, 8080 is dropped (no rule allows it)"
grep -q "PUBLIC_DPT=8080" "$work/portwall.log" || fail "no log line with PUBLIC_DPT=8080"
pw allow 8080/tcp >/dev/null
reach || fail "8080 does not answer after allow 8080/tcp"
echo "ok: allow 8080/tcp opens it"
echo "--- portwall status"
pw status
echo "--- portwall ports"
pw ports
echo "---"

docker stop -t 2 web >/dev/null
stop_dockerd
start_dockerd || fail "dockerd did not start again"
docker start web >/dev/null
iptables -S FORWARD | sed -n 2p | grep -qx -- "-A FORWARD -j DOCKER-USER" ||
  fail "dockerd did not put its rules back on top"
for _ in $(seq 20); do reach && break; sleep 0.25; done
reach || fail "8080 does not answer after dockerd's restart"
pw delete allow 8080/tcp >/dev/null
reach && fail "8080 still answers after delete allow 8080/tcp, after dockerd's restart"
echo "ok: after dockerd restarted, delete allow 8080/tcp closes it again"
pw route allow to "$container" port 80 proto tcp >/dev/null
reach || fail "a route rule for the container does not let it in"
echo "ok: route allow to $container port 80 proto tcp lets that container in"

kill -TERM "$pw_pid"
wait "$pw_pid" || fail "portwalld exited non-zero"
iptables-save | grep -q PORTWALL && fail "PORTWALL rules left after SIGTERM"
[ "$(iptables -S DOCKER-USER)" = "$(printf -- '-N DOCKER-USER\n-A DOCKER-USER -j RETURN')" ] ||
  fail "DOCKER-USER changed: $(iptables -S DOCKER-USER)"
echo "ok: SIGTERM leaves Docker's chains as they were"
docker rm -f web >/dev/null
stop_dockerd
INSIDE

timeout -k 10 240 nsenter --net="/run/netns/$host" unshare -m --propagation private \
  sh "$work/inside.sh" "$work" "$host" "$cli" "$build" "$docker_cli" "$id"
echo "docker_test: passed"
