"""The bridge's async half: another event loop awaits an answer from the engine loop."""

from __future__ import annotations

import anyio
import pytest

from engine.bridge import LoopClosedError
from engine.run import Run
from engine.state import Status


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
