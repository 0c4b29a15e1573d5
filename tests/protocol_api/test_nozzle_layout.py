"""Partial tip pickup (``configure_nozzle_layout``) on an OT-2 8-channel, as Opentrons 8.8.2's
simulator does it: where the pipette goes, which tips it takes, which wells its tips
touch, and what it refuses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from labrun_testing import protocol_file, simulate_file

HEAD = "from opentrons.protocol_api import ALL, PARTIAL_COLUMN, SINGLE\n"
SET_UP = '''rack = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
p = ctx.load_instrument("p300_multi_gen2", "left")
'''


def _run(tmp_path: Path, body: str) -> list[dict[str, Any]]:
    path = protocol_file(tmp_path, HEAD + SET_UP + body, api="2.20")
    return list(simulate_file(path).record.events)


def _queued(events: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [e["params"] for e in events
            if e.get("status") == "queued" and e.get("type") == kind]


@pytest.mark.parametrize(("layout", "tip", "taken", "a1_y", "others"), [
    ("ALL", "4/A1", 8, 47.24, ["2/E6", "2/F6", "2/G6", "2/H6"]),
    ("SINGLE, start='A1'", "4/H1", 1, 47.24, []),
    ("SINGLE, start='H1'", "4/A1", 1, 110.24, []),
    ("PARTIAL_COLUMN, start='H1', end='E1'", "4/D1", 4, 110.24, ["2/C6", "2/B6", "2/A6"]),
])
def test_the_primary_nozzle_goes_where_the_step_says_and_the_others_follow(
        tmp_path: Path, layout: str, tip: str, taken: int, a1_y: float,
        others: list[str]) -> None:
    # The first nozzle (A1), which the commands name, is 63 mm behind H1.
    events = _run(tmp_path, f"p.configure_nozzle_layout({layout}, tip_racks=[rack])\n"
                            "p.pick_up_tip()\np.aspirate(10, plate['D6'])\np.drop_tip()\n")
    assert events[-1]["status"] == "succeeded", events[-1].get("error")
    [pick] = _queued(events, "pickUpTip")
    assert (pick["well"], pick["tips"]) == (tip, taken)
    move = _queued(events, "moveTo")[-1]
    assert move["well"] == "2/D6"
    assert move["point"] == pytest.approx([191.88, a1_y, 4.55])
    [aspirate] = _queued(events, "aspirate")
    assert list(aspirate["wells"]) == others
    [drop] = _queued(events, "dropTip")  # into the trash as all nozzles drop
    assert drop["point"] == pytest.approx([363.895, 351.5, 82.0])


@pytest.mark.parametrize(("layout", "before", "chosen"), [
    ("SINGLE, start='H1'", "", ["4/A1", "4/B1", "4/C1", "4/D1"]),
    ("SINGLE, start='A1'", "", ["4/H1", "4/G1", "4/F1", "4/E1"]),
    ("PARTIAL_COLUMN, start='H1', end='E1'", "", ["4/D1", "4/H1", "4/D2", "4/H2"]),
    ("PARTIAL_COLUMN, start='H1', end='B1'", "", ["4/G1", "4/G2", "4/G3", "4/G4"]),
    ("SINGLE, start='H1'", "p.pick_up_tip(rack['A1'])\np.drop_tip()\n",  # column 1 used
     ["4/A2", "4/B2", "4/C2", "4/D2"]),
    ("PARTIAL_COLUMN, start='H1', end='E1'",  # takes A1-C1, its active rows there
     "p.configure_nozzle_layout(PARTIAL_COLUMN, start='H1', end='E1')\n"
     "p.pick_up_tip(rack['C1'])\np.drop_tip()\n",
     ["4/G1", "4/D2", "4/H2", "4/D3"]),  # G1: what its idle nozzles cover is used
    ("PARTIAL_COLUMN, start='H1', end='E1'",  # F1-H1 would bring idle nozzles onto A1
     "p.configure_nozzle_layout(SINGLE, start='H1')\np.pick_up_tip(rack['B1'])\n"
     "p.drop_tip()\n", ["4/B1", "4/D2", "4/H2", "4/D3", "4/H3"]),
])
def test_tips_are_chosen_as_opentrons_chooses_them(tmp_path: Path, layout: str, before: str,
                                                   chosen: list[str]) -> None:
    events = _run(tmp_path, before + f"p.configure_nozzle_layout({layout}, tip_racks=[rack])\n"
                  + "for _ in range(4):\n    p.pick_up_tip()\n    p.drop_tip()\n")
    assert events[-1]["status"] == "succeeded", events[-1].get("error")
    assert [e["well"] for e in _queued(events, "pickUpTip")][-len(chosen):] == chosen


def test_a_named_tip_takes_the_active_rows_from_it(tmp_path: Path) -> None:
    events = _run(tmp_path, "p.configure_nozzle_layout(PARTIAL_COLUMN, start='H1', end='E1')\n"
                            "p.pick_up_tip(rack['D11'])\np.drop_tip()\n"
                            "p.pick_up_tip(rack['H12'])\np.drop_tip()\n"
                            "ctx.comment(' '.join(w.well_name for w in rack.wells() "
                            "if not w.has_tip))\n")
    assert [e["tips"] for e in _queued(events, "pickUpTip")] == [4, 4]
    assert _queued(events, "comment")[-1]["message"] == "A11 B11 C11 D11 E12 F12 G12 H12"


TALL_BEHIND = ('ctx.load_labware("opentrons_96_tiprack_300ul", 5)\n'
               "p.configure_nozzle_layout(SINGLE, start='H1')\n"
               "p.pick_up_tip(rack['H12'])\n")


@pytest.mark.parametrize(("body", "message"), [
    (TALL_BEHIND + "p.aspirate(10, plate['H1'])\np.aspirate(10, plate['G1'])",
     "aspirate: Moving to Corning 96 Well Plate 360 µL Flat in slot 2 with H1 nozzle partial "
     "configuration will result in collision with items in deck slot 5."),
    (TALL_BEHIND + "p.aspirate(10, plate['D1'].top(-0.82))\n"  # its nozzles just clear it
                   "p.aspirate(10, plate['D1'].top(-0.84))",
     "aspirate: Moving to Corning 96 Well Plate 360 µL Flat in slot 2 with H1 nozzle"),
    (TALL_BEHIND + "p.move_to(plate['D1'].top(10))\np.touch_tip(plate['D1'])",
     "touch_tip: Moving to Corning 96 Well Plate 360 µL Flat in slot 2 with H1 nozzle"),
    # Opentrons lets move_to go, into the tip rack behind
    (TALL_BEHIND + "p.move_to(plate['D1'].bottom())",
     "move_to: Moving to Corning 96 Well Plate 360 µL Flat in slot 2 with H1 nozzle"),
    # a module behind counts, with or without labware (the review found labrun failing on
    # any module beside)
    ('ctx.load_module("temperature module gen2", 5)\n'
     "p.configure_nozzle_layout(PARTIAL_COLUMN, start='H1', end='G1', tip_racks=[rack])\n"
     "p.pick_up_tip()\np.aspirate(10, plate['H1'])\np.aspirate(10, plate['F1'])",
     "aspirate: Moving to Corning 96 Well Plate 360 µL Flat in slot 2 with H1 nozzle partial "
     "configuration will result in collision with items in deck slot 5."),
    # a GEN1 p50 multi is wider to its left than a GEN2: the rack to the right of the plate
    # is reached from H12 (its definition's footprint, as Opentrons takes it)
    ('ctx.load_labware("opentrons_96_tiprack_300ul", 3)\n'
     'p50 = ctx.load_instrument("p50_multi", "right")\n'
     "p50.configure_nozzle_layout(SINGLE, start='H1', tip_racks=[rack])\np50.pick_up_tip()\n"
     "p50.aspirate(10, plate['H11'])\np50.aspirate(10, plate['H12'])",
     "aspirate: Moving to Corning 96 Well Plate 360 µL Flat in slot 2 with H1 nozzle partial "
     "configuration will result in collision with items in deck slot 3."),
    ("p.configure_nozzle_layout(SINGLE, start='A1')\np.pick_up_tip(rack['D12'])\n"
     "p.drop_tip()\nfront = ctx.load_labware('opentrons_96_tiprack_300ul', 1)\n"
     "p.pick_up_tip(front['H12'])",
     "pick_up_tip: Requested motion with the A1 nozzle partial configuration is outside of "
     "robot bounds for the pipette."),
    ("p.configure_nozzle_layout(SINGLE, start='H1')\np.pick_up_tip(rack['A1'])\n"
     "p.return_tip()",
     "return_tip: Cannot return tip to a tiprack while the pipette is configured for partial "
     "tip."),
    ("p.configure_nozzle_layout(SINGLE, start='H1')\np.pick_up_tip(rack['A1'])\n"
     "p.drop_tip(rack['A1'])",
     "drop_tip: Cannot return tip to a tiprack while the pipette is configured for partial "
     "tip."),
    ("p.configure_nozzle_layout(SINGLE, start='H1')\np.pick_up_tip(rack['A1'])\n"
     "p.configure_nozzle_layout(ALL)",
     "configure_nozzle_layout: P300 8-Channel GEN2 holds a tip; a layout is changed only with "
     "no tips on"),
    ("p.configure_nozzle_layout(SINGLE, start='H1', tip_racks=[rack])\n"
     "p.starting_tip = rack['C3']\np.pick_up_tip()",
     "pick_up_tip: Automatic tip tracking is not available when using a partial pipette "
     "nozzle configuration and InstrumentContext.starting_tip."),
    ("p.tip_racks = [rack]\np.configure_nozzle_layout(SINGLE, start='H1')\np.pick_up_tip()",
     "pick_up_tip: no location given and this pipette has no tip_racks; pass tip_racks to "
     "configure_nozzle_layout (which replaces them, as in Opentrons)"),
    ("p.configure_nozzle_layout(PARTIAL_COLUMN, start='A1', end='D1')",
     "configure_nozzle_layout: an OT-2 8-channel's partial column runs from H1"),
    ("single = ctx.load_instrument('p300_single_gen2', 'right')\n"
     "single.configure_nozzle_layout(SINGLE, start='A1')",
     "configure_nozzle_layout: Cannot configure nozzle layout with a single channel pipette."),
])
def test_what_opentrons_refuses_fails_at_its_line_and_sends_nothing(
        tmp_path: Path, body: str, message: str) -> None:
    path = protocol_file(tmp_path, HEAD + SET_UP + body, api="2.20")
    run = simulate_file(path)
    summary = run.record.events[-1]
    line = f"{path}:{4 + len((HEAD + SET_UP + body).strip().splitlines())}"
    assert (summary["status"], summary["location"]) == ("failed", line), summary.get("error")
    assert summary["error"].startswith(message), summary["error"]
    assert [e.command.kind for e in run.engine.entries if e.line == line] == []


def test_a_transfer_with_one_nozzle_takes_any_well_not_only_the_first_row(
        tmp_path: Path) -> None:
    # A full multi-channel reaches only row A; one nozzle reaches every well, as in Opentrons.
    events = _run(tmp_path, "p.configure_nozzle_layout(SINGLE, start='H1', tip_racks=[rack])\n"
                            "p.transfer(20, plate['C3'], plate['F7'])\n")
    assert events[-1]["status"] == "succeeded", events[-1].get("error")
    assert [(e["well"], list(e["wells"])) for e in _queued(events, "aspirate")] == [
        ("2/C3", [])]
    assert [e["well"] for e in _queued(events, "dispense")] == ["2/F7"]
    assert [e["tips"] for e in _queued(events, "pickUpTip")] == [1]


def test_style_none_goes_back_to_all_nozzles_from_2_20(tmp_path: Path) -> None:
    """Opentrons documents style as a layout or None, and from apiLevel 2.20 takes None
    as ALL: the pipette takes a whole column of tips again. labrun refused it."""
    events = _run(tmp_path, "p.configure_nozzle_layout(SINGLE, start='H1', tip_racks=[rack])\n"
                            "p.configure_nozzle_layout(None, tip_racks=[rack])\n"
                            "ctx.comment(str(p.active_channels))\n"
                            "p.pick_up_tip()\np.aspirate(10, plate['A6'])\np.drop_tip()\n")
    assert events[-1]["status"] == "succeeded", events[-1].get("error")
    assert [e["message"] for e in _queued(events, "comment")] == ["8"]
    assert [(e["well"], e["tips"]) for e in _queued(events, "pickUpTip")] == [("4/A1", 8)]
    [aspirate] = _queued(events, "aspirate")
    assert (aspirate["well"], len(aspirate["wells"])) == ("2/A6", 7)


def test_style_none_below_2_20_is_refused_at_its_line(tmp_path: Path) -> None:
    """Below 2.20 Opentrons fails on None ('NoneType' object has no attribute 'value');
    labrun says what to give instead."""
    path = protocol_file(tmp_path, HEAD + SET_UP + "p.configure_nozzle_layout(None)\n",
                         api="2.19")
    summary = simulate_file(path).record.events[-1]
    assert (summary["status"], summary["location"]) == ("failed", f"{path}:9")
    assert summary["error"].startswith(
        "configure_nozzle_layout: style None (all the nozzles) needs apiLevel 2.20 or later; "
        "this protocol's apiLevel is 2.19; give ALL"), summary["error"]


def test_the_layout_is_in_the_record_and_the_run_log(tmp_path: Path) -> None:
    events = _run(tmp_path, "p.configure_nozzle_layout(PARTIAL_COLUMN, start='H1', end='E1')\n"
                            "ctx.comment(str(p.active_channels) + ' ' + ctx.commands()[-1])\n"
                            "p.configure_nozzle_layout(ALL)\n"
                            "ctx.comment(str(p.active_channels))\n")
    assert [(e["style"], e["primary"], e["end"], e["nozzles"])
            for e in _queued(events, "configureNozzleLayout")] == [
        ("PARTIAL_COLUMN", "H1", "E1", 4), ("ALL", None, None, 8)]
    assert [e["message"] for e in _queued(events, "comment")] == [  # as Opentrons logs it
        "4 Configure pipette on left mount to use NozzleLayout.PARTIAL_COLUMN layout starting "
        "at nozzle H1 ending at nozzle E1.", "8"]


def test_into_the_trash_the_pipette_goes_as_with_all_nozzles_unchecked(tmp_path: Path) -> None:
    # As Opentrons: a front start's blow-out or dispense into the trash bin is not held to
    # the deck's reach (the review found labrun refusing them), and the pipette goes where
    # it goes with all its nozzles.
    body = ("p.pick_up_tip()\np.aspirate(20, plate['A1'])\n"
            "p.dispense(10, ctx.fixed_trash)\np.blow_out(ctx.fixed_trash)\np.drop_tip()\n")
    points = {}
    for layout in ("ALL", "SINGLE, start='H1'"):
        events = _run(tmp_path, f"p.configure_nozzle_layout({layout}, tip_racks=[rack])\n"
                      + body)
        assert events[-1]["status"] == "succeeded", events[-1].get("error")
        points[layout] = [m["point"] for m in _queued(events, "moveTo") + _queued(events, "dropTip")
                          if m["well"] == "12/A1"]
    assert len(points["ALL"]) == 3 and points["SINGLE, start='H1'"] == points["ALL"]


def test_a_tip_dropped_into_a_well_goes_with_the_primary_nozzle(tmp_path: Path) -> None:
    events = _run(tmp_path, "p.configure_nozzle_layout(SINGLE, start='H1', tip_racks=[rack])\n"
                            "p.pick_up_tip()\np.drop_tip(plate['D6'])\n")
    [drop] = _queued(events, "dropTip")
    assert drop["well"] == "2/D6"
    assert drop["point"] == pytest.approx([191.88, 47.24 + 63, 14.22])  # H1 at D6's top


def test_a_new_layout_at_the_same_well_touches_only_its_own_wells(tmp_path: Path) -> None:
    events = _run(tmp_path, "p.configure_nozzle_layout(ALL, tip_racks=[rack])\n"
                            "p.pick_up_tip()\np.aspirate(10, plate['A1'])\np.drop_tip()\n"
                            "p.configure_nozzle_layout(SINGLE, start='A1', tip_racks=[rack])\n"
                            "p.pick_up_tip()\np.aspirate(10, plate['A1'])\n")
    assert [len(a["wells"]) for a in _queued(events, "aspirate")] == [7, 0]


def test_a_named_tip_that_brings_idle_nozzles_onto_tips_is_warned_of(tmp_path: Path) -> None:
    # Opentrons takes it as asked; on a robot the nozzles above D1 would take A1-C1 too.
    events = _run(tmp_path, "p.configure_nozzle_layout(SINGLE, start='H1')\n"
                            "p.pick_up_tip(rack['D1'])\np.drop_tip()\n"
                            "p.configure_nozzle_layout(PARTIAL_COLUMN, start='H1', end='E1')\n"
                            "p.pick_up_tip(rack['B2'])\n")
    assert events[-1]["status"] == "succeeded", events[-1].get("error")
    warnings = [c["message"].split(": ", 2)[2] for c in _queued(events, "comment")]
    assert warnings == [
        "pick_up_tip: at D1 nozzles that take no tip come down onto the tips in C1, B1, A1; "
        "on a robot they would be picked up too (tip tracking marks only the layout's)",
        "pick_up_tip: at B2 only 2 of the layout's 4 nozzles find a place in "
        "opentrons_96_tiprack_300ul; the pipette takes 2 tip(s)"]


@pytest.mark.parametrize(("layout", "well", "others"), [
    ("ALL", "A1", ["2/B1", "2/C1", "2/D1", "2/E1", "2/F1", "2/G1", "2/H1"]),
    ("PARTIAL_COLUMN, start='H1', end='E1'", "H1", ["2/G1", "2/F1", "2/E1"]),
])
def test_a_touch_tip_names_the_wells_every_tip_touches(tmp_path: Path, layout: str, well: str,
                                                        others: list[str]) -> None:
    # The other tips touch their wells' walls too: the record says which.
    events = _run(tmp_path, f"p.configure_nozzle_layout({layout}, tip_racks=[rack])\n"
                            f"p.pick_up_tip()\np.touch_tip(plate['{well}'])\n")
    assert events[-1]["status"] == "succeeded", events[-1].get("error")
    [touch] = _queued(events, "touchTip")
    assert (touch["well"], list(touch["wells"])) == (f"2/{well}", others)


@pytest.mark.parametrize("call", [
    "p.transfer(20, plate['C3'], plate['F7'], trash=False)",
    "p.distribute(20, plate['C3'], [plate['F7'], plate['F8']], trash=False, new_tip='always')",
    "p.consolidate(20, [plate['C3'], plate['C4']], plate['F7'], trash=False)",
])
def test_a_transfer_returning_tips_with_a_partial_layout_is_refused_before_a_tip(
        tmp_path: Path, call: str) -> None:
    """Opentrons 8.8.2 cannot return a tip to a tip rack with a partial nozzle layout, so a
    transfer with trash=False fails at its first return, after it has moved liquid; labrun
    refuses the call before it picks up a tip, naming the call and the option."""
    body = f"p.configure_nozzle_layout(SINGLE, start='H1', tip_racks=[rack])\n{call}\n"
    events = _run(tmp_path, body)
    mode = call[2:call.index("(")]
    assert events[-1]["status"] == "failed"
    assert events[-1]["error"].startswith(
        f"{mode}: trash=False returns each tip to its tip rack, which a pipette with a "
        "partial nozzle layout cannot do"), events[-1]["error"]
    assert _queued(events, "pickUpTip") == [] and _queued(events, "aspirate") == []


def test_a_transfer_returning_tips_with_all_nozzles_still_returns_them(tmp_path: Path) -> None:
    """With all nozzles (the ALL layout) a transfer with trash=False returns its tip, as in
    Opentrons."""
    events = _run(tmp_path, "p.configure_nozzle_layout(ALL, tip_racks=[rack])\n"
                            "p.transfer(20, plate['A3'], plate['A7'], trash=False)\n")
    assert events[-1]["status"] == "succeeded", events[-1].get("error")
    assert [e["well"] for e in _queued(events, "dropTip")] == ["4/A1"]
