"""Engine hosts: where the engines run, in this process or in a process of their own.

``base.EngineHost`` is the contract the runtime drives (add/remove/snapshot an engine,
``submit`` a sequenced command, a tick split in ``begin_tick``/``end_tick``);
``local.InProcessHost`` runs the engines in this process; ``process.ProcessHost`` starts
``python -m whistle.coord.hosts.loop`` (the child's loop around an ``InProcessHost``) and
talks to it over shared-memory rings (``whistle.ipc``) in the message format of ``wire``;
``queues`` allocates and pools those rings.

Sub-package order inside ``whistle.coord`` (a module imports only its own sub-package or
lower ones): ``errors`` < ``hosts`` < ``runtime`` < ``durability`` < ``venue``.
``hosts`` is the lowest: it imports ``whistle.coord.errors`` and nothing else of
``whistle.coord`` (hosts know nothing of lifecycles, routing or journals).
"""
