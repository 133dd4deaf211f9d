"""What front ends and venue nodes say to each other over NATS request/reply.

A front end sends one msgpack ``Request`` to ``<prefix>.req.<shard>`` (the shard's owner
answers, one queue group): ``Execute`` (commands of that shard's symbols), ``AddInstrument``
or ``Query`` (a read of the owner's engines); the node answers a ``Reply``: a status and,
per command, its events (or a msgpack ``value``).
"""

from __future__ import annotations

from typing import Final, final

import msgspec

from whistle.core.commands import Command
from whistle.core.events import Event
from whistle.core.instrument import Instrument

__all__ = [
    "BAD_REQUEST",
    "NOT_OWNER",
    "OK",
    "QUERIES",
    "UNAVAILABLE",
    "AddInstrument",
    "ClientOrderAnswer",
    "Execute",
    "Query",
    "Reply",
    "Request",
    "decode_reply",
    "decode_request",
    "encode_reply",
    "encode_request",
]

OK: Final = 0
NOT_OWNER: Final = 1
"""This node does not (or no longer) sequence the shard: nothing of the request was
logged; send it again (to the shard's owner)."""
UNAVAILABLE: Final = 2
"""The log did not answer or the lease ended after an append: the outcome is unknown."""
BAD_REQUEST: Final = 3
# ------------------------------------------------------------------ wire records


class _Req(msgspec.Struct, frozen=True, array_like=True, tag_field="q"):
    pass


@final
class Execute(_Req, frozen=True, array_like=True, tag=1):
    """Sequence ``commands`` (of this shard's symbols); a NewOrder / CancelReplace whose
    (new) order id is 0 gets the symbol's next automatic id."""

    commands: list[Command]


@final
class AddInstrument(_Req, frozen=True, array_like=True, tag=2):
    """Define a symbol in this shard (its ``Define`` record is logged first)."""

    instrument: Instrument


@final
class Query(_Req, frozen=True, array_like=True, tag=3):
    """Read a view of the owner's engines: ``what`` is one of ``QUERIES``."""

    what: str
    symbol_id: int = 0
    levels: int = 10
    """``depth``: the levels per side (0: every level)."""
    order_id: int = 0
    account: int = 0
    client_order_id: int = 0


Request = Execute | AddInstrument | Query
QUERIES: Final = (
    "instruments",
    "status",
    "depth",
    "book",
    "snapshot",
    "state_hashes",
    "order",
    "client_order",
)
"""``book``: (EngineStatus, list[L3Order], state hash); ``snapshot``: an EngineSnapshot;
``client_order``: ``ClientOrderAnswer`` or None (any symbol of the shard)."""


@final
class ClientOrderAnswer(msgspec.Struct, frozen=True, array_like=True):
    """What a shard remembers of an (account, client_order_id) on one of its symbols."""

    symbol_id: int
    order_id: int
    account: int
    client_order_id: int
    enq_seq: int
    outcome: int
    reason: int
    events: list[Event]


@final
class Reply(msgspec.Struct, frozen=True, array_like=True):
    """A node's answer: ``status`` (``OK`` ...), and per command its events (Execute) or
    a msgpack ``value`` (Query / AddInstrument)."""

    status: int
    detail: str = ""
    events: list[list[Event]] = msgspec.field(default_factory=list)
    value: bytes = b""


_ENC: Final = msgspec.msgpack.Encoder()
_REQ: Final = msgspec.msgpack.Decoder(Request)
_REPLY: Final = msgspec.msgpack.Decoder(Reply)


def encode_request(request: Request) -> bytes:
    """Return ``request`` as msgpack."""
    return _ENC.encode(request)


def decode_request(data: bytes) -> Request:
    """Decode a request (``msgspec.ValidationError`` / ``DecodeError`` on bad bytes)."""
    return _REQ.decode(data)


def encode_reply(reply: Reply) -> bytes:
    """Return ``reply`` as msgpack."""
    return _ENC.encode(reply)


def decode_reply(data: bytes) -> Reply:
    """Decode a node's reply."""
    return _REPLY.decode(data)
