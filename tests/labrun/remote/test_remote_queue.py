"""The sync client against a real server: the queue, every run action, the history, and
the queue semantics of bluesky-queueserver (what stops the queue and what does not).

Every test here runs twice: with the runs in the server's process, and in a run worker
process that owns the robot, as ``labrun serve`` runs them."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from remote_kit import (
    QUICK,
    SPEED,
    WAIT,
    Gates,
    Served,
    door_opens_as_the_next_run_starts,
    item,
    serving,
)

from engine.record import read_record
from hardware.config import default_config
from labrun.cli.main import main
from labrun.remote import (
    HTTPClientError,
    RequestFailedError,
    RunManager,
    RunManagerAPI,
    records,
    simulated_robot,
    start_server,
)
from protocol_api.labware_definitions import get_definition

HELD = item('''
p300.pick_up_tip()
gates.wait("held")
p300.aspirate(50, plate["A1"])
p300.dispense(50, plate["B1"])
ctx.delay(seconds=3600, msg="soak")
p300.drop_tip()
''', "held.py")


@pytest.fixture(params=["in process", "run worker"])
def served(request: pytest.FixtureRequest, gates: Gates) -> Iterator[Served]:
    with serving(gates, run_worker=request.param == "run worker") as server:
        yield server


def names(served: Served) -> list[str]:
    return [i["name"] for i in served.client.queue_get()["items"]]


def history(served: Served) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = served.client.history_get(records=True)["items"]
    return items


def test_idle_status_reports_everything(served: Served) -> None:
    status = served.client.status()
    assert status["success"] is True
    assert status["manager_state"] == "idle"
    for key, value in {"run_status": None, "re_state": None, "pause_pending": False,
                       "pause_source": None, "pause_from": None, "pause_message": None,
                       "parked": False, "unparking": False, "position": None,
                       "interlocks": [], "step": None, "delay": None, "items_in_queue": 0,
                       "items_in_history": 0, "running_item_uid": None,
                       "queue_stop_pending": False, "mode": "queue",
                       "lock": {"environment": False, "queue": False}}.items():
        assert status[key] == value, key
    assert status["robot"]["kind"].startswith("simulated")


def test_an_item_moves_to_a_position_or_beside_another_and_nothing_else_moves(
        served: Served) -> None:
    c = served.client
    uids = {name: c.queue_item_add(item("pass", name))["item"]["item_uid"]
            for name in ("a.py", "b.py", "c.py", "d.py")}
    uid = c.queue_get()["plan_queue_uid"]
    moved = c.queue_item_move(uid=uids["d.py"], pos_dest="front")
    assert moved["item"]["name"] == "d.py" and moved["qsize"] == 4
    assert names(served) == ["d.py", "a.py", "b.py", "c.py"]
    assert c.queue_get()["plan_queue_uid"] != uid  # a client that watches sees it changed
    c.queue_item_move(pos=0, pos_dest=-1)  # its position once moved: the last
    assert names(served) == ["a.py", "b.py", "c.py", "d.py"]
    c.queue_item_move(uid=uids["a.py"], after_uid=uids["c.py"])
    assert names(served) == ["b.py", "c.py", "a.py", "d.py"]
    c.queue_item_move(pos="back", before_uid=uids["b.py"])
    assert names(served) == ["d.py", "b.py", "c.py", "a.py"]
    c.queue_item_move(pos=1, pos_dest=2)
    assert names(served) == ["d.py", "c.py", "b.py", "a.py"]
    for bad, reason in (({"uid": "nope", "pos_dest": 0}, "no item 'nope' in the queue"),
                        ({"pos": 9, "pos_dest": 0}, "no item at position 9"),
                        ({"pos": 0, "before_uid": "nope"}, "no item 'nope' in the queue"),
                        ({"pos": 0, "pos_dest": 4}, r"no position 4 to move to; the queue "
                                                    r"has 4 \(0 to 3, or -4 to -1 from"),
                        ({"pos": 0, "pos_dest": -5}, "no position -5 to move to"),
                        ({"pos": 0, "after_uid": uids["d.py"]},  # pos names d.py itself
                         f"the item at position 0 is {uids['d.py']!r}: an item cannot go "
                         "before or after itself"),
                        ({"pos": "back", "before_uid": uids["a.py"]},
                         f"the item at position 3 is {uids['a.py']!r}: an item cannot go")):
        with pytest.raises(RequestFailedError, match=reason):  # the queue as it is: 200
            c.queue_item_move(**bad)
        assert names(served) == ["d.py", "c.py", "b.py", "a.py"]  # refused: as it was
    for bad, reason in (({"pos": 0}, "give one of pos_dest, before_uid and after_uid: "
                                     "where the item goes$"),
                        ({"pos_dest": 0}, "give pos or uid: the item to move"),
                        ({"pos": 0, "pos_dest": 1, "after_uid": uids["a.py"]},
                         "where the item goes, not pos_dest and after_uid"),
                        ({"uid": uids["a.py"], "before_uid": uids["a.py"]},
                         "cannot go before or after itself")):
        with pytest.raises(HTTPClientError, match=reason) as wrong:  # the request itself
            c.queue_item_move(**bad)
        assert wrong.value.status_code == 422
        assert names(served) == ["d.py", "c.py", "b.py", "a.py"]


def test_queue_add_list_remove_clear(served: Served, tmp_path: Any) -> None:
    c = served.client
    quick = c.queue_item_add(QUICK)
    assert quick["success"] and quick["qsize"] == 1
    assert quick["item"]["api_level"] == "2.15" and quick["item"]["item_type"] == "protocol"
    b = c.queue_item_add(item("pass", "b.py"), pos="front")["item"]
    c.queue_item_add(item("pass", "c.py"), after_uid=b["item_uid"])
    c.queue_item_add(item("pass", "d.py"), before_uid=b["item_uid"])
    c.queue_item_add(item("pass", "e.py"), pos=-2)  # before the last one
    assert names(served) == ["d.py", "b.py", "c.py", "e.py", "quick.py"]
    assert c.status()["items_in_queue"] == 5
    uid = c.queue_get()["plan_queue_uid"]
    assert c.queue_item_remove(uid=b["item_uid"])["item"]["name"] == "b.py"
    assert c.queue_item_remove()["item"]["name"] == "quick.py"  # the last by default
    assert c.queue_item_remove(pos="front")["item"]["name"] == "d.py"
    assert c.queue_get()["plan_queue_uid"] != uid
    assert names(served) == ["c.py", "e.py"]
    with pytest.raises(RequestFailedError, match="no item 'nope'"):
        c.queue_item_remove(uid="nope")
    with pytest.raises(RequestFailedError, match="no item at position 7"):
        c.queue_item_remove(pos=7)
    with pytest.raises(HTTPClientError, match=r"422 .*at most one"):
        c.queue_item_add(QUICK, pos=0, before_uid="x")
    loaded = tmp_path / "loaded"  # made when the protocol's file is run (to be checked)
    marking = {"name": "m.py", "source": f"open({str(loaded)!r}, 'w').close()\n"
                                         + QUICK["source"]}
    with pytest.raises(RequestFailedError, match="no item 'nope' in the queue"):
        c.queue_item_add(marking, before_uid="nope")
    assert not loaded.exists()  # refused before the protocol was simulated
    assert names(served) == ["c.py", "e.py"]
    assert c.queue_clear()["success"]
    assert names(served) == [] and c.status()["items_in_queue"] == 0
    with pytest.raises(RequestFailedError, match="empty"):
        c.queue_start()


def test_custom_labware_is_uploaded_with_the_protocol(served: Served, tmp_path: Any) -> None:
    definition = json.loads(json.dumps(get_definition("corning_96_wellplate_360ul_flat")))
    definition["parameters"]["loadName"] = "lab_custom_plate"
    (tmp_path / "plate.json").write_text(json.dumps(definition))
    source = tmp_path / "custom.py"
    source.write_text(
        'metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n'
        '    plate = ctx.load_labware("lab_custom_plate", 3)\n'
        '    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)\n'
        '    p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])\n'
        '    p.transfer(20, plate["A1"], plate["A2"])\n')
    c = served.client
    added = c.queue_item_add(path=source, labware=[tmp_path / "plate.json"])
    assert added["item"]["labware"] == ["plate.json"]
    c.queue_start()
    c.wait_for_idle(timeout=WAIT)
    assert history(served)[0]["result"]["exit_status"] == "succeeded"
    definition["wells"]["A1"].pop("depth")
    (tmp_path / "plate.json").write_text(json.dumps(definition))
    with pytest.raises(HTTPClientError, match=r"422 .*: custom\.py:4: labware "
                       r"'lab_custom_plate' is only in plate\.json, which is not a labware "
                       r"definition labrun can read: wells\.A1\.depth: missing"):
        c.queue_item_add(path=source, labware=[tmp_path])


def test_labware_folders_are_uploaded_as_labrun_simulate_reads_them(
        served: Served, tmp_path: Any) -> None:
    """The client keyed labware files by their names alone: of two folders' my_plate.json
    the server got the last, where labrun simulate --labware-dir uses the first; of
    Opentrons' my_plate/1.json and other_plate/1.json, one; and a file in the folder that
    is no definition (settings.json) refused the item, where labrun simulate passes it
    over."""
    standard = get_definition("corning_96_wellplate_360ul_flat")
    for folder, depth in (("first", 10.67), ("second", 5.0)):  # the same labware, twice
        definition = json.loads(json.dumps(standard))
        definition["parameters"]["loadName"] = "my_plate"
        definition["wells"]["A1"]["depth"] = depth
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "my_plate.json").write_text(json.dumps(definition))
    tree = tmp_path / "tree"
    for load_name in ("tree_plate", "other_plate"):  # Opentrons' folders: name/version
        definition = json.loads(json.dumps(standard))
        definition["parameters"]["loadName"] = load_name
        (tree / load_name).mkdir(parents=True)
        (tree / load_name / "1.json").write_text(json.dumps(definition))
    (tree / "settings.json").write_text('{"theme": "dark"}')
    source = tmp_path / "custom.py"
    source.write_text(
        'metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n'
        '    plate = ctx.load_labware("my_plate", 3)\n'
        '    ctx.load_labware("tree_plate", 4)\n'
        '    ctx.load_labware("other_plate", 5)\n'
        '    ctx.comment(f"depth {plate[\'A1\'].depth}")\n')
    folders = [tmp_path / "first", tmp_path / "second", tree]
    assert main(["simulate", str(source), *[f"--labware-dir={f}" for f in folders]]) == 0
    c = served.client
    added = c.queue_item_add(path=source, labware=folders)
    assert added["item"]["labware"] == ["1.json", "my_plate.json", "settings.json",
                                        "tree_plate-1.json"]
    c.queue_start()
    c.wait_for_idle(timeout=WAIT)
    [ran] = c.history_get(records=True)["items"]
    assert ran["result"]["exit_status"] == "succeeded"
    said = [e["params"]["message"] for e in ran["record"]
            if e["event"] == "command" and e.get("type") == "comment"]
    assert said == ["depth 10.67"]  # the first folder's, as labrun simulate takes it


def test_pause_resume_skip_delay_and_stop_then_the_queue_goes_on(served: Served,
                                                                  gates: Gates) -> None:
    c = served.client
    c.queue_item_add(HELD)
    c.queue_item_add(QUICK)
    assert c.queue_start() == {"success": True, "msg": ""}
    status = c.status()
    assert status["manager_state"] == "executing_queue"
    assert status["running_item"]["name"] == "held.py" and status["items_in_queue"] == 1
    gates.reached("held")
    paused = c.re_pause()  # deferred: taken at the next checkpoint
    assert paused["success"] and paused["run_status"] == "running"
    assert c.status()["pause_pending"] is True
    gates.open("held")
    status = c.wait_for_idle_or_paused(timeout=WAIT)
    assert status["manager_state"] == "paused" and status["run_status"] == "paused"
    assert status["parked"] and status["pause_source"] == "client"
    assert status["pause_from"] == "remote" and not status["unparking"]
    assert not status["pause_pending"] and status["step"]["name"] == "pick_up_tip"
    # where the robot stands now, said: parked, its mounts raised to the top
    assert set(status["position"]) >= {"X", "Y", "Z", "A"}
    assert status["position"]["A"] > 150 and status["position"]["Z"] > 150
    with pytest.raises(RequestFailedError, match="continue it with re_resume"):
        c.queue_start()  # a paused run continues with re_resume, not queue_start
    assert c.re_resume()["run_status"] == "running"
    status = c.wait_for(lambda s: s["delay"] is not None, timeout=WAIT)
    assert status["delay"]["message"] == "soak" and status["delay"]["remaining_s"] > 3000
    assert c.re_pause("immediate")["success"]  # nothing moves: paused at once
    status = c.wait_for_idle_or_paused(timeout=WAIT)
    assert status["run_status"] == "paused" and status["delay"]["message"] == "soak"
    assert c.skip_delay()["success"]  # ends the delay; still paused
    assert c.status()["run_status"] == "paused"
    c.re_resume()
    assert c.re_stop()["success"]
    c.wait_for_idle(timeout=WAIT)
    first, second = history(served)
    assert first["name"] == "held.py" and first["result"]["exit_status"] == "stopped"
    assert first["result"]["success"] is True
    assert second["name"] == "quick.py" and second["result"]["exit_status"] == "succeeded"
    events = [e["event"] for e in first["record"]]
    assert events[0] == "run" and events[-1] == "summary" and "park" in events
    # the record names the protocol as it was uploaded, not the server's copy of it
    assert first["record"][0]["protocol"] == "held.py"
    assert all(e["line"].startswith("held.py:") for e in first["record"] if e.get("line"))
    actions = [(e["action"], e["source"]) for e in first["record"] if e["event"] == "action"]
    assert ("pause", "remote") in actions and ("skip_delay", "remote") in actions


def test_the_status_says_when_it_changed_in_seconds_since_the_epoch(served: Served,
                                                                  gates: Gates) -> None:
    """As every other time the API gives (added_at, time_start, created_at)."""
    c = served.client
    before = time.time()
    added = c.queue_item_add(HELD)["item"]
    idle = c.status()
    assert before <= added["added_at"] <= idle["changed_at"] <= time.time()
    c.queue_start()
    gates.reached("held")
    running = c.status()
    assert idle["changed_at"] <= running["changed_at"] <= time.time()
    assert c.re_stop()["success"]
    gates.open("held")
    ended = c.wait_for_idle(timeout=WAIT)
    [entry] = c.history_get(records=True)["items"]
    assert entry["result"]["time_stop"] <= ended["changed_at"] <= time.time()
    assert before <= entry["record"][0]["created_at"] <= entry["result"]["time_stop"]


def test_the_running_run_s_record_so_far_is_fetched_by_its_uid(served: Served,
                                                               gates: Gates) -> None:
    c = served.client
    uid = c.queue_item_add(item('ctx.comment("before the gate")\ngates.wait("held")\n'
                                'ctx.comment("after it")', "held.py"))["item"]["item_uid"]
    c.queue_start()
    gates.reached("held")
    reply = c.history_item_get(uid)
    assert (reply["running"], reply["item"]["name"], reply["item"]["result"]) == (
        True, "held.py", None)
    so_far = reply["item"]["record"]
    assert so_far[0]["event"] == "run" and so_far[0]["protocol"] == "held.py"
    assert so_far[0]["id"] == uid  # the record names the item it is the run of
    said = [e["params"]["message"] for e in so_far if e.get("type") == "comment"]
    assert said == ["before the gate"] and so_far[-1]["event"] != "summary"
    assert all(e["line"].startswith("held.py:") for e in so_far if e.get("line"))
    lean = c.history_item_get(uid, records=False)
    assert lean["running"] is True and "record" not in lean["item"]
    gates.open("held")
    c.wait_for_idle(timeout=WAIT)
    ended = c.history_item_get(uid)
    assert ended["running"] is False and ended["item"]["result"]["exit_status"] == "succeeded"
    assert ended["item"]["record"][:len(so_far)] == so_far  # the same record, to its end
    assert ended["item"]["record"][-1]["event"] == "summary"


def test_the_history_lists_runs_and_gives_records_only_when_asked(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """Records are read from their files, not kept in memory: without --record-dir the
    server keeps the last SPOOL_KEPT runs' records (here one)."""
    monkeypatch.setattr(records, "SPOOL_KEPT", 1)
    c = served.client
    first = c.queue_item_add(QUICK)["item"]["item_uid"]
    second = c.queue_item_add(QUICK)["item"]["item_uid"]
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_history"] == 2
    listing = c.history_get()["items"]
    assert [e["item_uid"] for e in listing] == [first, second]
    assert all("record" not in e and e["result"]["success"] for e in listing)
    full = c.history_get(records=True)["items"]
    assert full[0]["record"] is None  # no longer kept, and said so
    assert full[0]["record_error"] == ("no longer kept: without a record folder "
                                       "(--record-dir) the server keeps only the last 1 "
                                       "runs' records")
    assert full[1]["record"][-1]["event"] == "summary"
    assert full[1]["record_error"] is None
    assert c.history_item_get(first)["item"]["record"] is None
    assert c.history_item_get(first)["item"]["record_error"] == full[0]["record_error"]
    assert c.history_item_get(second)["item"]["record"] == full[1]["record"]
    raw = httpx.get(served.url + "/api/history/get").json()["items"]
    assert raw == listing  # records=false is the default of the API too


