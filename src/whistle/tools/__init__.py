"""Operational tools run as processes: below the CLI, may import every other layer.

``whistle.tools.crashload`` is the load process of the crash-recovery test: it drives a
durable ``Venue`` with a seeded multi-symbol command stream and records every
acknowledgement, so a test can kill it with SIGKILL at any point, restart it and check
the recovery. Run it with ``python -m whistle.tools.crashload``; it is not imported here,
so ``-m`` runs it without importing it twice. ``whistle.tools.smallfs`` mounts a small
tmpfs for the disk-full tests (``tests/faults``, ``tests/integration/test_crash_recovery.py``).
"""

__all__: list[str] = []
