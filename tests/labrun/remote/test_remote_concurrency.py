"""Two clients at once: pausing, resuming and stopping the same run, and editing the
same queue, leave one consistent state and a run record that agrees with it."""

from __future__ import annotations

import random
import threading
from typing import Any

import pytest
from remote_kit import WAIT, Gates, Served, item, serving

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
