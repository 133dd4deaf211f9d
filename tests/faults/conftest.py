"""Fixtures of the fault-injection suite: journaled bases built once per session.

``WHISTLE_FAULTS=N`` selects the long run (about N injected faults in all); without it
each fault class injects a short, seeded sample (the default suite stays under a minute).
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import pytest

from faults.harness import LONG, TOTALS, Built, Load, build, copy_built

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

SEED = int(os.environ.get("WHISTLE_FAULTS_SEED", "20261201"))
"""Seed of every fault class (each derives its own from it); a failure names its seed."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "faults_long: parts of the fault suite that only run with WHISTLE_FAULTS=N"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if LONG:
        return
    skip = pytest.mark.skip(reason="long fault run: set WHISTLE_FAULTS=N (docs/crash-test.md)")
    for item in items:
        if "faults_long" in item.keywords:
            item.add_marker(skip)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    total = sum(TOTALS.values())
    if total:
        terminalreporter.write_line(
            f"fault suite (seed {SEED}, WHISTLE_FAULTS={LONG or 'unset'}): {total} faults"
            f" injected and judged: {TOTALS['a']} recovered whole (a), {TOTALS['b']} refused"
            f" with the damage named (b), {TOTALS['failed']} outside (a)/(b)"
        )


@pytest.fixture(scope="session")
def base_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fault-bases")


@pytest.fixture(scope="session")
def bases(base_dir: Path) -> Callable[[Load], Built]:
    """Return the crashed base directory of a load (built once per session)."""
    cache: dict[Load, Built] = {}

    def get(load: Load) -> Built:
        if load not in cache:
            name = f"base-{len(cache):03d}"
            cache[load] = build(base_dir / name, load)
        return cache[load]

    return get


@pytest.fixture
def scratch(tmp_path: Path) -> Iterator[Callable[[Built], Built]]:
    """Return a function that copies a base to a fresh directory for one fault."""

    def copy(built: Built) -> Built:
        # One directory, recopied for every fault: a long run does not fill the disk.
        return copy_built(built, tmp_path / "fault")

    return copy
