"""Stock GRBL 1.1h and grblHAL themselves, compiled for the host by their simulators,
behind a pseudo-terminal.

Not labrun's emulator: the firmware's own code answers. Build them yourself (labrun
ships neither their code nor a build script):

- GRBL: clone ``gnea/grbl``, clone ``grbl/grbl-sim`` into ``grbl/grbl/sim``, run
  ``make new FLAGS="-O2 -fcommon"`` there (GCC 12 needs ``-fcommon``) and point
  ``LABRUN_GRBL_SIM`` at ``grbl_sim.exe``;
- grblHAL: clone ``grblHAL/Simulator`` and ``grblHAL/core`` into its ``src/grbl``, build
  with ``cmake`` and ``make`` and point ``LABRUN_GRBLHAL_SIM`` at ``grblHAL_sim``.

Without them these tests are skipped and say so. The ``LABRUN_GRBLHAL_SIM`` path must
contain ``grblHAL`` (a wrapper script too: the work-offset test picks ``$10`` by it).

Both simulators run GRBL's main loop and its stepper interrupt as two busy threads in
real time. On a loaded machine (two cores, load 5 to 10) the interrupt thread catches up
in bursts while the main loop waits for a core: the step segment buffer runs dry, the
firmware reports ``Idle`` with a block still planned and never answers the ``G4 P0``
after it (the driver then fails with "no answer ... no sign of progress"). grbl-sim's
output also comes garbled at times (``<Run6MPos:...``, ``MPos:-85.620,-1590928,...``):
the driver ignores such reports and asks again. That is the simulator, not GRBL on a
board; run them on a quiet machine or give them priority, e.g. a wrapper
``exec nice -n -15 .../grbl_sim.exe "$@"``. Both simulators have 3 axes and
``$22=0`` out of the box: a run uses the shipped 3-axis example robot with
``homing = "none"``. grbl-sim's limit switches never clear, so with ``$22=1`` its
homing cycle fails with ``ALARM:8``, ``ok`` and the banner, as on a real board whose
switch stays pressed.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import textwrap
import threading
import time
import tty
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from labrun_testing import assert_unparked_where_recorded

from engine.state import Status
from hardware.config import RobotConfig, load_config
from hardware.frozen import replace
from hardware.gcode import ControllerAlarm, ControllerError, GcodeController, open_controller
from hardware.robot import open_robot
from protocol_api.execute import create_run

SIMULATORS = {
    "grbl": os.environ.get("LABRUN_GRBL_SIM") or shutil.which("grbl_sim.exe") or "",
    "grblhal": os.environ.get("LABRUN_GRBLHAL_SIM") or shutil.which("grblHAL_sim") or "",
}


@pytest.fixture(params=sorted(SIMULATORS))
def sim(request: pytest.FixtureRequest) -> str:
    """The simulator binary of one firmware; skipped when it is not built."""
    name = str(request.param)
    path = SIMULATORS[name]
    if not (path and os.access(path, os.X_OK)):
        variable = "LABRUN_GRBL_SIM" if name == "grbl" else "LABRUN_GRBLHAL_SIM"
        pytest.skip(f"the {name} simulator is not built: set {variable} (see this "
                    "module's docstring)")
    return path

EXAMPLE = Path(__file__).parents[2] / "hardware" / "robots" / "grbl_3axis_example.toml"
SETTINGS = ["$110=3000", "$111=3000", "$112=3000", "$120=500", "$121=500", "$122=500"]
"""Max rates 50 mm/s and accelerations 500 mm/s^2, as the robot file below says."""
WAIT_S = 240.0
"""grbl-sim runs in about real time, and slower on a loaded machine."""


@contextlib.contextmanager
def grbl_sim(binary: str, folder: Path) -> Iterator[str]:
    """Run grbl-sim on one pty and bridge it to another; yield the path a driver opens.

    Its EEPROM file lives in ``folder``, so every test starts from GRBL's defaults."""
    sim_master, sim_slave = os.openpty()
    host_master, host_slave = os.openpty()
    for fd in (sim_slave, host_slave):
        tty.setraw(fd)
    process = subprocess.Popen([binary, "-n", "-b", "/dev/null", "-s", "/dev/null"],
                               stdin=sim_slave, stdout=sim_slave,
                               stderr=subprocess.DEVNULL, cwd=folder)

    def pump(source: int, target: int) -> None:
        while True:
            try:
                data = os.read(source, 4096)
                os.write(target, data)
            except OSError:
                return
            if not data:
                return

    for source, target in ((sim_master, host_master), (host_master, sim_master)):
        threading.Thread(target=pump, args=(source, target), daemon=True).start()
    try:
        yield os.ttyname(host_slave)
    finally:
        process.kill()
        process.wait()
        for fd in (sim_master, sim_slave, host_master, host_slave):
            with contextlib.suppress(OSError):
                os.close(fd)


