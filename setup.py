"""Build hook: compile the matching hot path with mypyc.

``pip install .`` compiles ``whistle.book`` and ``whistle.engine.whistle`` to C extensions
(about 2x the pure-Python matching rate; see docs/benchmarks.md), and builds
``whistle.journal._native`` (``src/whistle/journal/_native.c``: the journal's per-record
append and read loops, which mypyc cannot make cheaper than the struct/zlib calls they
are made of). The extensions are optional: where no C compiler is available the build
falls back to the pure-Python modules, which behave identically. Set ``WHISTLE_PURE=1``
to skip compilation on purpose, e.g. for an editable install you are going to edit (a
compiled module next to its source would shadow your edits).
"""

from __future__ import annotations

import os

from setuptools import Extension, setup

COMPILED = [
    "src/whistle/book/orders.py",
    "src/whistle/book/book.py",
    "src/whistle/engine/whistle.py",
    "src/whistle/coord/venue/lane.py",  # the embedded Venue fast lane (issue 8 item 2)
    "src/whistle/book/mbo.py",  # market-by-order book builder
    "src/whistle/feed/itch.py",  # ITCH 5.0 decoder hot loop
    "src/whistle/feed/mbp.py",  # MBP-10 rows from the book (the figures were measured so)
    # The backtest's per-event path (compiled together: a compiled class refuses an
    # interpreted subclass, and the exchanges subclass BacktestExchange).
    "src/whistle/trading/backtest/runner.py",
    "src/whistle/trading/backtest/exchange.py",
    "src/whistle/trading/backtest/queue.py",
]


def _extensions() -> list[object]:
    if os.environ.get("WHISTLE_PURE", "") not in ("", "0"):
        return []
    from mypyc.build import mypycify

    extensions = list(mypycify(COMPILED, opt_level="3", debug_level="0"))
    extensions.append(
        Extension(
            "whistle.journal._native",
            ["src/whistle/journal/_native.c"],
            extra_compile_args=["-O3"],
        )
    )
    for ext in extensions:
        ext.optional = True  # no compiler: install the pure-Python modules instead
    return extensions


setup(ext_modules=_extensions())
