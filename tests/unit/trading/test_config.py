"""load_strategy: specs, TOML / JSON / dict configs, and every refusal naming what is wrong."""

from __future__ import annotations

import re
import sys
import textwrap

import msgspec
import pytest

from whistle.trading.config import load_strategy, read_config, resolve_strategy
from whistle.trading.errors import StrategyConfigError, StrategyError
from whistle.trading.examples import (
    ImbalanceTaker,
    ImbalanceTakerConfig,
    MarketMaker,
    MarketMakerConfig,
    Noop,
)
from whistle.trading.strategy import Strategy

MM = "whistle.trading.examples:MarketMaker"


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A throwaway importable package of user strategies."""
    pkg = tmp_path / "userstrats"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "good.py").write_text(
        textwrap.dedent(
            """
            import msgspec
            from whistle.trading.strategy import Strategy

            class Cfg(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
                edge_ticks: int = 2

            class Outer:
                class Inner(Strategy):
                    pass

            class Mine(Strategy):
                Config = Cfg

            class Exploding(Strategy):
                def __init__(self, config=None):
                    super().__init__(config)
                    raise RuntimeError("boom in init")

            class BadConfig(Strategy):
                Config = dict

            NOT_A_CLASS = 3

            class NotAStrategy:
                pass
            """
        )
    )
    (pkg / "broken.py").write_text("import definitely_not_a_module_xyz\n")
    (pkg / "raising.py").write_text("raise ValueError('module-level failure')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "userstrats"
    for name in [m for m in sys.modules if m.startswith("userstrats")]:
        del sys.modules[name]


def test_load_with_defaults_dict_toml_and_json(tmp_path):
    s = load_strategy(MM)
    assert isinstance(s, MarketMaker)
    assert s.config == MarketMakerConfig()
    s = load_strategy(MM, {"qty_lots": 3, "post_only": False})
    assert s.config == MarketMakerConfig(qty_lots=3, post_only=False)
    toml = tmp_path / "mm.toml"
    toml.write_text("qty_lots = 2\nhalf_spread_ticks = 3\nmax_inventory_lots = 8\n")
    assert load_strategy(MM, toml).config == MarketMakerConfig(
        qty_lots=2, half_spread_ticks=3, max_inventory_lots=8
    )
    js = tmp_path / "it.JSON"
    js.write_text('{"threshold_pct": 80, "hold_ns": 5000}')
    s = load_strategy("whistle.trading.examples:ImbalanceTaker", str(js))
    assert isinstance(s, ImbalanceTaker)
    assert s.config == ImbalanceTakerConfig(threshold_pct=80, hold_ns=5000)
    assert isinstance(load_strategy(" whistle.trading.examples : Noop "), Noop)


def test_user_module_nested_class_and_config(user_module):
    s = load_strategy(f"{user_module}.good:Mine", {"edge_ticks": 5})
    assert s.config.edge_ticks == 5  # type: ignore[attr-defined]
    assert type(load_strategy(f"{user_module}.good:Outer.Inner")).__name__ == "Inner"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("whistle.trading.examples", "must be 'module:Class'"),
        (":MarketMaker", "must be 'module:Class'"),
        ("whistle.trading.examples:", "must be 'module:Class'"),
        ("no_such_module_abc:X", "no module named 'no_such_module_abc'"),
        ("whistle.trading.nope:X", "no module named 'whistle.trading.nope'"),
        ("whistle.trading.examples:Nope", "has no attribute 'Nope'"),
        ("whistle.trading.examples:EXIT_TIMER", "EXIT_TIMER is a int, not a whistle.trading"),
        ("whistle.trading.examples:MarketMakerConfig", "is a class MarketMakerConfig, not a"),
        ("whistle.trading.strategy:Strategy", "the Strategy base class"),
    ],
)
def test_bad_specs_name_the_spec(spec, match):
    with pytest.raises(StrategyConfigError, match=match) as info:
        load_strategy(spec)
    assert repr(spec) in str(info.value) or spec in str(info.value)


def test_bad_user_modules(user_module):
    with pytest.raises(
        StrategyConfigError, match=re.escape("importing 'userstrats.broken' failed: Module")
    ):
        load_strategy(f"{user_module}.broken:X")
    with pytest.raises(StrategyConfigError, match="ValueError: module-level failure"):
        load_strategy(f"{user_module}.raising:X")
    with pytest.raises(StrategyConfigError, match=re.escape("not a whistle.trading Strategy")):
        load_strategy(f"{user_module}.good:NotAStrategy")
    with pytest.raises(StrategyConfigError, match="is a int"):
        load_strategy(f"{user_module}.good:NOT_A_CLASS")
    with pytest.raises(StrategyConfigError, match="Config must be a msgspec Struct"):
        load_strategy(f"{user_module}.good:BadConfig")
    with pytest.raises(StrategyError, match="__init__ raised RuntimeError: boom in init") as info:
        load_strategy(f"{user_module}.good:Exploding")
    assert info.value.callback == "__init__"
    assert isinstance(info.value.cause, RuntimeError)
    with pytest.raises(StrategyConfigError, match="a str 'module:Class', was a int"):
        resolve_strategy(3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "key", "match"),
    [
        ("qty_lots = 2\nqty_lot = 3\n", "qty_lot", "unknown field `qty_lot`"),
        ('qty_lots = "2"\n', "qty_lots", "Expected `int`, got `str`"),
        ("qty_lots = 2.0\n", "qty_lots", "Expected `int`, got `float`"),
        ("post_only = 1\n", "post_only", "Expected `bool`, got `int`"),
        ("qty_lots = true\n", "qty_lots", "Expected `int`, got `bool`"),
        ("qty_lots = 0\n", "qty_lots", "Expected `int` >= 1, was 0"),
        ("half_spread_ticks = -1\n", "half_spread_ticks", ">= 0, was -1"),
    ],
)
def test_bad_keys_and_values_name_the_file_and_key(tmp_path, text, key, match):
    path = tmp_path / "mm.toml"
    path.write_text(text)
    with pytest.raises(StrategyConfigError, match=match) as info:
        load_strategy(MM, path)
    assert info.value.key == key
    assert info.value.source == str(path)
    message = str(info.value)
    assert message.startswith(f"{path}: {MM} config: {key}: ")


def test_bad_units_in_json_and_ranges(tmp_path):
    path = tmp_path / "it.json"
    path.write_text('{"hold_ns": 1.5}')
    with pytest.raises(StrategyConfigError, match="hold_ns: Expected `int`, got `float`"):
        load_strategy("whistle.trading.examples:ImbalanceTaker", path)
    path.write_text('{"threshold_pct": 50}')
    with pytest.raises(StrategyConfigError, match="threshold_pct: Expected `int` >= 51, was 50"):
        load_strategy("whistle.trading.examples:ImbalanceTaker", path)


def test_unreadable_and_malformed_files(tmp_path):
    with pytest.raises(StrategyConfigError, match="cannot read the strategy config") as info:
        load_strategy(MM, tmp_path / "missing.toml")
    assert info.value.source == str(tmp_path / "missing.toml")
    with pytest.raises(StrategyConfigError, match=re.escape("must be a .toml or .json file")):
        load_strategy(MM, tmp_path)
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(
        StrategyConfigError, match=re.escape("folder.toml: cannot read the strategy config")
    ):
        load_strategy(MM, folder)
    yaml = tmp_path / "mm.yaml"
    yaml.write_text("qty_lots: 1\n")
    with pytest.raises(StrategyConfigError, match=r"mm.yaml: a strategy config must be a \.toml"):
        load_strategy(MM, yaml)
    bad = tmp_path / "bad.toml"
    bad.write_text("qty_lots = = 2\n")
    with pytest.raises(StrategyConfigError, match=r"bad.toml: invalid TOML: .*line 1"):
        load_strategy(MM, bad)
    bad = tmp_path / "bad.json"
    bad.write_text('{"qty_lots": 2,,}')
    with pytest.raises(StrategyConfigError, match=r"bad.json: invalid JSON: .*line 1, column"):
        load_strategy(MM, bad)
    top = tmp_path / "list.json"
    top.write_text("[1, 2]")
    with pytest.raises(StrategyConfigError, match="a table of keys at its top level, was a list"):
        load_strategy(MM, top)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe")
    with pytest.raises(StrategyConfigError, match="not UTF-8"):
        load_strategy(MM, binary)
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * ((1 << 20) + 1))
    with pytest.raises(StrategyConfigError, match="at most"):
        load_strategy(MM, huge)
    with pytest.raises(StrategyConfigError, match="was a int"):
        load_strategy(MM, 3)  # type: ignore[arg-type]


def test_read_config_sources(tmp_path):
    assert read_config(None) == ({}, "<defaults>")
    assert read_config({"a": 1}) == ({"a": 1}, "<dict>")
    path = tmp_path / "x.toml"
    path.write_text("[nested]\nk = 1\n")
    assert read_config(path) == ({"nested": {"k": 1}}, str(path))


class NestedInner(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    limit_lots: int = 1


class NestedOuter(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    risk: NestedInner = NestedInner()
    levels: list[int] = []


class WithNested(Strategy):
    Config = NestedOuter


def test_nested_keys_are_named_by_path(tmp_path):
    spec = f"{__name__}:WithNested"
    path = tmp_path / "n.toml"
    path.write_text('[risk]\nlimit_lots = "x"\n')
    with pytest.raises(
        StrategyConfigError, match=re.escape("risk.limit_lots: Expected `int`")
    ) as info:
        load_strategy(spec, path)
    assert info.value.key == "risk.limit_lots"
    path.write_text("levels = [1, 2, 3.5]\n")
    with pytest.raises(StrategyConfigError, match=r"levels\[2\]: Expected `int`, got `float`"):
        load_strategy(spec, path)
    path.write_text("[risk]\nlimit = 1\n")
    with pytest.raises(StrategyConfigError, match="risk: Object contains unknown field `limit`"):
        load_strategy(spec, path)
