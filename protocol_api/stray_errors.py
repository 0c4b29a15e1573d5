"""Errors of a protocol that Python only prints: raised in a thread the protocol started,
or "ignored" (in an ``atexit`` callback, a ``__del__``). As in Opentrons they do not end
the run; each is said in one warning line naming the protocol's line, not a traceback.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from types import FrameType, TracebackType
from typing import Any

from engine.errors import error_line

from .errors import ThreadCallError

_lock = threading.Lock()
_watched: dict[str, int] = {}  # the protocol files watched, each with its watchers
_python_hooks: list[Callable[[Any], object]] = [threading.excepthook, sys.unraisablehook]
"""The hooks there were before: they say every other error."""


def watch_stray_errors(protocol_file: str) -> Callable[[], None]:
    """Say the stray errors of ``protocol_file``'s code (those with a line in it) in one
    line each on stderr, until the function returned is called; the hooks there were are
    back once no protocol is watched, and say any other error as they did."""
    with _lock:
        if threading.excepthook is not _thread_error:  # (again, if another replaced it)
            _python_hooks[0], threading.excepthook = threading.excepthook, _thread_error
        if sys.unraisablehook is not _ignored_error:
            _python_hooks[1], sys.unraisablehook = sys.unraisablehook, _ignored_error
        _watched[protocol_file] = _watched.get(protocol_file, 0) + 1
    watching = [True]

    def unwatch() -> None:
        with _lock:
            if not watching:
                return
            watching.clear()
            _watched[protocol_file] -= 1
            if not _watched[protocol_file]:
                del _watched[protocol_file]
            if not _watched:
                if threading.excepthook is _thread_error:
                    threading.excepthook = _python_hooks[0]
                if sys.unraisablehook is _ignored_error:
                    sys.unraisablehook = _python_hooks[1]

    return unwatch


def _thread_error(info: threading.ExceptHookArgs) -> None:
    where = _protocol_line(info.exc_traceback)
    if where is None or issubclass(info.exc_type, SystemExit):
        _python_hook(0, info)
    elif not isinstance(info.exc_value, ThreadCallError):  # that one failed the run
        _warn(f"{where}: a thread of the protocol raised {_said(info.exc_type, info.exc_value)}")


def _ignored_error(info: Any) -> None:  # sys.UnraisableHookArgs
    where = _protocol_line(info.exc_traceback)
    if where is None:
        _python_hook(1, info)
        return
    message = info.err_msg or ""
    what = getattr(info.object, "__qualname__", None)
    if "atexit" in message:
        who = "an atexit callback of the protocol"
    elif isinstance(what, str):
        who = f"the protocol's {what}"
    else:
        who = "the protocol"
    _warn(f"{where}: {who} raised {_said(info.exc_type, info.exc_value)}; Python ignored it")


def _said(kind: type[BaseException], error: BaseException | None) -> str:
    return error_line(error) if error is not None else kind.__name__


def _protocol_line(tb: TracebackType | None) -> str | None:
    """``file:line`` of the innermost frame of ``tb`` in a watched protocol file."""
    with _lock:
        files = set(_watched)
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename in files:
            line = f"{tb.tb_frame.f_code.co_filename}:{tb.tb_lineno}"
        tb = tb.tb_next
    return line


def protocol_line_in(frame: FrameType | None) -> str | None:
    """``file:line`` of the innermost frame in a watched protocol file, from ``frame`` (a
    thread's innermost, as ``sys._current_frames`` gives it) outward."""
    with _lock:
        files = set(_watched)
    while frame is not None:
        if frame.f_code.co_filename in files:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
        frame = frame.f_back
    return None


def _python_hook(which: int, info: Any) -> None:
    _python_hooks[which](info)


def _warn(text: str) -> None:
    stream = sys.stderr or sys.__stderr__
    if stream is not None:
        print(f"warning: {text}", file=stream, flush=True)
