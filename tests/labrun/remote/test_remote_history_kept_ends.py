"""The history a restarted server reads back from its ``--record-dir``: a cleared run
stays cleared whatever its files' times (a folder copied with ``cp -r`` gives every file
a new one), and a record the server and its run worker left without its end (both killed
at once) is ended, once, by the next server, as a record the server ends always is: a
``status`` line and a ``summary``; one that a run worker which outlived its server still
writes is left alone until its own end is there; and a run worker waits for an earlier
one to let go of the robot."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_kit import QUICK, WAIT, Gates, Served, item, serving
from test_remote_cli import free_port, serve, serve_a_long_run

from engine.record import read_record
from labrun.cli.robot_lock import ROBOT_LOCK_NAME, RobotInUse, hold_robot
from labrun.remote import RequestFailedError, RunManagerAPI
from labrun.remote.history_file import STOPPED_WITH_THE_SERVER, HistoryFile

KILLED_UID = "0123456789abcdef0123456789abcdef"
CREATED_AT = 1_700_000_000.0
HELD_TIP = [  # kill -9 of the server and its run worker while a tip was picked up
    {"seq": 0, "t": 0.0, "event": "run", "id": KILLED_UID, "protocol": "killed.py",
     "created_at": CREATED_AT, "status": "idle"},
    {"seq": 1, "t": 0.5, "event": "command", "id": 3, "status": "queued",
     "type": "pickUpTip", "params": {"mount": "right", "well": "1/A1"}},
    {"seq": 2, "t": 0.75, "event": "command", "id": 3, "status": "started"}]
ENDED = {"status": "aborted", "reason": STOPPED_WITH_THE_SERVER}


def history(served: Served) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = served.client.history_get(records=True)["items"]
    return items


def lines_of(events: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(e) + "\n" for e in events)


def newer(folder: Path, seconds: float = 3600.0) -> None:
    """Give every file in ``folder`` a modification time ``seconds`` from now."""
    later = time.time() + seconds
    for path in folder.iterdir():
        os.utime(path, (later, later))


def valid_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` as JSON: the file ends with a newline, no line is cut."""
    text = path.read_text()
    assert text.endswith("\n")
    return [json.loads(line) for line in text.splitlines()]


