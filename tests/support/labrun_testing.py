"""Test harness: a run whose protocol thread executes commands the test hands it.

``ScriptedRun.call`` sends one step to the protocol thread and returns once the engine
has settled: the command finished, or the run is waiting for someone (paused), or it
ended. Settling is detected from public surfaces, not from sleeps: where the protocol
thread is, the published status, and a call into the engine loop (``Run.call``), which
on the virtual clock returns only once the loop has done all it had to do.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from motion_trace import TraceItem, TracingController, follow_record

from engine import commands as c
from engine.bridge import LoopClosedError
from engine.channel import CommandChannel
from engine.errors import RunStopped
from engine.record import read_record
from engine.run import Run
from engine.state import Status, StepInfo
from engine.status import RunStatusReport
from hardware.clock import RealClock, VirtualClock
from hardware.config import RobotConfig, default_config
from hardware.simulated import SimulatedController
from protocol_api.execute import continue_when_stalled, create_run

P300 = c.LoadInstrument("p300_single_gen2", "left", 300.0, 300.0 / 16, 18.0, 19.0, 20.0)
P300_RIGHT = c.LoadInstrument("p300_single_gen2", "right", 300.0, 300.0 / 16, 18.0, 19.0, 20.0)
TIP_TOP = (14.38, 74.24, 64.69)  # a 300 µL tip rack's A1 top in slot 1
WELL = (146.88, 74.24, 3.0)       # a plate well bottom in slot 2
SETTLE_TIMEOUT = 10.0


class Outcome:
    """What one protocol call ended with."""

    def __init__(self) -> None:
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()


class ScriptedRun:
    """A simulated run driven command by command from the test thread."""

    def __init__(self, config: RobotConfig | None = None, record_path: str | None = None,
                 *, homed: bool = True, trace: list[TraceItem] | None = None) -> None:
        self.config = config or default_config()
        self.clock = VirtualClock()
        self.controller = (
            SimulatedController(self.config, self.clock, homed=homed) if trace is None
            else TracingController(self.config, self.clock, homed=homed, trace=trace))
        self._queue: queue.Queue[tuple[list[c.Command], str, Outcome] | None] = queue.Queue()
        self.queued = 0
        self.finished = 0
        self.protocol_done = False
        self.in_execute = False
        self.step = 0
        self.record_path = record_path
        self.run = Run(self._protocol, config=self.config, controller=self.controller,
                       clock=self.clock, record_path=record_path)
        # The run's own condition: it is also notified when the engine thread ends.
        self._cond = self.run._changed
        self.run.start()
        self.engine = self.run.engine
        self.control = self.run.control
        if trace is not None:
            follow_record(self.run, trace)

    # -- driving ----------------------------------------------------------------------

    def play(self) -> None:
        assert self.control.play().accepted
        self.settle()

    def call(self, *commands: c.Command, name: str = "step", wait: bool = True) -> Outcome:
        """Run ``commands`` as one step in the protocol thread."""
        outcome = Outcome()
        with self._cond:
            self.queued += 1
        self._queue.put((list(commands), name, outcome))
        if wait:
            self.settle()
        return outcome

    def finish(self) -> None:
        """Let the protocol function return."""
        with self._cond:
            self.queued += 1
        self._queue.put(None)
        self.settle()

    def settle(self) -> RunStatusReport:
        """Wait until the engine has nothing to do but wait for the test."""
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            with self._cond:
                ok = self._cond.wait_for(self._settled, max(0.0, deadline - time.monotonic()))
            if not ok:
                raise AssertionError(
                    f"the engine did not settle: queued={self.queued} "
                    f"finished={self.finished} in_execute={self.in_execute} "
                    f"done={self.protocol_done} {self.status()}")
            # The loop may still be carrying out what the step or an action set going:
            # a call into it returns once it has nothing left to do. Then look again.
            with contextlib.suppress(LoopClosedError):
                self.run.call(lambda: None)
            with self._cond:
                if self._settled():
                    return self.status()

    def status(self) -> RunStatusReport:
        return self.control.status()

    def close(self) -> None:
        if not self.status().status.is_terminal:
            self.control.abort("test over")
        self._queue.put(None)
        self.run.wait(SETTLE_TIMEOUT)
        self.run.close(protocol_grace_s=SETTLE_TIMEOUT)

    def events(self) -> list[dict[str, Any]]:
        if self.record_path is not None:
            self.run.record.flush()
            return read_record(self.record_path)
        return list(self.run.record.events)

    # -- internals --------------------------------------------------------------------

    def _settled(self) -> bool:
        """Where the protocol thread is says the engine may have settled (the caller then
        makes sure the loop is done)."""
        if self.protocol_done:
            return True
        status = self.status().status
        if status.is_terminal:
            # The engine has ended; the protocol thread still has to see its answer.
            return self.finished == self.queued
        if self.in_execute:
            return status is Status.PAUSED  # blocked in a call the engine holds
        return self.finished == self.queued  # back waiting for the test's next step

    def _set_in_execute(self, value: bool) -> None:
        with self._cond:
            self.in_execute = value
            self._cond.notify_all()

    def _protocol(self, channel: CommandChannel) -> None:
        try:
            while True:
                item = self._queue.get()
                if item is None:
                    return
                commands, name, outcome = item
                self.step += 1
                step = StepInfo(self.step, name)
                try:
                    for command in commands:
                        self._set_in_execute(True)
                        try:
                            outcome.result = channel.execute(command, step)
                        finally:
                            self._set_in_execute(False)
                    channel.step_finished(self.step)
                except RunStopped as exc:
                    outcome.error = exc
                finally:
                    outcome.done.set()
                    with self._cond:
                        self.finished += 1
                        self._cond.notify_all()
        finally:
            with self._cond:
                self.protocol_done = True
                self._cond.notify_all()


@contextlib.contextmanager
def loaded_run() -> Iterator[ScriptedRun]:
    """A scripted run, played, with the P300 loaded (its first step); closed at the end."""
    run = ScriptedRun()
    try:
        run.play()
        run.call(P300, name="load")
        yield run
    finally:
        run.close()


def protocol_file(directory: Path, body: str, api: str = "2.15") -> Path:
    """``directory/protocol.py``: ``run(ctx)`` with the lines of ``body`` at ``api``; the
    first line of ``body`` is line 5 of the file."""
    path = directory / "protocol.py"
    lines = "\n".join("    " + line for line in body.strip().splitlines())
    path.write_text(f'metadata = {{"apiLevel": "{api}"}}\n\n\ndef run(ctx):\n{lines}\n')
    return path


def simulate_file(path: str | Path, *, simulating: bool = True,
                  labware_dirs: Sequence[str] = ()) -> Run:
    """Simulate a protocol file to its end (pauses continue by themselves); closed.
    ``simulating=False``: run it as on a robot (module readings ask the module);
    ``labware_dirs``: folders of custom labware definitions."""
    run = create_run(path, on_stalled=continue_when_stalled, simulating=simulating,
                     labware_dirs=labware_dirs)
    try:
        run.control.play(source="test")
        run.wait(timeout=30)
    finally:
        run.close()
    return run


def traced_run(path: str | Path) -> tuple[Run, list[TraceItem]]:
    """Simulate a protocol file to its end, which must be success, keeping every motion
    of the robot (``motion_trace``); closed."""
    config, clock, trace = default_config(), VirtualClock(), list[TraceItem]()
    run = create_run(path, controller=TracingController(config, clock, trace=trace),
                     config=config, clock=clock, on_stalled=continue_when_stalled)
    try:
        follow_record(run, trace)
        run.control.play(source="test")
        run.wait(timeout=120)
    finally:
        run.close()
    assert run.record.events[-1]["status"] == "succeeded", run.record.events[-1]
    return run, trace


class SteppedClock(RealClock):
    """Emulated time that only the test moves: nothing depends on how busy the host is."""

    def __init__(self) -> None:
        super().__init__(1.0)
        self.t = 0.0

    def now(self) -> float:
        return self.t


def assert_unparked_where_recorded(unpark: Mapping[str, Any], z_axes: Iterable[str],
                                   axes: Iterable[str] = ("X", "Y", "Z"),
                                   tolerance: float = 0.01) -> None:
    """The run continued from the position it paused at: every axis back at the recorded
    position; after a checkpoint's pause (``z_held``) the Z axes above it, at the safe
    height, until a command acts there."""
    held = set(z_axes) if unpark.get("z_held") else set()
    for axis in axes:
        here, recorded = unpark["position"][axis], unpark["recorded"][axis]
        if axis in held:
            assert here >= recorded - tolerance, (axis, unpark)
        else:
            assert here == pytest.approx(recorded, abs=tolerance), (axis, unpark)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
