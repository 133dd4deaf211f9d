# Layer rule: whistle.feed is layer 6. It may import whistle.core (the MBO events),
# whistle.book (MarketByOrderBook, for checking tools such as lobster.compare) and the
# layers below 6; never whistle.trading, whistle.scenario or anything above.
"""Market data in: decoders of order-level files into ``whistle.core.mbo`` events.

A decoder turns bytes into events and knows nothing of books; a book
(``whistle.book.mbo.MarketByOrderBook``) applies events and knows nothing of files::

    from whistle.book.mbo import MarketByOrderBook
    import whistle.feed

    feed = whistle.feed.open("ex20101224.TEST_ITCH_50", format="itch", symbols=["BOB"])
    book = MarketByOrderBook()
    for event in feed:
        book.apply(event)
    print(feed.stats.as_dict(), book.depth(10))

Each decoder is a streaming iterator over a plain or gzip file with bounded memory; its
errors (``FeedFormatError``, ``TruncatedFileError``) name the file and the byte offset or
line. ``stats`` (``FeedStats``) counts messages by type and per symbol as it goes.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Protocol

from whistle.feed._common import FeedStats, SymbolStats
from whistle.feed.errors import FeedError, FeedFormatError, TruncatedFileError
from whistle.feed.itch import ItchDecoder, ItchRecord
from whistle.feed.lobster import LobsterDecoder
from whistle.feed.mbp import MbpBuilder, mbp_rows

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from whistle.core.mbo import MboEvent

__all__ = [
    "FORMATS",
    "FeedError",
    "FeedFormatError",
    "FeedReader",
    "FeedStats",
    "ItchDecoder",
    "ItchRecord",
    "LobsterDecoder",
    "MbpBuilder",
    "SymbolStats",
    "TruncatedFileError",
    "mbp_rows",
    "open",
]


class FeedReader(Protocol):
    """What ``open()`` returns: an iterable of events with running ``stats``."""

    path: str
    stats: FeedStats

    def __iter__(self) -> Iterator[MboEvent]: ...


def _itch(path: str, symbols: Iterable[str] | None, options: dict[str, Any]) -> FeedReader:
    return ItchDecoder(path, symbols=symbols, **options)


def _lobster(path: str, symbols: Iterable[str] | None, options: dict[str, Any]) -> FeedReader:
    return LobsterDecoder(path, symbols=symbols, **options)


def _dbn(path: str, symbols: Iterable[str] | None, options: dict[str, Any]) -> FeedReader:
    from whistle.feed.dbn import DbnDecoder  # databento-dbn is loaded only when used

    return DbnDecoder(path, symbols=symbols, **options)


def _dbn_csv(path: str, symbols: Iterable[str] | None, options: dict[str, Any]) -> FeedReader:
    from whistle.feed.dbn import DbnCsvDecoder

    return DbnCsvDecoder(path, symbols=symbols, **options)


FORMATS: dict[str, Callable[[str, Iterable[str] | None, dict[str, Any]], FeedReader]] = {
    "itch": _itch,
    "lobster": _lobster,
    # -- formats registered by other modules (whistle.feed.dbn: "dbn", "dbn-csv") --
    "dbn": _dbn,
    "dbn-csv": _dbn_csv,
}
"""Format name -> factory(path, symbols, options) of a ``FeedReader``."""


def open(
    path: str | os.PathLike[str],
    format: str,
    symbols: Iterable[str] | None = None,
    **options: Any,
) -> FeedReader:
    """Open the market-data file ``path`` in ``format`` (``FORMATS``), keeping only
    ``symbols`` (None: all). ``options`` go to the decoder (e.g. ``policy="lenient"``;
    LOBSTER ``orderbook=PATH``, ``symbol=``, ``instrument_id=``)."""
    factory = FORMATS.get(format)
    if factory is None:
        raise FeedError(
            f"unknown market-data format {format!r}; expected one of {', '.join(sorted(FORMATS))}"
        )
    return factory(os.fspath(path), symbols, options)
