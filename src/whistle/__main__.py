"""``python -m whistle``: the ``whistle`` command without the console script."""

from whistle.cli.main import main

if __name__ == "__main__":
    main(prog_name="whistle")
