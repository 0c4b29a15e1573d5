"""The simulate watchdog and Ctrl-C: a stuck protocol fails (or is aborted) with the line
it is stuck at. The watchdog is given a clock the test moves, so nothing here depends on
how fast the host is.
"""

from __future__ import annotations

import itertools
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.run import Run
from engine.state import Status
from protocol_api.execute import continue_when_stalled, create_run
from protocol_api.loader import ProtocolSource
from protocol_api.watchdog import LOOPING_CALLS, Watchdog, interrupt

HERE = str(Path(__file__).resolve())
WAIT_S = 10.0


def line_of(marker: str) -> str:
    lines = Path(HERE).read_text().splitlines()
    return f"{HERE}:{next(i for i, text in enumerate(lines, 1) if text.endswith(marker))}"


class Stuck:
    """A protocol that makes a call, then waits (makes no call) until released."""

    def __init__(self) -> None:
        self.waiting = threading.Event()
        self.release = threading.Event()

    def __call__(self, ctx: Any) -> None:
        ctx.comment("before")
        self.waiting.set()
        self.release.wait()  # stuck here
        ctx.comment("after")


def start(protocol: Callable[[Any], None], *, stalled: bool = True) -> Run:
    source = ProtocolSource(HERE, (2, 15), {}, {}, protocol)
    run = create_run(source, on_stalled=continue_when_stalled if stalled else None)
    run.control.play()
    return run


def looked(dog: Watchdog, times: int = 2) -> None:
    """Wait until the watchdog has looked ``times`` more times."""
    with dog.checked:
        target = dog.checks + times
        assert dog.checked.wait_for(lambda: dog.checks >= target, WAIT_S)


def test_the_watchdog_fails_a_protocol_that_makes_no_call_at_the_line_it_is_at() -> None:
    protocol, now = Stuck(), [0.0]
    run = start(protocol)
    dog = Watchdog(run, HERE, 30.0, now=lambda: now[0], poll_s=0.001).start()
    try:
        assert protocol.waiting.wait(WAIT_S)
        looked(dog)
        now[0] = 29.9
        looked(dog)
        assert run.control.status().status is Status.RUNNING
        now[0] = 30.0
        run.wait(WAIT_S)
    finally:
        protocol.release.set()
        run.close()
    summary = run.record.events[-1]
    assert summary["status"] == "failed"
    assert summary["error"] == "the protocol made no call for 30 s and seems stuck"
    assert summary["location"] == line_of("# stuck here")
    assert dog.fired == summary["location"]


def test_time_spent_inside_a_call_does_not_count() -> None:
    def protocol(ctx: Any) -> None:
        ctx.pause("look at the plate")  # paused inside the call until resumed
        ctx.comment("after")

    now = [0.0]
    run = start(protocol, stalled=False)  # nothing resumes the pause by itself
    dog = Watchdog(run, HERE, 30.0, now=lambda: now[0], poll_s=0.001).start()
    try:
        run.control.wait_until_paused(WAIT_S)
        looked(dog)
        now[0] = 1000.0
        looked(dog)
        assert dog.fired is None and run.control.status().status is Status.PAUSED
        assert run.control.resume().accepted
        run.wait(WAIT_S)
    finally:
        run.close()
    assert run.record.events[-1]["status"] == "succeeded"


class Looping:
    """A protocol that makes calls in a loop until released: comments (no protocol time)
    or, ``timed``, one-second delays."""

    def __init__(self, *, timed: bool = False) -> None:
        self.timed = timed
        self.release = threading.Event()

    def __call__(self, ctx: Any) -> None:
        while not self.release.is_set():  # the loop
            if self.timed:
                ctx.delay(seconds=1)
            else:
                ctx.comment("again")  # looping here


def ticking(step: float) -> Callable[[], float]:
    """A clock that moves ``step`` seconds each time it is read."""
    moments = itertools.count(0.0, step)
    return lambda: next(moments)


