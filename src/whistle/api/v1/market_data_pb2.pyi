from whistle.api.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MarketDataKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARKET_DATA_KIND_UNSPECIFIED: _ClassVar[MarketDataKind]
    MARKET_DATA_KIND_LEVELS: _ClassVar[MarketDataKind]
    MARKET_DATA_KIND_BBO: _ClassVar[MarketDataKind]
    MARKET_DATA_KIND_TRADES: _ClassVar[MarketDataKind]
    MARKET_DATA_KIND_STATUS: _ClassVar[MarketDataKind]

class SnapshotCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SNAPSHOT_CAUSE_UNSPECIFIED: _ClassVar[SnapshotCause]
    SNAPSHOT_CAUSE_INITIAL: _ClassVar[SnapshotCause]
    SNAPSHOT_CAUSE_REQUESTED: _ClassVar[SnapshotCause]
    SNAPSHOT_CAUSE_CONFLATED: _ClassVar[SnapshotCause]
MARKET_DATA_KIND_UNSPECIFIED: MarketDataKind
MARKET_DATA_KIND_LEVELS: MarketDataKind
MARKET_DATA_KIND_BBO: MarketDataKind
MARKET_DATA_KIND_TRADES: MarketDataKind
MARKET_DATA_KIND_STATUS: MarketDataKind
SNAPSHOT_CAUSE_UNSPECIFIED: SnapshotCause
SNAPSHOT_CAUSE_INITIAL: SnapshotCause
SNAPSHOT_CAUSE_REQUESTED: SnapshotCause
SNAPSHOT_CAUSE_CONFLATED: SnapshotCause

class MarketDataSubscribe(_message.Message):
    __slots__ = ("symbols", "symbol_ids", "depth", "kinds", "all_levels")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_IDS_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    KINDS_FIELD_NUMBER: _ClassVar[int]
    ALL_LEVELS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    symbol_ids: _containers.RepeatedScalarFieldContainer[int]
    depth: int
    kinds: _containers.RepeatedScalarFieldContainer[MarketDataKind]
    all_levels: bool
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., symbol_ids: _Optional[_Iterable[int]] = ..., depth: _Optional[int] = ..., kinds: _Optional[_Iterable[_Union[MarketDataKind, str]]] = ..., all_levels: _Optional[bool] = ...) -> None: ...

class MarketDataSnapshotRequest(_message.Message):
    __slots__ = ("symbols", "symbol_ids")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_IDS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    symbol_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ..., symbol_ids: _Optional[_Iterable[int]] = ...) -> None: ...

class MarketDataRequest(_message.Message):
    __slots__ = ("subscribe", "snapshot")
    SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    subscribe: MarketDataSubscribe
    snapshot: MarketDataSnapshotRequest
    def __init__(self, subscribe: _Optional[_Union[MarketDataSubscribe, _Mapping]] = ..., snapshot: _Optional[_Union[MarketDataSnapshotRequest, _Mapping]] = ...) -> None: ...

class BookSnapshot(_message.Message):
    __slots__ = ("cause", "state", "bids", "asks", "bid", "ask", "last_trade_price_ticks", "last_trade_price")
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    BID_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    LAST_TRADE_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    LAST_TRADE_PRICE_FIELD_NUMBER: _ClassVar[int]
    cause: SnapshotCause
    state: _types_pb2.TradingState
    bids: _containers.RepeatedCompositeFieldContainer[_types_pb2.Level]
    asks: _containers.RepeatedCompositeFieldContainer[_types_pb2.Level]
    bid: _types_pb2.Level
    ask: _types_pb2.Level
    last_trade_price_ticks: int
    last_trade_price: str
    def __init__(self, cause: _Optional[_Union[SnapshotCause, str]] = ..., state: _Optional[_Union[_types_pb2.TradingState, str]] = ..., bids: _Optional[_Iterable[_Union[_types_pb2.Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[_types_pb2.Level, _Mapping]]] = ..., bid: _Optional[_Union[_types_pb2.Level, _Mapping]] = ..., ask: _Optional[_Union[_types_pb2.Level, _Mapping]] = ..., last_trade_price_ticks: _Optional[int] = ..., last_trade_price: _Optional[str] = ...) -> None: ...

class LevelUpdate(_message.Message):
    __slots__ = ("side", "level")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    side: _types_pb2.Side
    level: _types_pb2.Level
    def __init__(self, side: _Optional[_Union[_types_pb2.Side, str]] = ..., level: _Optional[_Union[_types_pb2.Level, _Mapping]] = ...) -> None: ...

class BboUpdate(_message.Message):
    __slots__ = ("bid", "ask")
    BID_FIELD_NUMBER: _ClassVar[int]
    ASK_FIELD_NUMBER: _ClassVar[int]
    bid: _types_pb2.Level
    ask: _types_pb2.Level
    def __init__(self, bid: _Optional[_Union[_types_pb2.Level, _Mapping]] = ..., ask: _Optional[_Union[_types_pb2.Level, _Mapping]] = ...) -> None: ...

class TradeUpdate(_message.Message):
    __slots__ = ("trade_id", "price_ticks", "price", "qty_lots", "qty", "aggressor_side")
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    AGGRESSOR_SIDE_FIELD_NUMBER: _ClassVar[int]
    trade_id: int
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    aggressor_side: _types_pb2.Side
    def __init__(self, trade_id: _Optional[int] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ..., aggressor_side: _Optional[_Union[_types_pb2.Side, str]] = ...) -> None: ...

class StatusUpdate(_message.Message):
    __slots__ = ("state", "detail")
    STATE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    state: _types_pb2.TradingState
    detail: str
    def __init__(self, state: _Optional[_Union[_types_pb2.TradingState, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class MarketDataUpdate(_message.Message):
    __slots__ = ("symbol_id", "symbol", "md_seq", "ts_ns", "snapshot", "level", "bbo", "trade", "status")
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    MD_SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    BBO_FIELD_NUMBER: _ClassVar[int]
    TRADE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    symbol_id: int
    symbol: str
    md_seq: int
    ts_ns: int
    snapshot: BookSnapshot
    level: LevelUpdate
    bbo: BboUpdate
    trade: TradeUpdate
    status: StatusUpdate
    def __init__(self, symbol_id: _Optional[int] = ..., symbol: _Optional[str] = ..., md_seq: _Optional[int] = ..., ts_ns: _Optional[int] = ..., snapshot: _Optional[_Union[BookSnapshot, _Mapping]] = ..., level: _Optional[_Union[LevelUpdate, _Mapping]] = ..., bbo: _Optional[_Union[BboUpdate, _Mapping]] = ..., trade: _Optional[_Union[TradeUpdate, _Mapping]] = ..., status: _Optional[_Union[StatusUpdate, _Mapping]] = ...) -> None: ...

class MarketDataBatch(_message.Message):
    __slots__ = ("updates", "conflations")
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    CONFLATIONS_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[MarketDataUpdate]
    conflations: int
    def __init__(self, updates: _Optional[_Iterable[_Union[MarketDataUpdate, _Mapping]]] = ..., conflations: _Optional[int] = ...) -> None: ...

class ListInstrumentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListInstrumentsResponse(_message.Message):
    __slots__ = ("instruments",)
    INSTRUMENTS_FIELD_NUMBER: _ClassVar[int]
    instruments: _containers.RepeatedCompositeFieldContainer[_types_pb2.Instrument]
    def __init__(self, instruments: _Optional[_Iterable[_Union[_types_pb2.Instrument, _Mapping]]] = ...) -> None: ...
