"""The run worker: the process that owns the robot and runs the queue's protocols.

``labrun serve`` never runs protocol code itself. It starts one run worker (``serve``
below, in a process of its own) that opens the robot (the simulated one, labrun's
emulator, or the G-code board), keeps it for as long as it lives, and runs each item the
server starts there: the engine, the protocol thread and the robot connection all live
in this process. The server (``supervisor``) only sends it requests and reads what it
reports; if the worker dies (``os._exit``, a crash, memory), the server fails the run with
the reason and starts a new worker for the next one.

Messages are JSON both ways, one list per message: ``[kind, ...]``.

- To the server: ``["ready", {kind, speed, interlocks, warnings}]`` once the robot is
  open (or ``["unavailable", reason]``), ``warnings`` the driver's at connection (a
  Marlin without its emergency parser), each ``"warning: ..."``; ``["warning", text]``
  for each the driver gives later (a damaged status report); ``["answer", id, value]``
  and ``["error", id, reason]`` for requests; ``["status", report]`` when what the run's
  status shows changes (progress only at most ten times a second), and before the answer
  to an accepted action;
  ``["events", [event, ...]]``, the run's record as it is written, in batches;
  ``["modules", [reading, ...]]``, the run's modules as read every
  ``modules.MODULE_INTERVAL`` while it has any, when they changed;
  ``["interlocks", [name, ...]]`` between runs; ``["stuck", reason]`` when the protocol's
  top level, loaded to start a run, has run for ``RobotSpec.load_timeout`` (the reason
  names its line): it cannot be stopped, so the server replaces this worker.
- From the server: ``["home", id]``, ``["halt_home", id]`` (an emergency stop of that
  homing), ``["interlock", id, name, active]``, ``["start", id, {path, record_path,
  labware_dirs}]``, ``["apply", id, action]`` (carried out from the pipe's thread, straight
  into the run's engine loop), ``["close", id, grace]`` and ``["quit"]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from attrs import frozen

from engine.actions import BY_NAME, Abort, Action, Pause, Stop
from engine.bridge import LoopCaller, LoopClosedError
from engine.entries import ActionResult
from engine.record import Event
from engine.run import Run
from engine.status import report
from hardware.config import RobotConfig
from hardware.controller import HardwareFault
from labrun.cli.driver_warnings import driver_warnings
from labrun.cli.robot_lock import ROBOT_LOCK_WAIT_S, RobotInUse, hold_robot
from protocol_api.errors import ProtocolError
from protocol_api.execute import create_run
from protocol_api.loader import ProtocolSource, load_protocol

from .items import describe_load_error
from .modules import follow_modules
from .robots import Robot, hardware_robot, set_interlock, simulated_robot
from .watch import PROGRESS_INTERVAL, RunWatch
from .worker import LOAD_TIMEOUT

MAX_MESSAGE = 64 << 20
"""Longest message either side accepts, in bytes (a batch of record events)."""
ENGINE_ANSWER_TIMEOUT = 10.0
"""Longest wait for the run's engine to answer an action (it answers in microseconds)."""

SERVING = False
"""True in a run worker once it serves (so code can tell it runs in one)."""


@frozen
class RobotSpec:
    """How the run worker opens the robot."""

    config: RobotConfig
    emulate: str | None = None
    """The dialect of labrun's emulator to start in the worker and drive over a socket."""
    speed: float = 1.0
    """How much faster than real time a simulated or emulated robot moves."""
    virtual: bool = False
    """A simulated robot on the virtual clock (benchmarks)."""
    memory_limit: int | None = 2 << 30
    """The worker's address space, in bytes."""
    lock: str | None = None
    """A file the worker holds locked for as long as it has the robot open
    (``labrun.cli.robot_lock``): no other labrun drives the robot meanwhile, and a worker
    of a server killed alone, still closing the robot, keeps the next one from opening it
    too."""

    server_pid: int | None = None
    """The server's process, named in the lock as the one to stop (its worker ignores
    the signals that would end it)."""
    load_timeout: float = LOAD_TIMEOUT
    """Longest a protocol's top level may take to load when its run starts, as in its
    check (a top level may block only here: a lock its last run kept)."""

    def described(self) -> str:
        """The robot, as a message names it."""
        controller = self.config.controller
        if self.emulate is None and controller.kind != "simulated" and controller.port:
            return f"the robot at {controller.port}"
        return "the robot"

    def open(self) -> Robot:
        """The robot, connected; ``RobotUnavailable`` if it cannot be."""
        if self.emulate is None and self.config.controller.kind == "simulated":
            return simulated_robot(self.config, speed=self.speed, virtual=self.virtual)
        return hardware_robot(self.config, emulate=self.emulate, speed=self.speed)