def test_a_record_is_read_from_its_file_in_the_record_folder(gates: Gates,
                                                            tmp_path: Path) -> None:
    with serving(gates, record_dir=str(tmp_path)) as served:
        c = served.client
        uid = c.queue_item_add(QUICK)["item"]["item_uid"]
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        on_disk = read_record(tmp_path / f"{uid}.jsonl")
        assert c.history_item_get(uid)["item"]["record"] == on_disk
        (tmp_path / f"{uid}.jsonl").unlink()  # the server keeps no copy
        assert c.history_item_get(uid)["item"]["record"] is None
        assert c.history_item_get(uid)["item"]["result"]["exit_status"] == "succeeded"


def test_a_run_summary_and_record_keep_the_runs_own_time(served: Served) -> None:
    """Not the server's: each run's clock starts at zero, whatever ran before it."""
    c = served.client
    for name in ("first.py", "second.py"):
        c.queue_item_add(item("ctx.delay(seconds=10)", name))
    c.queue_start()
    c.wait_for_idle(timeout=WAIT)
    for entry in history(served):
        result = entry["result"]
        took = (result["time_stop"] - result["time_start"]) * SPEED  # on the robot's clock
        duration = result["summary"]["duration_s"]
        assert 10 <= duration <= took, entry["name"]
        assert all(0 <= event["t"] <= took for event in entry["record"]), entry["name"]


