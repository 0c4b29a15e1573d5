"""The G-code driver's warnings under ``labrun serve``: a Marlin without its emergency
parser, found at connection, and a damaged status report mid-run reach the person who
uses the server (its terminal, the status, the run's comments on the live page), not
the run worker's stderr as Python's logging left them."""

from __future__ import annotations

import re
import signal
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browser_kit import MS, needs_chromium
from labrun_testing import free_port
from remote_kit import WAIT, Gates, item, serving
from test_remote_cli import serve

from hardware.config import RobotConfig
from hardware.emulator import EmulatorHandle, running_emulator
from hardware.factory import emulator_config
from hardware.frozen import replace
from labrun.remote import RunManagerAPI

NO_PARSER = ("warning: the Marlin at {port} has no emergency parser (its M115 says "
             "Cap:EMERGENCY_PARSER:0): without an emergency parser Marlin reads M410 "
             "(quickstop) and M112 (emergency stop) only once the move under way ends")


@pytest.fixture
def marlin() -> Iterator[EmulatorHandle]:
    """Marlin's default build (no emergency parser), emulated on a TCP port."""
    with running_emulator("marlin", speed=50.0, config=emulator_config("marlin"),
                          emergency_parser=False) as emu:
        yield emu


def emulated_config(emu: EmulatorHandle, dialect: str) -> RobotConfig:
    base = emulator_config(dialect)
    return replace(base, controller=replace(base.controller, port=emu.address,
                                            timeout_s=2.0))


def test_labrun_serve_says_the_marlin_has_no_emergency_parser_in_its_terminal_and_status(
        tmp_path: Path, marlin: EmulatorHandle) -> None:
    robot = tmp_path / "robot.toml"
    robot.write_text(textwrap.dedent(f'''
        name = "test-marlin"
        [controller]
        kind = "gcode"
        dialect = "marlin"
        port = "{marlin.address}"
        timeout_s = 2.0
        poll_interval = 0.05
    '''))
    process, token_url, lines = serve("--port", str(free_port()), robot=robot)
    try:
        said = [line.rstrip("\n") for line in lines if "emergency parser" in line]
        # One line of labrun's own, after the robot's; it was the worker's bare message
        assert len(said) == 1, lines
        assert said[0].startswith(NO_PARSER.format(port=marlin.address))
        assert said[0].endswith("turn EMERGENCY_PARSER on in Marlin's Configuration_adv.h")
        assert lines[lines.index(said[0] + "\n") - 1].startswith("labrun: robot 'test-marlin'")
        client = RunManagerAPI(token_url)
        assert client.status()["robot"]["warnings"] == said  # for a client, and the page
        client.close()
        process.send_signal(signal.SIGINT)
        assert process.wait(WAIT) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_damaged_status_report_mid_run_is_among_the_runs_comments_and_told(
        gates: Gates, capfd: pytest.CaptureFixture[str]) -> None:
    told: list[str] = []
    with running_emulator("grbl", speed=50.0, config=emulator_config("grbl")) as grbl, \
            serving(gates, run_worker=True, config=emulated_config(grbl, "grbl")) as served:
        served.manager.log = told.append
        assert served.client.status()["robot"]["warnings"] == []
        served.client.queue_item_add(item('''
            gates.wait("mid-run")
            p300.transfer(50, plate["A1"], plate["B1"])
        ''', "damaged.py"))
        served.client.queue_start()
        gates.reached("mid-run")
        seen = grbl.stats.status_garbled
        grbl.faults.garble_status_next = 1
        status = served.client.wait_for(lambda s: bool(s["progress"]["comments"]),
                                        timeout=WAIT)
        comments = status["progress"]["comments"]
        assert grbl.stats.status_garbled == seen + 1
        assert len(comments) == 1
        assert re.fullmatch(r"warning: controller: ignored a damaged status report "
                            r"\(1 so far\): .*", comments[0]), comments
        gates.open("mid-run")
        served.client.wait_for_idle(timeout=WAIT)
    assert f"run damaged.py: {comments[0]}" in told, told
    assert "damaged status report" not in capfd.readouterr().err  # the worker's stderr


@needs_chromium
def test_the_live_page_shows_the_robots_warning_at_connection(
        gates: Gates, marlin: EmulatorHandle, page: Any) -> None:
    from playwright.sync_api import expect

    with serving(gates, run_worker=True, config=emulated_config(marlin, "marlin")) as served:
        page.goto(served.handle.token_url)
        shown = page.locator("#robot-warnings li")
        expect(shown).to_have_count(1, timeout=MS)
        expect(shown).to_contain_text(NO_PARSER.format(port=marlin.address), timeout=MS)