def action_to_json(action: Action) -> dict[str, Any]:
    """An action as the server sends it."""
    data: dict[str, Any] = {"name": action.name, "source": action.source}
    match action:
        case Pause():
            data.update(option=action.option, message=action.message)
        case Abort() | Stop():
            data.update(reason=action.reason)
    return data


def action_from_json(data: dict[str, Any]) -> Action:
    """The action the server sent."""
    fields = {k: v for k, v in data.items() if k != "name"}
    return BY_NAME[data["name"]](**fields)


class TooLong(EOFError):
    """The other end sent a message longer than ``MAX_MESSAGE``: the pipe is of no more
    use."""


PIPE_CHECK_S = 0.2
"""How often the run worker's pipe thread looks whether its pipe is still its own (a
protocol may close the worker's files): it never blocks reading it for longer."""
PIPE_LOST_EXIT = 86
"""The run worker's exit code when its pipe was closed under it (by its protocol): it can
no longer tell the server anything, nor be told, so it ends, and the server says why."""


def _identity(fd: int) -> tuple[int, int] | None:
    """What file ``fd`` is now (None if it is closed)."""
    try:
        stat = os.fstat(fd)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


class Link:
    """One end of the worker's pipe: JSON messages, sent whole from any thread."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._lock = threading.Lock()
        self._identity = _identity(connection.fileno())

    def lost(self) -> bool:
        """Whether the pipe's file descriptor was closed, or is now another file's (code
        of the protocol closed it, and it may have opened a file that took its number)."""
        try:
            fd = self.connection.fileno()
        except OSError:  # (closed through the connection itself)
            return True
        return _identity(fd) != self._identity

    def send(self, *message: Any) -> None:
        """Send ``message``; quietly nothing if the other end has gone, or the pipe was
        closed under it (never into a file that took its number)."""
        data = json.dumps(message, default=repr).encode()
        try:
            with self._lock:
                if not self.lost():
                    self.connection.send_bytes(data)
        except (OSError, ValueError):
            pass

    def receive(self, timeout: float | None = None) -> list[Any] | None:
        """The next message (None after ``timeout``); ``EOFError`` once the other end has
        gone or sent what is not a message."""
        if timeout is not None and not self.connection.poll(timeout):
            return None
        try:
            message = json.loads(self.connection.recv_bytes(MAX_MESSAGE))
        except OSError as exc:
            if exc.args == ("bad message length",):  # (what multiprocessing says)
                raise TooLong(f"a message longer than {MAX_MESSAGE >> 20} MiB") from None
            raise EOFError("the pipe broke") from None
        except ValueError:
            raise EOFError("the pipe broke") from None
        if not (isinstance(message, list) and message and isinstance(message[0], str)):
            raise EOFError(f"not a message: {str(message)[:80]}")
        return message


def serve(connection: Connection, spec: RobotSpec) -> None:
    """The run worker's life: open the robot, serve the server's requests, close it."""
    global SERVING
    SERVING = True
    # Ctrl-C in the server's terminal, and a SIGTERM sent to the process group (a service
    # manager, `timeout`), reach us too: the server decides (it aborts the run with its
    # cleanup, then tells us to quit; if it dies, its pipe closes and we quit), not the
    # signal, which killed the run without its cleanup and had it blamed on the protocol.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):  # the terminal closed: the server ends as on SIGTERM
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    _forks_die_with_their_parent()
    if spec.memory_limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (spec.memory_limit, spec.memory_limit))
    link = Link(connection)
    # The driver's warnings go to the server (its terminal, the status, the page), not to
    # the worker's stderr as Python's logging left them: those at connection with
    # "ready", the later ones as they come
    with driver_warnings() as said:
        at_connection: list[str] = []
        said.above = at_connection.append
        try:
            held = hold_robot(  # noqa: F841 - held (the lock) until the process ends
                spec.lock, "labrun serve, whose run worker drives it", pid=spec.server_pid,
                wait_s=ROBOT_LOCK_WAIT_S, robot=spec.described(),
                sleep=partial(_wait_unless_told, connection))
            robot = spec.open()
        except Exception as exc:  # RobotUnavailable, a configuration the machine refuses
            link.send("unavailable", str(exc))
            return
        said.above = partial(link.send, "warning")
        try:
            anyio.run(RunWorker(link, robot, spec, warnings=at_connection).main)
        except BaseException:
            if link.lost():  # a protocol closed this worker's files, its loop's among them
                with contextlib.suppress(Exception):
                    robot.close()
                os._exit(PIPE_LOST_EXIT)  # (said by the server, naming it)
            raise
        finally:
            robot.close()


def _line_of(thread: threading.Thread, name: str) -> str:
    """The ``file:line`` of the protocol file ``name`` where ``thread`` is now (the
    innermost, it may call itself); ``name`` alone if it is not in it."""
    frame = sys._current_frames().get(thread.ident or 0)
    while frame is not None:
        if frame.f_code.co_filename == name:
            return f"{name}:{frame.f_lineno}"
        frame = frame.f_back
    return name


def _forks_die_with_their_parent() -> None:
    """Have every process a protocol forks here (``os.fork``) killed when the thread that
    forked it ends (its run's protocol thread; this worker's death): it is a copy of the
    worker, holding its pipe to the server and its lock of the robot, which it kept from
    the server and the next worker for as long as it lived. Linux's; elsewhere nothing."""
    try:
        import ctypes

        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return
    forking: list[int] = []

    def before() -> None:
        forking[:] = [os.getpid()]

    def in_child() -> None:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if forking and os.getppid() != forking[0]:  # its parent ended as it was forked
            os._exit(1)

    os.register_at_fork(before=before, after_in_child=in_child)


