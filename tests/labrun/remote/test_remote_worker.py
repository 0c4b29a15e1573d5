"""Protocol code runs in worker processes: whatever a protocol does while it is loaded
and checked (exits the process, crashes it, loops for ever, eats memory), the server
answers, says why in one line, and the next item runs."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_kit import QUICK, SPEED, WAIT, Gates, Served, item, protocol

from hardware.config import default_config
from labrun.remote import RequestFailedError, RunManager, start_server
from labrun.remote.errors import HTTPClientError
from labrun.remote.robots import simulated_robot
from labrun.remote.worker import Checker

LOAD_LIMIT = 1.0
MEMORY = 512 << 20


@pytest.fixture(params=[WAIT])
def limited(gates: Gates, request: pytest.FixtureRequest) -> Iterator[Served]:
    """A server whose workers may use ``MEMORY``; a top level may load for ``WAIT``
    seconds (parametrize ``limited`` indirectly for another limit)."""
    robot = simulated_robot(default_config(), speed=SPEED)
    checker = Checker(load_timeout=request.param, check_timeout=WAIT, memory_limit=MEMORY)
    manager = RunManager(robot, checker=checker)
    gates.watch(manager)
    with start_server(manager) as handle:
        served = Served(handle, robot)
        yield served
        served.client.close()


def top_level(code: str, name: str = "top.py") -> dict[str, str]:
    """An item whose top level runs ``code`` before ``run`` is defined."""
    return {"name": name, "source": code + "\n" + protocol("p300.pick_up_tip()")}


def the_next_item_runs(served: Served) -> None:
    c = served.client
    assert c.status()["manager_state"] == "idle"
    c.queue_item_add(QUICK)
    c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    assert status["items_in_queue"] == 0
    assert c.history_get()["items"][-1]["result"]["exit_status"] == "succeeded"


@pytest.mark.parametrize(("code", "reason"), [
    ("import os\nos._exit(0)", "top.py:2: the protocol tried to exit"),
    ("import posix\nposix._exit(0)", "top.py: the protocol's worker process ended while "
                                     "loading its top level (exit code 0)"),
    ("import ctypes\nctypes.string_at(0)", "top.py: the protocol's worker process ended "
                                           "while loading its top level (killed by SIGSEGV)"),
    ("hog = bytearray(8 << 30)", "top.py:1: the protocol's top level raised MemoryError"),
    ("hog = []\nwhile True:\n    hog.append(bytearray(1 << 24))",
     "top.py:3: the protocol's top level raised MemoryError"),
])
def test_a_top_level_that_kills_its_process_is_refused_and_the_server_goes_on(
        limited: Served, code: str, reason: str) -> None:
    with pytest.raises(HTTPClientError) as refused:
        limited.client.queue_item_add(top_level(code))
    assert refused.value.status_code == 422
    assert f"the protocol cannot run: {reason}" in str(refused.value)
    assert limited.client.status()["items_in_queue"] == 0
    the_next_item_runs(limited)


@pytest.mark.parametrize("limited", [LOAD_LIMIT], indirect=True)
def test_an_endless_top_level_is_stopped_at_the_time_limit(limited: Served) -> None:
    with pytest.raises(HTTPClientError) as refused:  # its line named, as simulate names it
        limited.client.queue_item_add(top_level("x = 0\nwhile True:\n    x += 1"))
    assert refused.value.status_code == 422
    assert str(refused.value).endswith(
        f"top.py:2: the protocol's top level ran for {LOAD_LIMIT:g} s without finishing "
        "and seems stuck") or str(refused.value).endswith(
        f"top.py:3: the protocol's top level ran for {LOAD_LIMIT:g} s without finishing "
        "and seems stuck"), str(refused.value)
    # one that even the worker's watchdog cannot stop (waiting in C): the server stops it
    with pytest.raises(HTTPClientError) as refused:
        limited.client.queue_item_add(top_level("import time\ntime.sleep(3600)"))
    assert (f"top.py: loading its top level took longer than {LOAD_LIMIT + 2:g} s (an "
            "endless loop?); its worker process was stopped") in str(refused.value)
    the_next_item_runs(limited)


def test_what_a_worker_writes_is_never_unpickled(limited: Served, tmp_path: Path) -> None:
    """A protocol can find its worker's end of the pipe: a pickle it sends there would run
    code in the server when loaded. The server reads JSON only; anything else ends the
    worker."""
    marker = tmp_path / "unpickled"
    code = f"""import gc
from multiprocessing.connection import Connection
class Payload:
    def __reduce__(self):
        return (open, ({str(marker)!r}, "w"))
