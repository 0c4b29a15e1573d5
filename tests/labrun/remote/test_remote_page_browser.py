"""The live page in a real headless browser (Debian's chromium, driven by Playwright):
opened with the token URL, it starts the queue, shows the run's progress, its comments
and the wells done, pauses from its button, shows the banner, resumes, and sees the run
finish; a page that joins late, or whose connection drops and comes back, shows the
run as it is. Skipped only where chromium is not installed (``apt-get install chromium``)."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import anyio
import pytest
from browser_kit import MS, needs_chromium
from remote_kit import (
    MODULES,
    QUICK,
    SHAKEN,
    SPEED,
    WAIT,
    Gates,
    Served,
    door_opens_as_the_next_run_starts,
    item,
    protocol,
    serving,
)

from hardware.clock import RealClock
from hardware.config import default_config
from hardware.simulated import SimulatedController
from labrun.remote import serve_run
from protocol_api.execute import create_run
from protocol_api.loader import load_protocol

pytestmark = needs_chromium

PLATE = item('''
ctx.comment("copying the first column")
for row in "ABC":
    p300.transfer(50, plate[row + "1"], plate[row + "2"])
gates.wait("held")
ctx.comment("second half")
for row in "ABC":
    p300.transfer(50, plate[row + "3"], plate[row + "4"])
''', "plate.py")


def start_from_the_page(served: Served, gates: Gates, page: Any,
                        queued: dict[str, Any] = PLATE) -> None:
    """``queued`` (a protocol that waits at the gate "held") queued, the page opened and
    live, the queue started with its button, and the run at its gate."""
    from playwright.sync_api import expect

    served.client.queue_item_add(queued)
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    gates.reached("held")


def test_watch_pause_resume_and_finish_a_run_from_the_page(served: Served, gates: Gates,
                                                          page: Any) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    served.client.queue_item_add(PLATE)
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    assert "token" not in page.url  # kept as a cookie, out of the address bar
    cookie = {c["name"]: c for c in page.context.cookies()}["labrun_token"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    expect(page.locator("#queue li")).to_have_text(["plate.py"], timeout=MS)

    page.click("#b-start")  # the page's own POST, with the cookie
    gates.reached("held")
    figures = page.locator("#figures")
    expect(figures).to_contain_text("step 8 of 12", timeout=MS)
    expect(figures).to_contain_text(" left")
    expect(page.locator("#comments li")).to_have_text(["copying the first column"], timeout=MS)
    expect(page.locator("#call")).to_contain_text("Transferring 50.0 µL from C1 of")
    expect(page.locator("#queue li")).to_have_text(["plate.py (running)"], timeout=MS)
    done = page.locator("#deck .done")
    expect(done).to_have_count(6, timeout=MS)  # A1..C1 and A2..C2
    assert sorted(done.evaluate_all("els => els.map(e => e.dataset.well)")) == \
        ["2/A1", "2/A2", "2/B1", "2/B2", "2/C1", "2/C2"]
    # The rack's six tips the run picks up are drawn grey; each taken so far is emptied.
    needed = page.locator('#deck [data-well][fill="#94a3b8"]')
    expect(needed).to_have_count(6)
    taken = page.locator("#deck .taken")
    expect(taken).to_have_count(3, timeout=MS)  # one tip a transfer
    assert sorted(taken.evaluate_all("els => els.map(e => e.dataset.well)")) == \
        ["1/A1", "1/B1", "1/C1"]
    assert taken.first.evaluate("e => getComputedStyle(e).fill") == "rgb(255, 255, 255)"

    asked: list[str] = []

    def decline(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", decline)
    page.click("#b-stop")  # asks first; declined, nothing happens
    assert asked and asked[0].startswith("Stop the run?")
    assert served.client.status()["run_status"] == "running"

    # A locked environment refuses the page as any client, until it gives the key.
    served.client.lock("bench-7", environment=True, user="ana", note="calibrating")
    expect(page.locator("#lock")).to_contain_text("locked (environment) by ana: calibrating",
                                                  timeout=MS)
    page.click("#b-pause")
    expect(page.locator("#msg")).to_have_text(
        "the environment is locked by ana; pass the lock_key it was locked with",
        timeout=MS)
    assert not served.client.status()["pause_pending"]
    page.fill("#lock-key", "bench-7")
    page.click("#b-pause")
    expect(page.locator("#msg")).to_have_text("")
    banner = page.locator("#banner")
    # Pending until the step ends: the page says so, and Pause now can still hurry it.
    expect(banner).to_be_visible(timeout=MS)
    expect(page.locator("#banner-title")).to_have_text(re.compile("Pause requested|Pausing"))
    expect(page.locator("#b-pause-now")).to_be_enabled()
    expect(page.locator("#b-pause")).to_be_disabled()
    gates.open("held")  # the pause is taken at the next step
    expect(banner).to_be_visible(timeout=MS)
    expect(page.locator("#banner-title")).to_have_text("Paused by a user (this page or a client)")
    expect(page.locator("#state")).to_have_text("paused")
    assert served.client.status()["run_status"] == "paused"

    served.client.unlock("bench-7")
    page.fill("#lock-key", "")
    page.click("#banner-resume")
    expect(banner).to_be_hidden(timeout=MS)
    expect(page.locator("#outcome")).to_have_text("Last run succeeded", timeout=MS)
    expect(figures).to_contain_text("step 12 of 12 · 100 %")
    expect(figures).to_contain_text("0:00 left")
    expect(page.locator("#comments li")).to_have_text(
        ["copying the first column", "second half"])
    expect(done).to_have_count(12)
    expect(taken).to_have_count(6)
    expect(page.locator("#queue-empty")).to_be_visible()
    result = served.client.history_get(records=False)["items"][-1]["result"]
    assert result["exit_status"] == "succeeded"
    assert errors == []


def test_each_module_is_shown_with_what_it_is_doing_and_no_panel_without_modules(
        served: Served, gates: Gates, page: Any) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    served.client.queue_item_add(MODULES)
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    panel = page.locator("#modules-box")
    expect(panel).to_be_hidden()  # no run yet: no modules
    page.click("#b-start")
    gates.reached("heating")
    cards = page.locator("#modules .module")
    expect(cards).to_have_count(2, timeout=MS)
    temp, magnet = cards.nth(0), cards.nth(1)
    expect(temp.locator(".module-head")).to_have_text(
        "Temperature Module GEN2slot 3heating", timeout=MS)
    expect(magnet.locator(".module-head")).to_have_text("Magnetic Module GEN2slot 6engaged")
    expect(magnet.locator(".module-line")).to_have_text(
        ["magnets engaged, 7.5 mm above their home, 5 mm above the labware's base"])
    # The plate heats while the protocol waits: the page follows it, reading after reading.
    line = temp.locator(".module-line")
    expect(line).to_have_text(re.compile(r"\d+\.\d °C → 95 °C, heating"), timeout=MS)
    first = float(line.inner_text().split(" ")[0])
    expect(line).not_to_have_text(f"{first:.1f} °C → 95 °C, heating", timeout=MS)
    assert float(line.inner_text().split(" ")[0]) > first
    expect(page.locator("#modules-title")).to_have_text("Modules")
    gates.open("heating")
    # Once the run has ended: what it left them doing, said so.
    expect(page.locator("#modules-title")).to_have_text("Modules (as the last run left them)",
                                                        timeout=MS)
    expect(temp.locator(".module-state")).to_have_text("idle")
    expect(magnet.locator(".module-line")).to_have_text(["magnets disengaged"])
    # The next run loads none: no panel.
    served.client.queue_item_add(QUICK)
    expect(page.locator("#b-start")).to_be_enabled(timeout=MS)
    page.click("#b-start")
    expect(page.locator("#run-name")).to_have_text("quick.py", timeout=MS)
    expect(panel).to_be_hidden(timeout=MS)
    assert errors == []


def test_a_pause_that_stops_the_shaking_plate_says_so_on_its_module_till_it_resumes(
        served: Served, gates: Gates, page: Any) -> None:
    """Paused, the plate stands still: its card said only "not shaking", idle, as if the
    protocol had stopped it."""
    from playwright.sync_api import expect

    served.client.queue_item_add(SHAKEN)
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    gates.reached("shaking")
    lines = page.locator("#modules .module .module-line")
    expect(lines).to_have_text(["heater 23.0 °C, idle", "shaking at 2000 rpm, latch closed"],
                               timeout=MS)
    page.click("#b-pause-now")
    expect(lines).to_have_text(
        ["heater 23.0 °C, idle", "not shaking, latch closed",
         "stopped shaking (it was set to 2000 rpm) while the run is paused; it shakes again "
         "as the run resumes"], timeout=MS)
    page.click("#banner-resume")
    expect(lines).to_have_text(["heater 23.0 °C, idle", "shaking at 2000 rpm, latch closed"],
                               timeout=MS)
    gates.open("shaking")
    expect(page.locator("#outcome")).to_have_text("Last run succeeded", timeout=MS)
    expect(lines).to_have_text(["heater 23.0 °C, idle", "not shaking, latch closed"])


def test_a_halt_that_stops_the_shaking_plate_says_so_on_its_module(
        served: Served, gates: Gates, page: Any) -> None:
    from playwright.sync_api import expect

    served.client.queue_item_add(SHAKEN)
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    gates.reached("shaking")
    card = page.locator("#modules .module")
    expect(card.locator(".module-state")).to_have_text("shaking", timeout=MS)
    assert served.client.re_halt()["success"]
    gates.open("shaking")
    expect(page.locator("#call")).to_have_text("Halted", timeout=MS)
    expect(card.locator(".module-line")).to_have_text(
        ["heater 23.0 °C, idle", "not shaking, latch closed",
         "stopped shaking (it was set to 2000 rpm) after the emergency stop"], timeout=MS)
    expect(card.locator(".module-state")).to_have_text("idle")


def test_the_one_run_serve_run_serves_is_not_said_running_once_it_has_ended(
        gates: Gates, page: Any, tmp_path: Path) -> None:
    """The queue box said "one.py (running)" after the run had succeeded: the server keeps
    it as its run's item."""
    from playwright.sync_api import expect

    config = default_config()
    path = tmp_path / "one.py"
    path.write_text(protocol('p300.pick_up_tip()\ngates.wait("one")\np300.drop_tip()'))
    clock = RealClock(SPEED)
    run = create_run(load_protocol(path), config=config,
                     controller=SimulatedController(config, clock), clock=clock)
    try:
        with serve_run(run, port=0, announce=False) as handle:
            gates.watch(handle.manager)
            page.goto(handle.token_url)
            expect(page.locator("#link")).to_have_text("live", timeout=MS)
            run.control.play()
            gates.reached("one")
            expect(page.locator("#queue li")).to_have_text(["run (running)"], timeout=MS)
            gates.open("one")
            expect(page.locator("#outcome")).to_have_text("Run succeeded", timeout=MS)
            expect(page.locator("#queue li")).to_have_count(0)
            expect(page.locator("#queue-empty")).to_be_visible()
    finally:
        gates.open_all()
        run.close()


