#!/usr/bin/env bash
# The bash completion offers ufw's words where an administrator expects them.
# Prints 'N passed, N failed'; exits 1 on any failure.
set -u
source /usr/share/bash-completion/bash_completion
source "$(dirname "$0")/../../packaging/completion/portwall"

passed=0 failed=0
expect() {  # expect "WORDS..." "EXPECTED REPLIES"
  read -r -a COMP_WORDS <<<"$1"
  [[ $1 == *" " ]] && COMP_WORDS+=("")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE=$1
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  _portwall
  local got="${COMPREPLY[*]}"
  if [[ $got == "$2" ]]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: '$1' -> '$got', expected '$2'"
  fi
}

expect "portwall de" "deny delete default"
expect "portwall allow proto " "tcp udp icmp any"
expect "portwall default deny " "incoming outgoing routed"
expect "portwall status " "numbered verbose"
expect "portwall conntrack " "list count flush"
expect "portwall blocked " "list add remove"
expect "portwall blocked add 203.0.113.9 " "for --keep-established"
expect "portwall apply rules.toml --" "--confirm --keep-established"
expect "portwall co" "conntrack confirm"
expect "portwall en" "enable"
expect "portwall enable --" "--confirm --force"
expect "portwall forward " "list delete in on to comment"
expect "portwall ro" "route"
expect "portwall route d" "deny delete"
expect "portwall route allow in on eth0 o" "out on"
expect "portwall deny 8080/tcp --k" "--keep-established"
expect "portwall knock --s" "--spa --source"
expect "portwall knock --so" "--source"
expect "portwall allow 22/tcp co" "comment"
expect "portwall --json st" "status"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
