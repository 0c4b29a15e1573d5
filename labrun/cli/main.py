"""``labrun``: simulate or run protocol files, start the emulator, serve the control API."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS = ("simulate", "run", "serve", "emulator")
"""Sub-commands, each a module of this package with ``add_parser(commands)``."""


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that sub-command (and just its imports)."""
    parser = argparse.ArgumentParser(prog="labrun", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        if only is None or name == only:
            importlib.import_module(f"{__package__}.{name}").add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``labrun`` console script; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Import only the chosen sub-command: `simulate` need not load the HTTP stack.
    chosen = next((a for a in arguments if not a.startswith("-")), None)
    parser = build_parser(chosen if chosen in COMMANDS else None)
    args = parser.parse_args(arguments)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
