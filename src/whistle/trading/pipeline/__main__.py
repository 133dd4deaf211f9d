"""``python -m whistle.trading.pipeline SPEC_FILE STAGE``: one stage process (the supervisor,
``run_processes``, starts four of them; see ``stage_main``)."""

from __future__ import annotations

import sys

from whistle.trading.pipeline.stage_main import main

sys.exit(main(sys.argv[1:]))
