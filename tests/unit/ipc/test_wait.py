"""``WaitStrategy`` presets and specs: what ``Venue(wait=...)`` and ``--wait`` accept."""

from __future__ import annotations

import pytest

from whistle.ipc import WaitStrategy
from whistle.ipc.wait import WAIT_PRESETS


@pytest.mark.parametrize("name", sorted(WAIT_PRESETS))
def test_presets_round_trip_through_their_spec(name):
    strategy = WaitStrategy.named(name)
    spin, yields, min_sleep, max_sleep = WAIT_PRESETS[name]
    assert (strategy.spin, strategy.yields) == (spin, yields)
    assert (strategy.min_sleep, strategy.max_sleep) == (min_sleep, max_sleep)
    assert WaitStrategy.parse(name) == strategy
    assert WaitStrategy.parse(strategy.spec()) == strategy


def test_the_default_is_the_sleep_preset():
    assert WaitStrategy() == WaitStrategy.named("sleep") == WaitStrategy.parse("")


def test_overrides_apply_on_top_of_a_preset():
    strategy = WaitStrategy.parse("yield, yields=10, max_sleep=0.0005")
    assert strategy.spin == WAIT_PRESETS["yield"][0]
    assert strategy.yields == 10
    assert strategy.max_sleep == 0.0005
    assert WaitStrategy.parse("spin=3") == WaitStrategy(3, 20, 10e-6, 1e-3)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nap", "must be one of sleep, yield, spin"),
        ("spin=1,yield", "preset name comes first"),
        ("yield,naps=3", "fields are spin, yields, min_sleep, max_sleep"),
        ("yield,spin=lots", "needs a number"),
        ("min_sleep=0.01,max_sleep=0.001", "min_sleep <= max_sleep"),
        ("spin=-1", "must be >= 0"),
    ],
)
def test_bad_specs_say_what_was_expected(spec, message):
    with pytest.raises(ValueError, match=message):
        WaitStrategy.parse(spec)


def test_named_refuses_an_unknown_preset():
    with pytest.raises(ValueError, match="seen 'fast'"):
        WaitStrategy.named("fast")


def test_capped_bounds_the_sleeps_only():
    strategy = WaitStrategy.named("yield")
    capped = strategy.capped(100e-6)
    assert (capped.spin, capped.yields) == (strategy.spin, strategy.yields)
    assert capped.max_sleep == 100e-6
    assert capped.min_sleep == 10e-6
    assert strategy.capped(1.0) is strategy
    assert WaitStrategy(0, 0, 1e-3, 2e-3).capped(1e-4).min_sleep == 1e-4
