"""``labrun serve --emulate marlin``: a client's halt mid-move on Marlin, whose board
answers nothing after ``M112``: the status gives no position and says it is unknown, and
so does the run's summary in the history.

The server drives labrun's emulator over a real socket.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from labrun_protocols import LONG_MOVE
from remote_kit import WAIT

from labrun.remote import RunManager, RunManagerAPI, start_server
from labrun.remote.robots import emulated_robot

UNKNOWN = "position unknown after the emergency stop: home before moving"


@pytest.fixture
def marlin_server() -> Iterator[RunManagerAPI]:
    robot = emulated_robot(dialect="marlin", speed=10)
    try:
        with start_server(RunManager(robot)) as handle:
            client = RunManagerAPI(handle.url, token=handle.token)
            try:
                yield client
            finally:
                client.close()
    finally:
        robot.close()


def test_a_halt_on_marlin_gives_no_position_and_says_it_is_unknown(
        marlin_server: RunManagerAPI) -> None:
    client = marlin_server
    client.queue_item_add({"name": "long_move.py", "source": LONG_MOVE})
    client.queue_start()
    moving = client.wait_for(lambda s: s["run_status"] == "running"
                             and (s.get("step") or {}).get("index") == 3, timeout=WAIT)
    assert moving["position"] and not moving.get("position_unknown")
    assert client.re_halt()["success"]
    halted: dict[str, Any] = client.wait_for(lambda s: s["run_status"] == "halted",
                                             timeout=WAIT)
    assert halted["position"] == {} and halted["position_unknown"] == UNKNOWN
    client.wait_for_idle(timeout=WAIT)
    entry = client.history_get()["items"][-1]
    assert entry["result"]["exit_status"] == "halted"
    assert entry["result"]["summary"]["position_unknown"] == UNKNOWN
