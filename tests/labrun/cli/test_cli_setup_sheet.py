"""The setup sheet ``labrun simulate`` prints first and puts in ``--json``: the deck, tips
per rack, the liquid each source well must hold, the timeline of delays and pauses."""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
import textwrap
from pathlib import Path

import pytest

from labrun.cli import setup_sheet
from labrun.cli.main import main

PROTOCOL = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    pcr = ctx.load_labware("biorad_96_wellplate_200ul_pcr", 1, label="samples")
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(100, pcr["A1"], [plate["A1"], plate["A2"], plate["A3"]], new_tip="always")
    ctx.delay(minutes=2, msg="settle")
    ctx.pause("add the buffer")
    p300.transfer(50, plate["A1"], plate["B1"])
'''


def simulate(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str,
             protocol: str = PROTOCOL, status: int = 0) -> str:
    """What ``labrun simulate`` of ``protocol`` (as ``tmp_path/protocol.py``) prints; it
    exits with ``status``."""
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent(protocol))
    assert main(["simulate", str(path), *args]) == status
    return capsys.readouterr().out


def test_the_json_setup_sheet_says_what_to_put_on_the_deck(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document = json.loads(simulate(capsys, tmp_path, "--json"))
    sheet = document["setup"]
    assert [(s["slot"], [lw["name"] for lw in s["labware"]]) for s in sheet["deck"]] == [
        ("1", ["samples"]), ("2", ["Corning 96 Well Plate 360 µL Flat"]),
        ("4", ["Opentrons OT-2 96 Tip Rack 300 µL"]), ("12", ["Opentrons Fixed Trash"])]
    assert sheet["pipettes"] == [{"mount": "right", "name": "p300_single_gen2", "tip_racks": [
        {"slot": "4", "labware": "Opentrons OT-2 96 Tip Rack 300 µL", "tips": 4,
         "tips_at_start": 4, "tips_returned": 0, "tips_refilled": 0,
         "positions": ["A1", "B1", "C1", "D1"]}]}]
    assert sum(r["tips"] for p in sheet["pipettes"] for r in p["tip_racks"]) == (
        document["tips_used"])
    # A1 of the PCR plate gives 3 x 100 µL, more than its 200 µL; the plate's A1 receives
    # 100 µL before it gives 50 µL, so it need not hold anything at the start.
    assert [(w["well"], w["volume_ul"], w["capacity_ul"], w["over_capacity"])
            for w in sheet["liquids"]] == [("1/A1", 300.0, 200.0, True)]
    assert [(i["kind"], i.get("message"), i["step"]) for i in sheet["timeline"]] == [
        ("delay", "settle", 7), ("pause", "add the buffer", 8)]
    assert sheet["timeline"][0]["seconds"] == 120.0
    assert sheet["estimated_duration_s"] == pytest.approx(document["estimated_duration_s"])
    assert sheet["steps"] == document["steps"]


def test_the_liquid_of_a_plate_under_its_lid_is_said_to_go_in_the_plate(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # The sheet named the lid, the labware on top in the slot at the start, as what holds
    # the liquid, with no capacity: "Corning 96 Wellplate 360ul Lid (slot 3): A1: 250 µL".
    protocol = """
        from opentrons.protocol_api import OFF_DECK
        metadata = {"apiLevel": "2.20"}

        def run(ctx):
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
            plate.load_labware("corning_96_wellplate_360ul_lid")
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 5)
            p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            ctx.move_labware(plate.child, OFF_DECK)
            p300.transfer(250, plate["A1"], plate["A2"])
            p300.transfer(200, plate["A2"], plate["A3"])
    """
    out = simulate(capsys, tmp_path, protocol=protocol)
    assert ("  Liquids to load (the least each well must hold at the start)\n"
            "    Corning 96 Well Plate 360 µL Flat (slot 3): A1: 250.0 µL (capacity 360.0 µL)\n"
            ) in out
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=protocol))
    assert [(w["well"], w["labware"], w["capacity_ul"])
            for w in document["setup"]["liquids"]] == [
        ("3/A1", "Corning 96 Well Plate 360 µL Flat", 360.0)]


def test_the_text_sheet_comes_first_and_warns_of_an_overfull_well(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out = simulate(capsys, tmp_path)
    sheet = out.split("\nRun log\n")[0].splitlines()
    assert sheet[:6] == [
        "Setup", "  Deck", "    slot 1   samples (Bio-Rad 96 Well Plate 200 µL PCR)",
        "    slot 2   Corning 96 Well Plate 360 µL Flat",
        "    slot 4   Opentrons OT-2 96 Tip Rack 300 µL", "    slot 12  Opentrons Fixed Trash"]
    assert "    right  p300_single_gen2: 4 tips from slot 4" in sheet
    assert "    samples (slot 1): A1: 300.0 µL (capacity 200.0 µL)" in sheet
    assert "      WARNING: A1 needs 300.0 µL, more than it holds (200.0 µL)" in sheet
    timeline = sheet[sheet.index(next(s for s in sheet if s.startswith("  Timeline"))):]
    assert [line.strip().split("  ", 1)[-1] for line in timeline[1:]] == [
        "start", "step 7: delay of 2 min: settle",
        "step 8: PAUSE, the run waits for you: add the buffer", "end"]


def test_the_deck_picture_colours_sources_and_destinations(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import xml.etree.ElementTree as ET

    from labrun.cli import deck_svg

    picture = tmp_path / "deck.svg"
    document = json.loads(simulate(capsys, tmp_path, "--json", "--deck", str(picture)))
    root = ET.parse(picture).getroot()
    shapes = [e for e in root.iter() if e.tag.endswith(("circle", "rect"))]
    title = {e: "".join(t.text or "" for t in e if t.tag.endswith("title")).split(":")[0]
             for e in shapes}  # a well's name (a source's says what it holds after it)
    sources = [title[e] for e in shapes if e.get("fill") == deck_svg.SOURCE and title[e]]
    destinations = [title[e] for e in shapes if e.get("fill") == deck_svg.DESTINATION
                    and title[e]]
    assert sources == ["A1"]  # A1 of the PCR plate
    assert sorted(destinations) == ["A1", "A2", "A3", "B1"]  # the plate's A1 keeps 50 µL
    assert document["setup"]["destinations"] == ["2/A1", "2/B1", "2/A2", "2/A3"]
    texts = [e.text for e in root.iter() if e.tag.endswith("text")]
    assert "samples" in texts and "Opentrons Fixed Trash" in texts
    wells = [e for e in shapes if e.get("data-well")]
    for well in (e for e in wells if e.tag.endswith("rect")):  # each inside its slot
        slot = int(well.get("data-well", "").split("/")[0])
        x0, y0 = deck_svg.slot_origin(slot)
        x, y = float(well.get("x", 0)), float(well.get("y", 0))
        w, h = float(well.get("width", 0)), float(well.get("height", 0))
        assert x0 <= x and x + w <= x0 + deck_svg.SLOT_W + 0.1, well.get("data-well")
        assert y0 <= y and y + h <= y0 + deck_svg.SLOT_H + 0.1, well.get("data-well")


STARTING_TIP = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.starting_tip = tips["C3"]
    p.transfer(50, plate["A1"], plate.wells()[1:20], new_tip="always")
    p.pick_up_tip(tips["A12"])
    p.drop_tip()
'''


