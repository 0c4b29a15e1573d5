"""Pushed status: waits return as soon as the state is reached, pushes are prompt, the
stream sends keep-alives and refuses bad parameters."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from remote_kit import WAIT, Gates, Served, item

from engine.run import Run
from labrun.remote import KEEPALIVE, HTTPClientError, StreamEvent
from labrun.remote.client_core import EventParser
from labrun.remote.served import ServedRun

HELD = item('''
p300.pick_up_tip()
gates.wait("held")
for i in range(200):
    p300.move_to(plate.wells()[i % 96].top())
p300.drop_tip()
''', "moves.py")


def running_run(served: Served, gates: Gates) -> Run:
    served.client.queue_item_add(HELD)
    served.client.queue_start()
    gates.reached("held")
    active = served.manager.active
    assert isinstance(active, ServedRun)  # a run of the test's process
    return active.run


def listening(served: Served, each: Callable[[dict[str, Any]], bool]) -> threading.Thread:
    """A thread following the pushed status, already subscribed: ``each`` is given every
    status document until it returns True."""
    subscribed = threading.Event()

    def listen() -> None:
        client = served.api()
        with client.stream() as events:
            for event in events:
                subscribed.set()
                if each(event.data):
                    break
        client.close()

    listener = threading.Thread(target=listen)
    listener.start()
    assert subscribed.wait(WAIT)
    return listener


def status_times(run: Run) -> list[tuple[str, float]]:
    """(status, perf_counter) for every status change from now, noted in the engine loop."""
    times: list[tuple[str, float]] = []

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "status":
            times.append((event["status"], time.perf_counter()))

    run.call(lambda: run.record.subscribe(on_event))
    return times


def test_wait_for_idle_or_paused_returns_as_soon_as_the_pause_completes(
        served: Served, gates: Gates) -> None:
    run = running_run(served, gates)
    changes = status_times(run)
    waiting = threading.Event()
    returned: dict[str, Any] = {}

    def wait() -> None:
        client = served.api()

        def paused(status: dict[str, Any]) -> bool:
            waiting.set()  # called with the first pushed status: the wait is listening
            return bool(status["manager_state"] in ("idle", "paused"))

        returned["status"] = client.wait_for(paused, timeout=WAIT)
        returned["at"] = time.perf_counter()
        client.close()

    waiter = threading.Thread(target=wait)
    waiter.start()
    assert waiting.wait(WAIT)
    assert served.client.re_pause("immediate")["success"]
    gates.open("held")
    waiter.join(WAIT)
    paused_at = next(t for status, t in changes if status == "paused")
    assert returned["status"]["run_status"] == "paused" and returned["status"]["parked"]
    assert [s for s, _ in changes][:2] == ["pausing", "paused"]
    assert 0 <= returned["at"] - paused_at < 0.05, returned["at"] - paused_at
    served.client.re_stop()
    served.client.wait_for_idle(timeout=WAIT)


def test_a_subscriber_sees_every_status_change_in_order(served: Served, gates: Gates) -> None:
    """Every pause, resume and the stop reach a subscriber, in the order they happened.

    How fast they arrive is a figure (benchmarks/remote_latency.py), not a test: a
    latency bound here would fail on a busy machine."""
    run = running_run(served, gates)
    changes = status_times(run)
    received: list[tuple[str, float]] = []

    def each(data: dict[str, Any]) -> bool:
        received.append((data["run_status"], time.perf_counter()))
        return bool(data["manager_state"] == "idle")

    listener = listening(served, each)
    gates.open("held")
    for _ in range(5):
        served.client.re_pause("immediate")
        served.client.wait_for_idle_or_paused(timeout=WAIT)
        served.client.re_resume()
    served.client.re_stop()
    listener.join(WAIT)
    wanted = [s for s, _ in changes if s in ("paused", "running", "stopped")]
    assert wanted.count("paused") == 5 and wanted[-1] == "stopped"
    seen = [s for s, _ in received]
    position = 0
    for status in wanted:  # each change, after the one before it
        assert status in seen[position:], (status, wanted, seen)
        position = seen.index(status, position) + 1


def test_keepalives_and_bad_stream_parameters(served: Served) -> None:
    c = served.client
    with c.stream(heartbeat=0.05, keepalive=True) as events:
        assert next(events).event == "status"
        assert next(events) is KEEPALIVE
    with pytest.raises(HTTPClientError, match="heartbeat must be between"), \
            c.stream(heartbeat=1000):
        pass
    answer = httpx.get(served.url + "/api/stream?everything=1")
    assert answer.status_code == 422 and "unknown parameter 'everything'" in answer.text
    answer = httpx.get(served.url + "/api/stream?heartbeat=nan")
    assert answer.status_code == 422
    assert answer.json()["msg"] == "heartbeat must be a finite number, not nan"


def test_an_unchanged_status_is_not_pushed_again(served: Served) -> None:
    c = served.client
    with c.stream() as events:
        assert next(events).data["items_in_queue"] == 0
        c.queue_clear()  # nothing changes... but the queue uid does: one push
        c.lock("k", environment=True)
        c.unlock("k")
        kinds = [next(events).data["lock"]["environment"] for _ in range(3)]
    assert kinds == [False, True, False]


def test_event_parser() -> None:
    parser = EventParser()
    lines = [": keep-alive", "", "event: status", 'data: {"a":', "data: 1}", "",
             "data: {}", ""]
    events = [e for e in map(parser.line, lines) if e is not None]
    assert events == [KEEPALIVE, StreamEvent("status", {"a": 1}), StreamEvent("message", {})]


@pytest.mark.parametrize("where", ["served", "served_by_worker"])
def test_the_progress_in_a_pushed_status_says_the_runs_status_of_that_moment(
        where: str, gates: Gates, request: pytest.FixtureRequest) -> None:
    """The status's ``progress.status`` once lagged a change behind ``run_status``: it is
    read from record events, which reached the server just after the status was pushed,
    so a stream said ``pausing`` through a whole pause, and ``paused`` once running."""
    served: Served = request.getfixturevalue(where)
    served.client.queue_item_add(HELD)
    pushed: list[tuple[str | None, str | None]] = []

    def each(data: dict[str, Any]) -> bool:
        progress = data["progress"]
        pushed.append((data["run_status"], progress["status"] if progress else None))
        return bool(progress and progress["status"] == "succeeded")

    listener = listening(served, each)
    served.client.queue_start()
    gates.reached("held")
    gates.open("held")
    for _ in range(3):
        served.client.re_pause("immediate")
        served.client.wait_for_idle_or_paused(timeout=WAIT)
        assert served.client.status()["progress"]["status"] == "paused"
        served.client.re_resume()
    listener.join(WAIT)
    during = [(run, progress) for run, progress in pushed if run is not None]
    assert [run for run, _ in during].count("paused") == 3
    assert all(run == progress for run, progress in during), during
