"""The venue runtime: sequencing, symbol lifecycle and placement, the clock.

``router.OrderRouter`` checks a command's symbol, activates it and stamps its ``enq_seq``;
``coordinator.SymbolCoordinator`` registers symbols (``registry``), moves them through
their lifecycle (``lifecycle``: the transition table) and places them on engine hosts
(``placement`` policies); ``clock.SimulationClock`` is the one clock of a venue.

Sub-package order inside ``whistle.coord`` (a module imports only its own sub-package or
lower ones): ``errors`` < ``hosts`` < ``runtime`` < ``durability`` < ``venue``.
``runtime`` may import ``whistle.coord.errors`` and ``whistle.coord.hosts`` (it drives
hosts through the ``EngineHost`` contract); it knows nothing of journals or the ``Venue``.
"""
