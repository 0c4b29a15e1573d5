"""Runs in the run worker process, as ``labrun serve`` runs them: the server survives
whatever a protocol does to its process, fails that run with the reason, and the next run
goes in a new worker."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from remote_kit import QUICK, SPEED, WAIT, Gates, Served, item, serving

from engine.record import read_record
from hardware.config import load_config
from labrun.remote import RequestFailedError, RunManager, start_server
from labrun.remote.runner import RobotSpec
from labrun.remote.supervisor import SupervisedRobot


def history(served: Served) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = served.client.history_get(records=True)["items"]
    return items


def worker_pid(served: Served) -> int:
    assert isinstance(served.robot, SupervisedRobot)
    pid = served.robot.pid
    assert pid is not None
    return pid


def run_until_held(served: Served, gates: Gates, body: str, flag: str | None = None) -> int:
    """Queue ``body`` then QUICK, start, wait at the gate, raise ``flag``; the worker's pid."""
    c = served.client
    c.queue_item_add(item('p300.pick_up_tip()\n'
                          'p300.aspirate(20, plate["A1"])\n'
                          'gates.wait("held")\n' + body, "doomed.py"))
    c.queue_item_add(QUICK)
    c.queue_start()
    gates.reached("held")
    if flag is not None:
        gates.set(flag)
    return worker_pid(served)


@pytest.fixture
def served(gates: Gates, tmp_path: Path) -> Iterator[Served]:
    with serving(gates, run_worker=True, record_dir=str(tmp_path)) as server:
        yield server


@pytest.mark.parametrize("death, how", [
    ("os.kill(os.getpid(), signal.SIGKILL)", "killed by SIGKILL"),
    ("os.kill(os.getpid(), signal.SIGSEGV)", "killed by SIGSEGV"),  # as a crash in C
])
def test_a_run_whose_worker_dies_fails_with_the_reason_and_the_next_runs(
        served: Served, gates: Gates, death: str, how: str, tmp_path: Path) -> None:
    c = served.client
    before = run_until_held(served, gates, 'import os, signal\n'
                                    'if gates.is_set("die"):  # the run, not its check\n'
                                    f'    {death}\n'
                                    'p300.drop_tip()\n', flag="die")
    gates.open("held")
    status = c.wait_for_idle(timeout=WAIT)
    assert status["manager_state"] == "idle" and status["items_in_queue"] == 1
    failed = history(served)[0]
    assert failed["name"] == "doomed.py" and failed["result"]["exit_status"] == "failed"
    assert failed["result"]["msg"].startswith(f"the run worker process ended ({how})")
    assert status["queue_error"] == f"doomed.py failed: {failed['result']['msg']}"
    record = failed["record"]
    assert record[0]["event"] == "run" and record[-1]["event"] == "summary"
    assert record[-1]["status"] == "failed"
    kinds = {e["id"]: e["type"] for e in record if e.get("status") == "queued"}
    done = [kinds[e["id"]] for e in record
            if e["event"] == "command" and e["status"] == "completed"]
    assert done[-1] == "aspirate" and "pickUpTip" in done, done  # what it did is kept
    on_disk = read_record(tmp_path / f"{failed['item_uid']}.jsonl")
    assert on_disk[-1]["event"] == "summary" and on_disk[-1]["status"] == "failed"
    assert on_disk[-1]["error"] == failed["result"]["msg"]  # the server ended the file
    assert [e["seq"] for e in on_disk] == list(range(len(on_disk)))
    assert on_disk[0]["protocol"] == "doomed.py"  # as uploaded, not the server's copy
    lines = {e["line"].split(":")[0] for e in on_disk if e.get("line")}
    assert lines == {"doomed.py"}
    # No cleanup ran: the tip it picked up is on the robot, as far as anyone knows, with
    # the 20 µL its record says it drew (the person taking it off minds the liquid)
    assert failed["result"]["summary"]["tips_at_end"] == {
        "right": {"dropped": False, "uncertain": True, "volume_ul": 20.0}}
    with pytest.raises(RequestFailedError, match="the right pipette holds a tip with "
                       r"about 20 µL \(perhaps\), left by doomed.py \(failed\): take it off"):
        c.queue_start()
    assert c.robot_tips_removed()["success"]
    c.queue_start()  # the next item runs in a new worker, on a robot homed again
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert history(served)[1]["result"]["exit_status"] == "succeeded"
    assert worker_pid(served) != before


