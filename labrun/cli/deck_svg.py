"""``--deck DECK.svg``: a picture of the deck from the setup sheet.

The OT-2's twelve slots (1 at the front left, 12 at the back right), each with its
labware's name and wells drawn where its definition puts them: wells that must hold
liquid at the start in blue, or in the display colour of the liquid the protocol loads
there (``define_liquid``, ``load_liquid``; the sheet's ``liquids`` give it as ``color``),
each liquid named in the legend; wells that receive liquid in orange, the tips the run
picks up in grey (a rack's other positions may be empty). Above each slot, its module,
the adapter (or other labware) under its labware, and its labware, one a line.
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

import html
import re
from collections.abc import Mapping, Sequence
from typing import Any

from .calls import standard_definition
from .report import printable
from .setup_sheet import well_geometry


def escape(text: str) -> str:
    """``text`` as SVG text or an attribute's value: its control characters (which XML
    does not allow: a label with one made the whole picture unreadable) as ``\\xNN``, as
    the terminal shows them, and ``<``, ``&`` and quotes escaped."""
    return html.escape(printable(text))


SLOT_W, SLOT_H, GAP = 128.0, 86.0, 20.0  # a gap fits two lines: a module, its labware
COLUMNS, ROWS = 3, 4
DECK_W, DECK_H = COLUMNS * (SLOT_W + GAP) + GAP, ROWS * (SLOT_H + GAP) + GAP
TITLE_H = 16.0
"""Room above each deck for its title, when there are several."""
PER_ROW = 3
"""Decks side by side."""
LEGEND_H = 24.0
SOURCE, DESTINATION, TIP, EMPTY = "#3b82f6", "#f59e0b", "#94a3b8", "#ffffff"
LIQUID_OUTLINE = "#1f2937"
"""The outline of a well drawn in its liquid's colour, and of the legend's spot of it: a
light colour (``#ffff00``) shows against the slot's near-white."""
COLOR = re.compile(r"#(?:[0-9a-fA-F]{3,4}){1,2}")
"""A liquid's display colour as ``define_liquid`` takes it: anything else is drawn blue."""
LIQUID_ROW_H = 12.0
"""Each row of the legend's liquids, below its key."""
LIQUID_NAME_CHARS = 40
"""A liquid's name in the legend is cut past this many characters (whole in its title)."""
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
    colors, liquids = liquid_colors(sheet)
    rows = _legend_rows(liquids, width - 2 * GAP)
    height = -(-len(decks) // per_row) * (DECK_H + title_h) + LEGEND_H + len(rows) * LIQUID_ROW_H
    sources = {str(w["well"]): held_text(w) for w in sheet["liquids"]}
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
                parts += _slot(slot, x, y, sources, destinations, tips, colors)
    legend_y = height - 10 - len(rows) * LIQUID_ROW_H
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
    for row, items in enumerate(rows, 1):
        y = legend_y + row * LIQUID_ROW_H
        for x, shown, name, color in items:
            title = f"<title>{escape(name)}</title>" if shown != name else ""
            parts.append(f'<g class="liquid"><circle cx="{x + 4:g}" cy="{y - 3:g}" r="3.5" '
                         f'fill="{color}" stroke="{LIQUID_OUTLINE}" stroke-width="0.6"/><text '
                         f'x="{x + 10:g}" y="{y:g}" font-size="8">{title}{escape(shown)}'
                         f'</text></g>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _decks(sheet: dict[str, Any]) -> list[tuple[str, Slots, set[str]]]:
    """Each deck to draw: its title, its slots and the slots changed since the one
    before; the deck at the start first."""
    start: Slots = {s["slot"]: s for s in sheet["deck"]}
    decks = [("At the start", start, set[str]())]
    # each slot's stack in the deck before, bottom first, each with where it started
    before = {slot: [{**lw, "start": slot} for lw in entry["labware"]]
              for slot, entry in start.items()}
    for change in sheet.get("deck_changes") or ():
        first, last = change["steps"]
        title = f"After step {last}" if first == last else f"After steps {first}\N{EN DASH}{last}"
        slots: Slots = {slot: {"slot": slot, "labware": [], "modules": entry["modules"]}
                        for slot, entry in start.items() if entry["modules"]}
        tops = {_identity(entry["labware"]) for entry in change["deck"]}
        stacks = {}
        for entry in change["deck"]:  # the labware on top in each slot, then
            modules = start.get(entry["slot"], {}).get("modules", [])
            stacks[entry["slot"]] = _stack(entry["labware"], before.get(entry["slot"], []),
                                           tops)
            slots[entry["slot"]] = {"slot": entry["slot"], "labware": stacks[entry["slot"]],
                                    "modules": modules}
        decks.append((title, slots, set(change["changed"])))
        before = stacks
    return decks


def _identity(labware: Mapping[str, Any]) -> tuple[str, str]:
    """A labware of the decks: where it started and its load name."""
    return str(labware.get("start")), str(labware["load_name"])


def _stack(top: dict[str, Any], below: list[dict[str, Any]],
           tops: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """The stack in a slot after a change whose labware on top there is ``top``: what was
    under it there before (``below``: the slot's stack then) if it stayed; if it came,
    the adapters left there (none on top elsewhere now), which it went onto."""
    kept = [_identity(lw) for lw in below]
    if _identity(top) in kept:  # it stayed: on what it was on
        return [*below[:kept.index(_identity(top))], top]
    under = list(below)
    while under and (_identity(under[-1]) in tops or not _adapter(under[-1])):
        under.pop()  # gone elsewhere, or taken away: a labware goes onto an adapter only
    return [*under, top]


def _adapter(labware: Mapping[str, Any]) -> bool:
    """Whether a labware of the decks is an adapter (its standard definition says so)."""
    if labware.get("wells") is not None:  # a custom labware: its role is not recorded
        return False
    definition = standard_definition(str(labware["load_name"]), labware.get("version"))
    return definition is not None and "adapter" in (definition.get("allowedRoles") or ())


def liquid_colors(sheet: Mapping[str, Any]) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """The colour of each source well that holds a liquid the protocol defines (the sheet's
    ``liquids`` entry names it, ``liquid``, and gives its display colour, ``color``; blue
    when it has none), by ``place/name``; and each liquid with its colour, for the legend,
    in the sheet's order of their wells."""
    wells: dict[str, str] = {}
    legend: list[tuple[str, str]] = []
    for entry in sheet.get("liquids") or ():
        name = entry.get("liquid")
        if not name:  # liquid the run takes that the protocol never named
            continue
        color = entry.get("color")
        color = color if isinstance(color, str) and COLOR.fullmatch(color) else SOURCE
        wells[str(entry["well"])] = color
        if (str(name), color) not in legend:
            legend.append((str(name), color))
    return wells, legend


def _legend_rows(liquids: Sequence[tuple[str, str]], room: float,
                 ) -> list[list[tuple[float, str, str, str]]]:
    """The legend's liquids, row after row within ``room``: each one's x, its name as
    shown, its whole name and its colour."""
    rows: list[list[tuple[float, str, str, str]]] = []
    x = room  # the first one starts a row
    for name, color in liquids:
        shown = name if len(name) <= LIQUID_NAME_CHARS else \
            name[:LIQUID_NAME_CHARS - 1].rstrip() + "…"
        wide = 10 + len(shown) * 8 * GLYPH + 12  # the spot, the name, a space
        if x + wide > room and (x > 0 or not rows):
            rows.append([])
            x = 0.0
        rows[-1].append((GAP + x, shown, name, color))
        x += wide
    return rows


def write(path: str, sheet: dict[str, Any]) -> None:
    """Draw ``sheet``'s deck into ``path``."""
    with open(path, "w", encoding="utf-8") as out:
        out.write(svg(sheet))


def slot_origin(slot: int, left: float = 0.0, top: float = 0.0) -> tuple[float, float]:
    """The top-left corner of a slot in the picture (slot 1 at the front left), in the
    deck whose corner is at ``left``, ``top``."""
    row, column = divmod(slot - 1, COLUMNS)
    return left + GAP + column * (SLOT_W + GAP), top + GAP + (ROWS - 1 - row) * (SLOT_H + GAP)


def held_text(entry: Mapping[str, Any]) -> str:
    """What a source well of the sheet holds at the start, for its hover text: ``Buffer,
    200 µL at the start`` as the protocol loads it, else what the run needs, ``at least
    800 µL at the start`` (with the liquid's name when it has one)."""
    named = str(entry["liquid"]) if entry.get("liquid") else ""
    held = entry.get("volume_ul")
    if not isinstance(held, int | float):
        return named or "holds liquid at the start"
    least = "" if entry.get("declared_ul") is not None and not entry.get("short") else \
        "at least "
    return f"{named}{', ' if named else ''}{least}{held:g} µL at the start"


def _slot(slot: dict[str, Any], x: float, y: float, sources: Mapping[str, str],
          destinations: set[str], tips: set[str], colors: Mapping[str, str]) -> list[str]:
    parts: list[str] = []
    top = slot["labware"][-1] if slot["labware"] else None
    if top is not None:
        place = top.get("start", slot["slot"])  # where it was at the start
        for name, well in (well_geometry(top) or {}).items():
            key = f"{place}/{name}"
            fill = colors.get(key) or (SOURCE if key in sources else DESTINATION
                                       if key in destinations else TIP if key in tips else EMPTY)
            # a liquid's colour, light or not, outlined dark
            stroke = (f'stroke="{LIQUID_OUTLINE}" stroke-width="0.6"' if key in colors
                      else 'stroke="#9ca3af" stroke-width="0.4"')
            cx, cy = x + float(well["x"]), y + SLOT_H - float(well["y"])
            hover = escape(f"{name}: {sources[key]}" if key in sources else name)
            if well.get("shape") == "rectangular":
                w, h = float(well["xDimension"]), float(well["yDimension"])
                # within the slot: the fixed trash's one well is wider than slot 12
                left, right = max(cx - w / 2, x), min(cx + w / 2, x + SLOT_W)
                top_, bottom = max(cy - h / 2, y), min(cy + h / 2, y + SLOT_H)
                parts.append(f'<rect x="{left:.1f}" y="{top_:.1f}" width="{right - left:.1f}" '
                             f'height="{bottom - top_:.1f}" fill="{fill}" {stroke} '
                             f'data-well="{escape(key)}">'
                             f'<title>{hover}</title></rect>')
            else:
                r = min(float(well.get("diameter", 6.0)) / 2, 4.2)
                parts.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:.1f}" fill="{fill}" '
                             f'{stroke} data-well="{escape(key)}">'
                             f'<title>{hover}</title></circle>')
    labels = slot_labels(slot)
    stacked = len(labels) > 2  # a module, an adapter, a labware: three lines in the gap
    smallest = STACKED_LABEL if stacked else SMALLEST_LABEL
    step = STACKED_STEP if stacked else LINE_STEP
    for line, text in enumerate(labels):
        shown = fitted(text, smallest)
        title = f"<title>{escape(text)}</title>" if shown != text else ""
        size = label_size(shown, smallest)
        if stacked:
            size = min(size, STACKED_SIZE)
        # the last line's descenders clear the slot's outline (a changed slot's is thick)
        parts.append(f'<text x="{x + SLOT_W / 2:g}" '
                     f'y="{y - 2.5 - step * (len(labels) - 1 - line):g}" '
                     f'font-size="{size:g}" text-anchor="middle">{title}'
                     f'{escape(shown)}</text>')
    return parts


def slot_labels(slot: Mapping[str, Any]) -> list[str]:
    """The lines above a slot, top first: its module, the labware under its labware (an
    adapter: a person setting up the deck must not forget it; several, in one line:
    ``A on B``) and its labware."""
    names = [str(lw["name"]) for lw in slot["labware"]]
    under = names[:-1]
    if len(under) > 1:
        under = [" on ".join(reversed(under))]
    return [*slot["modules"], *under, *names[-1:]]


LABEL_SIZE, SMALLEST_LABEL = 7.0, 5.6
"""A label's font size, and the smallest it shrinks to so that a long name fits whole."""
LINE_STEP = 8.0
"""From one line of a slot's labels to the next: a module, its labware."""
STACKED_SIZE, STACKED_LABEL, STACKED_STEP = 6.0, 5.2, 6.2
"""Three lines (a module, an adapter, its labware) fit in the gap above a slot smaller
and closer: at most this size, down to this one, this far apart (the top line's capitals
stay below the slot above)."""
LABEL_ROOM = SLOT_W + GAP - 6
"""How wide a label may be: above its slot and the gap beside it."""
GLYPH = 0.56
"""A sans-serif character is a little over half as wide as the font is high."""
LABEL_CHARS = int(LABEL_ROOM / (SMALLEST_LABEL * GLYPH))
"""How many characters of a label fit above a slot, at the smallest size."""


def label_size(text: str, smallest: float = SMALLEST_LABEL) -> float:
    """The font size at which ``text`` fits above its slot: 7, or smaller for a long name
    (``Opentrons OT-2 96 Filter Tip Rack 200 µL``), down to ``smallest`` (5.6)."""
    size = LABEL_ROOM / (max(len(text), 1) * GLYPH)
    return round(max(smallest, min(LABEL_SIZE, size)), 2)


def fitted(text: str, smallest: float = SMALLEST_LABEL) -> str:
    """``text`` as it fits above a slot (at ``smallest`` size, 5.6): whole when it can be;
    else its first and last words with an ellipsis between them, so that what sets a
    labware apart from its kin (a tip rack's or a plate's volume, at the end of its name)
    stays in sight (the whole name is the label's title, shown on hovering)."""
    chars = int(LABEL_ROOM / (smallest * GLYPH))
    if len(text) <= chars:
        return text
    words = text.split()
    head: list[str] = []
    tail: list[str] = []
    first, last = 0, len(words) - 1
    while first <= last:
        take_head = 2 * len(" ".join(head)) <= len(" ".join(tail))  # the end weighs more
        word = words[first] if take_head else words[last]
        size = len(" ".join(head)) + len(" ".join(tail)) + len(word) + 4  # " … ", a space
        if size > chars:
            break
        if take_head:
            head.append(word)
            first += 1
        else:
            tail.insert(0, word)
            last -= 1
    if not head or not tail:  # a word too long to keep: cut it
        return text[:chars - 1].rstrip() + "…"
    return f"{' '.join(head)} … {' '.join(tail)}"
