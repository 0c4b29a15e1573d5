"""A real peer: OctoPrint's virtual printer (a Marlin-like firmware simulator that labrun
did not write) behind a pseudo-terminal runs a whole protocol through the Marlin dialect,
with a deferred and an immediate pause.

The virtual printer has X, Y, Z and an extruder E: the robot file removes the axes A
and C, the right mount and the door, drives the plunger B as E, and homes at 0 as the
printer does. It answers ``M114`` with the position on the ``ok`` line, sends ``wait`` while
idle and, as configured here, asks for resends of lines 100 and 115 with an ``Error:``
before the ``Resend:``, and takes at most 32 bytes at a time. Needs the ``firmware`` extra
(``pip install -e '.[firmware]'``).
"""

from __future__ import annotations

import contextlib
import os
import textwrap
import threading
import time
import tty
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import assert_unparked_where_recorded

from engine.state import Status
from hardware.config import RobotConfig, config_from_dict
from hardware.controller import HardwareFault
from hardware.gcode import GcodeController, SettingsMismatch
from hardware.robot import open_robot
from protocol_api.execute import create_run

virtual = pytest.importorskip(
    "octoprint.plugins.virtual_printer.virtual",
    reason="OctoPrint's virtual printer is not installed (pip install -e '.[firmware]')")

WAIT_S = 20.0
SETTINGS_OVERRIDES = {
    "simulated_errors": ["100:resend", "115:checksum_mismatch"],
    "waitInterval": 0.2,
    "throttle": 0.0,
    "rxBuffer": 32,  # most lines take two writes: the pty bridge must finish each one
}

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
    p300.pick_up_tip()
    for column in range(1, 7):
        with ctx.step(f"column {column}"):
            p300.aspirate(50, plate[f"A{column}"])
            p300.move_to(plate[f"H{13 - column}"].top(20))
            p300.dispense(50, plate[f"H{13 - column}"])
    p300.drop_tip()
