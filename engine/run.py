"""A run: the engine loop in its own thread, the protocol in another, and the controls.

``Run`` is the one object the CLI, the tests, embedding scripts and the HTTP API all
use. Its ``control`` methods may be called from any thread: each action is checked and
applied inside the engine loop, and its answer handed back.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from hardware.clock import Clock, VirtualClock
from hardware.config import RobotConfig, default_config
from hardware.controller import MotionController
from hardware.devices import Device, runs_in_hardware_thread
from hardware.robot import open_robot
from hardware.simulated import SimulatedController

from .actions import Abort, Action, Halt, Pause, PauseOption, Play, Resume, SkipDelay, Stop
from .bridge import LoopCaller, LoopClosedError, LoopDriver, call_from_loop, call_in_loop
from .channel import CommandChannel
from .core import StalledPolicy
from .engine import Engine
from .entries import ActionResult
from .errors import RunStopped, error_line
from .record import RunRecord
from .state import RunState, Status
from .status import RunStatusReport, report

T = TypeVar("T")
ProtocolFunction = Callable[[CommandChannel], None]
ErrorExplainer = Callable[[BaseException], tuple[str, str | None]]


def default_explain(error: BaseException) -> tuple[str, str | None]:
    """The error's message and the file:line of the innermost frame."""
    import traceback  # an error to explain: not on every start-up

    frames = traceback.extract_tb(error.__traceback__)
    location = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else None
    return error_line(error), location


RECHECK_S = 0.05
"""How often ``wait_for`` checks its predicate between changes of the run's state."""

ENDING_BY_ITSELF = frozenset({Status.STOPPING, Status.ABORTING, Status.FAILING,
                              Status.HALTING, Status.FINISHING})
"""Statuses from which a run reaches its end with no one's help: ``close`` waits."""