def test_the_sheet_and_the_picture_say_which_tips_a_part_used_rack_must_hold(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A rack the run starts part way into (a ``starting_tip``, a tip picked by name): the
    sheet names the positions, the picture draws them grey, the others empty."""
    import xml.etree.ElementTree as ET

    from labrun.cli import deck_svg

    picture = tmp_path / "deck.svg"
    text = simulate(capsys, tmp_path, "--deck", str(picture), protocol=STARTING_TIP)
    assert "    right  p300_single_gen2: 20 tips from slot 4: C3 to E5, A12\n" in text
    root = ET.parse(picture).getroot()
    grey = sorted((e.get("data-well") or "" for e in root.iter()
                   if e.get("fill") == deck_svg.TIP and e.get("data-well")),
                  key=lambda w: (int(w[3:]), w[2]))
    column = "ABCDEFGH"
    assert grey == [*(f"4/{r}3" for r in column[2:]), *(f"4/{r}4" for r in column),
                    *(f"4/{r}5" for r in column[:5]), "4/A12"]
    texts = [e.text for e in root.iter() if e.tag.endswith("text")]
    assert "a tip the run picks up" in texts


def test_a_custom_racks_positions_go_by_its_own_rows(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A 4-row rack of 24 tips: from A1 on is its first positions (nothing more said),
    and C2 on is C2 to B3, column by column as its definition orders them."""
    from labrun.cli.calls import standard_definition

    base = json.loads(json.dumps(standard_definition("opentrons_96_tiprack_300ul")))
    names = [f"{row}{column}" for column in range(1, 7) for row in "ABCD"]
    base["wells"] = {name: base["wells"][name] for name in names}
    base["ordering"] = [[f"{row}{column}" for row in "ABCD"] for column in range(1, 7)]
    base["groups"] = [{"metadata": {}, "wells": names}]
    base["parameters"]["loadName"] = "custom_24_tiprack"
    base["namespace"] = "custom_beta"
    labware = tmp_path / "labware"
    labware.mkdir()
    (labware / "custom_24_tiprack.json").write_text(json.dumps(base))
    said = []
    for start in ("A1", "C2"):
        text = simulate(capsys, tmp_path, "--labware-dir", str(labware), protocol=f'''
metadata = {{"apiLevel": "2.15"}}


def run(ctx):
    tips = ctx.load_labware("custom_24_tiprack", 4, namespace="custom_beta")
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.starting_tip = tips["{start}"]
    p.transfer(50, plate["A1"], plate.wells()[1:5], new_tip="always")
''')
        said += [line.strip() for line in text.splitlines() if "p300_single_gen2:" in line]
    assert said == ["right  p300_single_gen2: 4 tips from slot 4",
                    "right  p300_single_gen2: 4 tips from slot 4: C2 to B3"]


def test_a_long_labware_name_is_cut_to_its_slot_and_whole_in_its_title() -> None:
    import xml.etree.ElementTree as ET

    from labrun.cli import deck_svg

    long = "Opentrons 96 Flat Bottom Heater-Shaker Adapter with NEST 96 Well Plate 200 µL Flat"
    sheet = {"liquids": [], "destinations": [], "deck": [
        {"slot": "1", "modules": ["Heater-Shaker Module GEN1"],
         "labware": [{"load_name": "a_custom_plate", "name": long}]}]}
    root = ET.fromstring(deck_svg.svg(sheet))
    labels = {"".join(e.itertext()): e for e in root.iter() if e.tag.endswith("text")}
    assert "Heater-Shaker Module GEN1" in labels  # short: as it is
    (cut,) = [text for text in labels if text.startswith(long[:20])]
    title = next(t for t in labels[cut] if t.tag.endswith("title")).text
    assert title == long and cut == title + deck_svg.fitted(long)  # the title, then shown
    shown = deck_svg.fitted(long)  # its first words and its last, which tell it apart
    assert shown.startswith("Opentrons 96 ") and shown.endswith(" 200 µL Flat") and "…" in shown
    width = deck_svg.SLOT_W + deck_svg.GAP  # glyphs a little over half as wide as high
    size = float(labels[cut].get("font-size", 0))
    assert 5.5 <= size <= 7 and len(shown) * size * 0.56 <= width


def test_a_label_with_a_control_character_leaves_the_deck_picture_readable(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """XML allows no control character: one in a label made the whole picture one that
    a browser refuses. It is shown as \\x01, as the terminal shows it."""
    import xml.etree.ElementTree as ET

    protocol = tmp_path / "protocol.py"
    protocol.write_text('metadata = {"apiLevel": "2.15"}\n'
                        "def run(ctx):\n"
                        '    ctx.load_labware("opentrons_96_tiprack_300ul", 1, '
                        "'Tips <A&B> \\x01')\n")
    picture = tmp_path / "deck.svg"
    assert main(["simulate", str(protocol), "--deck", str(picture)]) == 0
    capsys.readouterr()
    root = ET.parse(picture).getroot()  # parses
    texts = ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("text")]
    assert any(text.startswith("Tips <A&B> \\x01") for text in texts), texts


def test_the_deck_picture_names_tip_racks_whole_so_their_volumes_tell_them_apart() -> None:
    """Two filter tip racks, 20 and 200 µL, were both drawn as "Opentrons OT-2 96 Filter
    Tip Rack 2…": a name a little too long for its slot is drawn whole, a little smaller."""
    import xml.etree.ElementTree as ET

    from labrun.cli import deck_svg

    names = ["Opentrons OT-2 96 Filter Tip Rack 20 µL", "Opentrons OT-2 96 Filter Tip Rack 200 µL",
             "Opentrons OT-2 96 Filter Tip Rack 1000 µL"]
    sheet = {"liquids": [], "destinations": [], "deck": [
        {"slot": str(slot), "modules": [], "labware": [{"load_name": f"rack{slot}", "name": name}]}
        for slot, name in enumerate(names, 4)]}
    root = ET.fromstring(deck_svg.svg(sheet))
    texts = {"".join(e.itertext()): e for e in root.iter() if e.tag.endswith("text")}
    width = deck_svg.SLOT_W + deck_svg.GAP
    for slot, name in enumerate(names, 4):
        assert name in texts, f"{name!r} is not drawn whole"
        size = float(texts[name].get("font-size", 0))
        assert 5.5 <= size <= 7 and len(name) * size * 0.56 <= width
        # its baseline leaves room for the descenders ("y", "µ") above the slot's outline
        assert float(texts[name].get("y", 0)) <= deck_svg.slot_origin(slot)[1] - 2.5


CUSTOM = '''
import json
metadata = {"apiLevel": "2.15"}

WELL = {"depth": 40, "totalLiquidVolume": 15000, "shape": "circular", "diameter": 28,
        "z": 5}


def run(ctx):
    definition = json.loads(json.dumps(ctx.load_labware("nest_12_reservoir_15ml", 5).definition))
    definition["parameters"]["loadName"] = "lab_6_tuberack_15ml"
    definition["namespace"] = "lab"
    definition["metadata"]["displayName"] = "Lab 6 Tube Rack"
    definition["wells"] = {f"{r}{c}": {**WELL, "x": 20 + 40 * (c - 1), "y": 63 - 40 * i}
                           for i, r in enumerate("AB") for c in (1, 2, 3)}
    definition["ordering"] = [["A1", "B1"], ["A2", "B2"], ["A3", "B3"]]
    tubes = ctx.load_labware_from_definition(definition, 1)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(300, tubes["A1"], tubes["B3"])
'''


def test_a_custom_labware_is_drawn_and_its_capacity_known_from_its_definition(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A labware loaded from a definition of the protocol's own is drawn as that
    definition places its wells (it was an empty slot), and its wells' capacity is known."""
    import xml.etree.ElementTree as ET

    from labrun.cli import deck_svg

    picture = tmp_path / "deck.svg"
    document = json.loads(simulate(capsys, tmp_path, "--json", "--deck", str(picture),
                                   protocol=CUSTOM))
    assert [(w["well"], w["volume_ul"], w["capacity_ul"])
            for w in document["setup"]["liquids"]] == [("1/A1", 300.0, 15000.0)]
    root = ET.parse(picture).getroot()
    drawn = {e.get("data-well"): e for e in root.iter() if e.get("data-well")}
    assert sorted(w for w in drawn if w.startswith("1/")) == [
        "1/A1", "1/A2", "1/A3", "1/B1", "1/B2", "1/B3"]
    x0, y0 = deck_svg.slot_origin(1)
    a1, b3 = drawn["1/A1"], drawn["1/B3"]
    assert (float(a1.get("cx", 0)) - x0, float(a1.get("cy", 0)) - y0) == (
        20.0, deck_svg.SLOT_H - 63)
    assert (float(b3.get("cx", 0)) - x0, float(b3.get("r", 0))) == (100.0, 4.2)
    assert a1.get("fill") == deck_svg.SOURCE and b3.get("fill") == deck_svg.DESTINATION
    assert len([w for w in drawn if w.startswith("5/")]) == 12  # a standard one as before


def test_a_custom_labware_is_named_by_its_definitions_display_name(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """As a standard labware is, and as str(labware) names it: in the deck, the log and the
    record; one that replaces a standard load name by the custom definition's name."""
    from labrun.cli.calls import standard_definition

    labware = tmp_path / "labware"
    labware.mkdir()
    for load_name, title in (("lab_24_wellplate_3400ul", "Lab 24 Well Plate"),
                             ("corning_96_wellplate_360ul_flat", "Our Corning Plate")):
        definition = json.loads(json.dumps(standard_definition(
            "corning_96_wellplate_360ul_flat")))
        definition["parameters"]["loadName"] = load_name
        definition["namespace"] = "custom_beta"
        definition["metadata"]["displayName"] = title
        (labware / f"{load_name}.json").write_text(json.dumps(definition))
    record = tmp_path / "run.jsonl"
    text = simulate(capsys, tmp_path, "--labware-dir", str(labware), "--record", str(record),
                    protocol='''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    ctx.load_labware("lab_24_wellplate_3400ul", 1, label="samples")
    plate = ctx.load_labware("lab_24_wellplate_3400ul", 2)
    ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
    ctx.comment(str(plate))
''')
    deck = text.split("  Deck\n", 1)[1].splitlines()
    assert [line.strip() for line in deck[:3]] == [
        "slot 1   samples (Lab 24 Well Plate)", "slot 2   Lab 24 Well Plate",
        "slot 3   Our Corning Plate"]
    log = [line.split("] ", 1)[1] for line in text.split("\nRun log\n", 1)[1].splitlines()
           if line.startswith("[")]
    assert log[1:5] == ["Loading samples (slot 1)", "Loading Lab 24 Well Plate (slot 2)",
                        "Loading Our Corning Plate (slot 3)", "Lab 24 Well Plate"]
    loads = [json.loads(line)["params"] for line in record.read_text().splitlines()
             if '"loadLabware"' in line and '"queued"' in line]
    assert [p["definition_name"] for p in loads] == [
        None, "Lab 24 Well Plate", "Lab 24 Well Plate", "Our Corning Plate"]


def test_the_sheet_looks_each_labware_up_once_however_many_wells_it_lists(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A definition lookup a well made sheets of big runs cost minutes: an unknown (custom)
    name searched all of Opentrons' names for a "did you mean" once for each of its wells."""
    import protocol_api.labware_definitions as definitions
    from labrun.cli import setup_sheet

    looked_up: list[str] = []
    real = definitions.get_definition

    def counting(load_name: str, *args: object, **kwargs: object) -> object:
        looked_up.append(load_name)
        return real(load_name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(definitions, "get_definition", counting)
    from labrun.cli import calls

    for cached in (getattr(calls, "_standard_definition", None), calls.display_name):
        getattr(cached, "cache_clear", lambda: None)()
    rows, columns = "ABCDEFGHIJKLMNOP", range(1, 25)
    events: list[dict[str, object]] = [
        {"event": "command", "status": "queued", "id": 0, "t": 0.0, "type": "loadLabware",
         "params": {"load_name": "my_lab_384_wellplate_100ul", "slot": "1"}},
        {"event": "command", "status": "queued", "id": 1, "t": 0.0, "type": "loadLabware",
         "params": {"load_name": "corning_96_wellplate_360ul_flat", "slot": "2"}}]
    wells = [f"1/{r}{c}" for r in rows for c in columns]
    wells += [f"2/{r}{c}" for r in rows[:8] for c in columns[:12]]
    for i, well in enumerate(wells):
        events += [{"event": "command", "status": "queued", "id": 2 + i, "t": 1.0 + i,
                    "type": "aspirate", "params": {"well": well, "volume": 10.0}},
                   {"event": "command", "status": "completed", "id": 2 + i, "t": 1.5 + i}]
    sheet = setup_sheet.build(events)
    assert len(sheet["liquids"]) == 384 + 96
    capacities = {(w["slot"], w["capacity_ul"]) for w in sheet["liquids"]}
    assert capacities == {("1", None), ("2", 360.0)}  # custom labware: nothing to compare
    assert looked_up.count("corning_96_wellplate_360ul_flat") == 1
    assert "my_lab_384_wellplate_100ul" not in looked_up  # no "did you mean" search at all


def test_simulate_builds_its_output_as_the_run_goes_and_never_reads_its_record(
        capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing a long run's record and reading it back cost as much as a fifth of the run:
    the sheet, the document and the text log are the ones the record gives, built from
    the live events; the record is written only where --record asks, and never read."""
    from engine.record import read_record
    from labrun.cli import history, setup_sheet
    from labrun.cli.report import TextLog

    record = tmp_path / "run.jsonl"
    readings: list[str] = []
    real_open = Path.open

    def counting(path: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        if path == record and "r" in mode:
            readings.append(mode)
        return real_open(path, mode, *args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", counting)

    def simulated(*args: str) -> str:  # and the record not opened for reading meanwhile
        before = len(readings)
        out = simulate(capsys, tmp_path, *args)
        assert len(readings) == before, "simulate read its record back"
        return out

    document = json.loads(simulated("--json", "--record", str(record)))
    assert document["setup"] == setup_sheet.build(read_record(record))
    assert document["setup"]["timeline"] and document["setup"]["liquids"]
    from_record = io.StringIO()
    history.write_json(read_record(record), from_record, {"setup": document["setup"]})
    assert document == json.loads(from_record.getvalue())  # every command, in order
    assert len(document["commands"]) > 10
    for verbosity in ((), ("-v",), ("-vv",)):
        text = simulated("--record", str(record), *verbosity)
        log = TextLog(len(verbosity) and len(verbosity[0]) - 1, step_words=False)
        lines = [line for event in read_record(record) for line in log.feed(event)]
        lines += log.finish()
        logged = text.split("\nRun log\n", 1)[1].splitlines()
        assert logged[:len(lines)] == lines and len(lines) > 5  # then the summary
    written = {p.name for p in tmp_path.iterdir()}
    simulated()
    assert {p.name for p in tmp_path.iterdir()} == written  # no record file without --record
    assert readings  # the test's own readings were seen


MULTI_CHANNEL = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    reservoir = ctx.load_labware("nest_12_reservoir_15ml", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    p300.pick_up_tip()
    for column in ("A1", "A2"):
        p300.aspirate(100, reservoir["A1"])
        p300.dispense(100, plate[column])
    p300.drop_tip()
'''


def test_a_multi_channel_sheet_counts_the_first_nozzle_s_well_too(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Eight nozzles in one reservoir well take eight times the volume, and the first
    nozzle's well is a destination like the seven others: the sheet agrees with the run's
    own liquid totals (a sheet that counted only the other seven nozzles asked for 1,400
    µL where the run takes 1,600)."""
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=MULTI_CHANNEL))
    sheet = document["setup"]
    assert [(w["well"], w["volume_ul"]) for w in sheet["liquids"]] == [("1/A1", 1600.0)]
    assert document["well_volumes_ul"]["1/A1"] == -1600.0
    assert sheet["destinations"] == [f"2/{row}{column}" for column in (1, 2)
                                     for row in "ABCDEFGH"]
    assert sorted(sheet["destinations"]) == sorted(
        well for well, volume in document["well_volumes_ul"].items() if volume > 0)


WHAT_MOVED = '''
metadata = {"apiLevel": "2.13"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    p300.aspirate(50, plate["A1"])
    p300.dispense(60, plate["A2"])  # before apiLevel 2.17: the 50 µL in the tip leave
    p300.aspirate(60, plate["A2"])  # so A2 must hold 10 µL at the start
    p300.dispense(30, plate["A3"])
    p300.blow_out(plate["A3"])  # the other 30 µL land in A3 too
    p300.aspirate(60, plate["A3"])  # so A3 need hold nothing
    p300.drop_tip()
'''


def test_the_sheet_counts_the_liquid_that_moved_not_the_volume_asked(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A dispense of more than the tip holds gives the well only what was in the tip, and
    a blow-out gives it what was left: the sheet follows the run's own totals (it once
    read the volumes asked, and said A2 needed nothing and A3 needed 30 µL)."""
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=WHAT_MOVED))
    assert [(w["well"], w["volume_ul"]) for w in document["setup"]["liquids"]] == [
        ("2/A1", 50.0), ("2/A2", 10.0)]
    assert {w: v for w, v in document["well_volumes_ul"].items() if v} == {
        "2/A1": -50.0, "2/A2": -10.0}


AIR_GAPS = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    p300.aspirate(20, plate["A1"])
    p300.air_gap(10)
    p300.dispense(30, plate["A2"])  # 10 µL of air, then the 20 µL of liquid
    p300.aspirate(30, plate["A2"])  # so A2 must hold 10 µL at the start
    p300.air_gap(10)
    p300.blow_out(plate["A3"])  # the 30 µL of liquid, and the air
    p300.aspirate(20, plate["A4"])
    p300.air_gap(10)
    p300.drop_tip()  # the air goes with the tip
    p300.pick_up_tip()
    p300.aspirate(40, plate["A5"])
    p300.dispense(40, plate["A6"])
    p300.aspirate(40, plate["A6"])  # A6 holds 40: nothing to load
    p300.drop_tip()
'''


def test_the_sheet_and_the_totals_count_no_air_as_liquid(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """An air gap's air leaves the tip first and lands in no well's count: the sheet once
    counted it into the well it was dispensed into, and said A2 needed nothing."""
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=AIR_GAPS))
    assert [(w["well"], w["volume_ul"]) for w in document["setup"]["liquids"]] == [
        ("2/A1", 20.0), ("2/A2", 10.0), ("2/A4", 20.0), ("2/A5", 40.0)]
    assert {w: v for w, v in document["well_volumes_ul"].items() if v} == {
        "2/A1": -20.0, "2/A2": -10.0, "2/A3": 30.0, "2/A4": -20.0, "2/A5": -40.0}


LEADING_AIR_GAP = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    p300.move_to(plate["A1"].top())
    p300.air_gap(10)  # air first: the liquid drawn next is nearer the tip's end
    p300.aspirate(30, plate["A1"])
    p300.dispense(30, plate["A2"])  # the 30 µL of liquid; the air stays in the tip
    p300.aspirate(30, plate["A2"])  # all A2 was given: nothing to load there
    p300.dispense(30, plate["A3"])
    p300.blow_out(plate["A4"])  # only the air is left
    p300.drop_tip()
'''


def test_liquid_drawn_after_an_air_gap_leaves_the_tip_before_the_air(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A tip lets out first what it drew last: the sheet and the totals once took an air
    gap's air as leaving first wherever it was in the tip, so a leading air gap made A2
    get 20 µL (and need 10 µL at the start) and A4's blow-out of air give it 10 µL."""
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=LEADING_AIR_GAP))
    assert [(w["well"], w["volume_ul"]) for w in document["setup"]["liquids"]] == [
        ("2/A1", 30.0)]
    assert {w: v for w, v in document["well_volumes_ul"].items() if v} == {
        "2/A1": -30.0, "2/A3": 30.0}


TIPS_AGAIN = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_multi_gen2", "left", tip_racks=[tips])
    for _ in range(3):  # the same column's tips, returned and picked up again
        p300.pick_up_tip(tips["A1"])
        p300.aspirate(50, plate["A1"])
        p300.dispense(50, plate["A2"])
        p300.return_tip()
    p300.pick_up_tip(tips["A2"])
    p300.drop_tip()
    ctx.pause("Put a fresh column of tips in column 2")
    p300.reset_tipracks()
    p300.pick_up_tip(tips["A2"])
    p300.drop_tip()
'''


def test_a_rack_whose_tips_are_picked_up_again_is_asked_for_each_tip_once(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """What a rack must hold at the start is every position the run picks from; the tips
    picked up over the run can be more (tips returned and used again, or a rack refilled
    at a pause). The sheet once asked for "32 tips from slot 4" of this run; it says
    which: put back, or picked up after a refill (a tip dropped in the trash is gone)."""
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=TIPS_AGAIN))
    assert document["setup"]["pipettes"][0]["tip_racks"] == [
        {"slot": "4", "labware": "Opentrons OT-2 96 Tip Rack 300 µL", "tips": 40,
         "tips_at_start": 16, "tips_returned": 16, "tips_refilled": 8,
         "positions": [f"{row}{column}" for column in (1, 2) for row in "ABCDEFGH"]}]
    assert document["tips_used"] == 40
    sheet = simulate(capsys, tmp_path, protocol=TIPS_AGAIN).split("\nRun log\n")[0].splitlines()
    assert "    left   p300_multi_gen2: 16 tips in slot 4 (40 picked up: 8 from places " \
        "emptied earlier, to refill; 16 put back and picked up again)" in sheet


FRONT_START = '''
from opentrons.protocol_api import PARTIAL_COLUMN, SINGLE
metadata = {"apiLevel": "2.20"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 5)
    p = ctx.load_instrument("p300_multi_gen2", "left")
    p.configure_nozzle_layout(PARTIAL_COLUMN, start="H1", end="E1", tip_racks=[tips])
    p.pick_up_tip()  # the front nozzle at D1: A1 to D1
    p.drop_tip()
    p.configure_nozzle_layout(SINGLE, start="H1", tip_racks=[tips])
    p.transfer(20, plate["D6"], plate["H12"])  # E1
    p.transfer(20, plate["C6"], plate["G12"])  # F1
'''


def test_a_partial_layout_from_the_front_nozzle_is_asked_for_the_tips_it_takes(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A front start takes the rows behind the well its nozzle goes to: A1 to F1 are six
    tips. The sheet counted forward from D1 (D1 to G1), found four, and said tips had been
    returned."""
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=FRONT_START))
    assert document["setup"]["pipettes"][0]["tip_racks"] == [
        {"slot": "1", "labware": "Opentrons OT-2 96 Tip Rack 300 µL", "tips": 6,
         "tips_at_start": 6, "tips_returned": 0, "tips_refilled": 0,
         "positions": ["A1", "B1", "C1", "D1", "E1", "F1"]}]


TUBES = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_1000ul", 4)
    tubes = ctx.load_labware("opentrons_10_tuberack_falcon_4x50ml_6x15ml_conical", 2,
                             label="tubes")
    big = ctx.load_labware("nest_1_reservoir_195ml", 3)
    p = ctx.load_instrument("p1000_single_gen2", "right", tip_racks=[tips])
    p.transfer(5000, tubes["A1"], big["A1"])
    p.transfer(20000, tubes["A3"], big["A1"])
'''


def test_a_rack_of_tubes_of_two_sizes_gives_each_tube_its_own_capacity(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A3 is a 50 mL tube: the sheet gave the rack its first tube's 15 mL, so 20 mL read
    as more than A3 holds (with no warning)."""
    sheet = simulate(capsys, tmp_path, protocol=TUBES).split("\nRun log\n")[0]
    assert ("    tubes (slot 2): A1: 5000.0 µL (capacity 15000.0 µL), A3: 20000.0 µL "
            "(capacity 50000.0 µL)\n") in sheet
    assert "WARNING" not in sheet


SWAPPED_ON_THE_BLOCK = '''
from opentrons.protocol_api import OFF_DECK
metadata = {"apiLevel": "2.16"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    block = ctx.load_adapter("opentrons_96_well_aluminum_block", 2)
    a = block.load_labware("opentrons_96_wellplate_200ul_pcr_full_skirt", label="pcrA")
    res = ctx.load_labware("nest_12_reservoir_15ml", 3, label="res")
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.transfer(30, a["A1"], res["A1"])
    ctx.move_labware(a, 5)
    b = block.load_labware("biorad_96_wellplate_200ul_pcr", label="pcrB")
    p.transfer(60, b["H12"], res["A2"])
    ctx.move_labware(b, OFF_DECK)
    ctx.move_labware(a, block)
    p.transfer(10, a["A2"], res["A3"])
'''


def test_a_plate_loaded_on_an_adapter_another_has_left_is_brought_in_later(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """pcrA leaves the block, pcrB is loaded on it: pcrB is not there at the start (the
    sheet stacked pcrB on pcrA in slot 2 and asked pcrB for pcrA's liquid)."""
    sheet = simulate(capsys, tmp_path, protocol=SWAPPED_ON_THE_BLOCK).split("\nRun log\n")[0]
    lines = sheet.splitlines()
    assert ("    slot 2   pcrA (Opentrons Tough 96 Well Plate 200 µL PCR Full Skirt) on "
            "Opentrons 96 Well Aluminum Block") in lines
    assert "    off deck pcrB (Bio-Rad 96 Well Plate 200 µL PCR)" in lines
    assert "    pcrA (slot 2): A1: 30.0 µL, A2: 10.0 µL (capacity 200.0 µL)" in lines
    assert "    pcrB (off the deck): H12: 60.0 µL (capacity 200.0 µL)" in lines
    assert any("step 9: BY HAND" in line and "Put pcrB in slot 2" in line for line in lines)


DECLARED = '''
metadata = {"apiLevel": "2.22"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    res = ctx.load_labware("nest_12_reservoir_15ml", 3, label="res")
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2, label="plate")
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    buffer = ctx.define_liquid("buffer", "PBS", "#0000ff")
    sample = ctx.define_liquid("sample", "", "#ff0000")
    res["A1"].load_liquid(buffer, 5000)
    plate.load_liquid(["A1", "B1"], 100, sample)
    plate.load_empty(["C1"])
    plate.load_liquid_by_well({"E1": 20, "F1": 30}, sample)
    p.transfer(150, plate["A1"], plate["D1"])
    p.transfer(50, res["A1"], plate["C1"])
'''


def test_the_liquids_a_protocol_loads_are_named_and_a_shortfall_is_warned_of(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """load_liquid was kept on the wells and shown nowhere: B1 (100 µL of sample that the
    run never draws) was not asked for, and A1 was asked for 150 µL with no word that the
    protocol loads only 100 µL there."""
    out = simulate(capsys, tmp_path, "--deck", str(tmp_path / "deck.svg"), protocol=DECLARED)
    sheet, log = out.split("\nRun log\n")
    assert ("    plate (slot 2): A1: 150.0 µL of sample, B1: 100.0 µL of sample, E1: 20.0 µL "
            "of sample,\n      F1: 30.0 µL of sample (capacity 360.0 µL)\n      WARNING: A1 "
            "needs 150.0 µL, more than the 100.0 µL of sample the protocol loads there\n"
            "    res (slot 3): A1: 5000.0 µL of buffer (capacity 15000.0 µL)\n") in sheet
    assert [line[8:] for line in log.splitlines()[5:9]] == [
        "A1 of res starts with 5000.0 µL of buffer",
        "A1, B1 of plate start with 100.0 µL each of sample",
        "C1 of plate starts empty",
        "plate starts with sample: E1 20.0 µL, F1 30.0 µL"]
    picture = (tmp_path / "deck.svg").read_text()
    assert 'data-well="2/B1"' in picture
    b1 = picture[picture.index('data-well="2/B1"') - 200:picture.index('data-well="2/B1"') + 200]
    assert "#ff0000" in b1  # drawn in its liquid's display colour
    events = [e for e in read_record_of(capsys, tmp_path) if e.get("type") == "loadLiquid"]
    assert [e["params"]["liquid"] for e in events] == ["buffer", "sample", None, "sample"]


def test_a_well_the_protocol_says_starts_empty_but_the_run_draws_from_is_warned_of(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = DECLARED.replace('p.transfer(50, res["A1"], plate["C1"])',
                                'p.transfer(50, plate["C1"], res["A1"])')
    sheet = simulate(capsys, tmp_path, protocol=protocol).split("\nRun log\n")[0]
    assert ("    plate (slot 2): A1: 150.0 µL of sample, B1: 100.0 µL of sample, C1: 50.0 µL, "
            "E1: 20.0 µL of sample,\n      F1: 30.0 µL of sample (capacity 360.0 µL)") in sheet
    assert "      WARNING: C1 needs 50.0 µL, but the protocol says it starts empty" in sheet


def read_record_of(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> list[dict]:
    """The run record of ``DECLARED`` simulated with ``--record``."""
    record = tmp_path / "run.jsonl"
    simulate(capsys, tmp_path, "--record", str(record), protocol=DECLARED)
    return [json.loads(line) for line in record.read_text().splitlines()]


PCR = '''
metadata = {"apiLevel": "2.16"}


def run(ctx):
    tc = ctx.load_module("thermocycler module gen2")
    tc.load_labware("nest_96_wellplate_100ul_pcr_full_skirt")
    tc.close_lid()
    tc.set_lid_temperature(105)
    tc.set_block_temperature(95, hold_time_seconds=180, block_max_volume=20)
    tc.execute_profile(steps=[{"temperature": 95, "hold_time_seconds": 15},
                              {"temperature": 60, "hold_time_seconds": 30}],
                       repetitions=30, block_max_volume=20)
    tc.set_block_temperature(4)
    tc.open_lid()
    ctx.pause("take the plate")
'''


def test_the_timeline_shows_the_module_calls_that_take_a_minute_or_more(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=PCR))
    timeline = document["setup"]["timeline"]
    assert [(i["kind"], i["step"]) for i in timeline] == [
        ("module", 5), ("module", 6), ("module", 7), ("pause", 10)]
    lid, block, profile, _ = timeline
    assert lid["call"] == ("Thermocycler: set target lid temperature (to 105 °C) and wait "
                           "for it")
    assert block["seconds"] > 180  # its ramp, then its hold
    assert profile["call"] == ("Thermocycler: run profile 95 °C for 15 s, 60 °C for 30 s "
                               "(repetitions 30, block max volume 20 µL)")
    assert profile["seconds"] > 30 * 45  # 30 cycles of 45 s holds, and the ramps
    assert profile["t"] == pytest.approx(block["t"] + block["seconds"])
    out = simulate(capsys, tmp_path, protocol=PCR)
    assert f"step 7: {profile['call']}, " in out.split("Run log")[0]


VERSIONED = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    old = ctx.load_labware("usascientific_12_reservoir_22ml", 1)
    new = ctx.load_labware("usascientific_12_reservoir_22ml", 2, version=4)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(100, old["A1"], new["A1"])
'''


def test_a_standard_labware_is_drawn_as_the_version_the_protocol_loaded(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A reservoir whose wells version 4 moved (by 0.4 to 0.7 mm): the version this
    apiLevel loads (1) is drawn where it has them (it was drawn as the newest one), beside
    version 4 loaded by name."""
    import xml.etree.ElementTree as ET

    from labrun.cli import deck_svg
    from protocol_api.labware_definitions import get_definition

    picture = tmp_path / "deck.svg"
    document = json.loads(simulate(capsys, tmp_path, "--json", "--deck", str(picture),
                                   protocol=VERSIONED))
    versions = {d["slot"]: [lw.get("version") for lw in d["labware"]]
                for d in document["setup"]["deck"]}
    default = get_definition("usascientific_12_reservoir_22ml", api_version=(2, 15))
    assert versions["1"] == [default["version"]] == [1] and versions["2"] == [4]
    root = ET.parse(picture).getroot()
    drawn = {e.get("data-well"): e for e in root.iter() if e.get("data-well")}
    fourth = get_definition("usascientific_12_reservoir_22ml", version=4)
    assert default["wells"]["A1"]["x"] != fourth["wells"]["A1"]["x"]
    for slot, definition in ((1, default), (2, fourth)):
        x0, _ = deck_svg.slot_origin(slot)
        a1, shape = definition["wells"]["A1"], drawn[f"{slot}/A1"]  # a rectangle
        assert (float(shape.get("x", 0)), float(shape.get("width", 0))) == (
            round(x0 + a1["x"] - a1["xDimension"] / 2, 1), round(a1["xDimension"], 1))


def test_a_standard_labware_is_named_as_the_version_the_protocol_loaded(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Versions 1 to 3 of the NEST deep-well plate say "2mL", 4 and 5 "2 mL": apiLevel
    2.15 loads version 2, and the sheet and the log name it so (they said "2 mL")."""
    protocol = PROTOCOL.replace('"corning_96_wellplate_360ul_flat", 2',
                                '"nest_96_wellplate_2ml_deep", 2')
    out = simulate(capsys, tmp_path, protocol=protocol)
    assert "slot 2   NEST 96 Deep Well Plate 2mL\n" in out
    assert "A1 of NEST 96 Deep Well Plate 2mL (slot 2)" in out
    assert "2 mL" not in out


MOVES = '''
from opentrons.protocol_api import OFF_DECK
metadata = {"apiLevel": "2.20"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    spare = ctx.load_labware("opentrons_96_tiprack_300ul", OFF_DECK, label="spare tips")
    source = ctx.load_labware("nest_12_reservoir_15ml", 2)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(50, source["A1"], plate["A1"])
    ctx.move_labware(tips, OFF_DECK)
    ctx.move_labware(spare, 1)
    p300.tip_racks = [spare]
    ctx.move_labware(source, 5)
    p300.transfer(20, source["A1"], plate["B1"])
'''


def test_labware_moved_by_hand_is_set_up_where_it_starts_and_its_moves_are_timed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=MOVES))
    sheet = document["setup"]
    # Each labware where it is at the start: the spare rack off the deck, slot 5 empty.
    assert [(s["slot"], [lw["name"] for lw in s["labware"]]) for s in sheet["deck"]] == [
        ("1", ["Opentrons OT-2 96 Tip Rack 300 µL"]), ("2", ["NEST 12 Well Reservoir 15 mL"]),
        ("3", ["Corning 96 Well Plate 360 µL Flat"]), ("12", ["Trash Bin"]),
        ("offDeck1", ["spare tips"])]
    assert [(r["slot"], r["labware"], r["tips"]) for r in sheet["pipettes"][0]["tip_racks"]] \
        == [("1", "Opentrons OT-2 96 Tip Rack 300 µL", 1), ("offDeck1", "spare tips", 1)]
    # The reservoir's A1 gives 50 µL in slot 2 and 20 µL in slot 5: 70 µL at the start.
    assert [(w["well"], w["volume_ul"]) for w in sheet["liquids"]] == [("2/A1", 70.0)]
    assert sheet["destinations"] == ["3/A1", "3/B1"]
    assert [(i["kind"], i["message"], i["step"]) for i in sheet["timeline"]] == [
        ("move", "Take Opentrons OT-2 96 Tip Rack 300 µL off the deck (from slot 1), then "
                 "resume", 8),
        ("move", "Put spare tips in slot 1, then resume", 9),
        ("move", "Move NEST 12 Well Reservoir 15 mL from slot 2 to slot 5, then resume", 10)]
    out = simulate(capsys, tmp_path, protocol=MOVES)
    assert "    off deck spare tips (Opentrons OT-2 96 Tip Rack 300 µL)\n" in out
    assert "right  p300_single_gen2: 1 tip from slot 1, 1 tip from the rack off the deck " \
           "at the start\n" in out
    assert "NEST 12 Well Reservoir 15 mL (slot 2): A1: 70.0 µL" in out
    assert ("step 9: MOVE BY HAND, the run waits for you: Put spare tips in slot 1, then "
            "resume\n") in out
    assert ("] Pausing for a move by hand: Move NEST 12 Well Reservoir 15 mL from slot 2 to "
            "slot 5, then resume\n") in out
    assert ("] Transferring 20.0 µL from A1 of NEST 12 Well Reservoir 15 mL (slot 5) to B1 "
            "of Corning 96 Well Plate 360 µL Flat (slot 3)\n") in out


def test_the_log_says_what_del_deck_took_away_and_names_plates_off_the_deck(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = '''
from opentrons.protocol_api import OFF_DECK
metadata = {"apiLevel": "2.20"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    first = ctx.load_labware("corning_96_wellplate_360ul_flat", 2, label="first")
    second = ctx.load_labware("corning_96_wellplate_360ul_flat", 3, label="second")
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(50, first["A1"], second["A1"])
    del ctx.deck["2"]
    ctx.move_labware(second, OFF_DECK)
    p300.transfer(50, first["B1"], second["B1"])  # refused: off the deck
'''
    out = simulate(capsys, tmp_path, protocol=protocol, status=1)
    assert "] Taking first off the deck (del ctx.deck['2'])\n" in out
    assert ("wells changed:       2; A1 -50.0 µL in first (off the deck); A1 +50.0 µL in "
            "second (off the deck)\n") in out


def test_the_log_says_what_a_labware_loaded_into_slot_12_below_2_14_took_the_place_of(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = '''
metadata = {"apiLevel": "2.13"}


def run(ctx):
    ctx.load_labware("nest_1_reservoir_195ml", 12)
'''
    out = simulate(capsys, tmp_path, protocol=protocol)
    assert "] Loading NEST 1 Well Reservoir 195 mL (slot 12) in place of Opentrons Fixed " \
           "Trash\n" in out


@pytest.mark.parametrize("level", ["2.13", "2.15"])
def test_a_plate_loaded_where_one_was_deleted_is_not_on_the_deck_at_the_start(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, level: str) -> None:
    # The deck at the start holds the old plate; the new one comes when the protocol
    # loads it, and nothing pauses for either change (it read "new plate on old plate",
    # with both plates' liquid in one well).
    protocol = f'''
metadata = {{"apiLevel": "{level}"}}


def run(ctx):
    old = ctx.load_labware("corning_96_wellplate_360ul_flat", 1, label="old plate")
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 3)
    dest = ctx.load_labware("corning_96_wellplate_360ul_flat", 2, label="dest")
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(20, old["A1"], dest["A1"])
    del ctx.deck["1"]
    new = ctx.load_labware("corning_96_wellplate_360ul_flat", 1, label="new plate")
    p300.transfer(10, new["A1"], dest["A2"])
'''
    sheet = json.loads(simulate(capsys, tmp_path, "--json", protocol=protocol))["setup"]
    assert [(s["slot"], [lw["name"] for lw in s["labware"]]) for s in sheet["deck"]] == [
        ("1", ["old plate"]), ("2", ["dest"]), ("3", ["Opentrons OT-2 96 Tip Rack 300 µL"]),
        ("12", ["Opentrons Fixed Trash"]), ("offDeck1", ["new plate"])]
    assert [(w["labware"], w["well"], w["volume_ul"]) for w in sheet["liquids"]] == [
        ("old plate", "1/A1", 20.0), ("new plate", "offDeck1/A1", 10.0)]
    assert [(i["kind"], i["message"]) for i in sheet["timeline"]] == [
        ("unpaused", "Take old plate away from slot 1 (the protocol deletes it from the deck)"),
        ("unpaused", "Put new plate in slot 1 (the protocol loads it where a labware has left)")]
    out = simulate(capsys, tmp_path, protocol=protocol)
    assert ": BY HAND, but the run does not pause for it: Put new plate in slot 1" in out


def test_a_module_deleted_and_loaded_again_is_one_module_and_its_plate_is_taken_away(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A library protocol's swap of plates on a magnetic module (before apiLevel 2.14):
    # del the module's slot, load the module again with the other plate on it.
    protocol = '''
metadata = {"apiLevel": "2.13"}


def run(ctx):
    mag = ctx.load_module("magnetic module gen2", 4)
    deep = mag.load_labware("nest_96_wellplate_2ml_deep", label="deep")
    del ctx.deck["4"]
    mag = ctx.load_module("magnetic module gen2", 4)
    pcr = mag.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", label="pcr")
'''
    sheet = json.loads(simulate(capsys, tmp_path, "--json", protocol=protocol))["setup"]
    assert [(s["slot"], [lw["name"] for lw in s["labware"]], s["modules"])
            for s in sheet["deck"]] == [
        ("4", ["deep"], ["Magnetic Module GEN2"]),
        ("12", ["Opentrons Fixed Trash"], []), ("offDeck1", ["pcr"], [])]
    assert [(i["kind"], i["message"]) for i in sheet["timeline"]] == [
        ("unpaused", "Take deep away from slot 4 (the protocol deletes it from the deck)"),
        ("unpaused", "Put pcr in slot 4 (the protocol loads it where a labware has left)")]


def test_a_run_ended_in_a_move_by_hand_says_so_and_names_the_plate_where_it_stood(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    protocol = '''
metadata = {"apiLevel": "2.20"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2, label="samples")
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    p300.aspirate(10, plate["A1"])
    ctx.move_labware(plate, 5)
    p300.dispense(10, plate["A1"])
'''
    out = simulate(capsys, tmp_path, "--at", "8:abort", protocol=protocol, status=1)
    path = tmp_path / "protocol.py"  # aborted in the move's pause
    assert (f"ended during:        Pausing for a move by hand: Move samples from slot 2 to "
            f"slot 5, then resume ({path}:11), cut off: the labware may or may not have "
            "been moved; the run took it as not\n") in out
    assert "wells changed:       1; A1 -10.0 µL in samples (slot 2)\n" in out


LOADED_LATE = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2, label="samples")
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(50, plate["A1"], plate["B1"])
    ctx.move_labware(plate, 5)
    buffer = ctx.load_labware("nest_12_reservoir_15ml", 2, label="buffer")
    p300.transfer(100, buffer["A1"], plate["C1"])
    del ctx.deck["2"]
    p300.transfer(20, plate["C1"], plate["D1"])
'''


def test_the_deck_picture_shows_labware_loaded_late_and_where_labware_moved(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """The deck at the start, then after each change: the plate in slot 5, the buffer
    loaded after liquid moved where the plate had left (it was drawn nowhere), then
    taken away. Wells keep their names from the start, as the liquids name them."""
    import xml.etree.ElementTree as ET

    from labrun.cli import deck_svg

    picture = tmp_path / "deck.svg"
    sheet = json.loads(simulate(capsys, tmp_path, "--json", "--deck", str(picture),
                                protocol=LOADED_LATE))["setup"]
    assert [(w["labware"], w["well"]) for w in sheet["liquids"]] == [
        ("samples", "2/A1"), ("buffer", "offDeck1/A1")]
    root = ET.parse(picture).getroot()
    texts = ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("text")]
    assert [t for t in texts if t.startswith(("At ", "After "))] == [
        "At the start", "After steps 6\N{EN DASH}7", "After step 9"]
    assert [t for t in texts if t in ("samples", "buffer")] == [
        "samples", "buffer", "samples", "samples"]  # deck by deck, slot by slot
    shapes = {}  # each deck's wells: data-well -> (its fill, the slot it is drawn in)
    for element in root.iter():
        if element.get("data-well"):
            x = float(element.get("cx") or element.get("x") or 0)
            y = float(element.get("cy") or element.get("y") or 0)
            deck = int(x // deck_svg.DECK_W)
            slot = next(n for n in range(1, 13) if _inside(deck_svg.slot_origin(
                n, deck * deck_svg.DECK_W, deck_svg.TITLE_H), x, y))
            shapes.setdefault(deck, {})[element.get("data-well")] = (element.get("fill"), slot)
    assert shapes[0]["2/A1"] == (deck_svg.SOURCE, 2) and "offDeck1/A1" not in shapes[0]
    assert shapes[1]["2/A1"] == (deck_svg.SOURCE, 5)  # the plate moved to slot 5
    assert shapes[1]["2/C1"] == (deck_svg.DESTINATION, 5)
    assert shapes[1]["offDeck1/A1"] == (deck_svg.SOURCE, 2)  # the buffer, brought in
    assert "offDeck1/A1" not in shapes[2] and shapes[2]["2/D1"][1] == 5
    dashed = [(int(float(e.get("x", 0)) // deck_svg.DECK_W), e.get("x")) for e in root.iter()
              if e.tag.endswith("rect") and e.get("stroke-dasharray") and e.get("width") ==
              f"{deck_svg.SLOT_W:g}"]
    assert [deck for deck, _ in dashed] == [1, 1, 2]  # slots 2 and 5, then slot 2


def test_a_deck_that_does_not_change_is_one_deck(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from labrun.cli import deck_svg

    picture = tmp_path / "deck.svg"
    assert json.loads(simulate(capsys, tmp_path, "--json", "--deck", str(picture)))[
        "setup"]["deck_changes"] == []
    text = picture.read_text()
    assert "At the start" not in text and "stroke-dasharray" not in text
    assert f'viewBox="0 0 {deck_svg.DECK_W:g} {deck_svg.DECK_H + deck_svg.LEGEND_H:g}"' in text


def _inside(origin: tuple[float, float], x: float, y: float) -> bool:
    from labrun.cli import deck_svg

    return origin[0] <= x <= origin[0] + deck_svg.SLOT_W and \
        origin[1] <= y <= origin[1] + deck_svg.SLOT_H


OVERFILLING = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 2)
    res = ctx.load_labware("nest_12_reservoir_15ml", 3)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    buffer = ctx.define_liquid("buffer", "wash buffer", "#1f77b4")
    plate["B1"].load_liquid(buffer, 80)
    p300.transfer(60, res["A1"], plate["A1"])
    p300.transfer(60, res["A1"], plate["A1"])
    p300.transfer(100, res["A1"], plate["A2"])
    p300.transfer(30, res["A1"], plate["B1"])
    p300.transfer(90, plate["A1"], plate["A3"])
    p300.transfer(90, plate["A3"], plate["A1"])
'''


def test_wells_filled_past_their_capacity_are_named_with_the_line_that_did_it(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A1 gets 2 x 60 µL (the second transfer fills it past 100 µL), A2 exactly its 100 µL
    (not past), B1 30 µL on the 80 µL the protocol loads there; A3 gets 90 µL and gives
    it back, so A1 holds at most 120 µL."""
    sheet = json.loads(simulate(capsys, tmp_path, "--json", protocol=OVERFILLING))["setup"]
    path = tmp_path / "protocol.py"
    assert [(w["well"], w["most_ul"], w["capacity_ul"], w["line"])
            for w in sheet["overfilled"]] == [
        ("2/A1", 120.0, 100.0, f"{path}:13"), ("2/B1", 110.0, 100.0, f"{path}:15")]
    out = simulate(capsys, tmp_path, protocol=OVERFILLING)
    sheet_lines = out.split("\nRun log\n")[0].splitlines()
    assert sheet_lines[-6:-3] == [
        "  WARNING: wells filled past their capacity (liquid may spill)",
        "    NEST 96 Well Plate 100 µL PCR Full Skirt (slot 2): A1 up to 120.0 µL,",
        f"      B1 up to 110.0 µL (capacity 100.0 µL, first at {path}:13)"]


def test_a_sheet_with_no_well_filled_past_its_capacity_warns_of_none(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document = json.loads(simulate(capsys, tmp_path, "--json"))
    assert document["setup"]["overfilled"] == []
    assert "may spill" not in simulate(capsys, tmp_path)


PAUSING_IN_A_LOOP = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    ctx.pause("load the plate")
    for col in plate.columns()[:5]:
        p300.transfer(50, plate["A1"], col[1], new_tip="always")
        ctx.pause("add the reagent")
    ctx.delay(minutes=1)
    ctx.delay(minutes=1)
'''


def test_the_same_pause_again_and_again_is_one_line_of_the_timeline(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A pause in a loop is said once, with its steps (for --at step=N), how many times
    and when the last comes; two delays in a row stay two lines; --json keeps each."""
    out = simulate(capsys, tmp_path, protocol=PAUSING_IN_A_LOOP)
    sheet = out.split("\nRun log\n")[0].splitlines()
    timeline = sheet[sheet.index(next(s for s in sheet if s.startswith("  Timeline"))) + 1:]
    assert timeline == [
        "       0:00  start",
        "       0:00  step 5: PAUSE, the run waits for you: load the plate",
        "       0:11  steps 7, 9 … 15 (5 times, the last at 0:53): PAUSE, the run waits for "
        "you: add the reagent",
        "       0:54  step 16: delay of 1 min",
        "       1:54  step 17: delay of 1 min",
        "       2:54  end"]
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=PAUSING_IN_A_LOOP))
    assert [i["step"] for i in document["setup"]["timeline"]] == [5, 7, 9, 11, 13, 15, 16, 17]


SETTLING = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.pick_up_tip()
    for well in plate.wells()[1:%d]:
        p300.aspirate(50, plate["A1"])
        ctx.delay(seconds=2)  # let the liquid settle
        p300.dispense(50, well)
        ctx.delay(1)
    ctx.delay(seconds=20, msg="let the beads settle")
    ctx.delay(minutes=5)
    p300.drop_tip()
'''


def test_short_delays_are_counted_in_one_line_not_listed(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """Delays of seconds (for liquid to settle) crowded out the pauses and incubations a
    person reads the timeline for: from three on, those under a minute with no message
    are counted in one line. One with a message is listed, as are fewer than three."""
    out = simulate(capsys, tmp_path, protocol=SETTLING % 5)
    sheet = out.split("\nRun log\n")[0].splitlines()
    timeline = sheet[sheet.index(next(s for s in sheet if s.startswith("  Timeline"))) + 1:]
    assert timeline[0] == "       0:00  start"
    assert [line[13:] for line in timeline[1:3]] == [
        "step 22: delay of 20 s: let the beads settle", "step 23: delay of 5 min"]
    assert timeline[3].endswith("  end")
    assert timeline[4:] == ["             and 8 short delays between steps 7 and 21, not "
                            "listed: 1 s to 2 s each, 12 s in all"]
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=SETTLING % 5))
    assert len(document["setup"]["timeline"]) == 10  # the JSON keeps each
    out = simulate(capsys, tmp_path, protocol=SETTLING % 2)
    assert "delay of 2 s" in out and "delay of 1 s" in out and "short delays" not in out


SKIPPED = '''
metadata = {"apiLevel": "2.15"}

def run(ctx):
    ctx.comment("mix the beads")
    ctx.delay(minutes=30, msg="incubate")
    ctx.delay(seconds=40)
'''


def test_a_delay_a_rehearsal_skips_is_said_skipped_on_the_timeline(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A rehearsed skip-delay cuts the 30 minutes short: the timeline said "delay of 30 min"
    at 0:00 and the next step at 0:00 too, as if the incubation took no time by itself."""
    out = simulate(capsys, tmp_path, "--at", "step=3:skip-delay", protocol=SKIPPED)
    sheet = out.split("\nRun log\n")[0].splitlines()
    timeline = sheet[sheet.index(next(s for s in sheet if s.startswith("  Timeline"))) + 1:]
    assert timeline == ["       0:00  start",
                        "       0:00  step 3: delay of 30 min, skipped after 0 s: incubate",
                        "       0:00  step 4: delay of 40 s",
                        "       0:40  end"]
    document = json.loads(simulate(capsys, tmp_path, "--json", "--at", "step=3:skip-delay",
                                   protocol=SKIPPED))
    delays = document["setup"]["timeline"]
    assert [d.get("skipped_after_s") for d in delays] == [0.0, None]


OVERDRAWN = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
    p = ctx.load_instrument("p300_single_gen2", "left", tip_racks=[tips])
    p.pick_up_tip()
    p.transfer(100, plate["A1"], plate["A9"], new_tip="never")
    p.transfer(101.03, plate["A9"], plate["B9"], new_tip="never")
    p.transfer(30, plate["A2"], plate["A9"], new_tip="never")
    p.transfer(20, plate["A9"], plate["A3"], new_tip="never")
    p.drop_tip()
'''


def test_a_well_the_run_fills_then_overdraws_is_said_to_be(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """A9 is filled by the run and then drawn 1.03 µL past empty: it was listed as a well
    to load, as if it were a source, with no word of why."""
    sheet = simulate(capsys, tmp_path, protocol=OVERDRAWN).split("\nRun log\n")[0]
    path = tmp_path / "protocol.py"
    assert ("A1: 100.0 µL, A2: 30.0 µL, A9: 1.03 µL (capacity 360.0 µL)\n"
            "      WARNING: the run fills A9, then draws 1.03 µL more from it than it put "
            f"there ({path}:11): load that much at the start, or check the protocol's "
            "volumes\n") in sheet
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=OVERDRAWN))
    assert [(w["name"], w["drawn_past_filled_at"]) for w in document["setup"]["liquids"]] \
        == [("A1", None), ("A2", None), ("A9", f"{path}:11")]


def test_the_wells_to_fill_are_all_listed_by_volume_as_they_run_down_the_columns() -> None:
    # "A1 2.0 µL, ..., B2 5.0 µL and 6 more" hid six wells a person had to fill, and
    # "6 wells A1…C3" read as nine, column 2 included.
    assert setup_sheet.well_ranges(["A1", "B1", "C1", "A3", "B3", "C3"]) == "A1…C1 and A3…C3"
    assert setup_sheet.well_ranges([f"{r}{c}" for c in range(1, 13) for r in "ABCDEFGH"]) \
        == "columns 1 to 12 (rows A to H)"
    assert setup_sheet.well_ranges(["A1", "C1", "E1", "A5", "A6"]) == "A1, C1, E1, A5 and A6"
    assert setup_sheet.well_ranges(["A1", "A2", "A3", "A4"]) == "A1…A4"
    volumes = {"A1": 2, "B1": 3, "C1": 4, "D1": 6, "A2": 5, "B2": 5, "C2": 5, "D2": 5,
               "A3": 3, "B3": 12, "C3": 4, "D3": 3}
    protocol = textwrap.dedent(f"""
        metadata = {{"apiLevel": "2.15"}}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_20ul", 1)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2, "plate")
            out = ctx.load_labware("corning_96_wellplate_360ul_flat", 3, "out")
            p = ctx.load_instrument("p20_single_gen2", "right", tip_racks=[tips])
            for well, ul in {volumes!r}.items():
                p.transfer(ul, plate[well], out[well])
        """)
    path = Path(tempfile.mkdtemp()) / "protocol.py"
    path.write_text(protocol)
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert main(["simulate", str(path)]) == 0
    sheet = output.getvalue().split("\nRun log\n")[0]
    assert ("    plate (slot 2): A1: 2.0 µL, B1, A3 and D3: 3.0 µL each, C1 and C3: 4.0 µL each, "
            "D1: 6.0 µL, A2…D2: 5.0 µL each,\n      B3: 12.0 µL (capacity 360.0 µL)\n") in sheet


def test_a_module_call_that_sets_and_waits_says_it_waits(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # set_and_wait_for_temperature read "set target temperature (to 37 °C)", as the
    # set_target_temperature that does not wait: which steps block was not told.
    protocol = textwrap.dedent("""
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            hs = ctx.load_module("heaterShakerModuleV1", 1)
            hs.set_and_wait_for_temperature(37)
            hs.set_target_temperature(45)
            hs.wait_for_temperature()
        """)
    path = tmp_path / "protocol.py"
    path.write_text(protocol)
    assert main(["simulate", str(path)]) == 0
    sheet = capsys.readouterr().out.split("\nRun log\n")[0]
    assert "step 3: Heater-Shaker: set target temperature (to 37 °C) and wait for it, " in sheet
    assert "step 5: Heater-Shaker: wait for temperature, " in sheet


def test_an_aspirate_at_a_wells_top_draws_air_not_the_wells_liquid(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # A protocol's own air gap, aspirate(20, well.top()), was counted as 20 µL the well
    # gave: the sheet asked for more than the run takes and warned of a false shortfall.
    path = tmp_path / "protocol.py"
    path.write_text(textwrap.dedent("""
        metadata = {"apiLevel": "2.15"}

        def run(ctx):
            tips = ctx.load_labware("opentrons_96_tiprack_300ul", 1)
            res = ctx.load_labware("nest_12_reservoir_15ml", 2)
            plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 3)
            p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
            p.pick_up_tip()
            for well in plate.wells()[:4]:
                p.aspirate(20, res["A2"].top())  # air first
                p.aspirate(50, res["A2"])
                p.dispense(70, well)
            p.drop_tip()
        """))
    assert main(["simulate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "    NEST 12 Well Reservoir 15 mL (slot 2): A2: 200.0 µL (capacity 15000.0 µL)" in out
    assert "] Air gap of 20.0 µL above A2 of NEST 12 Well Reservoir 15 mL (slot 2)" in out


FAILING_HALF_WAY = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 2)
    p300 = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p300.transfer(100, plate["A1"], plate["A2"])
    ctx.delay(minutes=2)
    p300.transfer(100, plate["A3"], plate["A4"])
    p300.aspirate(10, plate["A5"])
'''


def test_a_sheet_of_a_run_that_failed_half_way_says_it_covers_only_the_part_done(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Its timeline ended "end", as a whole run's: its liquids and tips, only those of the
    # part done, read as the run's (the error came pages later, under the log).
    out = simulate(capsys, tmp_path, protocol=FAILING_HALF_WAY, status=1)
    sheet = out.split("\nRun log\n")[0].splitlines()
    assert sheet[-1].endswith(
        "  end: the run failed at " + str(tmp_path / "protocol.py") + ":12, before the "
        "protocol's end; this sheet covers only what it did up to there")
    document = json.loads(simulate(capsys, tmp_path, "--json", protocol=FAILING_HALF_WAY,
                                   status=1))
    assert document["setup"]["ended"] == {"status": "failed",
                                          "location": str(tmp_path / "protocol.py") + ":12"}


def test_a_sheet_of_a_rehearsed_stop_says_it_covers_only_the_part_done(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    sheet = simulate(capsys, tmp_path, "--at=step=6:stop",
                     protocol=FAILING_HALF_WAY).split("\nRun log\n")[0].splitlines()
    assert sheet[-1].endswith("  end: the run was stopped, before the protocol's end; this "
                              "sheet covers only what it did up to there")
    assert simulate(capsys, tmp_path, protocol=PROTOCOL).split(
        "\nRun log\n")[0].splitlines()[-1].endswith("  end")
