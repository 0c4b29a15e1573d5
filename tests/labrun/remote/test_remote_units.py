"""The pieces without a server: lock semantics, queue positions, parameter checks,
the sped-up clock and the client's request building."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from hardware.clock import RealClock
from labrun.remote.client_core import ClientCore, read_item
from labrun.remote.errors import BadRequest, HTTPServerError, RequestFailedError
from labrun.remote.items import Queue, QueueItem
from labrun.remote.locks import Locks
from labrun.remote.spec import (
    BY_NAME,
    check_params,
    check_request,
    parse_json_body,
    parse_query,
)


def test_locks_follow_the_queue_server() -> None:
    locks = Locks(emergency_key="E")
    assert locks.check("environment", None) is None
    assert locks.lock("k", environment=True, queue=False, user="bo", note=None) is None
    assert "'k'" not in str(locks.info())  # the key is never shown
    assert locks.check("queue", None) is None
    assert "locked by bo" in (locks.check("environment", None) or "")
    assert "different" in (locks.check("environment", "x") or "")
    assert locks.check("environment", "k") is None
    assert "different" in (locks.lock("x", environment=True, queue=True, user=None,
                                      note=None) or "")
    assert locks.lock("k", environment=False, queue=True, user=None, note=None) is None
    assert locks.user == "bo"  # re-locked with the same key and no user: still bo's
    assert locks.lock("k", environment=False, queue=True, user="al", note="cal") is None
    assert (locks.user, locks.note) == ("al", "cal")
    assert locks.check("environment", None) is None and locks.locked("queue")
    assert locks.unlock("x") is not None and locks.locked("queue")
    assert locks.unlock("E") is None and not locks.locked("queue")
    assert locks.lock("", environment=True, queue=False, user=None, note=None)


def test_the_emergency_key_opens_an_abort_and_nothing_else() -> None:
    locks = Locks(emergency_key="E")
    locks.also_unlocked_by("token")
    assert locks.lock("k", environment=True, queue=True, user=None, note=None) is None
    assert locks.check("environment", "E", emergency=True) is None  # an abort
    assert locks.check("environment", "k", emergency=True) is None
    for key in ("token", "x", None):
        assert locks.check("environment", key, emergency=True) is not None
    assert locks.check("environment", "E") is not None  # any other call in the group
    assert locks.check("queue", "E") is not None
    assert BY_NAME["re_halt"].lock is None  # an emergency stop: in no group
    assert BY_NAME["re_abort"].emergency_key
    assert [e.name for e in BY_NAME.values() if e.emergency_key] == ["re_abort"]


def _item(name: str) -> QueueItem:
    return QueueItem(name, name, None, None, None, (), 0.0)


def test_queue_positions() -> None:
    queue = Queue()
    for name, kwargs in (("a", {}), ("b", {"pos": "front"}), ("c", {"pos": 1}),
                         ("d", {"pos": -1}), ("e", {"pos": 99}), ("f", {"after_uid": "e"}),
                         ("g", {"before_uid": "b"}), ("h", {"pos": -99})):
        assert queue.insert(_item(name), **kwargs) is None
    assert [i.item_uid for i in queue.items] == ["h", "g", "b", "c", "a", "d", "e", "f"]
    assert queue.insert(_item("z"), before_uid="nope") == "no item 'nope' in the queue"
    removed = queue.remove(pos=-2)
    assert isinstance(removed, QueueItem) and removed.item_uid == "e"
    with pytest.raises(ValueError, match="give pos or uid, not both"):  # the API's 422
        queue.remove(pos=1, uid="a")
    with pytest.raises(ValueError, match="give one of pos_dest, before_uid and after_uid"):
        queue.move(pos=0)
    assert [i.item_uid for i in queue.clear()] == ["h", "g", "b", "c", "a", "d", "f"]
    assert queue.remove() == "the queue is empty"


@pytest.mark.parametrize(("name", "body", "status", "reason"), [
    ("re_pause", b"{", 400, "not valid JSON"),
    ("re_pause", b"[1]", 400, "must be a JSON object, not an array"),
    ("re_pause", b'{"option": "deferred", "option": "immediate"}', 400,
     "the body gives 'option' twice"),
    ("queue_item_add", b'{"item": {"name": "a.py", "name": "b.py", "source": ""}}', 400,
     "the body gives 'name' twice"),
    ("re_pause", b'{"option": "later"}', 422, "one of deferred, immediate"),
    ("re_pause", b'{"option": 1}', 422, "option must be a string"),
    ("re_pause", b'{"opt": "immediate"}', 422, "unknown parameter 'opt'"),
    ("lock", b'{"environment": true}', 422, "missing parameter 'lock_key'"),
    ("lock", b'{"lock_key": "k", "queue": "yes"}', 422, "queue must be true or false"),
    ("queue_item_remove", b'{"pos": true}', 422, "pos must be an integer"),
    # A client's None removed the last item.
    ("queue_item_remove", b'{"uid": null}', 422, "uid is null; leave it out for the default"),
    ("queue_item_remove", b'{"pos": null}', 422, "pos is null; leave it out for the default"),
    ("queue_item_remove", b'{"pos": 0, "uid": "x"}', 422, "give pos or uid, not both"),
    ("queue_item_add", b'{"item": {"name": "a.py", "source": ""}, "pos": 0, "after_uid": "x"}',
     422, "give at most one of pos, before_uid and after_uid: where the item goes, not pos "
          "and after_uid"),
    ("queue_item_move", b'{"uid": "x"}', 422,
     "give one of pos_dest, before_uid and after_uid: where the item goes"),
    ("history_item_get", b'{}', 422, "missing parameter 'uid'"),
    ("lock", b'{"lock_key": ""}', 422, "lock_key must not be empty"),
    ("queue_item_add", b'{"item": {"name": "a.py"}}', 422,
     "item.source is missing: the protocol file's text"),
    ("queue_item_add", b'{"item": {"name": "a.py", "source": null}}', 422,
     "item.source must be the protocol file's text, not null"),
    ("queue_item_remove", b'{"pos": "middle"}', 422,
     "pos must be an integer, 'front' or 'back', not 'middle'"),
    ("queue_item_add", b'{"item": {"name": "a.txt", "source": ""}}', 422, "ending in .py"),
    ("queue_item_add", b'{"item": {"name": "a.py", "source": "", "labware": {"x": "{}"}}}',
     422, "ending in .json"),
    ("re_abort", ('{"reason": "%s"}' % ("x" * 2000)).encode(), 422, "longer than 1024"),
    ("queue_item_add", b'{"item": {"name": "a.py", "source": "", "labware": []}}', 422,
     "item.labware must be an object of {file name: JSON text}, not an array"),
    ("queue_item_add", b'{"item": {"name": "a.py", "source": "", "labware": null}}', 422,
     "item.labware must be an object of {file name: JSON text}, not null"),
    ("re_pause", '{"option": "immediate"}'.encode("utf-16"), 400,
     "the body is not UTF-8 JSON"),
    ("re_pause", '{"option": "immediate"}'.encode("utf-32-le"), 400,
     "the body is not UTF-8 JSON"),
    ("re_pause", b'{"option": "\xe9"}', 400, "the body is not UTF-8 JSON"),
    ("queue_item_remove", b'{"pos": ' + b"1" * 5000 + b"}", 400,
     "a number in the body is too long"),
    ("queue_item_remove", b'{"pos": -' + b"9" * 4301 + b"}", 400,
     "a number in the body is too long"),
])
def test_bad_bodies_are_named(name: str, body: bytes, status: int, reason: str) -> None:
    with pytest.raises(BadRequest) as err:
        check_request(BY_NAME[name], check_params(BY_NAME[name].params, parse_json_body(body)))
    assert err.value.status == status and reason in err.value.reason


def test_good_bodies_and_queries() -> None:
    params = check_params(BY_NAME["re_pause"].params, parse_json_body(b""))
    assert params == {"option": None, "item_uid": None, "lock_key": None}
    assert parse_json_body(b'\xef\xbb\xbf{"pos": -' + b"9" * 4300 + b"}")["pos"] < 0
    item = check_params(BY_NAME["queue_item_add"].params, parse_json_body(
        b'{"item": {"name": "a.py", "source": "# \xc2\xb0C"}}'))["item"]
    assert item["labware"] == {} and item["source"] == "# °C"
    assert parse_query(BY_NAME["history_get"].params, {"records": "false"}) == {"records": False}
    with pytest.raises(BadRequest, match="true or false"):
        parse_query(BY_NAME["history_get"].params, {"records": "maybe"})


def test_a_real_clock_sped_up() -> None:
    clock = RealClock(100)
    assert not clock.is_virtual
    start = clock.now()
    anyio.run(clock.sleep_until, start + 1.0)  # one clock second: 10 ms of wall time
    assert clock.now() - start >= 1.0
    with pytest.raises(ValueError):
        RealClock(0)


def test_client_core_builds_requests_and_reads_replies(tmp_path: Any) -> None:
    core = ClientCore("http://robot:8790/", token="t", lock_key="k", timeout=1.0,
                      request_fail_exceptions=True)
    call = core.call("re_pause", option="immediate")
    request = core.request(call)
    assert request["url"] == "http://robot:8790/api/re/pause"
    assert request["json"] == {"option": "immediate", "lock_key": "k"}
    assert request["headers"]["Authorization"] == "Bearer t"
    assert "lock_key" not in core.call("status").params
    printed = ClientCore("http://robot:8790/?token=abc", token=None, lock_key=None,
                         timeout=1.0, request_fail_exceptions=True)  # labrun serve's URL
    assert printed.base_url == "http://robot:8790" and printed.token == "abc"
    assert core.request(core.call("history_get", records=False))["params"] == {
        "records": "false"}
    http_request = httpx.Request("POST", "http://robot/api/re/pause")
    ok = httpx.Response(200, json={"success": True, "msg": ""}, request=http_request)
    assert core.reply(ok) == {"success": True, "msg": ""}
    refused = httpx.Response(200, json={"success": False, "msg": "no"}, request=http_request)
    with pytest.raises(RequestFailedError, match="no"):
        core.reply(refused)
    core.request_fail_exceptions = False
    assert core.reply(refused)["success"] is False
    broken = httpx.Response(500, text="oops", request=http_request)
    with pytest.raises(HTTPServerError, match="500"):
        core.reply(broken)
    (tmp_path / "p.py").write_text("x = 1\n")
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "a.json").write_text("{}")
    item = read_item(tmp_path / "p.py", [tmp_path / "lab"])
    assert item == {"item_type": "protocol", "name": "p.py", "source": "x = 1\n",
                    "labware": {"a.json": "{}"}}
