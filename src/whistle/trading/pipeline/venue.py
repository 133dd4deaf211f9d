"""The default gateway of the pipeline: a ``VenueGateway`` on a fresh whistle ``Venue``.

``venue_gateway(symbols, account, tick_size="0.0001", lot_size="1", hosts=0, maker_ppm=0,
taker_ppm=0, drive_clock=False)`` creates an
in-process ``Venue`` (or one with ``hosts`` engine-host processes), defines every pipeline
symbol on it with its pipeline id (so that ``Order.symbol_id`` is the venue's symbol id;
prices are the feed's integer ticks, hence the default tick size of ITCH's four decimals)
and returns ``whistle.trading.gateway.VenueGateway(venue, account, symbols, ...)`` (fees and
``drive_clock``: ``poll(now_ns)`` ticks the venue to the event time first), wrapped so
that ``close()`` also stops the venue.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, final

from whistle.coord.venue.facade import Venue
from whistle.trading.gateway import VenueGateway

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from whistle.trading.messages import Order, OrderUpdate
    from whistle.trading.pipeline.order_stages import GatewayLike

__all__ = ["OwnedVenueGateway", "venue_gateway"]


@final
class OwnedVenueGateway:
    """A gateway that owns its venue: ``close()`` closes the gateway and stops the venue."""

    __slots__ = ("gateway", "poll", "send", "venue")

    def __init__(self, gateway: GatewayLike, venue: Venue) -> None:
        self.gateway = gateway
        self.venue = venue
        self.send: Callable[[Order], list[OrderUpdate]] = gateway.send
        self.poll: Callable[[int], list[OrderUpdate]] = gateway.poll

    def close(self) -> None:
        """Close the gateway, then stop the venue."""
        try:
            self.gateway.close()
        finally:
            self.venue.stop()


def venue_gateway(
    symbols: Mapping[int, str],
    account: int,
    *,
    tick_size: str = "0.0001",
    lot_size: str = "1",
    hosts: int = 0,
    maker_ppm: int = 0,
    taker_ppm: int = 0,
    drive_clock: bool = False,
) -> GatewayLike:
    """Return a ``VenueGateway`` on a new ``Venue`` holding ``symbols`` (see the module doc)."""
    venue = Venue(hosts=hosts)
    try:
        for sid, name in sorted(symbols.items()):
            venue.add_instrument(name, tick_size=tick_size, lot_size=lot_size, symbol_id=sid)
        gateway: GatewayLike = VenueGateway(venue, account, dict(symbols.items()))
    except BaseException:
        venue.stop()
        raise
    return OwnedVenueGateway(gateway, venue)
