"""Instructions per command of a peer-harness adapter, counted by callgrind (load-proof).

The peer harness (``../shared/peers``, README there) times adapters on a shared machine,
where the figures move with the load. This runs one adapter's timed part, ``run()``, on the
first N commands of a harness workload so callgrind can count it; peer_instructions.sh runs
it with N=0 and N and divides the difference, so the workload build and ``prepare`` cancel
out. Usage (from the repository root):

    PEERS=../shared/peers MIX=ecore bash tests/bench/peer_instructions.sh baseline
    PEERS=../shared/peers MIX=plain PYTHON=/path/to/compiled/python \\
        bash tests/bench/peer_instructions.sh whistle
"""

from __future__ import annotations

import importlib
import sys
import tempfile


def main(peers_dir: str, mix: str, peer: str, n: int, total: int) -> None:
    sys.path.insert(0, peers_dir)
    workload = importlib.import_module("workload")
    data = workload.load_or_build(tempfile.gettempdir() + "/peers-cache", mix, total)
    if peer == "baseline":
        adapter = importlib.import_module("baseline").make()
    else:
        adapter = importlib.import_module("whistle_peer").engine()
    data = dict(data, commands=data["commands"][:n])  # prepare converts only these
    adapter.prepare(data, {})
    adapter.run()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
