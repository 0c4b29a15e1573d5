"""``labrun simulate FILE``: run a protocol on the simulated robot's virtual clock."""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from engine.state import Status
from hardware.config import ConfigError, RobotConfig, default_config, load_config
from protocol_api.errors import ParameterError, ProtocolError
from protocol_api.execute import continue_when_stalled, create_run, protocol_error
from protocol_api.loader import LoadInterrupted, LocatedLoadError
from protocol_api.stray_errors import watch_stray_errors
from protocol_api.watchdog import DEFAULT_WATCHDOG_S, WATCHDOG_RANGE_S

from . import history, rehearsal, setup_sheet
from .closing import summary_lines
from .exits import BAD_INPUT_EXIT, FAILED_EXIT, INTERRUPTED_EXIT
from .labware_dirs import read_labware_dirs
from .outputs import (
    ProtocolStreams,
    is_standard_output,
    labrun_stdout,
    outputs_problem,
    protect_inputs,
    record_not_started,
    record_preparing,
    same_file,
)
from .params import add_param_option
from .report import TextLog, clock, printable, shortened_sheet
from .signals import Interrupts, abort_interrupted, ignore_interrupts, interrupts_ignored
from .simulating import (
    add_max_hours_option,
    limit_protocol_time,
    max_hours_problem,
    wait_for_simulation,
)

SUCCESS = (Status.SUCCEEDED, Status.STOPPED)