@pytest.mark.parametrize("ending", ["abort", "halt", "fail"])
def test_an_aborted_halted_or_failed_run_stops_the_queue(served: Served, gates: Gates,
                                                         ending: str) -> None:
    c = served.client
    c.queue_item_add(item('''
p300.pick_up_tip()
gates.wait("held")
if gates.is_set("upside down"):  # not in the server's simulation: it would be refused
    raise ValueError("the plate is upside down")
''', "ends.py"))
    c.queue_item_add(QUICK)
    c.queue_start()
    gates.reached("held")
    if ending == "abort":
        assert c.re_abort("wrong plate")["success"]
    elif ending == "halt":
        assert c.re_halt()["success"]
    else:
        gates.set("upside down")
    gates.open("held")
    status = c.wait_for_idle(timeout=WAIT)
    assert status["items_in_queue"] == 1 and status["items_in_history"] == 1
    result = history(served)[0]["result"]
    expected = {"abort": "aborted", "halt": "halted", "fail": "failed"}[ending]
    assert result["exit_status"] == expected and result["success"] is False
    if ending == "abort":
        assert result["msg"] == "wrong plate"
    assert status["queue_error"] == {  # which item ended how, and why: the queue's stop
        "abort": "ends.py aborted: wrong plate", "halt": "ends.py halted",
        "fail": "ends.py failed: ends.py:12: ValueError: the plate is upside down"}[ending]
    if ending == "fail":
        assert result["msg"] == "ends.py:12: ValueError: the plate is upside down"  # where too
        assert result["summary"]["location"] == "ends.py:12"  # as uploaded
        lines = [e["line"] for e in history(served)[0]["record"] if e.get("line")]
        assert lines and all(line.startswith("ends.py:") for line in lines)
    with pytest.raises(RequestFailedError, match="idle"):
        c.re_resume()  # a stopped queue restarts with queue_start
    if ending == "halt":  # no cleanup: the tip is still on, and the next run waits for it
        assert status["tips_left"] == {"run": "ends.py", "status": "halted",
                                       "mounts": {"right": {"volume_ul": 0.0}}}
        with pytest.raises(RequestFailedError) as refusal:
            c.queue_start()
        assert str(refusal.value).endswith(
            "the right pipette holds a tip, left by ends.py (halted): take it off the "
            "robot, then say so with robot_tips_removed (the page's 'Tips removed' "
            "button), and start the queue again")
        assert c.robot_tips_removed()["success"]
        assert c.status()["tips_left"] is None
    else:  # the cleanup dropped it
        assert status["tips_left"] is None
    c.queue_start()  # after a halt, the robot is homed before the next run
    assert c.wait_for_idle(timeout=WAIT)["queue_error"] is None  # said until a run starts
    assert history(served)[1]["result"]["exit_status"] == "succeeded"
    assert [e["event"] for e in history(served)[1]["record"]][-1] == "summary"


