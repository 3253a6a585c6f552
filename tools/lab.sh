#!/usr/bin/env bash
# The lab: a server namespace and two client namespaces, each joined to the server by a veth
# pair, for the demo and the wire tests.
#   tools/lab.sh up NAME [N]   creates NAME-srv, NAME-cli and NAME-cl2 (NAME must start with pw-):
#                              NAME-srv has 10.200.N.1/24 and fd00:200:N::1/64 on veth "srv0",
#                              NAME-cli has 10.200.N.2/24 and fd00:200:N::2/64 on veth "cli0";
#                              NAME-srv has 10.200.N.129/25 and fd00:200:N:1::1/64 on "srv1",
#                              NAME-cl2 has 10.200.N.130/25 and fd00:200:N:1::2/64 on "cl20".
#   tools/lab.sh up NAME N fleet
#                              the same, and a fleet around the client: NAME-cli's addresses
#                              move to a bridge "br0" that also joins NAME-srvb (a second
#                              server: 10.200.N.3/24, fd00:200:N::3/64 on "srvb0") and NAME-lapi
#                              (a CrowdSec Local API: 10.200.N.10/24, fd00:200:N::10/64 on
#                              "lapi0"); every host of 10.200.N.0/24 reaches every other.
#   tools/lab.sh down NAME     deletes the namespaces (and with them the veth pairs and every
#                              rule inside). Never touches the root namespace's firewall.
set -euo pipefail

cmd=${1:-}; name=${2:-}; net=${3:-1}; shape=${4:-}
case "$name" in
  pw-*) ;;
  *) echo "lab.sh: namespace name must start with pw-, got '$name'" >&2; exit 2 ;;
esac
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
ip=("${sudo[@]}" ip)

down() {
  for ns in "$name-srv" "$name-cli" "$name-cl2" "$name-srvb" "$name-lapi"; do
    if "${ip[@]}" netns list | grep -qw "^$ns"; then
      # End whatever still runs in it (only processes inside this lab namespace).
      for pid in $("${ip[@]}" netns pids "$ns" 2>/dev/null); do "${sudo[@]}" kill -TERM "$pid" 2>/dev/null || true; done
      "${ip[@]}" netns del "$ns" 2>/dev/null || true
    fi
  done
}

case "$cmd" in
  up)
    down
    "${ip[@]}" netns add "$name-srv"
    "${ip[@]}" netns add "$name-cli"
    "${ip[@]}" netns add "$name-cl2"
    "${ip[@]}" link add srv0 netns "$name-srv" type veth peer name cli0 netns "$name-cli"
    "${ip[@]}" link add srv1 netns "$name-srv" type veth peer name cl20 netns "$name-cl2"
    "${ip[@]}" -n "$name-srv" link set lo up
    "${ip[@]}" -n "$name-cli" link set lo up
    "${ip[@]}" -n "$name-cl2" link set lo up
    addr() {  # NAMESPACE DEVICE IPV4/LEN IPV6/LEN
      # No router solicitations (there is no router): fewer packets of the hosts' own, at 0,
      # 4 and 8 s after link-up, in the middle of what a test counts.
      "${sudo[@]}" ip netns exec "$1" sysctl -qw "net.ipv6.conf.$2.router_solicitations=0"
      "${ip[@]}" -n "$1" addr add "$3" dev "$2"
      "${ip[@]}" -n "$1" addr add "$4" dev "$2" nodad
      "${ip[@]}" -n "$1" link set "$2" up
    }
    addr "$name-srv" srv0 "10.200.$net.1/24" "fd00:200:$net::1/64"
    addr "$name-cli" cli0 "10.200.$net.2/24" "fd00:200:$net::2/64"
    addr "$name-srv" srv1 "10.200.$net.129/25" "fd00:200:$net:1::1/64"
    addr "$name-cl2" cl20 "10.200.$net.130/25" "fd00:200:$net:1::2/64"
    if [ "$shape" = fleet ]; then
      cli=("${ip[@]}" -n "$name-cli")
      "${cli[@]}" link add br0 type bridge
      "${sudo[@]}" ip netns exec "$name-cli" sysctl -qw net.ipv6.conf.br0.router_solicitations=0
      "${cli[@]}" addr flush dev cli0
      "${cli[@]}" link set cli0 master br0
      "${cli[@]}" addr add "10.200.$net.2/24" dev br0
      "${cli[@]}" addr add "fd00:200:$net::2/64" dev br0 nodad
      "${cli[@]}" link set br0 up
      for host in srvb:3 lapi:10; do
        ns="$name-${host%%:*}"; dev="${host%%:*}0"; n="${host##*:}"
        "${ip[@]}" netns add "$ns"
        "${ip[@]}" -n "$ns" link set lo up
        "${ip[@]}" link add "$dev" netns "$ns" type veth peer name "to-$dev" netns "$name-cli"
        "${cli[@]}" link set "to-$dev" master br0
        "${cli[@]}" link set "to-$dev" up
        addr "$ns" "$dev" "10.200.$net.$n/24" "fd00:200:$net::$n/64"
      done
    fi
    ;;
  down) down ;;
  *) echo "usage: tools/lab.sh up NAME [N [fleet]] | down NAME" >&2; exit 2 ;;
esac
