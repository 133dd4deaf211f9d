"""stop() drains until nothing acknowledged waits, and stops the venue whatever fails."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from whistle import NewOrder, Venue
from whistle.coord.durability.replay import replay
from whistle.coord.errors import CoordError, HostStateError
from whistle.core import Instrument
from whistle.core.commands import CancelOrder
from whistle.core.events import OrderFilled

if TYPE_CHECKING:
    from pathlib import Path

    from whistle.core.events import Event

A = Instrument(symbol="A", symbol_id=61, tick_size="1")


def test_a_subscriber_enqueuing_on_a_fill_during_the_drain_still_stops_cleanly(
    tmp_path: Path,
) -> None:
    data = tmp_path / "d"
    venue = Venue(data_dir=data, checkpoint_every=0)
    venue.add_instrument(A)
    acked: list[int] = []

    def on_fill(event: Event) -> None:
        if type(event) is OrderFilled:  # a strategy cancelling on a fill
            result = venue.enqueue(CancelOrder(61, 999, None))
            assert isinstance(result, int)
            acked.append(result)

    venue.subscribe(on_fill)
    venue.send(NewOrder(61, 1, 1, 2, 1, 1, 100, 5))  # resting sell
    acked.append(int(venue.enqueue(NewOrder(61, 2, 1, 1, 1, 1, 100, 2))))  # crosses at drain
    venue.stop()  # the drain's fills enqueue cancels: a second drain tick runs them
    assert venue._stopped
    assert all("stopped" in repr(host) for host in venue.hosts)
    with pytest.raises(HostStateError, match="already stopped"):
        venue.stop()
    assert len(acked) == 3  # the cross, then one cancel per fill (two fills: buyer, seller)
    result = replay(data)
    assert result.mismatches == []
    assert result.clean_stop
    assert result.pending == []
    with Venue(data_dir=data) as reopened:
        report = reopened.recovery
        assert report is not None
        assert report.clean_stop
        assert report.pending == []
        assert report.enq_seq == max(acked)  # every acknowledged command recovered
        assert reopened.state_hashes() == result.state_hashes


def test_a_subscriber_enqueuing_at_every_tick_is_stopped_with_a_clear_error(
    tmp_path: Path,
) -> None:
    data = tmp_path / "d"
    venue = Venue(data_dir=data, checkpoint_every=0)
    venue.add_instrument(A)
    acked: list[int] = []

    def forever(event: Event) -> None:
        # Each cancel is rejected at the next tick, whose reject enqueues the next one.
        result = venue.enqueue(CancelOrder(61, 999, None))
        assert isinstance(result, int)
        acked.append(result)

    venue.subscribe(forever)
    venue.send(NewOrder(61, 1, 1, 2, 1, 1, 100, 5))
    with pytest.raises(CoordError, match=r"\d+ commands still wait for a tick after 64 drain"):
        venue.stop()
    assert venue._stopped
    assert all("stopped" in repr(host) for host in venue.hosts)
    assert venue._journal is not None
    assert venue._journal._closed
    with pytest.raises(HostStateError, match="already stopped"):
        venue.stop()
    with Venue(data_dir=data) as reopened:  # recovered as after a crash, nothing lost
        report = reopened.recovery
        assert report is not None
        assert not report.clean_stop
        assert report.enq_seq == acked[-1]
        assert report.pending  # the last drain tick's, to run at the next tick
        assert set(report.pending) <= set(acked)
        assert report.pending[-1] == acked[-1]


def test_a_checkpoint_refused_between_ticks_is_a_quiet_failure(tmp_path: Path) -> None:
    venue = Venue(data_dir=tmp_path / "d", checkpoint_every=0)
    venue.add_instrument(A)
    venue.enqueue(NewOrder(61, 1, 1, 2, 1, 1, 100, 5))
    venue._checkpoint_quietly()  # commands wait for a tick: a CoordError, recorded
    assert venue.last_checkpoint_error is not None
    assert "between ticks only" in venue.last_checkpoint_error
    venue.stop()
    assert venue.last_checkpoint_error is None  # the drain ticked, the stop checkpointed
