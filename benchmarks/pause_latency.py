"""Real-time cost of pausing and resuming, excluding the motion itself.

- immediate pause: from the request (another thread) to the axes stopped, on a robot
  moving in real time;
- deferred pause: from the checkpoint (the next step's first command reaching the
  engine) to ``paused``, parking on the virtual clock so no motion time is counted;
- resume: from the request to the next command started (unparking on the virtual clock);
- throughput with a deferred pause and a resume every 100 commands, against none.
"""

from __future__ import annotations

import functools
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from engine import commands as c
from engine.actions import Pause, Resume
from engine.channel import CommandChannel
from engine.run import Run
from engine.state import Status, StepInfo
from hardware.clock import RealClock
from hardware.config import default_config
from hardware.simulated import SimulatedController

P300 = c.LoadInstrument("p300_single_gen2", "left", 300.0, 18.75, 18.0, 19.0, 20.0)


class StopTimer(SimulatedController):
    """A simulated robot that notes when each move stops."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stops: list[float] = []

    async def _travel(self, target: Any, speed: float | None) -> None:
        try:
            await super()._travel(target, speed)
        finally:
            self.stops.append(time.perf_counter())


def _load_then_move(channel: CommandChannel, *, started: threading.Event) -> None:
    channel.execute(P300, StepInfo(0, "load"))
    started.set()
    channel.execute(c.MoveTo("left", (350.0, 300.0, 100.0)), StepInfo(1, "move"))


def immediate_pause_us(samples: int) -> list[float]:
    config = default_config()
    results = []
    for _ in range(samples):
        clock = RealClock()
        controller = StopTimer(config, clock)
        started = threading.Event()
        run = Run(functools.partial(_load_then_move, started=started), config=config,
                  controller=controller, clock=clock).start()
        run.control.play()
        started.wait()
        time.sleep(0.05)  # the move is under way (it takes about 0.8 s)
        requested = time.perf_counter()
        run.control.pause("immediate")
        run.control.wait_until_paused(5)
        first_stop = min(t for t in controller.stops if t >= requested)  # not parking's
        results.append((first_stop - requested) * 1e6)
        run.control.stop()
        run.wait(5)
        run.close()
    return results


def _paced_run(n_steps: int, between: Callable[[Run, int], None] | None) -> Run:
    ready = threading.Event()
    go = threading.Event()
    marks: dict[str, float] = {}

    def protocol(channel: CommandChannel) -> None:
        channel.execute(P300, StepInfo(0, "load"))
        ready.set()
        go.wait()
        for i in range(1, n_steps):
            marks[f"send{i}"] = time.perf_counter()
            channel.execute(c.Comment(str(i)), StepInfo(i, "comment"))

    run = Run(protocol).start()
    run.marks = marks  # type: ignore[attr-defined]
    run.control.play()
    ready.wait()
    if between is not None:
        between(run, 0)
    go.set()
    return run


def _arm_pause(run: Run, _: int, *, started: dict[int, float]) -> None:
    """Ask for a deferred pause (taken at step 1) and note when each command starts."""
    run.control.pause()

    def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "command" and event["status"] == "started":
            started[event["id"]] = time.perf_counter()

    run.record.subscribe(on_event)


def deferred_and_resume_us(samples: int) -> tuple[list[float], list[float]]:
    deferred, resumed = [], []
    for _ in range(samples):
        started: dict[int, float] = {}
        run = _paced_run(3, functools.partial(_arm_pause, started=started))
        status = run.control.wait_until_paused(5)
        paused_at = time.perf_counter()
        assert status.status is Status.PAUSED
        deferred.append((paused_at - run.marks["send1"]) * 1e6)  # type: ignore[attr-defined]
        requested = time.perf_counter()
        run.control.resume()
        run.wait(5)
        resumed.append((started[1] - requested) * 1e6)
        run.close()
    return deferred, resumed


def paused_throughput(n: int, every: int | None) -> float:
    """Commands per second; with ``every``, pause (deferred) and resume that often."""

    def protocol(channel: CommandChannel) -> None:
        channel.execute(P300, StepInfo(0, "load"))
        for i in range(1, n):
            channel.execute(c.MoveTo("left", (100.0 + i % 50, 100.0, 80.0)), StepInfo(i, "move"))

    run = Run(protocol).start()
    if every is not None:
        engine = run.engine

        def on_event(event: dict[str, Any]) -> None:
            if event["event"] == "command" and event["status"] == "completed" \
                    and event["id"] % every == every - 1:
                engine.apply(Pause(source="benchmark"))
            elif event["event"] == "status" and event["status"] == "paused":
                engine.apply(Resume(source="benchmark"))

        run.record.subscribe(on_event)
    start = time.perf_counter()
    run.control.play()
    final = run.wait(60)
    elapsed = time.perf_counter() - start
    run.close()
    assert final.status is Status.SUCCEEDED, final
    return n / elapsed


def figures(repeats: int) -> list[tuple[str, str, str, str]]:
    immediate = statistics.median(immediate_pause_us(max(5, repeats)))
    deferred, resumed = deferred_and_resume_us(max(9, repeats * 3))
    plain = [paused_throughput(10_000, None) for _ in range(repeats)]
    paused = [paused_throughput(10_000, 100) for _ in range(repeats)]
    base, with_pauses = statistics.median(plain), statistics.median(paused)
    return [
        ("immediate pause: request to motion stopped", f"{immediate:.0f} µs", "", ""),
        ("deferred pause: checkpoint to paused", f"{statistics.median(deferred):.0f} µs",
         "target <= 1000 µs", ""),
        ("resume: request to next command started", f"{statistics.median(resumed):.0f} µs",
         "target <= 1000 µs", ""),
        ("throughput, pause+resume every 100 commands", f"{with_pauses:,.0f} cmd/s",
         f"no pauses {base:,.0f} cmd/s", f"{with_pauses / base:.2f}"),
    ]