def test_the_run_serve_run_serves_not_yet_started_is_started_from_the_page(
        gates: Gates, page: Any, tmp_path: Path) -> None:
    """A run not yet played showed "starting" with its Start queue button disabled, though
    the API's queue_start plays it: the page says it has not started and its Start run
    button starts it."""
    from playwright.sync_api import expect

    config = default_config()
    path = tmp_path / "one.py"
    path.write_text(protocol('p300.pick_up_tip()\ngates.wait("one")\np300.drop_tip()'))
    clock = RealClock(SPEED)
    run = create_run(load_protocol(path), config=config,
                     controller=SimulatedController(config, clock), clock=clock)
    try:
        with serve_run(run, port=0, announce=False) as handle:
            gates.watch(handle.manager)
            page.goto(handle.token_url)
            expect(page.locator("#link")).to_have_text("live", timeout=MS)
            expect(page.locator("#figures")).to_have_text("not started: Start run starts it",
                                                          timeout=MS)
            start = page.locator("#b-start")
            expect(start).to_have_text("Start run")
            expect(start).to_be_enabled()
            start.click()
            gates.reached("one")
            expect(page.locator("#state")).to_have_text("running", timeout=MS)
            expect(start).to_be_disabled()
            expect(page.locator("#figures")).to_contain_text("step ", timeout=MS)
            gates.open("one")
            expect(page.locator("#outcome")).to_have_text("Run succeeded", timeout=MS)
            expect(start).to_be_disabled()
    finally:
        gates.open_all()
        run.close()


