"""The dialects' formatting and parsing, without any I/O."""

from __future__ import annotations

import pytest

from hardware.config import default_config
from hardware.gcode import Grbl, Marlin, Smoothie, default_axis_map, get_dialect
from hardware.gcode.dialects import checksum
from hardware.gcode.dialects.marlin import emergency_parser_of
from hardware.gcode.events import (
    Alarm,
    BoardRequest,
    Busy,
    Error,
    Garbled,
    Halted,
    Info,
    InterlockChange,
    MoveRefused,
    Ok,
    PositionReport,
    Resend,
    Restarted,
    Status,
    Unhalted,
    UnknownCommand,
)


def test_get_dialect_by_name() -> None:
    assert isinstance(get_dialect("GRBL"), Grbl)
    assert isinstance(get_dialect("marlin"), Marlin)
    smoothie = get_dialect("smoothie", feed_hold=False, realtime_status=False)
    assert isinstance(smoothie, Smoothie)
    assert smoothie.feed_hold is None and smoothie.status_query is None
    assert smoothie.position_line() == "M114.2"  # machine coordinates
    with pytest.raises(ValueError, match="unknown G-code dialect 'repetier'"):
        get_dialect("repetier")


# -- GRBL -------------------------------------------------------------------------------

def test_grbl_formats() -> None:
    grbl = Grbl()
    assert grbl.move_line({"X": 10, "Y": -2.5}, 6000) == "G53 G1 X10.000 Y-2.500 F6000.0"
    assert grbl.home_lines(None) == ["$H"]
    assert grbl.home_lines(["Z", "X"]) == ["$HZ", "$HX"]
    assert grbl.wait_line() == "G4 P0"
    assert grbl.unlock_lines() == ["$X"]
    assert grbl.currents_line({"X": 1.0}) is None
    assert grbl.frame("G90") == b"G90\n"
    assert (grbl.feed_hold, grbl.cycle_resume, grbl.status_query) == (b"!", b"~", b"?")
    assert grbl.emergency_stop == b"\x18"
    assert grbl.rx_buffer_bytes == 127  # GRBL's 128-byte ring buffer keeps one free


def test_grbl_work_position_with_its_offset() -> None:
    [status] = Grbl().parse("<Idle|WPos:90.000,5.000,216.000|Bf:15,127|FS:0,0"
                            "|WCO:10.000,-5.000,2.000>")
    assert isinstance(status, Status) and status.position is None
    assert status.work_offset == {"X": 10.0, "Y": -5.0, "Z": 2.0}


def test_grbl_status_report() -> None:
    [status] = Grbl().parse("<Hold:1|MPos:1.000,-2.500,3.250,4.000,5.000,6.000|FS:500,0|Pn:XD>")
    assert status == Status(state="Hold", substate=1,
                            position={"X": 1.0, "Y": -2.5, "Z": 3.25, "A": 4.0, "B": 5.0,
                                      "C": 6.0},
                            pins=frozenset("XD"))
    assert Grbl().interlocks_of(status) == {"door": True}
    [idle] = Grbl().parse("<Idle|WPos:1.000,2.000,3.000|WCO:0.500,0.000,0.000|FS:0,0>")
    assert isinstance(idle, Status)
    assert idle.position is None and idle.work_position == {"X": 1.0, "Y": 2.0, "Z": 3.0}
    assert Grbl().interlocks_of(idle) == {"door": False}
    [door] = Grbl().parse("<Door:1|MPos:0.000,0.000,0.000|FS:0,0>")
    assert isinstance(door, Status)
    assert Grbl().interlocks_of(door) == {"door": True}


@pytest.mark.parametrize("line", [
    # Seen from grbl-sim, whose two threads interleave their output (a noisy serial line
    # damages reports the same way): believed, the first three put the robot model
    # kilometres away or left a report with no position.
    "<Run|MPos:-85.620,-1590928,-7.000|FS:3000,0|Pn:PXYZRHS>",
    "<Run|MPos:-184.620,-146.600,-7.,00|FS:3000,0|Pn:PXYZRHS>",
    "<Run|M8os:-76.340,-76.340,0.000|FS:4243,0|Pn:PXYZRHS>",
    "<Run6MPos:-184.620,-187.760,-4.956|FS:468,0|Pn:PXYZRHS>",
    "<Hold:x|MPos:0.000,0.000,0.000|FS:0,0>",
    "<Idle|MPos:0.000,0.000,0.000|FS:0,0",
])
def test_a_damaged_status_report_is_garbled_not_believed(line: str) -> None:
    assert Grbl().parse(line) == [Garbled(line)]
    assert Smoothie().parse(line) == [Garbled(line)]


