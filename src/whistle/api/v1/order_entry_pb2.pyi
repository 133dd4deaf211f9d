from whistle.api.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SubmitOrderRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id", "side", "qty", "qty_lots", "price", "price_ticks", "order_type", "tif", "order_id", "account", "stop_price", "stop_price_ticks", "display_qty", "display_qty_lots", "post_only", "stp", "expire_ts_ns", "protection_price", "protection_price_ticks", "client_order_id")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIF_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    STOP_PRICE_FIELD_NUMBER: _ClassVar[int]
    STOP_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_QTY_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    POST_ONLY_FIELD_NUMBER: _ClassVar[int]
    STP_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TS_NS_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_PRICE_FIELD_NUMBER: _ClassVar[int]
    PROTECTION_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    side: _types_pb2.Side
    qty: str
    qty_lots: int
    price: str
    price_ticks: int
    order_type: _types_pb2.OrderType
    tif: _types_pb2.TimeInForce
    order_id: int
    account: int
    stop_price: str
    stop_price_ticks: int
    display_qty: str
    display_qty_lots: int
    post_only: bool
    stp: _types_pb2.StpMode
    expire_ts_ns: int
    protection_price: str
    protection_price_ticks: int
    client_order_id: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., side: _Optional[_Union[_types_pb2.Side, str]] = ..., qty: _Optional[str] = ..., qty_lots: _Optional[int] = ..., price: _Optional[str] = ..., price_ticks: _Optional[int] = ..., order_type: _Optional[_Union[_types_pb2.OrderType, str]] = ..., tif: _Optional[_Union[_types_pb2.TimeInForce, str]] = ..., order_id: _Optional[int] = ..., account: _Optional[int] = ..., stop_price: _Optional[str] = ..., stop_price_ticks: _Optional[int] = ..., display_qty: _Optional[str] = ..., display_qty_lots: _Optional[int] = ..., post_only: _Optional[bool] = ..., stp: _Optional[_Union[_types_pb2.StpMode, str]] = ..., expire_ts_ns: _Optional[int] = ..., protection_price: _Optional[str] = ..., protection_price_ticks: _Optional[int] = ..., client_order_id: _Optional[int] = ...) -> None: ...

class SubmitOrderResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _types_pb2.CommandResult
    def __init__(self, result: _Optional[_Union[_types_pb2.CommandResult, _Mapping]] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id", "order_id", "account")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    order_id: int
    account: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., order_id: _Optional[int] = ..., account: _Optional[int] = ...) -> None: ...

class CancelOrderResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _types_pb2.CommandResult
    def __init__(self, result: _Optional[_Union[_types_pb2.CommandResult, _Mapping]] = ...) -> None: ...

class ModifyOrderRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id", "order_id", "price", "price_ticks", "qty", "qty_lots", "account")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    order_id: int
    price: str
    price_ticks: int
    qty: str
    qty_lots: int
    account: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., order_id: _Optional[int] = ..., price: _Optional[str] = ..., price_ticks: _Optional[int] = ..., qty: _Optional[str] = ..., qty_lots: _Optional[int] = ..., account: _Optional[int] = ...) -> None: ...

class ModifyOrderResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _types_pb2.CommandResult
    def __init__(self, result: _Optional[_Union[_types_pb2.CommandResult, _Mapping]] = ...) -> None: ...

class CancelReplaceRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id", "order_id", "new_order_id", "price", "price_ticks", "qty", "qty_lots", "account", "client_order_id")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    order_id: int
    new_order_id: int
    price: str
    price_ticks: int
    qty: str
    qty_lots: int
    account: int
    client_order_id: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., order_id: _Optional[int] = ..., new_order_id: _Optional[int] = ..., price: _Optional[str] = ..., price_ticks: _Optional[int] = ..., qty: _Optional[str] = ..., qty_lots: _Optional[int] = ..., account: _Optional[int] = ..., client_order_id: _Optional[int] = ...) -> None: ...

class CancelReplaceResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _types_pb2.CommandResult
    def __init__(self, result: _Optional[_Union[_types_pb2.CommandResult, _Mapping]] = ...) -> None: ...

class MassCancelRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id", "account")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    account: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., account: _Optional[int] = ...) -> None: ...

