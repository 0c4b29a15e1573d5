"""Two clients at once: pausing, resuming and stopping the same run, and editing the
same queue, leave one consistent state and a run record that agrees with it."""

from __future__ import annotations

import queue
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_kit import WAIT, Gates, Served, item, serving

from labrun.remote import manager as manager_module

MANY_STEPS = item('''
gates.wait("go")
for i in range(60):
    p300.move_to(plate.wells()[i % 96].top(5 + i % 7))
''', "many.py")
ACTIVE = {"running", "pausing", "paused"}


def hammer(served: Served, seed: int, start: threading.Barrier,
           replies: list[dict[str, Any]]) -> None:
    rng = random.Random(seed)
    client = served.api(request_fail_exceptions=False)
    start.wait(WAIT)
    for _ in range(40):
        action = rng.choice(["pause", "pause_now", "resume", "resume", "status"])
        if action == "pause":
            replies.append(client.re_pause())
        elif action == "pause_now":
            replies.append(client.re_pause("immediate"))
        elif action == "resume":
            replies.append(client.re_resume())
        else:
            replies.append(client.status())
    replies.append(client.re_stop())
    client.close()


@pytest.mark.parametrize("run_worker", [False, True], ids=["in process", "run worker"])
def test_two_clients_pausing_resuming_and_stopping_at_once(gates: Gates,
                                                           run_worker: bool) -> None:
    with serving(gates, run_worker=run_worker) as served:
        hammered(served, gates)


