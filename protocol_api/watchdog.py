"""Where a protocol is stuck: the simulate watchdog, its time limit and Ctrl-C.

A simulated run answers every call at once, so a protocol that makes no call for long
(``while True:`` in ``run``) is stuck in its own code. ``Watchdog`` fails such a run
with the protocol line it is at; ``TimeLimit`` fails one whose protocol time runs past
any real run's (a loop that never ends, making calls); ``interrupt`` ends a run on
Ctrl-C the same way, without a traceback. The protocol thread itself cannot be stopped
from outside (Python threads cannot be killed): once its run has ended it is left to the
process's exit.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from types import FrameType

from engine.channel import CommandChannel
from engine.run import Run
from hardware.clock import VirtualClock

DEFAULT_WATCHDOG_S = 30.0
"""Wall-clock seconds a simulated protocol may go without a call (``--watchdog``)."""
DEFAULT_TIME_LIMIT_H = 168.0
"""Hours of protocol time a simulation may reach (``--max-hours``): a week, longer than
a robot runs unattended; a loop that never ends reaches it within a minute of wall time."""
LOOPING_CALLS = 10_000
"""Calls with no protocol time passing that, over the watchdog's limit, make a loop without
end (``while True: ctx.comment(...)`` makes that many in a second); a protocol that
computes at length between a few comments makes far fewer."""
WATCHDOG_RANGE_S = (0.5, 86_400.0)
"""The shortest and longest watchdog limits: a shorter one can fire before the protocol's
first call, a longer one than a day is no limit (0 turns it off)."""

_EXECUTE = CommandChannel.execute_all.__code__  # where a call waits for the engine


def protocol_line(run: Run, protocol_file: str | None) -> str | None:
    """The ``file:line`` the run's protocol thread is at now (None: not running)."""
    frames = _frames(run)
    for frame in reversed(frames):
        if protocol_file is None or frame.f_code.co_filename == protocol_file:
            return f"{frame.f_code.co_filename}:{frame.f_lineno}"
    return None


def _frames(run: Run) -> list[FrameType]:
    thread = run.protocol_thread
    if thread is None or thread.ident is None or not thread.is_alive():
        return []
    frame = sys._current_frames().get(thread.ident)
    chain: list[FrameType] = []
    while frame is not None:
        chain.append(frame)
        frame = frame.f_back
    return chain[::-1]  # outermost first


def waiting_on_engine(run: Run) -> bool:
    """True while the protocol thread waits in a call (the engine has the turn)."""
    return any(frame.f_code is _EXECUTE for frame in _frames(run))


class Watchdog:
    """Fails a run whose protocol makes no call for ``limit_s`` seconds of ``now`` time.

    Time spent waiting inside a call (a pause, a long command) does not count: only the
    protocol's own code between calls does. On the virtual clock it also fails a run
    whose protocol goes on making calls for ``limit_s`` with no protocol time passing,
    ``LOOPING_CALLS`` of them at least (``while True: ctx.comment(...)``): a real run's
    calls move, wait or change something; so many that take no time are a loop without
    end.
    """

    def __init__(self, run: Run, protocol_file: str, limit_s: float, *,
                 now: Callable[[], float] = time.monotonic, poll_s: float | None = None,
                 hint: str = "") -> None:
        self.run = run
        self.hint = hint  # how the caller's user sets the limit, said with the failure
        self.protocol_file = protocol_file
        self.limit_s = limit_s
        self._now = now
        self._poll_s = poll_s if poll_s is not None else min(1.0, limit_s / 10)
        self._done = threading.Event()
        self.checks = 0  # how many times it has looked (for tests to wait on)
        self.checked = threading.Condition()
        self.fired: str | None = None  # the line it failed the run at
        self._thread = threading.Thread(target=self._watch, name="labrun-watchdog",
                                        daemon=True)

    def start(self) -> Watchdog:
        """Start watching in a thread of its own; it ends with the run."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop watching."""
        self._done.set()

    def _watch(self) -> None:
        calls, since = -1, self._now()
        clock = self.run.clock
        # the protocol time, when it was last seen to move (or no call was made), and the
        # calls made by then
        instant, still_since, calls_then = clock.now(), since, 0
        while not self._done.wait(self._poll_s):
            if self.run.control.status().status.is_terminal:
                break
            sent = self.run.channel.requests_sent
            now = self._now()
            if clock.is_virtual:
                if sent == calls or clock.now() != instant:
                    instant, still_since, calls_then = clock.now(), now, sent
                elif (now - still_since >= self.limit_s
                      and sent - calls_then >= LOOPING_CALLS):
                    self._fire(f"the protocol made {sent - calls_then:,} calls in a row "
                               "with no protocol time passing (for more than "
                               f"{self.limit_s:g} s) and seems to loop without end")
                    break
            if sent != calls or self.run.protocol_thread is None or waiting_on_engine(self.run):
                calls, since = sent, now
            elif now - since >= self.limit_s:
                self._fire(f"the protocol made no call for {self.limit_s:g} s and seems stuck")
                break
            with self.checked:
                self.checks += 1
                self.checked.notify_all()
        with self.checked:
            self.checks += 1
            self.checked.notify_all()

    def _fire(self, why: str) -> None:
        line = protocol_line(self.run, self.protocol_file)
        self.fired = line
        hint = f" ({self.hint})" if self.hint else ""
        self.run.channel.finish(f"{why}{hint}", line)


class TimeLimit:
    """Fails a simulated run whose clock reaches ``limit_s`` of protocol time: a loop
    that never ends but makes calls (``while True: ctx.delay(minutes=60)``, an endless
    aspirate and dispense), which the ``Watchdog`` cannot tell from work, reaches it in
    seconds of wall time; the failure names the protocol line the run is at."""

    def __init__(self, run: Run, protocol_file: str, limit_s: float, *,
                 hint: str = "") -> None:
        clock = run.clock
        if not isinstance(clock, VirtualClock):
            raise ValueError("a limit on protocol time is for runs on the virtual clock")
        self.run = run
        self.protocol_file = protocol_file
        self.limit_s = limit_s
        self.hint = hint  # how the caller's user sets the limit, said with the failure
        self.fired: str | None = None  # the line it failed the run at
        # A paused run does not wait for it: nothing it does is the protocol's time.
        clock.call_at(limit_s, self._reached, holds_pause=False)

    def _reached(self) -> None:  # in the engine loop, at the limit's instant
        engine = self.run.engine
        if engine.state.outcome is not None or engine.state.ending is not None:
            return
        line = protocol_line(self.run, self.protocol_file)
        self.fired = line
        hint = f" ({self.hint})" if self.hint else ""
        engine.ending.fail(f"the simulation reached {self.limit_s / 3600:g} h of protocol "
                           f"time; does the protocol loop without end?{hint}", line)


def interrupt(run: Run, protocol_file: str | None, cause: str | None = None) -> None:
    """Ctrl-C (or ``cause``, such as "terminated (SIGTERM)"): abort the run, naming the
    protocol line it was at, and wait for its end."""
    line = protocol_line(run, protocol_file)
    cause = cause or "interrupted (Ctrl-C)"
    reason = f"{cause} at {line}" if line else cause
    run.control.abort(reason, source="keyboard")
    while True:
        try:
            run.wait()
            return
        except KeyboardInterrupt:  # a second Ctrl-C: the cleanup is short, wait for it
            continue
