"""Running protocols: a file on a robot or simulator, or a context opened in a script."""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from engine.actions import Action, Resume, Stop
from engine.channel import CommandChannel
from engine.core import StalledPolicy
from engine.ending import END_ERRORS, END_STATUS
from engine.errors import RunStopped, error_line
from engine.run import ErrorExplainer, Run, RunControl
from engine.state import EndKind, RunState
from hardware.clock import Clock
from hardware.config import RobotConfig
from hardware.controller import MotionController
from hardware.devices import Device

from .context import ProtocolContext
from .errors import ProtocolError, exit_message
from .loader import LoadInterrupted, LocatedLoadError, ProtocolSource, load_protocol
from .steps import is_library
from .stray_errors import watch_stray_errors
from .watchdog import Watchdog


def explain_for(protocol_file: str | None) -> ErrorExplainer:
    """An error explainer that points at the protocol file's line."""

    def explain(error: BaseException) -> tuple[str, str | None]:
        location = getattr(error, "location", None)
        import traceback  # an error to explain: not on every start-up

        frames = traceback.extract_tb(error.__traceback__)
        # The protocol file's innermost frame; else (an embedding script, or a ``run``
        # imported from the user's own module) the innermost that is not labrun's or the
        # standard library's.
        mine = [f for f in frames if f.filename == protocol_file] if protocol_file else []
        if not mine:
            mine = [f for f in frames if not is_library(f.filename)]
        if location is None:
            if mine:
                location = f"{mine[-1].filename}:{mine[-1].lineno}"
            elif frames:
                location = f"{frames[-1].filename}:{frames[-1].lineno}"
        if isinstance(error, ProtocolError):  # one line: a label may hold a newline
            message = _without_type(error_line(error), error)
        elif isinstance(error, SystemExit):
            message = exit_message(error)
        elif isinstance(error, OverflowError):  # an int beyond any float (10**400), given
            message = f"a number is too large to compute with ({error})"  # or set
        else:
            message = error_line(error)
        return message, location

    return explain


def _without_type(line: str, error: BaseException) -> str:
    """``error_line``'s ``Type: message`` as the message alone: labrun's own errors say
    what is wrong without their class."""
    prefix = f"{type(error).__name__}: "
    return line[len(prefix):] if line.startswith(prefix) else line


_PROTOCOL_ERRORS: weakref.WeakKeyDictionary[Run, BaseException] = weakref.WeakKeyDictionary()


def protocol_error(run: Run) -> BaseException | None:
    """The exception the protocol of ``run`` raised, with its traceback (for ``--debug``)."""
    return _PROTOCOL_ERRORS.get(run)


def mount_axes(config: RobotConfig) -> dict[str, tuple[str, str]]:
    """The robot's mounts: name -> (Z axis, plunger axis)."""
    return {name: (m.z_axis, m.plunger_axis) for name, m in config.mounts.items()}


def continue_when_stalled(state: RunState) -> Action | None:
    """Simulation policy: a pause with nothing scheduled continues by itself.

    A run held by an interlock that nothing will clear is stopped instead, so a
    simulation never hangs.
    """
    if state.interlocks:
        names = " and ".join(sorted(state.interlocks))
        return Stop(source="simulate", reason=f"the {names} stayed open, with nothing left "
                                              "to close it")
    return Resume(source="simulate")


