"""A run that ends before the protocol's end says what it left: the command it cut off,
what each tip held and where it went, and the liquid each well gained or lost."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from labrun.cli.calls import Labels
from labrun.cli.closing import ended_early_rows, summary_lines
from labrun.cli.main import main

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
    p.pick_up_tip()
    for i in range(4):
        p.aspirate(100, plate.wells()[i])
        p.dispense(100, plate.wells()[i + 8])
    p.drop_tip()
'''

FAILING = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
    p.pick_up_tip()
    p.aspirate(100, plate["A1"])
    p.dispense(40, plate["A2"])
    1 / 0
'''


def simulate(capsys: pytest.CaptureFixture[str], protocol: Path, *args: str
             ) -> tuple[int, str]:
    code = main(["simulate", str(protocol), *args])
    return code, capsys.readouterr().out


def fields(out: str) -> dict[str, str]:
    tail = out.split("\n\n")[-1]
    return {key.strip(): value.strip() for key, _, value in
            (line.partition(":") for line in tail.strip().splitlines())}


def command_times(capsys: pytest.CaptureFixture[str], protocol: Path, kind: str,
                  nth: int = 0) -> tuple[float, float]:
    """When the ``nth`` (from 0) command of ``kind`` starts and ends in a plain run."""
    code, out = simulate(capsys, protocol, "--json")
    assert code == 0
    command = [c for c in json.loads(out)["commands"] if c["type"] == kind][nth]
    assert command["completed_at"] > command["started_at"]
    return command["started_at"], command["completed_at"]


def midway(capsys: pytest.CaptureFixture[str], protocol: Path, kind: str, nth: int) -> float:
    """A time in the middle of the ``nth`` (from 0) command of ``kind`` in a plain run."""
    started, completed = command_times(capsys, protocol, kind, nth)
    return (started + completed) / 2


def test_an_abort_during_an_aspirate_says_what_the_tip_held_and_which_wells_changed(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    at = midway(capsys, protocol, "aspirate", 2)  # from C1, after A1 -> A2 and B1 -> B2
    code, out = simulate(capsys, protocol, "--at", f"{at}:abort")
    assert code == 1
    summary = fields(out)
    assert summary["status"] == "aborted"
    assert summary["commands"].endswith(" (and 1 of the cleanup)")  # its tip drop
    assert summary["ended during"] == (
        f"Aspirating 100.0 µL from C1 of Corning 96 Well Plate 360 µL Flat (slot 2) "
        f"({protocol}:10), cut off: part of it may have been done")
    assert summary["tip on the left"] == ("between 0.0 and 100.0 µL (the aspirate was cut "
                                          "off), dropped into the trash")
    assert summary["wells changed"] == (
        "4; A1 -100.0 µL, B1 -100.0 µL, A2 +100.0 µL, B2 +100.0 µL in Corning 96 Well "
        "Plate 360 µL Flat (slot 2)")  # in the plate's order, column by column

    code, out = simulate(capsys, protocol, "--at", f"{at}:abort", "--json")
    document = json.loads(out)
    assert document["ended_during"]["type"] == "aspirate"
    assert document["ended_during"]["status"] == "interrupted"
    assert document["ended_during"]["params"]["well"] == "2/C1"
    assert document["ended_during"]["touches_liquid_or_tips"] is True
    assert document["tips_at_end"] == {"left": {"volume_ul": 0.0, "dropped": True}}


def test_a_multi_channel_says_how_many_tips_it_held_and_what_each_held(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL.replace("p300_single_gen2", "p300_multi_gen2")
                        .replace("plate.wells()[i + 8]", "plate.wells()[i * 8 + 16]")
                        .replace("plate.wells()[i]", "plate.wells()[i * 8]"))
    at = midway(capsys, protocol, "dispense", 1)  # B column's liquid, cut off going to D
    code, out = simulate(capsys, protocol, "--at", f"{at}:halt")
    assert code == 1
    summary = fields(out)
    assert summary["8 tips on the left"] == ("between 0.0 and 100.0 µL each (the dispense "
                                             "was cut off), still on the pipette")
    assert summary["wells changed"].startswith("24; ")  # two columns drawn, one filled
    code, out = simulate(capsys, protocol, "--at", f"{at}:halt", "--json")
    assert json.loads(out)["tips_at_end"] == {
        "left": {"volume_ul": 100.0, "dropped": False, "tips": 8}}


def test_a_halt_during_a_dispense_leaves_the_tip_on_and_says_so(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    at = midway(capsys, protocol, "dispense", 0)
    code, out = simulate(capsys, protocol, "--at", f"{at}:halt")
    assert code == 1
    summary = fields(out)
    assert summary["status"] == "halted"
    assert summary["ended during"].startswith("Dispensing 100.0 µL into A2 of Corning")
    assert summary["tip on the left"] == ("between 0.0 and 100.0 µL (the dispense was cut "
                                          "off), still on the pipette")
    assert summary["wells changed"].startswith("1; A1 -100.0 µL in Corning")


def test_a_failed_protocol_says_what_its_tip_held_and_no_command_was_cut(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(FAILING)
    code, out = simulate(capsys, protocol)
    assert code == 1
    summary = fields(out)
    assert summary["status"] == "failed"
    assert "ended during" not in summary
    assert summary["tip on the left"] == "60.0 µL, dropped into the trash"
    assert summary["wells changed"].startswith("2; A1 -100.0 µL, A2 +40.0 µL in")


def test_a_run_that_reaches_its_end_says_none_of_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    code, out = simulate(capsys, protocol)
    assert code == 0
    assert not {"ended during", "tip on the left", "wells changed"} & set(fields(out))
    code, out = simulate(capsys, protocol, "--json")
    assert not {"ended_during", "tips_at_end"} & set(json.loads(out))


def test_a_pick_up_cut_off_after_it_pressed_into_the_tip_has_the_tip_dropped(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    started, completed = command_times(capsys, protocol, "pickUpTip")
    code, out = simulate(capsys, protocol, "--at", f"{completed - 0.01}:stop", "--json")
    assert code == 0
    document = json.loads(out)
    assert document["ended_during"]["type"] == "pickUpTip"
    assert document["tips_at_end"] == {
        "left": {"volume_ul": 0.0, "dropped": True, "uncertain": True}}
    cleanup = [c["type"] for c in document["commands"] if c["origin"] == "cleanup"]
    assert cleanup == ["dropTip"]
    code, out = simulate(capsys, protocol, "--at", f"{completed - 0.01}:stop")
    assert fields(out)["tip on the left"] == ("perhaps (its pick-up was cut off), dropped "
                                              "into the trash if it was on")

    # Cut off on its way to the rack, it has taken no tip: nothing to drop.
    code, out = simulate(capsys, protocol, "--at", f"{started + 0.01}:stop", "--json")
    document = json.loads(out)
    assert document["ended_during"]["type"] == "pickUpTip"
    assert document["tips_at_end"] == {}
    assert not [c for c in document["commands"] if c["origin"] == "cleanup"]


MODULES = '''
metadata = {"apiLevel": "2.16"}

def run(ctx):
    temp = ctx.load_module("temperature module gen2", 3)
    hs = ctx.load_module("heaterShakerModuleV1", 1)
    tc = ctx.load_module("thermocycler module gen2")
    mag = ctx.load_module("magnetic module gen2", 6)
    mag.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
    temp.set_temperature(40)
    hs.close_labware_latch()
    hs.set_target_temperature(45)
    hs.set_and_wait_for_shake_speed(500)
    mag.engage()
    tc.close_lid()
    tc.set_block_temperature(60)
    ctx.delay(minutes=5)
    hs.deactivate_shaker()
'''


def test_an_early_end_says_what_each_module_was_left_doing_by_its_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(MODULES)
    at = midway(capsys, protocol, "delay", 0)
    code, out = simulate(capsys, protocol, "--at", f"{at}:abort")
    assert code == 1
    summary = fields(out)
    assert summary["ended during"].startswith("Delaying for 5 min (")
    assert summary["ended during"].endswith("), cut off")  # a delay touches no liquid
    assert summary["wells changed"] == "none"
    assert summary["module in slot 3"] == "Temperature Module GEN2: holding at 40 °C"
    assert summary["module in slot 1"] == ("Heater-Shaker Module GEN1: not shaking, heater "
                                           "holding at 45 °C, latch closed")
    assert summary["module in slot 7"] == ("Thermocycler Module GEN2: block holding at 60 °C, "
                                           "lid heater off (23 °C), lid closed")
    assert summary["module in slot 6"] == ("Magnetic Module GEN2: magnets engaged 22.5 mm above "
                                           "their home, 20 mm above the labware's base")
    # The setup sheet and the log name the modules as people do, and the slots they cover.
    deck = out.split("  Deck\n", 1)[1].split("  Timeline", 1)[0].splitlines()
    assert "    slot 7   Thermocycler Module GEN2" in deck
    assert "    slot 10  Thermocycler Module GEN2 (of slot 7)" in deck
    assert "Loading Thermocycler Module GEN2 in slot 7 (it covers slots 8, 10, 11 too)" in out


TRANSFER = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.transfer(50, plate["A1"], [plate.wells()[i] for i in range(8, 16)])
'''


def test_a_transfer_cut_off_says_what_it_drew_not_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(TRANSFER)
    at = midway(capsys, protocol, "aspirate", 0)
    _, out = simulate(capsys, protocol, "--at", f"{at}:abort")
    log = out.split("Run log\n")[1]
    assert ("Transferring: 50.0 µL from A1 of Corning 96 Well Plate 360 µL Flat (slot 3), "
            "none dispensed yet\n") in log
    pick_up = midway(capsys, protocol, "pickUpTip", 0)
    _, out = simulate(capsys, protocol, "--at", f"{pick_up}:abort")
    assert "] Transferring: no liquid moved\n" in out.split("Run log\n")[1]


@pytest.mark.parametrize(("call", "said"), [
    # The mix after a dispense begins with an aspirate from the destination (another
    # volume): cut off there, the sentence named the destination as a second source.
    ("p.transfer(50, plate['A1'], plate['B2'], mix_after=(2, 30))", "from A1 {p} to B2 {p}"),
    # The next source of a serial dilution is the well just dispensed into, the same
    # volume drawn: unlike a mix after, it is a source, said apart from the pairs done
    # (it once read "from each of A1, A2 to A2", as a consolidate would).
    ("p.transfer(50, plate.rows()[0][:3], plate.rows()[0][1:4], new_tip='once')",
     "from A1 {p} to A2 {p}; then drew 50.0 µL from A2 {p}, cut off before dispensing it")])
def test_an_aspirate_cut_off_in_the_well_just_filled_is_a_source_unless_a_mix(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], call: str, said: str) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(TRANSFER.replace(
        "p.transfer(50, plate[\"A1\"], [plate.wells()[i] for i in range(8, 16)])", call))
    at = midway(capsys, protocol, "aspirate", 1)  # in the well the first dispense filled
    _, out = simulate(capsys, protocol, "--at", f"{at}:abort")
    plate = "of Corning 96 Well Plate 360 µL Flat (slot 3)"
    assert f"] Transferring 50.0 µL {said.format(p=plate)}\n" in out.split("Run log\n")[1]


@pytest.mark.parametrize(("nth", "said"), [
    # Gathering its first tipful: nothing dispensed yet, both draws said as such (A1's
    # liquid once read as moved "to the current position").
    (1, ": 30.0 µL each from A1, A2 {p}, none dispensed yet"),
    # Its second tipful (ten draws fill the first): the first went into B12; what the
    # tip held then is said apart.
    (11, " 30.0 µL from each of 10 wells A1…A10 {p} to B12 {p}; then drew 30.0 µL each "
         "from A11, A12 {p}, cut off before dispensing it"),
])
def test_a_consolidate_cut_off_while_gathering_says_what_its_tip_held(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], nth: int, said: str) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(TRANSFER.replace(
        "p.transfer(50, plate[\"A1\"], [plate.wells()[i] for i in range(8, 16)])",
        "p.consolidate(30, [plate.wells()[i * 8] for i in range(12)], plate['B12'])"))
    at = midway(capsys, protocol, "aspirate", nth)
    _, out = simulate(capsys, protocol, "--at", f"{at}:abort")
    plate = "of Corning 96 Well Plate 360 µL Flat (slot 3)"
    assert f"] Consolidating{said.format(p=plate)}\n" in out.split("Run log\n")[1]


def test_a_liquid_command_that_failed_while_moving_may_have_been_partly_done(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A robot lost mid-aspirate (its connection dropped, it stopped answering) may have
    # drawn part of the volume: the summary gives the tip a range, as for a cut-off.
    during = {"id": 7, "type": "aspirate", "line": "p.py:8", "status": "failed",
              "touches_liquid_or_tips": True, "moving": True,
              "params": {"mount": "left", "volume": 50.0, "well": "2/C1"}}
    summary = {"ended_during": during,
               "tips_at_end": {"left": {"volume_ul": 0.0, "dropped": False}}}
    rows = dict(ended_early_rows(summary, Labels()))
    assert rows["ended during"].endswith("(p.py:8), it failed part-way: part of it may have "
                                         "been done")
    assert rows["tip on the left"] == ("between 0.0 and 50.0 µL (the aspirate was cut off), "
                                       "still on the pipette")
    # One refused before it moved (a point out of reach) did nothing.
    protocol = tmp_path / "protocol.py"
    protocol.write_text(FAILING.replace("    1 / 0\n",
                                        "    p.aspirate(50, plate['A1'].top(500))\n"))
    code, out = simulate(capsys, protocol, "--json")
    document = json.loads(out)
    assert code == 1 and document["ended_during"]["moving"] is False
    assert document["tips_at_end"]["left"]["volume_ul"] == 60.0
    code, out = simulate(capsys, protocol)
    assert code == 1 and fields(out)["ended during"].endswith(", it failed")
    assert fields(out)["tip on the left"] == "60.0 µL, dropped into the trash"


@pytest.mark.parametrize(("seconds", "shown"), [
    (12.345, "12.35 s"),
    (119.99, "2 min 0.0 s (120.0 s)"),  # never "1 min 60.0 s"
    (3659.7, "1 h 1 min 0 s (3659.7 s)"),
    (86399.9, "24 h 0 min 0 s (86399.9 s)"),
    (7322.4, "2 h 2 min 2 s (7322.4 s)"),
])
def test_the_summary_duration_is_rounded_before_it_is_split(seconds: float, shown: str) -> None:
    lines = summary_lines({"status": "succeeded", "commands": 1, "steps": 1, "tips_used": 0,
                           "pauses": [], "duration_s": seconds})
    assert [line.split(":", 1)[1].strip() for line in lines
            if line.startswith("estimated duration")] == [shown]


def test_the_wells_changed_are_named_in_deck_and_plate_order_the_rest_counted() -> None:
    from labrun.cli.calls import Labels
    from labrun.cli.closing import ended_early_rows

    volumes = {f"10/{row}{column}": 1.0 for column in (12, 11, 10, 2, 1) for row in "BA"}
    volumes.update({"2/H12": -5.0, "2/A1": -5.0, "3/A1": 0.0})  # 3/A1: unchanged
    rows = dict(ended_early_rows({"well_volumes_ul": volumes, "tips_at_end": {}}, Labels(),
                                 "the record lists"))
    assert rows["wells changed"] == (
        "12; A1 -5.0 µL, H12 -5.0 µL in slot 2; A1 +1.0 µL, B1 +1.0 µL, A2 +1.0 µL, "
        "B2 +1.0 µL, A10 +1.0 µL, B10 +1.0 µL, A11 +1.0 µL, B11 +1.0 µL, A12 +1.0 µL, "
        "B12 +1.0 µL in slot 10")
    rows = dict(ended_early_rows({"well_volumes_ul": {"4/AA1": 1.0, "4/B1": 1.0, "4/P1": 1.0},
                                  "tips_at_end": {}}, Labels()))
    assert rows["wells changed"].startswith("3; B1 +1.0 µL, P1 +1.0 µL, AA1 +1.0 µL in")
    volumes["10/C1"] = 2.0
    rows = dict(ended_early_rows({"well_volumes_ul": volumes, "tips_at_end": {}}, Labels(),
                                 "the record lists"))
    assert rows["wells changed"].endswith("A12 +1.0 µL in slot 10; 1 more (the record lists)")


def test_a_cleanup_an_interlock_held_back_is_said_with_what_it_left() -> None:
    from labrun.cli.calls import Labels
    from labrun.cli.closing import ended_early_rows

    summary = {"tips_at_end": {"left": {"volume_ul": 0.0, "dropped": False}},
               "cleanup_skipped": "the door held motion", "well_volumes_ul": {}}
    rows = dict(ended_early_rows(summary, Labels()))
    assert rows["cleanup"] == ("skipped: the door held motion; the robot was left where it "
                               "stopped, nothing was dropped or homed")
    assert rows["tip on the left"] == "no liquid, still on the pipette"


WITH_A_TIP = """metadata = {{"apiLevel": "2.15"}}
def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.pick_up_tip()
    {}
