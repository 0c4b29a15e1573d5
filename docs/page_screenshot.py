"""Make docs/live_page.png: the live page of ``labrun serve`` in the middle of a run.

A simulated robot (100 times real time) runs examples/plate_replication.py with one more
protocol queued behind it; the page, opened with the token URL in Debian's chromium, is
photographed at the protocol's pause, halfway through the run. Run it from the
repository's root: ``python docs/page_screenshot.py`` (needs the ``browser`` extra and
chromium).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from hardware.config import default_config
from labrun.remote import RunManager, RunManagerAPI, start_server
from labrun.remote.robots import simulated_robot

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main(out: Path) -> None:
    """Photograph the page at the run's pause into ``out``."""
    manager = RunManager(simulated_robot(default_config(), speed=100.0))
    manager.log = print  # what labrun serve's terminal says of each run
    with start_server(manager) as server, RunManagerAPI(server.token_url) as client, \
            tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        client.queue_item_add(path=ROOT / "examples" / "plate_replication.py", user="ana")
        client.queue_item_add(path=ROOT / "examples" / "serial_dilution.py", user="ana")
        browser = playwright.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", headless=True, args=ARGS,
            viewport={"width": 1100, "height": 760})
        page = browser.pages[0] if browser.pages else browser.new_page()
        page.goto(server.token_url)
        client.queue_start()
        expect(page.locator("#banner")).to_be_visible(timeout=120_000)
        done = page.locator("#deck .done")  # the source and replica 1
        expect(done).to_have_count(192, timeout=10_000)
        page.screenshot(path=str(out))
        browser.close()
        client.queue_stop()
        client.re_stop()
        client.wait_for_idle(timeout=60)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "live_page.png")