def test_grblhal_status_fields_and_states_are_read() -> None:
    [check] = Grbl().parse("<Check|MPos:1.000,2.000,3.000|$C:1|FS:0,0|WCO:0.000,0.000,0.000>")
    assert check == Status(state="Check", position={"X": 1.0, "Y": 2.0, "Z": 3.0},
                           work_offset={"X": 0.0, "Y": 0.0, "Z": 0.0})
    [tool] = Grbl().parse("<Tool|MPos:1.000,2.000,3.000|FS:0,0>")
    assert isinstance(tool, Status) and tool.state == "Tool"


@pytest.mark.parametrize(("line", "event"), [
    ("ok", Ok()),
    ("error:9", Error("error:9 (G-code locked out during alarm or jog)", final=True)),
    ("error:99", Error("error:99", final=True)),
    ("ALARM:3", Alarm("ALARM:3 (reset while in motion; position lost, re-home)")),
    ("Grbl 1.1h ['$' for help]", Restarted("Grbl 1.1h ['$' for help]")),
    ("GrblHAL 1.1f ['$' or '$HELP' for help]",
     Restarted("GrblHAL 1.1f ['$' or '$HELP' for help]")),
    ("error:5", Error("error:5 (homing is not enabled ($22))", final=True)),
    ("ALARM:8", Alarm("ALARM:8 (homing failed: could not clear the limit switch (pull-off))")),
    ("ALARM:9", Alarm("ALARM:9 (homing failed: limit switch not found within the travel)")),
    ("[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]",
     Info("[GC:G0 G54 G17 G21 G90 G94 M5 M9 T0 F0 S0]")),
    ("[MSG:'$H'|'$X' to unlock]", Info("[MSG:'$H'|'$X' to unlock]")),
    ("[MSG:Check Door]", Info("[MSG:Check Door]")),
    (">G54G20:ok", Info(">G54G20:ok")),
])
def test_grbl_lines(line: str, event: object) -> None:
    assert Grbl().parse(line) == [event]


# -- Marlin -----------------------------------------------------------------------------

def test_marlin_checksum_and_framing() -> None:
    marlin = Marlin()
    # Values seen on the wire between a real host and Marlin: N0 M106*36 N1 G28*18 N2 M107*39
    assert checksum("N0 M106") == 36
    assert checksum("N1 G28") == 18
    assert checksum("N2 M107") == 39
    assert marlin.frame("G28", 1) == b"N1 G28*18\n"
    assert marlin.frame("M410") == b"M410\n"


def test_marlin_formats() -> None:
    marlin = Marlin()
    assert marlin.home_lines(None) == ["G28"]
    assert marlin.home_lines(["Z", "A"]) == ["G28 Z A"]
    assert marlin.wait_line() == "M400"
    assert marlin.position_line() == "M114 R"
    assert marlin.currents_line({"X": 0.8, "B": 0.05}) == "M906 X800 B50"
    assert marlin.motors_line(False, ["B", "C"]) == "M18 B C"
    assert marlin.motors_line(True, None) == "M17"
    assert marlin.unlock_lines() == ["M999 S1"]
    assert marlin.quickstop_line == "M410"
    assert marlin.emergency_stop == b"M112\n"
    assert marlin.feed_hold is None and marlin.status_query is None