def robot(port: str, *, homing: str = "none") -> RobotConfig:
    shipped = load_config(EXAMPLE)
    axes = {a: replace(c, homing=homing, max_speed=50.0, acceleration=500.0)
            for a, c in shipped.axes.items()}
    return replace(shipped, axes=axes, controller=replace(
        shipped.controller, port=port, timeout_s=3.0, poll_interval=0.05))


async def configured(ctl: GcodeController) -> None:
    await ctl.send_gcode(SETTINGS)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_work_offsets_and_intermittent_wco_on_real_grbl(sim: str, tmp_path: Path
                                                              ) -> None:
    with grbl_sim(sim, tmp_path) as port:
        async with open_controller(robot(port)) as ctl:
            await configured(ctl)
            # Work positions: stock GRBL still sends WCO in some reports; grblHAL only
            # with bit 5 of its report mask. Set before the reset: grblHAL's simulator
            # leaves a $10 sent right after a soft reset unanswered (no ok), without labrun.
            work_positions = "$10=0" if "grblHAL" not in sim else "$10=32"
            await ctl.send_gcode([work_positions])
            restarts = ctl.link.restart_seq  # its banner after a reset is a restart:
            await ctl.link.write(b"\x18")
            await ctl.link.wait_for(lambda: ctl.link.restart_seq > restarts, "the banner")
            assert ctl.link.status is not None
            home = await ctl.home()  # switchless: here is home
            assert home == pytest.approx({"X": -1.0, "Y": -1.0, "Z": -1.0}, abs=1e-3)
            await ctl.send_gcode(["G10 L2 P1 X10 Y-5", "G92 Z3"])
            await ctl.move({"X": -40.0, "Y": -30.0, "Z": -11.0})
            for _ in range(12):  # WCO comes in some reports only: every read agrees
                here = await ctl.read_position()
                assert here == pytest.approx({"X": -40.0, "Y": -30.0, "Z": -11.0}, abs=1e-3)
            status, machine = await ctl.link.machine_status()
            assert status.position is None and status.work_position is not None  # WPos
            assert machine["X"] == pytest.approx(-39.0, abs=1e-3)  # firmware's own frame


@pytest.mark.anyio
async def test_work_positions_without_any_wco_are_a_clear_fault_not_a_wrong_position(
        tmp_path: Path) -> None:
    binary = SIMULATORS["grblhal"]
    if not (binary and os.access(binary, os.X_OK)):
        pytest.skip("the grblHAL simulator is not built: set LABRUN_GRBLHAL_SIM")
    with grbl_sim(binary, tmp_path) as port:
        async with open_controller(robot(port)) as ctl:
            await ctl.home()
            # grblHAL's $10=0: WPos and never a WCO. The offset seen before is stale now.
            await ctl.send_gcode(["$10=0", "G10 L2 P1 X10 Y-5"])
            with pytest.raises(ControllerError, match=r"WPos\) and no WCO.*\$10 bit 0"):
                await ctl.read_position()


