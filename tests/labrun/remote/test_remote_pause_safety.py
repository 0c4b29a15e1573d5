"""``labrun serve --emulate``: an immediate pause from a client mid-pick-up, mid-aspirate
or mid-move with a tip changes nothing that touches liquid.

The server drives labrun's emulator over a real socket; every motion of the driver is
kept (``TracedController``), so the paused run is compared with a pause-free run of the
same item on the same robot: the same plunger strokes at the same places, and no nozzle
lower anywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from labrun_protocols import SLOW_STEPS
from motion_trace import PhysicalTrace, TracedController, TraceItem
from remote_kit import WAIT

from labrun.remote import RunManager, RunManagerAPI, start_server
from labrun.remote.robots import Robot, emulated_robot

ITEM = {"name": "slow_steps.py", "source": SLOW_STEPS}


@pytest.fixture
def traced_server() -> Iterator[tuple[RunManagerAPI, list[TraceItem], Robot]]:
    emulated = emulated_robot(speed=10)
    trace: list[TraceItem] = []
    robot = Robot(emulated.config, TracedController(emulated.controller, trace),
                  emulated.clock, kind=emulated.kind, simulating=False, door=emulated.door)
    try:
        with start_server(RunManager(robot)) as handle:
            client = RunManagerAPI(handle.url, token=handle.token)
            try:
                yield client, trace, robot
            finally:
                client.close()
    finally:
        emulated.close()


def run_item(client: RunManagerAPI, *, pause_in: str | None) -> dict[str, Any]:
    """Run the item; with ``pause_in``, pause it immediately once that step is under way."""
    client.queue_item_add(ITEM)
    client.queue_start()
    if pause_in is not None:
        assert client.wait_for(
            lambda s: s["run_status"] == "running" and (s.get("step") or {}).get("name")
            == pause_in, timeout=WAIT)
        assert client.re_pause("immediate")["success"]
        assert client.wait_for(lambda s: s["run_status"] == "paused", timeout=WAIT)
        assert client.re_resume()["success"]
    client.wait_for_idle(timeout=WAIT)
    entry: dict[str, Any] = client.history_get(records=True)["items"][-1]
    assert entry["result"]["exit_status"] == "succeeded", entry["result"]
    return entry


@pytest.mark.parametrize("step", ["pick up", "aspirate", "carry"])
def test_a_client_pause_mid_pick_up_aspirate_or_move_with_a_tip_changes_no_contact(
        traced_server: tuple[RunManagerAPI, list[TraceItem], Robot], step: str) -> None:
    client, trace, robot = traced_server
    run_item(client, pause_in=None)  # from the state every later run starts in (plungers)
    trace.clear()
    run_item(client, pause_in=None)
    pause_free = PhysicalTrace(robot.config, list(trace), xy_decimals=1, z_tolerance=0.01)
    trace.clear()
    entry = run_item(client, pause_in=step)
    paused = PhysicalTrace(robot.config, list(trace), xy_decimals=1, z_tolerance=0.01)
    events = entry["record"]
    effects = [e["effect"] for e in events if e["event"] == "pause_effect"]
    park = next(e for e in events if e["event"] == "park")
    unpark = next(e for e in events if e["event"] == "unpark")
    if unpark.get("rewind"):  # the step's irreversible commands had not started
        assert step == "carry" and effects == ["interrupted", "rewound"], effects
    else:  # back to where it stopped, at the same height; nothing repeated
        assert unpark["position"] == pytest.approx(park["recorded"], abs=0.01)
        assert effects in ([], ["continued"], ["interrupted", "completed after pause"])
    assert paused.rounded_contacts(1) == pause_free.rounded_contacts(1)
    assert paused.floor_violations(pause_free) == []
