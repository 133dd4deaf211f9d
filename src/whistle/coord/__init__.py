"""Layer 5: venue runtime (in-process ``Venue``; router, coordinator and hosts come next).

May import ``whistle.core``, ``whistle.book``, ``whistle.engine``, ``whistle.ipc``,
``whistle.journal`` and ``whistle.metrics``.
"""

from whistle.coord.venue import Venue

__all__ = ["Venue"]
