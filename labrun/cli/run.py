"""``labrun run FILE``: run a protocol on a robot, or on the bundled emulator.

- ``--robot ROBOT.toml``: the controller that file names (a G-code board on a serial
  port or TCP, or the simulated robot in real time);
- ``--emulate [--dialect D] [--speed N]``: labrun's emulator, started in this process
  on 127.0.0.1 and driven over a real socket by the G-code driver (with ``--robot``,
  the emulator plays that robot).

Before anything moves, the protocol is simulated (unless ``--no-simulate``): a protocol
that fails there is reported with its ``file:line`` and exit status 3, apart from a run
that fails on the robot (1), and nothing is connected. Then the controller is connected
and homed, and the run is played with a live status line and single keys
(``terminal.py``).

The robot comes from ``hardware.robot.open_robot``: its connection lives in a thread of
its own, from before the run (connect, home) until after it (disconnect); the run's
engine, in its own thread and loop, reaches it through the robot's controller.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import select
import signal
import sys
import threading
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from engine.modules import modules_for
from engine.record import Event
from engine.run import Run
from engine.state import Status
from engine.status import RunStatusReport
from hardware.clock import speed_problem
from hardware.config import ConfigError, RobotConfig, load_config, polling_problem
from hardware.controller import HardwareFault, MotionController
from hardware.factory import EMULATOR_DIALECTS, emulator_config
from hardware.frozen import replace
from hardware.gcode import GcodeController
from hardware.robot import Robot, open_robot
from protocol_api.errors import ParameterError, ProtocolError
from protocol_api.execute import continue_when_stalled, create_run, protocol_error
from protocol_api.loader import LocatedLoadError
from protocol_api.stray_errors import watch_stray_errors
from protocol_api.watchdog import DEFAULT_WATCHDOG_S

from . import setup_sheet
from .calls import Labels, asked, asker
from .closing import RunTimes, summary_lines
from .driver_warnings import DriverWarnings, driver_warnings
from .exits import (
    BAD_INPUT_EXIT,
    FAILED_EXIT,
    INTERRUPTED_EXIT,
    NOT_STARTED_EXIT,
    SIMULATION_FAILED_EXIT,
)
from .labware_dirs import read_labware_dirs
from .outputs import (
    HeldOutput,
    ProtocolStreams,
    borrowed,
    outputs_problem,
    protect_inputs,
    record_declined,
    record_not_started,
    record_preparing,
)
from .params import add_param_option
from .report import TextLog, clock, is_terminal, shortened_sheet
from .robot_lock import RobotInUse, hold_robot, robot_lock_file
from .signals import (
    TERMINATIONS,
    Interrupts,
    abort_interrupted,
    handling,
    ignore_interrupts,
    interrupts_ignored,
)
from .simulating import (
    add_max_hours_option,
    limit_protocol_time,
    max_hours_problem,
    wait_for_simulation,
)
from .terminal import (
    KEYS_HELP,
    Controls,
    KeyReader,
    Progress,
    StatusLine,
    paused_hint,
    use_colour,
    warnings_above,
)
from .tips_left import (
    TipsStateError,
    left_on,
    remember,
    robot_key,
    tips_left,
    tips_left_said,
    unfinished,
)

SUCCESS = (Status.SUCCEEDED, Status.STOPPED)
DECLINE = ("q", "quit", "n", "no")
"""Answers to a prompt that decline to start the run."""


class BadInput(Exception):
    """Arguments or files that cannot be used; exit status 2."""

    def __init__(self, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.location = location


def add_parser(commands: Any) -> None:
    """Register the ``run`` sub-command."""
    parser = commands.add_parser(
        "run", help="run a protocol on a robot or on the bundled emulator",
        description="Simulate a protocol file, then run it on the robot ROBOT.toml names "
                    "(or on labrun's emulator with --emulate), with a live status line "
                    "and single keys: p pause, i pause now, r resume, s stop, a abort, "
                    "h halt, d skip delay. Ctrl-C asks for a pause; twice within 3 s, "
                    "for an immediate one.")
    parser.add_argument("file", help="the protocol file (def run(ctx): ...)")
    parser.add_argument("--robot", metavar="ROBOT.toml", help="the robot's configuration")
    parser.add_argument("--emulate", action="store_true",
                        help="start labrun's G-code emulator in this process on 127.0.0.1 "
                             "and drive it over a real socket")
    parser.add_argument("--dialect", choices=EMULATOR_DIALECTS,
                        help="with --emulate: the emulated firmware (default: the robot's "
                             "dialect, or grbl)")
    parser.add_argument("--speed", metavar="N",
                        help="with --emulate: run the emulator's motion and the protocol's "
                             "delays N times faster than real time (default 1)")
    parser.add_argument("--labware-dir", action="append", default=[], metavar="DIR",
                        help="a directory of custom labware definitions (JSON); repeatable")
    add_param_option(parser)
    parser.add_argument("--record", metavar="PATH", help="write the run record (JSON Lines)")
    parser.add_argument("--no-simulate", action="store_true",
                        help="skip the simulation that checks the protocol before it runs")
    add_max_hours_option(parser)
    parser.add_argument("-y", "--yes", action="store_true",
                        help="start without asking for Enter after the setup sheet")
    parser.add_argument("--tips-removed", action="store_true",
                        help="the tips the last run on this robot left on its pipettes "
                             "have been taken off (asked for at a terminal)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: also the commands each protocol call became; -vv: also "
                             "coordinates")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.set_defaults(handler=run_run)


def run_run(args: argparse.Namespace) -> int:
    """Run ``args.file`` on the robot; return the exit status."""
    args.param_files = {}  # the CSV files of --param, read once: the robot runs what was
    # simulated, whatever happens to the files meanwhile
    # Till labrun exits: the protocol's atexit callbacks run after its run.
    watch_stray_errors(str(Path(args.file).resolve()))
    config: RobotConfig | None = None  # until read: a record of the built-in robot
    protect_inputs(args)  # no record is written over a file the run reads
    try:
        problem = outputs_problem(args.file, {"the run record": args.record})
        if problem is not None:
            raise BadInput(problem)
        problem = max_hours_problem(args.max_hours)
        if problem is not None:
            raise BadInput(problem)
        record_preparing(args.file, args.record)  # an older one is gone, even on kill -9
        config, emulate = _robot(args)
        read_labware_dirs(args.labware_dir, sys.stderr)  # a bad directory is bad input
    except (BadInput, ConfigError, ProtocolError) as exc:
        location = getattr(exc, "location", None)
        record_not_started(args.file, args.record, str(exc), location, config)
        if args.debug:
            raise
        return _bad_input(str(exc), location)
    try:
        try:  # no other labrun drives this robot meanwhile (checked before the tips, which
            # a run going on now has marked as those of a run that never ended)
            held = hold_robot(  # noqa: F841 - held until labrun exits
                None if emulate is not None else robot_lock_file(config),
                f"labrun run {Path(args.file).name}",
                robot=f"the robot at {config.controller.port}")
        except RobotInUse as exc:
            return _not_started(args, config, str(exc))
        robot = _tips_robot(args, config, emulate)
        if robot is not None:
            refused = _tips_taken_off(args, config, robot)
            if refused is not None:
                return refused
        progress = None
        if not args.no_simulate:
            verdict = _simulate_first(args, config)
            if isinstance(verdict, int):
                return verdict
            progress, needed = verdict
            config, missing = modules_for(config, needed, emulated=emulate is not None)
            if missing is not None:
                record_not_started(args.file, args.record, missing, None, config)
                print(f"error: {missing}", file=sys.stderr)
                print("nothing was connected or moved", file=sys.stderr)
                return SIMULATION_FAILED_EXIT
            if not args.yes and is_terminal(sys.stdin):
                try:
                    ready = _ready_to_start()
                except KeyboardInterrupt:  # Ctrl-C at the prompt: declined, as q is
                    record_declined(args.file, args.record, config)
                    print("\ninterrupted: not started; nothing was connected or moved",
                          file=sys.stderr)
                    return INTERRUPTED_EXIT
                if not ready:
                    record_declined(args.file, args.record, config)
                    print("not started; nothing was connected or moved")
                    return 0
        return _run_on_robot(args, config, emulate, progress)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return INTERRUPTED_EXIT
    except BrokenPipeError:  # `labrun run F | head`: its reader ended before the run began
        sys.stdout = None  # nothing more to flush at exit
        print("error: standard output was closed (its reader ended) before the run "
              "started; the run did not start", file=sys.stderr)
        return BAD_INPUT_EXIT


# -- the robot ----------------------------------------------------------------------------


def _robot(args: argparse.Namespace) -> tuple[RobotConfig, str | None]:
    """The robot configuration, and the dialect to emulate (None: a real robot)."""
    if not args.emulate:
        given = [name for name, value in (("--dialect", args.dialect), ("--speed", args.speed))
                 if value is not None]
        if given:
            # A robot's time is real time, an emulator's too as labrun run sees it: a
            # sped-up clock against a robot would cut its delays short.
            raise BadInput(f"{' and '.join(given)} apply only with --emulate"
                           if len(given) > 1 else f"{given[0]} applies only with --emulate"
                           + ("; a robot's time is real time (to watch a whole run sped "
                              "up, use --emulate --speed)" if given[0] == "--speed" else ""))
        if not args.robot:
            raise BadInput("labrun run needs --robot ROBOT.toml (the robot to drive) or "
                           "--emulate (labrun's emulator)")
        return load_config(args.robot), None
    if args.speed is not None:
        problem = speed_problem(args.speed)
        if problem is not None:
            raise BadInput(problem)
        args.speed = float(args.speed)  # given as text: a non-number is said in one line
    if args.robot:
        config = load_config(args.robot)
        dialect = args.dialect or (config.controller.dialect
                                   if config.controller.kind == "gcode" else "grbl")
        problem = polling_problem(config.controller, dialect)  # as the emulator is driven
        if problem is not None:
            raise ConfigError(f"{args.robot}: {problem} (with --emulate, the {dialect} "
                              "emulator is asked its status)")
        # the controller it drives, which the simulation first checks the run against
        # (the slowest move it takes, say): that dialect, whatever the file names
        config = replace(config, controller=replace(config.controller, kind="gcode",
                                                    dialect=dialect))
    else:
        dialect = args.dialect or "grbl"
        config = emulator_config(dialect)
    return config, dialect


def _simulate_first(args: argparse.Namespace, config: RobotConfig
                    ) -> int | tuple[Progress, list[Event]]:
    """Simulate the protocol and print its setup sheet; an exit status if it cannot run,
    else where each step comes in the simulation (for the progress bar) and the
    ``loadModule`` events of the modules it loaded."""
    printed = HeldOutput(sys.stdout)  # what the protocol prints: shown if it fails here
    lent = borrowed(printed)  # closing it closes nothing of what is held
    stderr = sys.stderr
    lent_stderr = borrowed(stderr)  # nor closing its stderr anything of labrun's
    folder = os.getcwd()  # the robot's run starts in it too, wherever the protocol went
    try:
        with contextlib.redirect_stdout(lent), contextlib.redirect_stderr(lent_stderr):
            sim = create_run(args.file, config=config, on_stalled=continue_when_stalled,
                             labware_dirs=args.labware_dir, watchdog_s=DEFAULT_WATCHDOG_S,
                             params=args.param, param_files=args.param_files)
        limit_protocol_time(sim, str(Path(args.file).resolve()), args.max_hours,
                            "the simulation before the run")
    except ParameterError as exc:  # a --param (the protocol's own are located load errors)
        record_not_started(args.file, args.record, f"--param: {exc}", None, config)
        return _bad_input(f"--param: {exc}", None)
    except (LocatedLoadError, ProtocolError) as exc:
        location = getattr(exc, "location", None)
        record_not_started(args.file, args.record, str(exc), location, config)
        if args.debug:
            raise
        return _bad_input(str(exc), location)
    interrupts = Interrupts()
    try:
        with contextlib.redirect_stdout(lent), contextlib.redirect_stderr(lent_stderr), \
                interrupts:
            sim.control.play(source="simulate")
            wait_for_simulation(sim, stderr)  # a progress line on a terminal
    except KeyboardInterrupt as exc:  # as simulate says it: where the protocol was
        abort_interrupted(sim, str(Path(args.file).resolve()), exc)
        reason = str(sim.record.events[-1].get("reason"))
        record_not_started(args.file, args.record, reason, None, config)
        print(f"\nerror: {reason}", file=sys.stderr)
        print("nothing was connected or moved", file=sys.stderr)
        return INTERRUPTED_EXIT
    finally:
        with interrupts_ignored():
            sim.close()
        interrupts.restore()
        with contextlib.suppress(OSError):  # (a folder removed meanwhile: left as it is)
            os.chdir(folder)
    summary = sim.record.events[-1]
    if Status(summary["status"]) not in SUCCESS:
        sys.stdout.write(printed.text())
        error = protocol_error(sim)
        if args.debug and error is not None:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        where = f"{summary['location']}: " if summary.get("location") else ""
        said = summary.get("error") or summary["status"]
        record_not_started(args.file, args.record, f"the protocol failed in simulation: "
                           f"{said}", summary.get("location"), config)
        print(f"error: {where}{said}", file=sys.stderr)
        print("the protocol failed in simulation; nothing was connected or moved",
              file=sys.stderr)
        return SIMULATION_FAILED_EXIT
    sheet = setup_sheet.build(sim.record.events)
    print("\n".join(setup_sheet.text(shortened_sheet(sheet))), flush=True)
    log = TextLog()
    starts = []
    for event in sim.record.events:
        log.feed(event)
        if event["event"] == "step":
            starts.append(float(event["t"]))
    log.finish()
    speed = (args.speed or 1.0) if args.emulate else 1.0
    modules = [event for event in sim.record.events if event["event"] == "command"
               and event["status"] == "queued" and event["type"] == "loadModule"]
    return (Progress(len(starts), starts, float(summary["duration_s"]), log.step_words, speed),
            modules)


def _tips_robot(args: argparse.Namespace, config: RobotConfig, emulate: str | None
                ) -> str | None:
    """The name the tips left on this robot are kept under (``tips_left``); None for one
    that starts afresh each run, with nothing on it (labrun's emulator, the simulated
    robot)."""
    if emulate is not None or config.controller.kind == "simulated":
        return None
    return robot_key(args.robot)


def _tips_taken_off(args: argparse.Namespace, config: RobotConfig, robot: str) -> int | None:
    """None once no tip the last run on ``robot`` left is known to be on it (someone said
    so: ``--tips-removed``, or Enter at a terminal); else the exit status of a run that
    must not start, which would press a fresh tip onto a used one."""
    try:
        tips = left_on(robot)
    except TipsStateError as exc:  # nothing is known: no run may take it as nothing on
        return _not_started(args, config, str(exc))
    if tips is None:
        return None
    if args.tips_removed:
        print("the tips the last run left are taken as off the robot (--tips-removed)")
    elif not args.yes and is_terminal(sys.stdin):
        said = tips_left_said(tips, "press Enter (q and Enter to quit): ")
        try:
            answer = _ask(said[0].upper() + said[1:])
        except KeyboardInterrupt:
            record_declined(args.file, args.record, config)
            print("\ninterrupted: not started; nothing was connected or moved", file=sys.stderr)
            return INTERRUPTED_EXIT
        if answer is None or answer.strip().lower() in DECLINE:
            record_declined(args.file, args.record, config)
            print("not started; nothing was connected or moved")
            return 0
    else:
        return _not_started(args, config, tips_left_said(tips, "run again with --tips-removed"))
    _keep_tips(robot, None, "the next run will ask again")
    return None


def _not_started(args: argparse.Namespace, config: RobotConfig, reason: str) -> int:
    """A run refused before anything was connected: its record and its error line."""
    record_not_started(args.file, args.record, reason, None, config)
    print(f"error: {reason}", file=sys.stderr)
    print("nothing was connected or moved", file=sys.stderr)
    return NOT_STARTED_EXIT


def _keep_tips(robot: str | None, tips: dict[str, Any] | None, otherwise: str) -> None:
    """Keep ``tips`` as on ``robot`` (None: nothing is on it); a warning saying
    ``otherwise`` if that cannot be written."""
    if robot is None:
        return
    try:
        remember(robot, tips)
    except TipsStateError as exc:
        print(f"warning: {exc}; {otherwise}", file=sys.stderr)


def _ready_to_start() -> bool:
    """Ask for Enter before anything is connected or moved; False if the user declines."""
    answer = _ask("\nSet up the deck as above, then press Enter to start "
                  "(q and Enter to quit): ")
    return answer is not None and answer.strip().lower() not in DECLINE


def _ask(prompt: str) -> str | None:
    """The line typed at the terminal after ``prompt`` (None at the end of input).

    Ctrl-C raises ``KeyboardInterrupt`` whenever it comes: the wait for the line is a
    ``select`` that the signal's wake-up byte ends. A read (``input()``'s) that begins
    after a Ctrl-C typed as soon as the prompt showed would wait for Enter first.
    """
    sys.stdout.write(prompt)
    sys.stdout.flush()
    with contextlib.ExitStack() as undo:
        wake_read, wake_write = os.pipe()
        undo.callback(os.close, wake_read)
        undo.callback(os.close, wake_write)
        for end in (wake_read, wake_write):
            os.set_blocking(end, False)
        undo.callback(signal.set_wakeup_fd, signal.set_wakeup_fd(wake_write))
        while True:
            ready, _, _ = select.select([sys.stdin, wake_read], [], [])
            if sys.stdin in ready:
                line = sys.stdin.readline()
                return line or None
            with contextlib.suppress(BlockingIOError):
                os.read(wake_read, 64)  # another signal (a resized window): wait on


def _run_on_robot(args: argparse.Namespace, config: RobotConfig, emulate: str | None,
                  progress: Progress | None) -> int:
    # The protocol's sys.stdout and sys.stderr, as it loads and runs, are borrowed views
    # of labrun's: what it does to them (closes them, replaces them) never reaches what
    # labrun prints to ``stdout``, its own (once it has run, sys.stdout is stderr's).
    protocol_output = ProtocolStreams()
    stdout = protocol_output.stdout
    with contextlib.ExitStack() as stack:
        said = stack.enter_context(driver_warnings())  # "warning: ...", from connecting on
        try:
            robot = open_robot(config, emulate=emulate, speed=args.speed or 1.0,
                               announce=lambda line: print(line, file=stdout, flush=True))
        except ConfigError as exc:
            record_not_started(args.file, args.record, str(exc), None, config)
            return _bad_input(str(exc), None)
        stack.callback(robot.close)
        try:
            clock = robot.clock  # on the emulator, sped up as its motion is (--speed)
            with protocol_output:
                run = create_run(args.file, config=robot.config, controller=robot.controller,
                                 clock=clock, record_path=args.record, simulating=False,
                                 labware_dirs=args.labware_dir, devices=robot.devices,
                                 params=args.param, param_files=args.param_files)
        except ParameterError as exc:
            record_not_started(args.file, args.record, f"--param: {exc}", None, config)
            return _bad_input(f"--param: {exc}", None)
        except (LocatedLoadError, ProtocolError) as exc:
            location = getattr(exc, "location", None)
            record_not_started(args.file, args.record, str(exc), location, config)
            if args.debug:
                raise
            return _bad_input(str(exc), location)
        except OSError as exc:  # the protocol was read: only the run record can be at fault
            if args.debug or not args.record:
                raise
            return _bad_input(f"cannot write the run record {args.record}: "
                              f"{exc.strerror or exc}", None)
        stack.callback(run.close)
        homing = Interrupts()
        stage = ["connecting"]
        try:
            with homing:
                problem = _prepare(robot, stage, stdout)
        except KeyboardInterrupt:  # the homing cycle was stopped (its cancellation resets)
            driver = robot.driver
            if stage[0] == "homing" and isinstance(driver, GcodeController) \
                    and not driver.home_moved:  # nothing that moves it had been sent
                why = ("interrupted while homing waited for the hold set at the controller's "
                       "board to be resumed; nothing had moved" if driver.home_held else
                       "interrupted before the robot homed; nothing had moved")
                after = ""
            elif stage[0] == "homing":
                why = "interrupted while the robot connected or homed; its motion was stopped"
                after = ", and it homes again before it moves"
            elif stage[0] == "waiting":  # for the door: as once homed (``BEFORE_START``)
                why, after = BEFORE_START, ""
            else:  # nothing had been sent that moves it
                why, after = "interrupted while the robot connected; nothing had moved", ""
            run.control.abort(why, source="terminal")
            run.wait()
            print(f"\nerror: {why}{after}", file=sys.stderr)
            return INTERRUPTED_EXIT
        finally:
            homing.restore()
        if problem is not None:
            run.fail_unstarted(f"the robot was not ready: {problem}")
            run.wait()
            print(f"error: the robot was not ready: {problem}", file=sys.stderr)
            return FAILED_EXIT
        # Until it ends, the run is kept as one that may leave a tip on: if labrun is
        # killed (or the computer goes off), the next run on this robot asks first.
        tips_robot = _tips_robot(args, config, emulate)
        unknown = "the next run on this robot will not know what this one leaves on its pipettes"
        name = Path(args.file).name
        _keep_tips(tips_robot, unfinished(name), unknown)
        with protocol_output:
            final, lost, interrupted = _play(run, robot.driver, progress, args.verbose,
                                             stdout, said)
        summary = run.record.events[-1]
        _keep_tips(tips_robot, tips_left(name, summary["status"], summary), unknown)
        labels = Labels.of_run(run.record.events)
        times = RunTimes(float(getattr(clock, "speed", 1.0)))
        for event in run.record.events:
            times.feed(event)
    record = args.record
    if record and run.record.write_error:
        record += " (cut short where it could no longer be written)"
    if lost is None:
        _print_summary(summary, record, labels, times, stdout)
    else:  # the run went on without its output: said where it can be
        sys.stdout = None
        kept = f"the record {record} has it all" if record else "--record FILE keeps it"
        print(f"warning: the output stopped ({lost.strerror or lost}); the run went on to "
              f"its end: {final.status.value}; {kept}", file=sys.stderr)
    if final.status is Status.FAILED:
        error = protocol_error(run)
        if args.debug and error is not None:
            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        where = f"{summary['location']}: " if summary.get("location") else ""
        print(f"error: {where}{summary.get('error')}", file=sys.stderr)
    if interrupted:  # before the run played, Ctrl-C ends labrun as while it homed
        return INTERRUPTED_EXIT
    return 0 if final.status in SUCCESS else FAILED_EXIT


INTERLOCK_POLL_S = 0.1
"""How often ``labrun run`` looks whether the door it waits for has closed."""
BEFORE_START = "interrupted while waiting for the door to close; nothing had moved"
"""Why a run Ctrl-C ended before it started, the door open."""


def _prepare(robot: Robot, stage: list[str], out: TextIO) -> str | None:
    """Connect and home, saying so on ``out``; the reason if the robot cannot be made
    ready. ``stage[0]`` says how far it got: ``connecting``, ``waiting`` (for a door),
    then ``homing``."""
    config = robot.config
    where = config.controller.port or config.name
    print(f"connecting to {where} ({config.controller.kind}"
          f"{', ' + config.controller.dialect if config.controller.kind == 'gcode' else ''})",
          file=out, flush=True)
    try:
        robot.connect()
        _wait_for_interlocks(robot.controller, stage, out)
        print("homing", file=out, flush=True)
        stage[0] = "homing"
        position = robot.home()
    except HardwareFault as exc:
        return str(exc)
    print(_homed_line(config, position), file=out, flush=True)
    return None


def _wait_for_interlocks(controller: MotionController, stage: list[str], out: TextIO
                         ) -> None:
    """Nothing homes behind an open door: with an interlock active, say so and wait until
    it clears (Ctrl-C ends labrun; ``stage[0]`` says it waited)."""
    held = sorted(controller.active_interlocks())
    if not held:
        return
    stage[0] = "waiting"
    print(f"interlock active: {', '.join(held)}; waiting for it to clear before homing "
          "(Ctrl-C ends labrun)", file=out, flush=True)
    while controller.active_interlocks():
        time.sleep(INTERLOCK_POLL_S)
    print(f"interlock cleared: {', '.join(held)}", file=out, flush=True)


def _homed_line(config: RobotConfig, position: Mapping[str, float]) -> str:
    """Where the axes are after homing; axes without a switch were not homed but taken
    to stand at their home (``homing = "none"``), and are said apart."""
    free = {a for a, axis in config.axes.items() if axis.homing == "none"}

    def at(axes: list[str]) -> str:
        return " ".join(f"{a} {position[a]:.1f}" for a in axes)

    homed = [a for a in position if a not in free]
    taken = [a for a in position if a in free]
    said = [f"homed at {at(homed)}"] if homed else []
    if taken:
        said.append(f'no switch (homing = "none"), taken as home where they stand: {at(taken)}')
    return "; ".join(said)


# -- playing, with the status line and keys -------------------------------------------


def _play(run: Run, inner: MotionController, progress: Progress | None,
          verbosity: int, out: TextIO, driver_said: DriverWarnings | None = None,
          ) -> tuple[RunStatusReport, OSError | None, bool]:
    """Play the run with the live status line (on ``out``) and the keys; its final
    status, why the output stopped if it did (the run does not stop with it), and whether
    Ctrl-C ended it before it started (it waited for a door). The driver's warnings
    (``driver_said``) are said above the live status line."""
    stdin_tty = is_terminal(sys.stdin)
    display = StatusLine(out, live=stdin_tty and is_terminal(out), keys=stdin_tty,
                         colour=use_colour(out), progress=progress)
    log = TextLog(verbosity, quiet_sources=("terminal",), said_live=True)
    controls = Controls(run.control, display)
    events: queue.SimpleQueue[Event] = queue.SimpleQueue()
    ended = threading.Event()

    def on_event(event: Event) -> None:  # in the engine loop
        events.put(event)
        if event["event"] == "summary":
            ended.set()

    run.call(lambda: run.record.subscribe(on_event))

    def position() -> dict[str, float] | None:
        # A G-code board's last polled position; the simulated robot's status has its own.
        return inner.reported_position if isinstance(inner, GcodeController) else None

    with contextlib.ExitStack() as ui:
        ui.callback(display.close)
        ui.callback(controls.close)
        if stdin_tty:
            ui.enter_context(KeyReader(sys.stdin.fileno(), controls.key))
            display.log("keys: " + KEYS_HELP + "  (Ctrl-C pauses; twice within 3 s: at once)")
        else:
            display.log("stdin is not a terminal: no keys. Ctrl-C asks for a pause "
                        "(twice within 3 s: at once); a paused run cannot be resumed here.")
        received: list[int] = []  # the signals that came (Ctrl-C, SIGTERM, SIGHUP)
        handlers = ui.enter_context(contextlib.ExitStack())
        handlers.enter_context(_signals(controls, received))
        ui.enter_context(warnings_above(display))
        if driver_said is not None and display.live:
            ui.enter_context(driver_said.said_above(display.log))
        playing = _play_or_wait(run, display)
        interrupted = False
        while True:
            show_events(display, events, log)
            if controls.ending_before_start:  # Ctrl-C as it waited to start
                controls.ending_before_start = False
                if playing:  # it has started meanwhile: a Ctrl-C as any other
                    controls.interrupt()
                else:
                    interrupted = run.control.abort(BEFORE_START, source="terminal").accepted
                    display.log(f"Ctrl-C: {BEFORE_START}")
            status = run.control.status()
            display.update(status, position())
            if (not playing and not interrupted and status.status is Status.IDLE
                    and not status.interlocks):
                playing = _play_or_wait(run, display)  # the interlock has cleared
            if status.status.is_terminal:
                ended.wait(2.0)  # the summary follows the terminal status at once
                break
            ended.wait(0.1)
        if received:  # more of them, as the log's end, the summary and the error print,
            handlers.pop_all()  # are ignored till labrun exits (the run has ended), not
            ignore_interrupts()  # handled by Python, which would cut a waiting write short
        show_events(display, events, log)
        for line in log.finish():
            display.log(line)
        final = run.wait(5.0)
        display.update(final, force=True)
    return final, display.lost, interrupted


def _play_or_wait(run: Run, display: StatusLine) -> bool:
    """Start the run; if an interlock refuses it, say so (it starts once clear)."""
    result = run.control.play(source="terminal")
    if result.accepted:
        return True
    interlocks = run.control.status().interlocks
    if interlocks:
        ends = "a or Ctrl-C ends labrun" if display.keys else "Ctrl-C ends labrun"
        display.log(f"waiting for {', '.join(interlocks)} to clear before starting "
                    f"({result.reason}); {ends}")
        return False
    display.log(f"play refused: {result.reason}")
    return True


def _signals(controls: Controls, received: list[int]) -> contextlib.AbstractContextManager[None]:
    """Ctrl-C asks for a pause; SIGTERM and SIGHUP abort the run (with its cleanup); each
    signal handled is appended to ``received``."""
    def interrupt(signum: int, frame: object) -> None:
        received.append(signum)
        controls.interrupt()

    def terminate(signum: int, frame: object) -> None:
        received.append(signum)
        controls.terminate()

    return handling({signal.SIGINT: interrupt, **dict.fromkeys(TERMINATIONS, terminate)})


def show_events(display: StatusLine, events: queue.SimpleQueue[Event], log: TextLog) -> None:
    """Print what the run's record events waiting in ``events`` say, as ``labrun run``
    does while the run goes on: the log's lines above the live status line, which they
    update (the step, a delay skipped, a protocol's pause)."""
    while True:
        try:
            event = events.get_nowait()
        except queue.Empty:
            return
        if display.progress is not None:
            display.progress.robot_only.feed(event)
        if event["event"] == "step":
            display.step_recorded(int(event["index"]))
        elif event["event"] == "delay" and event["status"] == "skipped":
            display.delay_skipped(float(event["remaining"]))
        for text in log.feed(event):
            display.log(text)
        if (event["event"] == "status" and event["status"] == Status.PAUSED.value
                and event.get("pause_source") == "protocol"):
            display.bell(f"{' ' * 8}the protocol paused the run: {paused_hint(display.keys)}")
            continue
        line = event_line(event)
        if line is not None:
            display.log(f"[{clock(event['t']):>5}] {line}")
        if (event["event"] == "status" and event["status"] == Status.PAUSED.value
                and not display.keys):  # a pause from Ctrl-C, a client or the door
            display.log(f"{' ' * 8}{paused_hint(False)}")


def event_line(event: Event) -> str | None:
    """What ``labrun run`` prints as it happens of a record event (a status change, an
    interlock, a park or an unpark), or None for what the run log says."""
    kind = event["event"]
    if kind == "status":  # the error is printed once, at the end, on stderr
        text = f"status {event['status']}"
        by = event.get("pause_from") or event.get("pause_source")  # a client's: where from
        if by:
            text += f" {asked(by)}"
        if event.get("pause_also_for"):  # one pause for the protocol and a client
            text += f" (also the pause {asker(event['pause_also_for'])} asked for)"
        if event.get("reason"):
            text += f" ({event['reason']})"
        return text
    if kind == "interlock":
        return f"interlock {event['name']} {'active' if event['active'] else 'cleared'}"
    if kind == "park":
        kept = (f" (stopped where it was, not lifted clear of the deck: "
                f"{', '.join(event['stopped_by'])} active, nothing moves behind it)"
                if event.get("stopped_by") else
                " (above the well the tip last used: it holds liquid)"
                if event.get("over_last_well") else
                " (kept where it stopped: a tip holds liquid)" if event.get("kept_xy") else "")
        return f"parked at {_pos(event['parked'])}{kept}; recorded {_pos(event['recorded'])}"
    if kind == "unpark":
        if event.get("interrupted"):
            return f"unparking interrupted at {_pos(event['position'])}"
        if event.get("z_held"):  # a checkpoint: the tips go down only to act there
            return (f"unparked back to {_pos(event['position'])}; the tips stay up until a "
                    "command acts where they were")
        return f"unparked back to {_pos(event['position'])}"
    return None


def _print_summary(summary: dict[str, Any], record: str | None, labels: Labels,
                   times: RunTimes, out: TextIO) -> None:
    lines = summary_lines(summary, duration_label="duration", record=record, labels=labels,
                          all_wells="the record lists them" if record else
                          "--record FILE keeps them all", times=times)
    out.write("\n".join(lines) + "\n")
    out.flush()


def _pos(position: dict[str, float]) -> str:
    return " ".join(f"{axis} {value:.2f}" for axis, value in position.items())


def _bad_input(message: str, location: str | None) -> int:
    print(f"error: {location}: {message}" if location else f"error: {message}", file=sys.stderr)
    return BAD_INPUT_EXIT
