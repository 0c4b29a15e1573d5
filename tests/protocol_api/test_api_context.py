"""ProtocolContext through whole simulated runs: loading, comments, home, delays, pauses, steps.

Every test writes a protocol file, runs it on the simulated robot (virtual clock) and
checks what a user sees: the run status, the run record, the summary and the commands.
"""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from labrun_testing import simulate_file as simulate

from engine.run import Run

HEADER = 'metadata = {"apiLevel": "2.15"}\n\n\ndef run(ctx):\n'


def write_protocol(tmp_path: Path, body: str, *, name: str = "protocol.py",
                   header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + textwrap.indent(textwrap.dedent(body).strip("\n"), "    ") + "\n")
    return path


def summary(run: Run) -> dict[str, Any]:
    last = run.record.events[-1]
    assert last["event"] == "summary"
    return last


def protocol_commands(run: Run) -> list[Any]:
    return [e for e in run.engine.entries if e.origin == "protocol"]


def kinds(run: Run) -> list[str]:
    return [e.command.kind for e in protocol_commands(run)]


def test_loading_labware_and_instruments_is_visible_to_the_protocol(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, """
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", "1", label="samples")
        p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
        p20 = ctx.load_instrument("p20_single_gen2", "left")
        assert ctx.loaded_labwares == {1: plate, 4: tips, 12: ctx.fixed_trash}
        assert list(ctx.loaded_labwares) == [12, 4, 1]  # in load order, the trash first
        assert ctx.loaded_instruments == {"left": p20, "right": p300}
        assert list(ctx.loaded_instruments) == ["left", "right"]  # whatever came first
        assert ctx.deck["4"] is tips and ctx.deck[1] is plate
        assert (p300.mount, p300.name, p300.max_volume, p300.min_volume) == (
            "right", "p300_single_gen2", 300, 20)
        assert p300.tip_racks == [tips] and p20.tip_racks == []
        assert p300.channels == 1 and not p300.has_tip and p300.current_volume == 0
        assert ctx.is_simulating() and ctx.api_version == (2, 15)
        assert plate.parent == "1" and tips.is_tiprack and not plate.is_tiprack
    """)
    run = simulate(path)
    assert summary(run)["status"] == "succeeded", summary(run).get("error")
    loads = [(e.command.kind, e.command.params()) for e in protocol_commands(run)]
    assert [(k, p.get("slot"), p.get("load_name")) for k, p in loads if k == "loadLabware"] == [
        ("loadLabware", "12", "opentrons_1_trash_1100ml_fixed"),
        ("loadLabware", "4", "opentrons_96_tiprack_300ul"),
        ("loadLabware", "1", "corning_96_wellplate_360ul_flat"),
    ]
    instruments = [p for k, p in loads if k == "loadInstrument"]
    assert [(p["instrument_name"], p["mount"], p["max_volume"]) for p in instruments] == [
        ("p300_single_gen2", "right", 300), ("p20_single_gen2", "left", 20)]
    # Loading moves nothing: a run that only loads takes no time on the robot.
    assert summary(run)["tips_used"] == 0
    assert summary(run)["well_volumes_ul"] == {}


def test_commands_carry_the_protocol_line_and_the_implicit_trash_has_none(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, """
        ctx.comment("first")
        ctx.home()
    """)
    run = simulate(path)
    lines = [(e.command.kind, e.line) for e in protocol_commands(run)]
    # The fixed trash is loaded by the context itself: no protocol line made it.
    assert lines == [("loadLabware", None), ("comment", f"{path}:5"), ("home", f"{path}:6")]


def test_comment_and_home_are_recorded_and_home_takes_time(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, """
        ctx.comment("starting")
        ctx.comment(str(42))
        ctx.home()
    """)
    run = simulate(path)
    assert summary(run)["status"] == "succeeded"
    entries = protocol_commands(run)
    assert [e.command.params() for e in entries if e.command.kind == "comment"] == [
        {"message": "starting"}, {"message": "42"}]
    home = next(e for e in entries if e.command.kind == "home")
    assert home.command.params() == {"axes": None}
    assert home.status == "completed"
    assert home.completed_at is not None and home.started_at is not None
    assert home.completed_at >= home.started_at


def test_a_delay_adds_its_length_to_the_estimated_duration(tmp_path: Path) -> None:
    body = """
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        p.pick_up_tip()
        p.aspirate(50, plate["A1"])
        {delay}
        p.dispense(50, plate["B1"])
        p.drop_tip()
    """
    without = simulate(write_protocol(tmp_path, body.format(delay="pass"), name="a.py"))
    with_delay = simulate(write_protocol(
        tmp_path, body.format(delay='ctx.delay(seconds=30, minutes=1.5, msg="soak")'),
        name="b.py"))
    extra = summary(with_delay)["duration_s"] - summary(without)["duration_s"]
    assert extra == pytest.approx(120.0, abs=1e-3)
    delay = next(e for e in protocol_commands(with_delay) if e.command.kind == "delay")
    assert delay.command.params() == {"seconds": 120.0, "message": "soak"}
    assert delay.completed_at - delay.started_at == pytest.approx(120.0)
    assert [e["status"] for e in with_delay.record.events if e["event"] == "delay"] == [
        "elapsed"]
    assert summary(with_delay)["status"] == "succeeded"


