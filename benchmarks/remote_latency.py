"""Remote control: request latency per action, status push latency, and a run's
throughput with 50 status subscribers. ``python benchmarks/remote_latency.py [--quick]``.

- request latency: the sync client against ``labrun serve``'s app on loopback (server in
  a thread of this process, simulated robot at 1000x real time so parking costs ~nothing),
  one median per action, with the runs in a run worker process as ``labrun serve`` runs
  them; baselines: the same with the runs in the server's process, and a bare Starlette
  JSON endpoint on uvicorn, same client;
- action to push: from a client's immediate pause request to a subscriber thread reading
  ``paused`` from the event stream, run worker against in process;
- push latency: from the engine's status change (noted in its loop) to a subscriber
  thread reading it from the event stream; baseline: a thread of the same process woken
  by ``RunControl.wait_for`` (no HTTP at all);
- 50 subscribers: a 5,000-command protocol on the virtual clock run through the queue
  (server in this process, as ``labrun serve``), with 50 event-stream subscribers in
  another process, against the same run without them; runs alternate in pairs, and the
  ratio is the median of the pairs' ratios (this figure is noisy on a busy machine).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from engine.run import Run
from engine.state import Status
from hardware.config import default_config
from labrun.remote import (
    RunManager,
    RunManagerAPI,
    ServerHandle,
    simulated_robot,
    start_server,
)
from labrun.remote.robots import Robot
from labrun.remote.runner import RobotSpec
from labrun.remote.served import ServedRun
from labrun.remote.server import bind
from labrun.remote.supervisor import SupervisedRobot

ROOT = Path(__file__).resolve().parent.parent
WAIT = 30.0

HEADER = '''metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
'''
DELAYS = HEADER + "    for _ in range(1000):\n        ctx.delay(seconds=1e9, msg='hold')\n"
TINY = HEADER + "    ctx.comment('tiny')\n"
THROUGHPUT_COMMANDS = 5000
MOVES = HEADER + f"""    wells = plate.wells()
    for i in range({THROUGHPUT_COMMANDS}):
        p300.move_to(wells[i % 96].top(5 + i % 3))
"""

SUBSCRIBERS = r"""
import json, sys, anyio
from labrun.remote import AsyncRunManagerAPI

async def main(url: str, n: int) -> None:
    counts = [0] * n
    async with AsyncRunManagerAPI(url) as api:
        async def listen(i: int) -> None:
            async with api.stream() as events:
                async for _ in events:
                    counts[i] += 1
                    if counts[i] == 1 and all(counts):
                        print("ready", flush=True)

        async with anyio.create_task_group() as tg:
            for i in range(n):
                tg.start_soon(listen, i)
            await anyio.to_thread.run_sync(sys.stdin.read)
            tg.cancel_scope.cancel()
    print(json.dumps(counts), flush=True)

