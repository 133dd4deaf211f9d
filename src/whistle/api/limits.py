"""Per-key limits: order rate and open streams.

- **Order rate.** Each key has a token bucket of ``burst`` orders refilled at
  ``orders_per_sec`` (the config's ``[limits]`` defaults, or the key's own). Every
  order-entry command takes one token before any work is done for it, on unary calls and
  on the OrderEntry stream alike, so one the venue or the API refuses costs one as well
  (refusing costs the venue's loop too).
  A command that finds the bucket empty is *refused, not dropped*: its result carries
  ``ApiError.API_ERROR_RATE_LIMITED`` with the key's rate in words, nothing is sequenced,
  the call or stream goes on, and the client may retry later.
- **Streams.** A key may hold at most ``max_streams`` open streams (OrderEntry,
  SubscribeMarketData, SubscribeOrderUpdates together). One more is refused with
  ``RESOURCE_EXHAUSTED`` ("too many streams for key ...") before anything is sent; the
  streams already open are untouched.
- **Message size.** ``max_message_bytes`` bounds every received message (the gRPC channel
  option); a larger one is refused by gRPC itself with ``RESOURCE_EXHAUSTED``.

Time comes from an injectable monotonic clock, so tests drive the buckets exactly.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Final, final

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["KeyLimits", "RateLimiter", "StreamLimiter", "TokenBucket"]


@final
class TokenBucket:
    """``capacity`` tokens, refilled at ``rate`` per second; ``take`` never waits."""

    __slots__ = ("_clock", "_stamp", "_tokens", "capacity", "rate")

    def __init__(self, rate: float, capacity: int, clock: Callable[[], float]) -> None:
        if not rate > 0:
            raise ValueError(f"rate must be > 0, was {rate}")
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, was {capacity}")
        self.rate = float(rate)
        self.capacity = capacity
        self._clock = clock
        self._tokens = float(capacity)
        self._stamp = clock()

    def take(self, count: int = 1) -> int:
        """Take up to ``count`` tokens; return how many were taken (0..count)."""
        now = self._clock()
        tokens = self._tokens + (now - self._stamp) * self.rate
        if tokens > self.capacity:
            tokens = float(self.capacity)
        self._stamp = now
        granted = min(count, int(tokens))
        self._tokens = tokens - granted
        return granted


@final
class KeyLimits:
    """The limits of one key (the config's defaults where the key sets none)."""

    __slots__ = ("burst", "max_streams", "orders_per_sec")

    def __init__(self, orders_per_sec: float, burst: int, max_streams: int) -> None:
        self.orders_per_sec = orders_per_sec
        self.burst = burst
        self.max_streams = max_streams


_FORGET_AFTER: Final = 4096  # buckets kept at most (keys are few; guards a leak)


@final
class RateLimiter:
    """One token bucket per key name."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self.refused = 0
        """Commands refused for rate so far (all keys)."""

    def take(self, key: str, limits: KeyLimits, count: int) -> int:
        """Take ``count`` orders of ``key``'s rate; return how many may go (the first ones)."""
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= _FORGET_AFTER:
                self._buckets.clear()
            bucket = self._buckets[key] = TokenBucket(
                limits.orders_per_sec, limits.burst, self._clock
            )
        granted = bucket.take(count)
        self.refused += count - granted
        return granted


@final
class StreamLimiter:
    """Open streams per key name."""

    def __init__(self) -> None:
        self._open: dict[str, int] = {}
        self.refused = 0
        """Streams refused so far (all keys)."""

    def acquire(self, key: str, limit: int) -> bool:
        """Count one more open stream of ``key``; False (nothing counted) past ``limit``."""
        now = self._open.get(key, 0)
        if now >= limit:
            self.refused += 1
            return False
        self._open[key] = now + 1
        return True

    def release(self, key: str) -> None:
        """Count one stream of ``key`` closed."""
        now = self._open.get(key, 0) - 1
        if now > 0:
            self._open[key] = now
        else:
            self._open.pop(key, None)

    def open_streams(self, key: str | None = None) -> int:
        """Return the open streams of ``key`` (None: of every key)."""
        if key is None:
            return sum(self._open.values())
        return self._open.get(key, 0)
