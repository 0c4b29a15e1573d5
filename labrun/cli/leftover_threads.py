"""Threads a protocol started and left running: labrun exits without waiting for them.

Python waits at exit for every thread that is not a daemon, so a protocol's
``threading.Thread(target=poll).start()`` whose loop never ends once kept ``labrun
simulate`` (and ``labrun run``) from exiting after printing its results, until Ctrl-C.
labrun's own threads are all daemons. Once a command's results are out, what else is
still running is given ``GRACE_S`` to end; each thread left then is one warning line
with the protocol line it is at, and labrun exits as Python would with it a daemon: the
``atexit`` callbacks run, the standard streams are flushed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from types import FrameType
from typing import NoReturn

from protocol_api.stray_errors import protocol_line_in

GRACE_S = 1.0
"""Wall seconds the threads still running after the results are given to end."""

_EXECUTOR_FILE = os.path.join("concurrent", "futures", "thread.py")


def left_running() -> list[threading.Thread]:
    """The threads, but the main one, that Python would wait for at exit: not daemons,
    nor idle workers of a ``concurrent.futures`` pool (Python tells those to end)."""
    main = threading.main_thread()
    return [thread for thread in threading.enumerate()
            if thread is not main and not thread.daemon and thread.is_alive()
            and not _idle_pool_worker(thread)]


def _idle_pool_worker(thread: threading.Thread) -> bool:
    """A ``concurrent.futures`` worker with no protocol code on its stack."""
    frame = _frame_of(thread)
    if protocol_line_in(frame) is not None:
        return False
    while frame is not None:
        if frame.f_code.co_filename.endswith(_EXECUTOR_FILE):
            return True
        frame = frame.f_back
    return False


def _frame_of(thread: threading.Thread) -> FrameType | None:
    return sys._current_frames().get(thread.ident or -1)


def still_running(grace_s: float = GRACE_S) -> list[threading.Thread]:
    """The threads left running (``left_running``) once each has had until ``grace_s``
    from now to end; a Ctrl-C ends the wait."""
    deadline = time.monotonic() + grace_s
    try:
        for thread in left_running():
            thread.join(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    return left_running()


def warning(thread: threading.Thread) -> str:
    """The line that says ``thread`` is left running, at its innermost protocol line."""
    where = protocol_line_in(_frame_of(thread))
    at = f"{where}: " if where else ""
    return (f"warning: {at}the protocol's thread {thread.name!r} was still running after "
            "the run ended; labrun exits without waiting for it (Python waits for a "
            "thread that is not a daemon: start it with daemon=True, or end it)")


def said_as_python_would(error: BaseException) -> int:
    """Say ``error``, which ends the process, as Python does (a traceback, or the message
    of a ``SystemExit``) and return the exit status Python gives it."""
    if isinstance(error, SystemExit):
        if error.code is None or isinstance(error.code, int):
            return error.code or 0
        _say(str(error.code))
        return 1
    sys.excepthook(type(error), error, error.__traceback__)
    return 130 if isinstance(error, KeyboardInterrupt) else 1


def exit_without(threads: list[threading.Thread], status: int) -> NoReturn:
    """Say each of ``threads`` in one line on stderr, run the ``atexit`` callbacks and
    exit with ``status``, without waiting for them."""
    for thread in threads:
        _say(warning(thread))
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        # a reader gone, a stream the protocol closed: nothing more to say there
        with contextlib.suppress(OSError, ValueError):
            if stream is not None:
                stream.flush()
    os._exit(status)


def _say(text: str) -> None:
    stream = sys.stderr or sys.__stderr__
    if stream is not None:
        with contextlib.suppress(OSError, ValueError):
            print(text, file=stream, flush=True)
