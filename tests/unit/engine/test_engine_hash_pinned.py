"""State hashes and snapshots written before this version's engine changes still hold.

The hashes and snapshots below were produced by whistle at commit 18e11d5 (before the
lookup fields, the touched-level list and the short-int sentinels) for the stream in
``run``. The engine must hash the same state the same way (journals and snapshots store
these digests), and restore a snapshot that version wrote.
"""

from __future__ import annotations

from whistle.core import CancelOrder, Instrument, ModifyOrder, NewOrder
from whistle.engine import Whistle, decode_snapshot

PLAIN = Instrument(symbol="PIN", tick_size="0.01", lot_size="1")
BANDED = Instrument(
    symbol="PINB", tick_size="0.01", lot_size="1", price_band_bps=500, reference_price_ticks=100
)
HASH_PLAIN = "d6de9b129b1cd129820076f3daa40170"
HASH_BANDED = "b507a8fa80a279b942520a7e3018f973"
OLD_SNAPSHOT_PLAIN = bytes.fromhex(
    "de0010a776657273696f6e01aa696e737472756d656e7488a673796d626f6ca350494ea973796d626f6c5f69"
    "64ce23226f79a97469636b5f73697a65a4302e3031a86c6f745f73697a65a131ac6d696e5f7174795f6c6f74"
    "7301ac6d61785f7174795f6c6f7473ce3b9aca00ae70726963655f62616e645f62707300b57265666572656e"
    "63655f70726963655f7469636b7300a5737461746501a56661756c74c0a66e6f775f6e73cd1b58ac6c617374"
    "5f656e715f73657107a373657118a874726164655f696402a76172726976616c05a47072696f05aa6c617374"
    "5f707269636567a762616e645f6c6f00a762616e645f6869cf4000000000000000a362626f9465056701a66f"
    "726465727393dc001101070101016505000000c20000000105c2dc001102080201016701000002c200000002"
    "04c2dc001104070103010002006900c20000000400c3aa73746174655f68617368d920643664653962313239"
    "6231636431323938323030373666336461613430313730"
)
OLD_SNAPSHOT_BANDED = bytes.fromhex(
    "de0010a776657273696f6e01aa696e737472756d656e7488a673796d626f6ca450494e42a973796d626f6c5f"
    "6964ce632a24c6a97469636b5f73697a65a4302e3031a86c6f745f73697a65a131ac6d696e5f7174795f6c6f"
    "747301ac6d61785f7174795f6c6f7473ce3b9aca00ae70726963655f62616e645f627073cd01f4b572656665"
    "72656e63655f70726963655f7469636b7364a5737461746501a56661756c74c0a66e6f775f6e73cd1b58ac6c"
    "6173745f656e715f73657107a373657118a874726164655f696402a76172726976616c05a47072696f05aa6c"
    "6173745f707269636567a762616e645f6c6f62a762616e645f68696ca362626f9465056701a66f7264657273"
    "93dc001101070101016505000000c20000000105c2dc001102080201016701000002c20000000204c2dc0011"
    "04070103010002006900c20000000400c3aa73746174655f68617368d9206235303761386661383061323739"
    "623934323532306137653330313866393733"
)


def run(inst: Instrument) -> Whistle:
    engine = Whistle(inst)
    sid = inst.symbol_id
    commands = [
        NewOrder(sid, 1, 7, 1, 1, 1, 100, 5),
        NewOrder(sid, 2, 8, 2, 1, 1, 103, 4, display_qty_lots=2),
        NewOrder(sid, 3, 9, 2, 1, 4, 104, 3, expire_ts_ns=10**12),
        NewOrder(sid, 4, 7, 1, 3, 1, 0, 2, stop_price_ticks=105),
        NewOrder(sid, 5, 9, 1, 1, 2, 103, 3),
        ModifyOrder(sid, 1, 101),
        CancelOrder(sid, 3),
    ]
    for i, command in enumerate(commands, 1):
        engine.process(i, command, 1000 * i)
    return engine


def test_state_hash_unchanged():
    assert run(PLAIN).state_hash() == HASH_PLAIN
    assert run(BANDED).state_hash() == HASH_BANDED


def test_old_snapshots_restore_to_the_same_state():
    for inst, data, digest in (
        (PLAIN, OLD_SNAPSHOT_PLAIN, HASH_PLAIN),
        (BANDED, OLD_SNAPSHOT_BANDED, HASH_BANDED),
    ):
        restored = Whistle.restore(decode_snapshot(data))
        assert restored.state_hash() == digest
        live = run(inst)
        assert restored.l3() == live.l3()
        assert restored.status() == live.status()
        assert restored.book.band_hi == live.book.band_hi


def test_new_snapshot_matches_the_old_one_but_for_the_lookup_fields():
    for inst, data in ((PLAIN, OLD_SNAPSHOT_PLAIN), (BANDED, OLD_SNAPSHOT_BANDED)):
        old = decode_snapshot(data)
        new = run(inst).snapshot()
        assert [o[:17] for o in map(tuple_of, new.orders)] == list(map(tuple_of, old.orders))
        assert (new.band_lo, new.band_hi, new.bbo, new.state_hash) == (
            old.band_lo,
            old.band_hi,
            old.bbo,
            old.state_hash,
        )


def tuple_of(order: object) -> tuple[object, ...]:
    import msgspec

    return msgspec.structs.astuple(order)[:17]
