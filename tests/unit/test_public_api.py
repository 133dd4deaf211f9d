"""The public surface of ``whistle`` is pinned: changing it must be deliberate."""

from __future__ import annotations

import whistle

EXPECTED = [
    "BestBidOfferChanged",
    "BookLevelChanged",
    "CancelCause",
    "CancelOrder",
    "CancelReplace",
    "Command",
    "ConversionError",
    "DepthLevel",
    "DepthSnapshot",
    "EndSession",
    "EngineFaulted",
    "EngineSnapshot",
    "EngineStatus",
    "Event",
    "HaltTrading",
    "Instrument",
    "InstrumentError",
    "L3Order",
    "Liquidity",
    "MarketByOrderBook",
    "MassCancel",
    "ModifyOrder",
    "NewOrder",
    "OrderAccepted",
    "OrderCancelled",
    "OrderExpired",
    "OrderFilled",
    "OrderModified",
    "OrderRejected",
    "OrderReplaced",
    "OrderType",
    "PrecisionError",
    "RejectReason",
    "ResumeTrading",
    "Side",
    "StopTriggered",
    "StpMode",
    "TimeInForce",
    "TradeOccurred",
    "TradingState",
    "TradingStatusChanged",
    "ValueFormatError",
    "Venue",
    "Whistle",
    "WhistleError",
    "__version__",
    "stable_symbol_id",
]


def _isort_key(name: str) -> tuple[int, str]:
    # The order ruff's RUF022 keeps: CONSTANTS, then Classes, then functions.
    if name.isupper():
        return (0, name)
    return (1 if name[0].isupper() else 2, name)


def test_all_is_pinned_and_sorted():
    assert whistle.__all__ == EXPECTED
    assert sorted(whistle.__all__, key=_isort_key) == whistle.__all__


def test_every_public_name_resolves():
    for name in whistle.__all__:
        assert getattr(whistle, name) is not None, name


def test_subpackages_sort_their_all():
    import importlib

    for pkg in ("core", "book", "engine", "ipc", "journal", "coord", "feed", "scenario", "bench"):
        module = importlib.import_module(f"whistle.{pkg}")
        names = list(module.__all__)
        assert names == sorted(names, key=_isort_key), pkg
        for name in names:
            assert hasattr(module, name), f"whistle.{pkg}.{name}"


FEED_EXPECTED = [
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


def test_feed_surface_is_pinned():
    import whistle.feed

    assert whistle.feed.__all__ == FEED_EXPECTED
    assert sorted(whistle.feed.FORMATS) == ["dbn", "dbn-csv", "itch", "lobster"]
    assert whistle.MarketByOrderBook is whistle.book.MarketByOrderBook
