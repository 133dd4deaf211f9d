"""Durability and recovery: what a venue writes to its data directory and reads back.

``records`` defines the journal records (``Defined``, ``Sequenced``, ``Ticked``, ...) and
their codec; ``datadir.VenueJournal`` writes the command and event journals and the
snapshots, and ``datadir.scan``/``iter_records``/``choose_checkpoint`` read them back for
recovery; ``client_orders.ClientOrderTable`` is the idempotency table (account,
client_order_id) that recovery rebuilds; ``replay`` re-matches a whole journal offline
(``whistle replay``); ``playback`` iterates the recorded events in time.

Sub-package order inside ``whistle.coord`` (a module imports only its own sub-package or
lower ones): ``errors`` < ``hosts`` < ``runtime`` < ``durability`` < ``venue``.
``durability`` may import ``whistle.coord.errors``, ``hosts`` and ``runtime`` (today only
``runtime.clock``'s ``Tick``, for types); it knows nothing of the ``Venue``.
"""
