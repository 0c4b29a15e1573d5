"""Mistakes and calls with nothing to do are told in words that name what was given:

- ``labware`` given as one folder or file (a string or a path) is that folder or file,
  not its characters; one that does not exist is named as the labware folder or file;
- a ``path`` that is not a protocol file is named as the path, not as ``item.name``;
- a uid cleared from the history is said to be cleared, not unknown (the last
  ``CLEARED_KEPT`` of them, also after a restart on the same record folder);
- ``queue_stop_cancel`` with no ``queue_stop`` pending is refused as ``queue_stop`` is
  with no queue running;
- ``robot_tips_removed`` with no tip recorded succeeds, and says so;
- a run whose record cannot be read has ``record`` null and ``record_error`` saying why
  (its file missing, a line not JSON, not text, not a file), the rest of its entry kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from remote_kit import QUICK, WAIT, Gates, Served, item, serving

from engine.record import read_record
from labrun.remote import RequestError, RequestFailedError
from labrun.remote.client_core import LabwarePaths, read_item
from labrun.remote.history_file import CLEARED_KEPT, ClearedRuns
from labrun.remote.spec import BY_NAME
from protocol_api.labware_definitions import get_definition

HELD = item('p300.pick_up_tip()\ngates.wait("held")\np300.drop_tip()', "held.py")
CUSTOM = ('metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n'
          '    plate = ctx.load_labware("lab_custom_plate", 3)\n'
          '    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)\n'
          '    p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])\n'
          '    p.transfer(20, plate["A1"], plate["A2"])\n')


def post(served: Served, name: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(served.url + BY_NAME[name].path, json=body,
                      headers={"Authorization": f"Bearer {served.handle.token}"},
                      timeout=WAIT)


def test_labware_given_as_one_folder_or_file_and_a_missing_one_named(
        served: Served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    definition = json.loads(json.dumps(get_definition("corning_96_wellplate_360ul_flat")))
    definition["parameters"]["loadName"] = "lab_custom_plate"
    (tmp_path / "mylab").mkdir()
    (tmp_path / "mylab" / "plate.json").write_text(json.dumps(definition))
    (tmp_path / "custom.py").write_text(CUSTOM)
    monkeypatch.chdir(tmp_path)  # as the user typed it: names relative to here
    c = served.client
    for labware in ("mylab", "mylab/", Path("mylab"), "mylab/plate.json"):
        added = c.queue_item_add(path="custom.py", labware=labware)
        assert added["item"]["labware"] == ["plate.json"]
    missing: list[tuple[LabwarePaths, str]] = [
        ("nolab", "labware folder 'nolab' does not exist"),
        (["mylab", "gone.json"], "labware file 'gone.json' does not exist"),
        (Path("no/lab"), "labware folder 'no/lab' does not exist")]
    for given, said in missing:
        with pytest.raises(RequestError) as caught:
            c.queue_item_add(path="custom.py", labware=given)
        assert str(caught.value) == said
    assert c.status()["items_in_queue"] == 4  # nothing sent for the missing ones
    # The API's item takes the files themselves: a folder's name there is a 422 saying so.
    answer = post(served, "queue_item_add",
                  {"item": {"name": "custom.py", "source": CUSTOM, "labware": "mylab"}})
    assert (answer.status_code, answer.json()["msg"]) == (
        422, "item.labware must be an object of {file name: JSON text}, not 'mylab'")


def test_a_path_that_is_not_a_protocol_file_is_named_as_the_path(
        served: Served, tmp_path: Path) -> None:
    with pytest.raises(RequestError) as caught:
        served.client.queue_item_add(path="/etc/passwd")
    assert str(caught.value) == "path must be a protocol file ending in .py, not '/etc/passwd'"
    hidden = tmp_path / ".hidden.py"
    hidden.write_text("x = 1\n")
    with pytest.raises(RequestError) as caught:
        read_item(hidden, None)
    assert str(caught.value) == (
        f"path {str(hidden)!r}: a protocol file's name must not start with a dot or a "
        "space, hold a control character or be longer than 127 characters")
    missing = tmp_path / "gone.py"
    with pytest.raises(RequestError) as caught:
        read_item(missing, None)
    assert str(caught.value) == (f"protocol file {str(missing)!r} cannot be read: No such "
                                 "file or directory")
    assert served.client.status()["items_in_queue"] == 0
    # The API names its own parameter, which is what its caller gave.
    answer = post(served, "queue_item_add", {"item": {"name": "/etc/passwd", "source": ""}})
    assert answer.status_code == 422
    assert answer.json()["msg"].startswith("item.name must be a file name ending in .py")


def test_a_cleared_run_is_said_to_be_cleared(gates: Gates, tmp_path: Path) -> None:
    with serving(gates, record_dir=str(tmp_path)) as first:
        c = first.client
        c.queue_item_add(QUICK)
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        uid = c.history_get()["items"][0]["item_uid"]
        assert c.history_clear()["success"]
        cleared = f"run {uid!r} was cleared from the history"
        with pytest.raises(RequestFailedError) as caught:
            c.history_item_get(uid)
        assert caught.value.response["msg"] == cleared
        with pytest.raises(RequestFailedError) as caught:
            c.history_item_get("nope")
        assert caught.value.response["msg"] == "no run 'nope' in the history"
    with serving(gates, record_dir=str(tmp_path)) as second:  # read back from the folder
        reply = second.api(request_fail_exceptions=False).history_item_get(uid)
        assert reply == {"success": False, "msg": cleared}


def test_the_cleared_runs_kept_are_bounded() -> None:
    cleared = ClearedRuns()
    cleared.add(f"{n:032x}" for n in range(CLEARED_KEPT + 5))
    assert len(cleared.uids) == CLEARED_KEPT and cleared.older == 5
    assert f"{0:032x}" not in cleared and f"{CLEARED_KEPT + 4:032x}" in cleared


def test_an_old_cleared_run_may_be_either(served: Served) -> None:
    served.manager.cleared.add(f"{n:032x}" for n in range(CLEARED_KEPT + 1))
    reply = served.api(request_fail_exceptions=False).history_item_get(f"{0:032x}")
    assert reply["msg"] == (
        f"no run {f'{0:032x}'!r} in the history: unknown, or cleared from it before the "
        f"last {CLEARED_KEPT} runs cleared, which are all the server remembers")


def test_queue_stop_cancel_with_no_stop_to_cancel_is_refused(served: Served,
                                                           gates: Gates) -> None:
    lenient = served.api(request_fail_exceptions=False)
    assert lenient.queue_stop_cancel() == {
        "success": False,
        "msg": "the queue is not running: there is no queue_stop to cancel"}
    c = served.client
    c.queue_item_add(HELD)
    c.queue_start()
    gates.reached("held")
    assert lenient.queue_stop_cancel() == {
        "success": False, "msg": "no queue_stop is pending: there is nothing to cancel"}
    c.queue_stop()
    assert c.queue_stop_cancel() == {"success": True, "msg": ""}
    assert c.status()["queue_stop_pending"] is False
    gates.open("held")
    c.wait_for_idle(timeout=WAIT)


def test_tips_removed_with_none_recorded_succeeds_and_says_so(served: Served) -> None:
    c = served.client
    assert c.status()["tips_left"] is None
    assert c.robot_tips_removed() == {"success": True,
                                      "msg": "no tips were recorded on the pipettes"}
    assert c.robot_tips_removed()["success"]  # as often as it is said


def test_a_record_that_cannot_be_read_says_why_in_the_history(gates: Gates,
                                                               tmp_path: Path) -> None:
    with serving(gates, record_dir=str(tmp_path)) as served:
        c = served.client
        uids = [c.queue_item_add(QUICK)["item"]["item_uid"] for _ in range(5)]
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        listing = c.history_get()["items"]
        files = [tmp_path / f"{uid}.jsonl" for uid in uids]
        files[0].unlink()
        lines = files[1].read_text().splitlines(keepends=True)
        files[1].write_text("".join([*lines[:2], "{cut mid-line\n", *lines[3:]]))
        files[2].write_bytes(b"\xff\xfe" + files[2].read_bytes())
        files[3].unlink()
        files[3].mkdir()
        said = [f"the record file {uids[0]}.jsonl is missing from the record folder",
                f"the record file {uids[1]}.jsonl is not a run record: line 3 is not JSON",
                f"the record file {uids[2]}.jsonl is not a run record: it is not UTF-8 text",
                f"the record file {uids[3]}.jsonl in the record folder is not a regular file",
                None]
        full = c.history_get(records=True)["items"]
        assert [e["record_error"] for e in full] == said
        assert [e["record"] is None for e in full] == [True] * 4 + [False]
        assert full[4]["record"] == read_record(files[4])
        kept = [{k: v for k, v in e.items() if k not in ("record", "record_error")}
                for e in full]
        assert kept == listing  # nothing else of the history is lost
        for uid, entry in zip(uids, full, strict=True):
            assert c.history_item_get(uid)["item"] == entry
        assert c.history_get()["items"] == listing  # the listing has no record to read