def create_run(protocol: str | Path | ProtocolSource, *, config: RobotConfig | None = None,
               controller: MotionController | None = None, clock: Clock | None = None,
               record_path: str | Path | None = None, simulating: bool = True,
               on_stalled: StalledPolicy | None = None,
               labware_dirs: Sequence[str] = (), watchdog_s: float = 0.0,
               watchdog_hint: str = "",
               devices: dict[str, Device] | None = None, keep_history: bool = True,
               shown_as: str | None = None, params: Mapping[str, str] | None = None,
               param_files: dict[str, bytes] | None = None, run_id: str | None = None) -> Run:
    """Load a protocol file and make its run (started, idle until played).

    ``params``: values for its runtime parameters by name, as text (a command line's
    ``NAME=VALUE``; a CSV file's path); the others keep their defaults. ``ParameterError``
    (before anything runs) for a name it does not define or a value it cannot take.
    ``param_files``: the CSV files read, kept by path (``parameters.resolve``).

    ``shown_as``: the file's name in the run's record, steps and errors, for a copy of a
    file its user knows by another name (``load_protocol``).

    ``keep_history=False``: the run keeps no list of its events and commands (see ``Run``).
    ``run_id``: the record's ``id`` (see ``Run``).

    ``devices``: the robot's hardware modules (``Robot.devices``), which the protocol's
    ``load_module`` calls are bound to; a simulated robot simulates any it lacks.

    ``watchdog_s`` > 0: fail the run if its protocol makes no call for that many seconds
    of wall time (``Watchdog``; for simulations, where every call is answered at once);
    ``watchdog_hint`` says, in the failure, how the caller's user sets that limit.
    """
    # Relative paths are taken from the current folder, whatever folder the protocol
    # goes to (os.chdir): its record, its labware and its CSV files stay where they are.
    folder = os.getcwd()
    if record_path:
        record_path = Path(folder, record_path)
    labware_dirs = [os.path.join(folder, path) for path in labware_dirs]
    source = (protocol if isinstance(protocol, ProtocolSource)
              else load_watched(protocol, watchdog_s, watchdog_hint, shown_as))
    values = None
    if source.parameters or params:
        from .parameters import resolve, shown

        values = resolve(source.parameters, params or {}, param_files, folder)
    holder: list[Run] = []

    def run_protocol(channel: CommandChannel) -> None:
        run = holder[0]
        ctx = ProtocolContext(channel, slot_origins=run.config.slots,
                              trash_slot=run.config.trash_slot, api_version=source.api_version,
                              simulating=simulating, protocol_file=source.path,
                              labware_dirs=labware_dirs, mounts=mount_axes(run.config),
                              params=values)
        unwatch = watch_stray_errors(source.path)  # its threads' errors: a line each
        try:
            source.run(ctx)
        except RunStopped:
            raise
        except BaseException as exc:
            _PROTOCOL_ERRORS[run] = exc
            raise
        finally:
            unwatch()

    run = Run(run_protocol, config=config, controller=controller, clock=clock,
              record_path=record_path, on_stalled=on_stalled,
              explain=explain_for(source.path), protocol_name=source.path,
              devices=devices, keep_history=keep_history, run_id=run_id,
              params=None if values is None else {name: shown(value) for name, value
                                                  in values.get_all().items()})
    holder.append(run)
    run.start()
    if watchdog_s > 0:
        Watchdog(run, source.path, watchdog_s, hint=watchdog_hint).start()
    return run


def record_unstarted(protocol: str | Path, record_path: str | Path, error: str,
                     location: str | None, *, config: RobotConfig | None = None) -> None:
    """Write the run record of a protocol run that could not start (its file did not
    load, or it failed in the simulation before a robot run): the record's first line,
    then the failure (``error`` at ``location``), status ``failed`` and the summary, as
    the engine writes them. A record an earlier run left at ``record_path`` is replaced,
    so it cannot be taken for this run's. Nothing moves. OSError if it cannot be written."""
    run = Run(None, config=config, record_path=record_path,
              protocol_name=str(Path(protocol).resolve()), keep_history=False).start()
    try:
        run.fail_unstarted(error, location)
        run.wait()
    finally:
        run.close()


