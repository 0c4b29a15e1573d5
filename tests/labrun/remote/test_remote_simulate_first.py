"""The server simulates every protocol, as ``labrun simulate`` does, when it is added and
again right before it starts: one that cannot run is refused (422) or fails before
anything moves, and every error names the file as the client uploaded it."""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from remote_kit import QUICK, WAIT, Gates, Served, item, protocol

from labrun.remote import HTTPClientError, RequestFailedError
from protocol_api.labware_definitions import get_definition

# protocol() puts the body's first line on line 7 (line 9 with gates).
BAD_WELL = item('''
p300.pick_up_tip()
p300.aspirate(50, plate["A1"])
p300.dispense(50, plate["Z99"])
p300.drop_tip()
''', "bad_well.py")


def names(served: Served) -> list[str]:
    return [i["name"] for i in served.client.queue_get()["items"]]


@pytest.mark.parametrize(("upload", "reason"), [
    (BAD_WELL, "bad_well.py:9: corning_96_wellplate_360ul_flat in slot 2 has no well 'Z99'"),
    (item('p300.pick_up_tip()\np300.aspirate(500, plate["A1"])', "too_much.py"),
     "too_much.py:8: aspirate: 500 µL would put 500 µL in the tip"),
    (item('ctx.comment("start")\n1 / 0', "raises.py"),
     "raises.py:8: ZeroDivisionError: division by zero"),
    ({"name": "broken.py",
      "source": 'metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n    x = (\n'},
     "broken.py:4: syntax error"),
    ({"name": "old.py", "source": 'metadata = {"apiLevel": "1.0"}\ndef run(ctx): pass\n'},
     "old.py:1: the protocol is written for Opentrons' Python API version 1 "),
])
def test_a_protocol_that_cannot_run_is_refused_when_added(served: Served,
                                                          upload: dict[str, Any],
                                                          reason: str) -> None:
    c = served.client
    c.queue_item_add(QUICK)
    queue_uid = c.queue_get()["plan_queue_uid"]
    with pytest.raises(HTTPClientError) as refused:
        c.queue_item_add(upload)
    assert refused.value.status_code == 422
    assert refused.value.response["msg"].startswith(f"the protocol cannot run: {reason}")
    assert names(served) == ["quick.py"] and c.queue_get()["plan_queue_uid"] == queue_uid


def custom_labware_protocol(tmp_path: Path) -> tuple[Path, Path]:
    """A protocol using custom labware from ``plate.json``; their paths."""
    definition = json.loads(json.dumps(get_definition("corning_96_wellplate_360ul_flat")))
    definition["parameters"]["loadName"] = "lab_custom_plate"
    labware = tmp_path / "plate.json"
    labware.write_text(json.dumps(definition))
    source = tmp_path / "custom.py"
    source.write_text(protocol('''
custom = ctx.load_labware("lab_custom_plate", 3)
p300.transfer(20, custom["A1"], custom["A2"])
'''))
    return source, labware


def test_an_item_that_no_longer_simulates_fails_before_anything_moves(
        served: Served, tmp_path: Path) -> None:
    c = served.client
    source, labware = custom_labware_protocol(tmp_path)
    c.queue_item_add(path=source, labware=[labware])
    c.queue_item_add(QUICK)
    queued = served.manager.queue.items[0]
    assert queued.labware_dir is not None
    (queued.labware_dir / "plate.json").unlink()  # the server's copy is gone
    robot = served.robot.simulated
    assert robot is not None
    where = robot.position
    reason = "the protocol cannot run: custom.py:7: "
    with pytest.raises(RequestFailedError, match=reason + ".*lab_custom_plate"):
        c.queue_start()
    status = c.status()
    assert status["manager_state"] == "idle"
    assert status["queue_error"].startswith("custom.py could not start: " + reason)
    assert names(served) == ["quick.py"]
    [failed] = c.history_get(records=True)["items"]
    assert failed["name"] == "custom.py" and failed["result"]["exit_status"] == "failed"
    assert status["queue_error"] == f"custom.py could not start: {failed['result']['msg']}"
    assert failed["record"] == []
    assert robot.position == where  # nothing moved, not even homing