def test_a_cleared_run_stays_cleared_whatever_its_files_times(gates: Gates,
                                                             tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    (records / f"{KILLED_UID}.jsonl").write_text(lines_of(HELD_TIP))  # ended with a server
    with serving(gates, record_dir=str(records)) as served:
        c = served.client
        assert c.robot_tips_removed()["success"]  # the killed run's
        c.queue_item_add(QUICK)
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        uids = [e["item_uid"] for e in history(served)]
        assert uids[0] == KILLED_UID and len(uids) == 2
        assert c.history_clear()["success"]
    newer(records)  # touched, or copied back: the files are newer than the clearing
    with serving(gates, record_dir=str(records)) as served:
        assert history(served) == []
        with pytest.raises(RequestFailedError, match="was cleared from the history"):
            served.client.history_item_get(uids[1])
        assert served.client.status()["tips_left"] is None
    copied = tmp_path / "copied"  # cp -r, not -p: every file is new
    shutil.copytree(records, copied, copy_function=shutil.copy)
    newer(copied, 60.0)  # should the file system's clock be coarse
    with serving(gates, record_dir=str(copied)) as served:
        assert history(served) == []
        c = served.client
        c.queue_item_add(QUICK)
        c.queue_start()
        c.wait_for_idle(timeout=WAIT)
        assert len(history(served)) == 1
    for uid in uids:  # the records stay, and were not written to
        assert (copied / f"{uid}.jsonl").read_bytes() == (records / f"{uid}.jsonl").read_bytes()


def test_a_run_that_ends_as_the_history_is_cleared_is_listed_after_it(
        gates: Gates, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The run ends just after the clearing's line is written: listed after it, in the
    # file as in memory (it was wiped from memory only, and came back with a restart).
    records = tmp_path / "records"
    records.mkdir()
    written, go = threading.Event(), threading.Event()
    clear = HistoryFile.clear

    def clear_then_hold(self: HistoryFile) -> None:
        clear(self)
        if threading.current_thread().name != "labrun-remote":  # not the server's loop
            written.set()
            assert go.wait(WAIT)

    monkeypatch.setattr(HistoryFile, "clear", clear_then_hold)
    with serving(gates, record_dir=str(records)) as served:
        c = served.client
        c.queue_item_add(item('gates.wait("end")', "ending.py"))
        c.queue_start()
        gates.reached("end")
        clearing = threading.Thread(target=served.api().history_clear)
        clearing.start()
        while clearing.is_alive() and not written.is_set():
            time.sleep(0.01)
        gates.open("end")
        c.wait_for_idle(timeout=WAIT)
        go.set()
        clearing.join(WAIT)
        assert [e["name"] for e in history(served)] == ["ending.py"]
    with serving(gates, record_dir=str(records)) as served:
        assert [e["name"] for e in history(served)] == ["ending.py"]


def test_a_run_whose_entry_could_not_be_written_stays_cleared(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The run went to the history in memory, but its line could not be written (a full
    # disk for a moment); the clearing that followed was: the run is cleared all the same.
    kept = HistoryFile(tmp_path)
    assert kept.load() == []  # a server starts on an empty folder; the run is written
    (tmp_path / f"{KILLED_UID}.jsonl").write_text(
        lines_of([*HELD_TIP, {"seq": 3, "t": 1.0, "event": "summary", "status": "failed",
                              "error": "x"}]))
    entry = {"item_uid": KILLED_UID, "name": "killed.py", "result": {"time_start": 0.0}}
    real_write = HistoryFile._write

    def full_disk(self: HistoryFile, line: dict[str, Any]) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(HistoryFile, "_write", full_disk)
    with pytest.raises(OSError):
        kept.append(entry)
    monkeypatch.setattr(HistoryFile, "_write", real_write)
    kept.clear()
    newer(tmp_path)
    again = HistoryFile(tmp_path)
    assert again.load() == []
    assert KILLED_UID in again.cleared


def test_a_record_left_without_its_end_is_ended_once_on_the_next_start(
        gates: Gates, tmp_path: Path) -> None:
    killed = tmp_path / f"{KILLED_UID}.jsonl"
    killed.write_text(lines_of(HELD_TIP) + '{"seq": 3, "t": 0.8, "event": "comm')  # cut
    # the pick-up it was in ends interrupted, and the summary names it, as a stop's does
    interrupted = {"seq": 3, "t": 0.75, "event": "command", "id": 3, "status": "interrupted",
                   "reason": STOPPED_WITH_THE_SERVER}
    status = {"seq": 4, "t": 0.75, "event": "status", **ENDED}
    summary = {"seq": 5, "t": 0.75, "event": "summary", **ENDED, "commands": 1, "steps": 0,
               "duration_s": 0.75,
               "ended_during": {"id": 3, "type": "pickUpTip", "params": {
                   "mount": "right", "well": "1/A1"}, "line": None, "status": "interrupted",
                   "touches_liquid_or_tips": True},
               "tips_at_end": {"right": {"dropped": False, "uncertain": True}}}
    with serving(gates, record_dir=str(tmp_path)) as served:
        [entry] = history(served)
        assert served.client.status()["tips_left"] == {
            "run": "killed.py", "status": "aborted", "mounts": {"right": {"uncertain": True}}}
        fetched = served.client.history_item_get(KILLED_UID)["item"]
    assert valid_lines(killed) == [*HELD_TIP, interrupted, status, summary]  # cut line gone
    assert read_record(killed) == [*HELD_TIP, interrupted, status, summary]
    assert entry["record"] == fetched["record"] == read_record(killed)
    result = entry["result"]
    assert (result["exit_status"], result["success"], result["msg"]) == \
        ("aborted", False, STOPPED_WITH_THE_SERVER)
    assert result["summary"] == {k: v for k, v in summary.items() if k not in ("seq", "event")}
    # the run's own times, not its file's: its start, and its clock at its last line
    assert (result["time_start"], result["time_stop"]) == (CREATED_AT, CREATED_AT + 0.75)
    ended = killed.read_bytes()
    newer(tmp_path)
    for _ in range(2):  # started again, and again: ended once
        with serving(gates, record_dir=str(tmp_path)) as served:
            assert history(served) == [entry]
        assert killed.read_bytes() == ended
    assert [e["event"] for e in read_record(killed)].count("summary") == 1


def test_a_whole_last_line_without_its_newline_is_kept_before_the_end(
        gates: Gates, tmp_path: Path) -> None:
    killed = tmp_path / f"{KILLED_UID}.jsonl"
    killed.write_text(lines_of(HELD_TIP[:2]) + json.dumps(HELD_TIP[2]))  # no newline
    with serving(gates, record_dir=str(tmp_path)) as served:
        [entry] = history(served)
    events = valid_lines(killed)
    assert events[:3] == HELD_TIP
    assert [e["seq"] for e in events] == list(range(6))  # numbered on, no gap
    assert [(e["event"], e["status"]) for e in events[3:]] == [
        ("command", "interrupted"), ("status", "aborted"), ("summary", "aborted")]
    assert entry["record"] == read_record(killed) == events


@contextlib.contextmanager
def served_from(records: Path) -> Iterator[RunManagerAPI]:
    """``labrun serve --record-dir records`` in a process group of its own, and a client of
    it; stopped with Ctrl-C after the block (it must exit 0), killed with its group if the
    block failed."""
    process, token_url, _ = serve("--port", str(free_port()), "--record-dir", str(records),
                                  new_session=True)
    try:
        client = RunManagerAPI(token_url)
        yield client
        client.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def test_a_server_killed_with_its_run_worker_leaves_a_record_the_next_one_ends(
        tmp_path: Path) -> None:
    # kill -9 of the server and its run worker at once (the process group): nobody is
    # left to end the record. The next server does, once; its clearing is for good,
    # in a copy of the folder too.
    records = tmp_path / "records"
    process, path = serve_a_long_run(records)
    try:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    uid = path.stem
    left = read_record(path)
    assert left[-1]["event"] != "summary"
    with served_from(records) as client:
        [entry] = client.history_get()["items"]
        assert entry["result"]["exit_status"] == "aborted"
        assert entry["result"]["msg"] == STOPPED_WITH_THE_SERVER
        events = valid_lines(path)
        assert events[:len(left)] == left
        assert [e["seq"] for e in events] == list(range(len(events)))
        closing = [(e["event"], e["status"]) for e in events[len(left):]]
        assert closing[-2:] == [("status", "aborted"), ("summary", "aborted")]
        assert closing[:-2] in ([], [("command", "interrupted")])  # the one it was in
        assert events[-1]["commands"] == sum(1 for e in left if e.get("status") == "queued")
        assert events[-1]["tips_at_end"] == {"right": {"dropped": False, "uncertain": True}}
        client.robot_tips_removed()
        assert client.history_clear()["success"]
    copied = tmp_path / "copied"  # cp -r, not -p
    shutil.copytree(records, copied, copy_function=shutil.copy)
    newer(copied, 60.0)
    with served_from(copied) as client:
        assert client.history_get()["items"] == []
        assert client.status()["tips_left"] is None
    assert read_record(copied / f"{uid}.jsonl") == events  # ended once


def test_a_sped_up_runs_times_are_wall_times(gates: Gates, tmp_path: Path) -> None:
    """A run on a clock 50 times faster than real time (``--speed 50``), killed at 100 s of
    its clock, ended 2 s after it began: its record says the speed (``clock_speed``)."""
    fast = [{**HELD_TIP[0], "clock_speed": 50.0},
            {**HELD_TIP[1], "t": 60.0}, {**HELD_TIP[2], "t": 100.0}]
    (tmp_path / f"{KILLED_UID}.jsonl").write_text(lines_of(fast))
    with serving(gates, record_dir=str(tmp_path)) as served:
        [entry] = history(served)
    result = entry["result"]
    assert (result["time_start"], result["time_stop"]) == (CREATED_AT, CREATED_AT + 2.0)


def test_a_sped_up_run_s_record_says_its_clock_speed(tmp_path: Path) -> None:
    from hardware.clock import RealClock
    from hardware.config import default_config
    from hardware.simulated import SimulatedController
    from protocol_api.execute import create_run

    path = tmp_path / "p.py"
    path.write_text('metadata = {"apiLevel": "2.15"}\n\ndef run(ctx):\n    ctx.comment("x")\n')
    clock = RealClock(50.0)
    run = create_run(path, config=default_config(), clock=clock,
                     controller=SimulatedController(default_config(), clock))
    run.close()
    assert run.record.events[0]["clock_speed"] == 50.0


WRITER = '''
import sys
from engine.record import RunRecord

record = RunRecord(sys.argv[1], clock=lambda: 0.75, first={"id": sys.argv[2],
                   "protocol": "outlived.py", "created_at": 1700000000.0}, keep=False)
record.add("command", id=3, status="started")
record.flush()
print("writing", flush=True)
sys.stdin.readline()  # the run worker aborts its run when told
record.add("status", status="aborted", reason="the server stopped")
record.add("summary", status="aborted", reason="the server stopped")
record.close()
'''


@contextlib.contextmanager
def record_writer(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process writing the record at ``path`` (as a run worker that outlived its server
    does), its first lines written; it ends the run when a line is sent to it."""
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(path), KILLED_UID],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[3])
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "writing\n"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_a_run_another_process_still_writes_is_left_alone_until_it_ends(
        tmp_path: Path) -> None:
    # The server was killed alone: its run worker aborts the run and writes its end. A
    # server started meanwhile neither ends that record itself (two summaries) nor lists
    # it; once the worker has ended, its own end is listed.
    path = tmp_path / f"{KILLED_UID}.jsonl"
    with record_writer(path) as writer:
        left = path.read_bytes()
        assert HistoryFile(tmp_path).load() == []
        assert path.read_bytes() == left  # not ended here
        assert writer.stdin is not None
        writer.stdin.write("end\n")
        writer.stdin.flush()
        assert writer.wait() == 0
    [entry] = HistoryFile(tmp_path).load()
    assert (entry["result"]["exit_status"], entry["result"]["msg"]) == \
        ("aborted", "the server stopped")
    assert [e["event"] for e in read_record(path)].count("summary") == 1


def test_a_writer_killed_leaves_a_record_the_next_load_ends(tmp_path: Path) -> None:
    path = tmp_path / f"{KILLED_UID}.jsonl"
    with record_writer(path) as writer:
        writer.kill()  # the kernel lets go of its lock with it
        writer.wait()
        [entry] = HistoryFile(tmp_path).load()
    assert entry["result"]["msg"] == STOPPED_WITH_THE_SERVER
    assert [e["event"] for e in read_record(path)][-2:] == ["status", "summary"]


HOLDER = '''
import sys
from labrun.cli.robot_lock import hold_robot

held = hold_robot(sys.argv[1], "the run worker of labrun serve (pid 1)")
print("holding", flush=True)
sys.stdin.readline()  # closing the robot, until told
'''
WAITING = ("waiting for another process (pid {}: the run worker of labrun serve (pid 1)) to "
           "let go of the robot, up to {:g} s")


@contextlib.contextmanager
def robot_holder(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A process holding the robot's lock at ``path``, as the run worker of a server killed
    alone does while it closes the robot; it ends when a line is sent to it."""
    process = subprocess.Popen([sys.executable, "-c", HOLDER, str(path)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               cwd=Path(__file__).resolve().parents[3])
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "holding\n"
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_a_new_run_worker_waits_for_the_one_that_still_holds_the_robot(
        tmp_path: Path) -> None:
    lock = tmp_path / ROBOT_LOCK_NAME
    said: list[str] = []
    with robot_holder(lock) as holder:

        def sleep(_: float) -> None:  # the earlier worker lets go while this one waits
            assert holder.stdin is not None
            holder.stdin.write("closed\n")
            holder.stdin.flush()
            holder.wait()

        held = hold_robot(str(lock), "labrun serve", wait_s=WAIT, say=said.append,
                          sleep=sleep)
        assert held is not None
        held.close()
    assert said == [WAITING.format(holder.pid, WAIT)]


def test_a_robot_still_held_after_the_wait_is_not_opened(tmp_path: Path) -> None:
    lock = tmp_path / ROBOT_LOCK_NAME
    said: list[str] = []
    with robot_holder(lock) as holder, pytest.raises(RobotInUse) as refused:
        hold_robot(str(lock), "labrun serve", say=said.append)  # no wait: refused at once
    assert said == []
    assert str(refused.value) == (
        f"the robot is in use by another process (pid {holder.pid}: the run worker of labrun "
        f"serve (pid 1)) (it holds {lock}); stop that process or let its run end, then start "
        "again")


def test_a_tip_left_is_asked_for_again_after_a_restart_though_the_history_was_cleared(
        gates: Gates, tmp_path: Path) -> None:
    """A halt left a tip; the history was cleared; the server restarted: it read the tips
    left only from the history's last entry, found none, and started the next run with
    the tip still on the pipette."""
    records = tmp_path / "records"
    records.mkdir()
    (records / f"{KILLED_UID}.jsonl").write_text(lines_of(HELD_TIP))  # ended with a server
    with serving(gates, record_dir=str(records)) as served:
        c = served.client
        assert c.status()["tips_left"] is not None
        assert c.history_clear()["success"]
        assert c.status()["tips_left"] is not None  # cleared: the tip is on all the same
    with serving(gates, record_dir=str(records)) as served:
        c = served.client
        assert history(served) == []
        assert c.status()["tips_left"] is not None, "the restarted server forgot the tip"
        c.queue_item_add(QUICK)
        with pytest.raises(RequestFailedError,
                           match=r"holds a tip \(perhaps\), left by killed\.py"):
            c.queue_start()
        assert c.robot_tips_removed()["success"]
    with serving(gates, record_dir=str(records)) as served:  # said once: not asked again
        assert served.client.status()["tips_left"] is None


def test_a_fifo_named_as_a_record_does_not_hold_the_server_at_start_up(
        tmp_path: Path) -> None:
    """A FIFO in the record folder under a run's name: the server opened it to read the
    run's end and waited for a writer for ever, before it listened; so did a request for
    that run's record."""
    import threading

    from labrun.remote.records import RecordFiles, RecordUnreadable

    records = tmp_path / "records"
    records.mkdir()
    os.mkfifo(records / f"{KILLED_UID}.jsonl")
    read: dict[str, Any] = {}

    def start_up() -> None:  # what a server does as it starts, and a history_item_get
        read["history"] = HistoryFile(records).load()
        try:
            read["record"] = RecordFiles(records).events(KILLED_UID)
        except RecordUnreadable as unreadable:
            read["record"] = str(unreadable)

    reader = threading.Thread(target=start_up, daemon=True)
    reader.start()
    reader.join(30)
    assert not reader.is_alive(), "waiting on the FIFO"
    assert read == {"history": [], "record": f"the record file {KILLED_UID}.jsonl in the "
                                             "record folder is not a regular file"}


def test_a_history_entry_the_disk_could_not_take_is_written_with_the_next(
        tmp_path: Path) -> None:
    """A full disk: the failed run's history entry stayed in memory only, and after a
    restart the run read as one that "ended with the server", its record given a made-up
    end. It is written before the next entry, once there is room."""
    records = tmp_path / "records"
    records.mkdir()
    history_file = HistoryFile(records)

    def entry(uid: str, start: float, status: str) -> dict[str, Any]:
        (records / f"{uid}.jsonl").write_text(lines_of([  # its record, cut off as a full
            {"seq": 0, "t": 0.0, "event": "run", "id": uid, "created_at": start}]))  # disk cuts
        return {"item_uid": uid, "name": f"{uid[:4]}.py", "result": {
            "exit_status": status, "time_start": start, "time_stop": start + 1.0,
            "msg": "", "summary": {"status": status}}}

    first, second = "a" * 32, "b" * 32
    history_file.path.mkdir()  # the file cannot be written (as on a full disk)
    with pytest.raises(OSError):
        history_file.append(entry(first, CREATED_AT, "failed"))
    history_file.path.rmdir()  # room again
    history_file.append(entry(second, CREATED_AT + 10.0, "succeeded"))
    again = HistoryFile(records).load()
    assert [(e["item_uid"], e["result"]["exit_status"]) for e in again] == [
        (first, "failed"), (second, "succeeded")]
    assert len(read_record(records / f"{first}.jsonl")) == 1  # no end made up for it


@pytest.mark.parametrize("odd", [
    {"item_uid": "a" * 32},  # no name, no result
    {"item_uid": "b" * 32, "name": "b.py", "result": None},
    {"item_uid": "c" * 32, "name": "c.py",
     "result": {"exit_status": "failed", "time_start": 9e9,
                "summary": {"tips_at_end": "on the right"}}},
    {"item_uid": "d" * 32, "name": "d.py",
     "result": {"exit_status": "failed", "time_start": 9e9,
                "summary": {"tips_at_end": {"right": {"volume_ul": "lots"}}}}},
    {"cleared_at": 9e9, "unlisted": 5},
    {"tips_removed_after": ["x"]},
], ids=["no-name", "no-result", "tips-text", "volume-text", "unlisted-number",
        "tips-removed-list"])
def test_a_history_line_not_as_the_server_writes_it_is_skipped_not_fatal(
        gates: Gates, tmp_path: Path, odd: dict[str, Any]) -> None:
    """A line of history.jsonl that is JSON but not what the server writes there (edited
    by hand, another version's): the server did not start (KeyError, TypeError), or its
    queue_start failed on it. Now such a line is skipped, and said once in the terminal."""
    with serving(gates, record_dir=str(tmp_path)) as served:
        served.client.queue_item_add(QUICK)
        served.client.queue_start()
        served.client.wait_for_idle(timeout=WAIT)
    with (tmp_path / "history.jsonl").open("a") as file:
        file.write(json.dumps(odd) + "\n")
    said: list[str] = []
    with serving(gates, record_dir=str(tmp_path), log=said.append) as served:
        c = served.client
        assert [h["name"] for h in c.history_get()["items"]] == ["quick.py"]
        c.queue_item_add(QUICK)
        c.queue_start()
        assert c.wait_for_idle(timeout=WAIT)["queue_error"] is None
        assert [h["name"] for h in c.history_get()["items"]] == ["quick.py"] * 2
    assert f"{tmp_path / 'history.jsonl'}: line 2 is not a line labrun serve writes " \
           "there; skipped" in said