def test_a_protocol_stuck_without_calls_is_aborted_and_its_worker_replaced(
        served: Served, gates: Gates) -> None:
    c = served.client
    before = run_until_held(served, gates, 'while gates.is_set("spin"):  # the run, not its check\n'
                                    '    pass\n', flag="spin")
    gates.open("held")
    assert c.re_abort("stuck")["success"]
    c.wait_for_idle(timeout=WAIT)
    assert history(served)[0]["result"]["exit_status"] == "aborted"
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert history(served)[1]["result"]["exit_status"] == "succeeded"
    assert worker_pid(served) != before  # the spinning thread went with its process


def test_a_protocol_out_of_memory_fails_its_run_and_the_worker_goes_on(
        served: Served, gates: Gates) -> None:
    c = served.client
    before = run_until_held(served, gates, 'if gates.is_set("greedy"):  # the run, not its check\n'
                                    '    hoard = bytearray(8 << 30)\n', flag="greedy")
    gates.open("held")
    c.wait_for_idle(timeout=WAIT)
    failed = history(served)[0]["result"]
    assert failed["exit_status"] == "failed"
    assert failed["msg"].startswith("doomed.py:13: MemoryError")
    assert failed["summary"]["location"] == "doomed.py:13"
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert worker_pid(served) == before  # the limit caught it: nothing died


def _dead_worker_run(tmp_path: Path, written: list[dict[str, Any]], sent: int) -> tuple[
        Any, list[dict[str, Any]], list[Any]]:
    """A run whose worker wrote ``written`` to its record file but handed over only the
    first ``sent`` events before it died."""
    from engine.record import json_line
    from labrun.remote.items import QueueItem
    from labrun.remote.served import RunHooks
    from labrun.remote.supervisor import SupervisedRun

    path = tmp_path / "record.jsonl"
    path.write_text("".join(json_line(e) for e in written) + '{"seq": 9, "t"')  # cut
    handed: list[dict[str, Any]] = []
    finishing: list[Any] = []

    async def on_summary(run: Any, summary: dict[str, Any]) -> None:
        pass

    hooks = RunHooks(server=None, start_soon=finishing.append,  # type: ignore[arg-type]
                     on_status=lambda: None,
                     on_events=lambda run, events: handed.extend(events),
                     on_summary=on_summary, progress_interval=0.1)
    item = QueueItem("u1", "doomed.py", None, None, None, (), 0.0)
    run = SupervisedRun(None, item, {"status": "running"}, hooks,  # type: ignore[arg-type]
                        0.0, record=written[:sent], record_path=path)
    return run, handed, finishing


WRITTEN = [{"seq": 0, "t": 0.0, "event": "run"},
           {"seq": 1, "t": 0.0, "event": "step", "index": 0, "name": "aspirate"},
           {"seq": 2, "t": 0.0, "event": "command", "id": 0, "status": "queued",
            "type": "aspirate"},
           {"seq": 3, "t": 0.0, "event": "command", "id": 0, "status": "started"},
           {"seq": 4, "t": 1.5, "event": "command", "id": 0, "status": "completed"}]


def test_a_dead_worker_s_record_keeps_what_it_wrote_but_had_not_handed_over(
        tmp_path: Path) -> None:
    run, handed, finishing = _dead_worker_run(tmp_path, WRITTEN, sent=2)
    run.on_worker_end("the run worker process ended (killed by SIGKILL)")
    record = run.record()
    assert [e["seq"] for e in record] == [0, 1, 2, 3, 4, 5, 6]
    # ended as every record: its status, then its summary
    assert record[4]["status"] == "completed" and record[5]["event"] == "status"
    assert record[5]["status"] == record[6]["status"] == "failed"
    assert record[6]["event"] == "summary" and record[6]["t"] == 1.5
    assert record[5]["error"] == "the run worker process ended (killed by SIGKILL)"
    assert [e["seq"] for e in handed] == [2, 3, 4, 5, 6]  # the server heard them too
    assert read_record(tmp_path / "record.jsonl") == record  # the file says the same
    assert len(finishing) == 1


def test_a_run_that_ended_before_its_worker_died_keeps_its_own_summary(
        tmp_path: Path) -> None:
    summary = {"seq": 5, "t": 1.5, "event": "summary", "status": "succeeded"}
    run, handed, finishing = _dead_worker_run(tmp_path, [*WRITTEN, summary], sent=3)
    run.on_worker_end("the run worker process ended (killed by SIGKILL)")
    assert run.record()[-1] == summary and len(run.record()) == 6
    assert [e["seq"] for e in handed] == [3, 4, 5]  # no failure summary of its own
    assert read_record(tmp_path / "record.jsonl")[-1] == summary
    assert len(finishing) == 1


