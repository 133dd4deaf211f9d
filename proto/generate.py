"""Regenerate the checked-in Python code of ``proto/whistle/v1/*.proto``.

    .venv/bin/python proto/generate.py            # writes src/whistle/api/v1/*_pb2*.py(i)

grpcio-tools' protoc writes ``whistle/v1/<name>_pb2.py`` (messages), ``_pb2.pyi`` (their
types) and ``_pb2_grpc.py`` (service stubs and servicers) whose imports name the proto
package path (``from whistle.v1 import types_pb2``); the code lives in ``whistle.api.v1``,
so those imports are rewritten, and nothing else is touched.
``tests/unit/api/test_server_proto.py`` runs ``generate`` into a temporary directory and
requires byte-identical files, so the checked-in code is always what the .proto files say.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
SOURCES = sorted((PROTO_DIR / "whistle" / "v1").glob("*.proto"))
OUT_DIR = ROOT / "src" / "whistle" / "api" / "v1"
SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def generate(out_dir: Path = OUT_DIR) -> list[Path]:
    """Run protoc on every .proto into ``out_dir``; return the files written."""
    from grpc_tools import protoc  # a test/dev dependency (grpcio-tools)

    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        include = Path(protoc.__file__).parent / "_proto"
        args = [
            "grpc_tools.protoc",
            f"-I{PROTO_DIR}",
            f"-I{include}",
            f"--python_out={tmp}",
            f"--pyi_out={tmp}",
            f"--grpc_python_out={tmp}",
            *(str(p.relative_to(PROTO_DIR)) for p in SOURCES),
        ]
        code = protoc.main(args)
        if code != 0:
            raise RuntimeError(f"protoc failed with status {code}: {' '.join(args)}")
        written: list[Path] = []
        for source in SOURCES:
            for suffix in SUFFIXES:
                name = source.stem + suffix
                text = (tmp / "whistle" / "v1" / name).read_text(encoding="utf-8")
                text = text.replace("from whistle.v1 import ", "from whistle.api.v1 import ")
                target = out_dir / name
                target.write_text(text, encoding="utf-8")
                written.append(target)
    return written


if __name__ == "__main__":
    for path in generate(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR):
        print(path)
