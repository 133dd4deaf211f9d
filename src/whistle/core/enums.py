"""Small integer enumerations shared by every layer.

They are ``IntEnum`` so that events and commands carry plain ints on the hot path
(the engine compares against module-level int constants) while users still see names.
"""

from __future__ import annotations

from enum import IntEnum, unique

__all__ = [
    "CancelCause",
    "ClientOrderOutcome",
    "Liquidity",
    "OrderType",
    "Side",
    "StpMode",
    "TimeInForce",
    "TradingState",
]


@unique
class Side(IntEnum):
    """Which side of the book an order is on."""

    BUY = 1
    SELL = 2

    @property
    def opposite(self) -> Side:
        """Return the other side."""
        return Side.SELL if self is Side.BUY else Side.BUY


@unique
class OrderType(IntEnum):
    """How an order is priced."""

    LIMIT = 1
    """Trades at its price or better; the remainder rests (unless IOC/FOK)."""
    MARKET = 2
    """Trades at any price (or up to its protection price); never rests."""
    STOP = 3
    """Parked until the last trade reaches the stop price, then enters as a market order."""
    STOP_LIMIT = 4
    """Parked until the last trade reaches the stop price, then enters as a limit order."""


@unique
class TimeInForce(IntEnum):
    """How long an order may live."""

    GTC = 1
    """Good till cancelled."""
    IOC = 2
    """Immediate or cancel: whatever does not trade at once is cancelled."""
    FOK = 3
    """Fill or kill: trades its whole quantity at once, or is rejected untouched."""
    GTD = 4
    """Good till date: expires when the simulation clock reaches ``expire_ts_ns``."""
    DAY = 5
    """Expires at the session end the clock announces (an ``EndSession`` command)."""


@unique
class StpMode(IntEnum):
    """Self-trade prevention, applied when a taker meets a maker of the same account."""

    NONE = 0
    """Orders of one account may trade with each other."""
    CANCEL_NEWEST = 1
    """Cancel the incoming (taker) order's remainder; the resting order stays."""
    CANCEL_OLDEST = 2
    """Cancel the resting (maker) order; the taker goes on matching."""
    CANCEL_BOTH = 3
    """Cancel both the maker and the taker's remainder."""
    DECREMENT_AND_CANCEL = 4
    """Reduce both by the smaller quantity without a trade; cancel whichever reaches zero."""


@unique
class CancelCause(IntEnum):
    """Why an order (or part of it) left the book without trading."""

    USER = 1
    """A ``CancelOrder`` command."""
    IOC_REMAINDER = 2
    """The unfilled remainder of an IOC, FOK, market or triggered stop order."""
    SELF_TRADE = 3
    """Self-trade prevention."""
    EXPIRED = 4
    """GTD time reached or DAY session ended (carried by ``OrderExpired``)."""
    MASS_CANCEL = 5
    """A ``MassCancel`` command, by account or for the whole symbol."""


@unique
class Liquidity(IntEnum):
    """Whether a fill added liquidity (resting order) or took it (incoming order)."""

    MAKER = 1
    TAKER = 2


@unique
class TradingState(IntEnum):
    """Trading state of one symbol's engine."""

    ACTIVE = 1
    """Orders are accepted and matched."""
    HALTED = 2
    """New orders, modifies and replaces are rejected; cancels are allowed."""
    FAULTED = 3
    """An internal error stopped the engine; every command is rejected."""


@unique
class ClientOrderOutcome(IntEnum):
    """What became of the first command a venue took with an (account, client_order_id)."""

    PENDING = 0
    """Sequenced (journaled, acknowledged), but its tick has not run yet."""
    ACCEPTED = 1
    """The engine accepted it (``OrderAccepted``; a CancelReplace: ``OrderReplaced``)."""
    REJECTED = 2
    """The engine rejected it (``OrderRejected``; the reason is kept)."""
