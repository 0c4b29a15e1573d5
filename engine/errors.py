"""Errors the engine raises in the protocol's thread."""

from __future__ import annotations


class RunStopped(Exception):
    """The run was stopped: raised by the protocol call in progress and by every later one.

    The protocol's ``finally`` blocks run; the engine does the cleanup.
    """


class RunAborted(RunStopped):
    """The run was aborted."""


class RunHalted(RunStopped):
    """The run was halted (emergency stop)."""


class RunFailed(RunStopped):
    """The run failed (a hardware fault or a command the robot could not carry out)."""


def error_line(error: BaseException) -> str:
    """An exception as one line: ``Type: message``, or ``Type`` alone when it says
    nothing (``raise RuntimeError()``), its lines joined. An exception whose message
    cannot be made (its ``__str__`` raises) says so rather than raising in turn."""
    try:
        text = " ".join(str(error).split())
    except Exception as exc:  # the protocol's own exception class may be broken
        text = f"(its message could not be printed: {type(exc).__name__})"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
