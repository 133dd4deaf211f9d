#!/usr/bin/env bash
# Instructions per command of Whistle.process on a mix (see instructions.py).
# PYTHON=... picks the install, MIX=exchange-core|plain the mix (default exchange-core),
# ENTRY=process|process_many the entry point (default process, one call per command).
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
export PYTHONHASHSEED=0  # string hashes decide dict probe counts: keep runs comparable
N=20000
MIX=${MIX:-exchange-core}
ENTRY=${ENTRY:-process}
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$PY" tests/bench/instructions.py "$1" "$MIX" "$ENTRY" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
base=$(count 0)
full=$(count "$N")
echo "instructions/command ($MIX, $ENTRY): $(( (full - base) / N ))"