PR_SET_PDEATHSIG = 1
"""Linux's prctl option: the signal a process gets when the thread that made it ends."""


def _wait_unless_told(connection: Connection, seconds: float) -> None:
    """Sleep ``seconds`` while the worker waits for the robot, unless the server speaks or
    goes away (Ctrl-C in its terminal) meanwhile: then it waits no longer."""
    if connection.poll(seconds):
        raise RobotInUse("the server stopped while waiting for the robot")


class RunWorker:
    """Serves the server's requests with the robot: one run at a time."""

    def __init__(self, link: Link, robot: Robot, spec: RobotSpec, *,
                 warnings: list[str] | None = None) -> None:
        self.link = link
        self.robot = robot
        self.spec = spec
        self.warnings = warnings or []
        """The driver's warnings at connection, each ``"warning: ..."``."""
        self.run: Run | None = None
        self.watch: RunWatch | None = None
        self._threads: set[threading.Thread] = set()
        """The threads there were before the run's protocol was loaded."""
        self._folder = os.getcwd()
        """The current folder each run starts in (a protocol may change it)."""
        self._path = list(sys.path)
        """Where each run's protocol imports from (it may add to it)."""
        self._modules: set[str] = set()
        """The modules there were before the run's protocol was loaded."""
        self._caller: LoopCaller | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._quit = anyio.Event()

    async def main(self) -> None:
        """Serve until the server says quit or goes away."""
        self._caller = LoopCaller()
        async with anyio.create_task_group() as tg:
            self._tg = tg
            self._listen_interlocks()
            self.link.send("ready", {"kind": self.robot.kind, "speed": self.robot.speed,
                                     "interlocks": list(self.robot.interlocks()),
                                     "warnings": self.warnings})
            threading.Thread(target=self._read, name="labrun-run-worker-pipe",
                             daemon=True).start()
            await self._quit.wait()
            with anyio.CancelScope(shield=True):
                run = self.run  # the server stopped (or died) with the run going: said so
                if run is not None and not run.control.status().status.is_terminal:
                    await anyio.to_thread.run_sync(
                        lambda: run.control.abort("the server stopped"))
                await self._close_run(grace=0.5)
            tg.cancel_scope.cancel()
        self._caller.close()

    # -- the pipe (its own thread) ------------------------------------------------------

    def _read(self) -> None:
        """The pipe's thread. It never blocks reading the pipe: a protocol that closes the
        worker's files (``os.close`` of each up to 199, as code that daemonizes does) closed
        its descriptor, but a read blocked in it kept the pipe open, so the server saw no
        end of it and the run said executing for ever. It looks every ``PIPE_CHECK_S``
        whether the pipe is still its own instead, and ends this worker when it is not
        (``PIPE_LOST_EXIT``): nothing could reach the run or tell of it any more."""
        assert self._caller is not None
        while True:
            try:
                ready = self.link.connection.poll(PIPE_CHECK_S)
            except (OSError, ValueError):
                ready = True  # (receive says why)
            if self.link.lost():
                os._exit(PIPE_LOST_EXIT)
            if not ready:
                continue
            try:
                message = self.link.receive()
            except EOFError:
                message = ["quit"]
            assert message is not None
            if message[0] == "apply" and len(message) == 3:
                self.apply_now(message[1], message[2])  # no hop through our loop
                continue
            try:
                self._caller.call_soon(partial(self._handle, message))
            except LoopClosedError:
                return
            if message[0] == "quit":
                return

    def _handle(self, message: list[Any]) -> None:
        kind = message[0]
        if kind == "quit":
            self._quit.set()
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None or len(message) < 2:
            return  # the server sends nothing else
        self._spawn(partial(self._answer, message[1], handler, *message[2:]))

    async def _answer(self, request: Any, handler: Callable[..., Coroutine[Any, Any, Any]],
                      *args: Any) -> None:
        try:
            value = await handler(*args)
        except Exception as exc:
            self.link.send("error", request, f"{exc}")
        else:
            self.link.send("answer", request, value)

    def _spawn(self, function: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        assert self._tg is not None
        self._tg.start_soon(function)

    # -- requests ---------------------------------------------------------------------

    async def _on_home(self) -> str | None:
        try:
            await self.robot.home_if_needed()
        except HardwareFault as exc:
            return str(exc)
        return None

    async def _on_halt_home(self) -> str | None:
        return await self.robot.halt_homing()

    async def _on_interlock(self, name: str, active: bool) -> str | None:
        return await set_interlock(self.robot.controller, self.robot.door, name, active,
                                   self.run)

    async def _on_start(self, params: dict[str, Any]) -> dict[str, Any]:
        if self.run is not None:
            raise RuntimeError("a run is already going")
        record_path = params.get("record_path")
        self._threads = set(threading.enumerate())
        self._modules = set(sys.modules.copy())  # (copied at once: threads import too)
        try:
            source = self._load(Path(params["path"]), params.get("name"))
        except BaseException:
            self._forget_imports()
            raise
        self.robot.listen_interlocks(None)  # the run's engine takes them over
        run = create_run(source, config=self.robot.config,
                         controller=self.robot.controller, clock=self.robot.run_clock(),
                         record_path=Path(record_path) if record_path else None,
                         simulating=self.robot.simulating,
                         labware_dirs=list(params.get("labware_dirs", [])),
                         devices=self.robot.devices, shown_as=params.get("name"),
                         run_id=params.get("uid"))
        assert self._caller is not None
        watch = RunWatch(run, self._caller, on_status=self._send_status,
                         on_events=self._send_events, start_soon=self._spawn,
                         progress_interval=PROGRESS_INTERVAL)
        watch.wants_records = True  # the server's progress reads every event
        self.run, self.watch = run, watch
        before = watch.attach()
        self._spawn(lambda: follow_modules(
            run, lambda readings: self.link.send("modules", readings),
            going=lambda: self.run is run))
        return {"report": report(run.engine).to_dict(), "record": before}

    def _load(self, path: Path, shown_as: str | None) -> ProtocolSource:
        """Execute the protocol's top level here, in the main thread as its check did;
        ``RuntimeError`` naming the line if it cannot be loaded. One still running after
        ``load_timeout`` is said stuck to the server, naming its line, and never run:
        nothing stops it (it may be blocked in a call), so the server replaces this
        worker."""
        name = shown_as or str(path)
        limit = self.spec.load_timeout
        main = threading.current_thread()
        lock, finished = threading.Lock(), threading.Event()
        state = {"loading": True, "stuck": False}

        def watch() -> None:
            if finished.wait(limit):
                return
            with lock:
                if not state["loading"]:
                    return
                state["stuck"] = True
                line = _line_of(main, name)
                self.link.send("stuck", f"{line}: the protocol's top level ran for "
                                        f"{limit:g} s without finishing and seems stuck "
                                        "(its check had loaded it in time); its run worker "
                                        "was stopped")

        threading.Thread(target=watch, name="labrun-load-watchdog", daemon=True).start()
        try:
            source = load_protocol(path, shown_as=shown_as)
        except ProtocolError as exc:
            raise RuntimeError(describe_load_error(exc)) from None
        finally:
            with lock:
                state["loading"] = False
            finished.set()
        if state["stuck"]:  # its worker is being stopped: nothing of it runs
            raise RuntimeError(f"{name}: the protocol's top level seemed stuck")
        return source

    def _forget_imports(self) -> None:
        """Undo what the last protocol did to the imports, so that the next imports its
        modules as its check did, afresh: its additions to ``sys.path``, and the modules
        it imported from outside the places this worker imports from (a helper of the
        lab's, fixed since, was run as it was at its first import)."""
        sys.path[:] = self._path
        roots = [os.path.join(os.path.abspath(entry), "") for entry in self._path if entry]
        for name, module in sys.modules.copy().items():
            file = getattr(module, "__file__", None)
            if name not in self._modules and isinstance(file, str) \
                    and not os.path.abspath(file).startswith(tuple(roots)):
                sys.modules.pop(name, None)

    def apply_now(self, request: Any, data: Any) -> None:
        """Answer the server's ``["apply", request, data]``: the action is carried out from
        the pipe's thread straight into the run's engine loop (it answers in microseconds;
        a hop through this worker's loop would double the action's latency)."""
        run = self.run
        if run is None or not isinstance(data, dict):
            self.link.send("error", request, "no run is going")
            return
        try:
            action = action_from_json(data)
        except (KeyError, TypeError) as exc:
            self.link.send("error", request, f"not an action: {exc}")
            return
        try:
            result: ActionResult | None = run.call(lambda: run.engine.apply(action),
                                                   ENGINE_ANSWER_TIMEOUT)
        except (LoopClosedError, TimeoutError):
            result = None
        except Exception as exc:  # the engine refused it in a way of its own: say so
            self.link.send("error", request, f"{exc}")
            return
        if result is None:
            self.link.send("answer", request, {
                "accepted": False, "status": report(run.engine).status.value,
                "reason": "the run has already ended"})
            return
        # The status goes first, down the same pipe: the server reads its messages in
        # order, so whoever reads the status once the action is answered sees its effect
        # (a pending pause, say), or, refused, why (the door open as a play came). The
        # watch's own report of a change leaves from this worker's loop and may come
        # after the answer.
        self.link.send("status", report(run.engine).to_dict())
        self.link.send("answer", request, {"accepted": result.accepted,
                                           "status": result.status.value,
                                           "reason": result.reason})

    async def _on_close(self, grace: float | None) -> dict[str, Any]:
        if self.run is None:  # (the run was an earlier worker's, which died)
            return {"protocol_ended": True, "threads_left": []}
        protocol = self.run.protocol_thread  # (said by protocol_ended)
        ended = await self._close_run(grace)
        left = [thread.name for thread in threading.enumerate()
                if thread not in self._threads and thread is not protocol
                and thread.is_alive()
                and not type(thread).__module__.startswith("anyio.")]  # (its thread pool)
        return {"protocol_ended": ended, "threads_left": left}

    async def _close_run(self, grace: float | None) -> bool:
        """Close the run (aborted if still going); whether its protocol thread ended."""
        run, watch = self.run, self.watch
        if run is None:
            return True
        if watch is not None:
            watch.close()
        if grace is None:
            await anyio.to_thread.run_sync(run.close)
        else:
            await anyio.to_thread.run_sync(lambda: run.close(protocol_grace_s=grace))
        self.run = self.watch = None
        with contextlib.suppress(OSError):  # (gone: the next one reads what it can)
            os.chdir(self._folder)  # the next protocol's relative paths, as its check's
        self._forget_imports()
        self._listen_interlocks(tell_now=True)
        thread = run.protocol_thread
        return thread is None or not thread.is_alive()

    # -- what the server is told --------------------------------------------------------

    def _send_status(self) -> None:
        if self.run is not None:
            self.link.send("status", report(self.run.engine).to_dict())

    def _send_events(self, events: list[Event]) -> None:
        self.link.send("events", events)

    def _listen_interlocks(self, *, tell_now: bool = False) -> None:
        """Tell the server of every interlock change between runs; ``tell_now`` (after a
        run), of the interlocks now too: a change during the run, the server knew only
        through that run."""
        robot = self.robot

        def send() -> None:
            self.link.send("interlocks", list(robot.interlocks()))

        robot.listen_interlocks(send)
        if tell_now:
            send()
