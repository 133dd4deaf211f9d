"""The venue facade: the Python API users call.

``facade.Venue`` puts the edge (decimal strings to ticks and lots, complete validation),
the idempotency gate, the router, the hosts, the journal and recovery behind one object;
``service.OrderbookManagerService`` is the seed-003 ``Result``-style facade over a
``Venue``.

Sub-package order inside ``whistle.coord`` (a module imports only its own sub-package or
lower ones): ``errors`` < ``hosts`` < ``runtime`` < ``durability`` < ``venue``.
``venue`` is the top: it may import every other sub-package; none imports it.
"""
