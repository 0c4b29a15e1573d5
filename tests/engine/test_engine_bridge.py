"""The bridge's async half: another event loop awaits an answer from the engine loop."""

from __future__ import annotations

import sys
import threading

import anyio
import pytest
from labrun_testing import P300, WELL

from engine import commands as c
from engine.bridge import LoopClosedError, Reply
from engine.channel import CommandChannel
from engine.run import Run
from engine.state import RunState, Status, StepInfo


def test_another_loop_awaits_values_and_errors_from_the_engine_loop() -> None:
    run = Run(None).start()
    try:
        async def ask() -> tuple[Status, str]:
            status = await run.acall(lambda: run.control.status().status, timeout=5)
            with pytest.raises(ZeroDivisionError):
                await run.acall(lambda: 1 // 0, timeout=5)
            ticks = 0

            async def tick() -> None:  # this loop keeps running while it waits
                nonlocal ticks
                while True:
                    ticks += 1
                    await anyio.sleep(0)

            async with anyio.create_task_group() as tg:
                tg.start_soon(tick)
                name = await run.acall(lambda: "running" if run.engine.state.started else "idle")
                tg.cancel_scope.cancel()
            assert ticks > 0
            return status, name

        assert anyio.run(ask) == (Status.IDLE, "idle")
    finally:
        run.close()


def test_an_ended_run_answers_with_loop_closed_not_a_hang() -> None:
    run = Run(None).start()
    run.control.abort("done")
    run.wait(5)
    run.close()

    async def ask() -> None:
        with pytest.raises(LoopClosedError):
            await run.acall(lambda: 1, timeout=5)

    anyio.run(ask)


def _engine_threads(run: Run) -> set[str]:
    """The threads the engine loop carried out each new step in."""
    seen: set[str] = set()

    def listen(state: RunState) -> None:
        if state.step is not None:
            seen.add(threading.current_thread().name)

    run.call(lambda: run.engine.subscribe(listen))
    return seen


def test_a_simulated_protocol_runs_the_engine_in_its_own_thread() -> None:
    """On the virtual clock a call costs no thread hop: the protocol thread runs the loop."""
    def protocol(channel: CommandChannel) -> None:
        for index in range(3):
            channel.execute(c.Comment(f"call {index}"), StepInfo(index, "comment"))

    run = Run(protocol).start()
    threads = _engine_threads(run)
    run.control.play()
    assert run.wait(5).status is Status.SUCCEEDED
    run.close()
    assert threads == {"labrun-protocol"}
    assert [e["params"]["message"] for e in run.record.events
            if e["event"] == "command" and e["status"] == "queued"] == [
        "call 0", "call 1", "call 2"]


def test_a_control_while_the_protocol_computes_is_answered_at_once() -> None:
    """Between its calls the protocol runs no loop: the loop's own thread answers others."""
    computing, go_on = threading.Event(), threading.Event()

    def protocol(channel: CommandChannel) -> None:
        channel.execute(P300, StepInfo(0, "load"))
        computing.set()
        go_on.wait(5)  # the protocol's own code, between two calls
        channel.execute(c.MoveTo("left", WELL, well="2/A1"), StepInfo(1, "move"))

    run = Run(protocol).start()
    try:
        run.control.play()
        assert computing.wait(5)
        assert run.control.pause("immediate").accepted
        paused = run.control.wait_until_paused(5)
        assert paused.status is Status.PAUSED and paused.parked
        assert run.control.resume().accepted
        go_on.set()
        assert run.wait(5).status is Status.SUCCEEDED
    finally:
        go_on.set()
        run.close()
    moves = [e for e in run.record.events if e["event"] == "command"
             and e.get("type") == "moveTo"]
    assert [e["step"] for e in moves] == [1]


def test_a_reply_answers_its_waiter_whichever_comes_first() -> None:
    """A reply answered before its thread waits, or while it waits from another thread,
    gives the value or raises the error; it times out if nobody answers, and it cannot be
    answered twice. Thousands of answers racing their waits: none is lost (a lost answer
    would hang the wait until its timeout fails the test)."""
    early: Reply[int] = Reply()
    early.set(1)
    assert early.done and early.wait(timeout=0) == 1
    with pytest.raises(RuntimeError, match="only once"):
        early.fail(ValueError())
    failed: Reply[int] = Reply()
    failed.fail(ValueError("no tip"))
    with pytest.raises(ValueError, match="no tip"):
        failed.wait()
    with pytest.raises(TimeoutError):
        Reply[int]().wait(timeout=0.001)

    replies: list[Reply[int]] = [Reply() for _ in range(2000)]
    asking = [-1]  # the reply the waiting thread is about to wait for

    def answer() -> None:
        for i, reply in enumerate(replies):
            while asking[0] < i:  # answer each just as its wait begins
                pass
            reply.set(i)

    answering = threading.Thread(target=answer)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads take turns between almost any two steps
    answering.start()
    got = []
    try:
        for i, reply in enumerate(replies):
            asking[0] = i
            got.append(reply.wait(timeout=10))
    finally:
        asking[0] = len(replies)
        answering.join()
        sys.setswitchinterval(interval)
    assert got == list(range(2000))


@pytest.mark.parametrize("every", [1, 7, 11])
def test_a_protocol_that_recurses_without_end_fails_at_its_line(
        tmp_path, every: int) -> None:  # type: ignore[no-untyped-def]
    # In a simulation the engine runs on the protocol's own stack: near the recursion
    # limit it ran out part-way through a command, and the run hung for good (the
    # request dropped), ended with a traceback, or blamed labrun ("internal error").
    from labrun_testing import simulate_file

    path = tmp_path / "protocol.py"
    path.write_text('metadata = {"apiLevel": "2.15"}\n'
                    "def run(ctx):\n"
                    "    def deeper(n):\n"
                    f"        if n % {every} == 0:\n"
                    '            ctx.comment("level %d" % n)\n'
                    "        deeper(n + 1)\n"
                    "    deeper(0)\n")
    run = simulate_file(path)
    summary = run.record.events[-1]
    assert summary["status"] == "failed"
    assert summary["error"].startswith("RecursionError: maximum recursion depth exceeded")
    assert summary["location"] in (f"{path}:5", f"{path}:6")
