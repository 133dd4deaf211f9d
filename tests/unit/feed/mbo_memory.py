"""RSS of a MarketByOrderBook holding N live orders (not a test: run it by hand).

    python tests/unit/feed/mbo_memory.py [N]          # N = 1,000,000 by default

Builds the book the way a feed does (``apply(MboAdd)``): ids 1e9 + 4i, both sides, 2,000
price levels per side, quantities 100..999. Prints the process RSS before (interpreter
and imports) and after, the difference per order, and which build of the book ran (a
compiled ``.so`` or ``mbo.py``). The issue's target: 1M live orders in under 400 MB.
"""

from __future__ import annotations

import gc
import os
import resource
import sys

import whistle.book.mbo as book_module
from whistle.core.mbo import FLAG_LAST, MboAdd


def _rss_mb() -> float:
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main(n: int) -> None:
    before = _rss_mb()
    book = book_module.MarketByOrderBook(1)
    apply = book.apply
    for i in range(n):
        side = 1 + (i & 1)
        level = (i >> 1) % 2000
        price = 1_000_000 - level * 100 if side == 1 else 1_200_000 + level * 100
        ts = 34_200_000_000_000 + i
        apply(MboAdd(1, ts, 0, i + 1, FLAG_LAST, 4 * i + 10**9, side, price, 100 + i % 900))
    gc.collect()
    after = _rss_mb()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    levels = len(book.bids.levels) + len(book.asks.levels)
    print(
        f"{os.path.basename(book_module.__file__ or '?')}: {len(book):,} live orders in"
        f" {levels:,} levels; RSS {before:.0f} MB -> {after:.0f} MB (book {after - before:.0f}"
        f" MB, {(after - before) * 2**20 / max(n, 1):.0f} bytes/order); peak {peak:.0f} MB"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
