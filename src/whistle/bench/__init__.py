"""Benchmarks: beside the top layer. May import every ``whistle`` layer; nothing imports it.

``mixes`` generates seeded command lists, ``matching`` times the engine on them, ``bare``
is the dict-and-heap floor it is compared with, ``ring`` and ``journal`` measure the IPC and
journal layers, ``report`` renders results as rich tables.
"""

from whistle.bench.bare import BareMatcher
from whistle.bench.matching import run_matching_bench
from whistle.bench.mixes import MIX_NAMES, CommandMix, generate_mix

__all__ = [
    "MIX_NAMES",
    "BareMatcher",
    "CommandMix",
    "generate_mix",
    "run_matching_bench",
]