@pytest.mark.parametrize(("line", "events"), [
    ("ok", [Ok()]),
    ("ok N12 P15 B3", [Ok("N12 P15 B3")]),
    ("Resend: 7", [Resend(7)]),
    ("Resend:7", [Resend(7)]),
    ("Resend:N7", [Resend(7)]),
    ("rs N7", [Resend(7)]),
    ("rs 7", [Resend(7)]),
    ("ok X:1.00 Y:2.00 Z:3.00 E:0.00 Count: A:100 B:200 C:300",
     [PositionReport({"X": 1.0, "Y": 2.0, "Z": 3.0, "E": 0.0}),
      Ok("X:1.00 Y:2.00 Z:3.00 E:0.00 Count: A:100 B:200 C:300")]),
    ("ok T:21.3 /0.0 B:21.3 /0.0 @:0 B@:0", [Ok("T:21.3 /0.0 B:21.3 /0.0 @:0 B@:0")]),
    ("Error: Missing checksum", [Info("Error: Missing checksum")]),
    ("Error:checksum mismatch, Last Line: 6", [Info("Error:checksum mismatch, Last Line: 6")]),
    ("Error:Line Number is not Last Line Number+1, Last Line: 6",
     [Info("Error:Line Number is not Last Line Number+1, Last Line: 6")]),
    ("Error:Printer halted. kill() called!",
     [Alarm("Error:Printer halted. kill() called!", flushes=True)]),
    ("Error:Printer stopped due to errors. Fix the error and use M999 to restart.",
     [Alarm("Error:Printer stopped due to errors. Fix the error and use M999 to restart.")]),
    ("Error:Injected failure", [Error("Error:Injected failure", final=False)]),
    ("echo:busy: processing", [Busy("echo:busy: processing")]),
    ("busy: paused for user", [Busy("busy: paused for user")]),
    ("wait", [Info("wait")]),  # idle: explains no missing answer
    ("start", [Restarted("start")]),
    ("X:10.00 Y:20.50 Z:5.00 A:1.00 B:2.00 C:3.00 Count X:800 Y:1640 Z:2000",
     [PositionReport({"X": 10.0, "Y": 20.5, "Z": 5.0, "A": 1.0, "B": 2.0, "C": 3.0})]),
    ("X:1.00 Y:2.00 Z:3.00 E:0.00 Count X:80 Y:160 Z:1200 E:0",
     [PositionReport({"X": 1.0, "Y": 2.0, "Z": 3.0, "E": 0.0})]),
    ("//action:interlock door active", [InterlockChange("door", True)]),
    ("//action:interlock door clear", [InterlockChange("door", False)]),
    # host action commands: what a person asked for at the board (the LCD's Pause print,
    # Resume print, Stop print); "paused"/"resumed" once Marlin parked itself
    ("//action:pause", [BoardRequest("pause", "//action:pause")]),
    ("//action:paused", [BoardRequest("pause", "//action:paused")]),
    ("// action:pause", [BoardRequest("pause", "// action:pause")]),
    ("//action:resume", [BoardRequest("resume", "//action:resume")]),
    ("//action:resumed", [BoardRequest("resume", "//action:resumed")]),
    ("//action:cancel", [BoardRequest("stop", "//action:cancel")]),
    # the rest is information only
    ("//action:notification Print Paused", [Info("//action:notification Print Paused")]),
    ("//action:prompt_begin UI Pause", [Info("//action:prompt_begin UI Pause")]),
    ("//action:prompt_show", [Info("//action:prompt_show")]),
    ("//action:start", [Info("//action:start")]),
    ("//action:poweroff", [Info("//action:poweroff")]),
    ("//action:pause now", [Info("//action:pause now")]),
    ("echo:Unknown command: \"G999\"", [UnknownCommand("echo:Unknown command: \"G999\"")]),
    # the same said by other Marlin-like firmware, each followed by its ok: Klipper
    # (klippy/gcode.py; 'echo:' before 2017), Prusa-Firmware (Marlin_main.cpp),
    # RepRapFirmware in Marlin mode (GCodes2.cpp, warningNotSupported/errorNotSupported)
    ('// Unknown command:"M906"', [UnknownCommand('// Unknown command:"M906"')]),
    ('echo:Unknown command:"M906"', [UnknownCommand('echo:Unknown command:"M906"')]),
    ("Unknown M code: M906 X800", [UnknownCommand("Unknown M code: M906 X800")]),
    ("Warning: M906: Command is not supported",
     [UnknownCommand("Warning: M906: Command is not supported")]),
    ("Error: M410: Command is not supported",
     [UnknownCommand("Error: M410: Command is not supported")]),
    ("// Unknown commands are listed by HELP", [Info("// Unknown commands are listed by HELP")]),
    # Klipper's error, then its ok; its shutdown (M112, an MCU fault: klippy/gcode.py)
    ("!! Move out of range: 500.000 0.000 0.000 [0.000]",
     [Error("!! Move out of range: 500.000 0.000 0.000 [0.000]", final=False)]),
    ("// Klipper state: Shutdown", [Alarm("// Klipper state: Shutdown")]),
    # a move Marlin ignores (then ok): stopped (MF_STOPPED), or not homed with
    # NO_MOTION_BEFORE_HOMING (homing_needed_error)
    ("Printer stopped due to errors. Fix the error and use M999 to restart.",
     [Alarm("Printer stopped due to errors. Fix the error and use M999 to restart.")]),
    ("echo:Home XY First", [Alarm("echo:Home XY First")]),
    # Prusa-Firmware stopped, recoverably (it drops the lines), or not (Marlin_main.cpp)
    ("echo:Printer stopped due to errors. Supervision required.",
     [Alarm("echo:Printer stopped due to errors. Supervision required.")]),
    ("Error:Printer stopped due to errors. Supervision required.",
     [Alarm("Error:Printer stopped due to errors. Supervision required.")]),
    # PASSWORD_FEATURE, locked: the line is not run, its ok follows
    ("echo:Printer locked! (Unlock with M511 or LCD)",
     [Error("echo:Printer locked! (Unlock with M511 or LCD)", final=False)]),
    ("// Klipper state: Ready", [Info("// Klipper state: Ready")]),
])
def test_marlin_lines(line: str, events: list[object]) -> None:
    assert Marlin().parse(line) == events


