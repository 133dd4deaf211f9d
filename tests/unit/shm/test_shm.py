"""whistle.shm: the stdlib-only shared-memory primitives under whistle.ipc and whistle.metrics."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import whistle.ipc.shm as ipc_shm
import whistle.shm as shm
from whistle.metrics import MetricsBlock, make_block_name


def test_public_api_is_sorted_complete_and_what_ipc_offers():
    assert shm.__all__ == sorted(shm.__all__, key=lambda n: (not n.isupper(), n))
    for name in shm.__all__:
        assert hasattr(shm, name)
    # whistle.ipc.shm keeps its names, bound to the very same objects.
    for name in ipc_shm.__all__:
        assert getattr(ipc_shm, name) is getattr(shm, name), name


def test_the_package_imports_only_the_standard_library():
    sources = sorted(Path(shm.__file__).parent.glob("*.py"))  # one module today
    assert sources
    for source in sources:
        for node in ast.walk(ast.parse(source.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                assert name.startswith("whistle.shm") or top in sys.stdlib_module_names, (
                    f"{source.name} imports {name}"
                )


def test_unlink_name_removes_a_block_by_name_once():
    name = shm.make_name("byname")
    block = shm.open_block(name, create=True, size=64)
    try:
        assert name in shm.list_blocks(f"whistle-{os.getpid()}-")
        assert shm.unlink_name(name) is True
        assert name not in shm.list_blocks(f"whistle-{os.getpid()}-")
        assert shm.unlink_name(name) is False
        assert shm.unlink_block(block) is False  # already gone
    finally:
        block.close()


CHILD_ATTACHES = r"""
import multiprocessing as mp, sys
import whistle.shm as shm

def attach(name):
    block = shm.open_block(name, create=False)
    block.buf[0] = 7
    block.close()

if __name__ == "__main__":
    name = shm.make_name("tracked")
    owner = shm.open_block(name, create=True, size=64)
    ctx = mp.get_context(sys.argv[1])
    child = ctx.Process(target=attach, args=(name,))
    child.start()
    child.join()
    assert child.exitcode == 0, child.exitcode
    assert owner.buf[0] == 7
    assert name in shm.list_blocks(name)  # the child's exit did not unlink it
    assert shm.unlink_block(owner)
    owner.close()
    print("ok")
"""


def test_blocks_stay_out_of_the_resource_tracker(tmp_path):
    """A child that attaches and exits neither unlinks the owner's block nor makes the
    tracker warn or raise when the owner unlinks it (the bug of attach-then-unregister)."""
    script = tmp_path / "child_attaches.py"
    script.write_text(CHILD_ATTACHES)
    for method in ("spawn", "fork"):
        proc = subprocess.run(
            [sys.executable, "-W", "error", str(script), method],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert proc.stdout.strip() == "ok"
        assert proc.stderr == "", proc.stderr[-2000:]  # no KeyError, no "leaked" warning


def test_the_metrics_block_opens_and_unlinks_through_it():
    name = make_block_name("shmtest")
    assert shm.creator_pid(name) == os.getpid()
    block = MetricsBlock.create(name, ["a"])
    try:
        assert name in shm.list_blocks(name)
    finally:
        block.close()
    assert name not in shm.list_blocks(name)
