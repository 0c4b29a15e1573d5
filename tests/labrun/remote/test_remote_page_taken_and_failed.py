"""The live page, in headless chromium, as a lab manager reads it after a run went wrong:
the tips a run has taken are drawn unlike the tips it never uses (and as the legend says),
through a halt or a failure; a failed run that stopped the queue has a banner saying what
failed, where and why, and that the queue is stopped, until the queue starts again or
the history is cleared; the Now box never shows a bare ``file:line``.

Set ``LABRUN_PAGE_SHOTS`` to a folder (``/tmp/walk-page``) to keep a screenshot of each
state the tests look at."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from browser_kit import MS, needs_chromium
from remote_kit import QUICK, Gates, Served, item

pytestmark = needs_chromium


STYLE = ("e => { const s = getComputedStyle(e); "
         "return [s.fill, s.stroke, s.strokeDasharray, s.strokeWidth]; }")
"""What a tip looks like: its fill, outline colour, dashes and outline width."""
LOCATION = re.compile(r"\S+\.py:\d+")


def shot(page: Any, name: str) -> None:
    """A screenshot of the page into ``$LABRUN_PAGE_SHOTS``, if set."""
    folder = os.environ.get("LABRUN_PAGE_SHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def live(served: Served, page: Any) -> None:
    from playwright.sync_api import expect

    page.set_viewport_size({"width": 1280, "height": 1000})
    page.goto(served.handle.token_url)
    expect(page.locator("#link")).to_have_text("live", timeout=MS)


def tip(page: Any, well: str) -> Any:
    return page.locator(f'#deck [data-well="{well}"]')


def test_taken_tips_differ_from_tips_never_used_and_match_the_legend(
        served: Served, gates: Gates, page: Any) -> None:
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    served.client.queue_item_add(item('''
for row in "AB":
    p300.transfer(50, plate[row + "1"], plate[row + "2"])
gates.wait("held")
p300.transfer(50, plate["C1"], plate["C2"])
if gates.is_set("fail"):  # the run, not the server's checks of it
    raise RuntimeError("the plate slipped")
''', "slipped.py"))
    live(served, page)
    page.click("#b-start")
    gates.reached("held")
    taken = page.locator("#deck .taken")
    expect(taken).to_have_count(2, timeout=MS)
    # 1/A1 and 1/B1 taken; 1/C1 still to take (grey); 1/D1 never used by the run (white)
    used, waiting, unused = tip(page, "1/A1"), tip(page, "1/C1"), tip(page, "1/D1")
    looks = used.evaluate(STYLE)
    assert looks != unused.evaluate(STYLE), looks
    assert looks != waiting.evaluate(STYLE), looks
    assert looks[2] not in ("none", "")  # dashed: no liquid's well is
    # and a person sees it: the taken tip's pixels are not the unused tip's
    assert used.screenshot() != unused.screenshot()
    expect(page.locator("#deck .tip-cross")).to_have_count(2)  # one cross a taken tip
    swatch = page.locator("#taken-swatch circle")  # the legend's "tips taken so far"
    expect(swatch).to_be_visible()
    assert looks == swatch.evaluate(STYLE)  # drawn as the legend draws it
    shot(page, "1-taken-tips-during-the-run")
    if os.environ.get("LABRUN_PAGE_SHOTS"):  # the rack, large enough to look at closely
        page.set_viewport_size({"width": 3200, "height": 2400})
        first, last = tip(page, "1/A1").bounding_box(), tip(page, "1/H4").bounding_box()
        page.screenshot(path=str(Path(os.environ["LABRUN_PAGE_SHOTS"]) / "1b-rack-zoomed.png"),
                        clip={"x": first["x"] - 20, "y": first["y"] - 20,
                              "width": last["x"] - first["x"] + 60,
                              "height": last["y"] - first["y"] + 60})
        page.set_viewport_size({"width": 1280, "height": 1000})

    gates.set("fail")
    gates.open("held")  # the run takes 1/C1, then fails: the rack still says which are gone
    expect(page.locator("#state")).to_have_text("queue stopped", timeout=MS)
    expect(taken).to_have_count(3, timeout=MS)
    assert sorted(taken.evaluate_all("els => els.map(e => e.dataset.well)")) == \
        ["1/A1", "1/B1", "1/C1"]
    assert tip(page, "1/C1").evaluate(STYLE) == swatch.evaluate(STYLE)
    assert unused.evaluate(STYLE) != swatch.evaluate(STYLE)
    shot(page, "2-taken-tips-after-the-failure")

    # a page opened only now draws them the same way
    page.reload()
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    expect(taken).to_have_count(3, timeout=MS)
    expect(page.locator("#deck .tip-cross")).to_have_count(3)
    assert tip(page, "1/B1").evaluate(STYLE) == swatch.evaluate(STYLE)
    assert errors == []


FAILING = '''
p300.transfer(50, plate["A1"], plate["B1"])
gates.wait("held")
if gates.is_set("fail"):  # the run, not the server's checks of it
    raise RuntimeError("the lid is still on")
'''


def failed_run(served: Served, gates: Gates, page: Any) -> None:
    """``failing.py`` fails at its line 12, ``quick.py`` waits behind it."""
    from playwright.sync_api import expect

    served.client.queue_item_add(item(FAILING, "failing.py"))
    served.client.queue_item_add(QUICK)
    live(served, page)
    page.click("#b-start")
    gates.reached("held")
    expect(page.locator("#failed")).to_be_hidden()  # nothing has failed yet
    gates.set("fail")
    gates.open("held")
    expect(page.locator("#outcome")).to_contain_text("Queue stopped: failing.py failed",
                                                     timeout=MS)


def test_a_failed_run_that_stopped_the_queue_has_a_banner_until_the_queue_starts(
        served: Served, gates: Gates, page: Any) -> None:
    from playwright.sync_api import expect

    failed_run(served, gates, page)
    # Now: the error with its line, never the line alone
    call, line = page.locator("#call"), page.locator("#line")
    assert not LOCATION.fullmatch(line.inner_text().strip()), line.inner_text()
    expect(call).to_have_text("Failed: RuntimeError: the lid is still on")
    now = page.locator("section", has=call).inner_text()
    assert "failing.py:12" in now and "the lid is still on" in now
    # the banner: what failed, where, why, and that the queue is stopped
    expect(page.locator("#failed")).to_be_visible()
    expect(page.locator("#failed-title")).to_have_text(
        "failing.py failed at failing.py:12: the queue is stopped")
    message = page.locator("#failed-msg")
    expect(message).to_contain_text("RuntimeError: the lid is still on")
    expect(message).to_contain_text("No run starts until the queue is started again")
    expect(page.locator("#state")).to_have_text("queue stopped")  # not "idle"
    shot(page, "3-failed-run-banner")

    page.click("#b-start")  # quick.py runs: the queue goes on, the banner goes
    expect(page.locator("#failed")).to_be_hidden(timeout=MS)
    expect(page.locator("#outcome")).to_have_text("Last run succeeded", timeout=MS)
    expect(page.locator("#state")).to_have_text("idle")
    shot(page, "4-after-queue-start")


def test_the_failure_banner_goes_when_the_history_is_cleared(
        served: Served, gates: Gates, page: Any) -> None:
    from playwright.sync_api import expect

    failed_run(served, gates, page)
    expect(page.locator("#failed")).to_be_visible()
    assert served.client.history_clear()["success"]
    expect(page.locator("#failed")).to_be_hidden(timeout=MS)
    page.reload()  # and stays gone for a page opened after
    expect(page.locator("#link")).to_have_text("live", timeout=MS)
    expect(page.locator("#queue li")).to_have_text(["quick.py"], timeout=MS)
    expect(page.locator("#failed")).to_be_hidden()
    shot(page, "5-after-history-clear")


def test_now_never_shows_a_bare_line_after_a_run_ends(served: Served, gates: Gates,
                                                      page: Any) -> None:
    from playwright.sync_api import expect

    served.client.queue_item_add(item('''
p300.transfer(50, plate["A1"], plate["B1"])
gates.wait("held")
p300.transfer(50, plate["A2"], plate["B2"])
''', "aborted.py"))
    live(served, page)
    page.click("#b-start")
    gates.reached("held")
    expect(page.locator("#call")).not_to_have_text("", timeout=MS)
    assert served.client.re_abort("the plate was upside down")["success"]
    gates.open("held")
    expect(page.locator("#outcome")).to_contain_text("Queue stopped: aborted.py aborted",
                                                     timeout=MS)
    line = page.locator("#line").inner_text().strip()
    assert not LOCATION.fullmatch(line), line
    expect(page.locator("#call")).to_have_text("Aborted: the plate was upside down")
    expect(page.locator("#failed-title")).to_have_text(
        "aborted.py was aborted: the queue is stopped")
    expect(page.locator("#failed-msg")).to_contain_text("the plate was upside down")
    shot(page, "7-aborted")


def test_a_run_that_could_not_start_stops_the_queue_with_a_banner_too(
        served: Served, gates: Gates, page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    broken = tmp_path / "broken"  # made once added: the check before it starts fails
    served.client.queue_item_add(item(f'''
import os
if os.path.exists({str(broken)!r}):
    raise RuntimeError("the protocol file changed its mind" + ", at length" * 60)
p300.transfer(50, plate["A1"], plate["B1"])
''', "broken.py"))
    live(served, page)
    broken.touch()
    page.click("#b-start")
    expect(page.locator("#failed-title")).to_have_text("The queue stopped", timeout=MS)
    message = page.locator("#failed-msg")
    expect(message).to_contain_text("broken.py could not start")
    expect(message).to_contain_text("the protocol file changed its mind")
    expect(message).to_contain_text("No run starts until the queue is started again")
    expect(page.locator("#state")).to_have_text("queue stopped")
    shot(page, "6-could-not-start")
    # a long reason is cut in the banner and said whole under Progress: no record has it
    why = served.client.status()["queue_error"]
    assert len(why) > 600  # the most the page shows whole
    expect(message).to_contain_text("characters in all; it is whole under Progress)")
    expect(page.locator("#outcome")).to_have_text("Queue stopped: " + why)
    broken.unlink()  # it is in the history, as failed: cleared, it is forgotten
    assert served.client.history_clear()["success"]
    expect(page.locator("#failed")).to_be_hidden(timeout=MS)
