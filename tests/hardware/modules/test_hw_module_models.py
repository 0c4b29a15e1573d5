"""Module models on the emulated robot path, as ``labrun run --emulate`` takes it: the
protocol simulated first, ``modules_for`` adding a twin of each module the robot file does
not name, the emulated G-code robot with the modules' twins on pseudo-terminals, the serial
drivers. Each twin is the model it is given (the robot file's ``model``, else the one the
protocol asks for) and says so in ``M115``, so a protocol that loads GEN1 modules runs on
GEN1 twins; a robot file whose modules are GEN2 still refuses it at its ``load_module``."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import anyio
import pytest
from emulated_runs import emulated_run

from engine.modules import modules_for
from engine.state import Status
from hardware.clock import RealClock
from hardware.config import RobotConfig, load_config
from hardware.emulator.modules import (
    MagneticModuleFirmware,
    ThermocyclerGen1Firmware,
    running_module_twins,
)
from hardware.factory import emulator_config, emulator_config_path
from hardware.modules.serial import SerialModule, serial_module
from protocol_api.execute import continue_when_stalled, create_run

EXAMPLE = Path(__file__).parents[3] / "hardware" / "robots" / "modules_example.toml"
SPEED = 50.0
WAIT_S = 60.0

GEN1 = """
mag = ctx.load_module("magdeck", 1)
temp = ctx.load_module("tempdeck", 3)
tc = ctx.load_module("thermocycler")
plate = mag.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
temp.set_temperature(26)
mag.engage()
tc.close_lid()
tc.set_block_temperature(40, hold_time_seconds=2)
tc.open_lid()
mag.disengage()
ctx.comment(f"{mag.model} {temp.model} {tc.model} {tuple(plate['A1'].top().point)}")
"""


def protocol(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "protocol.py"
    lines = textwrap.indent(textwrap.dedent(body).strip(), "    ")
    path.write_text(f'metadata = {{"apiLevel": "2.15"}}\n\n\ndef run(ctx):\n{lines}\n')
    return path


def simulated(path: Path, config: RobotConfig) -> list[dict[str, Any]]:
    """The simulation's record (``labrun run`` simulates first)."""
    sim = create_run(path, config=config, on_stalled=continue_when_stalled)
    try:
        sim.control.play(source="simulate")
        assert sim.wait(WAIT_S).status is Status.SUCCEEDED
    finally:
        sim.close()
    return list(sim.record.events)


