"""What front ends and venue nodes say to each other over NATS request/reply.

A front end sends one msgpack ``Request`` to ``<prefix>.req.<shard>`` (the shard's owner
answers, one queue group): ``Execute`` (commands of that shard's symbols), ``AddInstrument``
or ``Query`` (a read of the owner's engines); the node answers a ``Reply``: a status and,
per command, its events (or a msgpack ``value``).

Replies of any size: a request's reply is not bounded by the request (one command's
events grow with the orders it trades against, a ``snapshot`` with the book), and NATS
refuses a message past the server's ``max_payload``. So a node never sends one:
``reply_messages`` cuts an encoded reply longer than ``max_payload - PART_HEADROOM``
into ``PART`` replies (``detail`` ``"<index> <count>"``, ``value`` the next slice of the
whole reply's bytes), published in order on the request's reply subject (NATS keeps the
order of one publisher's messages to one subscriber); ``ReplyParts`` puts them back
together (a gap, a repeat or a count that changes is an error, never a wrong reply).
Splitting was chosen over a cap on commands per request because no command count bounds
the reply: a single market order sweeping the book has one fill event per order it meets.
A small reply is one plain message, as before (``nc.request`` still reads it).
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
    "PART",
    "PART_HEADROOM",
    "QUERIES",
    "UNAVAILABLE",
    "AddInstrument",
    "ClientOrderAnswer",
    "Execute",
    "Query",
    "Reply",
    "ReplyParts",
    "Request",
    "decode_reply",
    "decode_request",
    "encode_reply",
    "encode_request",
    "reply_messages",
]

OK: Final = 0
NOT_OWNER: Final = 1
"""This node does not (or no longer) sequence the shard: nothing of the request was
logged; send it again (to the shard's owner)."""
UNAVAILABLE: Final = 2
"""The log did not answer or the lease ended after an append: the outcome is unknown."""
BAD_REQUEST: Final = 3
PART: Final = 4
"""One part of a reply too big for one NATS message (see the module docstring)."""
PART_HEADROOM: Final = 256
"""Bytes of a message left for a ``PART`` reply's own fields (status, detail, lengths)."""
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
    """Define a symbol in this shard (its ``Define`` record is logged first).

    A node refuses, before logging anything, a symbol the control plane's shard map puts
    in another shard: ``BAD_REQUEST``, detail ``"symbol 'X' is in shard M by the shard map,
    not N"``; and one whose id or name the cluster's symbol registry
    (``whistle.cluster.log.SymbolRegistry``) holds as another instrument or in another
    shard: ``BAD_REQUEST``, detail ``"symbol id I is 'X' in shard M"``. ``UNAVAILABLE``
    when the map or the registry cannot be read."""

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


def reply_messages(reply: Reply, max_payload: int) -> list[bytes]:
    """Return the messages that carry ``reply``: itself, or ``PART`` replies of at most
    ``max_payload`` bytes each when it is longer (``max_payload`` > ``PART_HEADROOM``)."""
    data = _ENC.encode(reply)
    if len(data) <= max_payload:
        return [data]
    size = max_payload - PART_HEADROOM
    if size <= 0:
        raise ValueError(f"max_payload {max_payload} leaves no room for a reply part")
    count = -(-len(data) // size)
    return [
        _ENC.encode(Reply(PART, f"{i} {count}", value=data[i * size : (i + 1) * size]))
        for i in range(count)
    ]


@final
class ReplyParts:
    """Reassemble one request's reply from its messages, in arrival order.

    ``add(data)`` returns the whole ``Reply`` once it is complete, else None; raises
    ``ValueError`` on a part out of order or a count that changes."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._count = 0

    def add(self, data: bytes) -> Reply | None:
        """Take the next message; return the reply when it is complete."""
        reply = _REPLY.decode(data)
        if reply.status != PART:
            if self._chunks:
                raise ValueError("a whole reply in the middle of a split one")
            return reply
        index_text, _, count_text = reply.detail.partition(" ")
        index, count = int(index_text), int(count_text)
        if index != len(self._chunks) or count < 1 or (self._count and count != self._count):
            raise ValueError(f"reply part {reply.detail} after {len(self._chunks)} parts")
        self._count = count
        self._chunks.append(reply.value)
        if len(self._chunks) < count:
            return None
        return _REPLY.decode(b"".join(self._chunks))
