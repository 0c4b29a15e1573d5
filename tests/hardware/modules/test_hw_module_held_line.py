"""A module holding its serial line (flow control, a USB firmware that stopped reading)
holds up nothing else: the robot's controller and the modules share the hardware
thread's loop, and a halt must reach the robot's emergency stop while the module's write
waits for its line."""

from __future__ import annotations

import textwrap
from pathlib import Path

from emulated_runs import WAIT_S, emulated_run, wait_until

from engine.state import Status

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    temperature = ctx.load_module("temperature module gen2", 9)
    temperature.set_temperature(30)
'''

HALT_LANDS_S = 5.0
"""How long the halt may take to be confirmed: the robot's stop takes milliseconds; a
write to the held module's line waits its 10 s timeout."""


def test_a_halt_lands_while_a_module_write_waits_for_its_held_line(tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(PROTOCOL))
    with emulated_run(path) as (robot, run):
        assert robot.twins is not None
        twins = robot.twins

        def started(kind: str) -> bool:
            events = [e for e in run.record.events if e["event"] == "command"]
            ids = {e["id"] for e in events if e.get("type") == kind}
            return any(e["status"] == "started" and e["id"] in ids for e in events)

        def stops() -> list[dict[str, object]]:
            return [e for e in run.record.events if e["event"] == "emergency_stop"]

        twins.hold_line("temperature", True)
        try:
            run.control.play()
            wait_until(lambda: started("temperatureModule/setTargetTemperature"),
                       "the module's command")  # its M104 waits for the held line
            assert run.control.halt().accepted
            wait_until(lambda: bool(stops()), "the robot's emergency stop", HALT_LANDS_S)
            (estop,) = stops()
            assert estop["confirmed"] is True
            assert "M104 S30" not in twins.call(
                lambda: list(twins.firmware("temperature").received))
        finally:
            twins.hold_line("temperature", False)
        final = run.wait(WAIT_S)
    assert final.status is Status.HALTED, final
    assert final.outcome is not None and final.outcome.reason is None  # confirmed
