"""The server's side of the run worker: a robot that lives in a process the server
supervises, and the runs it serves from there.

``labrun serve`` drives the robot through a ``SupervisedRobot``. The run worker
(``runner``) opens the robot and runs every queued protocol; the server keeps only what
it is told: the robot's kind and interlocks, and for the running item its latest status
report (``SupervisedRun``); the run's record is the file the worker writes, which the
server reads when asked, and keeps no copy of. A pipe reader thread hands each message to
the server's event loop in order.

When the worker dies (``os._exit`` or a crash in a protocol, memory, a killed process)
the run it was running fails with the reason, as its summary and the history say, and a
new worker is started at once: it opens the robot again, which must then be homed before
the next run (``home_if_needed``). A worker whose protocol thread does not end when its
run is closed (an endless loop that makes no call) is replaced the same way.

The status of a supervised run is the worker's last report: what the status shows
(status, pause, parking, interlocks, outcome) arrives as it changes; the step and the
position at most every ``watch.PROGRESS_INTERVAL``; a delay's remaining time is counted
down here between reports.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import anyio

from engine.actions import Action
from engine.bridge import LoopCaller, LoopClosedError
from engine.entries import ActionResult
from engine.record import Event, iter_record, read_record
from engine.state import Status
from hardware.controller import HardwareFault

from . import runner
from .history_file import append_closing, closing_events, end_whole
from .items import QueueItem
from .modules import Reading
from .robots import HALTED_BEFORE_HOMING, RobotUnavailable
from .runner import (
    ENGINE_ANSWER_TIMEOUT,
    MAX_MESSAGE,
    PIPE_LOST_EXIT,
    Link,
    RobotSpec,
    TooLong,
    action_to_json,
)
from .served import ActiveRun, RunHooks, StartSoon
from .worker import LOAD_GRACE_S, ProcessHandle, describe_exit, process_context

START_TIMEOUT = 60.0
"""Longest the run worker may take to open the robot (a board answers in seconds)."""
QUIT_TIMEOUT = 5.0
"""Longest the run worker is given to close the robot when the server stops."""
ACTION_ANSWER_TIMEOUT = ENGINE_ANSWER_TIMEOUT + 5.0
"""Longest the server waits for the run worker to answer an action (its engine answers
in microseconds): a worker that does not is stopped (its process stopped, code in C holding
it up), or no action could ever end its run."""
CLOSE_TIMEOUT = 30.0
"""How much longer than the grace it gives a protocol the server waits for the run worker
to close a run (it aborts a run still going first, with its cleanup); one that does not
answer is stopped."""
HOME_TIMEOUT = 600.0
"""Longest the server waits for the run worker to home the robot between runs (a homing
cycle takes a minute at most): one that does not answer is stopped, not waited for for
ever with the queue said executing."""
MAKE_RUN_S = 10.0
"""How much longer than its protocol's top level may load the server waits for the run
worker to make a run (it does in milliseconds), when no word came of a stuck top level
(code that holds up the whole worker, a loop in C)."""
PIPE_CLOSED = "pipe closed"
"""The reader's word that the worker's pipe closed while it went on (said in full, naming
the run's protocol, at its end)."""


class WorkerGone(Exception):
    """The run worker died (or never started) before it answered; the message says why."""


class WorkerSilent(WorkerGone):
    """The run worker did not answer in time."""


class _Pending:
    """A request waiting for the worker's answer."""

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.value: Any = None
        self.error: Exception | None = None


class SupervisedRobot:
    """The robot, owned by the run worker process; what the run manager drives."""

    def __init__(self, spec: RobotSpec, *, start_timeout: float = START_TIMEOUT) -> None:
        self.spec = spec
        self.config = spec.config
        self.simulating = spec.emulate is None and spec.config.controller.kind == "simulated"
        self.emulated = spec.emulate is not None
        self.kind = "unknown"
        self.speed = spec.speed
        self.start_timeout = start_timeout
        self._interlocks: tuple[str, ...] = ()
        self.warnings: tuple[str, ...] = ()
        """The driver's warnings at connection (``"warning: ..."``: a Marlin without its
        emergency parser), as the worker that has the robot now found them."""
        self._on_warning: Callable[[str], None] | None = None
        self._process: BaseProcess | None = None
        self._handle: ProcessHandle | None = None
        self._link: Link | None = None
        self._generation = 0
        self._caller: LoopCaller | None = None
        self._start_soon: StartSoon | None = None
        self._requests: dict[int, _Pending] = {}
        self._next_request = 0
        self._run: SupervisedRun | None = None
        self._early: list[list[Any]] = []
        """A starting run's messages that came before the answer to ``start`` was read."""
        self._on_interlocks: Callable[[], None] | None = None
        self._restarting: anyio.Event | None = None
        self._awaiting_worker = False  # home_if_needed, before the worker is asked to home
        self._halt_asked = False  # halt_homing meanwhile
        self._unavailable: str | None = None
        self._stopped_for: str | None = None
        """Why the server stopped the worker, said as its end's reason."""
        self._lock = threading.Lock()
        self._closed = False

    @classmethod
    def start(cls, spec: RobotSpec, **options: Any) -> SupervisedRobot:
        """Start the run worker and wait until it has opened the robot;
        ``RobotUnavailable`` (with the worker's reason) if it could not."""
        robot = cls(spec, **options)
        robot._launch()
        return robot

    @property
    def pid(self) -> int | None:
        """The run worker's process id (None while it is being restarted)."""
        process = self._process
        return process.pid if process is not None and self._link is not None else None

    # -- the server's loop ----------------------------------------------------------------

    def serve_in(self, server: LoopCaller, start_soon: StartSoon) -> None:
        """Hand the worker's messages to the event loop of ``server`` from now on."""
        self._caller, self._start_soon = server, start_soon
        self._read_in_thread()

    def describe(self) -> dict[str, Any]:
        """Name, kind, speed (how much faster than real time its clock runs) and the
        driver's warnings at connection, for the status."""
        return {"name": self.config.name, "kind": self.kind, "speed": self.speed,
                "warnings": list(self.warnings)}

    def interlocks(self) -> tuple[str, ...]:
        """The robot's active interlocks, as the worker last reported them."""
        run = self._run
        if run is not None and not run.status.is_terminal:
            return tuple(run.report()["interlocks"])
        return self._interlocks

    def listen_interlocks(self, callback: Callable[[], None] | None) -> None:
        """Call ``callback`` (no arguments) when the worker reports an interlock change."""
        self._on_interlocks = callback

    def listen_warnings(self, callback: Callable[[str], None] | None) -> None:
        """Call ``callback`` with each warning of the driver (``"warning: ..."``) said
        from now on: mid-run (a damaged status report), and at each new connection."""
        self._on_warning = callback

    async def home_if_needed(self) -> None:
        """Home the robot if it must be (just connected, halted); ``HardwareFault`` if not,
        or if ``halt_homing`` came while the worker was being started again (the new one
        does not home it)."""
        self._awaiting_worker, self._halt_asked = True, False
        try:
            await self._worker_ready()
        finally:
            self._awaiting_worker = False
        if self._halt_asked:
            raise HardwareFault(HALTED_BEFORE_HOMING)
        try:
            reason = await self._ask("home", timeout=HOME_TIMEOUT)
        except WorkerSilent:
            why = (f"the run worker did not answer home within {HOME_TIMEOUT:g} s (its "
                   "process was stopped, or something holds it up); the server stopped it")
            self._kill_worker(why)
            raise HardwareFault(why) from None
        except WorkerGone as exc:
            raise HardwareFault(str(exc)) from None
        if reason is not None:
            raise HardwareFault(reason)

    async def halt_homing(self) -> str | None:
        """An emergency stop of the worker's homing cycle, if one is going on (between two
        runs): None if none was, else why the robot may still be moving (empty: the stop
        was confirmed), as ``Robot.halt_homing``."""
        if self._awaiting_worker:  # a new worker is started for the homing: it does not home
            self._halt_asked = True
            return None
        if self._link is None or self._restarting is not None:
            return None  # no worker has the robot: nothing homes it
        try:
            said: str | None = await self._request("halt_home", timeout=ENGINE_ANSWER_TIMEOUT)
        except (WorkerGone, RuntimeError):
            return None
        return said

    async def set_interlock(self, name: str, active: bool,
                            run: ActiveRun | None) -> str | None:
        """Set a simulated interlock (or the emulator's door) in the worker; the reason
        if it cannot be."""
        try:
            reason: str | None = await self._request("interlock", name, active)
        except WorkerGone as exc:
            return str(exc)
        return reason

    async def start_run(self, item: QueueItem, *, record_path: Path | None,
                        labware_dirs: list[str], started_at: float,
                        hooks: RunHooks) -> ActiveRun:
        """Make ``item``'s run in the worker, served through ``hooks``; not yet played."""
        # Paths as the server means them: the worker's current folder is not the server's
        # (a protocol may have changed it, os.chdir)
        params = {"path": os.path.abspath(item.path), "name": item.name,
                  "uid": item.item_uid,
                  "labware_dirs": [os.path.abspath(path) for path in labware_dirs],
                  "record_path": os.path.abspath(record_path) if record_path is not None
                  else None}
        self._early = []
        limit = self.spec.load_timeout
        try:
            started = await self._request("start", params,
                                          timeout=limit + LOAD_GRACE_S + MAKE_RUN_S)
        except WorkerSilent:  # its own watchdog could not even say where it was stuck
            why = (f"{item.name}: the protocol's top level ran for more than {limit:g} s "
                   "without finishing and seems stuck (in code that holds up its whole "
                   "process, a loop in C?); its run worker was stopped")
            self._kill_worker(why)
            raise RuntimeError(why) from None
        except WorkerGone as exc:
            raise RuntimeError(str(exc)) from None
        run = SupervisedRun(self, item, started["report"], hooks, started_at,
                            record=started["record"], record_path=record_path)
        self._run = run
        early, self._early = self._early, []
        for message in early:
            self._on_message(self._generation, message)
        return run

    def close(self) -> None:
        """Tell the worker to close the robot and end; killed if it does not in time."""
        with self._lock:
            self._closed = True
            process, link = self._process, self._link
        if process is None:
            return
        handle = self._handle or ProcessHandle(process)
        if link is not None:
            link.send("quit")
        if not handle.wait(QUIT_TIMEOUT):
            handle.kill()
            handle.wait(None)
        process.join(QUIT_TIMEOUT)  # (at once: it has ended, its forkserver says so)
        handle.close()
        if link is not None:
            link.connection.close()

    # -- requests -------------------------------------------------------------------------

    async def _request(self, kind: str, *args: Any, timeout: float | None = 30.0) -> Any:
        """Ask the worker and await its answer; ``WorkerGone`` if it dies first."""
        await self._worker_ready()
        return await self._ask(kind, *args, timeout=timeout)

    async def _worker_ready(self) -> None:
        """Wait for a worker being started again; start one if the last could not be."""
        if self._restarting is not None:
            await self._restarting.wait()
        if self._link is None and not self._closed and self._start_soon is not None:
            await self._restart()  # the robot could not be opened last time: try again

    async def _ask(self, kind: str, *args: Any, timeout: float | None) -> Any:
        """``_request`` of the worker there is now, if any (``WorkerGone`` if none)."""
        link = self._link
        if link is None:
            raise WorkerGone(self._unavailable or "the run worker is not running")
        self._next_request += 1
        request = self._next_request
        pending = self._requests[request] = _Pending()
        try:
            link.send(kind, request, *args)
            if timeout is None:
                await pending.event.wait()
            else:
                with anyio.fail_after(timeout):
                    await pending.event.wait()
        except TimeoutError:
            raise WorkerSilent(f"the run worker did not answer {kind!r} within "
                               f"{timeout:g} s") from None
        finally:
            self._requests.pop(request, None)
        if pending.error is not None:
            raise pending.error
        return pending.value

    async def close_run(self, run: SupervisedRun, grace: float | None) -> None:
        """Close ``run`` in the worker; a worker whose protocol thread goes on is replaced."""
        if self._run is run:
            self._run = None
        try:
            closed = await self._request("close", grace,
                                         timeout=(grace or 2.0) + CLOSE_TIMEOUT)
        except WorkerSilent:  # (what a run still going needs: its end is said for it)
            self._kill_worker(f"the run worker did not answer close within "
                              f"{(grace or 2.0) + CLOSE_TIMEOUT:g} s (its process was "
                              "stopped, or something holds it up); the server stopped it")
            return
        except WorkerGone:
            return  # it died: a new one is being started
        left = closed.get("threads_left") or []
        if left and self._on_warning is not None:  # (they would run into the next run)
            self._on_warning(f"warning: the protocol left {len(left)} thread(s) of its own "
                             f"running ({', '.join(map(str, left[:3]))}); its run worker "
                             "is replaced, the robot homed before the next run")
        if not closed.get("protocol_ended", True) or left:
            self._kill_worker()  # its protocol thread, or one it started, went on

    # -- the worker's life ------------------------------------------------------------------

    def _launch(self) -> None:
        """Start a worker and wait for its robot (blocking); ``RobotUnavailable``."""
        context = process_context()
        mine, theirs = context.Pipe(duplex=True)
        process = context.Process(target=runner.serve, args=(theirs, self.spec),
                                  daemon=True, name="labrun-run-worker")
        try:
            process.start()
        except BaseException:  # no process to be had: its pipe goes too
            mine.close()
            raise
        finally:
            theirs.close()
        link = Link(mine)
        try:
            message = link.receive(self.start_timeout)
        except EOFError:
            process.join(QUIT_TIMEOUT)
            raise RobotUnavailable(f"the run worker ended while opening the robot "
                                   f"({describe_exit(process.exitcode)})") from None
        except BaseException:  # Ctrl-C while it opens the robot: it is told (its pipe
            mine.close()  # closes) and ends; it ignores the signals that would end it
            process.join(QUIT_TIMEOUT)
            if process.is_alive():
                process.kill()
                process.join()
            raise
        if message is None or message[0] != "ready" or len(message) != 2 \
                or not isinstance(message[1], dict):
            process.kill()
            process.join()
            if message is not None and message[0] == "unavailable":
                raise RobotUnavailable(str(message[1]))
            raise RobotUnavailable(f"the robot was not ready within "
                                   f"{self.start_timeout:g} s")
        info = message[1]
        self.kind = str(info.get("kind", "unknown"))
        self.speed = float(info.get("speed", self.spec.speed))
        self._interlocks = tuple(info.get("interlocks", ()))
        self.warnings = tuple(str(text) for text in info.get("warnings", ()))
        with self._lock:
            self._generation += 1
            if self._handle is not None:  # the last worker's: it has ended
                self._handle.close()
            self._process, self._link, self._handle = process, link, ProcessHandle(process)
        self._unavailable = None

    def _read_in_thread(self) -> None:
        process, link, generation = self._process, self._link, self._generation
        handle = self._handle
        if process is None or link is None or handle is None:
            return
        gone = None if handle.fd is None else os.dup(handle.fd)  # closed by the reader
        threading.Thread(target=self._read, args=(process, link, generation, gone, handle),
                         name="labrun-run-worker-reader", daemon=True).start()

    def _read(self, process: BaseProcess, link: Link, generation: int,
              gone: int | None, handle: ProcessHandle) -> None:
        """The reader thread: every message to the server's loop, then the worker's end:
        its pipe's, or its process's (``gone``, readable once it has ended: a process it
        forked may hold its end of the pipe), once what it sent before is read. A worker
        that can no longer be read (it sent what no worker sends, or closed its pipe)
        and goes on is stopped: it would go on with its run, watched by no one."""
        ended = False
        broken: str | None = None
        try:
            while True:
                try:
                    if not ended and gone is not None:
                        ended = gone in wait([link.connection, gone])
                    message = link.receive(0.0 if ended else None)
                except TooLong:
                    broken = (f"the run worker sent the server a message longer than "
                              f"{MAX_MESSAGE >> 20} MiB (a comment that long?): the server "
                              "stopped it")
                    break
                except (EOFError, OSError, ValueError):  # (closed: the server is stopping)
                    break
                if message is None:  # it ended, and all it sent is read
                    break
                if not self._deliver(partial(self._on_message, generation, message)):
                    return
        finally:
            if gone is not None:
                os.close(gone)
        if broken is not None or (not self._closed and not handle.wait(1.0)):
            broken = broken or PIPE_CLOSED
            handle.kill()
        process.join(QUIT_TIMEOUT)
        if process.exitcode == PIPE_LOST_EXIT and not self._closed:
            broken = broken or PIPE_CLOSED  # it found its pipe closed under it, and ended
        self._deliver(partial(self._on_end, generation, describe_exit(process.exitcode),
                              broken))

    def _deliver(self, callback: Callable[[], object]) -> bool:
        caller = self._caller
        if caller is None:
            return False
        try:
            caller.call_soon(callback)
        except LoopClosedError:
            return False
        return True

    def _on_message(self, generation: int, message: list[Any]) -> None:
        if generation != self._generation:
            return
        kind, args = message[0], message[1:]
        run = self._run
        if kind in ("answer", "error") and len(args) == 2:
            pending = self._requests.get(args[0])
            if pending is not None and not pending.event.is_set():
                if kind == "answer":
                    pending.value = args[1]
                else:
                    pending.error = RuntimeError(str(args[1]))
                pending.event.set()
        elif kind in ("status", "events", "modules") and run is None:
            self._early.append(message)  # the run's start is being answered
        elif kind == "status" and args and isinstance(args[0], dict) and run is not None:
            run.on_report(args[0])
        elif kind == "events" and args and isinstance(args[0], list) and run is not None:
            run.on_events(args[0])
        elif kind == "modules" and args and isinstance(args[0], list) and run is not None:
            run.on_modules(args[0])
        elif kind == "warning" and args and self._on_warning is not None:
            self._on_warning(str(args[0]))
        elif kind == "stuck" and args:  # a protocol's top level, as its run was made
            self._kill_worker(str(args[0]))
        elif kind == "interlocks" and args and isinstance(args[0], list):
            self._interlocks = tuple(str(name) for name in args[0])
            if self._on_interlocks is not None:
                self._on_interlocks()

    def _on_end(self, generation: int, how: str, broken: str | None = None) -> None:
        """The worker of ``generation`` has ended (``broken``: stopped, for that reason):
        fail what waited on it, start another."""
        if generation != self._generation:
            return
        with self._lock:
            self._link = None
            closed = self._closed
        run = self._run
        if broken == PIPE_CLOSED:  # a protocol's doing: named, as the run's (or none)
            broken = (f"{run.item.name}: the run worker's pipe to the server was closed "
                      "while the run went on (the protocol closed files it did not "
                      "open?): the run worker was stopped" if run is not None else
                      "the run worker's pipe to the server was closed between runs (a "
                      "thread a protocol left closing files it did not open?): the run "
                      "worker was stopped")
        reason = self._stopped_for or broken or (
            f"the run worker process ended ({how}): os._exit, a crash or too much memory "
            "in the protocol, or the process was killed; the server goes on")
        self._stopped_for = None
        for pending in self._requests.values():
            pending.error = WorkerGone(reason)
            pending.event.set()
        if run is not None:
            run.on_worker_end(reason)
        if closed or self._start_soon is None:
            if self._restarting is not None:  # none comes
                self._restarting.set()
                self._restarting = None
            return
        self._restarting = self._restarting or anyio.Event()  # (what waits on it since
        self._start_soon(self._restart)  # the server stopped it waits on)

    async def _restart(self) -> None:
        restarting = self._restarting = self._restarting or anyio.Event()
        try:
            await anyio.to_thread.run_sync(self._launch)
            self._read_in_thread()
            on_warning = self._on_warning
            if on_warning is not None:
                for warning in self.warnings:  # the new connection's
                    on_warning(warning)
        except RobotUnavailable as exc:
            self._unavailable = f"the robot could not be opened again: {exc}"
        except Exception as exc:  # no process to be had (fork's EAGAIN): tried again at
            # the next request; it ended the server's task group, the server unusable
            self._unavailable = (f"the run worker could not be started again: "
                                 f"{type(exc).__name__}: {exc}")
        finally:
            self._restarting = None
            if restarting is not None:
                restarting.set()
            if self._on_interlocks is not None:
                self._on_interlocks()

    def _kill_worker(self, why: str | None = None) -> None:
        """Kill the worker; its end starts a new one, and fails what waits on it for
        ``why`` (else for its end). What asks it meanwhile waits for the new one."""
        handle = self._handle
        if handle is not None and self._link is not None:  # its end not yet seen
            self._stopped_for = why
            self._restarting = self._restarting or anyio.Event()
            handle.kill()
            if why is not None:  # said now: an answer it sent meanwhile is no longer read
                for pending in self._requests.values():
                    if not pending.event.is_set():
                        pending.error = WorkerGone(why)
                        pending.event.set()


def _signature(report: dict[str, Any]) -> tuple[Any, ...]:
    delay = report.get("delay")
    return (report.get("status"), report.get("pause_pending"), report.get("pause_source"),
            report.get("parked"), report.get("unparking"), tuple(report.get("interlocks", ())),
            delay is None, bool(delay and delay.get("skipped")),
            report.get("pause_unresolved"), repr(report.get("outcome")))


class SupervisedRun:
    """The run going in the worker, as the server sees it: its last report, and its record
    (in its file, which the worker writes; in memory only for a run without one)."""

    def __init__(self, robot: SupervisedRobot, item: QueueItem, report: dict[str, Any],
                 hooks: RunHooks, started_at: float, *, record: list[Event],
                 record_path: Path | None = None) -> None:
        self.item = item
        self.owned = True
        self.started_at = started_at
        self.done = False
        self.changed_at = time.time()
        self._robot = robot
        self._hooks = hooks
        self._report = report
        self._received = time.monotonic()
        self._signature = _signature(report)
        self._events: list[Event] | None = list(record) if record_path is None else None
        self._last: Event | None = record[-1] if record else None
        self._finishing = False
        self._record_path = record_path

    @property
    def status(self) -> Status:
        """The run's status as the worker last reported it."""
        return Status(self._report["status"])

    def want_records(self) -> None:
        """Nothing to do: the worker hands over every event."""

    def report(self) -> dict[str, Any]:
        """The run's last status report, its delay counted down since (paused too: time
        keeps running in a pause), its outcome naming the item's files as uploaded."""
        data = dict(self._report)
        delay = data.get("delay")
        if delay is not None and not delay.get("skipped"):
            elapsed = (time.monotonic() - self._received) * self._robot.speed
            data["delay"] = {**delay, "remaining_s": round(
                max(0.0, float(delay["remaining_s"]) - elapsed), 6)}
        if data.get("outcome") is not None:
            data["outcome"] = self.item.as_uploaded_event(data["outcome"])
        return data

    def record(self) -> list[Event]:
        """The run's record so far, naming the item's files as uploaded (read from its
        file, when it has one)."""
        return [self.item.as_uploaded_event(e) for e in self._all_events()]

    def _all_events(self) -> list[Event]:
        if self._events is not None:
            return self._events
        assert self._record_path is not None
        try:
            return read_record(self._record_path)
        except (OSError, ValueError):
            return []

    async def apply(self, action: Action) -> ActionResult:
        """Carry out ``action`` in the worker's engine; its result."""
        try:
            answer = await self._robot._request("apply", action_to_json(action),
                                                timeout=ACTION_ANSWER_TIMEOUT)
        except WorkerSilent:
            why = (f"the run worker did not answer {action.name} within "
                   f"{ACTION_ANSWER_TIMEOUT:g} s (its process was stopped, or code of the "
                   "protocol holds it up); the server stopped it")
            self._robot._kill_worker(why)  # its end fails the run, for that reason
            return ActionResult(False, self.status, why)
        except (WorkerGone, RuntimeError) as exc:
            return ActionResult(False, self.status, f"the run cannot be reached: {exc}")
        return ActionResult(bool(answer["accepted"]), Status(answer["status"]),
                            answer.get("reason"))

    async def close(self, *, grace: float | None = None) -> None:
        """Close the run in the worker (aborted if it still goes)."""
        await self._robot.close_run(self, grace)

    # -- from the worker (the server's loop) ---------------------------------------------

    def on_report(self, report: dict[str, Any]) -> None:
        """A new status report."""
        self._report, self._received = report, time.monotonic()
        signature = _signature(report)
        if signature != self._signature:
            self._signature = signature
            self.changed_at = time.time()
        self._hooks.on_status()

    def on_events(self, events: list[Event]) -> None:
        """Record events, in order; the summary ends the run."""
        if self._events is not None:
            self._events.extend(events)
        if events:
            self._last = events[-1]
        self._hooks.on_events(self, events)
        summary = next((e for e in events if e.get("event") == "summary"), None)
        if summary is not None and not self._finishing:
            self._finishing = True
            on_summary = self._hooks.on_summary

            async def finish() -> None:
                await on_summary(self, summary)

            self._hooks.start_soon(finish)

    def on_modules(self, readings: list[Reading]) -> None:
        """The run's modules as the worker read them."""
        if self._hooks.on_modules is not None:
            self._hooks.on_modules(self, readings)

    def on_worker_end(self, reason: str) -> None:
        """The worker died: unless the run had ended, it failed, for ``reason``."""
        if self._finishing:
            return
        if self._record_path is not None:
            # The worker writes each event before the protocol goes on, but hands events
            # over in batches: what it wrote and had not sent yet is taken from the file.
            with contextlib.suppress(OSError):
                end_whole(self._record_path)
            sent = self._last["seq"] if self._last else -1
            with contextlib.suppress(OSError, ValueError):
                unsent = [e for e in iter_record(self._record_path) if e["seq"] > sent]
                if unsent:
                    self.on_events(unsent)
            if self._finishing:  # the run had ended: its summary was among them
                return
        # As every ended record: the command it was in, its status, then its summary (a
        # restarted server ends a record both left without an end the same way).
        closing = closing_events(self._all_events(),
                                 {"status": Status.FAILED.value, "error": reason})
        if self._record_path is not None:
            with contextlib.suppress(OSError):
                append_closing(self._record_path, closing)
        outcome = {"status": Status.FAILED.value, "reason": None, "error": reason,
                   "location": None}
        self.on_report({**self._report, "status": Status.FAILED.value,
                        "pause_pending": False, "parked": False, "unparking": False,
                        "delay": None, "outcome": outcome})
        self.on_events(closing)