anyio.run(main, sys.argv[1], int(sys.argv[2]))
"""


def item(name: str, source: str) -> dict[str, Any]:
    return {"name": name, "source": source}


@contextmanager
def served(speed: float = 1000.0, virtual: bool = False,
           worker: bool = False) -> Iterator[ServerHandle]:
    """A server over the simulated robot: runs in this process, or in a run worker."""
    robot: Robot | SupervisedRobot
    if worker:
        robot = SupervisedRobot.start(RobotSpec(default_config(), speed=speed,
                                                virtual=virtual))
    else:
        robot = simulated_robot(default_config(), speed=speed, virtual=virtual)
    try:
        with start_server(RunManager(robot)) as handle:
            yield handle
    finally:
        robot.close()


def timed(samples: list[float], call: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = call()
    samples.append((time.perf_counter() - start) * 1e6)
    return result


def with_delay(status: dict[str, Any]) -> bool:
    delay = status["delay"]
    return bool(status["run_status"] == "running" and delay is not None and not delay["skipped"])


def request_latency_us(samples: int, worker: bool) -> dict[str, float]:
    """Median microseconds per action."""
    times: dict[str, list[float]] = {}

    def t(name: str, call: Callable[[], Any]) -> Any:
        return timed(times.setdefault(name, []), call)

    with served(worker=worker) as handle:
        c = RunManagerAPI(handle.token_url)
        for _ in range(samples):
            t("status", c.status)
            t("queue_get", c.queue_get)
            added = t("queue_item_add", lambda: c.queue_item_add(item("tiny.py", TINY)))
            t("queue_item_remove", partial(c.queue_item_remove, uid=added["item"]["item_uid"]))
            t("lock", lambda: c.lock("k", environment=True))
            t("unlock", lambda: c.unlock("k"))
        c.queue_item_add(item("delays.py", DELAYS))
        t("queue_start", c.queue_start)
        for _ in range(samples):
            c.wait_for(with_delay, timeout=WAIT)
            t("re_pause (deferred)", c.re_pause)  # during a delay: at once
            c.wait_for_idle_or_paused(timeout=WAIT)
            t("re_resume", c.re_resume)
            c.wait_for(with_delay, timeout=WAIT)
            t("re_pause (immediate)", lambda: c.re_pause("immediate"))
            c.wait_for_idle_or_paused(timeout=WAIT)
            c.re_resume()
            c.wait_for(with_delay, timeout=WAIT)
            t("skip_delay", c.skip_delay)
        t("re_stop", c.re_stop)
        c.wait_for_idle(timeout=WAIT)
        for action in ("re_abort", "re_halt", "re_stop"):
            for _ in range(max(3, samples // 4)):
                c.queue_item_add(item("delays.py", DELAYS))
                t("queue_start", c.queue_start)
                c.wait_for(with_delay, timeout=WAIT)
                t(action, getattr(c, action))
                c.wait_for_idle(timeout=WAIT)
        t("history_get (no records)", lambda: c.history_get(records=False))
        c.close()
    return {name: statistics.median(values) for name, values in times.items()}


def bare_starlette_us(samples: int) -> float:
    """Median microseconds of a GET returning a small JSON object: the stack's floor."""

    async def endpoint(request: Request) -> JSONResponse:
        return JSONResponse({"success": True, "msg": ""})

    app = Starlette(routes=[Route("/status", endpoint)])
    sock = bind("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", http="h11",
                                           loop="asyncio"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    times: list[float] = []
    with httpx.Client() as client:
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/status"
        for _ in range(samples * 3):
            timed(times, lambda: client.get(url).json())
    server.should_exit = True
    thread.join()
    sock.close()
    return statistics.median(times)


def status_changes(run: Run) -> list[tuple[str, float]]:
    """(status, perf_counter) of each change from now on, noted in the engine loop."""
    changes: list[tuple[str, float]] = []

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "status":
            changes.append((event["status"], time.perf_counter()))

    run.call(lambda: run.record.subscribe(on_event))
    return changes


def listen(url: str, received: list[tuple[str, float]], listening: threading.Event) -> None:
    """A subscriber thread: each pushed run status with the instant it was read, until the
    manager is idle; ``listening`` is set at the first."""
    with RunManagerAPI(url) as sub, sub.stream() as events:
        for event in events:
            received.append((event.data["run_status"], time.perf_counter()))
            listening.set()
            if event.data["manager_state"] == "idle":
                return


def first_paused_after(received: list[tuple[str, float]], at: float) -> float | None:
    """When the subscriber first read ``paused`` at or after ``at``."""
    return next((t for s, t in received if s == "paused" and t >= at), None)


def push_latency_us(cycles: int) -> tuple[list[float], list[float]]:
    """Engine status change -> SSE subscriber thread, and -> an in-process waiter thread."""
    pushed: list[float] = []
    woken: list[float] = []
    with served() as handle:
        c = RunManagerAPI(handle.token_url)
        c.queue_item_add(item("delays.py", DELAYS))
        c.queue_start()
        c.wait_for(with_delay, timeout=WAIT)
        active = handle.manager.active
        assert isinstance(active, ServedRun)  # a run of this process: its engine is here
        run = active.run
        changes = status_changes(run)
        received: list[tuple[str, float]] = []
        local: list[tuple[str, float]] = []
        listening = threading.Event()
        done = threading.Event()

        def wait_locally() -> None:
            for _ in range(cycles):
                run.control.wait_for(lambda s: s.status is Status.PAUSED, WAIT)
                local.append(("paused", time.perf_counter()))
                run.control.wait_for(lambda s: s.status is not Status.PAUSED, WAIT)
            done.set()

        threads = [threading.Thread(target=listen, args=(handle.token_url, received, listening)),
                   threading.Thread(target=wait_locally)]
        for thread in threads:
            thread.start()
        listening.wait(WAIT)
        for _ in range(cycles):
            c.re_pause("immediate")
            c.wait_for_idle_or_paused(timeout=WAIT)
            time.sleep(0.002)  # let the local waiter re-arm; not part of any figure
            c.re_resume()
            c.wait_for(with_delay, timeout=WAIT)
        done.wait(WAIT)
        c.re_stop()
        for thread in threads:
            thread.join(WAIT)
        c.close()
    paused_at = [t for s, t in changes if s == "paused"]
    for at in paused_at:
        seen = first_paused_after(received, at)
        if seen is not None:
            pushed.append((seen - at) * 1e6)
        here = next((t for s, t in local if t >= at), None)
        if here is not None:
            woken.append((here - at) * 1e6)
    return pushed, woken


def action_to_push_us(cycles: int, worker: bool) -> float:
    """Median microseconds from sending an immediate pause to a subscriber reading it."""
    sent: list[float] = []
    received: list[tuple[str, float]] = []
    with served(worker=worker) as handle:
        c = RunManagerAPI(handle.token_url)
        c.queue_item_add(item("delays.py", DELAYS))
        c.queue_start()
        c.wait_for(with_delay, timeout=WAIT)
        listening = threading.Event()

        thread = threading.Thread(target=listen, args=(handle.token_url, received, listening))
        thread.start()
        listening.wait(WAIT)
        for _ in range(cycles):
            sent.append(time.perf_counter())
            c.re_pause("immediate")
            c.wait_for_idle_or_paused(timeout=WAIT)
            c.re_resume()
            c.wait_for(with_delay, timeout=WAIT)
        c.re_stop()
        thread.join(WAIT)
        c.close()
    delays = []
    for at in sent:
        seen = first_paused_after(received, at)
        if seen is not None:
            delays.append((seen - at) * 1e6)
    return statistics.median(delays)


def run_throughput(handle: ServerHandle, client: RunManagerAPI) -> float:
    client.queue_item_add(item("moves.py", MOVES))
    client.queue_start()
    client.wait_for_idle(timeout=120)
    result = client.history_get(records=False)["items"][-1]["result"]
    client.history_clear()  # records of past runs would weigh on the collector
    assert result["exit_status"] == "succeeded", result
    elapsed: float = result["time_stop"] - result["time_start"]
    commands: int = result["summary"]["commands"]
    return commands / elapsed


def subscribers_throughput(pairs: int, n: int = 50) -> tuple[float, float, float, float]:
    """Median cmd/s without and with ``n`` subscribers, the median of the paired ratios
    (runs alternate, so a slow spell of the machine weighs on both), events per subscriber.
    """
    plain: list[float] = []
    watched: list[float] = []
    ratios: list[float] = []
    events: list[float] = []
    with served(virtual=True) as handle:
        client = RunManagerAPI(handle.token_url, timeout=60)  # adding checks 5,000 moves
        run_throughput(handle, client)  # warm up
        for pair in range(pairs):
            result: dict[bool, float] = {}
            for with_subscribers in ((False, True) if pair % 2 == 0 else (True, False)):
                if not with_subscribers:
                    result[False] = run_throughput(handle, client)
                    continue
                process = subprocess.Popen(
                    [sys.executable, "-c", SUBSCRIBERS, handle.url, str(n)], cwd=ROOT,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
                assert process.stdin is not None and process.stdout is not None
                assert process.stdout.readline().strip() == "ready"
                assert len(handle.manager.hub) == n
                result[True] = run_throughput(handle, client)
                process.stdin.close()
                counts = json.loads(process.stdout.readline())
                process.wait(WAIT)
                events.append(statistics.median(counts))
            plain.append(result[False])
            watched.append(result[True])
            ratios.append(result[True] / result[False])
        client.close()
    return (statistics.median(plain), statistics.median(watched), statistics.median(ratios),
            statistics.median(events))


def figures(repeats: int) -> list[tuple[str, str, str, str]]:
    samples = max(9, repeats * 3)
    latency = request_latency_us(samples, worker=True)
    in_process = request_latency_us(samples, worker=False)
    floor = bare_starlette_us(samples)
    to_push = action_to_push_us(max(9, repeats * 2), worker=True)
    to_push_here = action_to_push_us(max(9, repeats * 2), worker=False)
    pushed, woken = push_latency_us(max(9, repeats * 2))
    plain, watched, ratio, events = subscribers_throughput(max(11, repeats * 3))
    rows = [(f"remote request: {name}", f"{value:.0f} µs",
             f"in process {in_process[name]:.0f} µs; bare Starlette GET {floor:.0f} µs",
             f"{value / in_process[name]:.2f}x") for name, value in latency.items()]
    push, wake = statistics.median(pushed), statistics.median(woken)
    rows += [
        ("remote: immediate pause request to subscriber", f"{to_push:.0f} µs",
         f"in process {to_push_here:.0f} µs", f"{to_push / to_push_here:.2f}x"),
        ("remote push: status change to subscriber", f"{push:.0f} µs",
         f"in-process waiter {wake:.0f} µs; target <= 10000 µs", f"{push / wake:.1f}x"),
        ("remote: run with 50 status subscribers", f"{watched:,.0f} cmd/s",
         f"no subscribers {plain:,.0f} cmd/s", f"{ratio:.2f} (paired)"),
        ("remote: status events per subscriber per run", f"{events:.0f}", "", ""),
    ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7
    rows = figures(repeats)
    width = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, width, strict=True)))


if __name__ == "__main__":
    main()
