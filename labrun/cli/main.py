"""The ``labrun`` command: one sub-command per module, each imported only when chosen."""

from __future__ import annotations

import argparse
import errno
import functools
import gc
import importlib
import os
import sys
import threading
from collections.abc import Sequence
from typing import Any, TextIO

DESCRIPTION = """\
Simulate or run lab-robot protocol files, serve the remote-control API and its
web page, or start the G-code controller emulator. 'labrun COMMAND --help'
tells more of each."""
EPILOG = """exit status (every command):
  0    success (a run that succeeded or was stopped by someone)
  1    the run failed, was aborted or halted: on the robot (run), which may have moved,
       or in the simulation (simulate); doctor: a problem found
  2    bad input: arguments, files or a protocol that cannot load; nothing moved
  3    run: the protocol failed in the simulation made before the run (or loads a
       module the robot file lacks); nothing was connected or moved
  4    run, doctor: not started, the robot is in use by another process (run: or may
       still hold the tips the last run left on it); nothing was connected or moved
  130  interrupted: simulate, by Ctrl-C, SIGTERM or SIGHUP (the simulation aborted);
       run, by one of them before the run began (simulating, at the start prompt,
       connecting or homing; during the run Ctrl-C pauses and SIGTERM aborts: 1);
       serve, by Ctrl-C as it starts"""
COMMANDS = {
    "simulate": "simulate a protocol on the virtual clock",
    "run": "run a protocol on a robot or on the bundled emulator",
    "serve": "serve the remote-control API (a queue of runs)",
    "emulator": "run the G-code controller emulator (GRBL, Marlin, Smoothieware)",
    "doctor": "check a robot: what firmware answers and what the robot file gets wrong",
}
"""Sub-commands, each a module of this package with ``add_parser(commands)``, and the
line ``labrun --help`` says of each (the same as the module's own, which a test checks)."""


def build_parser(only: str | None = None, *, full: bool = False) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that sub-command (and just its imports).

    Without ``only`` (``--help``, ``--version``, no or an unknown command) the
    sub-commands are listed by name and line without importing any of them, unless
    ``full``: ``labrun --help`` must not load the HTTP stack.
    """
    parser = Parser(prog="labrun", description=DESCRIPTION, epilog=EPILOG,
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_VersionAction, help="print labrun's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, line in COMMANDS.items():
        if name == only or (only is None and full):
            importlib.import_module(f"{__package__}.{name}").add_parser(commands)
        elif only is None:
            commands.add_parser(name, help=line)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``labrun`` console script; returns the exit status. As the
    process itself (no ``argv``), it exits without waiting for threads a protocol left
    running (``leftover_threads``), each said in a warning line."""
    if argv is not None:
        return _main(argv)
    try:
        status = _main(None)
    except BaseException as exc:  # --debug's traceback, argparse's exits
        _leave_protocol_threads(exc)
        raise
    _leave_protocol_threads(status)
    return status


def _leave_protocol_threads(ending: int | BaseException) -> None:
    """Exit now with ``ending``'s status if threads a protocol started are still running
    (``leftover_threads``); else return, for Python to exit as it does."""
    if threading.active_count() == 1:  # the common case
        return
    from . import leftover_threads

    threads = leftover_threads.still_running()
    if threads:
        status = (ending if isinstance(ending, int)
                  else leftover_threads.said_as_python_would(ending))
        leftover_threads.exit_without(threads, status)


def _main(argv: Sequence[str] | None) -> int:
    """Parse ``argv`` (None: the process's own) and run the command chosen."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    # Import only the chosen sub-command: `simulate` need not load the HTTP stack.
    chosen = next((a for a in arguments if not a.startswith("-")), None)
    # Importing makes classes and functions, no garbage: the collections it would set off
    # (some 20) find nothing. As the process itself (the console script: no ``argv``),
    # what importing made lives as long as the process, out of every later collection's
    # way (together some 5 ms of a simulation's start-up).
    collecting = gc.isenabled()
    gc.disable()
    try:
        parser = build_parser(chosen if chosen in COMMANDS else None)
        args = parser.parse_args(arguments)
    finally:
        if argv is None:
            gc.freeze()
        if collecting:
            gc.enable()
    _pin_paths(args)
    if not getattr(args, "debug", False):
        _quiet_protocol_threads()
    if sys.stdout is None:  # started with it closed (`>&-`): nowhere to say the results
        print("error: standard output is closed; labrun prints its results there "
              "(redirect it to a file, or to /dev/null)", file=sys.stderr)
        return 2
    try:
        status: int = args.handler(args)
    except BrokenPipeError:  # `labrun simulate FILE | head`: the reader has had enough
        sys.stdout = None  # nothing more to flush at exit
        return 0
    except OSError as exc:
        if exc.errno not in _FULL or getattr(args, "debug", False):
            raise
        # The output (stdout, or the log spooled for it): the record and the deck
        # picture say their own errors.
        sys.stdout = None
        print(f"error: cannot write the output: {exc.strerror}", file=sys.stderr)
        return 1
    return status


_FULL = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT, errno.EIO, errno.EBADF}
"""A write that failed because the device is full, too large, or gone (or the stream
was closed under labrun, by the protocol)."""


PATH_OPTIONS = ("file", "robot", "config", "record", "deck", "labware_dir", "record_dir",
                "token_file")
"""The arguments that name files or folders (a protocol file, ``--robot``, ...)."""


def _pin_paths(args: argparse.Namespace) -> None:
    """Make the paths given relative to the current folder absolute, before any protocol
    runs: a protocol that changes the folder (``os.chdir``) must not send the record or
    the deck picture elsewhere, nor hide its own file and labware from labrun. An empty
    path stays empty (it is said to be so)."""
    def pinned(path: str) -> str:
        return os.path.abspath(path) if path else path

    for name in PATH_OPTIONS:
        value = getattr(args, name, None)
        if isinstance(value, str):
            setattr(args, name, pinned(value))
        elif isinstance(value, list):
            setattr(args, name, [pinned(item) for item in value])


def _quiet_protocol_threads() -> None:
    """A protocol error raised in a thread the protocol started (a call from the wrong
    thread) is the run's error, said in one line with its ``file:line``: Python's own
    traceback of that thread is left out, unless ``--debug``."""
    import threading

    default = threading.excepthook

    def hook(info: threading.ExceptHookArgs) -> None:
        from protocol_api.errors import ProtocolError  # only when a thread fails

        if not issubclass(info.exc_type, ProtocolError):
            default(info)

    threading.excepthook = hook


class Parser(argparse.ArgumentParser):
    """argparse's parser (and its sub-commands' parsers), its help as wide as the
    terminal, told without importing ``shutil`` as argparse's formatter does (2.5 ms of
    every start-up, for a width that is only needed when help is printed)."""

    def __init__(self, formatter_class: type[argparse.HelpFormatter] = argparse.HelpFormatter,
                 **kwargs: Any) -> None:
        width = functools.partial(formatter_class, width=columns() - 2)
        super().__init__(formatter_class=width, **kwargs)


def columns(stream: TextIO | None = None) -> int:
    """The width of the terminal ``stream`` (default: the process's stdout) writes to, as
    ``shutil.get_terminal_size`` tells it: ``COLUMNS`` first, 80 when neither says."""
    try:
        width = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        width = 0
    if width <= 0:
        try:
            width = os.get_terminal_size((stream or sys.__stdout__).fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            width = 0
    return width or 80


class _VersionAction(argparse.Action):
    """``labrun --version``: the package's version constant."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: object, option_string: str | None = None) -> None:
        from labrun import __version__

        print(f"labrun {__version__}")
        parser.exit()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
