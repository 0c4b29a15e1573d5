"""What a client of the queue can rely on, against a real server (its runs in process).

- A request wrong in itself, whatever the queue holds (parameters that contradict each
  other, or what to move or where left out), is answered 422 with its reason on every
  queue endpoint, as a wrong type is; the clients raise ``HTTPClientError`` for it, with
  ``request_fail_exceptions`` or without. A well-formed request that the queue as it is
  cannot carry out (an item not in it, a position outside it) is answered 200 with
  ``success`` false; the clients raise ``RequestFailedError`` (or return the reply).
- A move or an add beside the running item is told what is wrong with it.
- One run is fetched from the history by its id (``history_item_get``).
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest
from remote_kit import QUICK, WAIT, Gates, Served, item

from labrun.remote import (
    AsyncRunManagerAPI,
    HTTPClientError,
    RequestFailedError,
    RunManagerAPI,
)
from labrun.remote.spec import BY_NAME

HELD = item('gates.wait("held")', "held.py")


def names(served: Served) -> list[str]:
    return [i["name"] for i in served.client.queue_get()["items"]]


def post(served: Served, name: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(served.url + BY_NAME[name].path, json=body,
                      headers={"Authorization": f"Bearer {served.handle.token}"},
                      timeout=WAIT)


def call(client: RunManagerAPI, name: str, body: dict[str, Any]) -> Any:
    return getattr(client, name)(**body)


def test_queue_arguments_wrong_in_themselves_are_422_and_refusals_of_the_queue_200(
        served: Served) -> None:
    c = served.client
    a, b, _ = (c.queue_item_add(item("pass", f"{n}.py"))["item"]["item_uid"] for n in "abc")
    queue_uid = c.queue_get()["plan_queue_uid"]
    new = item("pass", "new.py")
    wrong = [  # whatever the queue holds
        ("queue_item_add", {"item": new, "pos": 0, "before_uid": a},
         "give at most one of pos, before_uid and after_uid: where the item goes, not pos "
         "and before_uid"),
        ("queue_item_add", {"item": new, "before_uid": "nope", "after_uid": b},
         "give at most one of pos, before_uid and after_uid: where the item goes, not "
         "before_uid and after_uid"),
        ("queue_item_remove", {"pos": 0, "uid": a}, "give pos or uid, not both"),
        ("queue_item_move", {"pos": 0, "uid": a, "pos_dest": 1}, "give pos or uid, not both"),
        ("queue_item_move", {"pos_dest": 1}, "give pos or uid: the item to move"),
        ("queue_item_move", {"pos": 0},
         "give one of pos_dest, before_uid and after_uid: where the item goes"),
        ("queue_item_move", {"pos": 0, "pos_dest": 1, "after_uid": b},
         "give one of pos_dest, before_uid and after_uid: where the item goes, not "
         "pos_dest and after_uid"),
        ("queue_item_move", {"uid": a, "before_uid": a},
         f"uid and before_uid name the same item {a!r}: an item cannot go before or after "
         "itself"),
        ("queue_item_move", {"uid": "nope", "after_uid": "nope"},
         "uid and after_uid name the same item 'nope': an item cannot go before or after "
         "itself"),
    ]
    refused = [  # well-formed; the queue as it is cannot do it
        ("queue_item_add", {"item": new, "before_uid": "nope"}, "no item 'nope' in the queue"),
        ("queue_item_remove", {"uid": "nope"}, "no item 'nope' in the queue"),
        ("queue_item_remove", {"pos": 7}, "no item at position 7; the queue has 3"),
        ("queue_item_move", {"pos": 9, "pos_dest": 0}, "no item at position 9; the queue has 3"),
        ("queue_item_move", {"pos": 0, "pos_dest": 7},
         "no position 7 to move to; the queue has 3 (0 to 2, or -3 to -1 from the back)"),
        ("queue_item_move", {"uid": a, "before_uid": "nope"}, "no item 'nope' in the queue"),
    ]
    lenient = served.api(request_fail_exceptions=False)
    try:
        for name, body, reason in wrong:
            answer = post(served, name, body)
            assert (answer.status_code, answer.json()) == (
                422, {"success": False, "msg": reason}), (name, body)
            for client in (c, lenient):
                with pytest.raises(HTTPClientError) as raised:
                    call(client, name, body)
                assert raised.value.status_code == 422
                assert raised.value.response == {"success": False, "msg": reason}
        for name, body, reason in refused:
            answer = post(served, name, body)
            assert (answer.status_code, answer.json()) == (
                200, {"success": False, "msg": reason}), (name, body)
            with pytest.raises(RequestFailedError) as failed:
                call(c, name, body)
            assert failed.value.response == {"success": False, "msg": reason}
            assert call(lenient, name, body) == {"success": False, "msg": reason}
    finally:
        lenient.close()

    async def through_the_async_client() -> None:
        async with AsyncRunManagerAPI(served.url, token=served.handle.token) as ac:
            for name, body, reason in wrong:
                with pytest.raises(HTTPClientError) as raised:
                    await getattr(ac, name)(**body)
                assert raised.value.status_code == 422 and raised.value.response["msg"] == reason
            for name, body, reason in refused:
                with pytest.raises(RequestFailedError) as failed:
                    await getattr(ac, name)(**body)
                assert failed.value.response["msg"] == reason

    anyio.run(through_the_async_client)
    assert names(served) == ["a.py", "b.py", "c.py"]  # nothing changed
    assert c.queue_get()["plan_queue_uid"] == queue_uid


def test_a_move_or_add_beside_the_running_item_says_what_is_wrong(served: Served,
                                                                  gates: Gates) -> None:
    c = served.client
    held = c.queue_item_add(HELD)["item"]["item_uid"]
    for name in ("a.py", "b.py"):
        c.queue_item_add(item("pass", name))
    c.queue_start()
    gates.reached("held")
    moves = "an item moves before or after a waiting one, or to a position (pos_dest " \
            "'front' runs it next)"
    adds = "a new item goes before or after a waiting one, or at a position"
    for do, reason in (
            (lambda: c.queue_item_move(pos=0, before_uid=held),
             f"item {held!r} is running: nothing can go before it, as it has started; "
             f"{moves}"),
            (lambda: c.queue_item_move(pos="back", after_uid=held),
             f"item {held!r} is running, not waiting in the queue: {moves}"),
            (lambda: c.queue_item_move(uid=held, pos_dest=0),
             f"item {held!r} is running, not waiting in the queue: only a waiting item "
             "moves (re_stop or re_abort ends a running one)"),
            (lambda: c.queue_item_add(item("pass", "late.py"), before_uid=held),
             f"item {held!r} is running: nothing can go before it, as it has started; "
             f"{adds}"),
            (lambda: c.queue_item_add(item("pass", "late.py"), after_uid=held),
             f"item {held!r} is running, not waiting in the queue: {adds}")):
        with pytest.raises(RequestFailedError) as failed:
            do()
        assert failed.value.response["msg"] == reason
    assert names(served) == ["a.py", "b.py"]
    assert c.queue_item_move(pos="back", pos_dest="front")["item"]["name"] == "b.py"
    assert names(served) == ["b.py", "a.py"]
    c.queue_clear()
    c.re_abort()
    gates.open("held")
    c.wait_for_idle(timeout=WAIT)


def test_one_run_is_fetched_from_the_history_by_its_id(served: Served, gates: Gates) -> None:
    c = served.client
    quick = c.queue_item_add(QUICK)["item"]["item_uid"]
    held = c.queue_item_add(item('gates.wait("held")', "held.py"))["item"]["item_uid"]
    waiting = c.queue_item_add(item("pass", "waiting.py"))["item"]["item_uid"]
    c.queue_start()
    gates.reached("held")
    lenient = served.api(request_fail_exceptions=False)
    try:
        running = lenient.history_item_get(held)
        assert (running["success"], running["running"]) == (True, True)
        assert running["item"]["name"] == "held.py" and running["item"]["result"] is None
        assert running["item"]["record"][0]["event"] == "run"  # its record so far
        assert lenient.history_item_get(waiting) == {
            "success": False, "msg": f"item {waiting!r} has not run: it waits in the queue"}
        c.queue_stop()
        gates.open("held")
        c.wait_for_idle(timeout=WAIT)

        url = served.url + "/api/history/item/get"
        answer = httpx.get(url, params={"uid": quick})
        assert answer.status_code == 200
        whole = c.history_get(records=True)
        assert [entry["item_uid"] for entry in whole["items"]] == [quick, held]
        assert answer.json() == {"success": True, "msg": "", "item": whole["items"][0],
                                 "running": False,
                                 "plan_history_uid": whole["plan_history_uid"]}
        run = c.history_item_get(held)["item"]
        assert run["name"] == "held.py" and run["result"]["exit_status"] == "succeeded"
        assert run["record"][-1]["event"] == "summary"
        lean = c.history_item_get(quick, records=False)["item"]
        assert "record" not in lean and lean["result"]["exit_status"] == "succeeded"

        answer = httpx.get(url, params={"uid": "nope"})
        assert (answer.status_code, answer.json()) == (
            200, {"success": False, "msg": "no run 'nope' in the history"})
        with pytest.raises(RequestFailedError, match="no run 'nope' in the history"):
            c.history_item_get("nope")
        assert lenient.history_item_get("nope")["success"] is False
        answer = httpx.get(url)
        assert (answer.status_code, answer.json()) == (
            422, {"success": False, "msg": "missing parameter 'uid': the run's item_uid"})
    finally:
        lenient.close()

    async def through_the_async_client() -> None:
        async with AsyncRunManagerAPI(served.url, token=served.handle.token) as ac:
            got = await ac.history_item_get(quick, records=False)
            assert got["item"]["name"] == "quick.py"
            with pytest.raises(RequestFailedError, match="no run 'nope'"):
                await ac.history_item_get("nope")

    anyio.run(through_the_async_client)
    operation = httpx.get(served.url + "/openapi.json").json()["paths"][
        "/api/history/item/get"]["get"]
    assert operation["operationId"] == "history_item_get"
    assert [p["name"] for p in operation["parameters"]] == ["uid", "records"]
    assert c.history_clear()["success"]
    with pytest.raises(RequestFailedError,
                       match=f"run {quick!r} was cleared from the history"):
        c.history_item_get(quick)
