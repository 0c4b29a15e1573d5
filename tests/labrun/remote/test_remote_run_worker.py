"""Runs in the run worker process, as ``labrun serve`` runs them: the server survives
whatever a protocol does to its process, fails that run with the reason, and the next run
goes in a new worker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_kit import QUICK, WAIT, Gates, Served, item, serving

from engine.record import read_record
from labrun.remote.supervisor import SupervisedRobot


def history(served: Served) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = served.client.history_get()["items"]
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
    assert failed["exit_status"] == "failed" and failed["msg"].startswith("MemoryError")
    assert failed["summary"]["location"] == "doomed.py:13"
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert worker_pid(served) == before  # the limit caught it: nothing died
