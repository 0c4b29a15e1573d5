"""``labrun``: simulate or run protocol files, start the emulator, serve the control API."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import emulator, run, serve, simulate


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with one sub-command per job."""
    parser = argparse.ArgumentParser(prog="labrun", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    simulate.add_parser(commands)
    serve.add_parser(commands)
    run.add_parser(commands)
    emulator.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``labrun`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    status: int = args.handler(args)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