def test_a_deferred_pause_during_the_last_step_finishes_the_run_and_stops_the_queue(
        served: Served, gates: Gates) -> None:
    c = served.client
    c.queue_item_add(item('''
p300.pick_up_tip()
with ctx.step("last"):
    ctx.comment("the last step")
    gates.wait("last")
    p300.drop_tip()
''', "last.py"))
    c.queue_item_add(QUICK)
    c.queue_start()
    gates.reached("last")
    assert c.re_pause()["success"]
    gates.open("last")
    status = c.wait_for_idle(timeout=WAIT)
    assert status["items_in_queue"] == 1
    result = history(served)[0]["result"]
    assert result["exit_status"] == "succeeded" and result["pause_unresolved"] is True
    assert result["summary"]["pause_unresolved"] is True and "pause" in result["msg"]
    assert status["queue_error"] == f"last.py succeeded: {result['msg']}"  # why it stopped
    assert status["pause_unresolved"] is True  # the last run's, as in its history entry
    with pytest.raises(RequestFailedError):
        c.re_resume()
    c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    assert [h["result"]["exit_status"] for h in history(served)] == ["succeeded"] * 2
    assert status["pause_unresolved"] is False and status["queue_error"] is None


def test_queue_stop_lets_the_run_finish_and_can_be_cancelled(served: Served,
                                                             gates: Gates) -> None:
    c = served.client
    with pytest.raises(RequestFailedError, match="not running"):
        c.queue_stop()
    c.queue_item_add(item('p300.pick_up_tip()\ngates.wait("held")\np300.drop_tip()'))
    c.queue_item_add(QUICK)
    c.queue_start()
    gates.reached("held")
    assert c.queue_stop()["msg"] == ""
    assert c.status()["queue_stop_pending"] is True
    again = c.queue_stop()  # asked twice: still so, and said so
    assert again["success"] and again["msg"] == ("the queue was already to stop after the "
                                                 "current run")
    c.queue_stop_cancel()
    assert c.status()["queue_stop_pending"] is False
    c.queue_stop()
    gates.open("held")
    status = c.wait_for_idle(timeout=WAIT)
    assert status["items_in_queue"] == 1 and status["queue_stop_pending"] is False
    assert history(served)[0]["result"]["exit_status"] == "succeeded"


