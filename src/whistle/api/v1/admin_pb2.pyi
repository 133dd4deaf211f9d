from whistle.api.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AddInstrumentRequest(_message.Message):
    __slots__ = ("symbol", "tick_size", "lot_size", "min_qty", "max_qty", "price_band_pct", "reference_price", "symbol_id")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_QTY_FIELD_NUMBER: _ClassVar[int]
    MAX_QTY_FIELD_NUMBER: _ClassVar[int]
    PRICE_BAND_PCT_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_PRICE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    tick_size: str
    lot_size: str
    min_qty: str
    max_qty: str
    price_band_pct: str
    reference_price: str
    symbol_id: int
    def __init__(self, symbol: _Optional[str] = ..., tick_size: _Optional[str] = ..., lot_size: _Optional[str] = ..., min_qty: _Optional[str] = ..., max_qty: _Optional[str] = ..., price_band_pct: _Optional[str] = ..., reference_price: _Optional[str] = ..., symbol_id: _Optional[int] = ...) -> None: ...

class AddInstrumentResponse(_message.Message):
    __slots__ = ("instrument",)
    INSTRUMENT_FIELD_NUMBER: _ClassVar[int]
    instrument: _types_pb2.Instrument
    def __init__(self, instrument: _Optional[_Union[_types_pb2.Instrument, _Mapping]] = ...) -> None: ...

class HaltRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ...) -> None: ...

class HaltResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_types_pb2.Event, _Mapping]]] = ...) -> None: ...

class ResumeRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ...) -> None: ...

class ResumeResponse(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_types_pb2.Event, _Mapping]]] = ...) -> None: ...

class StatusRequest(_message.Message):
    __slots__ = ("symbols",)
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, symbols: _Optional[_Iterable[str]] = ...) -> None: ...

class SymbolStatus(_message.Message):
    __slots__ = ("symbol", "symbol_id", "state", "resting_orders", "bid_orders", "ask_orders", "parked_stops", "best_bid", "best_ask", "last_trade_price_ticks", "last_trade_price", "trades", "event_seq", "last_enq_seq", "fault", "host_id", "lifecycle")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    RESTING_ORDERS_FIELD_NUMBER: _ClassVar[int]
    BID_ORDERS_FIELD_NUMBER: _ClassVar[int]
    ASK_ORDERS_FIELD_NUMBER: _ClassVar[int]
    PARKED_STOPS_FIELD_NUMBER: _ClassVar[int]
    BEST_BID_FIELD_NUMBER: _ClassVar[int]
    BEST_ASK_FIELD_NUMBER: _ClassVar[int]
    LAST_TRADE_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    LAST_TRADE_PRICE_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    EVENT_SEQ_FIELD_NUMBER: _ClassVar[int]
    LAST_ENQ_SEQ_FIELD_NUMBER: _ClassVar[int]
    FAULT_FIELD_NUMBER: _ClassVar[int]
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    LIFECYCLE_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    state: _types_pb2.TradingState
    resting_orders: int
    bid_orders: int
    ask_orders: int
    parked_stops: int
    best_bid: _types_pb2.Level
    best_ask: _types_pb2.Level
    last_trade_price_ticks: int
    last_trade_price: str
    trades: int
    event_seq: int
    last_enq_seq: int
    fault: str
    host_id: int
    lifecycle: str
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., state: _Optional[_Union[_types_pb2.TradingState, str]] = ..., resting_orders: _Optional[int] = ..., bid_orders: _Optional[int] = ..., ask_orders: _Optional[int] = ..., parked_stops: _Optional[int] = ..., best_bid: _Optional[_Union[_types_pb2.Level, _Mapping]] = ..., best_ask: _Optional[_Union[_types_pb2.Level, _Mapping]] = ..., last_trade_price_ticks: _Optional[int] = ..., last_trade_price: _Optional[str] = ..., trades: _Optional[int] = ..., event_seq: _Optional[int] = ..., last_enq_seq: _Optional[int] = ..., fault: _Optional[str] = ..., host_id: _Optional[int] = ..., lifecycle: _Optional[str] = ...) -> None: ...

