"""The backtest benchmark: events/s through decode + book + strategy, against decode + book.

Procedure (``run_backtest_bench``):

1. build the input before anything is timed: the feed benchmark's seeded synthetic stream
   for one liquid stock (``whistle.bench.feed.synthetic_ops``: adds, cancels, deletes,
   replaces near the touch, FIFO executions at the best level, hidden trades), written as
   ITCH 5.0 to a temporary file;
2. time, interleaved, best of ``repeat`` runs each (``perf_counter_ns`` around the whole
   run, file opening included): *feed_book* (decode + ``MarketByOrderBook.apply``, the
   feed benchmark's loop), *noop* (``run_backtest`` with ``examples.Noop``: decode + book
   + the exchange's bookkeeping + one ``on_book`` per book change) and *market_maker*
   (``run_backtest`` with ``examples.MarketMaker``, FIFO queue model, risk on, constant
   latencies: quoting, requoting on every BBO change, fills);
3. report events per second of wall time (events = the stream's messages, the same count
   for every loop), the ratios to *feed_book*, and per second of process CPU time.
"""

from __future__ import annotations

import gc
import os
import tempfile
import time
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DEFAULT_EVENTS", "run_backtest_bench"]

DEFAULT_EVENTS: Final = 500_000
_SYMBOL: Final = "WHSTL"


def _feed_book(path: str) -> int:
    from whistle.bench.feed import _decode_book

    return _decode_book(path, "itch")


def _backtest(path: str, strategy_name: str, latency_ns: int) -> tuple[int, int]:
    from whistle.trading.backtest import BacktestConfig, LatencyConfig
    from whistle.trading.backtest.runner import run_backtest
    from whistle.trading.examples import MarketMaker, Noop

    strategy = MarketMaker() if strategy_name == "market_maker" else Noop()
    config = BacktestConfig(
        data=path,
        symbol=_SYMBOL,
        format="itch",
        latency=LatencyConfig(
            feed_ns=latency_ns,
            entry_ns=latency_ns,
            modify_ns=latency_ns,
            cancel_ns=latency_ns,
            ack_ns=latency_ns,
        ),
    )
    result = run_backtest(config, strategy)
    return result.events, len(result.fills)


def _time(fn: Callable[[], Any]) -> tuple[int, int, Any]:
    gc.collect()
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    out = fn()
    t1 = time.perf_counter_ns()
    return t1 - t0, max(time.process_time_ns() - c0, 1), out


def run_backtest_bench(
    events: int = DEFAULT_EVENTS, *, seed: int = 1, repeat: int = 3, latency_ns: int = 10_000
) -> dict[str, Any]:
    """Run the backtest benchmark (module docstring); return a JSON-ready dict."""
    from whistle.bench.feed import _compiled, itch_bytes, synthetic_ops
    from whistle.bench.matching import environment

    fd, path = tempfile.mkstemp(prefix="whistle-bench-backtest-", suffix=".itch")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(itch_bytes(synthetic_ops(events, seed), symbol=_SYMBOL))
        loops: dict[str, Callable[[], Any]] = {
            "feed_book": lambda: _feed_book(path),
            "noop": lambda: _backtest(path, "noop", latency_ns),
            "market_maker": lambda: _backtest(path, "market_maker", latency_ns),
        }
        best: dict[str, int] = {}
        cpu: dict[str, int] = {}
        outs: dict[str, Any] = {}
        for fn in loops.values():  # warm-up: imports, caches
            fn()
        for _ in range(repeat):
            for name, fn in loops.items():
                ns, cpu_ns, out = _time(fn)
                outs[name] = out
                best[name] = min(ns, best.get(name, ns))
                cpu[name] = min(cpu_ns, cpu.get(name, cpu_ns))
        n = events
        rate = {k: n / (v / 1e9) for k, v in best.items()}
        cpu_rate = {k: round(n / (v / 1e9)) for k, v in cpu.items()}
        compiled = _compiled()
        try:
            import whistle.trading.backtest.runner as runner_module

            compiled["whistle.trading.backtest.runner"] = not str(runner_module.__file__).endswith(
                ".py"
            )
        except ImportError:  # pragma: no cover - the runner is part of the package
            pass
        return {
            "input": "synthetic",
            "format": "itch",
            "seed": seed,
            "events": n,
            "events_per_sec": round(rate["noop"]),
            "market_maker_events_per_sec": round(rate["market_maker"]),
            "feed_book_per_sec": round(rate["feed_book"]),
            "noop_vs_feed_book": round(rate["noop"] / rate["feed_book"], 3),
            "market_maker_vs_feed_book": round(rate["market_maker"] / rate["feed_book"], 3),
            "market_maker_fills": outs["market_maker"][1],
            "backtest_events": outs["noop"][0],
            "latency_ns": latency_ns,
            "seconds_by_loop": {k: round(v / 1e9, 6) for k, v in best.items()},
            "cpu_per_sec": cpu_rate,
            "repeat": repeat,
            "targets": {"events_per_sec": 500_000, "noop_vs_feed_book": 0.5},
            "compiled": compiled,
            **environment(),
        }
    finally:
        os.unlink(path)
