"""What labrun ignores as Opentrons does is said in the run log at every verbosity."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from labrun.cli.main import main

PROTOCOL = '''
metadata = {"apiLevel": "2.13"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(50, plate["A1"], plate["B1"], tip_touch=True)
    p300.pick_up_tip()
    p300.mix(1.5, 20, plate["B1"])
'''


def simulated_warnings(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                       protocol: str) -> tuple[Path, list[str]]:
    """Simulate ``protocol`` (it succeeds): its path and the warnings of its run log."""
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(protocol).lstrip("\n"))
    assert main(["simulate", str(path)]) == 0
    lines = capsys.readouterr().out.split("\nRun log\n", 1)[1].splitlines()
    return path, [line.strip() for line in lines if line.strip().startswith("warning: ")]


@pytest.mark.parametrize("verbosity", [[], ["-v"]])
def test_warnings_are_in_the_run_log_under_their_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], verbosity: list[str]) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(PROTOCOL).lstrip("\n"))
    assert main(["simulate", str(path), *verbosity]) == 0
    out = capsys.readouterr().out
    lines = out.split("\nRun log\n", 1)[1].splitlines()
    transfer = next(i for i, line in enumerate(lines) if "Transferring 50.0 µL" in line)
    warnings = [line.strip() for line in lines if line.strip().startswith("warning: ")]
    assert warnings == [
        f"warning: {path}:8: transfer: tip_touch=True is not an option of transfer; "
        "ignored, as Opentrons does",
        f"warning: {path}:10: mix: repetitions=1.5 is not a whole number; mixing 2 times, "
        "as Opentrons does"]
    assert lines[transfer + 1].strip() == warnings[0]


STRAY = '''
from opentrons.types import Point

metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    reservoir = ctx.load_labware("nest_12_reservoir_15ml", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    m300 = ctx.load_instrument("p300_multi_gen2", "left")
    p300.pick_up_tip()
    for _ in range(3):  # 9 mm to the right of A1: over A2
        p300.aspirate(10, plate["A1"].bottom().move(Point(x=9)))
    p300.dispense(30, plate["B1"].top().move(Point(x=3.6)))  # touching the side
    p300.drop_tip()
    m300.pick_up_tip(tips["A2"])
    m300.aspirate(10, reservoir["A1"].bottom().move(Point(y=7)))  # the first tip past the end
    m300.drop_tip()
'''


def test_a_tip_over_another_well_than_the_one_named_is_warned_of_once_a_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A location offset wider than its well sends the tip into the next well, or onto
    the rim: the command names the well, as Opentrons reports it, and the run log says
    where the tip is, once a protocol line. A tip just past the rim, touching the side,
    is not warned of."""
    path, warnings = simulated_warnings(capsys, tmp_path, STRAY)
    assert warnings == [
        f"warning: {path}:14: aspirate at A1 of Corning 96 Well Plate 360 µL Flat on "
        "slot 1: the tip is 9.0 mm from its centre, over A2; the command names A1, as "
        "Opentrons does",
        f"warning: {path}:18: aspirate at A1 of NEST 12 Well Reservoir 15 mL on slot 2: "
        "the first nozzle's tip is 38.5 mm from its centre, over no well; the command "
        "names A1, as Opentrons does"]


BELOW = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    for _ in range(2):
        p300.aspirate(10, plate["A1"].bottom(-3))  # into the plastic
    p300.dispense(20, plate["B1"].bottom(-0.5))  # pressed against the bottom
    p300.well_bottom_clearance.aspirate = -2
    p300.mix(2, 10, plate["C1"])
    p300.drop_tip()
