#!/usr/bin/env bash
# Instructions per command of Whistle.process on the exchange-core mix (see instructions.py).
set -euo pipefail
PY=${PYTHON:-.venv/bin/python}
N=20000
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$PY" tests/bench/instructions.py "$1" 2>&1 \
    | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
base=$(count 0)
full=$(count "$N")
echo "instructions/command: $(( (full - base) / N ))"
