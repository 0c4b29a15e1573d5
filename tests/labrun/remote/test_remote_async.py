"""The async client (anyio) against a real server: the same calls, awaited."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from remote_kit import QUICK, WAIT, Gates, Served, item

from labrun.remote import (
    AsyncRunManagerAPI,
    HTTPClientError,
    RequestFailedError,
    WaitTimeoutError,
)

pytestmark = pytest.mark.anyio


async def test_every_action_through_the_async_client(served: Served, gates: Gates) -> None:
    async with AsyncRunManagerAPI(served.url, token=served.handle.token) as c:
        assert (await c.status())["manager_state"] == "idle"
        added = await c.queue_item_add(item('''
p300.pick_up_tip()
gates.wait("held")
p300.aspirate(50, plate["A1"])
ctx.delay(seconds=3600, msg="wait")
p300.dispense(50, plate["A1"])
p300.drop_tip()
''', "async.py"))
        await c.queue_item_add(QUICK, pos="front")
        await c.queue_item_remove(uid=(await c.queue_get())["items"][0]["item_uid"])
        assert added["item"]["name"] == "async.py"
        await c.queue_start()
        await anyio.to_thread.run_sync(gates.reached, "held")
        assert (await c.re_pause())["success"]
        assert (await c.status())["pause_pending"] is True
        gates.open("held")
        status = await c.wait_for_idle_or_paused(timeout=WAIT)
        assert status["run_status"] == "paused" and status["pause_source"] == "client"
        with pytest.raises(RequestFailedError, match="cannot pause while paused"):
            await c.re_pause()
        await c.re_resume()
        status = await c.wait_for(lambda s: s["delay"] is not None, timeout=WAIT)
        assert status["delay"]["message"] == "wait"
        assert (await c.skip_delay())["success"]
        await c.lock_environment("k")
        with pytest.raises(RequestFailedError, match="locked"):
            await c.re_stop()
        c.lock_key = "k"
        assert (await c.re_abort("enough"))["success"]
        await c.unlock()
        status = await c.wait_for_idle(timeout=WAIT)
        assert status["manager_state"] == "idle" and status["items_in_history"] == 1
        history = await c.history_get(records=False)
        assert history["items"][0]["result"]["exit_status"] == "aborted"
        assert "record" not in history["items"][0]
        assert (await c.lock_info())["lock_info"]["environment"] is False


async def test_async_waits_time_out_and_errors_map(served: Served, gates: Gates) -> None:
    async with AsyncRunManagerAPI(served.url, token=served.handle.token) as c:
        await c.queue_item_add(item('gates.wait("held")'))
        await c.queue_start()
        with pytest.raises(WaitTimeoutError, match="idle"):
            await c.wait_for_idle(timeout=0.2)
        gates.open("held")
        await c.wait_for_idle(timeout=WAIT)
    async with AsyncRunManagerAPI(served.url + "/nowhere", token=served.handle.token) as lost:
        with pytest.raises(HTTPClientError, match="404"):
            await lost.status()


async def test_async_stream_pushes_status_and_records(served: Served, gates: Gates) -> None:
    async with AsyncRunManagerAPI(served.url, token=served.handle.token) as c:
        await c.queue_item_add(QUICK)
        seen: list[str] = []
        async with c.stream(records=True) as events:
            first = await events.__anext__()
            assert first.event == "status" and first.data["manager_state"] == "idle"
            await c.queue_start()
            with anyio.fail_after(WAIT):
                async for event in events:
                    if event.event == "record":
                        seen.append(event.data["event"])
                        assert event.data["item_uid"]
                        if event.data.get("line"):  # as uploaded, not where the server keeps it
                            assert event.data["line"].startswith("quick.py:")
                        if event.data["event"] == "summary":
                            break
        assert "command" in seen and seen[-1] == "summary"


@pytest.mark.parametrize("where", ["served", "served_by_worker"])
async def test_the_record_stream_gives_the_whole_record_from_its_first_line(
        where: str, request: pytest.FixtureRequest) -> None:
    """A client that follows the stream from before the run starts rebuilds the record the
    history keeps, line for line: the ``run`` line (the run's id, protocol, robot and
    clock) was written before the server listened, and never sent."""
    served: Served = request.getfixturevalue(where)
    async with AsyncRunManagerAPI(served.url, token=served.handle.token) as c:
        await c.queue_item_add(QUICK)
        streamed: list[dict[str, Any]] = []
        async with c.stream(records=True) as events:
            await events.__anext__()  # the status
            await c.queue_start()
            with anyio.fail_after(WAIT):
                async for event in events:
                    if event.event == "record":
                        streamed.append(event.data)
                        if event.data["event"] == "summary":
                            break
        await c.wait_for_idle(timeout=WAIT)
        kept = (await c.history_get(records=True))["items"][-1]["record"]
    assert streamed[0]["event"] == "run" and streamed[0]["seq"] == 0
    assert [e["seq"] for e in streamed] == [e["seq"] for e in kept]
    assert [{k: v for k, v in e.items() if k != "item_uid"} for e in streamed] == kept