def test_protocol_pause_and_the_door(served: Served, gates: Gates) -> None:
    c = served.client
    c.queue_item_add(item('''
p300.pick_up_tip()
ctx.pause("check the plate")
gates.wait("door")
p300.aspirate(50, plate["A1"])
p300.drop_tip()
'''))
    c.queue_start()
    status = c.wait_for_idle_or_paused(timeout=WAIT)
    assert status["pause_source"] == "protocol"
    assert status["pause_message"] == "check the plate"
    assert c.sim_interlock("door", True)["success"]
    assert c.status()["interlocks"] == ["door"]
    with pytest.raises(RequestFailedError, match="interlock door is active"):
        c.re_resume()
    c.sim_interlock("door", False)
    c.re_resume()
    gates.reached("door")
    c.sim_interlock("door", True)  # opened while running: an immediate pause
    status = c.wait_for_idle_or_paused(timeout=WAIT)
    assert status["pause_source"] == "interlock" and status["parked"]
    c.sim_interlock("door", False)
    c.re_resume()
    gates.open("door")
    c.wait_for_idle(timeout=WAIT)
    assert history(served)[0]["result"]["exit_status"] == "succeeded"
    c.sim_interlock("door", True)
    c.queue_item_add(QUICK)
    with pytest.raises(RequestFailedError, match="interlock door is active"):
        c.queue_start()
    assert c.status()["interlocks"] == ["door"]


def test_a_door_opened_during_a_run_that_was_stopped_still_holds_the_queue(
        served: Served, gates: Gates) -> None:
    c = served.client
    c.queue_item_add(HELD)
    c.queue_start()
    gates.reached("held")
    c.sim_interlock("door", True)
    c.re_stop()
    gates.open("held")
    status = c.wait_for_idle(timeout=WAIT)
    assert history(served)[0]["result"]["exit_status"] == "stopped"
    assert status["interlocks"] == ["door"]  # still open: the robot says so after the run
    c.queue_item_add(QUICK)
    with pytest.raises(RequestFailedError, match="interlock door is active"):
        c.queue_start()
    c.sim_interlock("door", False)
    assert c.status()["interlocks"] == []
    for name in ("window", "x" * 1000):  # only the robot's own interlocks are set
        with pytest.raises(RequestFailedError, match=r"this robot has no interlock .*; its "
                                                     r"interlocks: door"):
            c.sim_interlock(name, True)
    with pytest.raises(HTTPClientError, match=r"422 .*name must not be empty"):
        c.sim_interlock("", True)  # no name at all: a malformed request
    assert c.status()["interlocks"] == []
    # Stopped behind the open door, the robot was left where it stopped, its tip on:
    # the queue waits for someone to take it off.
    assert history(served)[0]["result"]["summary"]["cleanup_skipped"] == "the door held motion"
    with pytest.raises(RequestFailedError, match=r"holds a tip, left by held\.py"):
        c.queue_start()
    assert c.robot_tips_removed()["success"]
    c.queue_start()
    c.wait_for_idle(timeout=WAIT)
    assert history(served)[-1]["result"]["exit_status"] == "succeeded"


def test_an_item_added_next_to_one_that_starts_during_its_check_is_refused(
        served: Served, gates: Gates) -> None:
    """The item named by ``after_uid`` starts running while the new item is simulated: the
    new item is refused, saying the other is running, and is not queued anywhere."""
    c = served.client
    held = c.queue_item_add(HELD)["item"]["item_uid"]
    directory = served.manager.queue.items[0].directory
    assert directory is not None
    workdir = directory.parent  # where the server keeps each item's files
    slow = item('gates.wait("checking", simulation=True)\np300.pick_up_tip()', "slow.py")
    adder = served.api(request_fail_exceptions=False)
    replies: list[dict[str, Any]] = []
    thread = threading.Thread(target=lambda: replies.append(
        adder.queue_item_add(slow, after_uid=held)))
    thread.start()
    try:
        gates.reached("checking")  # slow.py is simulated; held.py still waits in the queue
        assert names(served) == ["held.py"]
        c.queue_start()
        gates.reached("held")  # held.py is running now
    finally:
        gates.open("checking")
        thread.join(WAIT)
        adder.close()
    assert replies and replies[0]["success"] is False
    assert replies[0]["msg"] == (
        f"item {held!r} is running, not waiting in the queue: a new item goes before or "
        "after a waiting one, or at a position")
    assert c.queue_get()["items"] == []
    assert not list(workdir.rglob("slow.py"))  # its stored file is gone too
    assert c.status()["run_status"] == "running"
    gates.open("held")
    c.re_abort()
    c.wait_for_idle(timeout=WAIT)
    assert [i["name"] for i in history(served)] == ["held.py"]


def test_refused_actions_change_nothing(served: Served, gates: Gates) -> None:
    c = served.client
    for call in (c.re_pause, c.re_resume, c.re_stop, c.re_abort, c.re_halt, c.skip_delay):
        with pytest.raises(RequestFailedError, match="idle"):
            call()
    held = c.queue_item_add(HELD)["item"]["item_uid"]
    c.queue_start()
    gates.reached("held")
    with pytest.raises(RequestFailedError, match=r"is running, not waiting in the queue; "
                                                 r"re_stop or re_abort ends it"):
        c.queue_item_remove(uid=held)
    for where, said in (("before_uid", "is running: nothing can go before it, as it has "
                                       "started; a new item goes before or after a wait"),
                        ("after_uid", "is running, not waiting in the queue: a new item "
                                      "goes before or after a wait")):
        with pytest.raises(RequestFailedError, match=said):
            c.queue_item_add(item("pass", "late.py"), **{where: held})
    assert c.queue_get()["items"] == []
    with pytest.raises(RequestFailedError, match="only a paused run resumes"):
        c.re_resume()
    with pytest.raises(RequestFailedError, match="no delay is active"):
        c.skip_delay()
    assert c.status()["run_status"] == "running"
    lenient = served.api(request_fail_exceptions=False)
    reply = lenient.re_resume()
    assert reply["success"] is False and "paused" in reply["msg"]
    assert reply["run_status"] == "running"
    lenient.close()
    c.re_abort()
    gates.open("held")
    c.wait_for_idle(timeout=WAIT)
    assert c.history_clear()["success"] and history(served) == []


