"""Demo: beside the top layer. Seeded multi-symbol order flow over an in-process ``Venue``.

May import ``whistle.core``, ``whistle.engine`` and ``whistle.coord``; only ``whistle.cli``
imports it. ``flow`` drives the venue; ``view`` renders its statistics as rich tables.
"""

from whistle.demo.flow import DEFAULT_ORDERS, DEFAULT_SYMBOLS, UNIVERSE, DemoFlow, SymbolStats

__all__ = [
    "DEFAULT_ORDERS",
    "DEFAULT_SYMBOLS",
    "UNIVERSE",
    "DemoFlow",
    "SymbolStats",
]