def test_an_accepted_action_s_status_reaches_the_server_before_its_answer() -> None:
    """The worker answers an action from its pipe's thread; the report of what the action
    changed is sent before that answer, down the same pipe, so the server (which reads in
    order) never answers a client whose next status request would not show it yet."""
    import multiprocessing
    import threading

    from engine import commands as c
    from engine.actions import Pause
    from engine.channel import CommandChannel
    from engine.run import Run
    from engine.state import StepInfo
    from hardware.config import default_config
    from labrun.remote.runner import Link, RobotSpec, RunWorker, action_to_json

    computing, go_on = threading.Event(), threading.Event()

    def protocol(channel: CommandChannel) -> None:
        channel.execute(c.Comment("first"), StepInfo(0, "comment"))
        computing.set()
        go_on.wait(5)  # between two calls: a deferred pause stays pending
        channel.execute(c.Comment("second"), StepInfo(1, "comment"))

    server_end, worker_end = multiprocessing.Pipe()
    spec = RobotSpec(default_config())
    robot = spec.open()
    worker = RunWorker(Link(worker_end), robot, spec)
    worker.run = run = Run(protocol).start()
    try:
        run.control.play()
        assert computing.wait(5)
        worker.apply_now(7, action_to_json(Pause(source="remote", option="deferred")))
        server = Link(server_end)
        status, answer = server.receive(5), server.receive(5)
        assert status is not None and status[0] == "status"
        assert status[1]["pause_pending"] is True
        assert answer == ["answer", 7, {"accepted": True, "status": "running", "reason": None}]
    finally:
        go_on.set()
        run.close()
        robot.close()


@pytest.mark.parametrize("status", ["running", "pausing", "paused"])
def test_a_delay_s_time_left_counts_down_between_reports_paused_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, status: str) -> None:
    """Time keeps running in a pause: the worker reports a delay once, the server counts
    it down at the robot clock's speed until the next report, whatever the status."""
    from types import SimpleNamespace

    from labrun.remote import supervisor

    now = [100.0]
    monkeypatch.setattr(supervisor, "time", SimpleNamespace(monotonic=lambda: now[0],
                                                            time=lambda: now[0]))
    run, _, _ = _dead_worker_run(tmp_path, WRITTEN, sent=2)
    run._robot = SimpleNamespace(speed=2.0)
    delay = {"message": "soak", "seconds": 30.0, "remaining_s": 25.0, "skipped": False}
    run.on_report({"status": status, "delay": delay})
    now[0] += 4.0
    assert run.report()["delay"]["remaining_s"] == 17.0
    now[0] += 40.0
    assert run.report()["delay"]["remaining_s"] == 0.0
    run.on_report({"status": status, "delay": {**delay, "skipped": True}})
    now[0] += 4.0
    assert run.report()["delay"]["remaining_s"] == 25.0  # skipped: nothing to count


def test_a_sigterm_to_the_process_group_leaves_the_run_to_the_server(
        served: Served, gates: Gates) -> None:
    # `timeout labrun serve` or a service manager signals the whole group: the worker
    # died with the run (without its cleanup) and the history blamed the protocol.
    import os
    import signal

    pid = run_until_held(served, gates, "")
    os.kill(pid, signal.SIGTERM)
    gates.open("held")
    c = served.client
    c.wait_for_idle(timeout=WAIT)
    assert [h["result"]["exit_status"] for h in history(served)] == ["succeeded", "succeeded"]
    assert worker_pid(served) == pid


def test_every_action_crosses_to_the_worker_whole() -> None:
    """What the server sends the run worker is the action it meant, every field of it: a
    stop's reason was dropped on the way."""
    from engine.actions import Abort, Halt, Pause, Play, Resume, SkipDelay, Stop
    from labrun.remote.runner import action_from_json, action_to_json

    actions = [Play(source="remote"), Pause(source="remote", option="immediate"),
               Pause(source="remote", message="swap the plate"), Resume(source="remote"),
               Stop(source="remote"), Stop(source="remote", reason="the door stayed open"),
               Abort(source="remote", reason="wrong plate"), Halt(source="remote"),
               SkipDelay(source="remote")]
    assert [action_from_json(action_to_json(a)) for a in actions] == actions


