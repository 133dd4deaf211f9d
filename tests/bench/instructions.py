"""Instructions per command on a mix (exchange-core by default), counted by callgrind.

Wall-clock rates move with whatever else the machine runs; instruction counts do not.
Usage (from the repository root, with whistle installed in .venv):

    bash tests/bench/instructions.sh            # prints instructions/command
    MIX=plain bash tests/bench/instructions.sh  # the plain mix
    ENTRY=process_many bash tests/bench/instructions.sh  # batched entry point

The script below is what callgrind runs: it builds the mix (untimed), replays the prefill,
then runs the first N commands. The shell wrapper runs it with N=0 and N=20000 and
divides the difference, so set-up costs cancel out.
"""

from __future__ import annotations

import sys

from whistle.bench.mixes import generate_mix
from whistle.engine import Whistle


def main(n: int, mix_name: str = "exchange-core", entry: str = "process") -> None:
    mix = generate_mix(mix_name, 20_000, seed=1)
    engine = Whistle(mix.instrument)
    process = engine.process
    seq = 0
    for command in mix.prefill:
        seq += 1
        process(seq, command, 0)
    if entry == "process_many":
        # Batches of 1,000; the pairs are built in both runs, so their cost cancels out.
        pairs = list(enumerate(mix.commands, seq + 1))
        batches = [pairs[start : start + 1_000] for start in range(0, len(pairs), 1_000)]
        for batch in batches[: n // 1_000]:
            engine.process_many(batch, 0)
        return
    for command in mix.commands[:n]:
        seq += 1
        process(seq, command, 0)


if __name__ == "__main__":
    main(int(sys.argv[1]), *sys.argv[2:4])
