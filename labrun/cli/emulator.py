"""``labrun emulator``: labrun's G-code controller emulator on its own (TCP or a pty)."""

from __future__ import annotations

import argparse
from typing import Any

from hardware.emulator import server


def add_parser(commands: Any) -> None:
    """Register the ``emulator`` sub-command; its options are the emulator's own
    (``hardware.emulator.server.add_arguments``)."""
    parser = commands.add_parser(
        "emulator", help="run the G-code controller emulator (GRBL, Marlin, Smoothieware)",
        description="Serve an emulated G-code motion controller on 127.0.0.1 (or a "
                    "pseudo-terminal) until interrupted; drive it with "
                    "'labrun run FILE --robot ROBOT.toml'.")
    server.add_arguments(parser)
    parser.set_defaults(handler=run_emulator)


def run_emulator(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; return the exit status."""
    return server.run_from_args(args)