def test_ctx_pause_in_a_simulation_continues_by_itself_and_is_listed(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, """
        ctx.comment("before")
        ctx.pause("swap the plate")
        ctx.comment("after")
    """)
    run = simulate(path)
    result = summary(run)
    assert result["status"] == "succeeded"
    assert len(result["pauses"]) == 1
    assert result["pauses"][0]["source"] == "protocol"
    assert result["pauses"][0]["message"] == "swap the plate"
    assert result["pause_unresolved"] is False
    statuses = [e["status"] for e in run.record.events if e["event"] == "status"]
    assert statuses == ["running", "pausing", "paused", "running", "finishing", "succeeded"]
    # The robot parked and came back; the command after the pause ran.
    assert [e["event"] for e in run.record.events if e["event"] in ("park", "unpark")] == [
        "park", "unpark"]
    assert kinds(run)[-2:] == ["waitForResume", "comment"]


def test_a_pause_without_a_message_is_listed_too(tmp_path: Path) -> None:
    run = simulate(write_protocol(tmp_path, "ctx.pause()\nctx.pause()\n"))
    assert [(p["source"], p["message"]) for p in summary(run)["pauses"]] == [
        ("protocol", None), ("protocol", None)]
    assert summary(run)["status"] == "succeeded"


def test_every_top_level_call_is_one_step_and_a_with_step_groups_calls(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, """
        tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
        p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
        with ctx.step("fill A1"):
            p.pick_up_tip()
            p.aspirate(100, plate["A2"])
            p.dispense(100, plate["A1"])
            p.drop_tip()
        p.transfer(20, plate["A1"], plate["B1"])
        ctx.comment("done")
    """)
    run = simulate(path)
    entries = protocol_commands(run)
    steps = [(e.step.index, e.step.name) for e in entries]
    grouped = [s for s, e in zip(steps, entries, strict=True) if s[1] == "fill A1"]
    assert {s[0] for s in grouped} == {4}
    assert [e.command.kind for e in entries if e.step.name == "fill A1"] == [
        "pickUpTip", "moveTo", "aspirate", "moveTo", "dispense", "dropTip"]
    # The whole transfer is one step, and so is the comment after it.
    assert {e.step.index for e in entries if e.step.name == "transfer"} == {5}
    assert [e.step.index for e in entries if e.command.kind == "comment"] == [6]
    # Steps: trash, 2 labware, instrument, the group, the transfer, the comment.
    assert summary(run)["steps"] == 7
    recorded = [(e["index"], e["name"]) for e in run.record.events if e["event"] == "step"]
    assert recorded == [(0, "load_labware"), (1, "load_labware"), (2, "load_labware"),
                        (3, "load_instrument"), (4, "fill A1"), (5, "transfer"),
                        (6, "comment")]
    # Inside a group each command carries the line of the call that made it; a transfer's
    # commands all carry the transfer's line.
    lines = [(e.command.kind, e.line) for e in entries if e.step.index >= 4]
    assert lines[:6] == [("pickUpTip", f"{path}:9"), ("moveTo", f"{path}:10"),
                         ("aspirate", f"{path}:10"), ("moveTo", f"{path}:11"),
                         ("dispense", f"{path}:11"), ("dropTip", f"{path}:12")]
    assert {line for kind, line in lines[6:-1]} == {f"{path}:13"}
    assert lines[-1] == ("comment", f"{path}:14")


def test_nested_steps_are_one_step(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, """
        with ctx.step("outer"):
            ctx.comment("a")
            with ctx.step("inner"):
                ctx.comment("b")
            ctx.home()
        ctx.comment("c")
    """)
    run = simulate(path)
    steps = [(e.command.kind, e.step.index, e.step.name) for e in protocol_commands(run)]
    assert steps == [("loadLabware", 0, "load_labware"), ("comment", 1, "outer"),
                     ("comment", 1, "outer"), ("home", 1, "outer"), ("comment", 2, "comment")]


def test_an_exception_inside_a_step_fails_the_run_at_its_line(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, """
        with ctx.step("broken"):
            ctx.comment("a")
            1 / 0
    """)
    run = simulate(path)
    result = summary(run)
    assert result["status"] == "failed"
    assert result["error"] == "ZeroDivisionError: division by zero"
    assert result["location"] == f"{path}:7"


def test_unsupported_context_calls_fail_naming_the_call(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, """
        ctx.comment("fine so far")
        ctx.load_waste_chute()
    """)
    run = simulate(path)
    result = summary(run)
    assert result["status"] == "failed"
    # below 2.16, Opentrons' level for it, that is said first (from it: not supported)
    assert result["error"] == ("ProtocolContext.load_waste_chute needs apiLevel 2.16 or "
                               "later; this protocol's apiLevel is 2.15")
    assert result["location"] == f"{path}:6"
    assert kinds(run) == ["loadLabware", "comment"]


def test_an_unknown_context_attribute_is_an_attribute_error(tmp_path: Path) -> None:
    path = write_protocol(tmp_path, "ctx.no_such_thing()\n")
    result = summary(simulate(path))
    assert result["status"] == "failed"
    assert result["error"] == ("AttributeError: 'ProtocolContext' object has no attribute "
                               "'no_such_thing'")
    assert result["location"] == f"{path}:5"
