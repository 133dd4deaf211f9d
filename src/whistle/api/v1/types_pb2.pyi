from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Side(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SIDE_UNSPECIFIED: _ClassVar[Side]
    SIDE_BUY: _ClassVar[Side]
    SIDE_SELL: _ClassVar[Side]

class OrderType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_TYPE_UNSPECIFIED: _ClassVar[OrderType]
    ORDER_TYPE_LIMIT: _ClassVar[OrderType]
    ORDER_TYPE_MARKET: _ClassVar[OrderType]
    ORDER_TYPE_STOP: _ClassVar[OrderType]
    ORDER_TYPE_STOP_LIMIT: _ClassVar[OrderType]

class TimeInForce(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TIME_IN_FORCE_UNSPECIFIED: _ClassVar[TimeInForce]
    TIME_IN_FORCE_GTC: _ClassVar[TimeInForce]
    TIME_IN_FORCE_IOC: _ClassVar[TimeInForce]
    TIME_IN_FORCE_FOK: _ClassVar[TimeInForce]
    TIME_IN_FORCE_GTD: _ClassVar[TimeInForce]
    TIME_IN_FORCE_DAY: _ClassVar[TimeInForce]

class StpMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STP_MODE_UNSPECIFIED: _ClassVar[StpMode]
    STP_MODE_CANCEL_NEWEST: _ClassVar[StpMode]
    STP_MODE_CANCEL_OLDEST: _ClassVar[StpMode]
    STP_MODE_CANCEL_BOTH: _ClassVar[StpMode]
    STP_MODE_DECREMENT_AND_CANCEL: _ClassVar[StpMode]

class CancelCause(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CANCEL_CAUSE_UNSPECIFIED: _ClassVar[CancelCause]
    CANCEL_CAUSE_USER: _ClassVar[CancelCause]
    CANCEL_CAUSE_IOC_REMAINDER: _ClassVar[CancelCause]
    CANCEL_CAUSE_SELF_TRADE: _ClassVar[CancelCause]
    CANCEL_CAUSE_EXPIRED: _ClassVar[CancelCause]
    CANCEL_CAUSE_MASS_CANCEL: _ClassVar[CancelCause]

class Liquidity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LIQUIDITY_UNSPECIFIED: _ClassVar[Liquidity]
    LIQUIDITY_MAKER: _ClassVar[Liquidity]
    LIQUIDITY_TAKER: _ClassVar[Liquidity]

class TradingState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRADING_STATE_UNSPECIFIED: _ClassVar[TradingState]
    TRADING_STATE_ACTIVE: _ClassVar[TradingState]
    TRADING_STATE_HALTED: _ClassVar[TradingState]
    TRADING_STATE_FAULTED: _ClassVar[TradingState]

class ClientOrderOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLIENT_ORDER_OUTCOME_PENDING: _ClassVar[ClientOrderOutcome]
    CLIENT_ORDER_OUTCOME_ACCEPTED: _ClassVar[ClientOrderOutcome]
    CLIENT_ORDER_OUTCOME_REJECTED: _ClassVar[ClientOrderOutcome]

class RejectReason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REJECT_REASON_UNSPECIFIED: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_SYMBOL: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_PRICE_PRECISION: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_QTY_PRECISION: _ClassVar[RejectReason]
    REJECT_REASON_QTY_NOT_POSITIVE: _ClassVar[RejectReason]
    REJECT_REASON_QTY_BELOW_MIN: _ClassVar[RejectReason]
    REJECT_REASON_QTY_ABOVE_MAX: _ClassVar[RejectReason]
    REJECT_REASON_PRICE_NOT_POSITIVE: _ClassVar[RejectReason]
    REJECT_REASON_PRICE_NOT_ALLOWED: _ClassVar[RejectReason]
    REJECT_REASON_PRICE_OUTSIDE_BAND: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_SIDE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_ORDER_TYPE: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_TIF: _ClassVar[RejectReason]
    REJECT_REASON_MISSING_STOP_PRICE: _ClassVar[RejectReason]
    REJECT_REASON_STOP_PRICE_NOT_ALLOWED: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_POST_ONLY: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_DISPLAY_QTY: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_PROTECTION_PRICE: _ClassVar[RejectReason]
    REJECT_REASON_GTD_MISSING_EXPIRY: _ClassVar[RejectReason]
    REJECT_REASON_GTD_EXPIRED: _ClassVar[RejectReason]
    REJECT_REASON_EXPIRY_NOT_ALLOWED: _ClassVar[RejectReason]
    REJECT_REASON_INVALID_STP_MODE: _ClassVar[RejectReason]
    REJECT_REASON_DUPLICATE_ORDER_ID: _ClassVar[RejectReason]
    REJECT_REASON_MALFORMED_COMMAND: _ClassVar[RejectReason]
    REJECT_REASON_VALUE_OUT_OF_RANGE: _ClassVar[RejectReason]
    REJECT_REASON_DUPLICATE_CLIENT_ORDER_ID: _ClassVar[RejectReason]
    REJECT_REASON_TRADING_HALTED: _ClassVar[RejectReason]
    REJECT_REASON_ENGINE_FAULTED: _ClassVar[RejectReason]
    REJECT_REASON_SYMBOL_NOT_ACTIVE: _ClassVar[RejectReason]
    REJECT_REASON_QUEUE_FULL: _ClassVar[RejectReason]
    REJECT_REASON_CLIENT_ORDER_IDS_FULL: _ClassVar[RejectReason]
    REJECT_REASON_UNKNOWN_ORDER_ID: _ClassVar[RejectReason]
    REJECT_REASON_ACCOUNT_MISMATCH: _ClassVar[RejectReason]
    REJECT_REASON_MODIFY_NO_CHANGE: _ClassVar[RejectReason]
    REJECT_REASON_POST_ONLY_WOULD_TAKE: _ClassVar[RejectReason]
    REJECT_REASON_FOK_UNFILLABLE: _ClassVar[RejectReason]
    REJECT_REASON_NO_LIQUIDITY: _ClassVar[RejectReason]
    REJECT_REASON_ORDER_NOT_MODIFIABLE: _ClassVar[RejectReason]

class ApiError(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    API_ERROR_UNSPECIFIED: _ClassVar[ApiError]
    API_ERROR_RATE_LIMITED: _ClassVar[ApiError]
    API_ERROR_PERMISSION_DENIED: _ClassVar[ApiError]
    API_ERROR_UNAVAILABLE: _ClassVar[ApiError]
    API_ERROR_INVALID_ARGUMENT: _ClassVar[ApiError]
SIDE_UNSPECIFIED: Side
SIDE_BUY: Side
SIDE_SELL: Side
ORDER_TYPE_UNSPECIFIED: OrderType
ORDER_TYPE_LIMIT: OrderType
ORDER_TYPE_MARKET: OrderType
ORDER_TYPE_STOP: OrderType
ORDER_TYPE_STOP_LIMIT: OrderType
TIME_IN_FORCE_UNSPECIFIED: TimeInForce
TIME_IN_FORCE_GTC: TimeInForce
TIME_IN_FORCE_IOC: TimeInForce
TIME_IN_FORCE_FOK: TimeInForce
TIME_IN_FORCE_GTD: TimeInForce
TIME_IN_FORCE_DAY: TimeInForce
STP_MODE_UNSPECIFIED: StpMode
STP_MODE_CANCEL_NEWEST: StpMode
STP_MODE_CANCEL_OLDEST: StpMode
STP_MODE_CANCEL_BOTH: StpMode
STP_MODE_DECREMENT_AND_CANCEL: StpMode
CANCEL_CAUSE_UNSPECIFIED: CancelCause
CANCEL_CAUSE_USER: CancelCause
CANCEL_CAUSE_IOC_REMAINDER: CancelCause
CANCEL_CAUSE_SELF_TRADE: CancelCause
CANCEL_CAUSE_EXPIRED: CancelCause
CANCEL_CAUSE_MASS_CANCEL: CancelCause
LIQUIDITY_UNSPECIFIED: Liquidity
LIQUIDITY_MAKER: Liquidity
LIQUIDITY_TAKER: Liquidity
TRADING_STATE_UNSPECIFIED: TradingState
TRADING_STATE_ACTIVE: TradingState
TRADING_STATE_HALTED: TradingState
TRADING_STATE_FAULTED: TradingState
CLIENT_ORDER_OUTCOME_PENDING: ClientOrderOutcome
CLIENT_ORDER_OUTCOME_ACCEPTED: ClientOrderOutcome
CLIENT_ORDER_OUTCOME_REJECTED: ClientOrderOutcome
REJECT_REASON_UNSPECIFIED: RejectReason
REJECT_REASON_UNKNOWN_SYMBOL: RejectReason
REJECT_REASON_INVALID_PRICE_PRECISION: RejectReason
REJECT_REASON_INVALID_QTY_PRECISION: RejectReason
REJECT_REASON_QTY_NOT_POSITIVE: RejectReason
REJECT_REASON_QTY_BELOW_MIN: RejectReason
REJECT_REASON_QTY_ABOVE_MAX: RejectReason
REJECT_REASON_PRICE_NOT_POSITIVE: RejectReason
REJECT_REASON_PRICE_NOT_ALLOWED: RejectReason
REJECT_REASON_PRICE_OUTSIDE_BAND: RejectReason
REJECT_REASON_INVALID_SIDE: RejectReason
REJECT_REASON_INVALID_ORDER_TYPE: RejectReason
REJECT_REASON_INVALID_TIF: RejectReason
REJECT_REASON_MISSING_STOP_PRICE: RejectReason
REJECT_REASON_STOP_PRICE_NOT_ALLOWED: RejectReason
REJECT_REASON_INVALID_POST_ONLY: RejectReason
REJECT_REASON_INVALID_DISPLAY_QTY: RejectReason
REJECT_REASON_INVALID_PROTECTION_PRICE: RejectReason
REJECT_REASON_GTD_MISSING_EXPIRY: RejectReason
REJECT_REASON_GTD_EXPIRED: RejectReason
REJECT_REASON_EXPIRY_NOT_ALLOWED: RejectReason
REJECT_REASON_INVALID_STP_MODE: RejectReason
REJECT_REASON_DUPLICATE_ORDER_ID: RejectReason
REJECT_REASON_MALFORMED_COMMAND: RejectReason
REJECT_REASON_VALUE_OUT_OF_RANGE: RejectReason
REJECT_REASON_DUPLICATE_CLIENT_ORDER_ID: RejectReason
REJECT_REASON_TRADING_HALTED: RejectReason
REJECT_REASON_ENGINE_FAULTED: RejectReason
REJECT_REASON_SYMBOL_NOT_ACTIVE: RejectReason
REJECT_REASON_QUEUE_FULL: RejectReason
REJECT_REASON_CLIENT_ORDER_IDS_FULL: RejectReason
REJECT_REASON_UNKNOWN_ORDER_ID: RejectReason
REJECT_REASON_ACCOUNT_MISMATCH: RejectReason
REJECT_REASON_MODIFY_NO_CHANGE: RejectReason
REJECT_REASON_POST_ONLY_WOULD_TAKE: RejectReason
REJECT_REASON_FOK_UNFILLABLE: RejectReason
REJECT_REASON_NO_LIQUIDITY: RejectReason
REJECT_REASON_ORDER_NOT_MODIFIABLE: RejectReason
API_ERROR_UNSPECIFIED: ApiError
API_ERROR_RATE_LIMITED: ApiError
API_ERROR_PERMISSION_DENIED: ApiError
API_ERROR_UNAVAILABLE: ApiError
API_ERROR_INVALID_ARGUMENT: ApiError

class Level(_message.Message):
    __slots__ = ("price_ticks", "price", "qty_lots", "qty", "order_count")
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    order_count: int
    def __init__(self, price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ..., order_count: _Optional[int] = ...) -> None: ...

class Instrument(_message.Message):
    __slots__ = ("symbol", "symbol_id", "tick_size", "lot_size", "min_qty_lots", "max_qty_lots", "price_band_bps", "reference_price_ticks")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    MAX_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    PRICE_BAND_BPS_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    symbol_id: int
    tick_size: str
    lot_size: str
    min_qty_lots: int
    max_qty_lots: int
    price_band_bps: int
    reference_price_ticks: int
    def __init__(self, symbol: _Optional[str] = ..., symbol_id: _Optional[int] = ..., tick_size: _Optional[str] = ..., lot_size: _Optional[str] = ..., min_qty_lots: _Optional[int] = ..., max_qty_lots: _Optional[int] = ..., price_band_bps: _Optional[int] = ..., reference_price_ticks: _Optional[int] = ...) -> None: ...

class OrderAccepted(_message.Message):
    __slots__ = ("order_id", "account", "side", "order_type", "tif", "price_ticks", "price", "qty_lots", "qty", "stop_price_ticks", "stop_price", "display_qty_lots", "display_qty")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    ORDER_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIF_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    STOP_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    STOP_PRICE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_QTY_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    account: int
    side: Side
    order_type: OrderType
    tif: TimeInForce
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    stop_price_ticks: int
    stop_price: str
    display_qty_lots: int
    display_qty: str
    def __init__(self, order_id: _Optional[int] = ..., account: _Optional[int] = ..., side: _Optional[_Union[Side, str]] = ..., order_type: _Optional[_Union[OrderType, str]] = ..., tif: _Optional[_Union[TimeInForce, str]] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ..., stop_price_ticks: _Optional[int] = ..., stop_price: _Optional[str] = ..., display_qty_lots: _Optional[int] = ..., display_qty: _Optional[str] = ...) -> None: ...

class OrderRejected(_message.Message):
    __slots__ = ("order_id", "account", "reason", "detail_code", "detail")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    account: int
    reason: RejectReason
    detail_code: int
    detail: str
    def __init__(self, order_id: _Optional[int] = ..., account: _Optional[int] = ..., reason: _Optional[_Union[RejectReason, str]] = ..., detail_code: _Optional[int] = ..., detail: _Optional[str] = ...) -> None: ...

class OrderFilled(_message.Message):
    __slots__ = ("order_id", "account", "side", "liquidity", "price_ticks", "price", "qty_lots", "qty", "leaves_qty_lots", "leaves_qty", "trade_id")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    LIQUIDITY_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    account: int
    side: Side
    liquidity: Liquidity
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    leaves_qty_lots: int
    leaves_qty: str
    trade_id: int
    def __init__(self, order_id: _Optional[int] = ..., account: _Optional[int] = ..., side: _Optional[_Union[Side, str]] = ..., liquidity: _Optional[_Union[Liquidity, str]] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ..., leaves_qty_lots: _Optional[int] = ..., leaves_qty: _Optional[str] = ..., trade_id: _Optional[int] = ...) -> None: ...

class TradeOccurred(_message.Message):
    __slots__ = ("trade_id", "price_ticks", "price", "qty_lots", "qty", "aggressor_side", "maker_order_id", "taker_order_id")
    TRADE_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    AGGRESSOR_SIDE_FIELD_NUMBER: _ClassVar[int]
    MAKER_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    TAKER_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    trade_id: int
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    aggressor_side: Side
    maker_order_id: int
    taker_order_id: int
    def __init__(self, trade_id: _Optional[int] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ..., aggressor_side: _Optional[_Union[Side, str]] = ..., maker_order_id: _Optional[int] = ..., taker_order_id: _Optional[int] = ...) -> None: ...

class OrderCancelled(_message.Message):
    __slots__ = ("order_id", "account", "cause", "cancelled_qty_lots", "cancelled_qty", "leaves_qty_lots", "leaves_qty")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_QTY_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    LEAVES_QTY_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    account: int
    cause: CancelCause
    cancelled_qty_lots: int
    cancelled_qty: str
    leaves_qty_lots: int
    leaves_qty: str
    def __init__(self, order_id: _Optional[int] = ..., account: _Optional[int] = ..., cause: _Optional[_Union[CancelCause, str]] = ..., cancelled_qty_lots: _Optional[int] = ..., cancelled_qty: _Optional[str] = ..., leaves_qty_lots: _Optional[int] = ..., leaves_qty: _Optional[str] = ...) -> None: ...

class OrderExpired(_message.Message):
    __slots__ = ("order_id", "account", "cancelled_qty_lots", "cancelled_qty", "cause")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    CANCELLED_QTY_FIELD_NUMBER: _ClassVar[int]
    CAUSE_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    account: int
    cancelled_qty_lots: int
    cancelled_qty: str
    cause: CancelCause
    def __init__(self, order_id: _Optional[int] = ..., account: _Optional[int] = ..., cancelled_qty_lots: _Optional[int] = ..., cancelled_qty: _Optional[str] = ..., cause: _Optional[_Union[CancelCause, str]] = ...) -> None: ...

class OrderModified(_message.Message):
    __slots__ = ("order_id", "account", "price_ticks", "price", "qty_lots", "qty", "priority_kept")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_KEPT_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    account: int
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    priority_kept: bool
    def __init__(self, order_id: _Optional[int] = ..., account: _Optional[int] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ..., priority_kept: _Optional[bool] = ...) -> None: ...

class OrderReplaced(_message.Message):
    __slots__ = ("order_id", "new_order_id", "account", "price_ticks", "price", "qty_lots", "qty")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    NEW_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    new_order_id: int
    account: int
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    def __init__(self, order_id: _Optional[int] = ..., new_order_id: _Optional[int] = ..., account: _Optional[int] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ...) -> None: ...

class StopTriggered(_message.Message):
    __slots__ = ("order_id", "account", "stop_price_ticks", "stop_price", "last_price_ticks", "last_price")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    STOP_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    STOP_PRICE_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    account: int
    stop_price_ticks: int
    stop_price: str
    last_price_ticks: int
    last_price: str
    def __init__(self, order_id: _Optional[int] = ..., account: _Optional[int] = ..., stop_price_ticks: _Optional[int] = ..., stop_price: _Optional[str] = ..., last_price_ticks: _Optional[int] = ..., last_price: _Optional[str] = ...) -> None: ...

class BookLevelChanged(_message.Message):
    __slots__ = ("side", "price_ticks", "price", "qty_lots", "qty", "order_count")
    SIDE_FIELD_NUMBER: _ClassVar[int]
    PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    QTY_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    side: Side
    price_ticks: int
    price: str
    qty_lots: int
    qty: str
    order_count: int
    def __init__(self, side: _Optional[_Union[Side, str]] = ..., price_ticks: _Optional[int] = ..., price: _Optional[str] = ..., qty_lots: _Optional[int] = ..., qty: _Optional[str] = ..., order_count: _Optional[int] = ...) -> None: ...

class BestBidOfferChanged(_message.Message):
    __slots__ = ("bid_price_ticks", "bid_price", "bid_qty_lots", "bid_qty", "ask_price_ticks", "ask_price", "ask_qty_lots", "ask_qty")
    BID_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    BID_PRICE_FIELD_NUMBER: _ClassVar[int]
    BID_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    BID_QTY_FIELD_NUMBER: _ClassVar[int]
    ASK_PRICE_TICKS_FIELD_NUMBER: _ClassVar[int]
    ASK_PRICE_FIELD_NUMBER: _ClassVar[int]
    ASK_QTY_LOTS_FIELD_NUMBER: _ClassVar[int]
    ASK_QTY_FIELD_NUMBER: _ClassVar[int]
    bid_price_ticks: int
    bid_price: str
    bid_qty_lots: int
    bid_qty: str
    ask_price_ticks: int
    ask_price: str
    ask_qty_lots: int
    ask_qty: str
    def __init__(self, bid_price_ticks: _Optional[int] = ..., bid_price: _Optional[str] = ..., bid_qty_lots: _Optional[int] = ..., bid_qty: _Optional[str] = ..., ask_price_ticks: _Optional[int] = ..., ask_price: _Optional[str] = ..., ask_qty_lots: _Optional[int] = ..., ask_qty: _Optional[str] = ...) -> None: ...

class TradingStatusChanged(_message.Message):
    __slots__ = ("state",)
    STATE_FIELD_NUMBER: _ClassVar[int]
    state: TradingState
    def __init__(self, state: _Optional[_Union[TradingState, str]] = ...) -> None: ...

class EngineFaulted(_message.Message):
    __slots__ = ("detail",)
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    detail: str
    def __init__(self, detail: _Optional[str] = ...) -> None: ...

class DuplicateClientOrder(_message.Message):
    __slots__ = ("order_id", "account", "client_order_id", "original_enq_seq", "outcome", "reason")
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_ENQ_SEQ_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    order_id: int
    account: int
    client_order_id: int
    original_enq_seq: int
    outcome: ClientOrderOutcome
    reason: RejectReason
    def __init__(self, order_id: _Optional[int] = ..., account: _Optional[int] = ..., client_order_id: _Optional[int] = ..., original_enq_seq: _Optional[int] = ..., outcome: _Optional[_Union[ClientOrderOutcome, str]] = ..., reason: _Optional[_Union[RejectReason, str]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("symbol_id", "seq", "enq_seq", "ts_ns", "order_accepted", "order_rejected", "order_filled", "trade_occurred", "order_cancelled", "order_expired", "order_modified", "order_replaced", "stop_triggered", "book_level_changed", "best_bid_offer_changed", "trading_status_changed", "engine_faulted", "duplicate_client_order")
    SYMBOL_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    ENQ_SEQ_FIELD_NUMBER: _ClassVar[int]
    TS_NS_FIELD_NUMBER: _ClassVar[int]
    ORDER_ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    ORDER_REJECTED_FIELD_NUMBER: _ClassVar[int]
    ORDER_FILLED_FIELD_NUMBER: _ClassVar[int]
    TRADE_OCCURRED_FIELD_NUMBER: _ClassVar[int]
    ORDER_CANCELLED_FIELD_NUMBER: _ClassVar[int]
    ORDER_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    ORDER_MODIFIED_FIELD_NUMBER: _ClassVar[int]
    ORDER_REPLACED_FIELD_NUMBER: _ClassVar[int]
    STOP_TRIGGERED_FIELD_NUMBER: _ClassVar[int]
    BOOK_LEVEL_CHANGED_FIELD_NUMBER: _ClassVar[int]
    BEST_BID_OFFER_CHANGED_FIELD_NUMBER: _ClassVar[int]
    TRADING_STATUS_CHANGED_FIELD_NUMBER: _ClassVar[int]
    ENGINE_FAULTED_FIELD_NUMBER: _ClassVar[int]
    DUPLICATE_CLIENT_ORDER_FIELD_NUMBER: _ClassVar[int]
    symbol_id: int
    seq: int
    enq_seq: int
    ts_ns: int
    order_accepted: OrderAccepted
    order_rejected: OrderRejected
    order_filled: OrderFilled
    trade_occurred: TradeOccurred
    order_cancelled: OrderCancelled
    order_expired: OrderExpired
    order_modified: OrderModified
    order_replaced: OrderReplaced
    stop_triggered: StopTriggered
    book_level_changed: BookLevelChanged
    best_bid_offer_changed: BestBidOfferChanged
    trading_status_changed: TradingStatusChanged
    engine_faulted: EngineFaulted
    duplicate_client_order: DuplicateClientOrder
    def __init__(self, symbol_id: _Optional[int] = ..., seq: _Optional[int] = ..., enq_seq: _Optional[int] = ..., ts_ns: _Optional[int] = ..., order_accepted: _Optional[_Union[OrderAccepted, _Mapping]] = ..., order_rejected: _Optional[_Union[OrderRejected, _Mapping]] = ..., order_filled: _Optional[_Union[OrderFilled, _Mapping]] = ..., trade_occurred: _Optional[_Union[TradeOccurred, _Mapping]] = ..., order_cancelled: _Optional[_Union[OrderCancelled, _Mapping]] = ..., order_expired: _Optional[_Union[OrderExpired, _Mapping]] = ..., order_modified: _Optional[_Union[OrderModified, _Mapping]] = ..., order_replaced: _Optional[_Union[OrderReplaced, _Mapping]] = ..., stop_triggered: _Optional[_Union[StopTriggered, _Mapping]] = ..., book_level_changed: _Optional[_Union[BookLevelChanged, _Mapping]] = ..., best_bid_offer_changed: _Optional[_Union[BestBidOfferChanged, _Mapping]] = ..., trading_status_changed: _Optional[_Union[TradingStatusChanged, _Mapping]] = ..., engine_faulted: _Optional[_Union[EngineFaulted, _Mapping]] = ..., duplicate_client_order: _Optional[_Union[DuplicateClientOrder, _Mapping]] = ...) -> None: ...

class CommandResult(_message.Message):
    __slots__ = ("enq_seq", "order_id", "events", "api_error", "detail")
    ENQ_SEQ_FIELD_NUMBER: _ClassVar[int]
    ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    API_ERROR_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    enq_seq: int
    order_id: int
    events: _containers.RepeatedCompositeFieldContainer[Event]
    api_error: ApiError
    detail: str
    def __init__(self, enq_seq: _Optional[int] = ..., order_id: _Optional[int] = ..., events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ..., api_error: _Optional[_Union[ApiError, str]] = ..., detail: _Optional[str] = ...) -> None: ...
