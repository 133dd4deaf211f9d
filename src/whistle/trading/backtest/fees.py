"""Fees: maker / taker rates in parts per million of notional, per instrument.

A fee is in tick-lots (``price_ticks * qty_lots`` is the notional), an int, rounded half to
even: ``fee = round_half_even(price * qty * ppm / 1_000_000)``. A negative rate is a
rebate (a negative fee). No float is involved.
"""

from __future__ import annotations

from typing import Final, final

import msgspec

__all__ = ["FeeConfig", "FeeModel", "FeeRates", "fee_tick_lots"]

_PPM: Final = 1_000_000
_HALF: Final = _PPM // 2


def fee_tick_lots(notional: int, ppm: int) -> int:
    """Return ``notional * ppm / 1e6`` rounded half to even (exact integer arithmetic)."""
    q, r = divmod(notional * ppm, _PPM)  # floor division: 0 <= r < 1e6 for any sign
    if r > _HALF or (r == _HALF and q & 1):
        q += 1
    return q


class FeeRates(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One instrument's rates in ppm of notional (negative: a rebate)."""

    maker_ppm: int = 0
    taker_ppm: int = 0


class FeeConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Default rates, and ``per_symbol`` overrides (symbol -> ``FeeRates``)."""

    maker_ppm: int = 0
    taker_ppm: int = 0
    per_symbol: dict[str, FeeRates] = msgspec.field(default_factory=dict)

    def rates(self, symbol: str) -> FeeRates:
        """Return the rates that apply to ``symbol``."""
        rates = self.per_symbol.get(symbol)
        return rates if rates is not None else FeeRates(self.maker_ppm, self.taker_ppm)


@final
class FeeModel:
    """The fee of one fill: ``maker(price, qty)`` / ``taker(price, qty)`` in tick-lots."""

    __slots__ = ("maker_ppm", "taker_ppm")

    def __init__(self, maker_ppm: int = 0, taker_ppm: int = 0) -> None:
        for name, value in (("maker_ppm", maker_ppm), ("taker_ppm", taker_ppm)):
            if type(value) is not int or not -_PPM <= value <= _PPM:
                raise ValueError(f"{name} must be an int in -1000000..1000000 ppm, was {value!r}")
        self.maker_ppm = maker_ppm
        self.taker_ppm = taker_ppm

    @classmethod
    def from_config(cls, config: FeeConfig, symbol: str) -> FeeModel:
        """Build the model of ``symbol`` from ``config``."""
        rates = config.rates(symbol)
        return cls(rates.maker_ppm, rates.taker_ppm)

    def maker(self, price: int, qty: int) -> int:
        """Return the fee of a passive fill (tick-lots)."""
        return fee_tick_lots(price * qty, self.maker_ppm) if self.maker_ppm else 0

    def taker(self, price: int, qty: int) -> int:
        """Return the fee of an aggressive fill (tick-lots)."""
        return fee_tick_lots(price * qty, self.taker_ppm) if self.taker_ppm else 0