def record_declined(protocol: str | Path, record_path: str | Path, *,
                    config: RobotConfig | None = None) -> None:
    """Write the run record of a protocol run the user chose not to start (declined at
    the start prompt): the record's first line, then a stop from ``idle`` by the
    terminal, status ``stopped`` and the summary. A record an earlier run left at
    ``record_path`` is replaced. Nothing moves. OSError if it cannot be written."""
    run = Run(None, config=config, record_path=record_path,
              protocol_name=str(Path(protocol).resolve()), keep_history=False).start()
    try:
        run.control.stop(source="terminal")
        run.wait()
    finally:
        run.close()


class EmbeddedContext(ProtocolContext):
    """A ``ProtocolContext`` opened from a script, with the run's ``control`` beside it."""

    run: Run

    @property
    def control(self) -> RunControl:
        """Pause, resume, stop, abort or halt this run from any thread."""
        return self.run.control


def open_context(*, config: RobotConfig | None = None,
                 controller: MotionController | None = None, clock: Clock | None = None,
                 record_path: str | Path | None = None, simulating: bool = True,
                 api_version: tuple[int, int] = (2, 20),
                 labware_dirs: Sequence[str] = (),
                 on_stalled: StalledPolicy | None = None) -> OpenContext:
    """Open a protocol context in the calling thread; the run ends when the block exits.

    The calling thread is the protocol thread. ``ctx.control`` may be used from other
    threads to pause, resume, stop, abort or halt the run. ``api_version`` is the apiLevel
    the script is written for: 2.20 unless given, so that a script's labware keeps the
    definitions it was written against when labrun learns newer levels.

    A pause waits for ``control.resume()`` from another thread. On the simulated robot,
    ``on_stalled=continue_when_stalled`` has a pause with nothing scheduled go on by
    itself, as ``labrun simulate`` does (else ``ctx.pause()`` with nobody to resume it
    waits for ever).

    The block's end is the protocol's: an error in it (Ctrl-C too) fails the run at
    once, even paused; ``sys.exit(0)`` ends it as the block's end does. A run that a
    person stopped ends the block quietly; one that failed, was aborted or halted raises
    its error out of the block, unless a call of the script raised it already (and the
    script caught it). ``ctx = open_context().__enter__()`` (a notebook's way)
    works too: the run then ends as the script does.
    """
    return OpenContext(config=config, controller=controller, clock=clock,
                       record_path=record_path, simulating=simulating,
                       api_version=api_version, labware_dirs=labware_dirs,
                       on_stalled=on_stalled)


ENDED_BY_ERROR = {END_STATUS[kind]: error for kind, error in END_ERRORS.items()
                  if kind is not EndKind.STOP}
"""A run that ended so (failed, aborted, halted) raises this out of its block, where no
call of the script had (a script that caught its call's ``RunFailed`` knows already)."""


EXIT_GRACE_S = 30.0
"""How long a script's exit waits for a run it never closed to end by itself (its
closing lift) before it is aborted (a run paused then, say)."""


