"""Protocol code runs in worker processes, never in the server's.

Loading a protocol executes its top level, and checking it runs ``run(ctx)`` to the end
in simulation: both happen in a worker process the server supervises, one fresh process
per check, as bluesky-queueserver keeps its RunEngine in a worker beside the manager (the
runs themselves go in the run worker, ``runner``).
Whatever the protocol does there (``os._exit``, a crash, an endless loop at its top
level, eating memory) ends at most that process: the server reports why, in one line,
and the next check gets a new worker.

- The workers are forked from a ``forkserver`` that was started clean (no thread of the
  server's is copied) with the protocol API already imported, so a worker is ready in
  milliseconds.
- The protocol's top level must load within ``LOAD_TIMEOUT`` and the simulation end
  within ``CHECK_TIMEOUT``; a worker that overruns is killed. Its address space is
  limited to ``MEMORY_LIMIT``, so a runaway allocation is a ``MemoryError`` there (or its
  death), not the machine's out-of-memory killer choosing a victim.
- At most ``CHECKS_AT_ONCE`` workers run; further checks wait their turn in the server's
  event loop, holding no thread.

The messages are small, one way and JSON (never pickles: the server must not run
whatever the protocol's process might write): ``["started", null]``, ``["loaded",
{"api_level", "metadata"}]`` once the top level has run, then ``["checked", reason or
null]``; or ``["refused", reason]``. Anything else is the worker's fault, as its death is.
"""

from __future__ import annotations

import contextlib
import json
import math
import multiprocessing
import multiprocessing.forkserver
import os
import resource
import signal
import threading
from multiprocessing.connection import Connection, wait
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import anyio
from attrs import frozen

from hardware.config import RobotConfig

LOAD_TIMEOUT = 3.0
"""Longest a protocol's top level may take to load (they load in milliseconds); below
the clients' request timeout, so an endless top level is refused, not a timeout."""
LOAD_GRACE_S = 2.0
"""How much longer than its top level's limit the server waits for a check worker's
word before it stops the worker (its own watchdog says first where the top level was)."""
CHECK_TIMEOUT = 60.0
"""Longest a check by simulation may take (a protocol simulates in milliseconds)."""
MEMORY_LIMIT = 2 << 30
"""A worker's address space, in bytes."""
START_TIMEOUT = 30.0
"""Longest a worker may take to start (milliseconds, unless the machine is overloaded)."""
CHECKS_AT_ONCE = 4
"""Workers running at the same time; more checks wait for one to end."""
MAX_MESSAGE = 1 << 20
"""Longest message a worker may send, in bytes."""
PRELOAD = ["protocol_api.execute", "labrun.remote.worker"]


class CheckFailed(Exception):
    """The protocol cannot run; the message names the uploaded file (and line)."""


@frozen
class ProtocolInfo:
    """What the server shows of a loaded protocol."""

    api_level: str
    metadata: dict[str, Any]


@frozen
class CheckRequest:
    """What a worker needs to load and simulate one protocol file."""

    directory: Path
    name: str
    labware_dir: Path | None
    config: RobotConfig
    memory_limit: int | None
    simulation_timeout: float
    load_timeout: float  # the top level's own watchdog: a stuck line is named
    fixed_modules: bool = False  # the robot has only its robot file's modules
    emulated: bool = False  # ... and it is labrun's emulator, started with the server


