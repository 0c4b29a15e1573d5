"""``labrun emulator``: labrun's G-code controller emulator on its own (TCP or a pty)."""

from __future__ import annotations

import argparse
from typing import Any

from hardware.emulator import server
from hardware.emulator.firmware import FIRMWARES


def add_parser(commands: Any) -> None:
    """Register the ``emulator`` sub-command, every option with its help."""
    parser = commands.add_parser(
        "emulator", help="run the G-code controller emulator (GRBL, Marlin, Smoothieware)",
        description="Serve an emulated G-code motion controller on 127.0.0.1 (or a "
                    "pseudo-terminal) until interrupted; drive it with "
                    "'labrun run FILE --robot ROBOT.toml'.")
    parser.add_argument("--dialect", choices=sorted(FIRMWARES), default="grbl",
                        help="the firmware to speak (default: grbl)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7800,
                        help="the TCP port to listen on (default: 7800)")
    parser.add_argument("--pty", action="store_true",
                        help="serve on a pseudo-terminal instead of TCP (prints its path)")
    parser.add_argument("--speed", default=1.0, metavar="N",
                        help="run the motion clock N times faster than real time (default: 1)")
    parser.add_argument("--config", metavar="ROBOT.toml",
                        help="the robot to emulate (default: the built-in OT-2-like robot)")
    parser.add_argument("--busy-interval", type=float, default=2.0, metavar="SECONDS",
                        help="seconds between Marlin's busy lines (default: 2)")
    parser.add_argument("--no-emergency-parser", dest="emergency_parser",
                        action="store_false",
                        help="Marlin built without its emergency parser (Marlin's default "
                             "configuration): M410 and M112 act only once the move under "
                             "way ends, and M115 says Cap:EMERGENCY_PARSER:0")
    parser.set_defaults(handler=run_emulator)


def run_emulator(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C; return the exit status."""
    return server.run_from_args(args)