# -- Smoothieware -----------------------------------------------------------------------

def test_smoothie_formats() -> None:
    smoothie = Smoothie()
    assert smoothie.home_lines(None) == ["G28.2"]
    assert smoothie.home_lines(["Z", "X"]) == ["G28.2 Z0 X0"]
    assert smoothie.currents_line({"X": 1.2}) == "M907 X1.200"
    assert smoothie.unlock_lines() == ["M999"]
    assert smoothie.position_line() is None  # the realtime status report is used
    # Its feed hold lets the move under way run to its end: no move is held, so none is
    # flushed with a halt (ctrl-X), which would stop the axes dead; '~' leaves a hold.
    assert (smoothie.feed_hold, smoothie.flush_after_hold, smoothie.cycle_resume) == (
        None, None, b"~")


@pytest.mark.parametrize(("line", "events"), [
    ("ok", [Ok()]),
    ("ok C: X:1.0000 Y:2.0000 Z:3.0000",
     [PositionReport({"X": 1.0, "Y": 2.0, "Z": 3.0}), Ok("C: X:1.0000 Y:2.0000 Z:3.0000")]),
    ("!!", [Halted("controller is halted: send M999")]),
    ("ok Emergency Stop Requested - reset or M999 required to exit HALT state",
     [Ok("Emergency Stop Requested - reset or M999 required to exit HALT state"),
      Alarm("ok Emergency Stop Requested - reset or M999 required to exit HALT state")]),
    ("error:Unsupported command", [Error("error:Unsupported command", final=True)]),
    ("ALARM: Abort during cycle", [Alarm("ALARM: Abort during cycle")]),
    # A halt said as an error answers no line; the one after a line's error halts too.
    ("error:Soft Endstop Y was exceeded - reset or $X or M999 required",
     [Alarm("error:Soft Endstop Y was exceeded - reset or $X or M999 required")]),
    ("Error: Soft Endstop X was exceeded - reset or $X or M999 required",
     [Alarm("Error: Soft Endstop X was exceeded - reset or $X or M999 required")]),
    ("Entering Alarm/Halt state", [Alarm("Entering Alarm/Halt state")]),
    # halts said in capitals (Endstops.cpp, TemperatureControl.cpp), answering no line
    ("ERROR: Homing cycle failed - check the max_travel settings",
     [Alarm("ERROR: Homing cycle failed - check the max_travel settings")]),
    # its kill button (KillButton.cpp): pressed, and still latched after an M999
    ("ALARM: Kill button pressed - reset, $X or M999 to clear HALT",
     [Alarm("ALARM: Kill button pressed - reset, $X or M999 to clear HALT")]),
    ("WARNING: ESTOP is still latched, unlatch ESTOP to clear HALT",
     [Alarm("WARNING: ESTOP is still latched, unlatch ESTOP to clear HALT")]),
    ("WARNING: After HALT you should HOME as position is currently unknown",
     [Unhalted("WARNING: After HALT you should HOME as position is currently unknown")]),
    ("[Caution: Unlocked]", [Unhalted("[Caution: Unlocked]")]),
    # soft_endstop.halt false: the move its ok answered is dropped, nothing halts
    ("Error: Soft Endstop Z was exceeded - entire move ignored",
     [MoveRefused("Error: Soft Endstop Z was exceeded - entire move ignored")]),
    ("error:Soft Endstop Z was exceeded - entire move ignored",
     [MoveRefused("error:Soft Endstop Z was exceeded - entire move ignored")]),
    ("Limit switch +X was hit - reset or M999 required",  # a hard limit outside grbl_mode
     [Alarm("Limit switch +X was hit - reset or M999 required")]),
    # ... so said from 2020-05 to 2020-12 (Smoothieware's Endstops.cpp), then ALARM:
    ("Limit switch -Y was hit", [Alarm("Limit switch -Y was hit")]),
    ("ALARM: Hard limit +X", [Alarm("ALARM: Hard limit +X")]),
    ("// NOTICE limits are disabled until all have been cleared",
     [Info("// NOTICE limits are disabled until all have been cleared")]),
    ("error:Alarm lock", [Halted("controller is halted: error:Alarm lock")]),  # grbl_mode's !!
    ("Smoothie", [Restarted("Smoothie", extra_ok=True)]),
    ("Smoothie Running @100MHz", [Restarted("Smoothie Running @100MHz")]),  # no ok after it
    ("// Halted", [Info("// Halted")]),
    ("//action:interlock door active", [InterlockChange("door", True)]),
])
def test_smoothie_lines(line: str, events: list[object]) -> None:
    assert Smoothie().parse(line) == events


