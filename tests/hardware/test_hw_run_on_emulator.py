"""Whole runs on the emulator, for each dialect, over a real socket: the engine on a real
clock drives ``GcodeController`` through ``ThreadedController`` (its connection lives in
a thread of its own, as in ``labrun run``).

Immediate pauses stop the axes mid-move and park where they should; resuming brings the
robot back to the position read back when it stopped; the door pauses the run (and on
GRBL, which holds motion itself while it is open, parking moves nothing); dropped
connections and silence end the run ``failed`` with a clear error and a complete record.
"""

from __future__ import annotations

import re
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from labrun_protocols import (
    ASPIRATE_LINE,
    LONG_MOVE,
    LONG_MOVE_WITH_TIP,
    SLOW_TRANSFER,
    aspirating_at,
    hops,
)
from motion_trace import PhysicalTrace, TracedController, TraceItem, follow_record

from engine.record import read_record
from engine.run import Run
from engine.state import Status
from hardware.config import RobotConfig
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.emulator.firmware.marlin import MarlinFirmware
from hardware.emulator.server import LinkKind
from hardware.factory import emulator_config
from hardware.frozen import replace
from hardware.gcode import GcodeController
from hardware.robot import open_robot
from labrun.cli.driver_warnings import driver_warnings
from protocol_api.execute import create_run

DIALECTS = ("grbl", "marlin", "smoothie")
SPEED = 50.0
WAIT_S = 15.0
TOLERANCE = {"grbl": 2e-3, "marlin": 0.011, "smoothie": 1e-3}
"""Resolution of the G1 targets (3 decimals) and of each firmware's position reports
(3, 2 and 4 decimals), with a margin."""


MOVES = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right")
    for well in ("A1", "H12", "A12", "H1") * 3:
        p300.move_to(plate[well].top(30))
