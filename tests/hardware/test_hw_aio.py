"""The simulation's runtime keeps anyio's semantics: each scenario runs on anyio (asyncio)
and on ``aio.Runtime`` and must say the same, step for step."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable

import anyio

from hardware import aio

Scenario = Callable[[list[str]], Awaitable[None]]


def on_runtime(scenario: Scenario) -> list[str]:
    log: list[str] = []
    runtime = aio.Runtime()
    task = runtime.spawn(scenario(log))
    runtime.run_ready()
    assert task.done, "the scenario is stuck"
    task.result()
    return log


def on_anyio(scenario: Scenario) -> list[str]:
    log: list[str] = []
    anyio.run(scenario, log)
    return log


def both(scenario: Scenario,
         same: Callable[[list[str]], list[str]] = list) -> list[str]:
    """The scenario's log on anyio, which the runtime's must equal (as ``same`` puts it)."""
    reference = same(on_anyio(scenario))
    assert same(on_runtime(scenario)) == reference
    return reference


def siblings_in_any_order(log: list[str]) -> list[str]:
    """anyio cancels a group's children in the order of a set: their lines sorted."""
    return [*log[:3], *sorted(log[3:5]), *log[5:]]


async def cancel_later(scope: aio.Scope, log: list[str], what: str) -> None:
    await aio.checkpoint()
    log.append(what)
    scope.cancel()


def test_a_cancelled_scope_stops_the_task_at_its_next_await_and_catches_it() -> None:
    async def scenario(log: list[str]) -> None:
        with aio.CancelScope() as scope:
            scope.cancel()
            log.append("before the await")
            await aio.checkpoint()
            log.append("never")
        log.append(f"after: caught {scope.cancelled_caught}")

    assert both(scenario) == ["before the await", "after: caught True"]


def test_a_waiting_task_is_woken_by_the_cancellation_of_its_scope() -> None:
    async def scenario(log: list[str]) -> None:
        event = aio.Event()
        async with aio.create_task_group() as tasks:
            with aio.CancelScope() as scope:
                tasks.start_soon(cancel_later, scope, log, "the other task cancels")
                await event.wait()
                log.append("never")
            log.append(f"woken: caught {scope.cancelled_caught}, set {event.is_set()}")

    assert both(scenario) == ["the other task cancels", "woken: caught True, set False"]


def test_a_shield_holds_the_cancellation_off_until_it_ends() -> None:
    async def scenario(log: list[str]) -> None:
        with aio.CancelScope() as outer:
            outer.cancel()
            with aio.CancelScope(shield=True):
                await aio.checkpoint()
                await aio.checkpoint_if_cancelled()
                log.append("shielded awaits go on")
            log.append("after the shield")
            await aio.checkpoint_if_cancelled()
            log.append("never")
        log.append(f"caught {outer.cancelled_caught}")

    assert both(scenario) == ["shielded awaits go on", "after the shield", "caught True"]


def test_an_inner_scope_lets_the_cancellation_of_an_outer_one_through() -> None:
    async def scenario(log: list[str]) -> None:
        with aio.CancelScope() as outer:
            with aio.CancelScope() as inner:
                inner.cancel()
                outer.cancel()
                await aio.checkpoint()
            log.append("never: the outer scope is cancelled too")
        log.append(f"inner caught {inner.cancelled_caught}, outer {outer.cancelled_caught}")

    assert both(scenario) == ["inner caught False, outer True"]


def test_a_task_group_waits_for_its_children_and_its_scope_cancels_them() -> None:
    async def child(name: str, event: aio.EventLike, log: list[str]) -> None:
        try:
            await event.wait()
            log.append(f"{name} saw the event")
            await aio.Event().wait()
        except aio.cancelled_class():
            log.append(f"{name} cancelled")
            raise

    async def scenario(log: list[str]) -> None:
        event = aio.Event()
        async with aio.create_task_group() as tasks:
            tasks.start_soon(child, "first", event, log)
            tasks.start_soon(child, "second", event, log)
            await aio.checkpoint()
            event.set()
            await aio.checkpoint()
            await aio.checkpoint()
            tasks.cancel_scope.cancel()
            log.append("body done")
        log.append(f"group left: caught {tasks.cancel_scope.cancelled_caught}")

    assert both(scenario, siblings_in_any_order) == [
        "first saw the event", "second saw the event", "body done",
        "first cancelled", "second cancelled", "group left: caught True"]


def test_a_failing_child_cancels_its_siblings_and_its_error_leaves_the_group() -> None:
    async def failing() -> None:
        await aio.checkpoint()
        raise ValueError("the child failed")

    async def waiting(log: list[str]) -> None:
        try:
            await aio.Event().wait()
        except aio.cancelled_class():
            log.append("sibling cancelled")
            raise

    async def scenario(log: list[str]) -> None:
        try:
            async with aio.create_task_group() as tasks:
                tasks.start_soon(waiting, log)
                tasks.start_soon(failing)
        except BaseException as exc:  # anyio wraps it in a group; the runtime does not
            errors = getattr(exc, "exceptions", (exc,))
            log.append(f"raised {[str(e) for e in errors]}")

    assert both(scenario) == ["sibling cancelled", "raised ['the child failed']"]


def test_an_event_wakes_every_waiter_and_a_set_event_does_not_wait() -> None:
    async def waiter(name: str, event: aio.EventLike, log: list[str]) -> None:
        await event.wait()
        log.append(f"{name} woken")

    async def scenario(log: list[str]) -> None:
        event = aio.Event()
        async with aio.create_task_group() as tasks:
            for name in ("a", "b", "c"):
                tasks.start_soon(waiter, name, event, log)
            await aio.checkpoint()
            log.append("set")
            event.set()
        await event.wait()
        log.append("set again: no wait")

    assert both(scenario) == ["set", "a woken", "b woken", "c woken", "set again: no wait"]


def test_another_thread_schedules_into_the_runtime_and_wakes_whoever_drives_it() -> None:
    woken = threading.Event()
    runtime = aio.Runtime(wake=woken.set)
    event_box: list[aio.EventLike] = []

    async def main() -> str:
        event_box.append(aio.Event())
        await event_box[0].wait()
        return "woken from another thread"

    task = runtime.spawn(main())
    runtime.run_ready()
    assert not task.done
    thread = threading.Thread(target=lambda: runtime.call_soon_threadsafe(event_box[0].set))
    thread.start()
    thread.join()
    assert woken.is_set() and not task.done
    runtime.run_ready()
    assert task.done and task.result() == "woken from another thread"


def test_the_runtime_is_the_one_its_thread_sees_only_while_it_runs() -> None:
    runtime = aio.Runtime()
    seen: list[object] = []
    runtime.run_ready(lambda: seen.append(aio.current_runtime()))
    assert seen == [runtime] and aio.current_runtime() is None


def test_a_cancel_scope_outside_a_task_of_the_runtime_is_refused() -> None:
    runtime = aio.Runtime()
    errors: list[BaseException] = []

    def enter() -> None:
        try:
            with aio.CancelScope():
                pass
        except RuntimeError as exc:
            errors.append(exc)

    runtime.run_ready(enter)
    assert [str(e) for e in errors] == ["a cancel scope needs a task of the runtime"]


def test_awaiting_an_event_loop_s_future_on_the_runtime_fails_instead_of_hanging() -> None:
    import asyncio

    async def scenario(log: list[str]) -> None:
        future = asyncio.get_event_loop_policy().new_event_loop().create_future()
        try:
            await future
        except RuntimeError as exc:
            log.append(str(exc).split("; ")[1])

    assert on_runtime(scenario) == ["the simulation's runtime cannot wait for it"]