class MassCancelResponse(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: _types_pb2.CommandResult
    def __init__(self, result: _Optional[_Union[_types_pb2.CommandResult, _Mapping]] = ...) -> None: ...

class OrderCommand(_message.Message):
    __slots__ = ("request_id", "submit", "cancel", "modify", "cancel_replace", "mass_cancel")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SUBMIT_FIELD_NUMBER: _ClassVar[int]
    CANCEL_FIELD_NUMBER: _ClassVar[int]
    MODIFY_FIELD_NUMBER: _ClassVar[int]
    CANCEL_REPLACE_FIELD_NUMBER: _ClassVar[int]
    MASS_CANCEL_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    submit: SubmitOrderRequest
    cancel: CancelOrderRequest
    modify: ModifyOrderRequest
    cancel_replace: CancelReplaceRequest
    mass_cancel: MassCancelRequest
    def __init__(self, request_id: _Optional[int] = ..., submit: _Optional[_Union[SubmitOrderRequest, _Mapping]] = ..., cancel: _Optional[_Union[CancelOrderRequest, _Mapping]] = ..., modify: _Optional[_Union[ModifyOrderRequest, _Mapping]] = ..., cancel_replace: _Optional[_Union[CancelReplaceRequest, _Mapping]] = ..., mass_cancel: _Optional[_Union[MassCancelRequest, _Mapping]] = ...) -> None: ...

class OrderEntryRequest(_message.Message):
    __slots__ = ("commands", "omit_market_data")
    COMMANDS_FIELD_NUMBER: _ClassVar[int]
    OMIT_MARKET_DATA_FIELD_NUMBER: _ClassVar[int]
    commands: _containers.RepeatedCompositeFieldContainer[OrderCommand]
    omit_market_data: bool
    def __init__(self, commands: _Optional[_Iterable[_Union[OrderCommand, _Mapping]]] = ..., omit_market_data: _Optional[bool] = ...) -> None: ...

class OrderReply(_message.Message):
    __slots__ = ("request_id", "result")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    request_id: int
    result: _types_pb2.CommandResult
    def __init__(self, request_id: _Optional[int] = ..., result: _Optional[_Union[_types_pb2.CommandResult, _Mapping]] = ...) -> None: ...

class OrderEntryResponse(_message.Message):
    __slots__ = ("replies",)
    REPLIES_FIELD_NUMBER: _ClassVar[int]
    replies: _containers.RepeatedCompositeFieldContainer[OrderReply]
    def __init__(self, replies: _Optional[_Iterable[_Union[OrderReply, _Mapping]]] = ...) -> None: ...

class SubscribeOrderUpdatesRequest(_message.Message):
    __slots__ = ("account",)
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    account: int
    def __init__(self, account: _Optional[int] = ...) -> None: ...

class OrderUpdateBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.Event]
    def __init__(self, events: _Optional[_Iterable[_Union[_types_pb2.Event, _Mapping]]] = ...) -> None: ...

class GetOrderRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id", "order_id")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    order_id: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., order_id: _Optional[int] = ...) -> None: ...

class OrderInfo(_message.Message):
    __slots__ = ("symbol_id", "order_id", "account", "side", "order_type", "tif", "price_ticks", "price", "stop_price_ticks", "stop_price", "leaves_qty_lots", "leaves_qty", "displayed_qty_lots", "hidden_qty_lots", "filled_qty_lots", "filled_qty", "original_qty_lots", "original_qty", "queue_position", "queue_ahead_lots", "entry_ts_ns", "expire_ts_ns", "parked")
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIF_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    STOP_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    STOP_PRICE_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    DISPLAYED_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    FILLED_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    FILLED_QTY_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_QTY_FIELD_NUMBER: _ClassVar[int]
    QUEUE_POSITION_FIELD_NUMBER: _ClassVar[int]
    QUEUE_AHEAD_LOTS_FIELD_NUMBER: _ClassVar[int]
    ENTRY_TS_NS_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TS_NS_FIELD_NUMBER: _ClassVar[int]
    PARKED_FIELD_NUMBER: _ClassVar[int]
    symbol_id: int
    order_id: int
    account: int
    side: _types_pb2.Side
    order_type: _types_pb2.OrderType
    tif: _types_pb2.TimeInForce
    price_ticks: int
    price: str
    stop_price_ticks: int
    stop_price: str
    leaves_qty_lots: int
    leaves_qty: str
    displayed_qty_lots: int
    hidden_qty_lots: int
    filled_qty_lots: int
    filled_qty: str
    original_qty_lots: int
    original_qty: str
    queue_position: int
    queue_ahead_lots: int
    entry_ts_ns: int
    expire_ts_ns: int
    parked: bool
    def __init__(self, symbol_id: _Optional[int] = ..., order_id: _Optional[int] = ..., account: _Optional[int] = ..., side: _Optional[_Union[_types_pb2.Side, str]] = ..., order_type: _Optional[_Union[_types_pb2.OrderType, str]] = ..., tif: _Optional[_Union[_types_pb2.TimeInForce, str]] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., stop_price_ticks: _Optional[int] = ..., stop_price: _Optional[str] = ..., leaves_qty_lots: _Optional[int] = ..., leaves_qty: _Optional[str] = ..., displayed_qty_lots: _Optional[int] = ..., hidden_qty_lots: _Optional[int] = ..., filled_qty_lots: _Optional[int] = ..., filled_qty: _Optional[str] = ..., original_qty_lots: _Optional[int] = ..., original_qty: _Optional[str] = ..., queue_position: _Optional[int] = ..., queue_ahead_lots: _Optional[int] = ..., entry_ts_ns: _Optional[int] = ..., expire_ts_ns: _Optional[int] = ..., parked: _Optional[bool] = ...) -> None: ...

