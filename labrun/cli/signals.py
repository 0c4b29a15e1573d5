"""What labrun's commands do when asked to end from outside: Ctrl-C, SIGTERM and SIGHUP."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from engine.run import Run
from protocol_api.watchdog import interrupt

Handler = Callable[[int, Any], None] | int
TERMINATIONS = tuple(s for s in (signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s)
"""The signals that ask a process to end (SIGHUP where the system has it)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C would raise ``KeyboardInterrupt``."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def raise_terminated(signum: int, frame: object) -> None:
    """A handler: SIGTERM or SIGHUP raises ``Terminated`` where it lands (the main
    thread), so that labrun's own ending runs (its ``finally`` blocks, its exit status)."""
    raise Terminated(signal.Signals(signum).name)


@contextlib.contextmanager
def handling(handlers: Mapping[int, Handler]) -> Iterator[None]:
    """Within: each signal goes to its handler (``signal.SIG_IGN`` ignores it); the ones
    before are put back after. Only the main thread can set them: elsewhere, nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum, handler in handlers.items()}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class Interrupts:
    """Within (``with``): Ctrl-C raises ``KeyboardInterrupt`` and SIGTERM or SIGHUP
    ``Terminated`` in the main thread, so that what is in progress ends as for Ctrl-C
    (the robot stopped, the output printed) instead of the process dying at once.

    Only the first of them raises: the next ones are ignored by the same handler (a
    second signal must not raise in the middle of the ending; in a lock it holds, it
    would leave the run waiting for ever). The handler stays past the ``with`` then,
    until ``restore()`` (or ``ignore_interrupts``, for a command that only prints its
    results and exits after such an ending); if none came, leaving restores them.
    It never sets handlers itself: ``signal.signal`` runs the handlers of signals
    pending, which would raise a second time from within the first.
    """

    def __init__(self) -> None:
        self._previous: dict[int, Any] = {}
        self.received = False

    def __enter__(self) -> Interrupts:
        if threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._raise)
                              for s in (signal.SIGINT, *TERMINATIONS)}
        return self

    def __exit__(self, *exc_info: object) -> None:
        if not self.received:
            self.restore()

    def _raise(self, signum: int, frame: object) -> None:
        if self.received:
            return  # already ending
        self.received = True
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise Terminated(signal.Signals(signum).name)

    def restore(self) -> None:
        """Put back the handlers there were before."""
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)
        self._previous = {}


def interrupts_ignored() -> contextlib.AbstractContextManager[None]:
    """Within: Ctrl-C, SIGTERM and SIGHUP are ignored (the short wait for a run that was
    already told to end, so that a second Ctrl-C cannot lose its output)."""
    return handling(dict.fromkeys((signal.SIGINT, *TERMINATIONS), signal.SIG_IGN))


def ignore_interrupts() -> None:
    """From now on until labrun exits, Ctrl-C, SIGTERM and SIGHUP are ignored by the
    kernel (``SIG_IGN``), after an ending they interrupted, while the results are printed.
    Not by a Python handler that returns: one run while a write waits on a full pipe
    makes Python drop the rest of that write (a run log cut short). Main thread only."""
    if threading.current_thread() is threading.main_thread():
        for signum in (signal.SIGINT, *TERMINATIONS):
            signal.signal(signum, signal.SIG_IGN)


def abort_interrupted(run: Run, protocol_file: str, signalled: KeyboardInterrupt) -> None:
    """Abort a simulation that Ctrl-C (or SIGTERM, SIGHUP: ``Terminated``) interrupted,
    naming the protocol line it was at and the signal, and wait for its end, ignoring
    more of them meanwhile (close it likewise)."""
    cause = f"terminated ({signalled.name})" if isinstance(signalled, Terminated) else None
    with interrupts_ignored():
        interrupt(run, protocol_file, cause)