def test_while_a_stopped_run_cleans_up_now_says_it_is_stopping(
        served: Served, gates: Gates, page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Stopped, the run cleans up (its shaking plate stopped, held here at the gate
    "cleanup"): the Now box went on showing the protocol's last call, the plate's
    spin-up to 2000 rpm, as if it were going on."""
    from playwright.sync_api import expect

    from hardware.modules.simulated import SimulatedHeaterShaker

    deactivate = SimulatedHeaterShaker.deactivate

    async def held(self: SimulatedHeaterShaker) -> None:
        await anyio.to_thread.run_sync(gates.arrive, "cleanup")
        await deactivate(self)

    monkeypatch.setattr(SimulatedHeaterShaker, "deactivate", held)
    served.client.queue_item_add(SHAKEN)
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    gates.reached("shaking")
    expect(page.locator("#call")).to_have_text(
        "Heater-Shaker: set and wait for shake speed (2000 rpm)", timeout=MS)
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#b-stop")
    gates.reached("cleanup")
    expect(page.locator("#state")).to_have_text("stopping", timeout=MS)
    expect(page.locator("#call")).to_have_text("Stopping")
    expect(page.locator("#line")).to_have_text("")
    gates.open("cleanup")
    gates.open("shaking")
    expect(page.locator("#call")).to_have_text("Stopped", timeout=MS)


def test_a_failed_run_shows_its_error_and_line(served: Served, gates: Gates, page: Any,
                                              tmp_path: Path) -> None:
    from playwright.sync_api import expect

    flag = tmp_path / "fail-now"  # made once the run (not the server's checks) has begun
    served.client.queue_item_add(item(f'''
p300.pick_up_tip()
p300.aspirate(50, plate["A1"])
gates.wait("begun")
import os
if os.path.exists({str(flag)!r}):
    raise RuntimeError("boom")
''', "failing.py"))
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    gates.reached("begun")
    flag.touch()
    gates.open("begun")
    expect(page.locator("#outcome")).to_have_text(
        re.compile(r"Queue stopped: failing\.py failed: failing\.py:\d+: RuntimeError: boom"),
        timeout=MS)
    figures = page.locator("#figures")
    expect(figures).to_contain_text(" · failed")  # not "0:00 left": it ended early
    expect(figures).not_to_contain_text("left")


def test_the_door_and_a_halted_runs_tip_are_shown_with_what_to_do(
        served: Served, gates: Gates, page: Any) -> None:
    from playwright.sync_api import expect

    served.client.queue_item_add(item('''
p300.pick_up_tip()
p300.aspirate(50, plate["A1"])
gates.wait("held")
p300.drop_tip()
''', "halted.py"))
    served.client.queue_item_add(item("pass", "next.py"))
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    gates.reached("held")
    served.client.sim_interlock("door", True)  # paused behind the door: resume is no use
    expect(page.locator("#banner-msg")).to_contain_text("close the door, then Resume",
                                                        timeout=MS)
    # Nothing moves behind the open door: the tip, 50 µL in it, stands where it stopped,
    # low over the deck, which someone reaching in must mind; never "parked clear of it"
    expect(page.locator("#banner-msg")).to_contain_text(
        "the robot stopped where it was, a tip holding liquid, not parked clear of the deck "
        "(nothing moves behind an interlock): mind the pipettes when you reach in", timeout=MS)
    expect(page.locator("#banner-msg")).not_to_contain_text("parked clear of the deck —")
    status = served.client.status()
    assert status["held_over_well"] is True and status["held_in_place"] is True
    expect(page.locator("#b-resume")).to_be_disabled()
    expect(page.locator("#banner-resume")).to_be_disabled()
    assert served.client.re_halt()["success"]
    gates.open("held")
    tips = page.locator("#tips")
    expect(tips).to_be_visible(timeout=MS)
    # a halt has no error: the Now box says it ended so (between two calls: on no line)
    expect(page.locator("#call")).to_have_text("Halted", timeout=MS)
    expect(page.locator("#tips-msg")).to_have_text(
        "the right pipette holds a tip with about 50 µL, left by halted.py (halted). Take it "
        "off the robot, then press Tips removed: no run starts until then.")
    served.client.sim_interlock("door", False)
    expect(page.locator("#b-start")).to_be_disabled()  # next.py waits for the tip
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#tips-removed")
    expect(tips).to_be_hidden(timeout=MS)
    expect(page.locator("#b-start")).to_be_enabled()
    assert served.client.status()["tips_left"] is None


def test_after_a_restart_the_page_says_what_ran_last(gates: Gates, page: Any,
                                                     tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serving(gates, record_dir=str(tmp_path)) as first:
        first.client.queue_item_add(QUICK)
        first.client.queue_start()
        first.client.wait_for_idle(timeout=WAIT)
    with serving(gates, record_dir=str(tmp_path)) as second:  # its history read back
        page.goto(second.handle.token_url)
        expect(page.locator("#outcome")).to_have_text("Last run quick.py succeeded",
                                                      timeout=MS)
        expect(page.locator("#run-name")).to_have_text("quick.py")
        assert second.client.history_clear()["success"]  # and forgotten when cleared
        expect(page.locator("#outcome")).to_have_text("", timeout=MS)
        expect(page.locator("#run-name")).to_have_text("No run yet")


def test_the_queue_is_stopped_from_the_page_after_the_run_going_now(
        served: Served, gates: Gates, page: Any) -> None:
    from playwright.sync_api import expect

    served.client.queue_item_add(item('gates.wait("held")\np300.pick_up_tip()', "first.py"))
    served.client.queue_item_add(QUICK)
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    gates.reached("held")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#b-qstop")
    expect(page.locator("#outcome")).to_have_text(
        "The queue stops once this run has ended.", timeout=MS)
    expect(page.locator("#b-qstop")).to_be_disabled()
    gates.open("held")
    expect(page.locator("#outcome")).to_have_text("Last run succeeded", timeout=MS)
    status = served.client.status()
    assert status["items_in_queue"] == 1 and status["manager_state"] == "idle"


def _seconds(clock: str) -> int:
    """``1:02:03`` or ``2:03`` as seconds."""
    total = 0
    for part in clock.split(":"):
        total = total * 60 + int(part)
    return total


def test_a_delay_counts_down_on_the_page_between_events_paused_too(
        served: Served, gates: Gates, page: Any) -> None:
    from playwright.sync_api import expect

    served.client.queue_item_add(item('ctx.delay(minutes=1440, msg="soak")', "soak.py"))
    page.clock.install()  # the page's timers and performance.now, moved on by the test
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    delay = page.locator("#delay")
    expect(delay).to_contain_text("left (soak)", timeout=MS)
    figures = page.locator("#figures")
    percent = re.compile(r"step 5 of 5 · (\d+) % · .*")
    start = int(percent.fullmatch(figures.inner_text())[1])  # type: ignore[index]
    page.clock.run_for(864_000)  # half the delay (at the robot speed: 14:24 of 28:48)
    assert int(percent.fullmatch(figures.inner_text())[1]) >= start + 45  # type: ignore[index]
    for paused in (False, True):
        if paused:  # time keeps running in a pause: so does the delay
            assert served.client.re_pause("immediate")["success"]
            expect(page.locator("#state")).to_have_text("paused", timeout=MS)
        left = re.compile(r"delay: ([\d:]+) left \(soak\)")
        # the run's figures too: elapsed runs on, and time left with the delay (they stood
        # still through a pause, then jumped at its end)
        times = re.compile(r"step 5 of 5 · \d+ % · ([\d:]+) elapsed · ([\d:]+) left")
        before = _seconds(left.fullmatch(delay.inner_text())[1])  # type: ignore[index]
        shown = times.fullmatch(figures.inner_text())
        assert shown is not None, figures.inner_text()
        page.clock.run_for(120_000)  # two minutes on the page's clock, no event between
        after = _seconds(left.fullmatch(delay.inner_text())[1])  # type: ignore[index]
        assert 118 <= before - after <= 122, (paused, before, after)
        now = times.fullmatch(figures.inner_text())
        assert now is not None, figures.inner_text()
        assert 118 <= _seconds(now[1]) - _seconds(shown[1]) <= 122, (paused, shown, now)
        assert 118 <= _seconds(shown[2]) - _seconds(now[2]) <= 122, (paused, shown, now)
    # aborted in the delay: the page says at which line, as it does for a failure
    assert served.client.re_abort("soaked enough")["success"]
    expect(page.locator("#failed-title")).to_have_text(
        "soak.py was aborted at soak.py:7: the queue is stopped", timeout=MS)
    expect(page.locator("#line")).to_have_text("at soak.py:7")


def test_a_server_gone_is_said_and_offers_nothing_and_its_run_is_history_once_back(
        gates: Gates, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    with serving(gates, record_dir=str(tmp_path)) as first:
        start_from_the_page(first, gates, page)
        expect(page.locator("#call")).to_contain_text("Transferring", timeout=MS)
        expect(page.locator("#b-pause")).to_be_enabled()
        port, token = first.handle.port, first.handle.token
    expect(page.locator("#state")).to_have_text("no answer from the server", timeout=MS)
    expect(page.locator("#link")).to_have_text("reconnecting…")
    expect(page.locator("button:enabled")).to_have_count(0)  # nothing it could carry out
    with serving(gates, record_dir=str(tmp_path), port=port, token=token):
        expect(page.locator("#link")).to_have_text("live", timeout=MS)
        expect(page.locator("#state")).to_have_text("idle", timeout=MS)
        expect(page.locator("#outcome")).to_contain_text("Last run plate.py ")
        expect(page.locator("#call")).to_have_text("")  # not the old run's step
        expect(page.locator("#figures")).to_have_text("")
        expect(page.locator("#comments li")).to_have_count(0)
        expect(page.locator("#deck .done")).to_have_count(0)


def test_tips_removed_is_offered_again_once_a_gone_server_is_back(
        gates: Gates, page: Any, tmp_path: Path) -> None:
    """The page offers nothing while the server does not answer; back, it offers Tips
    removed again (it stayed disabled: the one way on the page to release the queue)."""
    from playwright.sync_api import expect

    with serving(gates, record_dir=str(tmp_path)) as first:
        first.client.queue_item_add(item('''
p300.pick_up_tip()
p300.aspirate(50, plate["A1"])
gates.wait("held")
''', "halted.py"))
        first.client.queue_start()
        gates.reached("held")
        assert first.client.re_halt()["success"]
        gates.open("held")
        first.client.wait_for_idle(timeout=WAIT)
        page.goto(first.handle.token_url)
        expect(page.locator("#tips-removed")).to_be_enabled(timeout=MS)
        port, token = first.handle.port, first.handle.token
    expect(page.locator("#tips-removed")).to_be_disabled(timeout=MS)
    with serving(gates, record_dir=str(tmp_path), port=port, token=token):
        expect(page.locator("#link")).to_have_text("live", timeout=MS)
        expect(page.locator("#tips")).to_be_visible()
        expect(page.locator("#tips-removed")).to_be_enabled(timeout=MS)


def test_a_pause_asked_for_in_the_last_step_says_the_run_ends_first(
        served: Served, gates: Gates, page: Any) -> None:
    from playwright.sync_api import expect

    served.client.queue_item_add(item('p300.transfer(50, plate.wells()[:48], '
                                      'plate.wells()[48:])', "last.py"))
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    expect(page.locator("#figures")).to_contain_text("step 5 of 5", timeout=MS)
    page.click("#b-pause")
    expect(page.locator("#banner-msg")).to_have_text(
        "this is the last step: the run ends before it could pause, and the queue then "
        "stops; Pause now pauses at once", timeout=MS)
    assert served.client.re_abort("done looking")["success"]


class DroppingProxy:
    """A TCP relay on a loopback port to ``port``: what a page reaches the server through,
    with a network between them that ``drop()`` cuts (every connection reset, new ones
    refused) and ``mend()`` restores."""

    def __init__(self, port: int) -> None:
        self.port = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = self._listener.getsockname()[1]
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._down = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:  # one lock with drop(): none slips through a cut
                if self._down:
                    client.close()
                    continue
                server = socket.create_connection(("127.0.0.1", self.port))
                self._open |= {client, server}
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._relay, args=(source, sink), daemon=True).start()

    def _relay(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, sink):
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)

    def drop(self) -> None:
        with self._lock:
            self._down = True
            for end in self._open:
                with contextlib.suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def mend(self) -> None:
        with self._lock:
            self._down = False

    def close(self) -> None:
        self.drop()
        self._listener.close()


def test_a_page_opened_mid_run_and_one_that_lost_the_stream_show_the_run_as_it_is(
        served: Served, gates: Gates, page: Any) -> None:
    """A page that joins a run late is given everything so far (wells done, tips taken,
    the comments and the current call); one whose connection drops while the run goes on
    is given the same on reconnecting, so a tip put back meanwhile is drawn full again."""

    served.client.queue_item_add(item('''
ctx.comment("column one")
p300.pick_up_tip()
p300.aspirate(50, plate["A1"])
p300.dispense(50, plate["A2"])
gates.wait("held")
p300.return_tip()
ctx.comment("tip back")
gates.wait("again")
''', "late.py"))
    served.client.queue_start()
    gates.reached("held")
    proxy = DroppingProxy(served.handle.port)
    try:
        _joined_then_reconnected(page, gates, served.handle.token_url.replace(
            f":{served.handle.port}/", f":{proxy.address}/"), proxy)
    finally:
        proxy.close()


def _joined_then_reconnected(page: Any, gates: Gates, url: str, proxy: DroppingProxy) -> None:
    from playwright.sync_api import expect

    page.goto(url)  # the run is three steps in
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    expect(page.locator("#comments li")).to_have_text(["column one"], timeout=MS)
    expect(page.locator("#call")).to_contain_text("Dispensing 50.0 µL into A2")
    done = page.locator("#deck .done")
    expect(done).to_have_count(2, timeout=MS)
    assert sorted(done.evaluate_all("els => els.map(e => e.dataset.well)")) == ["2/A1", "2/A2"]
    taken = page.locator("#deck .taken")
    expect(taken).to_have_count(1)
    assert taken.first.get_attribute("data-well") == "1/A1"

    proxy.drop()  # the connection drops; the run goes on without it
    expect(page.locator("#link")).to_have_text("reconnecting…", timeout=MS)
    gates.open("held")
    gates.reached("again")  # the tip is back in its rack, unseen by the page
    proxy.mend()  # EventSource reconnects by itself, every few seconds
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    expect(page.locator("#comments li")).to_have_text(["column one", "tip back"], timeout=MS)
    expect(taken).to_have_count(0)
    expect(done).to_have_count(2)
    gates.open("again")
    expect(page.locator("#outcome")).to_have_text("Last run succeeded", timeout=MS)


def test_a_door_that_resumes_the_run_by_itself_says_so_and_a_pause_keeps_it_stopped(
        gates: Gates, page: Any) -> None:
    """With the door set to resume the run once closed, the page said "close the door,
    then Resume" and offered no Pause: closing it set the robot moving again."""
    from playwright.sync_api import expect

    from hardware.config import InterlockConfig, default_config
    from hardware.frozen import replace

    config = replace(default_config(), interlocks={"door": InterlockConfig(auto_resume=True)})
    with serving(gates, config=config) as served:
        start_from_the_page(served, gates, page,
                            item('gates.wait("held")\nctx.comment("after")', "door.py"))
        served.client.sim_interlock("door", True)
        message = page.locator("#banner-msg")
        expect(message).to_contain_text(
            "the run goes on by itself once the door clears; Pause keeps it stopped", timeout=MS)
        expect(message).not_to_contain_text("then Resume")
        expect(page.locator("#b-pause")).to_be_enabled()
        page.click("#b-pause")
        expect(message).to_contain_text(
            "a pause is held: the run stays paused once the door clears; then Resume",
            timeout=MS)
        served.client.sim_interlock("door", False)
        expect(page.locator("#banner-resume")).to_be_enabled(timeout=MS)
        status = served.client.status()
        assert status["run_status"] == "paused" and status["resumes_when_clear"] is False
        page.click("#banner-resume")
        gates.open("held")
        expect(page.locator("#banner")).to_be_hidden(timeout=MS)


def test_a_door_opened_mid_run_says_the_robot_stopped_where_it_was(
        served: Served, gates: Gates, page: Any) -> None:
    """No tip holding liquid: the banner read "the robot stopped where it was not parked
    clear of the deck", as if where it stopped were the matter."""
    from playwright.sync_api import expect

    start_from_the_page(served, gates, page)
    served.client.sim_interlock("door", True)
    expect(page.locator("#banner-msg")).to_have_text(
        "close the door, then Resume — the robot stopped where it was, not parked clear of "
        "the deck (nothing moves behind an interlock): mind the pipettes when you reach in",
        timeout=MS)
    served.client.sim_interlock("door", False)
    page.click("#banner-resume")
    gates.open("held")
    expect(page.locator("#outcome")).to_have_text("Last run succeeded", timeout=MS)


def test_on_a_phone_the_banner_reads_across_the_screen_its_buttons_under_it(
        served: Served, gates: Gates, page: Any) -> None:
    """At a phone's width the banner's words were squeezed into a third of it, beside its
    buttons, four words a line."""
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 375, "height": 740})
    start_from_the_page(served, gates, page)
    page.click("#b-pause-now")
    expect(page.locator("#banner-title")).to_have_text(
        "Paused by a user (this page or a client)", timeout=MS)
    banner = page.locator("#banner").bounding_box()
    words = page.locator("#banner-text").bounding_box()
    resume = page.locator("#banner-resume").bounding_box()
    assert words["width"] > 0.8 * banner["width"]
    assert resume["y"] >= words["y"] + words["height"]
    page.click("#banner-resume")
    gates.open("held")
    expect(page.locator("#outcome")).to_have_text("Last run succeeded", timeout=MS)