'''


def test_a_tip_below_the_bottom_of_its_well_is_warned_of_once_a_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A tip sent below a well's bottom would press into the labware on a robot: the run
    log says so once a protocol line. A tip up to 1 mm below it, pressed against the
    bottom, is not warned of."""
    path, warnings = simulated_warnings(capsys, tmp_path, BELOW)
    assert warnings == [
        f"warning: {path}:10: aspirate at A1 of Corning 96 Well Plate 360 µL Flat on slot 1: "
        "the tip goes 3.0 mm below the well's bottom; on a robot it would press into the labware",
        f"warning: {path}:13: aspirate at C1 of Corning 96 Well Plate 360 µL Flat on slot 1: "
        "the tip goes 2.0 mm below the well's bottom; on a robot it would press into the labware"]


def test_a_move_or_touch_tip_below_the_bottom_is_warned_of_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, warnings = simulated_warnings(capsys, tmp_path, '''
        from opentrons import types
        metadata = {"apiLevel": "2.15"}
        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
            p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p.pick_up_tip()
            p.touch_tip(plate["A1"], v_offset=-20)
            p.move_to(plate["A2"].bottom(-5))
            p.move_to(plate["A2"].bottom(-0.5))  # pressed against the bottom: no warning
            p.move_to(plate["A3"].top())
            p.move_to(types.Location(types.Point(200, 150, -4), None))
            p.drop_tip()
    ''')
    assert warnings == [
        f"warning: {path}:8: touch_tip at A1 of Corning 96 Well Plate 360 µL Flat on slot 1: "
        "the tip goes 9.3 mm below the well's bottom; on a robot it would press into the labware",
        f"warning: {path}:9: move_to at A2 of Corning 96 Well Plate 360 µL Flat on slot 1: "
        "the tip goes 5.0 mm below the well's bottom; on a robot it would press into the labware",
        f"warning: {path}:12: move_to: the tip goes 4.0 mm below the deck; on a robot it "
        "would press into the deck or what stands on it"]


def test_an_air_gap_taken_inside_the_well_is_warned_of_and_below_its_bottom_too(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A negative height takes the air gap inside the well, where the tip may draw
    liquid (the run counts air): said; deep enough, the tip presses into the plastic,
    said as for every other move below a well's bottom."""
    path, warnings = simulated_warnings(capsys, tmp_path, '''
        metadata = {"apiLevel": "2.15"}
        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
            p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p.pick_up_tip()
            p.aspirate(10, plate["A1"])
            p.air_gap(10, height=-20)
            p.air_gap(10, height=-5)
            p.air_gap(10, height=0)
            p.drop_tip()
    ''')
    well = "A1 of Corning 96 Well Plate 360 µL Flat on slot 1"
    assert warnings == [
        f"warning: {path}:8: air_gap: height=-20 takes the air gap 20 mm below the top of "
        f"{well}, where the tip may draw liquid; the run counts it as air",
        f"warning: {path}:8: air_gap at {well}: the tip goes 9.3 mm below the well's bottom; "
        "on a robot it would press into the labware",
        f"warning: {path}:9: air_gap: height=-5 takes the air gap 5 mm below the top of "
        f"{well}, where the tip may draw liquid; the run counts it as air"]


def test_a_number_as_a_labware_label_is_its_name_and_on_a_module_is_warned_of(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A number given as a label is taken as its text, as Opentrons takes it; given to a
    module's load_labware it is most likely a slot, written as for the deck: said."""
    path, warnings = simulated_warnings(capsys, tmp_path, '''
        metadata = {"apiLevel": "2.15"}
        def run(ctx):
            cold = ctx.load_module("temperature module gen2", 3)
            plate = cold.load_labware("opentrons_96_aluminumblock_nest_wellplate_100ul", 3)
            other = ctx.load_labware("corning_96_wellplate_360ul_flat", 2, 7)
            assert (plate.name, other.name) == ("3", "7"), (plate.name, other.name)
    ''')
    assert warnings == [
        f"warning: {path}:4: load_labware: label=3 is a number (a slot?); a module's labware "
        "goes on the module, so it is taken as the labware's name, '3'"]


def test_a_module_call_that_warns_keeps_its_sentence(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "protocol.py"
    path.write_text('metadata = {"apiLevel": "2.25"}\n\ndef run(ctx):\n'
                    '    hs = ctx.load_module("heaterShakerModuleV1", 1)\n'
                    '    hs.set_target_temperature(10)\n')
    assert main(["simulate", str(path)]) == 0
    log = capsys.readouterr().out.split("\nRun log\n", 1)[1].split("\n\n")[0].splitlines()
    assert log[-2].endswith("] Heater-Shaker: set target temperature (to 10 °C)")
    assert log[-1].strip() == (f"warning: {path}:5: set_target_temperature: 10 °C is below "
                               "room temperature; the heater-shaker only heats, so the plate "
                               "stays at room temperature")


@pytest.mark.parametrize("level", ["2.13", "2.14", "2.20"])
def test_a_volume_left_out_into_an_empty_tip_is_warned_of_from_2_14(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], level: str) -> None:
    # Opentrons documents "all the tip takes"; its own software draws 0 µL there from 2.14.
    path, warnings = simulated_warnings(capsys, tmp_path, f"""
        metadata = {{"apiLevel": "{level}"}}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
            p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p.pick_up_tip()
            for well in plate.wells()[:2]:
                p.mix(2, location=well)
            p.aspirate(location=plate["A1"])
            p.dispense(location=plate["A2"])
            p.aspirate(10, plate["A1"])
            p.mix(1)  # a tip with liquid: all it takes, in both
            p.aspirate(50, plate["A1"])
            p.drop_tip()
        """)
    said = ("no volume given: labrun draws all the tip takes, 300 µL, as Opentrons documents "
            "it, but Opentrons' own software draws 0 µL into an empty tip from apiLevel 2.14; "
            "give the volume")
    mixed = ("mix: no volume given: labrun draws all the tip takes, as Opentrons documents it "
             "(300 µL each time), but Opentrons' own software draws 0 µL into an empty tip "
             "from apiLevel 2.14 (0 µL each time: no liquid moves); give the volume")
    expected = [f"warning: {path}:9: {mixed}",  # once a line
                f"warning: {path}:10: aspirate: {said}"]
    assert warnings == ([] if level == "2.13" else expected)


def test_a_tip_rack_of_the_wrong_size_is_warned_of_under_the_pipettes_loading(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent('''
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
            p20 = ctx.load_instrument("p20_single_gen2", "left", tip_racks=[tips])
            p20.pick_up_tip()
    ''').lstrip("\n"))
    assert main(["simulate", str(path)]) == 0
    lines = capsys.readouterr().out.split("\nRun log\n", 1)[1].splitlines()
    loading = next(i for i, line in enumerate(lines) if "Loading p20_single_gen2" in line)
    assert lines[loading + 1].strip() == (
        f"warning: {path}:5: the pipette p20_single_gen2 and its tip rack "
        "opentrons_96_tiprack_300ul (300 µL tips) appear to be mismatched; it takes 10 or "
        "20 µL tips")
    assert "Picking up tip" in lines[loading + 2]


def test_a_tip_picked_up_where_the_run_left_none_is_warned_of_under_the_pick_up(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The simulation succeeds, as Opentrons' does; on a robot the second pick-up finds no
    # tip at A1, and the tip refilled at the pause is not warned of.
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent('''
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
            p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p.pick_up_tip(tips["A1"])
            p.drop_tip()
            p.pick_up_tip(tips["A1"])
            p.drop_tip()
            ctx.pause("Replace the tips")
            p.reset_tipracks()
            p.pick_up_tip()
            p.drop_tip()
    ''').lstrip("\n"))
    assert main(["simulate", str(path)]) == 0
    lines = capsys.readouterr().out.split("\nRun log\n", 1)[1].splitlines()
    picks = [i for i, line in enumerate(lines) if "Picking up tip from A1" in line]
    assert len(picks) == 3
    assert lines[picks[1] + 1].strip() == (
        f"warning: {path}:8: pick_up_tip: A1 of Opentrons OT-2 96 Tip Rack 300 µL on slot 4 "
        f"has no tip: its tip was taken at {path}:6 and not put back; on a robot the pipette "
        "would pick up nothing")
    assert [line for line in lines if line.strip().startswith("warning: ")] == [
        lines[picks[1] + 1]]