class HostStatus(_message.Message):
    __slots__ = ("host_id", "symbols", "commands")
    HOST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    host_id: int
    symbols: int
    commands: int
    def __init__(self, host_id: _Optional[int] = ..., symbols: _Optional[int] = ..., commands: _Optional[int] = ...) -> None: ...

class StatusResponse(_message.Message):
    __slots__ = ("symbols", "enq_seq", "now_ns", "hosts", "journaled", "last_checkpoint_error", "event_error", "unwritten_events", "open_streams")
    SYMBOLS_FIELD_NUMBER: _ClassVar[int]
    ENQ_SEQ_FIELD_NUMBER: _ClassVar[int]
    NOW_NS_FIELD_NUMBER: _ClassVar[int]
    HOSTS_FIELD_NUMBER: _ClassVar[int]
    JOURNALED_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECKPOINT_ERROR_FIELD_NUMBER: _ClassVar[int]
    EVENT_ERROR_FIELD_NUMBER: _ClassVar[int]
    UNWRITTEN_EVENTS_FIELD_NUMBER: _ClassVar[int]
    OPEN_STREAMS_FIELD_NUMBER: _ClassVar[int]
    symbols: _containers.RepeatedCompositeFieldContainer[SymbolStatus]
    enq_seq: int
    now_ns: int
    hosts: _containers.RepeatedCompositeFieldContainer[HostStatus]
    journaled: bool
    last_checkpoint_error: str
    event_error: str
    unwritten_events: int
    open_streams: int
    def __init__(self, symbols: _Optional[_Iterable[_Union[SymbolStatus, _Mapping]]] = ..., enq_seq: _Optional[int] = ..., now_ns: _Optional[int] = ..., hosts: _Optional[_Iterable[_Union[HostStatus, _Mapping]]] = ..., journaled: _Optional[bool] = ..., last_checkpoint_error: _Optional[str] = ..., event_error: _Optional[str] = ..., unwritten_events: _Optional[int] = ..., open_streams: _Optional[int] = ...) -> None: ...

class DepthRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id", "levels")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    LEVELS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    levels: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., levels: _Optional[int] = ...) -> None: ...

class DepthResponse(_message.Message):
    __slots__ = ("symbol_id", "seq", "bids", "asks")
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    symbol_id: int
    seq: int
    bids: _containers.RepeatedCompositeFieldContainer[_types_pb2.Level]
    asks: _containers.RepeatedCompositeFieldContainer[_types_pb2.Level]
    def __init__(self, symbol_id: _Optional[int] = ..., seq: _Optional[int] = ..., bids: _Optional[_Iterable[_Union[_types_pb2.Level, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[_types_pb2.Level, _Mapping]]] = ...) -> None: ...

class SnapshotRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ...) -> None: ...

class RestingOrder(_message.Message):
    __slots__ = ("order_id", "account", "side", "price_ticks", "price", "qty_lots", "qty", "hidden_lots")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_LOTS_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    account: int
    side: _types_pb2.Side
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    hidden_lots: int
    def __init__(self, order_id: _Optional[int] = ..., account: _Optional[int] = ..., side: _Optional[_Union[_types_pb2.Side, str]] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ..., hidden_lots: _Optional[int] = ...) -> None: ...

class SnapshotResponse(_message.Message):
    __slots__ = ("status", "orders", "state_hash")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    STATE_HASH_FIELD_NUMBER: _ClassVar[int]
    status: SymbolStatus
    orders: _containers.RepeatedCompositeFieldContainer[RestingOrder]
    state_hash: str
    def __init__(self, status: _Optional[_Union[SymbolStatus, _Mapping]] = ..., orders: _Optional[_Iterable[_Union[RestingOrder, _Mapping]]] = ..., state_hash: _Optional[str] = ...) -> None: ...

class ReleaseIdleRequest(_message.Message):
    __slots__ = ("idle_ticks",)
    IDLE_TICKS_FIELD_NUMBER: _ClassVar[int]
    idle_ticks: int
    def __init__(self, idle_ticks: _Optional[int] = ...) -> None: ...

class ReleaseIdleResponse(_message.Message):
    __slots__ = ("symbol_ids",)
    SYMBOL_IDS_FIELD_NUMBER: _ClassVar[int]
    symbol_ids: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, symbol_ids: _Optional[_Iterable[int]] = ...) -> None: ...
