"""``--deck DECK.svg``: a picture of the deck from the setup sheet.

The OT-2's twelve slots (1 at the front left, 12 at the back right), each with its
labware's name and wells drawn where its definition puts them: wells that must hold
liquid at the start in blue, wells that receive liquid in orange, the tips the run picks
up in grey (a rack's other positions may be empty), modules named above their labware.
Plain SVG, no library; each well carries ``data-well="place/name"`` so the live page of
``labrun serve`` can mark the wells done and the tips taken.

It is the deck as the protocol sets it up over the run. A run that keeps its deck as it
is at the start is one deck. A run that changes it (a labware moved by hand or taken
away, one loaded where another has left, which a person brings in then) is the deck at
the start, then the deck after each change (the sheet's ``deck_changes``; changes with
no liquid moved between them are one), each titled with its steps, the slots that
changed outlined dashed: every labware the run puts on the deck is drawn where it stands
then. Its wells keep the names of where it was at the start (``2/A1`` for a plate loaded
in slot 2 wherever it moved, ``offDeck1/A1`` for the first one brought in later), as the
sheet's liquids and the live page's wells done name them.
"""

from __future__ import annotations

from html import escape
from typing import Any

from .setup_sheet import well_geometry

SLOT_W, SLOT_H, GAP = 128.0, 86.0, 20.0  # a gap fits two lines: a module, its labware
COLUMNS, ROWS = 3, 4
DECK_W, DECK_H = COLUMNS * (SLOT_W + GAP) + GAP, ROWS * (SLOT_H + GAP) + GAP
TITLE_H = 16.0
"""Room above each deck for its title, when there are several."""
PER_ROW = 3
"""Decks side by side."""
LEGEND_H = 24.0
SOURCE, DESTINATION, TIP, EMPTY = "#3b82f6", "#f59e0b", "#94a3b8", "#ffffff"
Slots = dict[str, dict[str, Any]]
"""A deck: slot -> what it holds (``labware``, bottom first, and ``modules``)."""