class OpenContext:
    """``open_context``'s context manager: ``with`` it, or ``__enter__()`` it once."""

    def __init__(self, *, config: RobotConfig | None = None,
                 controller: MotionController | None = None, clock: Clock | None = None,
                 record_path: str | Path | None = None, simulating: bool = True,
                 api_version: tuple[int, int] = (2, 20), labware_dirs: Sequence[str] = (),
                 on_stalled: StalledPolicy | None = None) -> None:
        self._config, self._controller, self._clock = config, controller, clock
        self._record_path, self._on_stalled = record_path, on_stalled
        self._api_version, self._simulating = api_version, simulating
        self._labware_dirs = labware_dirs
        self.run: Run | None = None

    def __enter__(self) -> EmbeddedContext:
        if self.run is not None:
            raise RuntimeError("this context has been used already: call open_context() "
                               "again for another run")
        run = Run(None, config=self._config, controller=self._controller, clock=self._clock,
                  record_path=self._record_path, on_stalled=self._on_stalled).start()
        run.control.play()
        ctx = EmbeddedContext(run.channel, slot_origins=run.config.slots,
                              trash_slot=run.config.trash_slot, api_version=self._api_version,
                              simulating=self._simulating, protocol_file=None,
                              labware_dirs=self._labware_dirs, mounts=mount_axes(run.config))
        ctx.run = run
        self.run = run
        atexit.register(self._at_exit)  # a context never closed: its run ends with the script
        return ctx

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> bool:
        run = self.run
        assert run is not None, "__exit__ before __enter__"
        atexit.unregister(self._at_exit)
        try:
            if error is None or (isinstance(error, SystemExit) and not error.code):
                run.channel.finish()  # the block's end, or sys.exit(0) in it
                ended = run.wait()
                raised = ENDED_BY_ERROR.get(ended.status)  # (aborted, say, after its calls)
                if raised is not None and error is None and not run.channel.end_raised:
                    outcome = ended.outcome
                    said = (outcome.error or outcome.reason) if outcome is not None else None
                    raise raised(said or f"the run was {ended.status.value}")
                return False
            if isinstance(error, RunStopped):  # the run ended first: said in the call
                run.channel.finish()
                run.wait()
                return type(error) is RunStopped  # a person's stop ends the block quietly
            message, location = explain_for(None)(error)
            if isinstance(error, SystemExit):  # a script owns its process: no protocol's rule
                message = f"the script exited (sys.exit({error.code!r}))"
            run.channel.finish(message, location)  # the run fails now, paused or not
            run.wait()
            return False
        finally:
            run.close()  # its record's file too

    def _at_exit(self) -> None:
        """The script ends with the context open: the run ends as the block would, failed
        if the script ended with an error (Python keeps it for us, ``sys.last_value``)."""
        run = self.run
        if run is None:
            return
        error = getattr(sys, "last_value", None)
        try:
            if isinstance(error, BaseException) and not isinstance(error, RunStopped):
                run.channel.finish(*explain_for(None)(error))
            else:
                run.channel.finish()
            run.wait(EXIT_GRACE_S)
        except TimeoutError:
            pass  # (close aborts it)
        finally:
            run.close()


__all__ = ["EmbeddedContext", "LocatedLoadError", "OpenContext", "create_run", "load_watched",
           "open_context", "protocol_error", "record_unstarted"]


def load_watched(path: str | Path, limit_s: float, hint: str,
                 shown_as: str | None = None) -> ProtocolSource:
    """``load_protocol``, failing a top level that runs ``limit_s`` seconds (a loop that
    never ends before ``run`` is even defined) as the watchdog fails a stuck ``run``.
    Only in the main thread, which Python can interrupt (as Ctrl-C does)."""
    if limit_s <= 0 or threading.current_thread() is not threading.main_thread():
        return load_protocol(path, shown_as=shown_as)
    import _thread

    lock = threading.Lock()
    state = {"loading": True, "fired": False}

    def watch() -> None:
        if finished.wait(limit_s):
            return
        with lock:
            if state["loading"]:
                state["fired"] = True
                _thread.interrupt_main()

    # The watchdog interrupts as Ctrl-C does, which does nothing while Ctrl-C is ignored
    # (a job a shell put in the background, a service, labrun serve's check workers).
    previous = signal.getsignal(signal.SIGINT)
    ignored = previous in (signal.SIG_IGN, signal.SIG_DFL)
    if ignored:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    finished = threading.Event()
    threading.Thread(target=watch, name="labrun-load-watchdog", daemon=True).start()
    try:
        return load_protocol(path, shown_as=shown_as)
    except LoadInterrupted as exc:
        if not state["fired"]:
            raise  # Ctrl-C
        said = f" ({hint})" if hint else ""
        raise LocatedLoadError(f"the protocol's top level ran for {limit_s:g} s without "
                               f"finishing and seems stuck{said}", exc.location) from None
    finally:
        with lock:
            state["loading"] = False
        finished.set()
        if ignored:
            signal.signal(signal.SIGINT, previous)

