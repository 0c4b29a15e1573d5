"""``simulate --json`` names each module, its slot, its labware and a timeline of targets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labrun.cli.main import main

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "bead_cleanup.py"


def test_json_has_a_modules_section_with_each_modules_timeline(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(EXAMPLE), "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    modules = {module["kind"]: module for module in document["modules"]}
    assert set(modules) == {"magnetic", "temperature"}
    magnet, cold = modules["magnetic"], modules["temperature"]
    assert (magnet["slot"], magnet["labware"]) == ("1", "samples")
    assert (cold["slot"], cold["labware"]) == ("3", "elution buffer")
    calls = [entry["call"] for entry in magnet["timeline"]]
    assert calls == ["engage", "disengage", "engage", "disengage"]
    # apiLevel 2.15, as Opentrons: the definition's 20 mm above the plate's bottom, which is
    # 2.5 mm above the magnets' home
    assert all(entry["height_mm"] == 22.5 for entry in magnet["timeline"]
               if entry["call"] == "engage")
    times = [entry["t"] for entry in magnet["timeline"]]
    assert times == sorted(times) and times[-1] <= document["estimated_duration_s"]
    assert cold["timeline"][0] == {"t": 0.0, "call": "set_temperature", "celsius": 4.0}
    assert magnet["status"]["engaged"] is False


def test_a_protocol_without_modules_has_no_modules_section(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "plain.py"
    protocol.write_text("metadata = {'apiLevel': '2.13'}\n\ndef run(ctx):\n"
                        "    ctx.comment('nothing')\n")
    assert main(["simulate", str(protocol), "--json"]) == 0
    assert "modules" not in json.loads(capsys.readouterr().out)


def test_a_run_that_succeeded_says_the_modules_it_left_switched_on(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A plate still shaking at 1500 rpm at 80 °C after a run that succeeded
    was said only in the record: the summary now names it, and only what is still on."""
    protocol = tmp_path / "protocol.py"
    protocol.write_text('metadata = {"apiLevel": "2.15"}\n'
                        "def run(ctx):\n"
                        '    hs = ctx.load_module("heaterShakerModuleV1", 1)\n'
                        '    temp = ctx.load_module("temperature module gen2", 3)\n'
                        "    hs.close_labware_latch()\n"
                        "    hs.set_target_temperature(80)\n"
                        "    hs.set_and_wait_for_shake_speed(1500)\n"
                        "    temp.set_temperature(4)\n"
                        "    temp.deactivate()\n")
    assert main(["simulate", str(protocol)]) == 0
    out = capsys.readouterr().out
    assert ("module in slot 1:    Heater-Shaker Module GEN1: shaking at 1500 rpm, heater "
            "holding at 80 °C, latch closed; still on: the protocol did not switch it off"
            ) in out
    assert "module in slot 3" not in out  # switched off