def add_parser(commands: Any) -> None:
    """Register the ``simulate`` sub-command."""
    parser = commands.add_parser(
        "simulate", help="simulate a protocol on the virtual clock",
        description="Simulate a protocol file; print its run log and how long it would take.")
    parser.add_argument("file", help="the protocol file (def run(ctx): ...)")
    parser.add_argument("--labware-dir", action="append", default=[], metavar="DIR",
                        help="a directory of custom labware definitions (JSON); repeatable")
    add_param_option(parser)
    parser.add_argument("--robot", metavar="ROBOT.toml", help="robot configuration to simulate")
    parser.add_argument("--record", metavar="PATH", help="write the run record (JSON Lines)")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document (with the setup sheet) instead of text")
    parser.add_argument("--deck", metavar="DECK.svg",
                        help="also draw the deck (labware, sources and destinations) as SVG")
    parser.add_argument("--at", action="append", default=[], metavar="WHEN:ACTION",
                        help="rehearse an intervention: WHEN is seconds of virtual time or "
                             "step=N; ACTION is pause, pause-immediate, resume, stop, abort, "
                             "halt, skip-delay, door-open or door-close (repeatable)")
    parser.add_argument("-v", "--verbose", action="count", default=0,
                        help="-v: also the commands each protocol call became; -vv: also "
                             "coordinates, flow rates and park positions")
    parser.add_argument("--watchdog", type=float, default=DEFAULT_WATCHDOG_S, metavar="SECONDS",
                        help="fail a protocol that makes no call for this many seconds of "
                             f"wall time (default {DEFAULT_WATCHDOG_S:g}; 0 turns it off)")
    add_max_hours_option(parser)
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.set_defaults(handler=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    """Simulate ``args.file``; return the exit status."""
    # With --json, stdout carries one JSON document: what the protocol prints goes to stderr.
    protocol_output = ProtocolStreams(stdout_to_stderr=args.json)
    # An output never replaces the protocol, nor a file it reads: not even the record of
    # a run refused at once (a bad --at)
    protect_inputs(args)
    try:
        interventions = [rehearsal.parse(text) for text in args.at]
    except rehearsal.RehearsalError as exc:
        return _bad_input(args, str(exc), None)
    # Said now, not after the run.
    problem = outputs_problem(args.file, {"the run record": args.record,
                                          "the deck picture": args.deck})
    if problem is None and args.json and args.record and is_standard_output(args.record):
        problem = (f"cannot write the run record {args.record}: it is standard output, "
                   "which --json keeps for its one document; write the record to a file")
    if problem is not None:  # a record still, where its path is not the problem
        clash = bool(args.record and args.deck and same_file(args.record, args.deck))
        return _bad_input(args, problem, None, record=not clash)
    record_preparing(args.file, args.record)  # an older one is gone, even on a kill -9
    shortest, longest = WATCHDOG_RANGE_S
    if not (args.watchdog == 0 or shortest <= args.watchdog <= longest):
        return _bad_input(args, f"--watchdog must be 0 (off) or from {shortest:g} to "
                                f"{longest:,.0f} seconds, not {args.watchdog:g}", None)
    problem = max_hours_problem(args.max_hours)
    if problem is not None:
        return _bad_input(args, problem, None)
    if args.json and args.verbose:
        print("warning: -v has no effect with --json: the document lists every command, "
              "with its parameters", file=sys.stderr)
    # Flat memory: the run keeps no history; the setup sheet, the log and the --json
    # document are built from its events as they happen (the log and the document
    # spooled to temporary files), and the record is written only where --record asks.
    return _simulate(args, protocol_output, interventions, args.record)


def _simulate(args: argparse.Namespace, protocol_output: ProtocolStreams,
              interventions: list[rehearsal.Intervention], record_path: str | None) -> int:
    # The streams labrun prints to: the protocol may replace or close sys.stdout and
    # sys.stderr (its own business), never labrun's results.
    stdout = protocol_output.stdout
    # Till labrun exits: the protocol's atexit callbacks run after its run.
    watch_stray_errors(str(Path(args.file).resolve()))
    loading = Interrupts()  # SIGTERM while the protocol loads: as Ctrl-C
    config = None  # the robot's, once read: a run that cannot start says so in its record
    try:
        config = load_config(args.robot) if args.robot else default_config()
        read_labware_dirs(args.labware_dir, sys.stderr)  # a bad directory is bad input
        with protocol_output, loading:
            run = create_run(args.file, config=config, record_path=record_path,
                             on_stalled=continue_when_stalled, labware_dirs=args.labware_dir,
                             watchdog_s=args.watchdog, keep_history=False,
                             watchdog_hint="the watchdog of simulate; --watchdog SECONDS "
                                           "sets the limit, 0 turns it off", params=args.param)
    except LoadInterrupted as exc:
        message = "interrupted (Ctrl-C) while the protocol's top level ran"
        return _bad_input(args, message, exc.location, config, status=INTERRUPTED_EXIT)
    except ParameterError as exc:  # a --param (the protocol's own are located load errors)
        return _bad_input(args, f"--param: {exc}", None, config)
    except (LocatedLoadError, ConfigError, ProtocolError) as exc:
        if args.debug:  # the traceback, and the record all the same
            _record_not_started(args, str(exc), getattr(exc, "location", None), config)
            raise
        return _bad_input(args, str(exc), getattr(exc, "location", None), config)
    except OSError as exc:  # the protocol was read: only the run record can be at fault
        if args.debug or not args.record:
            raise
        return _bad_input(args, f"cannot write the run record {args.record}: "
                                f"{exc.strerror or exc}", None, record=False)
    finally:
        loading.restore()
    gc.freeze()  # what loading made (definitions, modules) lives as long as the run
    builder = setup_sheet.SheetBuilder()  # built as the run goes: no second reading
    if run.record.first is not None:
        builder.add(run.record.first)  # the runtime parameters' values
    run.record.subscribe(builder.listen)  # before play: the protocol has made no call yet
    document: history.JsonDocument | None = None  # likewise what is printed: the --json
    log: history.SpooledLog | None = None  # document or the text log
    if args.json:
        document = history.JsonDocument()
        run.record.subscribe(document.listen)
    else:
        log = history.SpooledLog(TextLog(args.verbose, step_words=False))
        run.record.subscribe(log.listen)
    rehearsed = rehearsal.schedule(run, interventions, str(Path(args.file).resolve()))
    limit_protocol_time(run, str(Path(args.file).resolve()), args.max_hours, "simulate")
    interrupted = False
    interrupts = Interrupts()
    try:
        with protocol_output, interrupts:
            run.control.play(source="simulate")
            wait_for_simulation(run, sys.stderr)  # a progress line on a terminal
    except KeyboardInterrupt as exc:  # abort, naming the protocol line; then the summary
        interrupted = True
        abort_interrupted(run, str(Path(args.file).resolve()), exc)
    finally:
        with interrupts_ignored():  # a second Ctrl-C must not lose the log
            run.close()
        if interrupts.received:  # more of them, as the log and the summary are printed,
            ignore_interrupts()  # are ignored (and labrun exits 130), never cutting them
        else:
            interrupts.restore()
    summary = run.record.last or {}
    sheet = builder.sheet()
    deck_error = None
    if args.deck:
        from . import deck_svg  # only then: its escaping imports html

        try:
            deck_svg.write(args.deck, sheet)
        except OSError as exc:  # the folder went away during the run: the log still prints
            deck_error = f"cannot write the deck picture {args.deck}: {exc.strerror or exc}"
    unwritten: OSError | None = None
    try:
        if document is not None:
            document.write(stdout, {"setup": sheet})
        elif log is not None:
            for line in setup_sheet.text(shortened_sheet(sheet)):
                stdout.write(line + "\n")
            stdout.write("\nRun log\n")
            log.write(stdout)
            for line in summary_lines(summary, labels=log.labels):
                stdout.write(printable(line) + "\n")
        stdout.flush()
    except BrokenPipeError:  # `| head`: the reader has had enough; the status still counts
        sys.stdout = None  # nothing more to flush at exit
    except OSError as exc:  # a full disk: said after the run's error, which it must not hide
        unwritten = exc
    ended = clock(float(summary.get("duration_s") or 0.0))
    for item in rehearsed.pending:  # a rehearsal that did not happen must not pass unnoticed
        print(f"warning: the rehearsed {item.describe()} did not happen: the run ended "
              f"first (at {ended}, after {summary.get('steps', 0)} steps)", file=sys.stderr)
    for item, why in rehearsed.unchanged:
        print(f"warning: the rehearsed {item.describe()} changed nothing: {why}",
              file=sys.stderr)
    if summary["status"] == Status.FAILED.value:
        error = protocol_error(run)
        if args.debug and error is not None:
            import traceback

            traceback.print_exception(type(error), error, error.__traceback__, file=sys.stderr)
        where = f"{summary['location']}: " if summary.get("location") else ""
        print(printable(f"error: {where}{summary.get('error')}"), file=sys.stderr)
    if unwritten is not None:  # main says it
        raise unwritten
    if interrupted:
        print(f"error: {summary.get('reason')}", file=sys.stderr)
        return INTERRUPTED_EXIT
    if Status(summary["status"]) not in SUCCESS:
        return FAILED_EXIT
    if deck_error is not None:  # an output that cannot be written, as a full stdout
        print(f"error: {deck_error}", file=sys.stderr)
        return FAILED_EXIT
    return 0


def _record_not_started(args: argparse.Namespace, message: str, location: str | None,
                        config: RobotConfig | None) -> None:
    """A ``--record`` that says the run could not start, unless it is standard output
    that ``--json`` writes its document to."""
    if not (args.json and args.record and is_standard_output(args.record)):
        record_not_started(args.file, args.record, message, location, config)


def _bad_input(args: argparse.Namespace, message: str, location: str | None,
               config: RobotConfig | None = None, *, record: bool = True,
               status: int = BAD_INPUT_EXIT) -> int:
    """Exit ``status`` (2: bad input), said in one line (and, with ``--json``, a
    document); unless not ``record``, a ``--record`` that says the run could not start
    (on the robot of ``config``, None where it was not read), where that path can take
    it."""
    if record:
        _record_not_started(args, message, location, config)
    unwritten = None
    if args.json:
        # The documented document, for a run that never started.
        document = {
            "schema_version": history.JSON_SCHEMA_VERSION, "status": "failed",
            "final_status": "failed", "estimated_duration_s": 0.0, "commands": [], "steps": 0,
            "pauses": [], "pause_unresolved": False, "tips_used": 0, "well_volumes_ul": {},
            "status_changes": [], "parks": [], "actions": [], "pause_effects": [],
            "error": message, "location": location, "reason": None,
            "setup": setup_sheet.build(()),
        }
        unwritten = _write_document(document, labrun_stdout())
    print(printable(f"error: {location}: {message}" if location else f"error: {message}"),
          file=sys.stderr)
    if unwritten is not None:  # said after the error it was to carry (main says it)
        raise unwritten
    return status


def _write_document(document: dict[str, Any], stdout: TextIO) -> OSError | None:
    """Write ``document`` to ``stdout``; the error that stopped it (a full disk), or None,
    also when the reader has gone away (``| head``: it has had enough)."""
    try:
        json.dump(document, stdout, indent=2)
        stdout.write("\n")
        stdout.flush()
    except BrokenPipeError:
        sys.stdout = None  # nothing more to flush at exit
    except OSError as exc:
        return exc
    return None