@pytest.mark.anyio
async def test_a_failed_homing_cycle_on_real_grbl_is_an_alarm_with_its_cause(
        tmp_path: Path) -> None:
    binary = SIMULATORS["grbl"]
    if not (binary and os.access(binary, os.X_OK)):
        pytest.skip("grbl-sim is not built: set LABRUN_GRBL_SIM (see this module's docstring)")
    with grbl_sim(binary, tmp_path) as port:
        async with open_controller(robot(port, homing="switch")) as ctl:
            await ctl.send_gcode(["$22=1"])
            with anyio.fail_after(30), pytest.raises(
                    ControllerAlarm, match=r"ALARM:8 \(homing failed: could not clear"):
                await ctl.home()
            assert ctl.requires_homing


PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    tool = ctx.load_instrument("p300_single_gen2", "left")
    for well in ("A1", "H12", "A12", "H1"):
        tool.move_to(plate[well].top(5))
    ctx.pause("look at the plate")
    tool.move_to(plate["A1"].top(5))
'''


def test_a_protocol_with_pauses_on_real_grbl(sim: str, tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(PROTOCOL))
    with grbl_sim(sim, tmp_path) as port:
        config = robot(port)
        hardware = open_robot(config)
        inner = hardware.driver
        assert isinstance(inner, GcodeController)
        hardware.connect()
        hardware.in_hardware_thread(lambda _: configured(inner))
        hardware.home()
        # A work offset left behind:
        hardware.in_hardware_thread(lambda _: inner.send_gcode(["G10 L2 P1 X10 Y10"]))
        run = create_run(path, config=config, controller=hardware.controller,
                         clock=hardware.clock, record_path=tmp_path / "record.jsonl",
                         simulating=False)
        try:
            control = run.control
            assert control.play().accepted
            deadline = time.monotonic() + WAIT_S
            while (inner.reported_position or {}).get("X", -1.0) > -150.0:
                assert time.monotonic() < deadline, "the gantry never moved"
                time.sleep(0.01)
            assert control.pause("immediate").accepted
            assert control.wait_until_paused(WAIT_S).status is Status.PAUSED
            assert control.resume().accepted
            assert control.wait_until_paused(WAIT_S).pause_source == "protocol"
            assert control.resume().accepted
            final = run.wait(WAIT_S)
            assert final.status is Status.SUCCEEDED, final
            here = hardware.in_hardware_thread(lambda _: inner.read_position())
        finally:
            run.close()
            hardware.close()
        # Without switches, the run ends with the axes back at their home point (the
        # next connection takes where they stand as home).
        assert {a: here[a] for a in "XYZ"} == pytest.approx(
            {a: config.axes[a].home for a in "XYZ"}, abs=0.01)
        unparks = [e for e in run.record.events if e["event"] == "unpark"]
        assert len(unparks) == 2
        for unpark in unparks:
            assert_unparked_where_recorded(unpark, config.z_axes)


def test_labrun_doctor_reads_stock_grbls_settings(tmp_path: Path) -> None:
    import io

    import anyio

    from labrun.cli.doctor import doctor

    sim = SIMULATORS["grbl"]
    if not (sim and os.access(sim, os.X_OK)):
        pytest.skip("grbl-sim is not built: set LABRUN_GRBL_SIM (see this module's docstring)")
    out = io.StringIO()
    with grbl_sim(sim, tmp_path) as port:
        status = anyio.run(doctor, robot(port), False, out)
    text = out.getvalue()
    assert "firmware: Grbl 1.1h" in text
    assert "buffers: planner 15 blocks, serial receive buffer 128 bytes" in text
    assert "axes: X Y Z" in text
    assert "homing $22=0, soft limits $20=0, units $13=0 (mm), report mask $10=1" in text
    # The shipped example's steps/mm are stock GRBL's; its max rates are not: named.
    assert "steps/mm: X 250, Y 250, Z 250" in text and "steps/mm $" not in text
    assert "axis Z: the firmware's max rate mm/min $112=500 is below the robot file's 3000" \
        in text
    assert status == 1
    assert "nothing was moved" in text