def test_a_run_that_cannot_start_goes_to_the_history_and_stops_the_queue(
        tmp_path: Any) -> None:
    robot = simulated_robot(default_config(), speed=50)
    missing = tmp_path / "gone"
    manager = RunManager(robot, record_dir=missing)  # made here,
    missing.rmdir()  # then gone, as a disk unmounted while the server runs
    said: list[str] = []
    manager.log = said.append  # the server's terminal
    with start_server(manager) as handle:
        c = RunManagerAPI(handle.url, token=handle.token)
        c.queue_item_add(QUICK)
        c.queue_item_add(QUICK)
        with pytest.raises(RequestFailedError, match=r"the run could not start: .*gone"):
            c.queue_start()
        assert len(said) == 1
        assert said[0].startswith("run quick.py: could not start: the run could not start: ")
        status = c.status()
        assert status["manager_state"] == "idle" and status["items_in_queue"] == 1
        assert "could not start" in status["queue_error"]
        result = c.history_get()["items"][0]["result"]
        assert result["exit_status"] == "failed" and "could not start" in result["msg"]
        missing.mkdir()
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        on_disk = read_record(missing / f"{c.history_get()['items'][1]['item_uid']}.jsonl")
        assert on_disk[0]["protocol"] == "quick.py"  # as uploaded, not the server's copy
        assert {e["line"].split(":")[0] for e in on_disk if e.get("line")} == {"quick.py"}
        assert c.status()["queue_error"] is None
        c.close()


def waiting_for(ready: Path) -> dict[str, str]:
    """``slow.py``: QUICK once the file ``ready`` is there (at most 30 s later), so that
    its check before it starts waits for the test."""
    return {"name": "slow.py", "source": (
        "import os, time\n"
        "_deadline = time.monotonic() + 30\n"
        f"while not os.path.exists({str(ready)!r}) and time.monotonic() < _deadline:\n"
        "    time.sleep(0.01)\n" + QUICK["source"])}


def test_between_two_runs_a_pause_is_refused_saying_so(tmp_path: Any) -> None:
    ready = tmp_path / "ready"
    ready.touch()  # the check when it is added goes through at once
    slow = waiting_for(ready)
    robot = simulated_robot(default_config(), speed=50)
    with start_server(RunManager(robot)) as handle:
        c = RunManagerAPI(handle.url, token=handle.token)
        c.queue_item_add(QUICK)
        c.queue_item_add(slow)
        ready.unlink()  # its check before it starts waits for the file
        c.queue_start()
        status = c.wait_for(lambda s: s["items_in_history"] == 1
                            and s["running_item_uid"] is None, timeout=WAIT)
        assert status["manager_state"] == "executing_queue"
        with pytest.raises(RequestFailedError, match=r"no run is executing: the queue is "
                                                     r"between two runs \(queue_stop stops "
                                                     r"it before the next\)"):
            c.re_pause()
        ready.touch()
        c.wait_for_idle(timeout=WAIT)
        assert [i["result"]["exit_status"] for i in c.history_get()["items"]] == \
            ["succeeded", "succeeded"]
        c.close()


def test_a_door_opened_between_two_runs_keeps_the_next_item_queued(tmp_path: Any) -> None:
    """Someone opens the door as the queue moves on to the next item (while it is checked
    again): that item stays queued, unplayed and not in the history, and the queue stops
    saying why, as queue_start refuses with the door open; closed, the queue goes on."""
    ready = tmp_path / "ready"
    ready.touch()  # the check when it is added goes through at once
    slow = waiting_for(ready)
    robot = simulated_robot(default_config(), speed=50)
    controller = robot.controller
    homed_behind: list[list[str]] = []  # the interlocks active at each homing
    home = controller.home

    async def watched_home(axes: Any = None) -> Any:
        homed_behind.append(sorted(controller.active_interlocks()))
        return await home(axes)

    controller.home = watched_home  # type: ignore[method-assign]
    with start_server(RunManager(robot)) as handle:
        c = RunManagerAPI(handle.url, token=handle.token)
        c.queue_item_add(QUICK)
        second = c.queue_item_add(slow)["item"]["item_uid"]
        ready.unlink()  # its check before it starts waits for the file
        c.queue_start()
        c.wait_for(lambda s: s["items_in_history"] == 1 and s["running_item_uid"] is None,
                   timeout=WAIT)
        # a robot that must home before the next run (as one halted or reconnected)
        anyio.run(controller.emergency_stop)
        assert c.sim_interlock("door", True)["success"]  # reaching in between the runs
        ready.touch()
        status = c.wait_for(lambda s: s["manager_state"] == "idle", timeout=WAIT)
        assert status["queue_error"] == ("slow.py could not start: interlock door is "
                                         "active; clear it, then queue_start")
        assert [i["item_uid"] for i in c.queue_get()["items"]] == [second]
        assert [i["result"]["exit_status"] for i in c.history_get()["items"]] == ["succeeded"]
        assert ["door"] not in homed_behind  # nothing moves behind the open door
        c.sim_interlock("door", False)
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        assert [i["result"]["exit_status"] for i in c.history_get()["items"]] == \
            ["succeeded", "succeeded"]
        assert homed_behind[-1] == []  # homed once the door closed, then ran
        c.close()