class Run:
    """One protocol run on one robot.

    ``keep_history=False`` keeps no list of the run's events and commands (flat memory
    for long runs): they go to the record file and the record's listeners as they happen.
    ``params``: the protocol's runtime parameters and their values, for the record's
    first line; ``run_id``: the record's ``id`` (a queue item's uid; else a random one).
    """

    def __init__(self, protocol: ProtocolFunction | None = None, *,
                 config: RobotConfig | None = None,
                 controller: MotionController | None = None,
                 clock: Clock | None = None,
                 record_path: str | Path | None = None,
                 on_stalled: StalledPolicy | None = None,
                 explain: ErrorExplainer = default_explain,
                 protocol_name: str | None = None, keep_history: bool = True,
                 devices: dict[str, Device] | None = None,
                 params: Mapping[str, Any] | None = None, run_id: str | None = None) -> None:
        self.config = config or default_config()
        if controller is None:  # the simulated robot, on a virtual clock unless given one
            robot = open_robot(self.config, clock=clock or VirtualClock())
            controller, clock = robot.controller, robot.clock
            devices = robot.devices if devices is None else devices
        elif clock is None:
            raise ValueError("a run on a given controller needs the clock it runs on")
        self.controller = controller
        self.clock: Clock = clock
        # The record's first line, on disk before anything happens (connecting, homing).
        first: dict[str, Any] = {
            "id": run_id or os.urandom(6).hex(), "protocol": protocol_name,
            "robot": self.config.name,
            "created_at": round(time.time(), 3),  # wall-clock seconds since the epoch
            "clock": "virtual" if clock.is_virtual else "real",
            "virtual_clock": clock.is_virtual, "coordinates": controller.coordinates,
            "status": Status.IDLE.value}
        speed = float(getattr(clock, "speed", 1.0))
        if not clock.is_virtual and speed != 1.0:  # the run's clock, sped up (--speed)
            first["clock_speed"] = speed
        if params is not None:  # the protocol's runtime parameters, as this run has them
            first["params"] = dict(params)
        self.record = RunRecord(record_path, clock=clock.now, first=first, keep=keep_history)
        self._protocol = protocol
        self._explain = explain
        # Hardware modules: the robot's devices; a simulated robot simulates what it lacks.
        self.engine = Engine(controller, clock, self.config, self.record, on_stalled=on_stalled,
                             start_protocol=self._start_protocol if protocol else None,
                             devices=devices,
                             simulate_devices=isinstance(controller, SimulatedController),
                             keep_entries=keep_history)
        # A simulated robot on the virtual clock: nothing happens in the loop but what
        # a thread asks of it, so the protocol thread runs the loop for its own calls, on
        # the runtime of ``hardware.aio``, which has no real-time timers: a robot that
        # holds motion behind an open door (its parking polls the door) runs on anyio's.
        if (clock.is_virtual and isinstance(controller, SimulatedController)
                and controller.moves_during_interlock and not any(
                    runs_in_hardware_thread(device) for device in (devices or {}).values())):
            self.engine.driver = LoopDriver()
        self.control = RunControl(self)
        self._ready = threading.Event()
        self._changed = threading.Condition()
        self._signature: tuple[object, ...] = ()
        self._waiting = 0  # threads in ``RunControl.wait_for``: woken on every change
        self._thread: threading.Thread | None = None
        self.protocol_thread: threading.Thread | None = None
        self.error: BaseException | None = None

    @property
    def channel(self) -> CommandChannel:
        """The protocol's side of the bridge (after ``start``)."""
        assert self.engine.channel is not None, "the run has not been started"
        return self.engine.channel

    def start(self) -> Run:
        """Start the engine loop in its own thread; the run stays idle until played."""
        self._thread = threading.Thread(target=self._loop_thread, name="labrun-engine",
                                        daemon=True)
        self._thread.start()
        self._ready.wait()
        return self

    @property
    def loop_running(self) -> bool:
        """True while the engine loop takes calls: from ``start`` until the run has ended."""
        caller = self.engine.caller
        return caller is not None and not caller.closed

    def call(self, function: Callable[[], T], timeout: float | None = None) -> T:
        """Run ``function`` in the engine loop and return its value (or raise its error)
        in this thread; ``LoopClosedError`` once the run has ended.

        This is how another thread reads engine state or subscribes to it safely.
        """
        return call_in_loop(self._caller(), function, timeout)

    async def acall(self, function: Callable[[], T], timeout: float | None = None) -> T:
        """``call`` for another event loop: await ``function``'s value from the engine loop
        without blocking the awaiting loop; ``LoopClosedError`` once the run has ended."""
        return await call_from_loop(self._caller(), function, timeout=timeout)

    def call_soon(self, function: Callable[[], object]) -> None:
        """Run ``function`` in the engine loop without waiting for it; ``LoopClosedError``
        once the run has ended."""
        self._caller().call_soon(function)

    def _caller(self) -> LoopCaller:
        if self.engine.caller is None:
            raise RuntimeError("the run has not been started")
        return self.engine.caller

    def fail_unstarted(self, error: str, location: str | None = None) -> None:
        """End a run that was never played ``failed`` with ``error`` (at the protocol's
        ``location``): its robot could not be made ready (a hardware fault before the
        protocol began), or its protocol could not start. Nothing moves."""
        self.call(lambda: self.engine.ending.fail(error, location))

    def wait(self, timeout: float | None = None) -> RunStatusReport:
        """Block until the run has ended; return its final status."""
        status = self.control.wait_until_ended(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            raise self.error
        return status

    def close(self, protocol_grace_s: float = 2.0) -> None:
        """Abort the run if still going (not already ending), wait for it, close the
        record.

        The protocol thread has been told to stop (its calls raise ``RunStopped``); it
        is given ``protocol_grace_s`` to finish its ``finally`` blocks.
        """
        if self._thread is not None and self._thread.is_alive():
            status = self.control.status().status
            if not status.is_terminal and status not in ENDING_BY_ITSELF:
                self.control.abort("the run was closed")
            self._thread.join()
        if self.protocol_thread is not None:
            self.protocol_thread.join(protocol_grace_s)
        self.record.close()

    # -- threads --------------------------------------------------------------------

    def _loop_thread(self) -> None:
        try:
            if self.engine.driver is not None:
                self.engine.driver.run(self._main())
            else:
                import anyio  # a robot with real I/O: its loop is anyio's

                anyio.run(self._main)
        except BaseException as exc:  # pragma: no cover - an engine bug; surface it
            self.error = exc
            self._ready.set()
        finally:
            with self._changed:
                self._changed.notify_all()

    async def _main(self) -> None:
        self.engine.subscribe(self._on_state)
        await self.engine.run(on_ready=self._ready.set)

    def _on_state(self, state: RunState) -> None:
        # Wake waiting threads on what they wait for; on every change (a new step too)
        # only while a thread waits on a predicate of its own.
        signature = (state.started, state.pending, state.pause, state.park, state.ending,
                     state.finishing, state.outcome, state.interlocks, state.delay)
        if signature != self._signature or self._waiting:
            self._signature = signature
            with self._changed:
                self._changed.notify_all()

    def _start_protocol(self, channel: CommandChannel) -> None:
        self.protocol_thread = threading.Thread(
            target=self._protocol_thread, args=(channel,), name="labrun-protocol", daemon=True)
        self.protocol_thread.start()

    def _protocol_thread(self, channel: CommandChannel) -> None:
        assert self._protocol is not None
        try:
            self._protocol(channel)
        except RunStopped:
            channel.finish()
        except BaseException as exc:
            try:
                message, location = self._explain(exc)
            except Exception as broken:  # never leave the engine waiting for an end
                message, location = (f"{type(exc).__name__} (explaining it raised "
                                     f"{type(broken).__name__})"), None
            channel.finish(message, location)
        else:
            channel.finish()


class RunControl:
    """Thread-safe controls and status of a run: the one control surface."""

    def __init__(self, run: Run) -> None:
        self._run = run

    def play(self, *, source: str = "client") -> ActionResult:
        """Start the run."""
        return self.apply(Play(source=source))

    def pause(self, option: PauseOption = "deferred", *, source: str = "client",
              message: str | None = None) -> ActionResult:
        """Pause at the next checkpoint (``deferred``) or now (``immediate``)."""
        return self.apply(Pause(source=source, option=option, message=message))

    def resume(self, *, source: str = "client") -> ActionResult:
        """Continue a paused run."""
        return self.apply(Resume(source=source))

    def stop(self, *, source: str = "client") -> ActionResult:
        """End the run cleanly (result ``stopped``)."""
        return self.apply(Stop(source=source))

    def abort(self, reason: str | None = None, *, source: str = "client") -> ActionResult:
        """End the run with cleanup (result ``aborted``)."""
        return self.apply(Abort(source=source, reason=reason))

    def halt(self, *, source: str = "client") -> ActionResult:
        """Emergency stop, no cleanup motion (result ``halted``)."""
        return self.apply(Halt(source=source))

    def skip_delay(self, *, source: str = "client") -> ActionResult:
        """End the active delay now."""
        return self.apply(SkipDelay(source=source))

    def apply(self, action: Action) -> ActionResult:
        """Carry out ``action`` in the engine loop and return its answer."""
        engine = self._run.engine
        try:
            return self._run.call(lambda: engine.apply(action))
        except LoopClosedError:
            return ActionResult(False, self.status().status, "the run has already ended")

    def set_interlock(self, name: str, active: bool) -> None:
        """Open or close a simulated interlock (``door``); simulated controller only."""
        controller = self._run.controller
        if not isinstance(controller, SimulatedController):
            raise TypeError("only a simulated robot's interlocks can be set by hand")
        try:
            self._run.call(lambda: controller.set_interlock(name, active))
        except LoopClosedError:  # the run has ended; the robot's door still opens
            controller.set_interlock(name, active)

    def status(self) -> RunStatusReport:
        """The status now."""
        return report(self._run.engine)

    def wait_for(self, predicate: Callable[[RunStatusReport], bool],
                 timeout: float | None = None, *, every_change: bool = True
                 ) -> RunStatusReport:
        """Block until ``predicate(status)`` holds; TimeoutError after ``timeout`` s, or
        once the run has ended without it. The predicate is checked at every change of the
        run's state (its status, step, pause, delay...) and, for what changes between
        them (the position), every ``RECHECK_S`` s; with ``every_change=False``, only when
        its status may have changed (a pause, a park, a delay, an interlock, its ending;
        and every ``RECHECK_S`` s): enough for a predicate of the status, and the run is
        not slowed by waking this thread at every step."""
        run = self._run
        deadline = None if timeout is None else time.monotonic() + timeout
        with run._changed:  # from now on every change wakes it (counted under the lock:
            run._waiting += every_change  # two threads may start waiting at once)
        try:
            # The predicate runs outside the lock: a slow one never holds up the engine,
            # and one that acts on the run cannot deadlock; a wake-up between its check
            # and the wait is caught by the next recheck.
            while not (held := predicate(status := self.status())) and _alive(run):
                left = RECHECK_S if deadline is None else min(
                    RECHECK_S, deadline - time.monotonic())
                if left <= 0:
                    break
                with run._changed:
                    run._changed.wait(left)
        finally:
            with run._changed:
                run._waiting -= every_change
        if not held:  # once more: the run may have got there as it ended
            held = predicate(status := self.status())
        if not held:
            if run.error is not None:
                raise run.error
            if run._thread is None:
                raise TimeoutError("the run has not been started: start() it first")
            if status.status.is_terminal:
                raise TimeoutError(f"the run ended ({status.status.value}) before what was "
                                   "waited for held")
            raise TimeoutError(f"run still {status.status.value} after waiting")
        return status

    def wait_until_ended(self, timeout: float | None = None) -> RunStatusReport:
        """Block until the run has ended (TimeoutError after ``timeout`` s); its status."""
        return self.wait_for(lambda s: s.status.is_terminal, timeout, every_change=False)

    def wait_until_paused(self, timeout: float | None = None) -> RunStatusReport:
        """Block until the run is paused (parked) or has ended."""
        return self.wait_for(lambda s: s.status is Status.PAUSED or s.status.is_terminal,
                             timeout, every_change=False)


def _alive(run: Run) -> bool:
    return run._thread is not None and run._thread.is_alive()
