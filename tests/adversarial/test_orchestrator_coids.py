"""R2: the orchestrator's client order ids must never repeat for one account.

The venue remembers (account, client_order_id) until the symbol's session ends, and a
durable placement's DBOS workflow id is ``{symbol}-order-{coid}`` forever. A coid that
comes back in a later actor life is therefore either refused by the venue or, worse,
answered with the OLD order's outcome (same fields at the venue, or an existing
workflow id in DBOS): the new order is silently never placed.
"""

from __future__ import annotations

import pytest

from whistle.orchestrator.actor import COID_EPOCH_BITS, COID_LIFE_BITS, coid_base


def test_lives_within_the_range_never_overlap() -> None:
    size = 1 << COID_LIFE_BITS
    bases = [coid_base(1, epoch) for epoch in (1, 2, 3, 1000)]
    assert len(set(bases)) == len(bases)
    assert all(abs(a - b) >= size for a in bases for b in bases if a != b)
    assert coid_base(1, 1) != coid_base(2, 1)


def test_a_later_life_never_reuses_an_earlier_lifes_ids() -> None:
    # Finding 5 (fixed in 3161683): the life used to be taken modulo 2**16, so life 65,537
    # reused life 1's ids. Past the last life that fits, starting one is refused instead.
    last = 1 << COID_EPOCH_BITS
    assert coid_base(1, last - 1) != coid_base(1, 1)
    with pytest.raises(ValueError, match="exhausted"):
        coid_base(1, last + 1)
