#!/usr/bin/env bash
# `npm run demo`: the order system with injected faults, then what msgops finds in it.
set -u
cd "$(dirname "$0")/.."
msgops() { node ./bin/run.js "$@"; }
step() { printf '\n\033[1m$ msgops %s\033[0m\n' "$*"; }

step demo --reset --yes "$@"
msgops demo --reset --yes "$@" || exit $?

step outbox status
msgops outbox status
code=$?
[ "$code" -le 1 ] || exit "$code"

step dlq inspect order_queue.dlq
msgops dlq inspect order_queue.dlq || exit $?

step reconcile
msgops reconcile
code=$?
if [ "$code" -eq 1 ]; then
  printf '\nreconcile exited 1, as it should here: it found the faults the demo injected. See README.md, "What the demo shows".\n'
  exit 0
fi
exit "$code"
