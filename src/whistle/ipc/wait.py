"""Idle strategy for a side of a ring that has nothing to do.

A waiting side first spins (cheapest wake-up, burns a core), then yields its time slice with
``time.sleep(0)``, then sleeps with exponential backoff up to ``max_sleep`` so that an idle
producer or consumer costs (almost) no CPU.

Presets (``WaitStrategy.named(name)``, ``WaitStrategy.parse(spec)``):

- ``"sleep"`` (the default): spin 200 times, yield 20 times, then sleep 10 us doubling up
  to 1 ms. Frugal: an idle side costs almost no CPU, but a wake-up from a sleep costs the
  kernel's timer slack (~50-100 us), which is most of a tick's round trip when ticks are
  sparse.
- ``"yield"``: spin 200 times, then yield (``sched_yield``) 50,000 times (tens of ms of
  idleness) before sleeping like ``"sleep"``. A side that yields gives its core to anything
  else runnable at once, so it suits a shared machine, and wakes within microseconds.
- ``"spin"``: never sleep or yield. Lowest latency, burns one core per waiting side: only
  with a core per host plus one for the parent.

A spec is a preset name, optionally followed by overrides, or overrides alone:
``"yield,yields=10000,max_sleep=0.0005"``; ``spec()`` gives the canonical form back.
"""

from __future__ import annotations

import time
from typing import final

__all__ = ["WAIT_PRESETS", "WaitStrategy"]

#: Preset name -> (spin, yields, min_sleep, max_sleep).
WAIT_PRESETS: dict[str, tuple[int, int, float, float]] = {
    "sleep": (200, 20, 10e-6, 1e-3),
    "yield": (200, 50_000, 10e-6, 1e-3),
    "spin": (1 << 62, 0, 10e-6, 1e-3),
}
_FIELDS = ("spin", "yields", "min_sleep", "max_sleep")


@final
class WaitStrategy:
    """Spin ``spin`` times, yield ``yields`` times, then sleep ``min_sleep``..``max_sleep``.

    The strategy is stateless: the caller counts its unsuccessful attempts and passes the count
    to :meth:`idle`, resetting it to zero whenever it makes progress.  One instance can therefore
    be shared by any number of rings and threads.
    """

    __slots__ = ("_max_sleep", "_min_sleep", "_spin", "_yield_until")

    def __init__(
        self,
        spin: int = 200,
        yields: int = 20,
        min_sleep: float = 10e-6,
        max_sleep: float = 1e-3,
    ) -> None:
        if spin < 0 or yields < 0:
            raise ValueError(f"spin and yields must be >= 0, seen spin={spin}, yields={yields}")
        if not 0.0 < min_sleep <= max_sleep:
            raise ValueError(
                f"expected 0 < min_sleep <= max_sleep, seen min_sleep={min_sleep}, "
                f"max_sleep={max_sleep}"
            )
        self._spin = spin
        self._yield_until = spin + yields
        self._min_sleep = min_sleep
        self._max_sleep = max_sleep

    @classmethod
    def busy(cls) -> WaitStrategy:
        """A strategy that practically never sleeps: lowest latency, burns a whole core."""
        return cls(spin=1 << 62, yields=0)

    @classmethod
    def named(cls, name: str) -> WaitStrategy:
        """Return the preset ``name`` (``"sleep"``, ``"yield"`` or ``"spin"``)."""
        preset = WAIT_PRESETS.get(name)
        if preset is None:
            raise ValueError(
                f"wait strategy must be one of {', '.join(WAIT_PRESETS)}, seen {name!r}"
            )
        return cls(*preset)

    @classmethod
    def parse(cls, spec: str) -> WaitStrategy:
        """Return the strategy of ``spec``: ``[preset][,field=value]...`` (see the module)."""
        values: dict[str, float] = dict(zip(_FIELDS, WAIT_PRESETS["sleep"], strict=True))
        for i, part in enumerate(p.strip() for p in spec.split(",")):
            if not part and i == 0:
                continue
            if "=" not in part:
                if i:
                    raise ValueError(f"a preset name comes first in a wait spec, seen {spec!r}")
                if part not in WAIT_PRESETS:
                    raise ValueError(
                        f"wait strategy must be one of {', '.join(WAIT_PRESETS)} "
                        f"(then field=value overrides), seen {part!r}"
                    )
                values = dict(zip(_FIELDS, WAIT_PRESETS[part], strict=True))
                continue
            key, _, text = part.partition("=")
            key = key.strip()
            if key not in _FIELDS:
                raise ValueError(
                    f"wait spec fields are {', '.join(_FIELDS)}, seen {key!r} in {spec!r}"
                )
            try:
                values[key] = float(text) if key.endswith("sleep") else int(text)
            except ValueError:
                raise ValueError(f"wait spec field {key} needs a number, seen {text!r}") from None
        return cls(
            int(values["spin"]),
            int(values["yields"]),
            float(values["min_sleep"]),
            float(values["max_sleep"]),
        )

    def spec(self) -> str:
        """Return a spec that ``parse`` turns back into this strategy."""
        return (
            f"spin={self._spin},yields={self.yields},"
            f"min_sleep={self._min_sleep!r},max_sleep={self._max_sleep!r}"
        )

    def capped(self, max_sleep: float) -> WaitStrategy:
        """Return this strategy with sleeps no longer than ``max_sleep``."""
        if self._max_sleep <= max_sleep:
            return self
        return WaitStrategy(self._spin, self.yields, min(self._min_sleep, max_sleep), max_sleep)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, WaitStrategy):
            return NotImplemented
        return self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(self.spec())

    @property
    def spin(self) -> int:
        return self._spin

    @property
    def yields(self) -> int:
        return self._yield_until - self._spin

    @property
    def min_sleep(self) -> float:
        return self._min_sleep

    @property
    def max_sleep(self) -> float:
        return self._max_sleep

    def idle(self, attempt: int) -> None:
        """Wait once; ``attempt`` is the number of unsuccessful attempts so far (from 0)."""
        if attempt < self._spin:
            return
        if attempt < self._yield_until:
            time.sleep(0)
            return
        step = attempt - self._yield_until
        delay = self._min_sleep * (1 << step) if step < 32 else self._max_sleep
        time.sleep(delay if delay < self._max_sleep else self._max_sleep)

    def __repr__(self) -> str:
        return (
            f"WaitStrategy(spin={self._spin}, yields={self.yields}, "
            f"min_sleep={self._min_sleep}, max_sleep={self._max_sleep})"
        )