def test_the_watchdog_fails_a_protocol_that_loops_making_calls_that_take_no_time() -> None:
    # `while True: ctx.comment(...)` makes calls (the watchdog saw a protocol at work) and
    # its protocol time never moves (no time limit is reached): it ran until Ctrl-C.
    protocol = Looping()
    run = start(protocol)
    dog = Watchdog(run, HERE, 30.0, now=ticking(5.0), poll_s=0.01).start()
    try:
        run.wait(WAIT_S)
    finally:
        protocol.release.set()
        run.close()
    summary = run.record.events[-1]
    assert summary["status"] == "failed"
    said = re.fullmatch(r"the protocol made ([\d,]+) calls in a row with no protocol time "
                        r"passing \(for more than 30 s\) and seems to loop without end",
                        summary["error"])
    assert said and int(said[1].replace(",", "")) >= LOOPING_CALLS
    # The thread may be caught in the call or between calls, testing the loop's condition:
    # either way, a line of the loop.
    assert summary["location"] == dog.fired
    first, last = (int(line_of(marker).rsplit(":", 1)[1])
                   for marker in ("# the loop", "# looping here"))
    assert summary["location"] in {f"{HERE}:{line}" for line in range(first, last + 1)}


def test_calls_that_take_protocol_time_are_no_loop_for_the_watchdog() -> None:
    protocol = Looping(timed=True)
    run = start(protocol)
    dog = Watchdog(run, HERE, 30.0, now=ticking(5.0), poll_s=0.01).start()
    try:
        looked(dog, 40)  # 200 s of its clock, making calls all the while
        assert dog.fired is None
        assert run.control.status().status is Status.RUNNING
        protocol.release.set()
        run.wait(WAIT_S)
    finally:
        protocol.release.set()
        run.close()
    assert run.record.events[-1]["status"] == "succeeded"


def test_a_few_calls_between_long_computations_are_no_loop_for_the_watchdog() -> None:
    # A protocol that works something out at length, saying how far it got in comments:
    # calls, and no protocol time passing, but far fewer than a loop makes.
    release, dogs = threading.Event(), []

    def protocol(ctx: Any) -> None:
        while not release.is_set():
            ctx.comment("worked out one more row")
            if dogs:  # a call for each look of the watchdog's
                looked(dogs[0], 1)

    run = start(protocol)
    dog = Watchdog(run, HERE, 30.0, now=ticking(5.0), poll_s=0.01)
    dogs.append(dog.start())
    try:
        looked(dog, 40)  # 200 s of its clock
        assert dog.fired is None
        assert run.control.status().status is Status.RUNNING
        release.set()
        run.wait(WAIT_S)
    finally:
        release.set()
        run.close()
    assert run.record.events[-1]["status"] == "succeeded"


def test_ctrl_c_aborts_the_run_naming_the_line_the_protocol_is_at() -> None:
    protocol = Stuck()
    run = start(protocol)
    try:
        assert protocol.waiting.wait(WAIT_S)
        interrupt(run, HERE)
    finally:
        protocol.release.set()
        run.close()
    summary = run.record.events[-1]
    assert summary["status"] == "aborted"
    assert summary["reason"] == f"interrupted (Ctrl-C) at {line_of('# stuck here')}"


STUCK_AT_THE_TOP = '''
import signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a shell starts a background job
from protocol_api.execute import LocatedLoadError, load_watched
try:
    load_watched(sys.argv[1], 0.5, "")
except LocatedLoadError as exc:
    print(exc.location, exc)
'''


def test_a_top_level_that_never_ends_is_stopped_with_ctrl_c_ignored(tmp_path: Path) -> None:
    # labrun serve's check workers inherit SIGINT ignored from a server started in the
    # background (`labrun serve &`, a service): the watchdog's interruption then did
    # nothing, and the server stopped the worker at its own limit, naming no line.
    path = tmp_path / "stuck.py"
    path.write_text('metadata = {"apiLevel": "2.15"}\nwhile True:\n    pass\n\n'
                    "def run(ctx):\n    pass\n")
    done = subprocess.run([sys.executable, "-c", STUCK_AT_THE_TOP, str(path)],
                          cwd=Path(__file__).resolve().parents[2], capture_output=True,
                          text=True, timeout=30)
    assert done.stdout.strip() in {
        f"{path}:{line} the protocol's top level ran for 0.5 s without finishing and seems "
        "stuck" for line in (2, 3)}, (done.stdout, done.stderr)