def hammered(served: Served, gates: Gates) -> None:
    """Two clients hammer the run with pauses, resumes and a stop each; the record agrees."""
    c = served.client
    c.queue_item_add(MANY_STEPS)
    c.queue_start()
    gates.reached("go")
    gates.open("go")
    start = threading.Barrier(2)
    replies: list[list[dict[str, Any]]] = [[], []]
    threads = [threading.Thread(target=hammer, args=(served, seed, start, replies[seed]))
               for seed in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    status = c.wait_for_idle(timeout=WAIT)
    assert status["manager_state"] == "idle" and not status["pause_pending"]
    assert status["running_item_uid"] is None and status["items_in_history"] == 1
    entry = c.history_get(records=True)["items"][0]
    assert entry["result"]["exit_status"] in ("stopped", "succeeded")
    for reply in replies[0] + replies[1]:
        assert isinstance(reply["success"], bool) and isinstance(reply["msg"], str)
    # The record agrees: every accepted action was allowed where the run then stood,
    # statuses follow each other legally, and nothing is accepted after the end.
    record = entry["record"]
    status_now = "idle"
    ended = False
    for event in record:
        if event["event"] == "status":
            assert not ended, event
            status_now = event["status"]
            ended = status_now in ("stopped", "succeeded", "aborted", "halted", "failed")
        elif event["event"] == "action" and event["accepted"]:
            assert not ended, event
            if event["action"] == "resume":
                assert status_now == "paused", event
            if event["action"] == "pause":
                assert status_now in ("running", "pausing"), event
            if event["action"] == "stop":
                assert status_now in ACTIVE, event
    stops = [e for e in record if e["event"] == "action" and e["action"] == "stop"]
    assert sum(e["accepted"] for e in stops) <= 1
    assert record[-1]["event"] == "summary"


def test_two_clients_editing_the_queue_at_once(served: Served) -> None:
    start = threading.Barrier(2)
    added: list[str] = []
    removed: list[str] = []
    lock = threading.Lock()

    def edit(seed: int) -> None:
        client = served.api(request_fail_exceptions=False)
        rng = random.Random(seed)
        start.wait(WAIT)
        for n in range(25):
            if rng.random() < 0.6:
                reply = client.queue_item_add(item("pass", f"c{seed}_{n}.py"),
                                              pos=rng.choice([None, "front", 0, -1]))
                if reply["success"]:
                    with lock:
                        added.append(reply["item"]["item_uid"])
            else:
                reply = client.queue_item_remove(pos=rng.choice(["front", "back"]))
                if reply["success"]:
                    with lock:
                        removed.append(reply["item"]["item_uid"])
        client.close()

    threads = [threading.Thread(target=edit, args=(seed,)) for seed in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    queued = [i["item_uid"] for i in served.client.queue_get()["items"]]
    assert sorted(queued) == sorted(set(added) - set(removed))
    assert len(set(removed)) == len(removed) and set(removed) <= set(added)
    assert served.client.status()["items_in_queue"] == len(queued)


class HeldReads:
    """The server's reads of the robot's tips in the state folder (``labrun serve
    --robot`` reads them before a run starts, in a thread), each held, once ``holding``,
    until the test lets it go: the test knows which request is reading."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.holding = False
        self._held: queue.Queue[threading.Event] = queue.Queue()
        read = manager_module.said_of

        def held(robot: str) -> dict[str, Any] | None:
            if self.holding:
                go = threading.Event()
                self._held.put(go)
                if not go.wait(WAIT):
                    raise RuntimeError("a held read of the tips was never let go")
            return read(robot)

        monkeypatch.setattr(manager_module, "said_of", held)

    def next(self) -> threading.Event:
        """Wait until a read is held; the event that lets it go."""
        return self._held.get(timeout=WAIT)


@pytest.fixture
def tips_shared(gates: Gates, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Served, HeldReads]]:
    """A server sharing its robot's tips with the state folder, as ``labrun serve
    --robot`` does, and its reads of them."""
    monkeypatch.setenv("LABRUN_STATE_DIR", str(tmp_path / "state"))
    reads = HeldReads(monkeypatch)
    with serving(gates, robot_tips="the-robot") as served:
        yield served, reads


def test_two_clients_starting_the_queue_at_once_start_one_run(
        gates: Gates, tips_shared: tuple[Served, HeldReads]) -> None:
    # Both starts read the robot's tips at once, and both started the queue: the second
    # played b.py on the robot while a.py ran, or took a.py's start for a tip left on
    # the robot and stopped the queue under it.
    served, reads = tips_shared
    c = served.client
    c.queue_item_add(item('gates.wait("a")', "a.py"))
    c.queue_item_add(item('gates.wait("b")', "b.py"))
    replies: list[dict[str, Any]] = []

    def start() -> None:
        with served.api(request_fail_exceptions=False) as client:
            replies.append(client.queue_start())

    reads.holding = True
    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    held = [reads.next(), reads.next()]  # both are reading
    reads.holding = False
    for go in held:
        go.set()
    for thread in threads:
        thread.join(WAIT)
    assert sorted((r["success"], r["msg"]) for r in replies) == [
        (False, "the queue is already running"), (True, "")]
    gates.reached("a")
    status = c.status()
    assert status["running_item"]["name"] == "a.py" and status["items_in_queue"] == 1
    gates.open("a")
    gates.reached("b")
    gates.open("b")
    c.wait_for_idle(timeout=WAIT)
    assert [(e["name"], e["result"]["exit_status"]) for e in c.history_get()["items"]] == [
        ("a.py", "succeeded"), ("b.py", "succeeded")]


@pytest.mark.parametrize(("edit", "why", "left"), [
    ("queue_clear", "the queue was emptied before its next run could start", 0),
    ("queue_stop", "queue_stop was asked for before the next run could start", 1)])
def test_a_queue_emptied_or_stopped_as_its_first_run_is_started_starts_none(
        tips_shared: tuple[Served, HeldReads], edit: str, why: str, left: int) -> None:
    # The queue emptied as the server read the robot's tips, its run checked and the robot
    # homed: queue_start failed with "internal error: IndexError" and the queue stayed
    # running with nothing in it, refusing every start after; stopped, the run started.
    served, reads = tips_shared
    c = served.client
    c.queue_item_add(item('p300.transfer(50, plate["A1"], plate["B1"])', "a.py"))
    replies: list[dict[str, Any]] = []

    def start() -> None:
        with served.api(request_fail_exceptions=False) as client:
            replies.append(client.queue_start())

    reads.holding = True
    thread = threading.Thread(target=start)
    thread.start()
    reads.next().set()  # queue_start's own look, before it starts the queue
    held = reads.next()  # the last look before the run starts
    reads.holding = False
    assert getattr(c, edit)()["success"]
    held.set()
    thread.join(WAIT)
    assert replies == [{"success": False, "msg": why}]
    status = c.status()
    assert status["manager_state"] == "idle" and status["running_item"] is None
    assert status["items_in_queue"] == left and status["items_in_history"] == 0
