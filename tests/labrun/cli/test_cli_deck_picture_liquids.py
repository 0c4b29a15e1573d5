"""The deck picture (``labrun simulate --deck``) as a scientist reads it: each liquid the
protocol defines (``define_liquid``, ``load_liquid``) drawn in its display colour and
named in the legend, a light one outlined, and a source well's hover text saying what it
holds; and a labware on an adapter named with the
adapter (a module, the adapter, the labware: one a line above the slot), at the start and
after a move by hand."""

from __future__ import annotations

import json
import shutil
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from labrun.cli import deck_svg, setup_sheet
from labrun.cli.main import main

LIQUIDS = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    res = ctx.load_labware("nest_12_reservoir_15ml", 2)
    plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 1)
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    buffer = ctx.define_liquid("Lysis buffer", "lysis", display_color="#e377c2")
    water = ctx.define_liquid("Water", "nuclease-free", display_color="#ffff00")
    res["A1"].load_liquid(buffer, 10000)
    res["A2"].load_liquid(water, 10000)
    p.transfer(50, res["A1"], plate["A1"])
    p.transfer(50, res["A2"], plate["A2"])
    p.transfer(50, res["A3"], plate["A3"])  # a liquid the protocol never names
'''

ADAPTERS = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    hs = ctx.load_module("heaterShakerModuleV1", 1)
    adapter = hs.load_adapter("opentrons_96_flat_bottom_adapter")
    plate = adapter.load_labware("nest_96_wellplate_200ul_flat")
    block = ctx.load_adapter("opentrons_96_well_aluminum_block", 2)
    pcr = block.load_labware("biorad_96_wellplate_200ul_pcr")
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    hs.close_labware_latch()
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    p.transfer(20, pcr["A1"], plate["A1"])
'''

MOVED_ONTO_ADAPTER = '''
metadata = {"apiLevel": "2.15"}


def run(ctx):
    hs = ctx.load_module("heaterShakerModuleV1", 1)
    adapter = hs.load_adapter("opentrons_96_pcr_adapter")
    plate = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 5)
    res = ctx.load_labware("nest_12_reservoir_15ml", 2)
    tips = ctx.load_labware("opentrons_96_tiprack_300ul", 4)
    hs.close_labware_latch()
    p = ctx.load_instrument("p300_single_gen2", "right", tip_racks=[tips])
    dye = ctx.define_liquid("Dye", "d", display_color="#8c564b")
    res["A1"].load_liquid(dye, 5000)
    p.transfer(20, res["A1"], plate["A1"])
    hs.open_labware_latch()
    ctx.move_labware(plate, adapter)
    hs.close_labware_latch()
    p.transfer(20, res["A1"], plate["A2"])
'''

HS = "Heater-Shaker Module GEN1"
FLAT_ADAPTER = "Opentrons 96 Flat Bottom Heater-Shaker Adapter"
NEST = "NEST 96 Well Plate 200 µL Flat"


def record(tmp_path: Path, protocol: str, *args: str) -> list[dict[str, Any]]:
    """The record's events of ``labrun simulate`` of ``protocol`` (with ``args``)."""
    path, events = tmp_path / "protocol.py", tmp_path / "run.jsonl"
    path.write_text(textwrap.dedent(protocol))
    assert main(["simulate", str(path), "--record", str(events), *args]) == 0
    return [json.loads(line) for line in events.read_text(encoding="utf-8").splitlines()]