def test_while_a_door_pauses_the_run_the_page_never_says_it_parks(
        served: Served, gates: Gates, page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The door opens while the plate shakes: the run is pausing while the plate spins
    down (held here at the gate "parking"), and the robot stays where it is; the banner
    said "stopping and parking"."""
    from playwright.sync_api import expect

    from hardware.modules.simulated import SimulatedHeaterShaker

    spin_down = SimulatedHeaterShaker.park

    async def held(self: SimulatedHeaterShaker) -> Mapping[str, Any]:
        await anyio.to_thread.run_sync(gates.arrive, "parking")
        return await spin_down(self)  # what it stopped, which the record says

    monkeypatch.setattr(SimulatedHeaterShaker, "park", held)
    served.client.queue_item_add(SHAKEN)
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    gates.reached("shaking")
    served.client.sim_interlock("door", True)
    gates.reached("parking")
    expect(page.locator("#state")).to_have_text("pausing", timeout=MS)
    expect(page.locator("#banner-msg")).to_have_text(
        "close the door, then Resume — the robot stops where it is (nothing moves behind an "
        "interlock)")
    gates.open("parking")
    expect(page.locator("#state")).to_have_text("paused", timeout=MS)
    served.client.sim_interlock("door", False)
    page.click("#banner-resume")
    gates.open("shaking")
    expect(page.locator("#outcome")).to_have_text("Last run succeeded", timeout=MS)


def test_an_open_door_between_runs_is_shown_and_the_queue_not_offered(
        served: Served, gates: Gates, page: Any) -> None:
    """No run going: the page showed nothing of an open door and offered Start queue,
    which the server then refused."""
    from playwright.sync_api import expect

    served.client.queue_item_add(item("pass", "next.py"))
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    expect(page.locator("#b-start")).to_be_enabled(timeout=MS)
    served.client.sim_interlock("door", True)
    expect(page.locator("#banner-title")).to_have_text("Interlock active: door", timeout=MS)
    expect(page.locator("#banner-msg")).to_have_text("no run starts until it is cleared")
    expect(page.locator("#banner-resume")).to_be_hidden()
    expect(page.locator("#b-start")).to_be_disabled()
    served.client.sim_interlock("door", False)
    expect(page.locator("#banner")).to_be_hidden(timeout=MS)
    expect(page.locator("#b-start")).to_be_enabled()


def test_a_run_the_door_holds_as_it_starts_is_shown_waiting_and_can_be_stopped(
        served: Served, page: Any) -> None:
    """The door opened in the instant the queue started a run, which waits for it: the
    page said no run starts until it is cleared and offered neither Stop nor Abort; now
    it says the run starts once the door is cleared, and offers both (the server stops
    it, nothing having moved)."""
    from playwright.sync_api import expect

    door_opens_as_the_next_run_starts(served)
    served.client.queue_item_add(QUICK)
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    page.click("#b-start")
    expect(page.locator("#banner-title")).to_have_text("Interlock active: door", timeout=MS)
    expect(page.locator("#banner-msg")).to_have_text(
        "the run starts once it is cleared; nothing has moved")
    expect(page.locator("#b-abort")).to_be_enabled()
    asked: list[str] = []  # and the Stop dialog promises no cleanup: nothing moves

    def answer(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.accept()

    page.once("dialog", answer)
    page.click("#b-stop")
    status = served.client.wait_for_idle(timeout=WAIT)
    assert asked == ["Stop the run? It has not started: nothing moves."]
    assert status["items_in_history"] == 1 and status["interlocks"] == ["door"]
    assert served.client.history_get()["items"][0]["result"]["exit_status"] == "stopped"


def test_the_elapsed_time_never_runs_back_when_the_server_goes(
        gates: Gates, page: Any) -> None:
    """Drawn again as the connection dropped, the page took the last status event's
    progress anew: the elapsed time went back to when that event came (0:06 to 0:04)."""
    from playwright.sync_api import expect

    def elapsed() -> int:
        found = re.search(r"(\d+):(\d\d) elapsed", page.locator("#figures").inner_text())
        assert found, page.locator("#figures").inner_text()
        return int(found[1]) * 60 + int(found[2])

    with serving(gates) as served:
        start_from_the_page(served, gates, page)
        expect(page.locator("#figures")).to_contain_text("elapsed", timeout=MS)
        start = elapsed()
        for _ in range(100):  # the page's own clock runs on, nothing new from the server
            if elapsed() >= start + 3:
                break
            page.wait_for_timeout(100)
        before = elapsed()
        assert before >= start + 3
    expect(page.locator("#link")).to_have_text("reconnecting…", timeout=MS)
    assert elapsed() >= before
