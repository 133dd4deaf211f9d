"""Top layer: the ``whistle`` command. Presentation only; logic lives in the layers below."""

from whistle.cli.main import main

__all__ = ["main"]
