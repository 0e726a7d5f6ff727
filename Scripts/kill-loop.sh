#!/usr/bin/env bash
# The kill loop (issue 8): builds journal-torture in release mode and runs ITERATIONS lives of
# a writer killed with SIGKILL, checking the journal against the writer's ledger after each.
#
#   Scripts/kill-loop.sh [ITERATIONS]     default 10000 (about half an hour); CI runs 200
#
# Environment: KILL_LOOP_SEED (default: the time), KILL_LOOP_DIR (default: a new directory
# under /tmp, removed on success; on a violation everything is kept and its path printed),
# SWIFT_SCRATCH_PATH (passed to swift build as --scratch-path).
set -euo pipefail
cd "$(dirname "$0")/.."

iterations="${1:-10000}"
seed="${KILL_LOOP_SEED:-$(date +%s)}"
build=(swift build -c release)
if [[ -n "${SWIFT_SCRATCH_PATH:-}" ]]; then build+=(--scratch-path "$SWIFT_SCRATCH_PATH"); fi

"${build[@]}" --product journal-torture
binary="$("${build[@]}" --show-bin-path)/journal-torture"
loop=("$binary" loop --iterations "$iterations" --seed "$seed")
if [[ -n "${KILL_LOOP_DIR:-}" ]]; then loop+=(--dir "$KILL_LOOP_DIR"); fi
exec "${loop[@]}"
