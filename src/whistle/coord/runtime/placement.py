"""Placement policies: which host gets a symbol when it is activated.

A policy sees the live hosts as ``HostLoad`` records, always in ascending ``host_id``
order, and returns one of their ids. Every policy here is deterministic: the same calls in
the same order give the same answers, in every run and on every machine. Once placed, a
symbol stays on its host until it is evicted (no migration while it runs).

- ``RoundRobinPolicy``: the next host in turn (a counter; depends on call order).
- ``HashBasedPolicy``: rendezvous hashing of ``(symbol_id, host_id)`` with fixed 64-bit
  integer mixing (SplitMix64's finaliser), never Python's salted ``hash()``: a symbol goes
  to the same host whatever the call order, and losing a host moves only its symbols.
- ``LeastLoadedPolicy``: the host with the fewest active symbols, ties to the lowest id.
"""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Final, final

import msgspec

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = [
    "HashBasedPolicy",
    "HostLoad",
    "LeastLoadedPolicy",
    "PlacementPolicy",
    "RoundRobinPolicy",
    "mix64",
]

_M64: Final = (1 << 64) - 1
# An odd 64-bit multiplier (the golden ratio constant of SplitMix64): a bijection mod 2**64.
_C: Final = 0x9E3779B97F4A7C15


@final
class HostLoad(msgspec.Struct, frozen=True, gc=False):
    """One live host as a policy sees it.

    ``active`` counts the symbols placed on it (ACTIVE or EVICTING); ``commands`` counts the
    commands routed to it so far (the coordinator's ``touch`` calls).
    """

    host_id: int
    active: int = 0
    commands: int = 0


def mix64(value: int) -> int:
    """Return SplitMix64's finaliser of ``value`` (a fixed bijection of 64-bit integers)."""
    z = (value + 0x9E3779B97F4A7C15) & _M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
    return z ^ (z >> 31)


def _no_hosts(symbol_id: int) -> ValueError:
    return ValueError(f"no host to place symbol_id {symbol_id} on: the host list is empty")


class PlacementPolicy(abc.ABC):
    """Chooses the host of a symbol being activated."""

    @abc.abstractmethod
    def choose(self, symbol_id: int, hosts: Sequence[HostLoad]) -> int:
        """Return the ``host_id`` of one of ``hosts`` (non-empty, ascending ids)."""


@final
class RoundRobinPolicy(PlacementPolicy):
    """Each activation goes to the next host in ``host_id`` order."""

    def __init__(self) -> None:
        self._turn = 0

    def choose(self, symbol_id: int, hosts: Sequence[HostLoad]) -> int:
        """Return the host whose turn it is, and advance the turn."""
        if not hosts:
            raise _no_hosts(symbol_id)
        turn = self._turn
        self._turn = turn + 1
        return hosts[turn % len(hosts)].host_id


@final
class HashBasedPolicy(PlacementPolicy):
    """Rendezvous (highest random weight) hashing of the symbol over the live host ids.

    ``score(s, h) = xorshift29((mix64(s ^ salt) ^ mix64(h)) * C mod 2**64)``; the host
    with the highest score wins. For one symbol the scores of distinct hosts are distinct
    (every step is a bijection), so there are no ties. Only integer arithmetic with fixed
    constants: the same on every machine and run.
    """

    def __init__(self, seed: int = 0) -> None:
        # The seed is mixed once so that seeds 0, 1, 2... give unrelated placements.
        self._salt = mix64(seed & _M64)
        self._host_salts: dict[int, int] = {}

    def _host_salt(self, host_id: int) -> int:
        salt = self._host_salts.get(host_id)
        if salt is None:
            salt = self._host_salts[host_id] = mix64(host_id & _M64)
        return salt

    def score(self, symbol_id: int, host_id: int) -> int:
        """Return the weight of ``host_id`` for ``symbol_id`` (the highest one wins)."""
        z = (mix64((symbol_id ^ self._salt) & _M64) ^ self._host_salt(host_id)) * _C & _M64
        return z ^ (z >> 29)

    def choose(self, symbol_id: int, hosts: Sequence[HostLoad]) -> int:
        """Return the live host with the highest score."""
        if not hosts:
            raise _no_hosts(symbol_id)
        # mix64 inlined: this runs once per activation and calls cost more than the math.
        z = ((symbol_id ^ self._salt) + 0x9E3779B97F4A7C15) & _M64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _M64
        base = z ^ (z >> 31)
        salts = self._host_salts
        best_id = hosts[0].host_id
        best = -1
        for load in hosts:
            host_id = load.host_id
            salt = salts.get(host_id)
            if salt is None:
                salt = self._host_salt(host_id)
            z = (base ^ salt) * _C & _M64
            score = z ^ (z >> 29)
            if score > best:
                best = score
                best_id = host_id
        return best_id


@final
class LeastLoadedPolicy(PlacementPolicy):
    """The host with the fewest active symbols; ties go to the lowest ``host_id``."""

    def choose(self, symbol_id: int, hosts: Sequence[HostLoad]) -> int:
        """Return the least loaded host."""
        if not hosts:
            raise _no_hosts(symbol_id)
        best = hosts[0]
        for load in hosts:
            if load.active < best.active or (
                load.active == best.active and load.host_id < best.host_id
            ):
                best = load
        return best.host_id
