"""Generated protocol code of ``proto/whistle/v1`` (package ``whistle.v1``): do not edit.

Regenerate with ``.venv/bin/python proto/generate.py``; ``tests/unit/api/
test_server_proto.py`` fails when these files differ from what the .proto files give.
"""