def test_the_next_item_is_simulated_again_when_its_turn_comes(served: Served,
                                                              tmp_path: Path) -> None:
    c = served.client
    source, labware = custom_labware_protocol(tmp_path)
    c.queue_item_add(QUICK)
    c.queue_item_add(path=source, labware=[labware])
    c.queue_item_add(QUICK)
    labware_dir = served.manager.queue.items[1].labware_dir
    assert labware_dir is not None
    (labware_dir / "plate.json").write_text("{}")  # no longer a labware definition
    c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    assert status["items_in_queue"] == 1
    assert status["queue_error"].startswith(  # what exactly is said is the loader's
        "custom.py could not start: the protocol cannot run: custom.py:")
    ran, failed = c.history_get()["items"]
    assert ran["result"]["exit_status"] == "succeeded"
    assert failed["name"] == "custom.py" and failed["result"]["exit_status"] == "failed"


def test_simulating_does_not_hold_up_the_server(served: Served, gates: Gates) -> None:
    """The simulation runs in a worker process: other requests are answered meanwhile."""
    slow = item('gates.wait("simulating", simulation=True)\np300.pick_up_tip()', "slow.py")
    added: list[dict[str, Any]] = []
    adder = served.api()

    def add() -> None:
        added.append(adder.queue_item_add(slow))

    thread = threading.Thread(target=add)
    thread.start()
    try:
        gates.reached("simulating")  # the server is simulating slow.py now
        c = served.client
        assert c.status()["items_in_queue"] == 0
        c.queue_item_add(QUICK)  # simulated beside it
        assert names(served) == ["quick.py"]
    finally:
        gates.open("simulating")
        thread.join(WAIT)
        adder.close()
    assert added and added[0]["item"]["name"] == "slow.py"
    assert names(served) == ["quick.py", "slow.py"]


def test_the_queue_changing_while_an_item_is_checked_is_checked_again(
        served: Served, gates: Gates, tmp_path: Path) -> None:
    """The item removed during its check does not run; the one now first is checked."""
    c = served.client
    held = item('if gates.is_set("hold"):\n    gates.wait("checking", simulation=True)\n'
                'p300.pick_up_tip()', "removed.py")
    uid = c.queue_item_add(held)["item"]["item_uid"]
    source, labware = custom_labware_protocol(tmp_path)
    c.queue_item_add(path=source, labware=[labware])
    labware_dir = served.manager.queue.items[1].labware_dir
    assert labware_dir is not None
    (labware_dir / "plate.json").unlink()  # custom.py no longer simulates
    gates.set("hold")  # from now on, simulating removed.py waits at "checking"
    starter = served.api(request_fail_exceptions=False)
    started: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: started.append(starter.queue_start()))
    thread.start()
    try:
        gates.reached("checking")  # removed.py is being simulated before it starts
        assert c.status()["manager_state"] == "executing_queue"
        assert c.queue_item_remove(uid=uid)["item"]["name"] == "removed.py"
    finally:
        gates.open("checking")
        thread.join(WAIT)
        starter.close()
    [reply] = started
    assert reply["success"] is False
    assert reply["msg"].startswith("custom.py could not start: the protocol cannot run: "
                                   "custom.py:7: ")
    [failed] = c.history_get(records=True)["items"]
    assert failed["name"] == "custom.py" and failed["record"] == []  # it never started


def checked(tmp_path: Path, name: str, body: str, directory: Path | None = None,
            **limits: float) -> str | None:
    """The server's check (``items.simulate_source``) of a protocol ``name`` whose
    ``run(ctx)`` is ``body``: why it cannot run, or None."""
    from hardware.config import default_config
    from labrun.remote.items import simulate_source
    from protocol_api.loader import load_protocol

    path = tmp_path / name
    path.write_text(f'metadata = {{"apiLevel": "2.15"}}\n\ndef run(ctx):\n{body}')
    return simulate_source(load_protocol(path), name, directory or tmp_path, None,
                           default_config(), **limits)  # type: ignore[arg-type]


def test_a_run_stuck_in_its_own_code_is_refused_with_its_line(tmp_path: Path) -> None:
    # As labrun simulate's watchdog says it: not "does it wait for something?" after the
    # whole simulation time limit. (The loop ends by itself soon after: a thread cannot
    # be killed, and this one runs in the test's process.)
    reason = checked(tmp_path, "spins.py", '    import time\n    ctx.comment("start")\n'
                     '    end = time.monotonic() + 2\n'
                     '    while time.monotonic() < end:\n        time.sleep(0.01)\n',
                     watchdog_s=0.3)
    assert reason is not None
    assert reason.startswith("spins.py:7: ") or reason.startswith("spins.py:8: "), reason
    assert reason.endswith(": the protocol made no call for 0.3 s and seems stuck"), reason