@pytest.mark.parametrize("then", ["closed", "stopped"])
def test_a_door_opened_as_a_run_starts_holds_it_until_the_door_closes(
        served: Served, then: str) -> None:
    """The door opens in the instant the queue starts a run (made, not yet played): the
    run waits for it, idle, and nothing moves, as labrun run waits; once the door closes it
    plays and the queue goes on. A person can stop it while it waits."""
    door_opens_as_the_next_run_starts(served)
    said: list[str] = []
    served.manager.log = said.append  # the server's terminal
    c = served.client
    first = c.queue_item_add(QUICK)["item"]["item_uid"]
    c.queue_item_add(item("pass", "next.py"))
    assert c.queue_start()["success"]  # started: it waits for the door, not thrown away
    status = c.wait_for(lambda s: s["interlocks"] == ["door"], timeout=WAIT)
    assert (status["manager_state"], status["run_status"], status["running_item_uid"]) == \
        ("executing_queue", "idle", first)
    assert status["items_in_history"] == 0 and status["queue_error"] is None
    assert ("run quick.py: waiting to start: interlock door is active; clear it before "
            "starting") in said
    if then == "closed":
        c.sim_interlock("door", False)
        c.wait_for_idle(timeout=WAIT)
        assert [i["result"]["exit_status"] for i in c.history_get()["items"]] == \
            ["succeeded", "succeeded"]
    else:
        assert c.re_stop(item_uid=first)["run_status"] in ("idle", "stopped")
        status = c.wait_for_idle(timeout=WAIT)
        ended = c.history_get()["items"]
        assert [(i["name"], i["result"]["exit_status"]) for i in ended] == \
            [("quick.py", "stopped")]
        # a stopped run is a success: the queue moved on and was held by the open door
        assert status["queue_error"] == ("next.py could not start: interlock door is "
                                         "active; clear it, then queue_start")
        assert names(served) == ["next.py"]
    record = c.history_item_get(first)["item"]["record"]
    plays = [e for e in record if e["event"] == "action" and e["action"] == "play"]
    assert [p["accepted"] for p in plays] == ([False, True] if then == "closed" else [False])
    assert plays[0]["refusal"] == "interlock door is active; clear it before starting"
    door = [e["active"] for e in record if e["event"] == "interlock"]
    assert door == ([True, False] if then == "closed" else [True])
    # nothing moved behind the open door: every command came after the play accepted
    moved = [e["seq"] for e in record if e["event"] == "command"]
    assert all(seq > plays[-1]["seq"] for seq in moved) if then == "closed" else not moved


def test_a_play_refused_for_another_reason_than_an_interlock_ends_the_run_and_says_why(
        served: Served) -> None:
    """Only an interlock makes a refused play wait: a run whose worker does not answer
    (its play refused, the last status it sent still idle) is ended and the queue stops
    with the reason, not left waiting for a door that is closed."""
    from engine.actions import Action, Play
    from engine.entries import ActionResult
    from engine.state import Status

    robot = served.robot
    start_run = robot.start_run

    async def unreachable(item: Any, **options: Any) -> Any:
        active = await start_run(item, **options)
        apply = active.apply

        async def refusing_play(action: Action) -> ActionResult:
            if isinstance(action, Play):
                return ActionResult(False, Status.IDLE, "the run cannot be reached: no "
                                    "answer in 15 s")
            return await apply(action)

        active.apply = refusing_play
        return active

    robot.start_run = unreachable  # type: ignore[method-assign]
    c = served.client
    c.queue_item_add(QUICK)
    said = "quick.py could not start: the run cannot be reached: no answer in 15 s"
    with pytest.raises(RequestFailedError, match=said):
        c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    assert status["queue_error"] == said.replace(" could", " aborted: could")
    [ended] = c.history_get()["items"]
    assert ended["result"]["exit_status"] == "aborted"


# -- a restarted server --------------------------------------------------------------------------


@pytest.mark.parametrize("worker", [False, True], ids=["in process", "run worker"])
def test_the_history_outlives_the_server_with_its_records(
        gates: Gates, tmp_path: Any, worker: bool) -> None:
    with serving(gates, run_worker=worker, record_dir=str(tmp_path)) as first:
        c = first.client
        c.queue_item_add(QUICK)
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        c.queue_item_add(HELD)  # the server stops while it runs
        c.queue_start()
        gates.reached("held")
        before = history(first)
    assert [e["name"] for e in before] == ["quick.py"]
    with serving(gates, run_worker=worker, record_dir=str(tmp_path)) as second:
        after = history(second)
        assert [e["name"] for e in after] == ["quick.py", "held.py"]
        assert after[0] == before[0]  # the same entry, its record read back
        ended = after[1]["result"]
        assert (ended["exit_status"], ended["success"]) == ("aborted", False)
        assert ended["msg"] == ended["summary"]["reason"] == "the server stopped"
        assert after[1]["record"][-1]["event"] == "summary"
        assert second.client.history_clear()["success"]
    with serving(gates, run_worker=worker, record_dir=str(tmp_path)) as third:
        assert history(third) == []  # cleared stays cleared; the records stay on disk
    assert (tmp_path / f"{before[0]['item_uid']}.jsonl").is_file()


def test_a_run_killed_with_its_server_is_in_the_next_ones_history(
        gates: Gates, tmp_path: Any) -> None:
    # kill -9 of the server: the record ends where the run was, with no summary (the
    # next server ends it, as the run ended: aborted, with the server).
    lines = [{"seq": 0, "t": 0.0, "event": "run", "id": "x", "protocol": "killed.py",
              "status": "idle"},
             {"seq": 1, "t": 1.5, "event": "command", "id": 4, "status": "started"}]
    killed = tmp_path / "0123456789abcdef0123456789abcdef.jsonl"  # named by its item's uid
    killed.write_text("".join(json.dumps(e) + "\n" for e in lines)
                      + '{"seq": 2, "t"')  # a cut last line
    with serving(gates, record_dir=str(tmp_path)) as served:
        [entry] = history(served)
        served.client.queue_item_add(QUICK)
        served.client.queue_start()
        served.client.wait_for_idle(timeout=WAIT)
    assert (entry["item_uid"], entry["name"]) == ("0123456789abcdef0123456789abcdef", "killed.py")
    assert entry["result"]["exit_status"] == "aborted" and not entry["result"]["success"]
    ended = {"status": "aborted", "reason": "the server stopped while the run went on"}
    assert entry["record"] == [*lines, {"seq": 2, "t": 1.5, "event": "status", **ended},
                               {"seq": 3, "t": 1.5, "event": "summary", **ended,
                                "commands": 0, "steps": 0, "duration_s": 1.5}]
    with serving(gates, record_dir=str(tmp_path)) as served:  # in the order they started
        assert [e["name"] for e in history(served)] == ["killed.py", "quick.py"]
        assert history(served)[0] == entry
    kept = tmp_path / "history.jsonl"  # its last line cut short (a kill mid-write)
    kept.write_bytes(kept.read_bytes()[:-40])
    (tmp_path / "mine.jsonl").write_text(json.dumps(lines[0]) + "\n")  # not the server's
    with serving(gates, record_dir=str(tmp_path)) as served:
        served.client.queue_item_add(QUICK)
        served.client.queue_start()
        served.client.wait_for_idle(timeout=WAIT)
    with serving(gates, record_dir=str(tmp_path)) as served:
        names = [e["name"] for e in history(served)]
        results = [e["result"]["exit_status"] for e in history(served)]
    assert names == ["killed.py", "quick.py", "quick.py"], names  # the cut one found again
    assert results == ["aborted", "succeeded", "succeeded"], results