'''

# Short hops at full speed near the home corner (slot 9): no move waits long.
HOPS = hops(20)

TARGET_X = 14.38 + 0.0  # slot 1 A1 (the right mount has no X offset)
STOPS_EARLY = ("grbl", "marlin")
"""The dialects whose move an immediate pause cuts short: Smoothieware's feed hold lets
the move under way run to its end, so the pause comes after it."""


@pytest.fixture(params=DIALECTS)
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class RobotRun:
    """A run of a protocol file on an emulated controller, and what it talks to."""

    def __init__(self, emulator: EmulatorHandle, run: Run, inner: GcodeController,
                 config: RobotConfig, record: Path) -> None:
        self.emulator = emulator
        self.run = run
        self.inner = inner
        self.config = config
        self.record = record
        self.control = run.control

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """The record so far (in memory: the file is written before each wait)."""
        events = list(self.run.record.events)
        return [e for e in events if kind is None or e["event"] == kind]

    def file_events(self) -> list[dict[str, Any]]:
        """The record as written to its file."""
        return read_record(self.record)

    def wait_until(self, predicate: Callable[[], bool], what: str) -> None:
        """Poll the emulator (another thread) until ``predicate()``; bounded."""
        deadline = time.monotonic() + WAIT_S
        while not predicate():
            assert time.monotonic() < deadline, f"timed out waiting for {what}"
            time.sleep(0.002)

    def moving_x_below(self, x: float) -> bool:
        machine = self.emulator.emulator.machine
        return self.emulator.call(lambda: machine.moving and machine.position["X"] < x)

    def moving_in(self, kind: str) -> bool:
        """True once the first command of type ``kind`` has started and the robot moves."""
        events = self.events("command")
        ids = {e["id"] for e in events if e["status"] == "queued" and e["type"] == kind}
        started = any(e["status"] == "started" and e["id"] in ids for e in events)
        machine = self.emulator.emulator.machine
        return started and self.emulator.call(lambda: machine.moving)

    def pause_mid_long_move(self) -> None:
        """Play ``LONG_MOVE`` and pause it immediately once the move is well under way."""
        self.control.play()
        self.wait_until(lambda: self.moving_x_below(350.0), "the long move")
        assert self.control.pause("immediate").accepted
        self.control.wait_until_paused(WAIT_S)


@contextmanager
def robot_run(tmp_path: Path, dialect: str, protocol: str, *, timeout_s: float = 2.0,
              speed: float = SPEED, trace: list[TraceItem] | None = None,
              link: LinkKind = "tcp", **firmware: Any) -> Iterator[RobotRun]:
    tmp_path.mkdir(parents=True, exist_ok=True)
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(protocol))
    record = tmp_path / "record.jsonl"
    base = emulator_config(dialect)
    with running_emulator(dialect, speed=speed, config=base, link=link, **firmware) as emu:
        config = replace(base, controller=replace(
            base.controller, port=emu.address, timeout_s=timeout_s))
        robot = open_robot(config)
        inner = robot.driver
        assert isinstance(inner, GcodeController)
        try:
            robot.connect()
            robot.home()
            driven: Any = (robot.controller if trace is None
                           else TracedController(robot.controller, trace))
            run = create_run(path, config=config, controller=driven, clock=robot.clock,
                             record_path=record, simulating=False)
            if trace is not None:
                follow_record(run, trace)
            try:
                yield RobotRun(emu, run, inner, config, record)
            finally:
                run.close()
        finally:
            robot.close()


def assert_stopped(x: float, above: float, below: float, dialect: str) -> None:
    """A move to ``TARGET_X`` that a pause caught below ``below`` stopped between
    ``above`` and ``below``; on Smoothieware it ran to its end."""
    if dialect in STOPS_EARLY:
        assert above < x < below
    else:
        assert x == pytest.approx(TARGET_X, abs=TOLERANCE[dialect])


def close_to(a: dict[str, float], b: dict[str, float], dialect: str,
             axes: str = "XYZA") -> bool:
    return all(abs(a[axis] - b[axis]) <= TOLERANCE[dialect] for axis in axes)


# -- a protocol end to end ----------------------------------------------------------------


def test_a_protocol_runs_end_to_end(tmp_path: Path, dialect: str) -> None:
    with robot_run(tmp_path, dialect, MOVES) as robot:
        assert robot.control.play().accepted
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.SUCCEEDED, final
        robot.run.close()
        events = robot.file_events()
        assert events[-1]["event"] == "summary" and events[-1]["status"] == "succeeded"
        kinds = {e["id"]: e["type"] for e in events
                 if e["event"] == "command" and e["status"] == "queued"}
        done = [kinds[e["id"]] for e in events
                if e["event"] == "command" and e["status"] == "completed"]
        assert done.count("moveTo") == 12 and len(done) == len(kinds)
        # The axes are where the engine believes they are: H1's top, lifted to safe height.
        here = robot.emulator.position()
        assert here["A"] == pytest.approx(robot.config.safe_height, abs=TOLERANCE[dialect])
        assert close_to(here, final.position, dialect, "XY")


# -- immediate pause mid-move, parking, resume --------------------------------------------


def test_immediate_pause_mid_move_parks_and_resume_returns_to_the_read_back_position(
        tmp_path: Path, dialect: str) -> None:
    # The step has picked up a tip, so it is not rewound: resume returns to where it stopped.
    with robot_run(tmp_path, dialect, LONG_MOVE_WITH_TIP) as robot:
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(200.0), "the long move")
        assert robot.control.pause("immediate").accepted
        paused = robot.control.wait_until_paused(WAIT_S)
        assert paused.status is Status.PAUSED and paused.parked
        # Stopped mid-move: the recorded position is the one read back, short of the target.
        park = robot.events("park")[-1]
        recorded, parked = park["recorded"], park["parked"]
        assert_stopped(recorded["X"], TARGET_X + 20, 200.0, dialect)
        interrupted = [e for e in robot.events("pause_effect") if e["effect"] == "interrupted"]
        assert close_to(interrupted[-1]["position"], recorded, dialect)
        # Parked: Z up at the safe height, the gantry at the park position; really there.
        assert (parked["X"], parked["Y"]) == pytest.approx(robot.config.park_position,
                                                          abs=TOLERANCE[dialect])
        assert parked["A"] == pytest.approx(robot.config.safe_height, abs=TOLERANCE[dialect])
        assert close_to(robot.emulator.position(), parked, dialect)
        assert robot.emulator.call(lambda: robot.emulator.emulator.machine.idle)
        # Resume: back to the recorded position first, then the step again, to the end.
        assert robot.control.resume().accepted
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.SUCCEEDED, final
        unpark = robot.events("unpark")[-1]
        assert close_to(unpark["position"], recorded, dialect) and not unpark.get("rewind")
        effects = [e["effect"] for e in robot.events("pause_effect")]
        assert effects == ["interrupted", "completed after pause"]
        statuses = [e["status"] for e in robot.events("status")]
        assert statuses[:4] == ["running", "pausing", "paused", "running"]


@pytest.mark.parametrize("dialect", ["grbl", "smoothie"])  # the dialects of <...> reports
def test_an_immediate_pause_among_damaged_status_reports_parks_from_the_true_position(
        tmp_path: Path, dialect: str) -> None:
    # A noisy line (or grbl-sim's interleaved output) damages status reports: the state
    # runs into the next field, a coordinate loses its decimal point, a field name a
    # letter. Nothing in them is believed; the driver asks again, and the pause reads
    # back where the gantry really stopped.
    with robot_run(tmp_path, dialect, LONG_MOVE_WITH_TIP) as robot:
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(200.0), "the long move")
        robot.emulator.faults.garble_status_next = 12
        assert robot.control.pause("immediate").accepted
        paused = robot.control.wait_until_paused(WAIT_S)
        assert paused.status is Status.PAUSED and paused.parked, paused
        recorded = robot.events("park")[-1]["recorded"]
        assert_stopped(recorded["X"], TARGET_X + 20, 200.0, dialect)
        assert robot.config.out_of_travel(recorded) is None, recorded
        assert robot.emulator.stats.status_garbled > 0
        link = robot.inner.link
        robot.wait_until(lambda: link.garbled_reports == robot.emulator.stats.status_garbled,
                         "the damaged reports to be read")
        # Resume goes back to that position, and the run ends as it would have.
        assert robot.control.resume().accepted
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.SUCCEEDED, final
        assert close_to(robot.events("unpark")[-1]["position"], recorded, dialect)


def test_a_pause_while_paused_is_refused_and_nothing_moves(
        tmp_path: Path, dialect: str) -> None:
    with robot_run(tmp_path, dialect, LONG_MOVE) as robot:
        robot.pause_mid_long_move()
        lines = len(robot.emulator.stats.lines)
        refused = robot.control.pause("immediate")
        assert not refused.accepted and refused.reason
        assert robot.emulator.call(lambda: robot.emulator.emulator.machine.idle)
        motion = [line for line in robot.emulator.stats.lines[lines:] if "G1" in line]
        assert motion == []
        robot.control.stop()
        assert robot.run.wait(WAIT_S).status is Status.STOPPED


# -- the door -------------------------------------------------------------------------------


def test_the_door_pauses_the_run_and_parking_moves_nothing_behind_it(
        tmp_path: Path, dialect: str) -> None:
    with robot_run(tmp_path, dialect, LONG_MOVE) as robot:
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(300.0), "the long move")
        robot.emulator.set_door(True)
        paused = robot.control.wait_until_paused(WAIT_S)
        assert paused.status is Status.PAUSED, paused
        assert paused.pause_source == "interlock" and paused.interlocks == ("door",)
        park = robot.events("park")[-1]
        recorded, parked = park["recorded"], park["parked"]
        assert_stopped(recorded["X"], TARGET_X, 300.0, dialect)
        # Nothing moves behind the open door: GRBL holds motion itself (parking did not
        # fail the run trying to move it); Marlin and Smoothie would move, labrun does not.
        assert close_to(parked, recorded, dialect)
        assert close_to(robot.emulator.position(), parked, dialect)
        refused = robot.control.resume()
        assert not refused.accepted and "door" in (refused.reason or "")
        robot.emulator.set_door(False)
        robot.control.wait_for(lambda s: not s.interlocks, WAIT_S)
        assert robot.control.resume().accepted
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.SUCCEEDED, final
        # A step of moves only is rewound: back to its checkpoint, then the move again.
        unpark = robot.events("unpark")[-1]
        assert unpark["rewind"] is True
        assert close_to(unpark["position"], unpark["recorded"], dialect)


def test_an_abort_behind_an_open_door_leaves_the_robot_and_the_summary_says_so(
        tmp_path: Path, dialect: str) -> None:
    # GRBL holds motion itself; Marlin and Smoothie would move: labrun moves none of them.
    with robot_run(tmp_path, dialect, LONG_MOVE) as robot:
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(300.0), "the long move")
        robot.emulator.set_door(True)
        robot.control.wait_until_paused(WAIT_S)
        parked = robot.emulator.position()
        assert robot.control.abort("the plate tipped over").accepted
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.ABORTED, final
        summary = robot.events("summary")[-1]
        assert summary["cleanup_skipped"] == "the door held motion"
        assert robot.events("cleanup")[-1]["skipped"] is True
        assert close_to(robot.emulator.position(), parked, dialect)


# -- Marlin's board: its LCD's Pause, Resume and Stop print ------------------------------------


def marlin_of(robot: RobotRun) -> MarlinFirmware:
    firmware = robot.emulator.emulator.firmware
    assert isinstance(firmware, MarlinFirmware)
    return firmware


def board_actions(robot: RobotRun) -> list[tuple[str, str | None, bool, str | None]]:
    """The record's actions from the robot's board: (action, option, accepted, refusal)."""
    return [(e["action"], e.get("option"), e["accepted"], e["refusal"])
            for e in robot.events("action") if e["source"] == "board"]


RUNNING = ("Pause print", "Stop print")
PAUSED = ("Resume print",)


def offered(robot: RobotRun) -> tuple[str, ...]:
    """What the Marlin's LCD menu offers for a print now (its print job timer says)."""
    marlin = marlin_of(robot)
    return robot.emulator.call(lambda: marlin.lcd_items)


def sent_lines(robot: RobotRun) -> list[str]:
    """The lines the board took, without their numbers and checksums."""
    return [line.partition(" ")[2].partition("*")[0] if line.startswith("N") else line
            for line in robot.emulator.stats.lines]


def job_lines(robot: RobotRun) -> list[str]:
    """The print job timer's lines the board took, in order."""
    return [line for line in sent_lines(robot) if line in ("M75", "M76", "M77")]


def assert_no_job_after_the_run(robot: RobotRun) -> None:
    """The LCD offers nothing once the run has ended: its print job timer is stopped."""
    assert offered(robot) == ()
    assert robot.emulator.call(lambda: marlin_of(robot).job_timer) == "stopped"


def test_a_pause_at_marlins_board_parks_and_a_resume_there_goes_on_where_it_stopped(
        tmp_path: Path) -> None:
    # Over a pseudo-terminal, as a board on USB. The step has picked up a tip, so it is
    # not rewound: the resume brings the robot back to where the pause stopped it.
    with robot_run(tmp_path, "marlin", LONG_MOVE_WITH_TIP, link="pty") as robot:
        marlin = marlin_of(robot)
        assert offered(robot) == ()  # no run yet: nothing to pause or stop
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(200.0), "the long move")
        assert offered(robot) == RUNNING
        assert robot.emulator.run(marlin.lcd_pause)  # its prompt and notification with it
        paused = robot.control.wait_until_paused(WAIT_S)
        assert paused.status is Status.PAUSED and paused.parked
        assert (paused.pause_source, paused.pause_from) == ("client", "board")
        assert offered(robot) == PAUSED  # as soon as the run says it is paused
        # Immediate: it stopped mid-move, short of the target, and parked.
        park = robot.events("park")[-1]
        recorded, parked = park["recorded"], park["parked"]
        assert_stopped(recorded["X"], TARGET_X + 20, 200.0, "marlin")
        assert (parked["X"], parked["Y"]) == pytest.approx(robot.config.park_position,
                                                          abs=TOLERANCE["marlin"])
        assert close_to(robot.emulator.position(), parked, "marlin")
        assert robot.emulator.run(marlin.lcd_resume)
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.SUCCEEDED, final
        assert_no_job_after_the_run(robot)
        assert job_lines(robot) == ["M75", "M76", "M75", "M77"]
        unpark = robot.events("unpark")[-1]
        assert close_to(unpark["position"], recorded, "marlin") and not unpark.get("rewind")
        effects = [e["effect"] for e in robot.events("pause_effect")]
        assert effects == ["interrupted", "completed after pause"]
        assert board_actions(robot) == [("pause", "immediate", True, None),
                                        ("resume", None, True, None)]
        paused_event = [e for e in robot.file_events()
                        if e["event"] == "status" and e["status"] == "paused"][-1]
        assert paused_event["pause_from"] == "board"


def test_a_pause_on_a_marlin_without_tmc_drivers_is_said_once_and_the_run_goes_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Marlin without TMC drivers answers M906 'echo:Unknown command: "M906 ..."' and ok:
    # the driver took the ok, so the plungers' lower current while parked, and the run
    # current at the unpark, were said to be set and were not, without a word.
    with driver_warnings(), robot_run(tmp_path, "marlin", LONG_MOVE_WITH_TIP, link="pty",
                                      tmc_drivers=False) as robot:
        robot.pause_mid_long_move()
        paused = robot.control.wait_until_paused(WAIT_S)
        assert paused.status is Status.PAUSED and paused.parked
        assert robot.control.resume().accepted
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.SUCCEEDED, final
        port = robot.inner.port
        assert robot.file_events()[-1]["status"] == "succeeded"
        assert [e["effect"] for e in robot.events("pause_effect")] == [
            "interrupted", "completed after pause"]
        currents = [line for line in sent_lines(robot) if line.startswith("M906")]
    # Asked once, to lower them while parked; not again at the unpark.
    assert currents == ["M906 B50 C50"]
    assert capsys.readouterr().err.splitlines() == [
        f"warning: the Marlin at {port} does not know M906 (built without TMC drivers?): "
        "it answered 'M906 B50 C50' with 'echo:Unknown command: \"M906 B50 C50\"'; labrun "
        "sends it no more on this connection: the motors keep the current the board gives "
        "them, while parked too"]


def test_a_stop_at_marlins_board_ends_the_run_stopped_with_its_cleanup(
        tmp_path: Path) -> None:
    with robot_run(tmp_path, "marlin", LONG_MOVE_WITH_TIP) as robot:
        robot.control.play()
        robot.wait_until(lambda: robot.moving_in("moveTo"), "the long move, with the tip")
        assert offered(robot) == RUNNING
        assert robot.emulator.run(marlin_of(robot).lcd_stop)  # its prompt, its notification
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.STOPPED, final
        assert_no_job_after_the_run(robot)
        # (Marlin's Stop print stopped its timer already; labrun's M77 changes nothing)
        assert job_lines(robot) == ["M75", "M77"]
        assert board_actions(robot) == [("stop", None, True, None)]
        events = robot.file_events()
        cleanup = [e for e in events if e["event"] == "command" and e.get("origin") == "cleanup"
                   and e["status"] == "queued"]
        assert [e["type"] for e in cleanup] == ["dropTip"]  # the tip into the trash
        home = {axis: axis_config.home for axis, axis_config in robot.config.axes.items()}
        assert close_to(robot.emulator.position(), home, "marlin")  # and home
        assert events[-1]["event"] == "summary" and events[-1]["status"] == "stopped"


def test_a_resume_at_marlins_board_behind_the_open_door_is_refused_and_nothing_moves(
        tmp_path: Path) -> None:
    with robot_run(tmp_path, "marlin", LONG_MOVE) as robot:
        marlin = marlin_of(robot)
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(300.0), "the long move")
        robot.emulator.set_door(True)
        robot.control.wait_until_paused(WAIT_S)
        assert offered(robot) == PAUSED  # as soon as the run says it is paused
        lines = len(robot.emulator.stats.lines)
        assert robot.emulator.run(marlin.lcd_resume)  # Marlin's timer runs again...
        robot.wait_until(lambda: bool(board_actions(robot)), "the board's resume")
        assert board_actions(robot) == [
            ("resume", None, False,
             "interlock door is active; resume is refused until it clears")]
        status = robot.control.status()
        assert status.status is Status.PAUSED and status.pause_source == "interlock"
        # ...and is paused again: the LCD offers Resume print once more, not Pause print
        robot.wait_until(lambda: offered(robot) == PAUSED, "the LCD to offer Resume again")
        motion = [line for line in robot.emulator.stats.lines[lines:] if "G1" in line]
        assert motion == []
        robot.emulator.set_door(False)
        robot.control.wait_for(lambda s: not s.interlocks, WAIT_S)
        assert robot.emulator.run(marlin.lcd_resume)
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.SUCCEEDED, final
        assert [accepted for _, _, accepted, _ in board_actions(robot)] == [False, True]
        assert_no_job_after_the_run(robot)
        assert job_lines(robot) == ["M75", "M76", "M76", "M75", "M77"]


def test_a_clients_pause_makes_marlins_lcd_offer_resume_print_which_resumes_the_run(
        tmp_path: Path) -> None:
    """A pause from anywhere pauses the board's print job timer once the robot has stopped
    and parked: the LCD offers Resume print, not Pause or Stop print; the job's lines go
    after the quickstop and never hold motion up."""
    with robot_run(tmp_path, "marlin", LONG_MOVE) as robot:
        robot.pause_mid_long_move()  # a client's immediate pause
        assert offered(robot) == PAUSED  # as soon as the run says it is paused
        assert not robot.emulator.run(marlin_of(robot).lcd_pause)  # not on the menu
        assert not robot.emulator.run(marlin_of(robot).lcd_stop)
        lines = sent_lines(robot)
        quickstop, paused = lines.index("M410"), lines.index("M76")
        park = [i for i, line in enumerate(lines) if line.startswith("G1")][-1]
        assert quickstop < park < paused  # stopped, parked, then the timer paused
        assert robot.emulator.run(marlin_of(robot).lcd_resume)
        robot.wait_until(lambda: robot.control.status().status is not Status.PAUSED,
                         "the board's resume")
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.SUCCEEDED, final
        assert board_actions(robot) == [("resume", None, True, None)]
        assert_no_job_after_the_run(robot)
        assert job_lines(robot) == ["M75", "M76", "M75", "M77"]
        lines = sent_lines(robot)
        ended = lines.index("M77")
        # the timer stops as the run ends, before its closing moves
        assert [line for line in lines[ended:] if line.startswith(("G1", "G28"))] != []


# -- halt -----------------------------------------------------------------------------------

POSITION_UNKNOWN = "position unknown after the emergency stop: home before moving"


def test_a_halt_mid_move_reports_where_the_axes_stopped_or_that_no_one_knows(
        tmp_path: Path, dialect: str) -> None:
    # GRBL's and Smoothieware's status report still answer after their emergency stop:
    # the position is where the axes stopped. Marlin answers nothing after M112, and the
    # robot model's position is where the move began, far from the axes: no position is
    # given, the status, the record and the summary say it is unknown.
    with robot_run(tmp_path, dialect, LONG_MOVE) as robot:
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(300.0), "the long move")
        assert robot.control.halt().accepted
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.HALTED, final
        stopped = robot.emulator.position()
        assert TARGET_X + 20 < stopped["X"] < 300.0  # halted well short of the target
        (estop,) = robot.events("emergency_stop")
        summary = robot.events("summary")[-1]
        if dialect == "marlin":
            # M112 killed the board, and its print job timer: nothing is sent after it
            assert_no_job_after_the_run(robot)
            assert job_lines(robot) == ["M75"]
            assert final.position == {} and final.position_unknown == POSITION_UNKNOWN
            assert estop["position_unknown"] == POSITION_UNKNOWN and "position" not in estop
            assert summary["position_unknown"] == POSITION_UNKNOWN
        else:
            assert final.position_unknown is None
            assert close_to(final.position, stopped, dialect)
            assert close_to(estop["position"], stopped, dialect)
            assert "position_unknown" not in summary


def test_a_halt_on_a_board_gone_silent_after_its_stop_ends_at_once_position_unknown(
        tmp_path: Path) -> None:
    # The board confirms its emergency stop, then answers nothing. The position is asked
    # for a second, not for the link's whole timeout (which would also fail the link).
    with robot_run(tmp_path, "grbl", LONG_MOVE, timeout_s=8.0) as robot:
        robot.emulator.faults.silent_after_reset = True
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(300.0), "the long move")
        asked = time.monotonic()
        assert robot.control.halt().accepted
        final = robot.run.wait(WAIT_S)
        took = time.monotonic() - asked
        assert final.status is Status.HALTED and final.outcome is not None
        assert final.outcome.reason is None  # the stop was confirmed
        assert final.position == {} and final.position_unknown == POSITION_UNKNOWN
        (estop,) = robot.events("emergency_stop")
        assert estop["confirmed"] and estop["position_unknown"] == POSITION_UNKNOWN
        assert took < 5.0, took  # the link's timeout is 8 s
        assert robot.inner.link.fault is None



def test_a_halt_on_a_serial_line_the_board_holds_ends_halted_saying_the_stop_was_not_sent(
        tmp_path: Path) -> None:
    # The board holds its line mid-move (flow control, a USB firmware that stopped
    # reading): the halt waits for the line its timeout, without freezing the driver,
    # then the run ends halted, saying the stop was not sent, on which port, and why.
    with robot_run(tmp_path, "grbl", LONG_MOVE, link="pty") as robot:
        port = robot.config.controller.port
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(300.0), "the long move")
        robot.emulator.hold_line(True)
        assert robot.control.halt().accepted
        final = robot.run.wait(WAIT_S)
        robot.emulator.hold_line(False)
        robot.run.close()
        events = robot.file_events()
    jammed = (f"lost {port}: a write waited 2 s for the line to take it (the controller "
              "stopped reading its line: it hangs, or holds the line with flow control)")
    assert final.status is Status.HALTED and final.outcome is not None
    assert final.outcome.reason == (
        f"the controller did not confirm the emergency stop (the emergency stop was not "
        f"sent: {jammed}): it may still be moving; cut its power")
    failures = [(e["location"], e["error"]) for e in events if e["event"] == "failure"]
    assert ("emergency stop", f"the emergency stop was not sent: {jammed}") in failures
    (estop,) = [e for e in events if e["event"] == "emergency_stop"]
    assert estop["confirmed"] is False
    assert estop["position_unknown"] == POSITION_UNKNOWN
    assert events[-1]["event"] == "summary" and events[-1]["status"] == "halted"


# -- faults ---------------------------------------------------------------------------------


def assert_failed_with_complete_record(robot: RobotRun, pattern: str) -> str:
    final = robot.run.wait(WAIT_S)
    assert final.status is Status.FAILED, final
    assert final.outcome is not None and final.outcome.error
    robot.run.close()
    events = robot.file_events()
    assert [(e["seq"], e["event"]) for e in events] == [
        (e["seq"], e["event"]) for e in robot.events()]  # every event reached the file
    summary = events[-1]
    assert summary["event"] == "summary" and summary["status"] == "failed"
    assert [e["seq"] for e in events] == list(range(len(events)))
    statuses = [e["status"] for e in events if e["event"] == "status"]
    assert statuses[-1] == "failed"
    assert re.search(pattern, summary["error"]), summary["error"]
    # No command is left without an ending.
    last: dict[int, str] = {}
    for event in events:
        if event["event"] == "command":
            last[event["id"]] = event["status"]
    assert not [i for i, s in last.items() if s in ("queued", "started")], last
    return str(summary["error"])


def test_a_dropped_connection_ends_the_run_failed(tmp_path: Path, dialect: str) -> None:
    # The link's timeout far longer than the bound: noticed at once, not by the timeout,
    # with room for a busy machine.
    with robot_run(tmp_path, dialect, MOVES, timeout_s=10.0) as robot:
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(400.0), "a move")
        started = time.monotonic()
        robot.emulator.drop_connection()
        error = assert_failed_with_complete_record(robot, r"closed the connection|lost")
        assert "tcp://127.0.0.1" in error
        assert "Error" not in error  # words, not the name of a class of labrun's libraries
        assert time.monotonic() - started < 6.0  # noticed at once, not by a timeout


def test_a_silent_controller_ends_the_run_failed_after_its_timeout(
        tmp_path: Path, dialect: str) -> None:
    with robot_run(tmp_path, dialect, HOPS, timeout_s=0.5) as robot:
        robot.control.play()
        robot.wait_until(lambda: robot.moving_x_below(400.0), "a move")
        started = time.monotonic()
        robot.emulator.faults.silent = True
        assert_failed_with_complete_record(
            robot, r"no answer|no status report|timed out|stopped answering")
        # The timeout, plus the motion time the driver allows the move in flight (the
        # default timeout, 10 s, would be later than this bound).
        assert time.monotonic() - started < 8.0


def test_an_error_reply_ends_the_run_failed_naming_the_line(tmp_path: Path) -> None:
    with robot_run(tmp_path, "marlin", LONG_MOVE) as robot:
        robot.control.play()
        # the first move's G1 taken and its M400 sent: the next line is the next move's
        robot.wait_until(lambda: robot.moving_x_below(300.0), "the long move")
        robot.emulator.faults.error_next = 1
        assert_failed_with_complete_record(robot, r"rejected 'G1")


def test_an_error_reply_to_the_print_job_timer_ends_the_run_as_any_line_does(
        tmp_path: Path) -> None:
    # M75 is the first line a run sends to a Marlin: rejected, the run fails before any
    # move of the protocol, and its ending stops the timer, then cleans up, as for any
    # failure
    with robot_run(tmp_path, "marlin", MOVES) as robot:
        sent = len(robot.emulator.stats.lines)
        robot.emulator.faults.error_next = 1
        robot.control.play()
        assert_failed_with_complete_record(robot, r"rejected 'M75'")
        assert job_lines(robot) == ["M75", "M77"]
        lines = sent_lines(robot)[sent:]
        moves = [i for i, line in enumerate(lines) if line.startswith("G1")]
        assert lines[0] == "M75" and moves and lines.index("M77") < moves[0]


def test_a_flow_rate_slower_than_the_firmware_moves_fails_the_run_at_its_line(
        tmp_path: Path) -> None:
    with robot_run(tmp_path, "marlin", aspirating_at(0.0001)) as robot:
        robot.control.play()
        error = assert_failed_with_complete_record(
            robot, r"aspirate at 0.000495 mm/s is slower than the robot.s controller moves")
        outcome = robot.run.wait(WAIT_S).outcome
        assert outcome is not None and str(outcome.location).endswith(
            f"protocol.py:{ASPIRATE_LINE}")
        commands = [e for e in robot.file_events() if e["event"] == "command"]
        [aspirate] = [e["id"] for e in commands if e.get("type") == "aspirate"]
        assert [e["status"] for e in commands if e["id"] == aspirate] == [
            "queued", "started", "failed"], error
        feeds = robot.emulator.call(lambda: robot.emulator.emulator.firmware.feed_mm_per_min)
        assert feeds is not None and feeds > 1.0  # never sent: the last speed is a move's


def test_a_connection_dropped_while_paused_fails_the_run_at_once(
        tmp_path: Path, dialect: str) -> None:
    with robot_run(tmp_path, dialect, LONG_MOVE, timeout_s=10.0) as robot:
        robot.pause_mid_long_move()
        started = time.monotonic()
        robot.emulator.drop_connection()
        # Nobody resumes: the parked run learns of it from the reader, not at resume.
        error = assert_failed_with_complete_record(robot, r"closed the connection|lost")
        assert time.monotonic() - started < 6.0  # not by the link's timeout, 10 s
        assert "while the run waited" in error
        assert not robot.control.resume().accepted
        failures = robot.events("failure")
        assert failures[0]["location"] is None


def test_a_controller_gone_silent_while_paused_fails_the_run_within_its_timeout(
        tmp_path: Path, dialect: str) -> None:
    # Asked for its status (GRBL, Smoothieware) or, idle, for its position (Marlin):
    # a robot that answers nothing is known lost while nobody resumes.
    with robot_run(tmp_path, dialect, LONG_MOVE, timeout_s=0.5) as robot:
        robot.pause_mid_long_move()
        started = time.monotonic()
        robot.emulator.faults.silent = True
        error = assert_failed_with_complete_record(
            robot, r"stopped answering|no answer|timed out")
        assert time.monotonic() - started < 8.0  # the default timeout is 10 s
        assert "while the run waited" in error
        assert robot.events("failure")[0]["location"] is None


# -- pause safety on the real driver path (docs/design.md §4) -----------------------------

_TWINS: dict[str, PhysicalTrace] = {}


def traced_transfer(tmp_path: Path, dialect: str, pause_in: str | None) -> PhysicalTrace:
    """Run ``SLOW_TRANSFER`` on the emulator, pausing immediately in ``pause_in`` (a
    command type) once the robot moves for it; the physical trace of the run."""
    trace: list[TraceItem] = []
    with robot_run(tmp_path, dialect, SLOW_TRANSFER, speed=20.0,
                   trace=trace) as robot:
        robot.control.play()
        if pause_in is not None:
            robot.wait_until(lambda: robot.moving_in(pause_in), f"{pause_in} under way")
            assert robot.control.pause("immediate").accepted
            assert robot.control.wait_until_paused(WAIT_S).parked
            effects = [e["effect"] for e in robot.events("pause_effect")]
            assert effects == ["interrupted"]
            assert robot.control.resume().accepted
        final = robot.run.wait(WAIT_S)
        assert final.status is Status.SUCCEEDED, final
        if pause_in is not None:  # the step had touched tips: never rewound
            effects = [e["effect"] for e in robot.events("pause_effect")]
            assert effects == ["interrupted", "completed after pause"]
            assert not any(e.get("rewind") for e in robot.events("unpark"))
        config = robot.config
    return PhysicalTrace(config, trace, xy_decimals=1, z_tolerance=TOLERANCE[dialect])


@pytest.mark.parametrize("pause_in", ["pickUpTip", "aspirate", "moveTo"])
def test_an_immediate_pause_mid_pick_up_aspirate_or_move_with_a_tip_changes_no_contact(
        tmp_path: Path, pause_in: str) -> None:
    dialect = "grbl"
    if dialect not in _TWINS:
        _TWINS[dialect] = traced_transfer(tmp_path / "twin", dialect, None)
    twin = _TWINS[dialect]
    paused = traced_transfer(tmp_path, dialect, pause_in)
    assert paused.rounded_contacts(1) == twin.rounded_contacts(1)
    assert paused.floor_violations(twin) == []