class GetOrderResponse(_message.Message):
    __slots__ = ("order",)
    ORDER_FIELD_NUMBER: _ClassVar[int]
    order: OrderInfo
    def __init__(self, order: _Optional[_Union[OrderInfo, _Mapping]] = ...) -> None: ...

class ListOpenOrdersRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id", "account")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    account: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., account: _Optional[int] = ...) -> None: ...

class OpenOrder(_message.Message):
    __slots__ = ("symbol_id", "order_id", "account", "side", "price_ticks", "price", "qty_lots", "qty", "hidden_lots")
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    HIDDEN_LOTS_FIELD_NUMBER: _ClassVar[int]
    symbol_id: int
    order_id: int
    account: int
    side: _types_pb2.Side
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    hidden_lots: int
    def __init__(self, symbol_id: _Optional[int] = ..., order_id: _Optional[int] = ..., account: _Optional[int] = ..., side: _Optional[_Union[_types_pb2.Side, str]] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ..., hidden_lots: _Optional[int] = ...) -> None: ...

class ListOpenOrdersResponse(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[OpenOrder]
    def __init__(self, orders: _Optional[_Iterable[_Union[OpenOrder, _Mapping]]] = ...) -> None: ...

class GetClientOrderRequest(_message.Message):
    __slots__ = ("client_order_id", "account")
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    client_order_id: int
    account: int
    def __init__(self, client_order_id: _Optional[int] = ..., account: _Optional[int] = ...) -> None: ...

class GetClientOrderResponse(_message.Message):
    __slots__ = ("symbol_id", "order_id", "account", "client_order_id", "enq_seq", "outcome", "reason", "events")
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ENQ_SEQ_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    symbol_id: int
    order_id: int
    account: int
    client_order_id: int
    enq_seq: int
    outcome: _types_pb2.ClientOrderOutcome
    reason: _types_pb2.RejectReason
    events: _containers.RepeatedCompositeFieldContainer[_types_pb2.Event]
    def __init__(self, symbol_id: _Optional[int] = ..., order_id: _Optional[int] = ..., account: _Optional[int] = ..., client_order_id: _Optional[int] = ..., enq_seq: _Optional[int] = ..., outcome: _Optional[_Union[_types_pb2.ClientOrderOutcome, str]] = ..., reason: _Optional[_Union[_types_pb2.RejectReason, str]] = ..., events: _Optional[_Iterable[_Union[_types_pb2.Event, _Mapping]]] = ...) -> None: ...

class ListFillsRequest(_message.Message):
    __slots__ = ("symbol", "symbol_id", "account", "after_enq_seq")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    AFTER_ENQ_SEQ_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    account: int
    after_enq_seq: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., account: _Optional[int] = ..., after_enq_seq: _Optional[int] = ...) -> None: ...

class ListFillsResponse(_message.Message):
    __slots__ = ("fills", "complete")
    FILLS_FIELD_NUMBER: _ClassVar[int]
    COMPLETE_FIELD_NUMBER: _ClassVar[int]
    fills: _containers.RepeatedCompositeFieldContainer[_types_pb2.Event]
    complete: bool
    def __init__(self, fills: _Optional[_Iterable[_Union[_types_pb2.Event, _Mapping]]] = ..., complete: _Optional[bool] = ...) -> None: ...