def test_a_check_that_never_ends_names_the_line_it_was_at(tmp_path: Path) -> None:
    # A loop of calls that never ends (a delay in a "while True") is cut off at the
    # check's time limit: the reason names the line, not only the limit.
    reason = checked(tmp_path, "forever.py", '    ctx.comment("start")\n    while True:\n'
                     '        ctx.delay(minutes=60)\n', timeout=0.3)
    assert reason is not None
    assert re.fullmatch(r"forever\.py: the simulation did not end within 0\.3 s \(it was "
                        r"at forever\.py:6, [\d,]+ commands in\); does the protocol loop "
                        r"for ever, or wait for something\?", reason), reason


def test_an_item_removed_while_it_is_checked_ends_its_check_quietly(tmp_path: Path) -> None:
    # Its folder goes with it while the check runs: the plan has nowhere to go, and that
    # is no error (it printed a traceback in the server's terminal).
    assert checked(tmp_path, "gone.py", '    ctx.comment("start")\n',
                   directory=tmp_path / "removed") is None


def test_a_queue_stop_while_the_next_item_is_checked_keeps_it_from_starting(
        served: Served, gates: Gates) -> None:
    """queue_stop between two runs (the next one is simulated again before it starts):
    accepted, so nothing more starts; the item stays queued, and the start says why
    nothing started."""
    c = served.client
    held = item('if gates.is_set("hold"):\n    gates.wait("checking", simulation=True)\n'
                'p300.pick_up_tip()', "next.py")
    c.queue_item_add(held)
    gates.set("hold")
    starter = served.api(request_fail_exceptions=False)
    started: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: started.append(starter.queue_start()))
    thread.start()
    try:
        gates.reached("checking")  # next.py is being simulated before it starts
        assert c.status()["manager_state"] == "executing_queue"
        assert c.queue_stop()["success"]
    finally:
        gates.open("checking")
        thread.join(WAIT)
        starter.close()
    status = c.wait_for_idle(timeout=WAIT)
    assert (status["manager_state"], status["items_in_queue"]) == ("idle", 1)
    assert not status["queue_stop_pending"] and c.history_get()["items"] == []
    assert started == [{"success": False, "msg": "queue_stop was asked for before the next "
                                                 "run could start"}]


def test_a_queue_emptied_while_its_first_item_is_checked_starts_nothing_and_says_so(
        served: Served, gates: Gates) -> None:
    """queue_clear while queue_start checks the first item again: nothing starts, and the
    start says so (it answered success with the manager idle and nothing running)."""
    c = served.client
    c.queue_item_add(item('if gates.is_set("hold"):\n    gates.wait("checking", '
                          'simulation=True)\np300.pick_up_tip()', "first.py"))
    gates.set("hold")
    starter = served.api(request_fail_exceptions=False)
    started: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: started.append(starter.queue_start()))
    thread.start()
    try:
        gates.reached("checking")  # first.py is being simulated before it starts
        assert c.queue_clear()["success"]
    finally:
        gates.open("checking")
        thread.join(WAIT)
        starter.close()
    assert started == [{"success": False, "msg": "the queue was emptied before its next run "
                                                 "could start"}]
    status = c.wait_for_idle(timeout=WAIT)
    assert (status["run_status"], status["items_in_queue"], status["queue_error"]) == (
        None, 0, None)
    assert c.history_get()["items"] == []


def test_a_client_waits_for_the_check_beyond_its_timeout(served: Served, gates: Gates) -> None:
    """Adding an item answers once it is simulated, which may take longer than a client's
    timeout for other calls: the client waits for it rather than fail a call that the
    server then carries out (a retry would queue it twice)."""
    slow = item('gates.wait("simulating", simulation=True)\np300.pick_up_tip()', "slow.py")
    impatient = served.api(timeout=0.5)
    added: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: added.append(impatient.queue_item_add(slow)))
    thread.start()
    try:
        gates.reached("simulating")
        time.sleep(1.0)  # twice the client's timeout
    finally:
        gates.open("simulating")
        thread.join(WAIT)
        impatient.close()
    assert added and added[0]["success"]
    assert names(served) == ["slow.py"]