def test_smoothie_status_report() -> None:
    [status] = Smoothie().parse("<Idle|MPos:1.0000,2.0000,3.0000|WPos:1.0000,2.0000,3.0000"
                                "|F:4000.0,100.0>")
    assert isinstance(status, Status)
    assert status.state == "Idle" and status.position == {"X": 1.0, "Y": 2.0, "Z": 3.0}


# -- axis mapping -----------------------------------------------------------------------

def test_axis_map_defaults_to_the_same_letters() -> None:
    config = default_config()
    for dialect in (Grbl(), Marlin(), Smoothie()):
        assert default_axis_map(config, dialect) == {a: a for a in "XYZABC"}


def test_axis_map_overrides_and_validation() -> None:
    config = default_config()
    mapping = default_axis_map(config, Marlin(), {"B": "E", "C": "U"})
    assert mapping["B"] == "E" and mapping["C"] == "U" and mapping["X"] == "X"
    with pytest.raises(ValueError, match="grbl has no axis 'E'"):
        default_axis_map(config, Grbl(), {"B": "E"})
    with pytest.raises(ValueError, match="two axes to one firmware letter"):
        default_axis_map(config, Marlin(), {"B": "C"})


@pytest.mark.parametrize(("m115", "parser"), [
    (["FIRMWARE_NAME:Marlin 2.1.2", "Cap:EEPROM:1", "Cap:EMERGENCY_PARSER:1"], True),
    (["FIRMWARE_NAME:Marlin 2.1.2", "Cap:EMERGENCY_PARSER:0"], False),
    (["FIRMWARE_NAME:Marlin 1.1.9"], None),  # no extended capabilities report: not said
])
def test_marlin_m115_says_whether_its_emergency_parser_is_on(
        m115: list[str], parser: bool | None) -> None:
    assert emergency_parser_of(m115) is parser