def simulated_then_run(path: Path, config: RobotConfig
                       ) -> tuple[Status, list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """Simulate, then run on the emulated robot as ``labrun run --emulate`` does: the
    run's status and record, the simulation's record, and the magnets' twin's lines."""
    sim = simulated(path, config)
    needed = [e for e in sim if e["event"] == "command" and e["status"] == "queued"
              and e["type"] == "loadModule"]
    config, missing = modules_for(config, needed, emulated=True)
    assert missing is None
    with emulated_run(path, config=config, speed=SPEED) as (robot, run):
        run.control.play()
        status = run.wait(WAIT_S).status
        events = list(run.record.events)
        twins = robot.twins
        assert twins is not None
        magnets = next(twins.firmware(name) for name in twins.names
                       if isinstance(twins.firmware(name), MagneticModuleFirmware))
        lines = twins.call(lambda: list(magnets.received))
    return status, events, sim, lines


def comments(events: list[dict[str, Any]]) -> list[str]:
    return [e["params"]["message"] for e in events if e["event"] == "command"
            and e["status"] == "queued" and e.get("type") == "comment"]


def robot_file(tmp_path: Path, models: dict[str, str]) -> Path:
    """The shipped emulator robot with a module of each kind in ``models``, of that model."""
    path = tmp_path / "robot.toml"
    text = Path(emulator_config_path("grbl")).read_text()
    for kind, model in models.items():
        text += f'\n[modules.{kind}]\nkind = "{kind}"\nport = "/dev/null"\nmodel = "{model}"\n'
    path.write_text(text)
    return path


@pytest.mark.parametrize("robot", ["emulator only", "robot file with models"])
def test_a_protocol_loading_gen1_modules_runs_on_gen1_twins(tmp_path: Path,
                                                           robot: str) -> None:
    path = protocol(tmp_path, GEN1)
    config = (emulator_config("grbl") if robot == "emulator only" else load_config(
        robot_file(tmp_path, {"magnetic": "magneticModuleV1",
                              "temperature": "temperatureModuleV1",
                              "thermocycler": "thermocyclerModuleV1"})))
    status, events, sim, lines = simulated_then_run(path, config)
    assert status is Status.SUCCEEDED, events[-1].get("error")
    # Each module is the model asked for and said so itself (M115), the plate where the
    # GEN1's definition puts it, as in the simulation.
    assert comments(events) == comments(sim)
    assert comments(events)[0].startswith(
        "magneticModuleV1 temperatureModuleV1 thermocyclerModuleV1 (")
    modules = {m["kind"]: m for m in events[-1]["modules"]}
    assert {kind: (m["model"], m["status"]["model"]) for kind, m in modules.items()} == {
        "magnetic": ("magneticModuleV1", "magneticModuleV1"),
        "temperature": ("temperatureModuleV1", "temperatureModuleV1"),
        "thermocycler": ("thermocyclerModuleV1", "thermocyclerModuleV1")}
    # A GEN1's magnets are spoken to in half millimetres.
    [engage] = [e["result"] for e in events if e["event"] == "command"
                and e.get("status") == "completed" and "height_mm" in e.get("result", {})
                and e["result"]["height_mm"] > 0]
    assert f"G0 Z{2 * engage['height_mm']:.3f}" in lines
    assert modules["thermocycler"]["status"]["lid"] == "open"
    assert modules["temperature"]["status"]["target"] == 26.0


def test_a_robot_file_of_gen2_modules_still_refuses_a_gen1_protocol(tmp_path: Path) -> None:
    # Under --emulate the robot file's modules are the run's: no GEN1 twin stands in.
    path = protocol(tmp_path, GEN1)
    config = load_config(EXAMPLE)
    sim = simulated(path, config)
    needed = [e for e in sim if e.get("type") == "loadModule" and e["status"] == "queued"]
    assert modules_for(config, needed, emulated=True) == (config, None)
    with emulated_run(path, speed=SPEED) as (_robot, run):
        run.control.play()
        final = run.wait(WAIT_S)
        events = list(run.record.events)
    assert final.status is Status.FAILED
    failure = next(e for e in events if e["event"] == "failure")
    assert failure["location"] == f"{path}:5"
    assert failure["error"] == (
        "load_module: the protocol asks for a Magnetic Module GEN1 (magneticModuleV1) in "
        "slot 1, but the robot's magnetic module [modules.magnet] is a Magnetic Module GEN2 "
        "(magneticModuleV2), whose geometry and behaviour differ, and Opentrons refuses it "
        "in its place: load it as 'magneticModuleV2', or attach a Magnetic Module GEN1")


def test_an_added_emulated_module_is_the_model_the_protocol_asks_for() -> None:
    needed = [{"params": {"module_kind": "magnetic", "model": "magneticModuleV1",
                          "slot": "1"}, "line": "p.py:5"},
              {"params": {"module_kind": "temperature", "model": "temperatureModuleV2",
                          "slot": "3"}, "line": "p.py:6"}]
    config, missing = modules_for(emulator_config("grbl"), needed, emulated=True)
    assert missing is None
    assert {name: (m.kind, m.model) for name, m in config.modules.items()} == {
        "magnetic": ("magnetic", "magneticModuleV1"),
        "temperature": ("temperature", "temperatureModuleV2")}


@pytest.mark.parametrize(("kind", "model"), [
    ("temperature", "temperatureModuleV1"), ("temperature", "temperatureModuleV2"),
    ("magnetic", "magneticModuleV1"), ("magnetic", "magneticModuleV2"),
    ("thermocycler", "thermocyclerModuleV1"), ("thermocycler", "thermocyclerModuleV2"),
    ("heater_shaker", "heaterShakerModuleV1"),
])
def test_a_twin_of_each_model_says_it_is_that_model(kind: str, model: str) -> None:
    seen: list[object] = []
    with running_module_twins({"m": kind}, speed=SPEED, models={"m": model}) as twins:

        async def main() -> None:
            device = serial_module(kind, "m", twins.address("m"), RealClock(SPEED),
                                   timeout_s=5.0, model=model)
            with anyio.fail_after(WAIT_S):
                await device.connect()
                seen.append(device.status()["model"])
                await device.disconnect()

        anyio.run(main)
    assert seen == [model]


def test_a_gen1_thermocycler_is_spoken_to_as_opentrons_speaks_to_it() -> None:
    # Lines end with \r\n, answers with ok ok; no ramp rate goes (Opentrons' GEN1 driver
    # sends none); a hold is waited out once the block is within tolerance of its target.
    with running_module_twins({"tc": "thermocycler"}, speed=SPEED,
                              models={"tc": "thermocyclerModuleV1"}) as twins:
        firmware = twins.firmware("tc")
        assert isinstance(firmware, ThermocyclerGen1Firmware)
        sent: list[str] = []

        async def main() -> None:
            device: SerialModule = serial_module("thermocycler", "tc", twins.address("tc"),
                                                 RealClock(SPEED), timeout_s=5.0,
                                                 model="thermocyclerModuleV1")
            with anyio.fail_after(WAIT_S):
                await device.connect()
                assert await device.call("close_lid", {}) == {"lid": "closed"}
                await device.call("set_block_temperature", {
                    "celsius": 40, "hold_time_s": 2, "volume_ul": None, "ramp_rate": 1.0})
                await device.call("wait_for_block_temperature", {})
                status = device.status()
                assert status["model"] == "thermocyclerModuleV1"
                assert status["hold_time_left_s"] == 0.0
                assert abs(status["block_temperature"] - 40.0) <= 0.5
                sent.extend(device.wire.sent)
                await device.disconnect()

        anyio.run(main)
        received = twins.call(lambda: list(firmware.received))
    assert "M104 S40.00 H2.00" in sent and not [s for s in sent if " R" in s]
    assert received[:len(sent)] == sent  # each line arrived whole, as it was sent
