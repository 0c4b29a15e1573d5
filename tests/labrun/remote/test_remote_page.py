"""The live page's server side: / with the token cookie and a strict CSP, the deck
picture, the progress in the status and on the stream (?progress=true), and the server's
one line per run start, pause and end."""

from __future__ import annotations

import json
import threading
from collections.abc import Generator, Iterator
from typing import Any

import httpx
import pytest
from remote_kit import WAIT, Gates, Served, item, serving

from labrun.remote.client_core import KEEPALIVE, EventParser, StreamEvent

COMMENTED = item('''
ctx.comment("filling the plate")
p300.transfer(50, plate["A1"], plate["B1"])
gates.wait("held")
ctx.pause("Add the buffer to C1")
p300.transfer(50, plate["A2"], [plate["B2"], plate["C2"]])
ctx.comment("done")
''', "commented.py")


@pytest.fixture(params=["in process", "run worker"])
def served(request: pytest.FixtureRequest, gates: Gates) -> Iterator[Served]:
    """Both ways a server runs its runs: the page reads the same stream from either."""
    with serving(gates, run_worker=request.param == "run worker") as server:
        yield server


def stream(served: Served) -> Generator[StreamEvent, None, None]:
    """The events of ``/api/stream?progress=true``, as the page receives them."""
    parser = EventParser()
    with httpx.stream("GET", served.url + "/api/stream?progress=true", timeout=WAIT) as answer:
        for line in answer.iter_lines():
            event = parser.line(line)
            if event is not None and event is not KEEPALIVE:
                yield event


def events_until_idle(served: Served, started: threading.Event,
                      out: list[tuple[str, dict[str, Any]]]) -> None:
    """Every stream event until the manager is idle after a run."""
    ran = False
    events = stream(served)
    for event in events:
        out.append((event.event, event.data))
        if event.event != "status":
            continue
        started.set()
        ran = ran or event.data["manager_state"] != "idle"
        if ran and event.data["manager_state"] == "idle":
            break
    events.close()


def test_page_sets_the_token_cookie_behind_a_strict_policy(served: Served) -> None:
    answer = httpx.get(served.handle.token_url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert '<script>' in answer.text and 'EventSource("/api/stream?progress=true")' in answer.text
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"labrun_token={served.handle.token};") and "samesite=strict" \
        in cookie.lower() and "httponly" in cookie.lower()
    policy = answer.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'sha256-" in policy
    assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
    assert "set-cookie" not in httpx.get(served.url + "/").headers  # no token, no cookie
    elsewhere = httpx.get(served.url + "/", headers={"Host": "evil.example:8790"})
    assert elsewhere.status_code == 403
    # The cookie alone lets the page's POSTs through, as JSON only.
    cookies = {"labrun_token": served.handle.token}
    lock = httpx.post(served.url + "/api/lock/info", json={}, cookies=cookies)
    assert lock.status_code == 200 and lock.json()["success"]
    form = httpx.post(served.url + "/api/lock/info", content=b"{}", cookies=cookies,
                      headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    assert httpx.post(served.url + "/api/lock/info", json={}).status_code == 401


def test_a_run_on_the_stream_and_in_the_server_log(served: Served, gates: Gates) -> None:
    lines: list[str] = []
    served.manager.log = lines.append
    c = served.client
    assert httpx.get(served.url + "/api/deck.svg").status_code == 404  # no run yet
    added = c.queue_item_add(COMMENTED)["item"]
    deck = httpx.get(served.url + "/api/deck.svg", params={"item_uid": added["item_uid"]})
    assert deck.status_code == 200 and deck.headers["content-type"] == "image/svg+xml"
    assert 'data-well="2/B1"' in deck.text and ">Corning 96 Well Plate 360 µL Flat<" in deck.text
    events: list[tuple[str, dict[str, Any]]] = []
    started = threading.Event()
    listener = threading.Thread(target=events_until_idle, args=(served, started, events))
    listener.start()
    assert started.wait(WAIT)
    c.queue_start()
    gates.reached("held")
    status = c.status()
    progress = status["progress"]
    assert progress["item_uid"] == added["item_uid"] and progress["steps"] == 9
    assert progress["step"] == 6 and status["step"]["index"] == 5  # 1-based beside 0-based
    plate = "Corning 96 Well Plate 360 µL Flat (slot 2)"
    assert progress["call"] == f"Transferring 50.0 µL from A1 of {plate} to B1 of {plate}"
    assert progress["comments"] == ["filling the plate"]
    assert 0 < progress["percent"] < 100 and progress["left_s"] > 0
    gates.open("held")
    c.wait_for_idle_or_paused(timeout=WAIT)
    paused = c.status()
    assert paused["pause_message"] == "Add the buffer to C1"
    assert paused["progress"]["step"] == 7
    c.re_resume()
    listener.join(WAIT)
    assert not listener.is_alive()
    kinds = [name for name, _ in events]
    assert kinds[0] == "status" and "progress" not in kinds[:2]  # no run yet: no progress
    commands = [data for name, data in events if name == "command"]
    assert [cmd["step"] for cmd in commands] == list(range(1, 10))
    assert all(cmd["steps"] == 9 for cmd in commands)
    assert commands[4]["call"] == "filling the plate"
    comments = [data["message"] for name, data in events if name == "comment"]
    assert comments == ["filling the plate", "done"]
    wells = {w for name, data in events if name == "progress" for w in data["wells"]}
    assert wells == {"2/A1", "2/B1", "2/A2", "2/B2", "2/C2"}
    final = [data for name, data in events if name == "status"][-1]["progress"]
    assert (final["step"], final["percent"], final["left_s"]) == (9, 100.0, 0.0)
    assert final["comments"] == ["filling the plate", "done"] and final["wells_done"] == 5
    assert len(lines) == 3, lines
    assert lines[0].startswith("run commented.py: started, 9 steps, about ")
    assert lines[1] == "run commented.py: paused by protocol at step 7: Add the buffer to C1"
    assert lines[2].startswith("run commented.py: succeeded after ")
    # A page that connects now gets the finished run's wells and comments at once.
    fresh = stream(served)
    first = [next(fresh), next(fresh)]
    fresh.close()
    assert [e.event for e in first[:2]] == ["status", "progress"]
    snapshot = first[1].data
    assert sorted(snapshot["wells"]) == sorted(wells) and snapshot["has_deck"]
    assert [c["message"] for c in snapshot["comment_log"]] == ["filling the plate", "done"]
    assert json.dumps(snapshot)  # plain data


def test_the_page_s_deck_draws_a_changed_deck_one_a_row(served: Served) -> None:
    """A run that moves a plate by hand is two decks; side by side in the page's column,
    half a screen wide, their names were a few pixels high: the page has them one a row,
    each as wide as a deck alone (``labrun simulate --deck`` still draws three a row)."""
    import re

    from labrun.cli import deck_svg

    moved = item('''
p300.transfer(50, plate["A1"], plate["B1"])
ctx.move_labware(plate, 5)
p300.transfer(50, plate["B1"], plate["C1"])
''', "moved.py")
    added = served.client.queue_item_add(moved)["item"]
    deck = httpx.get(served.url + "/api/deck.svg", params={"item_uid": added["item_uid"]})
    assert deck.status_code == 200 and ">After step 6<" in deck.text
    view = re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', deck.text)
    assert view is not None
    width, height = float(view[1]), float(view[2])
    assert width == deck_svg.DECK_W  # one deck wide, the two of them one above the other
    assert height > 2 * deck_svg.DECK_H
