"""``whistle serve --http 0`` as a real process: orders over gRPC show in the web view's JSON
and on its event stream; SIGTERM ends the streams and the process cleanly."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import urllib.request
from typing import TYPE_CHECKING

from whistle.api.client import Client

if TYPE_CHECKING:
    from pathlib import Path

WAIT_S = 60
LISTENING = re.compile(r"listening on 127\.0\.0\.1:(\d+) .* web view on http://127\.0\.0\.1:(\d+)/")


def _get(url: str):
    with urllib.request.urlopen(url, timeout=WAIT_S) as r:  # loopback, ephemeral port
        return json.loads(r.read())


def _events(stream):
    """Yield (event, data lines) from an SSE byte stream (a urllib response)."""
    event, data = None, []
    for raw in stream:
        line = raw.decode().rstrip("\n")
        if line == "":
            if event is not None:
                yield event, data
            event, data = None, []
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data.append(line[6:])


def test_serve_http_shows_orders_live(tmp_path: Path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "whistle",
            "serve",
            "--port",
            "0",
            "--http",
            "0",
            "--data-dir",
            str(tmp_path / "venue"),
            "--instrument",
            "AAPL",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        found = LISTENING.search(line)
        assert found, f"no listening line: {line!r} {proc.stderr.read().decode()[-2000:]!r}"
        grpc_port, http_port = int(found.group(1)), int(found.group(2))
        base = f"http://127.0.0.1:{http_port}"
        assert [s["symbol"] for s in _get(base + "/api/symbols")] == ["AAPL"]
        stream = urllib.request.urlopen(base + "/api/stream?depth=5", timeout=WAIT_S)
        try:
            events = _events(stream)
            assert next(events)[0] == "hello"
            kind, data = next(e for e in events if e[0] == "md")
            assert json.loads(data[0])[0]["k"] == "snapshot"
            with Client(f"127.0.0.1:{grpc_port}") as client:
                client.submit("AAPL", "buy", "12", "187.25")
                client.submit("AAPL", "sell", "3", "187.30")
            seen: dict[str, tuple[str, str]] = {}
            for kind, data in events:
                if kind != "md":
                    continue
                for u in (u for line in data for u in json.loads(line)):
                    if u["k"] == "level":
                        seen[u["side"]] = (u["price"], u["qty"])
                if len(seen) == 2:
                    break
            assert seen == {"B": ("187.25", "12"), "S": ("187.30", "3")}
            depth = _get(base + "/api/depth/AAPL")
            assert depth["bids"][0][:3] == ["187.25", 18725, "12"]
            assert depth["asks"][0][:3] == ["187.30", 18730, "3"]
            status = _get(base + "/api/status")
            assert status["journaled"] is True
            assert status["md"]["subscriptions"] >= 1
            proc.send_signal(signal.SIGTERM)
            # The server ends the stream on its way out (the loop ends, no hang).
            for _ in events:
                pass
        finally:
            stream.close()
        assert proc.wait(WAIT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(WAIT_S)
        for pipe in (proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
