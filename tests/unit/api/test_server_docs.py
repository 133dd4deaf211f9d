"""docs/api.md lists every reject reason, API error and status the server documents."""

from __future__ import annotations

from pathlib import Path

from whistle.api.v1 import types_pb2
from whistle.core.reasons import RejectReason

DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def test_every_reject_reason_and_api_error_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for reason in RejectReason:
        assert f"| {int(reason)} | `{reason.name}` | {reason.description} |" in text, reason.name
    for name, value in types_pb2.ApiError.items():
        if value:
            assert f"`{name}` ({value})" in text, name
    for status in (
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
        "NOT_FOUND",
        "INVALID_ARGUMENT",
        "RESOURCE_EXHAUSTED",
        "UNAVAILABLE",
    ):
        assert f"| `{status}` |" in text, status