def sheet_with_colours(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The setup sheet of a run, each liquid of its ``liquids`` with the display colour its
    ``loadLiquid`` gave (``color``, where the picture reads it; kept if the sheet has it)."""
    sheet = setup_sheet.build(events)
    colours = {e["params"]["liquid"]: e["params"].get("color") for e in events
               if e.get("type") == "loadLiquid" and e.get("status") == "queued"}
    for entry in sheet["liquids"]:
        entry.setdefault("color", colours.get(entry["liquid"]))
    return sheet


def wells(root: ET.Element) -> dict[str, ET.Element]:
    return {str(e.get("data-well")): e for e in root.iter() if e.get("data-well")}


def legend(root: ET.Element) -> list[tuple[str, str | None]]:
    """The legend's liquids as drawn: each one's name and the colour of its spot."""
    return [("".join(g.itertext()), next(c for c in g if c.tag.endswith("circle")).get("fill"))
            for g in root.iter() if g.tag.endswith("}g") and g.get("class") == "liquid"]


def labels(root: ET.Element, slot: int, left: float = 0.0,
           top: float = 0.0) -> list[ET.Element]:
    """The texts above ``slot`` (in the deck at ``left``, ``top``), top line first."""
    x0, y0 = deck_svg.slot_origin(slot, left, top)
    return sorted((e for e in root.iter() if e.tag.endswith("text")
                   and e.get("text-anchor") == "middle"
                   and float(e.get("x", 0)) == x0 + deck_svg.SLOT_W / 2
                   and y0 - deck_svg.GAP < float(e.get("y", 0)) < y0),
                  key=lambda e: float(e.get("y", 0)))


def test_each_defined_liquid_is_drawn_in_its_display_colour_and_named_in_the_legend(
        tmp_path: Path) -> None:
    root = ET.fromstring(deck_svg.svg(sheet_with_colours(record(tmp_path, LIQUIDS))))
    drawn = wells(root)
    assert drawn["2/A1"].get("fill") == "#e377c2"  # Lysis buffer
    assert drawn["2/A2"].get("fill") == "#ffff00"  # Water
    # a light colour still shows on the slot's near-white: a dark outline, as each has
    for well in (drawn["2/A1"], drawn["2/A2"]):
        assert well.get("stroke") == deck_svg.LIQUID_OUTLINE
        assert float(well.get("stroke-width", 0)) >= 0.5
    # no liquid named: blue as before; the wells it goes to orange; the rest white
    assert drawn["2/A3"].get("fill") == deck_svg.SOURCE
    assert [drawn[f"1/A{n}"].get("fill") for n in (1, 2, 3)] == [deck_svg.DESTINATION] * 3
    assert drawn["2/A4"].get("fill") == deck_svg.EMPTY
    assert legend(root) == [("Lysis buffer", "#e377c2"), ("Water", "#ffff00")]
    texts = ["".join(e.itertext()) for e in root.iter() if e.tag.endswith("text")]
    assert "holds liquid at the start" in texts  # the key stays, for unnamed liquid
    _, _, width, height = (float(v) for v in root.get("viewBox", "").split())
    for g in (g for g in root.iter() if g.get("class") == "liquid"):  # inside the picture
        text = next(t for t in g if t.tag.endswith("text"))
        assert deck_svg.DECK_H < float(text.get("y", 0)) <= height - 2
        assert float(text.get("x", 0)) < width


def test_the_simulations_deck_picture_colours_its_liquids(tmp_path: Path) -> None:
    """``labrun simulate --deck`` itself: the setup sheet's ``liquids`` give each
    liquid's display colour (``color``), which the picture draws."""
    picture = tmp_path / "deck.svg"
    record(tmp_path, LIQUIDS, "--deck", str(picture))
    root = ET.parse(picture).getroot()
    assert wells(root)["2/A1"].get("fill") == "#e377c2"
    assert legend(root) == [("Lysis buffer", "#e377c2"), ("Water", "#ffff00")]


def test_a_source_wells_hover_text_says_what_it_holds_at_the_start(tmp_path: Path) -> None:
    root = ET.parse(_picture(tmp_path, LIQUIDS)).getroot()
    hover = {key: "".join(next(e for e in well if e.tag.endswith("title")).itertext())
             for key, well in wells(root).items()}
    assert hover["2/A1"] == "A1: Lysis buffer, 10000 µL at the start"  # as loaded
    assert hover["2/A3"] == "A3: at least 50 µL at the start"  # what the run takes
    assert hover["1/A1"] == "A1"  # a destination, a tip, an empty well: its name
    assert hover["4/A1"] == "A1"


def _picture(tmp_path: Path, protocol: str) -> Path:
    picture = tmp_path / "deck.svg"
    record(tmp_path, protocol, "--deck", str(picture))
    return picture


def test_a_liquid_with_no_colour_a_bad_one_and_a_long_name() -> None:
    """A liquid defined with no display colour is blue; one that is not a colour is not
    written into the picture; a long name is cut in the legend, whole in its title."""
    long = "Master mix with a rather long descriptive name for the legend"
    sheet = {"destinations": [], "deck": [
        {"slot": "2", "modules": [], "labware": [{"load_name": "nest_12_reservoir_15ml",
                                                  "name": "NEST 12 Well Reservoir 15 mL"}]}],
             "liquids": [{"well": f"2/A{n}", "liquid": liquid, "color": color}
                         for n, (liquid, color) in enumerate(
                             [("Plain", None), ("Odd", '"/><script/>'), (long, "#abc")], 1)]}
    text = deck_svg.svg(sheet)
    assert "<script" not in text
    root = ET.fromstring(text)
    assert [wells(root)[f"2/A{n}"].get("fill") for n in (1, 2, 3)] == [
        deck_svg.SOURCE, deck_svg.SOURCE, "#abc"]
    (shown,) = [name for name, colour in legend(root) if colour == "#abc"]
    title = next(e for e in root.iter() if e.tag.endswith("title") and e.text == long)
    assert title is not None and shown.startswith(long + long[:20]) and shown.endswith("…")


def test_a_labware_on_an_adapter_is_named_with_the_adapter(tmp_path: Path) -> None:
    picture = tmp_path / "deck.svg"
    record(tmp_path, ADAPTERS, "--deck", str(picture))
    root = ET.parse(picture).getroot()
    lines = labels(root, 1)
    assert ["".join(e.itertext()) for e in lines] == [HS, FLAT_ADAPTER, NEST]
    assert ["".join(e.itertext()) for e in labels(root, 2)] == [
        "Opentrons 96 Well Aluminum Block", "Bio-Rad 96 Well Plate 200 µL PCR"]
    y0 = deck_svg.slot_origin(1)[1]
    for line in lines:  # in the gap above the slot, each line whole, as wide as it may be
        size, y = float(line.get("font-size", 0)), float(line.get("y", 0))
        shown = "".join(line.itertext())
        assert 5.2 <= size <= 7 and len(shown) * size * deck_svg.GLYPH <= deck_svg.LABEL_ROOM
        assert y <= y0 - 2.5 and y - 0.75 * size >= y0 - deck_svg.GAP  # capitals below
    tops = [float(e.get("y", 0)) for e in lines]  # the slot above, lines apart
    assert all(b - a >= 0.95 * float(e.get("font-size", 0))
               for a, b, e in zip(tops, tops[1:], lines[1:], strict=False))


def test_a_plate_moved_onto_an_adapter_is_named_with_it_after_the_move(
        tmp_path: Path) -> None:
    root = ET.fromstring(deck_svg.svg(sheet_with_colours(record(tmp_path,
                                                                MOVED_ONTO_ADAPTER))))
    top = deck_svg.TITLE_H
    start = ["".join(e.itertext()) for e in labels(root, 1, 0.0, top)]
    after = ["".join(e.itertext()) for e in labels(root, 1, deck_svg.DECK_W, top)]
    assert start == [HS, "Opentrons 96 PCR Heater-Shaker Adapter"]
    assert after == [HS, "Opentrons 96 PCR Heater-Shaker Adapter",
                     "NEST 96 Well Plate 100 µL PCR Full Skirt"]
    # the reservoir's dye in its colour in both decks
    assert [e.get("fill") for e in root.iter() if e.get("data-well") == "2/A1"] == [
        "#8c564b", "#8c564b"]


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_in_a_browser_the_stacked_labels_stay_in_their_gap_and_apart(tmp_path: Path) -> None:
    """Drawn by chromium: the three lines above the heater-shaker's slot, and the legend,
    lie inside the picture, each line in the gap above its slot, none on another."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("chromium is here but Playwright is not: pip install -e '.[browser]'")
    picture = tmp_path / "deck.svg"
    record(tmp_path, ADAPTERS, "--deck", str(picture))
    x0, y0 = deck_svg.slot_origin(1)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.set_content(f"<html><body>{picture.read_text(encoding='utf-8')}</body></html>")
            boxes = page.evaluate("""([x, y]) => [...document.querySelectorAll('text')]
                .filter(t => +t.getAttribute('x') === x && +t.getAttribute('y') < y
                             && +t.getAttribute('y') > y - 20)
                .map(t => { const b = t.getBBox(); return [t.textContent, b.x, b.y,
                                                           b.width, b.height]; })""",
                                  [x0 + deck_svg.SLOT_W / 2, y0])
        finally:
            browser.close()
    assert [box[0] for box in sorted(boxes, key=lambda b: b[2])] == [HS, FLAT_ADAPTER, NEST]
    for _, x, y, width, height in boxes:
        assert x0 - deck_svg.GAP / 2 <= x and x + width <= x0 + deck_svg.SLOT_W + deck_svg.GAP / 2
        assert y0 - deck_svg.GAP - 1 <= y and y + height <= y0 + 1  # the font's box: its
        # line height, a little more than the glyphs


def test_the_legends_liquids_take_a_row_below_its_key_only_when_there_are_some() -> None:
    def height(liquids: list[dict[str, Any]]) -> float:
        root = ET.fromstring(deck_svg.svg({"liquids": liquids, "destinations": [],
                                           "deck": []}))
        return float(root.get("viewBox", "").split()[3])

    unnamed = {"well": "2/A1", "liquid": None}
    named = {"well": "2/A2", "liquid": "Water", "color": "#ffff00"}
    assert height([unnamed]) == deck_svg.DECK_H + deck_svg.LEGEND_H  # as it was
    assert height([unnamed, named]) == deck_svg.DECK_H + deck_svg.LEGEND_H + 12


def test_liquids_defined_with_no_name_keep_their_colours_and_are_named_by_their_order(
        tmp_path: Path) -> None:
    # Four reagents defined with name='' were drawn in one default blue with no legend,
    # and the sheet said "the 98.0 µL of  the protocol loads there".
    unnamed = LIQUIDS.replace('"Lysis buffer", "lysis"', '"", ""').replace(
        '"Water", "nuclease-free"', '"", ""')
    events = record(tmp_path, unnamed)
    root = ET.fromstring(deck_svg.svg(sheet_with_colours(events)))
    drawn = wells(root)
    assert (drawn["2/A1"].get("fill"), drawn["2/A2"].get("fill")) == ("#e377c2", "#ffff00")
    assert legend(root) == [("liquid 1", "#e377c2"), ("liquid 2", "#ffff00")]
