"""``whistle bench pipeline``: tick-to-order and per-stage latency at a fixed offered rate.

The source is the seeded synthetic order-level stream of ``whistle bench feed``
(``synthetic_ops``), turned into ``whistle.core.mbo`` events for one symbol.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import msgspec

from whistle.bench.feed import (
    OP_ADD,
    OP_CANCEL,
    OP_DELETE,
    OP_EXECUTE,
    OP_REPLACE,
    synthetic_ops,
)
from whistle.core.mbo import (
    FLAG_LAST,
    NO_PRICE,
    PRIORITY_LOSE,
    TRADE_HIDDEN,
    MboAdd,
    MboCancel,
    MboDelete,
    MboExecute,
    MboModify,
    MboTrade,
)
from whistle.trading.strategy import Strategy

if TYPE_CHECKING:
    from whistle.core.mbo import MboEvent
    from whistle.trading.context import Context
    from whistle.trading.strategy import BookView

__all__ = ["SYMBOL_ID", "ChaseConfig", "QuoteChaser", "synthetic_events"]

SYMBOL_ID: Final = 1


def synthetic_events(
    messages: int, seed: int = 1, instrument_id: int = SYMBOL_ID
) -> list[MboEvent]:
    """Return ``messages`` seeded order-level events of one liquid symbol (prices 1/10,000 $)."""
    out: list[MboEvent] = []
    append = out.append
    iid = instrument_id
    for seq, op in enumerate(synthetic_ops(messages, seed), 1):
        side = 1 if op.side == b"B" else 2
        ts = op.ts_ns
        kind = op.kind
        if kind == OP_ADD:
            append(MboAdd(iid, ts, 0, seq, FLAG_LAST, op.ref, side, op.price, op.qty))
        elif kind == OP_DELETE:
            append(MboDelete(iid, ts, 0, seq, FLAG_LAST, op.ref, side, op.price))
        elif kind == OP_CANCEL:
            append(MboCancel(iid, ts, 0, seq, FLAG_LAST, op.ref, op.qty, side, op.price))
        elif kind == OP_REPLACE:
            append(
                MboModify(
                    iid,
                    ts,
                    0,
                    seq,
                    FLAG_LAST,
                    op.ref,
                    op.new_ref,
                    side,
                    op.price,
                    op.qty,
                    PRIORITY_LOSE,
                )
            )
        elif kind == OP_EXECUTE:
            append(MboExecute(iid, ts, 0, seq, FLAG_LAST, op.ref, op.qty, side, NO_PRICE, True, 0))
        else:
            append(
                MboTrade(
                    iid, ts, 0, seq, FLAG_LAST, 0, side, op.price, op.qty, TRADE_HIDDEN, True, 0
                )
            )
    return out


class ChaseConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    """``QuoteChaser`` settings: how far below the best bid it quotes, in ticks."""

    offset_ticks: int = 500
    qty_lots: int = 1


class QuoteChaser(Strategy):
    """Send one order per BBO change: the benchmark's tick-to-order load.

    It keeps one buy order ``offset_ticks`` below the best bid (far from the touch: it never
    fills) and moves it on every BBO change with a modify, alternating the price by one tick
    when the bid did not move, so every BBO change produces exactly one signal.
    """

    Config = ChaseConfig

    def __init__(self, config: Any = None) -> None:
        super().__init__(config)
        self.coid = 0
        self.flip = 0

    def on_bbo(self, ctx: Context, book: BookView) -> None:
        """Place the order, or move it."""
        cfg = self.config
        assert isinstance(cfg, ChaseConfig)
        if not book.best_bid:
            return
        self.flip ^= 1
        price = book.best_bid - cfg.offset_ticks - self.flip
        if price < 1:
            return
        order = ctx.open_orders.get(self.coid) if self.coid else None
        if order is None:
            self.coid = ctx.buy(cfg.qty_lots, price)
        elif not order.pending:
            ctx.modify(self.coid, price=price)