def svg(sheet: dict[str, Any], *, per_row: int = PER_ROW) -> str:
    """The deck of ``sheet`` (``setup_sheet.build``) as an SVG document: at the start, and
    after each change the run makes to it, ``per_row`` decks side by side (the live page,
    in a column half a screen wide, draws one a row, so that their names stay readable)."""
    decks = _decks(sheet)
    per_row = max(1, per_row)
    title_h = TITLE_H if len(decks) > 1 else 0.0
    width = min(len(decks), per_row) * DECK_W
    height = -(-len(decks) // per_row) * (DECK_H + title_h) + LEGEND_H
    sources = {w["well"] for w in sheet["liquids"]}
    destinations = set(sheet.get("destinations", ()))
    tips = {f"{rack['slot']}/{name}" for pipette in sheet.get("pipettes", ())
            for rack in pipette["tip_racks"] for name in rack.get("positions", ())}
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:g} {height:g}" '
             f'width="{width * 2:g}" height="{height * 2:g}" font-family="sans-serif">',
             f'<rect width="{width:g}" height="{height:g}" fill="#e5e7eb"/>']
    for index, (title, slots, changed) in enumerate(decks):
        left = index % per_row * DECK_W
        top = index // per_row * (DECK_H + title_h) + title_h
        if title_h:
            parts.append(f'<text x="{left + GAP:g}" y="{top - 2:g}" font-size="11" '
                         f'font-weight="bold">{title}</text>')
        for number in range(1, COLUMNS * ROWS + 1):
            x, y = slot_origin(number, left, top)
            outline = ('stroke="#111827" stroke-width="1.5" stroke-dasharray="5 3"'
                       if str(number) in changed else 'stroke="#9ca3af"')
            parts.append(f'<rect x="{x:g}" y="{y:g}" width="{SLOT_W:g}" height="{SLOT_H:g}" '
                         f'rx="3" fill="#f9fafb" {outline}/>')
            parts.append(f'<text x="{x + 3:g}" y="{y + SLOT_H - 3:g}" font-size="9" '
                         f'fill="#6b7280">{number}</text>')
            slot = slots.get(str(number))
            if slot is not None:
                parts += _slot(slot, x, y, sources, destinations, tips)
    legend_y = height - 10
    parts.append(f'<circle cx="{GAP + 4:g}" cy="{legend_y - 3:g}" r="3.5" fill="{SOURCE}"/>'
                 f'<text x="{GAP + 10:g}" y="{legend_y:g}" font-size="8">holds liquid at '
                 f'the start</text>'
                 f'<circle cx="{GAP + 104:g}" cy="{legend_y - 3:g}" r="3.5" '
                 f'fill="{DESTINATION}"/><text x="{GAP + 110:g}" y="{legend_y:g}" '
                 f'font-size="8">receives liquid</text>'
                 f'<circle cx="{GAP + 180:g}" cy="{legend_y - 3:g}" r="3.5" fill="{TIP}"/>'
                 f'<text x="{GAP + 186:g}" y="{legend_y:g}" font-size="8">a tip the run '
                 f'picks up</text>')
    if title_h:
        parts.append(f'<rect x="{GAP + 300:g}" y="{legend_y - 7:g}" width="14" height="8" '
                     f'fill="none" stroke="#111827" stroke-dasharray="5 3"/><text '
                     f'x="{GAP + 318:g}" y="{legend_y:g}" font-size="8">changed since the '
                     f'deck before</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _decks(sheet: dict[str, Any]) -> list[tuple[str, Slots, set[str]]]:
    """Each deck to draw: its title, its slots and the slots changed since the one
    before; the deck at the start first."""
    start: Slots = {s["slot"]: s for s in sheet["deck"]}
    decks = [("At the start", start, set[str]())]
    for change in sheet.get("deck_changes") or ():
        first, last = change["steps"]
        title = f"After step {last}" if first == last else f"After steps {first}\N{EN DASH}{last}"
        slots: Slots = {slot: {"slot": slot, "labware": [], "modules": entry["modules"]}
                        for slot, entry in start.items() if entry["modules"]}
        for entry in change["deck"]:  # the labware on top in each slot, then
            modules = start.get(entry["slot"], {}).get("modules", [])
            slots[entry["slot"]] = {"slot": entry["slot"], "labware": [entry["labware"]],
                                    "modules": modules}
        decks.append((title, slots, set(change["changed"])))
    return decks


def write(path: str, sheet: dict[str, Any]) -> None:
    """Draw ``sheet``'s deck into ``path``."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(svg(sheet))


def slot_origin(slot: int, left: float = 0.0, top: float = 0.0) -> tuple[float, float]:
    """The top-left corner of a slot in the picture (slot 1 at the front left), in the
    deck whose corner is at ``left``, ``top``."""
    row, column = divmod(slot - 1, COLUMNS)
    return left + GAP + column * (SLOT_W + GAP), top + GAP + (ROWS - 1 - row) * (SLOT_H + GAP)


def _slot(slot: dict[str, Any], x: float, y: float, sources: set[str],
          destinations: set[str], tips: set[str]) -> list[str]:
    parts: list[str] = []
    top = slot["labware"][-1] if slot["labware"] else None
    if top is not None:
        place = top.get("start", slot["slot"])  # where it was at the start
        for name, well in (well_geometry(top) or {}).items():
            key = f"{place}/{name}"
            fill = (SOURCE if key in sources else DESTINATION if key in destinations
                    else TIP if key in tips else EMPTY)
            cx, cy = x + float(well["x"]), y + SLOT_H - float(well["y"])
            if well.get("shape") == "rectangular":
                w, h = float(well["xDimension"]), float(well["yDimension"])
                # within the slot: the fixed trash's one well is wider than slot 12
                left, right = max(cx - w / 2, x), min(cx + w / 2, x + SLOT_W)
                top_, bottom = max(cy - h / 2, y), min(cy + h / 2, y + SLOT_H)
                parts.append(f'<rect x="{left:.1f}" y="{top_:.1f}" width="{right - left:.1f}" '
                             f'height="{bottom - top_:.1f}" fill="{fill}" stroke="#9ca3af" '
                             f'stroke-width="0.4" data-well="{escape(key)}">'
                             f'<title>{escape(name)}</title></rect>')
            else:
                r = min(float(well.get("diameter", 6.0)) / 2, 4.2)
                parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{fill}" '
                             f'stroke="#9ca3af" stroke-width="0.4" data-well="{escape(key)}">'
                             f'<title>{escape(name)}</title></circle>')
    labels = [*slot["modules"], *(lw["name"] for lw in slot["labware"][-1:])]
    for line, text in enumerate(labels):
        shown = fitted(text)
        title = f"<title>{escape(text)}</title>" if shown != text else ""
        # the last line's descenders clear the slot's outline (a changed slot's is thick)
        parts.append(f'<text x="{x + SLOT_W / 2:g}" y="{y - 2.5 - 8 * (len(labels) - 1 - line):g}" '
                     f'font-size="{label_size(shown):g}" text-anchor="middle">{title}'
                     f'{escape(shown)}</text>')
    return parts


LABEL_SIZE, SMALLEST_LABEL = 7.0, 5.6
"""A label's font size, and the smallest it shrinks to so that a long name fits whole."""
LABEL_ROOM = SLOT_W + GAP - 6
"""How wide a label may be: above its slot and the gap beside it."""
GLYPH = 0.56
"""A sans-serif character is a little over half as wide as the font is high."""
LABEL_CHARS = int(LABEL_ROOM / (SMALLEST_LABEL * GLYPH))
"""How many characters of a label fit above a slot, at the smallest size."""


def label_size(text: str) -> float:
    """The font size at which ``text`` fits above its slot: 7, or smaller for a long name
    (``Opentrons OT-2 96 Filter Tip Rack 200 µL``), down to 5.6."""
    size = LABEL_ROOM / (max(len(text), 1) * GLYPH)
    return round(max(SMALLEST_LABEL, min(LABEL_SIZE, size)), 2)


def fitted(text: str) -> str:
    """``text`` as it fits above a slot: whole when it can be; else its first and last
    words with an ellipsis between them, so that what sets a labware apart from its kin
    (a tip rack's or a plate's volume, at the end of its name) stays in sight (the whole
    name is the label's title, shown on hovering)."""
    if len(text) <= LABEL_CHARS:
        return text
    words = text.split()
    head: list[str] = []
    tail: list[str] = []
    first, last = 0, len(words) - 1
    while first <= last:
        take_head = 2 * len(" ".join(head)) <= len(" ".join(tail))  # the end weighs more
        word = words[first] if take_head else words[last]
        size = len(" ".join(head)) + len(" ".join(tail)) + len(word) + 4  # " … ", a space
        if size > LABEL_CHARS:
            break
        if take_head:
            head.append(word)
            first += 1
        else:
            tail.insert(0, word)
            last -= 1
    if not head or not tail:  # a word too long to keep: cut it
        return text[:LABEL_CHARS - 1].rstrip() + "…"
    return f"{' '.join(head)} … {' '.join(tail)}"
