#!/usr/bin/env bash
# Instructions per command of one peer-harness adapter's run() (see peer_instructions.py).
# Usage: PEERS=DIR MIX=ecore|plain PYTHON=... bash tests/bench/peer_instructions.sh baseline|whistle
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
export PYTHONHASHSEED=0
PEER=${1:?peer: baseline or whistle}
MIX=${MIX:-ecore}
N=${N:-50000}
TOTAL=300000  # the harness's --n: the same workload (and cache) as the timed runs
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$PY" tests/bench/peer_instructions.py "${PEERS:?PEERS=path to the peer harness}" \
    "$MIX" "$PEER" "$1" "$TOTAL" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
base=$(count 0)
full=$(count "$N")
echo "instructions/command ($PEER, $MIX): $(( (full - base) / N ))"
