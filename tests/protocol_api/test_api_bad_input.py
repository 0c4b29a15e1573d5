"""Bad input at run time (DESIGN.md §10): each mistake fails the run with a message that
names the problem and the protocol ``file:line`` of the offending call, and that call
sends nothing to the robot.
"""

from __future__ import annotations

import contextlib
import textwrap
from pathlib import Path
from typing import Any

import attrs
import pytest
from labrun_testing import simulate_file

from engine import commands as c
from engine.channel import CommandChannel, StepRef
from engine.run import Run
from hardware.config import default_config
from protocol_api.execute import continue_when_stalled, open_context

HEADER = '''metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    small_tips = ctx.load_labware("opentrons_96_tiprack_20ul", 5)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
'''
BAD_LINE = 10  # the line of the last statement of every body below


def simulate(tmp_path: Path, body: str) -> tuple[Path, Run, dict[str, Any]]:
    path = tmp_path / "protocol.py"
    text = HEADER + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n"
    path.write_text(text)
    assert len(text.splitlines()) == BAD_LINE
    run = simulate_file(path)
    summary = run.record.events[-1]
    assert summary["event"] == "summary"
    return path, run, summary


CASES: list[tuple[str, str, str]] = [
    ("unknown labware", 'pass\nctx.load_labware("corning_96_wellplate_360ul_fla", 2)',
     "no labware definition named 'corning_96_wellplate_360ul_fla'; did you mean "
     "'corning_96_wellplate_360ul_flat'?"),
    ("unknown instrument", 'pass\nctx.load_instrument("p300_single_gen3", "right")',
     "unknown instrument 'p300_single_gen3'; the OT-2 pipettes are p10_single, p10_multi, "),
    ("a Flex pipette", 'pass\nctx.load_instrument("flex_8channel_1000", "right")',
     "unknown instrument 'flex_8channel_1000'; the OT-2 pipettes are p10_single"),
    ("unknown mount", 'pass\nctx.load_instrument("p20_single_gen2", "middle")',
     "no mount 'middle'; mounts are 'left' and 'right'"),
    ("mount already used", 'pass\nctx.load_instrument("p20_single_gen2", "left")',
     "the left mount already has a p300_single_gen2; pass replace=True to replace it"),
    ("occupied slot", 'pass\nctx.load_labware("corning_96_wellplate_360ul_flat", 1)',
     "slot 1 already holds Corning 96 Well Plate 360 µL Flat"),
    ("invalid slot", 'pass\nctx.load_labware("corning_96_wellplate_360ul_flat", 13)',
     "no slot '13' on this deck; slots are 1-11 and the fixed trash in 12"),
    ("fixed trash slot", 'pass\nctx.load_labware("corning_96_wellplate_360ul_flat", 12)',
     "slot 12 already holds Opentrons Fixed Trash"),
    ("well that does not exist", 'p300.pick_up_tip()\np300.aspirate(10, plate["Z1"])',
     "corning_96_wellplate_360ul_flat in slot 1 has no well 'Z1' (wells are A1..H12)"),
    ("negative volume", 'p300.pick_up_tip()\np300.aspirate(-5, plate["A1"])',
     "aspirate: volume -5 µL is negative"),
    ("volume over the pipette max", 'p300.pick_up_tip()\np300.aspirate(301, plate["A1"])',
     "aspirate: 301 µL would put 301 µL in the tip; the p300_single_gen2 with this tip "
     "holds at most 300 µL"),
    ("volume over the tip max",
     'p300.pick_up_tip(small_tips["A1"])\np300.aspirate(25, plate["A1"])',
     "aspirate: 25 µL would put 25 µL in the tip; the p300_single_gen2 with this tip holds "
     "at most 20 µL"),
    ("dispense more than the tip holds",
     'p300.pick_up_tip()\np300.dispense(5, plate["A1"])',
     "dispense: 5 µL asked but the tip holds 0 µL"),
    ("aspirating with no tip", 'pass\np300.aspirate(10, plate["A1"])',
     "aspirate: the left pipette (p300_single_gen2) has no tip; call pick_up_tip() first"),
    ("picking up a tip while holding one", "p300.pick_up_tip()\np300.pick_up_tip()",
     "pick_up_tip: the left pipette already holds a tip; drop or return it first"),
    ("empty tip rack",
     "[setattr(w, 'has_tip', False) for w in tips.wells()]\np300.pick_up_tip()",
     "pick_up_tip: out of tips; every tip in opentrons_96_tiprack_300ul in slot 4 has been "
     "used"),
    ("ctx.load_module", 'pass\nctx.load_module("temperature module gen2", 3)',
     "ProtocolContext.load_module: hardware modules are not supported by labrun"),
    ("pipette.configure_nozzle_layout", "pass\np300.configure_nozzle_layout()",
     "InstrumentContext.configure_nozzle_layout is not supported by labrun"),
    ("pipette.air_gap over no well", "p300.pick_up_tip()\np300.air_gap(400)",
     "air_gap: 400 µL would put 400 µL in the tip"),
    ("transfer(air_gap=300)", 'pass\np300.transfer(50, plate["A1"], plate["A2"], air_gap=300)',
     "transfer: air_gap must be from 0 µL to below the pipette's working volume"),
    ("mix with a bad repetition count", 'p300.pick_up_tip()\np300.mix(-1, 10, plate["A1"])',
     "mix: repetitions must be a whole number >= 0, not -1"),
]