def process_context() -> ForkServerContext | SpawnContext:
    """How the server starts its worker processes (check workers and the run worker): a
    forkserver with the protocol API preloaded, where the platform has one."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context: ForkServerContext = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(PRELOAD)
        return context
    return multiprocessing.get_context("spawn")


def describe_exit(code: int | None) -> str:
    """A worker's exit code in words."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessHandle:
    """A worker process, waited for and killed through its pidfd where the system has
    them: once a protocol has killed the forkserver it was started from (its parent),
    multiprocessing takes it for ended (exit code 255) and would neither wait for it nor
    kill it; nor does a pidfd name another process once its pid is used again."""

    def __init__(self, process: BaseProcess) -> None:
        self.process = process
        self.fd: int | None = None
        """Readable once the process has ended; None where the system has no pidfd."""
        with contextlib.suppress(AttributeError, OSError):  # not Linux 5.3's; it ended
            self.fd = os.pidfd_open(process.pid or 0)

    def kill(self) -> None:
        """Kill it (nothing if it has ended)."""
        with contextlib.suppress(OSError):
            if self.fd is not None:
                signal.pidfd_send_signal(self.fd, signal.SIGKILL)
            else:
                self.process.kill()

    def wait(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds for its end; whether it has ended."""
        if self.fd is None:
            self.process.join(timeout)
            return not self.process.is_alive()
        return bool(wait([self.fd], timeout))

    def close(self) -> None:
        """Let go of its pidfd (it has ended, or no one looks any longer)."""
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.close(self.fd)
            self.fd = None


class Checker:
    """Runs checks in worker processes and waits for them without blocking the loop."""

    def __init__(self, *, load_timeout: float = LOAD_TIMEOUT,
                 check_timeout: float = CHECK_TIMEOUT,
                 memory_limit: int | None = MEMORY_LIMIT,
                 at_once: int = CHECKS_AT_ONCE) -> None:
        self.load_timeout = load_timeout
        self.check_timeout = check_timeout
        self.memory_limit = memory_limit
        self._at_once = at_once
        self._slots: anyio.Semaphore | None = None
        self._live: set[ProcessHandle] = set()
        self._lock = threading.Lock()
        self._closed = False

    async def start(self) -> None:
        """Start the forkserver now (it imports the protocol API, about a second), so the
        first check does not wait for it."""
        if isinstance(process_context(), ForkServerContext):
            await anyio.to_thread.run_sync(multiprocessing.forkserver.ensure_running)

    async def check(self, path: Path, labware_dir: Path | None,
                    config: RobotConfig, *, fixed_modules: bool = False,
                    emulated: bool = False) -> ProtocolInfo:
        """Load and simulate the protocol file ``path`` in a worker; its info, or
        ``CheckFailed`` naming the uploaded file and why (its line, its worker's death, a
        time limit, or with ``fixed_modules`` a module the robot file does not name;
        ``emulated``: the robot is labrun's emulator, and that is said in how to add one)."""
        if self._slots is None:
            self._slots = anyio.Semaphore(self._at_once)
        request = CheckRequest(path.parent, path.name, labware_dir, config,
                               self.memory_limit, self.check_timeout, self.load_timeout,
                               fixed_modules, emulated)
        async with self._slots:
            return await anyio.to_thread.run_sync(self._check, request)

    def close(self) -> None:
        """Kill the workers still running (the server is stopping)."""
        with self._lock:
            self._closed = True
            live = list(self._live)
        for handle in live:
            handle.kill()

    def _check(self, request: CheckRequest) -> ProtocolInfo:
        context = process_context()
        receiver, sender = context.Pipe(duplex=False)
        process = context.Process(target=work, args=(sender, request), daemon=True,
                                  name=f"labrun-check {request.name}")
        with self._lock:
            if self._closed:
                raise CheckFailed(f"{request.name}: the server is stopping")
            process.start()
            handle = ProcessHandle(process)
            self._live.add(handle)
        sender.close()
        try:
            self._receive(receiver, handle, request, START_TIMEOUT, "starting")
            # The worker's watchdog names the stuck line first; this is for a worker
            # that cannot even say so (a loop in C code holding the interpreter).
            kind, value = self._receive(receiver, handle, request,
                                        self.load_timeout + LOAD_GRACE_S,
                                        "loading its top level")
            if kind == "refused" and isinstance(value, str):
                raise CheckFailed(value)
            info = _info(value) if kind == "loaded" else None
            if info is None:
                raise self._broken(handle, request, "loading its top level")
            kind, reason = self._receive(receiver, handle, request,
                                         self.check_timeout + 5.0, "simulating it")
            if kind != "checked" or not isinstance(reason, (str, type(None))):
                raise self._broken(handle, request, "simulating it")
            if reason is not None:
                raise CheckFailed(reason)
            return info
        finally:
            receiver.close()
            handle.kill()  # (nothing if it has ended)
            handle.wait(None)
            process.join()
            handle.close()
            with self._lock:
                self._live.discard(handle)

    def _receive(self, receiver: Connection, handle: ProcessHandle, request: CheckRequest,
                 timeout: float, doing: str) -> tuple[str, Any]:
        if not receiver.poll(timeout):
            raise CheckFailed(f"{request.name}: {doing} took longer than {timeout:g} s (an "
                              "endless loop?); its worker process was stopped")
        try:
            message = json.loads(receiver.recv_bytes(MAX_MESSAGE))
        except (EOFError, OSError, ValueError):  # ended, or wrote what we never send
            raise self._broken(handle, request, doing) from None
        if not (isinstance(message, list) and len(message) == 2
                and isinstance(message[0], str)):
            raise self._broken(handle, request, doing)
        return message[0], message[1]

    @staticmethod
    def _broken(handle: ProcessHandle, request: CheckRequest, doing: str) -> CheckFailed:
        """The worker ended (or sent what no worker sends) while ``doing``."""
        handle.kill()
        handle.wait(5.0)
        handle.process.join(5.0)
        return CheckFailed(f"{request.name}: the protocol's worker process ended while "
                           f"{doing} ({describe_exit(handle.process.exitcode)}): os._exit, a "
                           "crash or too much memory; the server goes on")


def _info(value: Any) -> ProtocolInfo | None:
    """A ``loaded`` message's info, if it is one."""
    if isinstance(value, dict) and isinstance(value.get("api_level"), str) \
            and isinstance(value.get("metadata"), dict):
        return ProtocolInfo(value["api_level"], value["metadata"])
    return None


def as_json(value: Any) -> Any:
    """A protocol's metadata (a Python literal) as JSON holds it, which the server can
    answer with: its keys as text, a tuple as a list, and what JSON has no value for as
    its Python text: a number beyond JSON's (``1e999`` is ``'inf'``), bytes, a set, a
    complex number."""
    if isinstance(value, dict):
        return {str(key): as_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [as_json(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)
    if value is None or isinstance(value, (str, int, float)):
        return value
    return repr(value)


def _send(sender: Connection, kind: str, value: Any) -> None:
    sender.send_bytes(json.dumps([kind, value], default=repr).encode())


def work(sender: Connection, request: CheckRequest) -> None:
    """The worker: load and simulate one protocol, reporting to ``sender``."""
    # imported here: the server itself never needs them, the forkserver preloads them
    from protocol_api.errors import ProtocolError
    from protocol_api.execute import load_watched

    from .items import as_uploaded, describe_load_error, simulate_source

    if request.memory_limit is not None:
        resource.setrlimit(resource.RLIMIT_AS, (request.memory_limit, request.memory_limit))
    # What the protocol prints while it is checked is no news in the server's terminal
    # (it prints it again when it runs): only the check's answer goes back.
    quiet = os.open(os.devnull, os.O_WRONLY)
    os.dup2(quiet, 1)
    os.dup2(quiet, 2)
    os.close(quiet)
    _send(sender, "started", None)  # the load's time limit counts from here
    directory = request.directory
    try:
        source = load_watched(directory / request.name, request.load_timeout, "")
    except ProtocolError as exc:
        _send(sender, "refused", as_uploaded(directory, describe_load_error(exc)))
        return
    except BaseException as exc:  # SystemExit, MemoryError at the top level: refused
        _send(sender, "refused", f"{request.name}: the protocol's top level raised "
                                 f"{type(exc).__name__}")
        return
    _send(sender, "loaded", {"api_level": ".".join(map(str, source.api_version)),
                             "metadata": as_json(source.metadata)})
    try:
        reason = simulate_source(source, request.name, directory, request.labware_dir,
                                 request.config, request.simulation_timeout,
                                 fixed_modules=request.fixed_modules,
                                 emulated=request.emulated)
    except MemoryError:
        reason = f"{request.name}: the simulation ran out of memory"
    _send(sender, "checked", reason)