for thing in gc.get_objects():
    if isinstance(thing, Connection) and thing.writable:
        thing.send(Payload())"""
    with pytest.raises(HTTPClientError, match=r"top.py: the protocol's worker process ended "
                                              r"while loading its top level"):
        limited.client.queue_item_add(top_level(code))
    assert not marker.exists()
    the_next_item_runs(limited)


def test_a_protocol_that_ends_its_process_while_simulated_is_refused(limited: Served) -> None:
    dies = item("import posix\nposix._exit(3)", "dies.py")
    with pytest.raises(HTTPClientError, match=r"dies.py: the protocol's worker process ended "
                                              r"while simulating it \(exit code 3\)"):
        limited.client.queue_item_add(dies)
    the_next_item_runs(limited)


def test_a_check_before_the_run_that_kills_its_worker_fails_the_run_not_the_server(
        limited: Served, gates: Gates) -> None:
    """The item passed its check when added; before it starts it is checked again, in a
    new worker, which it now kills: the run fails with the reason, before anything
    moves, the queue stops, and the next item runs."""
    c = limited.client
    c.queue_item_add(item('if gates.is_set("die"):\n    import posix\n    posix._exit(9)\n'
                          "p300.pick_up_tip()", "later.py"))
    c.queue_item_add(QUICK)
    gates.set("die")
    with pytest.raises(RequestFailedError, match=r"later.py: the protocol's worker process "
                                                 r"ended while simulating it \(exit code 9\)"):
        c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    assert status["items_in_queue"] == 1 and status["queue_error"].startswith(
        "later.py could not start: the protocol cannot run: later.py: the protocol's worker "
        "process ended")
    failed = c.history_get(records=True)["items"][0]
    assert failed["name"] == "later.py" and failed["result"]["exit_status"] == "failed"
    assert failed["record"] == []  # it never started: nothing moved
    c.queue_start()
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert c.history_get()["items"][-1]["result"]["exit_status"] == "succeeded"


def test_checks_waiting_for_a_worker_hold_up_no_other_request(gates: Gates) -> None:
    """Six adds whose top level blocks: two workers run, four checks wait in the event
    loop; reads, locks and the queue answer meanwhile, and every add ends."""
    robot = simulated_robot(default_config(), speed=SPEED)
    manager = RunManager(robot, checker=Checker(load_timeout=WAIT, at_once=2))
    with start_server(manager) as handle:
        served = Served(handle, robot)
        held = top_level('import labrun_remote_gates as gates\n'
                         'gates.wait("top level", simulation=True)')
        added: list[object] = []

        def add(i: int) -> None:
            with served.api(timeout=3 * WAIT) as client:
                try:
                    # The adds carry the key of the lock taken below: an add whose
                    # request reaches the server only while the queue is locked must
                    # still go in (which requests arrive first is up to the scheduler).
                    added.append(client.queue_item_add({**held, "name": f"held{i}.py"},
                                                       lock_key="k")["success"])
                except Exception as exc:  # said in the assertion below, not lost in a thread
                    added.append(repr(exc))

        threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
        for thread in threads:
            thread.start()
        try:
            gates.reached("top level")  # a worker is loading one of them now
            c = served.client
            assert c.status()["items_in_queue"] == 0
            assert c.queue_get()["items"] == []
            assert c.lock_all("k")["success"] and c.unlock("k")["success"]
        finally:
            gates.open("top level")
            for thread in threads:
                thread.join(3 * WAIT)
        assert added == [True] * 6, added
        assert served.client.status()["items_in_queue"] == 6
        served.client.close()


def test_a_check_whose_process_cannot_start_stops_the_queue_not_the_server(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine has no process left for a check (fork fails with EAGAIN): the item is
    not queued, or, checked before it starts, stays queued and the queue stops, saying
    why. That check ended the server's task group as a run ended: the status said
    ``executing_queue`` for ever, and no run started again."""
    c = served.client
    checker = served.manager.checker
    check = checker.check
    refusing = [False, False, False, True]  # the checks as both are added, then as each
    # is about to start: the second's fails

    async def cannot_fork(*args: Any, **options: Any) -> Any:
        if refusing.pop(0) if refusing else False:
            raise BlockingIOError(11, "Resource temporarily unavailable")
        return await check(*args, **options)

    monkeypatch.setattr(checker, "check", cannot_fork)
    c.queue_item_add(item("p300.pick_up_tip()\np300.drop_tip()", "first.py"))
    c.queue_item_add(QUICK)
    c.queue_start()
    status = c.wait_for_idle(timeout=WAIT)
    why = ("the server could not get it ready: BlockingIOError: [Errno 11] Resource "
           "temporarily unavailable")
    assert status["queue_error"] == f"quick.py could not start: {why}"
    assert status["items_in_queue"] == 1
    assert [h["name"] for h in c.history_get()["items"]] == ["first.py"]
    refusing.append(True)
    with pytest.raises(RequestFailedError, match=r"the protocol could not be checked: "
                                                 r"BlockingIOError: \[Errno 11\] Resource "
                                                 r"temporarily unavailable; nothing was "
                                                 r"queued"):
        c.queue_item_add(item("pass", "more.py"))
    c.queue_start()  # the machine has processes again
    assert c.wait_for_idle(timeout=WAIT)["items_in_queue"] == 0
    assert [h["result"]["exit_status"] for h in c.history_get()["items"]] == [
        "succeeded", "succeeded"]


@pytest.mark.parametrize("limited", [LOAD_LIMIT], indirect=True)
def test_a_check_worker_that_killed_its_parent_is_still_stopped(
        limited: Served, tmp_path: Path) -> None:
    """A top level kills its worker's parent (the forkserver), then waits in C: the server
    took the worker for ended (exit code 255) and left it there, for ever, at each add."""
    import os

    from test_remote_run_worker import _lives

    pid_file = tmp_path / "pid"
    code = (f"import os, signal, time\n"
            f"if os.getppid() != {os.getpid()}:  # not the tests' own process\n"
            "    os.kill(os.getppid(), signal.SIGKILL)\n"
            f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
            "time.sleep(3600)")
    try:
        with pytest.raises(HTTPClientError) as refused:
            limited.client.queue_item_add(top_level(code))
        assert (f"top.py: loading its top level took longer than {LOAD_LIMIT + 2:g} s"
                in str(refused.value))
        assert not _lives(int(pid_file.read_text()))
    finally:
        if pid_file.exists():
            with contextlib.suppress(OSError):
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
    the_next_item_runs(limited)