'''


class _Settings:
    """The slice of OctoPrint's PluginSettings the virtual printer reads."""

    def __init__(self, values: Mapping[str, Any], folder: Path) -> None:
        self._values = values
        self._folder = folder

    def global_get_basefolder(self, name: str) -> str:
        path = self._folder / name
        path.mkdir(exist_ok=True)
        return str(path)

    def get(self, path: list[str], merged: bool = False, **_: Any) -> Any:
        value: Any = self._values
        for key in path:
            value = value[key]
        return value

    def get_int(self, path: list[str]) -> int:
        return int(self.get(path))

    def get_float(self, path: list[str]) -> float:
        return float(self.get(path))

    def get_boolean(self, path: list[str]) -> bool:
        return bool(self.get(path))


@contextlib.contextmanager
def virtual_printer_on_a_pty(folder: Path, **settings: Any) -> Iterator[str]:
    """Run a VirtualPrinter (``settings`` over ``SETTINGS_OVERRIDES``); yield the path of
    the pty that a serial port opens."""
    from octoprint.plugin import plugin_manager
    from octoprint.plugins.virtual_printer import VirtualPrinterPlugin

    with contextlib.suppress(ValueError):  # one plugin manager per process, no plugins
        plugin_manager(init=True, plugin_folders=[], plugin_entry_points=[])
    values = {**VirtualPrinterPlugin().get_settings_defaults(), **SETTINGS_OVERRIDES,
              **settings}
    printer = virtual.VirtualPrinter(_Settings(values, folder), None,
                                     data_folder=str(folder), read_timeout=0.05)
    master, slave = os.openpty()
    tty.setraw(slave)
    stop = threading.Event()

    def host_to_printer() -> None:
        while not stop.is_set():
            try:
                data = os.read(master, 4096)
            except OSError:
                return
            while data:
                # One line a write, as OctoPrint's own serial layer writes them: the virtual
                # printer answers only the first line of a write until more bytes come.
                end = data.find(b"\n") + 1 or len(data)
                line, data = data[:end], data[end:]
                while line:  # like a serial port's write: it may take only part
                    written = printer.write(line)
                    if not written:  # closed
                        return
                    line = line[written:]

    def printer_to_host() -> None:
        while not stop.is_set():
            line = printer.readline()
            if line:
                os.write(master, line.rstrip(b"\r\n") + b"\n")

    threads = [threading.Thread(target=f, daemon=True) for f in (host_to_printer,
                                                                  printer_to_host)]
    for thread in threads:
        thread.start()
    try:
        yield os.ttyname(slave)
    finally:
        stop.set()
        printer.close()
        os.close(slave)
        os.close(master)


PRINTER_STEPS = {"X": 80.0, "Y": 80.0, "Z": 800.0, "B": 90.0}
"""The steps/mm in the virtual printer's EEPROM (a 3D printer's), B being its extruder."""


def printer_robot(port: str, steps: dict[str, float] | None = None) -> RobotConfig:
    """The built-in deck on a printer's X, Y, Z, with the plunger as its extruder; the
    axes' steps/mm are ``steps``, or the built-in robot's."""
    steps = steps or {}
    axes: dict[str, Any] = {a: {"home": 0} for a in "XYZ"}
    for axis, value in steps.items():
        axes.setdefault(axis, {})["steps_per_mm"] = value
    return config_from_dict({
        "name": "octoprint-virtual-printer",
        "controller": {"kind": "gcode", "dialect": "marlin", "port": port,
                       "timeout_s": 5.0, "axis_map": {"B": "E"}},
        "axes": {"A": False, "C": False, **axes},
        "mounts": {"right": False, "left": {"offset": [0.0, 0.0, 0.0]}},
        "interlocks": {"door": False},
    })


def wait_until(control: Any, predicate: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not predicate():
        status = control.status()
        assert not status.status.is_terminal, f"the run ended before {what}: {status}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}: {status}"
        time.sleep(0.005)


def test_a_protocol_with_a_deferred_and_an_immediate_pause_on_octoprints_virtual_printer(
        tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(PROTOCOL))
    with virtual_printer_on_a_pty(tmp_path) as port:
        config = printer_robot(port, PRINTER_STEPS)
        robot = open_robot(config)
        inner = robot.driver
        assert isinstance(inner, GcodeController)
        robot.connect()
        home = robot.home()
        assert home == pytest.approx({"X": 0.0, "Y": 0.0, "Z": 0.0, "B": 0.0})
        run = create_run(path, config=config, controller=robot.controller, clock=robot.clock,
                         record_path=tmp_path / "record.jsonl", simulating=False)
        try:
            control = run.control
            assert control.play().accepted

            def step_started(n: int) -> bool:
                step = control.status().step
                return step is not None and step.index >= n

            wait_until(control, lambda: step_started(5), "the second column")
            assert control.pause("deferred").accepted
            paused = control.wait_until_paused(WAIT_S)
            assert paused.status is Status.PAUSED and paused.parked, paused.outcome
            assert control.resume().accepted
            wait_until(control, lambda: step_started(8), "the fifth column")
            assert control.pause("immediate").accepted
            paused = control.wait_until_paused(WAIT_S)
            assert paused.status is Status.PAUSED and paused.parked, paused.outcome
            assert control.resume().accepted
            final = run.wait(WAIT_S)
            assert final.status is Status.SUCCEEDED, final
            resent = inner.link.streamer.resent_lines
        finally:
            run.close()
            robot.close()
        events = list(run.record.events)
        parks = [e for e in events if e["event"] == "park"]
        unparks = [e for e in events if e["event"] == "unpark"]
        assert len(parks) == len(unparks) == 2
        for unpark in unparks:  # back where the run paused, or at the rewound checkpoint
            assert_unparked_where_recorded(unpark, config.z_axes, ("X", "Y", "Z", "B"))
        # The real peer asked for resends (lines 100 and 115), with an Error: before each.
        assert resent >= 2
        commands = [e for e in events if e["event"] == "command"]
        aspirates = {e["id"] for e in commands if e.get("type") == "aspirate"}
        done = {e["id"] for e in commands if e["status"] == "completed" and e["id"] in aspirates}
        assert len(done) == 6  # each aspirate once, paused or not



def test_labrun_doctor_reads_the_virtual_printers_firmware_and_settings(
        tmp_path: Path) -> None:
    import io

    import anyio

    from labrun.cli.doctor import doctor

    out = io.StringIO()
    with virtual_printer_on_a_pty(tmp_path) as port:
        status = anyio.run(doctor, printer_robot(port), False, out)
    text = out.getvalue()
    assert "firmware: Virtual Marlin 1.0" in text
    assert "EMERGENCY_PARSER:1" in text
    assert "axes: X Y Z E" in text
    # Its EEPROM's steps/mm are a 3D printer's, not the robot file's defaults.
    assert "steps/mm: X 80, Y 80, Z 800, E 90" in text
    assert ("axis Z: the firmware's steps/mm M92 Z800, the robot file's axes.Z.steps_per_mm "
            "80 (a move would go 10 times as far as asked)") in text
    assert "axis B: the firmware's steps/mm M92 E90, the robot file's axes.B.steps_per_mm 768" \
        in text
    assert status == 1
    assert "nothing was moved" in text


def test_the_printer_is_not_moved_with_the_built_in_robots_steps(tmp_path: Path) -> None:
    """Its EEPROM's Z and extruder steps/mm are not the robot file's: connecting refuses it
    (every Z move would go ten times as far as asked), naming both values."""
    with virtual_printer_on_a_pty(tmp_path) as port:
        robot = open_robot(printer_robot(port))
        try:
            with pytest.raises(SettingsMismatch) as caught:
                robot.connect()
        finally:
            robot.close()
    assert ("axis Z: the firmware's steps/mm M92 Z800, the robot file's axes.Z.steps_per_mm "
            "80 (a move would go 10 times as far as asked); axis B: the firmware's steps/mm "
            "M92 E90, the robot file's axes.B.steps_per_mm 768") in str(caught.value)


def test_a_locked_printer_is_said_not_taken_for_one_that_did_what_it_was_sent(
        tmp_path: Path) -> None:
    """Marlin's PASSWORD_FEATURE, locked, answers every line but M511 'echo:Printer
    locked! (Unlock with M511 or LCD)' and ok, doing nothing: the ok passed for done."""
    with virtual_printer_on_a_pty(tmp_path, locked=True) as port:
        robot = open_robot(printer_robot(port, PRINTER_STEPS))
        try:
            with pytest.raises(HardwareFault) as caught:
                robot.connect()
        finally:
            robot.close()
    assert str(caught.value) == ("controller rejected 'M110 N0': echo:Printer locked! (Unlock "
                                 "with M511 or LCD)")


def test_a_klipper_error_from_the_virtual_printer_fails_the_move(tmp_path: Path) -> None:
    """Its Klipper mode ('toggle_klipper_connection') answers every line '!! Lost
    communication with MCU 'mcu'' and ok, as Klipper answers a line it refuses
    (klippy/gcode.py): the ok passed for a move done."""
    import anyio

    from hardware.gcode import ControllerError, open_controller

    async def main(port: str) -> None:
        async with open_controller(printer_robot(port, PRINTER_STEPS)) as ctl:
            await ctl.home()
            await ctl.move({"X": 10.0})
            fd = os.open(port, os.O_WRONLY | os.O_NOCTTY)  # the printer's debug channel
            try:
                os.write(fd, b"!!DEBUG:toggle_klipper_connection\n")
            finally:
                os.close(fd)
            await anyio.sleep(0.2)
            with pytest.raises(ControllerError, match=(
                    r"^controller rejected 'G1 X20\.000 .*': !! Lost communication with "
                    r"MCU 'mcu'$")):
                await ctl.move({"X": 20.0})

    with virtual_printer_on_a_pty(tmp_path) as port:
        anyio.run(main, port)
