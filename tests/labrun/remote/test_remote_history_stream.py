"""Records in the history's replies are written as they are read from their files: the
server's memory does not grow with them, and the client gets the same JSON."""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import httpx
from remote_kit import WAIT, Gates, Served, item, serving

from engine.record import read_record
from labrun.remote.streamed import Later, Lazy, chunks

COMMENTS = item("for i in range(3000):\n    ctx.comment(f'comment {i}')", "comments.py")


def fetched(served: Served, path: str, params: dict[str, str], reply: Path) -> int:
    """GET ``path`` into the file ``reply`` as it streams in; the peak bytes allocated
    meanwhile (the server answers in this process: its allocations count)."""
    tracemalloc.start()
    try:
        with reply.open("wb") as out, httpx.stream(
                "GET", served.url + path, params=params,
                headers={"Authorization": f"Bearer {served.handle.token}"},
                timeout=WAIT) as response:
            for chunk in response.iter_bytes():
                out.write(chunk)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_history_with_records_is_answered_in_flat_memory(gates: Gates,
                                                            tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    with serving(gates, record_dir=str(records)) as served:
        c = served.client
        uids = [c.queue_item_add(COMMENTS)["item"]["item_uid"] for _ in range(2)]
        c.queue_start()
        assert c.wait_for_idle(timeout=WAIT)["items_in_history"] == 2
        on_disk = sum((records / f"{uid}.jsonl").stat().st_size for uid in uids)
        reply = tmp_path / "reply.json"
        peak = fetched(served, "/api/history/get", {"records": "true"}, reply)
        assert on_disk > 1_000_000
        assert peak < on_disk / 2, (peak, on_disk)  # read whole: ten times on_disk
        body = json.loads(reply.read_text())
        assert body["success"] is True
        assert [e["item_uid"] for e in body["items"]] == uids
        for entry in body["items"]:
            assert entry["result"]["exit_status"] == "succeeded"
            assert entry["record"] == read_record(records / f"{entry['item_uid']}.jsonl")
        assert body == {**c.history_get(records=True), "msg": ""}  # what the client gets
        assert c.history_item_get(uids[1])["item"] == body["items"][1]


def test_a_streamed_reply_is_the_json_of_the_whole_reply() -> None:
    events = [{"event": "comment", "text": "ünïcode \"quoted\"", "n": [1, 2.5, None]}] * 3
    reply = {"success": True, "items": [
        {"item_uid": "a", "record": Lazy(lambda: iter(events))},
        {"item_uid": "b", "record": Lazy(lambda: None), "why": Later(lambda: "gone")},
        {"item_uid": "c", "record": Lazy(lambda: [])}], "empty": {}, "none": []}
    whole = {**reply, "items": [{"item_uid": "a", "record": events},
                                {"item_uid": "b", "record": None, "why": "gone"},
                                {"item_uid": "c", "record": []}]}
    expected = json.dumps(whole, separators=(",", ":")).encode()
    for size in (1, 50, 1 << 16):
        pieces = list(chunks(reply, size))
        assert b"".join(pieces) == expected
        assert all(len(p) < size + 200 for p in pieces)


def test_the_running_run_s_record_is_answered_in_flat_memory(gates: Gates,
                                                             tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    held = item("for i in range(3000):\n    ctx.comment(f'comment {i}')\ngates.wait('held')",
                "held.py")
    with serving(gates, record_dir=str(records)) as served:
        c = served.client
        uid = c.queue_item_add(held)["item"]["item_uid"]
        c.queue_start()
        gates.reached("held")
        on_disk = (records / f"{uid}.jsonl").stat().st_size
        reply = tmp_path / "reply.json"
        peak = fetched(served, "/api/history/item/get", {"uid": uid, "records": "true"}, reply)
        body = json.loads(reply.read_text())
        so_far = read_record(records / f"{uid}.jsonl")
        gates.open("held")
        c.wait_for_idle(timeout=WAIT)
    assert on_disk > 500_000
    assert peak < on_disk, (peak, on_disk)  # read whole: several times on_disk
    assert body["running"] is True and body["item"]["result"] is None
    assert body["item"]["record"] == so_far[:len(body["item"]["record"])]
    said = [e["params"]["message"] for e in body["item"]["record"] if e.get("type") == "comment"]
    assert said == [f"comment {i}" for i in range(3000)]


def test_a_record_folder_that_does_not_exist_yet_is_made(gates: Gates, tmp_path: Path) -> None:
    records = tmp_path / "not" / "yet"
    with serving(gates, record_dir=str(records)) as served:
        c = served.client
        uid = c.queue_item_add(item("ctx.comment('hello')", "hello.py"))["item"]["item_uid"]
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        entry = c.history_item_get(uid)["item"]
    assert entry["result"]["exit_status"] == "succeeded"
    assert entry["record"] == read_record(records / f"{uid}.jsonl")
