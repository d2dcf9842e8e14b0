#!/usr/bin/env bash
# `npm run demo`: the order system with injected faults, then what msgops finds in it.
set -u
cd "$(dirname "$0")/.."
msgops() { node ./bin/run.js "$@"; }
step() { printf '\n\033[1m$ msgops %s\033[0m\n' "$*"; }

# Exit 1 is "the command worked and found something": here that is the point, so only 2 and above stop the demo.
found=()
look() {
  step "$@"
  msgops "$@"
  local code=$?
  [ "$code" -le 1 ] || exit "$code"
  [ "$code" -eq 0 ] || found+=("msgops $*")
}

step demo --reset --yes "$@"
msgops demo --reset --yes "$@" || exit $?

look outbox status
look dlq inspect order_queue.dlq
look reconcile

if [ "${#found[@]}" -gt 0 ]; then
  list=$(printf '%s, ' "${found[@]}")
  printf '\n%s exited 1, as they should here: they found the faults the demo injected. See README.md, "What the demo shows".\n' "${list%, }"
fi
exit 0