def test_a_run_worker_that_cannot_be_started_again_is_tried_again_at_the_next_run(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run worker dies between runs and the machine has no process left for its
    replacement (fork fails with EAGAIN): the server goes on and tries again when the next
    run needs the robot. That failure ended the server's task group: every add after it
    was refused, "the server is stopping"."""
    robot = served.robot
    assert isinstance(robot, SupervisedRobot)
    launch = robot._launch
    refusing = [True]

    def cannot_fork() -> None:
        if refusing and refusing.pop():
            raise BlockingIOError(11, "Resource temporarily unavailable")
        launch()

    monkeypatch.setattr(robot, "_launch", cannot_fork)
    c = served.client
    with c.stream() as events:
        next(events)  # the status now
        os.kill(worker_pid(served), signal.SIGKILL)
        next(events)  # told once a new worker was tried
    assert not refusing
    c.queue_item_add(QUICK)
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["queue_error"] is None
    assert [h["result"]["exit_status"] for h in history(served)] == ["succeeded"]


RUNS_ONLY = 'if getattr(sys.modules.get("labrun.remote.runner"), "SERVING", False):\n'
"""A top-level ``if`` true in the run worker only, not in the checks (a file, a device or
a lock that is there when the protocol is checked and holds it up when it runs)."""


def stuck_protocol(top_level: str) -> dict[str, Any]:
    """A queue item whose top level runs ``top_level`` at its line 4."""
    return {"name": "stuck.py", "source": (
        "import sys, threading, time, builtins\n"
        'metadata = {"apiLevel": "2.15"}\n\n'
        f"{top_level}\n\n"
        "def run(ctx):\n"
        '    ctx.comment("ran")\n')}


@pytest.mark.parametrize("top_level, line", [
    (RUNS_ONLY + "    time.sleep(3600)", 5),  # blocked in a call
    (RUNS_ONLY + "    while True:\n        pass", 5),  # a loop of its own
    # blocks the second time it is loaded in the same process (each check is a fresh one):
    # the lock its first run took and kept
    ('builtins.__dict__.setdefault("kept", threading.Lock()).acquire()', 4),
])
def test_a_top_level_stuck_only_when_it_runs_fails_its_item_naming_the_line(
        served: Served, top_level: str, line: int) -> None:
    """The checks load the protocol within their time limit; its run worker loaded it again
    with none: the start waited 60 s, failed naming no line, and left the worker stuck in
    the top level, so the next start waited for ever for the robot to be homed."""
    c = served.client
    twice = "builtins" in top_level
    if twice:  # its first run takes the lock, and succeeds
        c.queue_item_add(stuck_protocol(top_level))
    c.queue_item_add(stuck_protocol(top_level))
    c.queue_item_add(QUICK)
    before = worker_pid(served)
    said = f"stuck.py:{line}: the protocol's top level ran for 3 s without finishing"
    with pytest.raises(RequestFailedError, match=said) if not twice else \
            contextlib.nullcontext():
        c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    results = [h["result"] for h in history(served)]
    assert [r["exit_status"] for r in results] == ["succeeded"] * twice + ["failed"]
    msg = results[-1]["msg"]
    assert msg.startswith(f"the run could not start: {said} and seems stuck"), msg
    assert "\n" not in msg
    assert status["queue_error"] == f"stuck.py could not start: {msg}"
    assert status["items_in_queue"] == 1  # quick.py waits, queued
    c.queue_start()  # in a new worker: the stuck one was stopped
    status = c.wait_for_idle(timeout=WAIT)
    assert status["queue_error"] is None and status["items_in_queue"] == 0
    assert [h["name"] for h in history(served)][-1] == "quick.py"
    assert history(served)[-1]["result"]["exit_status"] == "succeeded"
    assert worker_pid(served) != before


def test_a_top_level_holding_up_its_whole_worker_fails_its_item_all_the_same(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop in C holds the interpreter: the worker's own watchdog cannot say where the
    top level is, and the server stops the worker once it has waited long enough."""
    from labrun.remote import supervisor

    monkeypatch.setattr(supervisor, "LOAD_GRACE_S", 0.5)
    monkeypatch.setattr(supervisor, "MAKE_RUN_S", 0.5)
    c = served.client
    c.queue_item_add(stuck_protocol(RUNS_ONLY + "    sum(range(10 ** 14))"))
    c.queue_item_add(QUICK)
    before = worker_pid(served)
    said = ("stuck.py: the protocol's top level ran for more than 3 s without finishing "
            "and seems stuck (in code that holds up its whole process, a loop in C?); its "
            "run worker was stopped")
    with pytest.raises(RequestFailedError, match=re.escape(said)):
        c.queue_start()
    assert history(served)[0]["result"]["msg"] == f"the run could not start: {said}"
    c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    assert status["queue_error"] is None and status["items_in_queue"] == 0
    assert history(served)[-1]["result"]["exit_status"] == "succeeded"
    assert worker_pid(served) != before


def test_a_worker_that_dies_leaving_a_forked_child_is_seen_to_end(
        served: Served, gates: Gates, tmp_path: Path) -> None:
    """The protocol forks, and its worker then dies: the child (a copy of the worker)
    held the worker's end of its pipe, so the server saw no end of it for as long as the
    child lived: the run stayed running, an abort was not answered, the queue hung (and
    the child kept the robot's lock from the next worker). Now the worker's end is seen
    by its process, and whatever it forked goes with it."""
    child_file = tmp_path / "child"
    run_until_held(served, gates, 'import os, signal, time\n'
                                  'if gates.is_set("fork"):  # the run, not its check\n'
                                  '    child = os.fork()\n'
                                  '    if child == 0:\n'
                                  '        time.sleep(3600)\n'
                                  f'    open({str(child_file)!r}, "w").write(str(child))\n'
                                  '    os.kill(os.getpid(), signal.SIGKILL)\n', flag="fork")
    gates.open("held")
    c = served.client
    status = c.wait_for_idle(timeout=WAIT)
    failed = history(served)[0]["result"]
    assert failed["exit_status"] == "failed"
    assert failed["msg"].startswith("the run worker process ended (killed by SIGKILL)")
    assert status["items_in_queue"] == 1
    child = int(child_file.read_text())
    assert not _lives(child), "the forked child outlived its worker"
    assert c.robot_tips_removed()["success"]
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert history(served)[1]["result"]["exit_status"] == "succeeded"


def _lives(pid: int) -> bool:
    """Whether process ``pid`` is there and not a zombie (waiting for its parent)."""
    for _ in range(100):  # a killed process is gone within milliseconds
        try:
            with open(f"/proc/{pid}/stat") as stat:
                state = stat.read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        if state in ("Z", "X"):
            return False
        time.sleep(0.05)
    return True


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def _frozen_mid_run(served: Served, gates: Gates) -> int:
    """A run whose worker process the protocol has stopped (SIGSTOP) mid-run: its pid."""
    pid = run_until_held(served, gates, 'import os, signal\n'
                                        'if gates.is_set("freeze"):  # the run, not its check\n'
                                        '    os.kill(os.getpid(), signal.SIGSTOP)\n'
                                        'p300.drop_tip()\n', flag="freeze")
    gates.open("held")
    deadline = time.monotonic() + WAIT
    while _state(pid) != "T":
        assert time.monotonic() < deadline, "the worker never stopped"
        time.sleep(0.01)
    return pid


def test_a_run_whose_worker_stops_answering_can_be_aborted(
        served: Served, gates: Gates, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker stops answering mid-run (the protocol stopped its process, or code in C
    holds it up): an abort was not answered, the run said running for ever and the queue
    hung. Now the server stops that worker: the run fails saying why, the next runs."""
    from labrun.remote import supervisor

    monkeypatch.setattr(supervisor, "ACTION_ANSWER_TIMEOUT", 1.0, raising=False)
    pid = _frozen_mid_run(served, gates)
    c = served.client
    said = ("the run worker did not answer abort within 1 s (its process was stopped, or "
            "code of the protocol holds it up); the server stopped it")
    with pytest.raises(RequestFailedError, match=re.escape(said)):
        c.re_abort("frozen")
    status = c.wait_for_idle(timeout=WAIT)
    failed = history(served)[0]["result"]
    assert failed["exit_status"] == "failed" and failed["msg"] == said
    assert status["queue_error"] == f"doomed.py failed: {said}"
    assert c.robot_tips_removed()["success"]  # its tip, as far as anyone knows
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert history(served)[1]["result"]["exit_status"] == "succeeded"
    assert worker_pid(served) != pid


def test_a_worker_that_stops_answering_between_runs_does_not_hold_up_the_queue(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker stops answering between two runs (its process stopped, as a debugger or
    `kill -STOP` stops it): the next start waited for ever for the robot to be homed, and
    the queue said executing."""
    from labrun.remote import supervisor

    monkeypatch.setattr(supervisor, "HOME_TIMEOUT", 1.0, raising=False)
    c = served.client
    c.queue_item_add(QUICK)
    c.queue_start()
    c.wait_for_idle(timeout=WAIT)
    pid = worker_pid(served)
    os.kill(pid, signal.SIGSTOP)
    c.queue_item_add(QUICK)
    said = ("quick.py could not start: the robot could not be homed: the run worker did "
            "not answer home within 1 s (its process was stopped, or something holds it "
            "up); the server stopped it")
    with pytest.raises(RequestFailedError, match=re.escape(said)):
        c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    assert status["queue_error"] == said and status["items_in_queue"] == 1
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert [h["result"]["exit_status"] for h in history(served)] == ["succeeded"] * 2
    assert worker_pid(served) != pid


def test_a_thread_a_protocol_leaves_running_cannot_fail_the_next_run(
        served: Served, gates: Gates) -> None:
    """A protocol starts a thread and ends: the thread went on in the worker, into the next
    item's run, and when it killed its process the history blamed that next item. Now a
    worker left with a protocol's thread is replaced before the next run."""
    c = served.client
    c.queue_item_add(item('import threading, time\n'
                          'def poll():  # a sensor, say, that it forgot to stop\n'
                          '    while True:\n'
                          '        time.sleep(0.02)\n'
                          'if gates.is_set("leave"):  # the run, not its check\n'
                          '    threading.Thread(target=poll, name="poll", daemon=True).start()\n',
                          "leaves.py"))
    # the thread, were it still there, would kill the process during the next run:
    c.queue_item_add(item('import os, signal, threading\n'
                          'if any(t.name == "poll" for t in threading.enumerate()):\n'
                          '    os.kill(os.getpid(), signal.SIGKILL)\n'
                          'p300.transfer(50, plate["A1"], plate["B1"])', "innocent.py"))
    gates.set("leave")
    c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    assert [(h["name"], h["result"]["exit_status"]) for h in history(served)] == [
        ("leaves.py", "succeeded"), ("innocent.py", "succeeded")]
    assert status["queue_error"] is None


def test_a_protocol_that_changes_folder_leaves_the_next_runs_records_in_place(
        gates: Gates, tmp_path: Path) -> None:
    """``labrun serve --record-dir records``: a protocol changed the run worker's current
    folder (``os.chdir``) and every later run's record was written under that folder,
    where the server never found it (the history said its record was missing)."""
    records = tmp_path / "records"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    with serving(gates, run_worker=True, record_dir=os.path.relpath(records)) as served:
        c = served.client
        c.queue_item_add(item('import os\n'
                              'if gates.is_set("move"):  # the run, not its check\n'
                              f'    os.chdir({str(elsewhere)!r})\n', "moves.py"))
        c.queue_item_add(QUICK)
        gates.set("move")
        c.queue_start()
        assert c.wait_for_idle(timeout=WAIT)["queue_error"] is None
        quick = history(served)[1]
        assert quick["name"] == "quick.py" and quick["record"], quick.get("record_error")
        assert quick["record"][-1]["status"] == "succeeded"
        assert (records / f"{quick['item_uid']}.jsonl").is_file()
        assert not list(elsewhere.rglob("*.jsonl"))


def test_a_worker_whose_parent_was_killed_is_still_stopped_when_stuck(
        served: Served, gates: Gates, monkeypatch: pytest.MonkeyPatch) -> None:
    """A protocol killed its worker's parent (the forkserver the server starts its
    workers from): the server then took the worker for ended (exit code 255) and never
    stopped it, so a later top level stuck in it held the queue up for good."""
    from labrun.remote import supervisor

    monkeypatch.setattr(supervisor, "HOME_TIMEOUT", 2.0, raising=False)
    c = served.client
    c.queue_item_add(item('import os, signal\n'
                          'if gates.is_set("orphan") and os.getppid() != '
                          f'{os.getpid()}:  # the run, not its check\n'
                          '    os.kill(os.getppid(), signal.SIGKILL)\n', "orphans.py"))
    c.queue_item_add(stuck_protocol(RUNS_ONLY + "    time.sleep(3600)"))
    c.queue_item_add(QUICK)
    gates.set("orphan")
    before = worker_pid(served)
    c.queue_start()
    error = c.wait_for_idle(timeout=WAIT)["queue_error"]
    assert error.startswith("stuck.py could not start: the run could not start: stuck.py:5: "
                            "the protocol's top level ran for 3 s"), error
    assert [h["result"]["exit_status"] for h in history(served)] == ["succeeded", "failed"]
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert history(served)[-1]["result"]["exit_status"] == "succeeded"
    assert worker_pid(served) != before


def test_a_worker_that_stops_answering_as_its_run_is_closed_is_replaced(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker stops answering as its ended run is closed: the close went unanswered
    and the stopped worker was kept, the next start waiting on it (for 10 minutes, to
    home the robot)."""
    from labrun.remote import supervisor

    monkeypatch.setattr(supervisor, "CLOSE_TIMEOUT", 1.0, raising=False)
    robot = served.robot
    assert isinstance(robot, SupervisedRobot)
    close_run = robot.close_run
    stopped: list[int] = []

    async def stopped_first(run: Any, grace: float | None) -> None:
        if not stopped:
            stopped.append(worker_pid(served))
            os.kill(stopped[0], signal.SIGSTOP)  # as a debugger, or `kill -STOP`
        await close_run(run, grace)

    monkeypatch.setattr(robot, "close_run", stopped_first)
    c = served.client
    c.queue_item_add(QUICK)
    c.queue_item_add(QUICK)
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["queue_error"] is None
    assert [h["result"]["exit_status"] for h in history(served)] == ["succeeded"] * 2
    assert worker_pid(served) != stopped[0]


def test_a_worker_whose_message_is_too_long_is_not_left_running_unwatched(
        served: Served, gates: Gates) -> None:
    """A protocol's comment of 70 MiB made a message longer than the server reads: the
    server took the worker for ended and started another, while the first went on with
    its run (and its robot), watched by no one."""
    pid = run_until_held(served, gates, 'if gates.is_set("long"):  # the run, not its check\n'
                                        '    ctx.comment("x" * (70 << 20))\n'
                                        'ctx.delay(minutes=10)\n'
                                        'p300.drop_tip()\n', flag="long")
    gates.open("held")
    c = served.client
    status = c.wait_for_idle(timeout=WAIT)
    failed = history(served)[0]["result"]
    assert failed["exit_status"] == "failed"
    assert failed["msg"] == ("the run worker sent the server a message longer than 64 MiB "
                             "(a comment that long?): the server stopped it")
    assert status["queue_error"] == f"doomed.py failed: {failed['msg']}"
    assert not _lives(pid), "the first worker still runs"
    new = worker_pid(served)  # and it is not replaced again for nothing
    assert c.robot_tips_removed()["success"]
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert history(served)[1]["result"]["exit_status"] == "succeeded"
    assert worker_pid(served) == new


def test_a_helper_module_changed_between_two_runs_is_run_as_checked(
        served: Served, tmp_path: Path) -> None:
    """A protocol imports a helper of the lab's (its folder put on sys.path); the helper is
    fixed and the protocol queued again: its check ran the new helper, its run the old one,
    which the run worker kept from the first run (and kept its folder on sys.path)."""
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "lab_helpers.py").write_text("VALUE = 1\n")
    uses = {"name": "uses.py", "source": (
        "import sys\n"
        f"sys.path.insert(0, {str(lib)!r})\n"
        "import lab_helpers\n"
        'metadata = {"apiLevel": "2.15"}\n\n'
        "def run(ctx):\n"
        '    ctx.comment(f"helper {lab_helpers.VALUE}")\n')}
    c = served.client
    c.queue_item_add(uses)
    c.queue_start()
    c.wait_for_idle(timeout=WAIT)
    (lib / "lab_helpers.py").write_text("VALUE = 22\n")  # (another size: no stale .pyc)
    c.queue_item_add(uses)
    c.queue_start()
    c.wait_for_idle(timeout=WAIT)
    said = [[e["params"]["message"] for e in h["record"]
             if e.get("type") == "comment" and e.get("status") == "queued"]
            for h in history(served)]
    assert said == [["helper 1"], ["helper 22"]]


def test_a_run_stopped_mid_profile_keeps_its_worker_on_a_robot_with_serial_modules(
        tmp_path: Path) -> None:
    """The run worker replaces itself when a protocol leaves a thread of its own running;
    the threads labrun's own drivers use in a run (the modules' connections, a
    thermocycler's profile, anyio's pool) are not the protocol's: a run stopped mid-profile
    on a robot with serial modules keeps its worker and its homed robot."""
    config = load_config(Path(__file__).parents[3] / "hardware" / "robots"
                         / "modules_example.toml")
    robot = SupervisedRobot.start(RobotSpec(config, emulate="grbl", speed=SPEED))
    said: list[str] = []
    manager = RunManager(robot, emergency_lock_key="EMERGENCY")
    manager.log = said.append
    try:
        with start_server(manager) as handle:
            served = Served(handle, robot)
            c = served.client
            pid = worker_pid(served)
            c.queue_item_add(item('''
tc = ctx.load_module("thermocycler module gen2")
tc.close_lid()
tc.execute_profile(steps=[{"temperature": 95, "hold_time_minutes": 30}], repetitions=3,
                   block_max_volume=20)
''', "pcr.py"))
            c.queue_item_add(QUICK)
            c.queue_start()
            c.wait_for(lambda s: any(m["state"] == "profile" or "cycle" in " ".join(
                m.get("lines", [])) for m in s["modules"]), timeout=WAIT)
            c.re_stop()
            c.wait_for_idle(timeout=WAIT)
            assert [(h["name"], h["result"]["exit_status"]) for h in history(served)] == [
                ("pcr.py", "stopped"), ("quick.py", "succeeded")]
            assert not [line for line in said if "thread" in line], said
            assert worker_pid(served) == pid
    finally:
        robot.close()


@pytest.mark.parametrize("earlier", [3, 0])
def test_a_protocol_closing_the_worker_s_files_fails_its_run_at_once(
        served: Served, gates: Gates, tmp_path: Path, earlier: int) -> None:
    """A protocol closes every file descriptor from 3 to 199 (as code that daemonizes
    does), its worker's pipe to the server among them, after earlier runs in that worker:
    the worker's pipe thread, blocked reading that pipe, kept it open, so the server saw
    no end of it; the run said executing until an abort, and nothing ended it by itself.
    Now the run fails at once, naming the protocol, the queue stops, its record is kept."""
    c = served.client
    for _ in range(earlier):  # runs in the same worker before it
        c.queue_item_add(QUICK)
    if earlier:
        c.queue_start()
        assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    pid = worker_pid(served)
    c.queue_item_add(item('p300.pick_up_tip()\n'
                          'gates.wait("held")\n'
                          'import contextlib, os\n'
                          'if gates.is_set("close"):  # the run, not its check\n'
                          '    for fd in range(3, 200):\n'
                          '        with contextlib.suppress(OSError):\n'
                          '            os.close(fd)\n'
                          'ctx.delay(minutes=10)\n'
                          'p300.drop_tip()\n', "closer.py"))
    c.queue_item_add(QUICK)
    c.queue_start()
    gates.reached("held")
    gates.set("close")
    started = time.monotonic()
    gates.open("held")
    status = c.wait_for_idle(timeout=10)
    assert time.monotonic() - started < 5, "the run was not failed promptly"
    said = ("closer.py: the run worker's pipe to the server was closed while the run went on "
            "(the protocol closed files it did not open?): the run worker was stopped")
    failed = history(served)[earlier]
    assert failed["name"] == "closer.py"
    assert failed["result"]["exit_status"] == "failed" and failed["result"]["msg"] == said
    assert status["queue_error"] == f"closer.py failed: {said}"
    assert status["items_in_queue"] == 1  # the queue stopped, the next item kept
    record = failed["record"]
    assert record[0]["event"] == "run" and record[-1]["event"] == "summary"
    assert record[-1]["status"] == "failed" and record[-1]["error"] == said
    tip = next(e["id"] for e in record if e.get("type") == "pickUpTip")
    assert any(e.get("id") == tip and e.get("status") == "completed" for e in record)
    assert not _lives(pid), "the worker whose pipe closed still runs"
    assert c.robot_tips_removed()["success"]
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert history(served)[earlier + 1]["result"]["exit_status"] == "succeeded"


@pytest.mark.parametrize("asynchronous", [False, True])
def test_an_abort_of_a_frozen_worker_is_answered_not_timed_out_by_the_client(
        served: Served, gates: Gates, monkeypatch: pytest.MonkeyPatch,
        asynchronous: bool) -> None:
    """The worker stops answering mid-run; the server waits its limit for the abort's
    answer (15 s), then stops the worker and fails the run, but the client's timeout (5 s
    by default) had ended the call first: the user was told the abort timed out, for one
    that worked. Now a client waits for an action's answer up to ``ACTION_S`` beyond its
    timeout, beyond the server's limit. Here both are shorter, in the same order: the
    client's timeout 1 s, the server's limit 2 s."""
    from labrun.remote import AsyncRunManagerAPI, spec, supervisor

    assert supervisor.ACTION_ANSWER_TIMEOUT + 1.0 < spec.ACTION_S
    monkeypatch.setattr(supervisor, "ACTION_ANSWER_TIMEOUT", 2.0, raising=False)
    pid = _frozen_mid_run(served, gates)
    said = ("the run worker did not answer abort within 2 s (its process was stopped, or "
            "code of the protocol holds it up); the server stopped it")
    if asynchronous:
        async def abort() -> dict[str, Any]:
            async with AsyncRunManagerAPI(served.url, token=served.handle.token,
                                          timeout=1.0,
                                          request_fail_exceptions=False) as client:
                reply: dict[str, Any] = await client.re_abort("frozen")
                return reply

        reply = anyio.run(abort)
    else:
        with served.api(timeout=1.0, request_fail_exceptions=False) as client:
            reply = client.re_abort("frozen")
    assert reply["success"] is False and reply["msg"] == said
    c = served.client
    status = c.wait_for_idle(timeout=WAIT)
    assert history(served)[0]["result"]["msg"] == said
    assert status["queue_error"] == f"doomed.py failed: {said}"
    assert not _lives(pid)
