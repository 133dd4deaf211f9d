"""Settings for the whole test run."""

import pytest


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    # rich wraps what it prints at $COLUMNS, 80 when the output is not a terminal, so a
    # line holding a temporary path breaks at a place that depends on the path's length
    # (/tmp/pytest-of-root/pytest-1/... against pytest-202/...): CI once saw
    # "venue\n127.0.0.1:41825" where a test looked for "venue 127.0.0.1:41825". Tests
    # read whole lines; the width of the terminal a run happens in must not decide.
    monkeypatch.setenv("COLUMNS", "1000")