@pytest.mark.parametrize(("body", "message"), [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_bad_input_fails_the_run_at_the_offending_line(tmp_path: Path, body: str,
                                                       message: str) -> None:
    path, run, summary = simulate(tmp_path, body)
    assert summary["status"] == "failed"
    assert summary["error"].startswith(message), summary["error"]
    assert summary["location"] == f"{path}:{BAD_LINE}"
    # The offending call sent nothing to the robot.
    bad = f"{path}:{BAD_LINE}"
    assert [e.command.kind for e in run.engine.entries if e.line == bad] == []
    statuses = [e["status"] for e in run.record.events if e["event"] == "status"]
    assert statuses[-1] == "failed" and "succeeded" not in statuses


def test_after_a_failure_the_attached_tip_is_dropped_in_the_trash(tmp_path: Path) -> None:
    _, run, summary = simulate(tmp_path, 'p300.pick_up_tip()\np300.aspirate(-1, plate["A1"])')
    assert summary["status"] == "failed"
    cleanup = [(e.command.kind, e.command.params()["well"]) for e in run.engine.entries
               if e.origin == "cleanup"]
    assert cleanup == [("dropTip", "trash")]


def test_a_robot_error_inside_a_step_group_names_the_call_not_the_group(tmp_path: Path) -> None:
    # The engine refuses a point out of reach; the failure points at the move_to line.
    path, _, summary = simulate(tmp_path, """
        with ctx.step("bad move"):
            p300.move_to(plate["A1"].top(2000))
    """)
    assert summary["status"] == "failed"
    assert "cannot reach that point" in summary["error"]
    assert summary["location"] == f"{path}:{BAD_LINE}"


def test_an_exception_in_a_helper_function_names_the_innermost_protocol_line(
        tmp_path: Path) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent('''
        metadata = {"apiLevel": "2.15"}

        def helper(ctx):
            ctx.load_labware("no_such_labware", 1)

        def run(ctx):
            helper(ctx)
    ''').lstrip("\n"))
    summary = simulate_file(path).record.events[-1]
    assert summary["status"] == "failed"
    assert summary["error"].startswith("no labware definition named 'no_such_labware'")
    assert summary["location"] == f"{path}:4"


def test_an_embedded_context_reports_the_scripts_line_and_reraises() -> None:
    with pytest.raises(Exception, match="volume -1 µL is negative"), \
            open_context() as ctx:
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(-1, tips["A1"])  # the failing line
    summary = ctx.run.record.events[-1]
    assert summary["status"] == "failed"
    assert summary["error"] == "aspirate: volume -1 µL is negative"
    this_file, line = summary["location"].rsplit(":", 1)
    assert this_file == __file__
    source = Path(__file__).read_text().splitlines()[int(line) - 1]
    assert "# the failing line" in source


def test_a_command_for_a_mount_the_robot_lacks_fails_the_run() -> None:
    config = default_config()
    config = attrs.evolve(config, mounts={"left": config.mounts["left"]})

    def protocol(channel: CommandChannel) -> None:
        channel.execute(c.LoadInstrument("p20_single_gen2", "right", 20.0, 1.25, 18.0, 19.0,
                                         20.0), StepRef(0, "load_instrument"))
        channel.execute(c.MoveTo("right", (100.0, 100.0, 100.0)), StepRef(1, "move_to"))

    run = Run(protocol, config=config, on_stalled=continue_when_stalled).start()
    run.control.play()
    try:
        with contextlib.suppress(Exception):
            run.wait(timeout=10)
    finally:
        run.close()
    summary = run.record.events[-1]
    assert summary["status"] == "failed"
    assert "right" in summary["error"]
