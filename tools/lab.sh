#!/usr/bin/env bash
# The lab: two network namespaces joined by a veth pair, for the demo and the wire tests.
#   tools/lab.sh up NAME [N]   creates NAME-srv and NAME-cli (NAME must start with pw-):
#                              NAME-srv has 10.200.N.1/24 and fd00:200:N::1/64 on veth "srv0",
#                              NAME-cli has 10.200.N.2/24 and fd00:200:N::2/64 on veth "cli0".
#   tools/lab.sh down NAME     deletes both namespaces (and with them the veth pair and every
#                              rule inside). Never touches the root namespace's firewall.
set -euo pipefail

cmd=${1:-}; name=${2:-}; net=${3:-1}
case "$name" in
  pw-*) ;;
  *) echo "lab.sh: namespace name must start with pw-, got '$name'" >&2; exit 2 ;;
esac
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
ip=("${sudo[@]}" ip)

down() {
  for ns in "$name-srv" "$name-cli"; do
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
    "${ip[@]}" link add srv0 netns "$name-srv" type veth peer name cli0 netns "$name-cli"
    for side in srv:1:srv0 cli:2:cli0; do
      IFS=: read -r role host dev <<<"$side"
      ns="$name-$role"
      "${ip[@]}" -n "$ns" link set lo up
      "${ip[@]}" -n "$ns" addr add "10.200.$net.$host/24" dev "$dev"
      "${ip[@]}" -n "$ns" addr add "fd00:200:$net::$host/64" dev "$dev" nodad
      "${ip[@]}" -n "$ns" link set "$dev" up
    done
    ;;
  down) down ;;
  *) echo "usage: tools/lab.sh up|down NAME [N]" >&2; exit 2 ;;
esac
