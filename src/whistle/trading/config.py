"""Load a strategy by ``"module:Class"`` with a TOML / JSON / dict config.

``load_strategy("whistle.trading.examples:MarketMaker", "mm.toml")`` imports the module,
finds the class (a dotted path after the colon is followed: ``"pkg.mod:Outer.Inner"``),
checks that it is a ``Strategy``, reads the config (a ``.toml`` file with ``tomllib``, a
``.json`` file with ``json``, a ``dict``, or ``None`` for the class's defaults) and converts
it *strictly* to the class's ``Config`` struct: unknown keys are refused, a string is not an
int, a bool is not an int, a float is not an int (bad units such as ``hold_ns = 1.5``), and
the struct's own constraints (``msgspec.Meta(ge=1)``, ``__post_init__``) apply.

Every failure is a ``StrategyConfigError`` whose message names the spec, the file and, when
one key is at fault, the key (also in ``.key``): a spec without a colon, a module that
cannot be imported (or that raises while importing: the cause is in the message), a missing
attribute, an attribute that is not a ``Strategy`` class, a file that cannot be read or
parsed (with its line when the parser gives one), a file suffix that is neither, a config
that is not a table at its top level. A strategy constructor that raises anything else is
a ``StrategyError`` with ``callback == "__init__"``.
"""

from __future__ import annotations

import importlib
import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from whistle.trading.errors import StrategyConfigError, StrategyError
from whistle.trading.strategy import Strategy, convert_config

__all__ = ["load_strategy", "read_config", "resolve_strategy"]

_MAX_CONFIG_BYTES = 1 << 20  # a strategy config is a few lines; refuse a runaway file


def resolve_strategy(spec: str) -> type[Strategy]:
    """Return the ``Strategy`` subclass named by ``"module:Class"``."""
    if not isinstance(spec, str):
        raise StrategyConfigError(
            f"strategy spec must be a str 'module:Class', was a {type(spec).__name__}"
        )
    module_name, colon, attr_path = spec.partition(":")
    module_name = module_name.strip()
    attr_path = attr_path.strip()
    if not colon or not module_name or not attr_path:
        raise StrategyConfigError(f"strategy spec must be 'module:Class', was {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name or module_name.startswith(f"{exc.name}."):
            raise StrategyConfigError(
                f"strategy {spec!r}: no module named {module_name!r}"
            ) from None
        raise StrategyConfigError(
            f"strategy {spec!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    except Exception as exc:
        raise StrategyConfigError(
            f"strategy {spec!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}"
        ) from exc
    target: Any = module
    for part in attr_path.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise StrategyConfigError(
                f"strategy {spec!r}: module {module_name!r} has no attribute {attr_path!r}"
            ) from None
    if not isinstance(target, type) or not issubclass(target, Strategy):
        what = f"class {target.__name__}" if isinstance(target, type) else type(target).__name__
        raise StrategyConfigError(
            f"strategy {spec!r}: {attr_path} is a {what}, not a whistle.trading Strategy subclass"
        )
    if target is Strategy:
        raise StrategyConfigError(f"strategy {spec!r}: the Strategy base class does nothing")
    config_type = getattr(target, "Config", None)
    if not isinstance(config_type, type) or not issubclass(config_type, msgspec.Struct):
        raise StrategyConfigError(
            f"strategy {spec!r}: {attr_path}.Config must be a msgspec Struct class, was"
            f" {config_type!r}"
        )
    return target


def read_config(config: str | Path | Mapping[str, Any] | None) -> tuple[dict[str, Any], str]:
    """Return (the config as a dict, where it came from) for a file, a mapping or None."""
    if config is None:
        return {}, "<defaults>"
    if isinstance(config, Mapping):
        return dict(config), "<dict>"
    if not isinstance(config, (str, Path)):
        raise StrategyConfigError(
            f"strategy config must be a TOML / JSON file path, a dict or None, was a"
            f" {type(config).__name__}"
        )
    path = Path(config)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise StrategyConfigError(
            f"{source}: a strategy config must be a .toml or .json file", source=source
        )
    try:
        with path.open("rb") as f:
            raw = f.read(_MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise StrategyConfigError(
            f"{source}: cannot read the strategy config: {exc.strerror or exc}", source=source
        ) from None
    if len(raw) > _MAX_CONFIG_BYTES:
        raise StrategyConfigError(
            f"{source}: a strategy config must be at most {_MAX_CONFIG_BYTES} bytes",
            source=source,
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise StrategyConfigError(
            f"{source}: not UTF-8 text (byte {exc.start})", source=source
        ) from None
    data: object
    if suffix == ".toml":
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise StrategyConfigError(f"{source}: invalid TOML: {exc}", source=source) from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StrategyConfigError(
                f"{source}: invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})",
                source=source,
            ) from None
    if not isinstance(data, dict):
        raise StrategyConfigError(
            f"{source}: the config must be a table of keys at its top level, was a"
            f" {type(data).__name__}",
            source=source,
        )
    return data, source


def load_strategy(spec: str, config: str | Path | Mapping[str, Any] | None = None) -> Strategy:
    """Import, configure and construct the strategy ``spec`` (``"module:Class"``)."""
    cls = resolve_strategy(spec)
    data, source = read_config(config)
    converted = convert_config(cls.Config, data, source, spec)
    try:
        return cls(converted)
    except StrategyConfigError:
        raise
    except Exception as exc:
        raise StrategyError("__init__", exc, cls.__name__) from exc
