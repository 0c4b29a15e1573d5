"""SIGTERM and SIGHUP as interrupts: what a command does when asked to end from outside."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C would raise ``KeyboardInterrupt``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@contextlib.contextmanager
def terminations_interrupt() -> Iterator[None]:
    """Within: SIGTERM and SIGHUP raise ``Terminated`` in the main thread, as Ctrl-C
    raises ``KeyboardInterrupt``, so that what is in progress ends as for Ctrl-C (the
    robot stopped, the output printed) instead of the process dying at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise Terminated(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, terminate)
                for signum in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if signum}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def interrupts_ignored() -> Iterator[None]:
    """Within: Ctrl-C, SIGTERM and SIGHUP are ignored (the short wait for a run that was
    already told to end, so that a second Ctrl-C cannot lose its output)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, signal.SIG_IGN)
                for signum in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None))
                if signum}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