"""
"""A P300 with a tip on, a plate in slot 3, then the calls given."""


@pytest.mark.parametrize(("call", "said"), [
    ('p.dispense(50, plate["H12"])', "Dispensing into H12 of Corning 96 Well Plate 360 µL "
                                     "Flat (slot 3) (aborted on the way, before it began)"),
    ('p.mix(3, 50, plate["H12"])', "Mixing in H12 of Corning 96 Well Plate 360 µL Flat "
                                   "(slot 3) (aborted on the way, before it began)"),
])
def test_a_call_the_run_ended_on_its_way_to_its_well_is_said_as_the_call(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], call: str, said: str) -> None:
    """Aborted while moving to the well, the call never sent its liquid command: the run
    log names the call (a dispense, a mix) that did not begin, not a move to the well."""
    protocol = tmp_path / "protocol.py"
    protocol.write_text(WITH_A_TIP.format(f'p.aspirate(50, plate["A1"])\n    {call}'))
    assert main(["simulate", str(protocol), "--at", "6.5:abort"]) == 1
    log = capsys.readouterr().out.split("\nRun log\n", 1)[1].split("\n\n")[0].splitlines()
    assert log[-3] == f"[ 0:06] {said}", log


def test_a_run_that_succeeded_says_a_closing_lift_the_door_held_back(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The door opens during the run's last moves: the run succeeds, but the pipettes
    are not lifted at its end; the text summary says so, as --json does."""
    protocol = tmp_path / "protocol.py"
    protocol.write_text(WITH_A_TIP.format('p.mix(5, 50, plate["A1"])\n    p.drop_tip()'))
    assert main(["simulate", str(protocol), "--json", "--at", "13.5:door-open"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "succeeded" and doc["cleanup_skipped"] == "the door held motion"
    assert main(["simulate", str(protocol), "--at", "13.5:door-open"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith(
        "cleanup:             skipped: the door held motion; the pipettes were not lifted at "
        "the end: they stand where they stopped")


def test_a_moving_call_is_said_once_it_has_ended_and_one_a_pause_cut_after_the_resume(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # A live log (labrun run) prints each line as the event that completes it comes: the
    # drop is not said while the robot is still on its way to the trash.
    from engine.record import read_record
    from labrun.cli.report import TextLog

    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    at = midway(capsys, protocol, "dropTip", 0)
    for rehearsal in ([], ["--at", f"{at}:pause-immediate"]):
        record = tmp_path / "record.jsonl"
        code, _ = simulate(capsys, protocol, "--record", str(record), *rehearsal)
        assert code == 0
        events = read_record(record)
        log = TextLog()
        said_at = next(i for i, event in enumerate(events)
                       if any("Dropping tip" in line for line in log.feed(event)))
        drop = next(e["id"] for e in events if e.get("type") == "dropTip")
        completed = next(i for i, e in enumerate(events) if e["event"] == "command"
                         and e["id"] == drop and e["status"] == "completed")
        assert said_at == completed, events[said_at]
        if rehearsal:  # cut by the pause: the drop ended after the resume
            resumed = next(i for i, e in enumerate(events) if e["event"] == "status"
                           and e["status"] == "running" and i > 0 and any(
                               p["event"] == "park" for p in events[:i]))
            assert resumed < said_at


def test_a_tip_command_cut_off_before_it_began_is_said_to_have_done_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    protocol = tmp_path / "protocol.py"
    protocol.write_text(PROTOCOL)
    code, out = simulate(capsys, protocol, "--json")
    assert code == 0
    step = next(c["step"] for c in json.loads(out)["commands"] if c["type"] == "pickUpTip")
    # the door opens as the pick-up's step (counted from 1) begins: it never starts
    _, out = simulate(capsys, protocol, "--at", f"step={step + 1}:door-open")
    assert fields(out)["ended during"] == (
        f"Picking up tip from A1 of Opentrons OT-2 96 Tip Rack 300 µL (slot 1) "
        f"({protocol}:8), cut off before it began: nothing of it was done")
    _, out = simulate(capsys, protocol, "--at", f"step={step + 1}:door-open", "--json")
    during = json.loads(out)["ended_during"]
    assert (during["type"], during["status"], during["moving"]) == (
        "pickUpTip", "interrupted", False)


def test_a_pick_up_that_failed_as_it_pressed_into_the_tip_may_have_left_it_on() -> None:
    # A robot lost mid pick-up: the tip may be on, and the words say the pick-up failed.
    during = {"id": 3, "type": "pickUpTip", "line": "p.py:6", "status": "failed",
              "touches_liquid_or_tips": True, "moving": True,
              "params": {"mount": "left", "well": "1/A1"}}
    summary = {"ended_during": during, "tips_at_end": {
        "left": {"volume_ul": 0.0, "dropped": False, "uncertain": True}}}
    rows = dict(ended_early_rows(summary, Labels()))
    assert rows["tip on the left"] == ("perhaps (its pick-up failed), still on the pipette if "
                                       "it was on")


@pytest.mark.parametrize(("call", "said"), [
    ('ctx.pause("take out the strip")', "Pausing: take out the strip"),
    ("ctx.pause()", "Pausing"),
])
def test_a_protocol_pause_a_halt_cut_off_is_said_as_the_log_says_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], call: str, said: str) -> None:
    # It was "Wait for resume", the command's name, beside the log's "Pausing: ..." line.
    protocol = tmp_path / "protocol.py"
    protocol.write_text(f'''
metadata = {{"apiLevel": "2.15"}}

def run(ctx):
    ctx.delay(seconds=5)
    {call}
    ctx.delay(seconds=5)
''')
    code, out = simulate(capsys, protocol, "--at=5.1:halt")
    assert code == 1
    assert fields(out)["ended during"] == f"{said} ({protocol}:6), cut off"
