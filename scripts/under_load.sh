#!/usr/bin/env bash
# Run a command (default: the whole test suite) with CPU-burning processes beside it, the way a
# shared CI runner is loaded; the burners are stopped however the command ends.
#
#   scripts/under_load.sh [COMMAND ARGS...]      # BURNERS=2 by default
#   make test-under-load                        # the whole suite, twice-loaded on 2 cores
set -euo pipefail
cd "$(dirname "$0")/.."

burners=${BURNERS:-2}
if [ $# -eq 0 ]; then
  set -- .venv/bin/python -m pytest
fi

pids=()
stop_burners() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap stop_burners EXIT
trap 'stop_burners; exit 130' INT
trap 'stop_burners; exit 143' TERM

for _ in $(seq "$burners"); do
  # A pure busy loop: no I/O, no allocation, one full CPU each.
  ( exec /bin/sh -c 'while :; do :; done' ) &
  pids+=("$!")
done
echo "under-load: $burners CPU burners (pids ${pids[*]}), load $(cut -d' ' -f1-3 /proc/loadavg)"

started=$(date +%s)
set +e
"$@"
status=$?
set -e
echo "under-load: '$*' exited $status after $(( $(date +%s) - started )) s;" \
  "load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
exit "$status"