def test_a_history_that_cannot_be_cleared_on_disk_is_kept_and_said(
        gates: Gates, tmp_path: Any) -> None:
    import shutil

    records = tmp_path / "records"
    records.mkdir()
    with serving(gates, record_dir=str(records)) as served:
        c = served.client
        c.queue_item_add(QUICK)
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        shutil.rmtree(records)  # the folder is gone
        reply = served.api(request_fail_exceptions=False).history_clear()
        assert reply["success"] is False
        assert reply["msg"].startswith("the history cannot be cleared: cannot write ")
        assert len(history(served)) == 1


def test_tips_a_run_killed_with_its_server_left_are_asked_about_until_said_off(
        gates: Gates, tmp_path: Any) -> None:
    # kill -9 of the server and its run worker: no cleanup, no summary; the record says a
    # tip was picked up and not dropped, so the next server asks before any run starts,
    # and once told the tip is off, a server started later does not ask again.
    lines = [{"seq": 0, "t": 0.0, "event": "run", "id": "x", "protocol": "killed.py",
              "status": "idle"},
             {"seq": 1, "t": 0.5, "event": "command", "id": 3, "status": "queued",
              "type": "pickUpTip", "params": {"mount": "right", "well": "1/A1"}},
             {"seq": 2, "t": 0.5, "event": "command", "id": 3, "status": "started"}]
    killed = tmp_path / "0123456789abcdef0123456789abcdef.jsonl"
    killed.write_text("".join(json.dumps(e) + "\n" for e in lines))
    with serving(gates, record_dir=str(tmp_path)) as served:
        c = served.client
        assert c.status()["tips_left"] == {"run": "killed.py", "status": "aborted",
                                           "mounts": {"right": {"uncertain": True}}}
        c.queue_item_add(QUICK)
        with pytest.raises(RequestFailedError, match=r"the right pipette holds a tip "
                           r"\(perhaps\), left by killed.py \(aborted\)"):
            c.queue_start()
    with serving(gates, record_dir=str(tmp_path)) as served:  # still asked
        assert served.client.status()["tips_left"] is not None
        assert served.client.robot_tips_removed()["success"]
    with serving(gates, record_dir=str(tmp_path)) as served:  # told: not asked again
        assert served.client.status()["tips_left"] is None
        served.client.queue_item_add(QUICK)
        served.client.queue_start()
        assert served.client.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0


def test_a_server_that_stops_says_which_run_it_aborted_and_which_items_it_drops(
        gates: Gates) -> None:
    said: list[str] = []
    with serving(gates) as served:
        served.manager.log = said.append
        c = served.client
        c.queue_item_add(HELD)
        for name in ("b.py", "c.py"):
            c.queue_item_add(item("pass", name))
        c.queue_start()
        gates.reached("held")
    assert "the queue is not kept: 2 item(s) not run (b.py, c.py)" in said
    assert "run held.py: aborted: the server stopped" in said


def test_an_action_meant_for_a_run_that_ended_is_not_carried_out_on_the_next(
        served: Served, gates: Gates) -> None:
    # A client read the status, the run ended, the next began: its abort, meant for the
    # first, stopped the second.
    c = served.client
    first = c.queue_item_add(item('gates.wait("first")', "first.py"))["item"]["item_uid"]
    second = c.queue_item_add(item('gates.wait("second")\nctx.delay(seconds=3600)',
                                    "second.py"))["item"]["item_uid"]
    c.queue_start()
    gates.reached("first")
    assert c.status()["running_item_uid"] == first  # what the client read
    gates.open("first")
    gates.reached("second")
    for act in (lambda: c.re_abort("meant for first", item_uid=first),
                lambda: c.re_pause("immediate", item_uid=first),
                lambda: c.re_stop(item_uid=first), lambda: c.skip_delay(item_uid=first)):
        with pytest.raises(RequestFailedError) as refused:
            act()
        assert refused.value.response["msg"] == (
            "not done: first.py, which it was meant for, has ended (succeeded); second.py "
            "is executing now")
    with pytest.raises(RequestFailedError, match=r"not done: the run it was meant for "
                       r"\(no-such-run\) is not executing; second.py is executing now"):
        c.re_resume(item_uid="no-such-run")
    status = c.status()
    assert status["running_item_uid"] == second and status["run_status"] == "running"
    assert not status["pause_pending"]
    c.re_abort("meant for second", item_uid=second)  # the run it names: carried out
    gates.open("second")
    c.wait_for_idle(timeout=WAIT)
    assert [(h["name"], h["result"]["exit_status"]) for h in history(served)] == [
        ("first.py", "succeeded"), ("second.py", "aborted")]
    with pytest.raises(RequestFailedError, match=r"not done: second.py, which it was meant "
                       r"for, has ended \(aborted\); no run is executing now"):
        c.re_stop(item_uid=second)
