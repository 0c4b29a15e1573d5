"""Protocol calls in the protocol's own words, rebuilt from a run's record.

A step is one top-level protocol call, or a ``with ctx.step(name):`` group whose calls
are told apart by their protocol line. Each call becomes a sentence as Opentrons'
simulator writes it (``Transferring 50.0 µL from A1 of source (slot 1) to A1 of replica
(slot 2)``), from the commands it became: the wells it aspirated from and dispensed
into, the tips it picked up, its message.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from engine.actions import BOARD
from engine.commands import OFF_DECK
from engine.stacks import LabwareStacks
from engine.summary import TipAir

Params = Mapping[str, Any]

LIQUID_VERBS = {"transfer": "Transferring", "distribute": "Distributing",
                "consolidate": "Consolidating"}
CALL_NAMES = frozenset((*LIQUID_VERBS, "mix", "aspirate", "dispense", "pick_up_tip", "drop_tip",
                        "return_tip", "blow_out", "touch_tip", "air_gap", "move_to", "home",
                        "delay", "pause", "comment", "load_labware", "load_adapter",
                        "load_instrument", "load_module", "set_rail_lights", "max_speeds",
                        "prepare_to_aspirate", "home_plunger", "move_labware",
                        "del deck[slot]", "configure_nozzle_layout", "set_offset",
                        "load_liquid"))
_CALL = re.compile(r"\.(\w+)\s*\(")
MANY_WELLS = 4
"""From this many wells of one labware on, a sentence gives their count and range."""


class Labels:
    """Well names as people say them: ``A1 of replica (slot 2)``, from the loaded labware,
    where each is now (moves by hand included) and where it was at the start."""

    def __init__(self) -> None:
        self._where = LabwareStacks()  # each labware's slot, label and each slot's stack
        self._starts: list[str] = []  # by count: its slot at the start, or offDeckN
        self._moves: dict[Any, Params] = {}  # moves by hand asked for, by command id
        self._left: set[str] = set()  # slots a labware has left (moved, or del)
        self._bins: set[int] = set()  # the trash bins (apiLevel 2.16 on), by count
        self._front_start: set[str] = set()  # mounts whose nozzle layout starts at H1
        self._modules: dict[str, str] = {}  # slot -> the module loaded there (its model)
        self._on_module: set[int] = set()  # labware (by count) loaded right onto a module
        self._loaded_on: dict[int, int] = {}  # labware (by count) -> the one it was loaded on
        self._held: dict[str, int] = {}  # mount -> the tips its last pick-up took
        self._dropped: dict[str, int] = {}  # mount -> the tips its last drop let go

    @classmethod
    def of_run(cls, events: Iterable[Mapping[str, Any]]) -> Labels:
        """The labels of the labware a run's record events loaded, where it ended up."""
        labels = cls()
        for event in events:
            labels.follow(event)
        return labels

    def follow(self, event: Mapping[str, Any]) -> None:
        """One record event, in order: a labware loaded when asked for, moved by hand (or
        by ``del``) once the move completed (a run ended in its pause did not move it)."""
        if event.get("event") not in (None, "command"):
            return
        kind, status = event.get("type"), event.get("status")
        if status == "queued":
            if kind == "pickUpTip":
                params = event.get("params") or {}
                self._held[str(params.get("mount"))] = int(params.get("tips", 1))
            elif kind == "dropTip":
                mount = str((event.get("params") or {}).get("mount"))
                self._dropped[mount] = self._held.pop(mount, 1)
            elif kind == "loadLabware":
                self.load(event["params"])
            elif kind in ("moveLabware", "removeLabware"):
                self._moves[event.get("id")] = event["params"]
            elif kind == "loadModule":
                params = event.get("params") or {}
                self._modules[str(params.get("slot"))] = str(params.get("model"))
            elif kind == "configureNozzleLayout":
                params = event.get("params") or {}
                if str(params.get("primary") or "A1").startswith("H"):
                    self._front_start.add(str(params.get("mount")))
                else:
                    self._front_start.discard(str(params.get("mount")))
        elif status == "completed" and self._moves and event.get("id") in self._moves:
            self.move(self._moves.pop(event.get("id")))

    def load(self, params: Params) -> str:
        """A ``loadLabware`` command: the slot now shows this labware (the top of a stack).
        Returns where it is at the start (``start_of``)."""
        load_name = str(params["load_name"])
        name = " ".join(str(params.get("display_name") or load_name).split())  # one line
        label = name if name != load_name else labware_display_name(params)
        if params.get(TRASH_BIN):  # a bin, with no wells to name: as Opentrons names it
            label = TRASH_BIN_NAME
            self._bins.add(len(self._starts))
        slot = start = str(params["slot"])
        under = self._where.top(slot) if slot != OFF_DECK else None
        if slot == OFF_DECK or slot in self._left or (
                under is not None and self._starts[under] != slot):
            # off the deck at the start; or loaded where a labware has left, or onto one
            # that was not there at the start: not there at the start either, a person
            # brings it in then
            start = f"{OFF_DECK}{sum(s.startswith(OFF_DECK) for s in self._starts) + 1}"
        if under is None and slot in self._modules:
            self._on_module.add(len(self._starts))
        elif under is not None:  # an adapter's plate: said on what (and on which module)
            self._loaded_on[len(self._starts)] = under
        self._where.load(slot, label)
        self._starts.append(start)
        return start

    def loaded(self, slot: str) -> str:
        """The labware just loaded in ``slot`` in words: ``samples (slot 1)``; one loaded
        right onto a module says on which (``samples on Temperature Module GEN2 (slot 1)``),
        and one loaded onto another (an adapter) on what, down to the deck or the module
        (``samples on Opentrons 96 Flat Bottom Heater-Shaker Adapter on Heater-Shaker
        Module GEN1 (slot 1)``)."""
        top = self._where.top(slot)
        if top is None or slot.startswith(OFF_DECK):
            return self.labware(slot)
        names = self._where.names
        words = [names[top]]
        while top in self._loaded_on:
            top = self._loaded_on[top]
            words.append(names[top])
        model = self._modules.get(slot)
        if top in self._on_module and model is not None:
            words.append(module_display_name(model))
        return f"{' on '.join(words)} ({place(slot)})"

    def tips_dropped(self, mount: object) -> int:
        """How many tips the last ``dropTip`` of ``mount`` let go: those its last pick-up
        took (1 when none is known)."""
        return self._dropped.get(str(mount), 1)

    def start_place(self, index: object) -> str | None:
        """Where the run's labware ``index`` (its loadLabware's count from 0) was at the
        start: its slot, or ``offDeckN``."""
        return self._starts[index] if isinstance(index, int) and 0 <= index < len(
            self._starts) else None

    def name_of(self, index: object) -> str:
        """The label of the run's labware ``index`` (its loadLabware's count from 0)."""
        names = self._where.names
        return names[index] if isinstance(index, int) and 0 <= index < len(names) else \
            "a labware"

    def at_start(self, start: str) -> str | None:
        """The label of the labware on top at ``start`` (a ``start_of`` place) at the start."""
        here = [i for i, place in enumerate(self._starts) if place == start]
        return self._where.names[here[-1]] if here else None

    def on_top(self, slot: str) -> str | None:
        """The label of the labware on top in ``slot`` now, if any."""
        top = self._where.top(slot)
        return None if top is None else self._where.names[top]

    def is_bin(self, slot: str) -> bool:
        """Whether the labware on top in ``slot`` now is a trash bin (apiLevel 2.16 on):
        a place with no wells, named whole (``Trash Bin (slot 12)``)."""
        return self._where.top(slot) in self._bins

    def tips_taken(self, params: Params) -> str:
        """Where a ``pickUpTip`` took its tips: ``A1 of ...``, the well its first nozzle
        went to; for tips taken with a layout that starts at the front nozzle (H1), whose
        other nozzles take the tips behind that well, the range (D1 to G1, with an en
        dash) of them."""
        well, tips = str(params.get("well") or ""), int(params.get("tips", 1))
        slot, _, name = well.partition("/")
        row, column = name[:1], name[1:]
        if (tips > 1 and str(params.get("mount")) in self._front_start and row.isalpha()
                and column.isdigit() and ord(row.upper()) - tips + 1 >= ord("A")):
            first = chr(ord(row.upper()) - tips + 1)
            return f"{first}{column}\N{EN DASH}{name} of {self.labware(slot)}"
        return self.well(well)

    def on_deck(self) -> dict[str, int]:
        """Each deck slot holding labware now -> the count of the labware on top there."""
        tops = {slot: self._where.top(slot) for slot in self._where.slots
                if not slot.startswith(OFF_DECK)}
        return {slot: top for slot, top in tops.items() if top is not None}

    def start_of(self, well: str) -> str:
        """The record's ``5/A1`` (a well where its labware is now) as ``2/A1``: the same
        well where its labware was at the start, before any move by hand."""
        slot, _, name = well.partition("/")
        top = self._where.top(slot)
        return well if top is None or self._starts[top] == slot else \
            f"{self._starts[top]}/{name}"

    def move(self, params: Params) -> None:
        """A ``moveLabware`` (or ``removeLabware``) command: the labware leaves its slot
        for another (or the deck), and the slot it left shows what was under it."""
        index = params.get("labware")
        if isinstance(index, int):  # else a record cut short, or not labrun's
            was, _, _ = self._where.move(index, str(params.get("to_slot")))
            self._left.add(was)

    def labware(self, slot: str) -> str:
        """``replica (slot 2)``; for the run's totals' ``offDeck-N`` and ``2-N`` (labware
        N off the deck, or under another in slot 2), that labware by its own name."""
        name = self.on_top(slot)
        if name is None:
            where, dash, number = slot.rpartition("-")
            if dash and where and number.isdigit() and int(number) < len(self._starts):
                name = self.name_of(int(number))
                return f"{name} ({place(where)})" if where.startswith(OFF_DECK) else \
                    f"{name} (slot {where}, under another labware)"
        return f"{name} ({place(slot)})" if name else place(slot)

    def well(self, well: str | None) -> str:
        """``A1 of replica (slot 2)`` for the record's ``2/A1``."""
        if not well:
            return "the current position"
        if well == "trash":  # the cleanup's drop: the trash the robot file names
            return "the trash"
        slot, _, name = well.partition("/")
        return f"{name} of {self.labware(slot)}" if name and not self.is_bin(slot) else \
            self.labware(slot)

    def nozzle_wells(self, wells: Iterable[str], nozzles: Mapping[str, Sequence[str]],
                     told: bool = False) -> tuple[str, bool]:
        """Wells a multi-channel pipette went to, ``wells`` those under its first nozzle
        and ``nozzles`` those under its other nozzles, by the first's (the record's
        ``well`` and ``wells``): grouped by labware as ``wells`` says them, where the tips
        reached as many wells: ``11 columns A2…A12 of plate (slot 2) (8 tips: 88 wells)``
        (``8 tips, every other row`` in a 384-well plate). Where every tip went into the
        same well (a reservoir's), that well as ``wells`` says it. The tips are said once:
        not again when ``told`` (``(8 wells)``). Also whether they are said by then."""
        by_slot: dict[str, list[str]] = {}
        for well in wells:
            by_slot.setdefault(well.partition("/")[0], []).append(well)
        parts = []
        for slot, heads in by_slot.items():
            others = [nozzles.get(head, ()) for head in heads]
            reached = set(heads).union(*others)
            if self.is_bin(slot) or len(reached) == len(heads):  # each time one well
                parts.append(self.wells(heads))
                continue
            names = [head.partition("/")[2] for head in heads]
            if len(names) >= MANY_WELLS:
                shown = f"{len(names)} columns {names[0]}…{names[-1]}"
            elif len(names) > 1:
                shown = "columns " + ", ".join(names)
            else:
                shown = names[0]
            tips = 1 + max(map(len, others))
            # the rows between neighbouring nozzles: 2 in a 384-well plate's
            head, other = next((h, o) for h, o in zip(names, others, strict=True) if o)
            pitch = abs(ord(other[0].partition("/")[2][:1]) - ord(head[:1]))
            spacing = [] if told else [plural(tips, "tip")]
            spacing += ["every other row"] if pitch == 2 else []
            parts.append(f"{shown} of {self.labware(slot)} ("
                         + (f"{', '.join(spacing)}: " if spacing else "")
                         + f"{plural(len(reached), 'well')})")
            told = True
        return " and ".join(parts) if parts else "the current position", told

    def under_tips(self, params: Params) -> tuple[str, int]:
        """Where a liquid command's tips were, and how many tips shared that well: ``A1 of
        plate (slot 2)`` and 1 for one tip; a multi-channel's wells first to last, ``A1…H1
        of plate (slot 2)`` (``A1…O1 of … (every other row)`` in a 384-well plate), and 1;
        ``A1 of reservoir (slot 3)`` and 8 when all 8 tips went into that one well."""
        well = params.get("well")
        others = params.get("wells")
        if not well or not others or not isinstance(others, list | tuple):
            return self.well(well if well is None else str(well)), 1
        well = str(well)
        if all(other == well for other in others):
            return self.well(well), 1 + len(others)
        slot = well.partition("/")[0]
        names = sorted({w.partition("/")[2] for w in (well, *others)
                        if w.partition("/")[0] == slot}, key=_well_order)
        if len(names) < 2:
            return self.well(well), 1
        shown = ", ".join(names) if len(names) == 2 else f"{names[0]}…{names[-1]}"
        rows = [ord(name[:1]) for name in names]
        spaced = " (every other row)" if rows[1] - rows[0] == 2 else ""
        return f"{shown} of {self.labware(slot)}{spaced}", 1

    def wells(self, wells: Iterable[str]) -> str:
        """Several wells, grouped by labware; long runs as a count and a range."""
        by_slot: dict[str, list[str]] = {}
        for well in wells:
            slot, _, name = well.partition("/")
            by_slot.setdefault(slot, []).append(name)
        parts = []
        for slot, names in by_slot.items():
            if self.is_bin(slot):
                parts.append(self.labware(slot))
                continue
            if len(names) >= MANY_WELLS:
                shown = f"{len(names)} wells {names[0]}…{names[-1]}"
            else:
                shown = ", ".join(names)
            parts.append(f"{shown} of {self.labware(slot)}")
        return " and ".join(parts) if parts else "the current position"


TRASH_BIN = "trash_bin"
"""The key of the fixed trash's ``loadLabware`` params that says it is a trash bin (true
from apiLevel 2.16, where Opentrons' fixed trash is a bin with no wells to name)."""
TRASH_BIN_NAME = "Trash Bin"
"""A trash bin's name, as Opentrons' run log has it (``Dropping tip into Trash Bin on slot
12``)."""


def _well_order(name: str) -> tuple[int, str, int]:
    row = name.rstrip("0123456789")
    column = name[len(row):]
    return len(row), row, int(column) if column else 0


def place(slot: str) -> str:
    """``slot 2``; ``off the deck`` for a labware that is not on it (``offDeck``, or
    ``offDeck1`` for the first labware loaded there)."""
    return "off the deck" if slot.startswith(OFF_DECK) else f"slot {slot}"


def display_name(load_name: str, version: object = None) -> str:
    """The definition's display name (``Opentrons Fixed Trash``) at ``version`` (a
    standard labware's names differ between versions), else the load name."""
    definition = standard_definition(load_name, version)
    try:
        return str(definition["metadata"]["displayName"]) if definition else load_name
    except (KeyError, TypeError):
        return load_name


def labware_display_name(params: Params) -> str:
    """The display name of the labware a ``loadLabware`` command (or the setup sheet's
    entry of it) loaded: a custom one's from its definition, as the record carries it; a
    standard one's looked up (its load name, for one loaded from an older record)."""
    custom = params.get("definition_name")
    if custom:
        return " ".join(str(custom).split())  # one line
    return display_name(str(params["load_name"]), params.get("version"))


def standard_definition(load_name: str, version: object = None) -> Mapping[str, Any] | None:
    """Opentrons' standard definition of ``load_name`` at ``version`` (its newest default
    when None or not one of its versions: a record's reader passes what the record says),
    read once a name and version, else None.

    None for custom labware, read from a directory: the report names it by its load name
    and knows no capacity. Only standard names are looked up, which spares an unknown
    name the "did you mean" search (tens of ms each time).
    """
    return _standard_definition(load_name, version if isinstance(version, int) else None)


@functools.lru_cache(maxsize=64)
def _standard_definition(load_name: str, version: int | None) -> Mapping[str, Any] | None:
    from protocol_api.labware_definitions import get_definition, standard_versions

    versions = standard_versions(load_name.strip().lower())
    if not versions:
        return None
    try:
        return get_definition(load_name, version=version if version in versions else None)
    except Exception:  # a definition that cannot be read: as if custom
        return None


CLIENTS = frozenset({"remote", "client"})
"""Sources that are some client: the server's page or API, an embedding script's default."""


def asker(source: str) -> str:
    """Who asked for a pause, from its action's source: ``a client``, ``the rehearsal``,
    ``the operator``, ``a person at the robot's board``."""
    if source == BOARD:
        return "a person at the robot's board"
    return "a client" if source in CLIENTS else f"the {source}"


def asked(source: str, preposition: str = "by") -> str:
    """Where an action or a pause came from, after its verb: ``by terminal`` (``from
    terminal``), or ``at the robot's board`` for what a person asked for there."""
    return "at the robot's board" if source == BOARD else f"{preposition} {source}"


def is_module_call(kind: str) -> bool:
    """A module's command (``magneticModule/engage``) or its loading."""
    return "/" in kind or kind == "loadModule"


def module_name(module: str) -> str:
    """``the Heater-Shaker Module GEN1 in slot 1`` for the module id
    ``heaterShakerModuleV1@1``."""
    model, _, slot = module.partition("@")
    return f"the {module_display_name(model)} in slot {slot}" if slot else module


def module_display_name(model: str) -> str:
    """``Thermocycler Module GEN2`` for ``thermocyclerModuleV2``: the name Opentrons'
    definition gives it (the model itself, for one labrun does not know)."""
    from protocol_api.modules.definitions import MODELS, module_spec

    return module_spec(model).display_name if model in MODELS else model


def module_state(status: Mapping[str, Any], model: str = "") -> str:
    """What a module (of ``model``) is doing, from its ``status`` (the summary's
    ``modules[].status``):
    ``holding at 40 °C``, ``shaking at 500 rpm, heater holding at 45 °C, latch closed``."""
    def heat(prefix: str, now: Any, target: Any) -> str:
        if target is None:
            return f"{prefix}off ({now:g} °C)" if now is not None else f"{prefix}off"
        state = "holding at" if now is not None and abs(now - target) <= 0.5 else "heading for"
        return f"{prefix}{state} {target:g} °C"

    kind = status.get("kind")
    if kind == "magnetic":
        return (f"magnets engaged {magnet_height(status.get('height_mm', 0), model)}"
                if status.get("engaged") else "magnets disengaged")
    if kind == "thermocycler":
        return (f"{heat('block ', status.get('block_temperature'), status.get('block_target'))}"
                f", {heat('lid heater ', status.get('lid_temperature'), status.get('lid_target'))}"
                f", lid {status.get('lid', '?')}")
    if kind == "heater_shaker":
        rpm = status.get("target_rpm") or 0
        shaking = f"shaking at {rpm:g} rpm" if rpm else "not shaking"
        return (f"{shaking}, {heat('heater ', status.get('temperature'), status.get('target'))}"
                f", latch {status.get('latch', '?')}")
    return heat("", status.get("temperature"), status.get("target"))


def magnet_height(mm: float, model: str = "") -> str:
    """``12.5 mm above their home, 10 mm above the labware's base``: the height of the
    magnets as the command has it (from their home; a GEN1's in its half-millimetres
    too, the unit its protocols gave it in before apiLevel 2.14) and as protocols from
    2.14 give it (``height_from_base``)."""
    from protocol_api.modules.magnetic import OFFSET_TO_LABWARE_BOTTOM

    gen1 = model.startswith("magneticModuleV1")
    above_base = round(mm - OFFSET_TO_LABWARE_BOTTOM["magneticModuleV2"], 4)  # in mm
    units = f" ({2 * mm:g} half-mm)" if gen1 else ""
    base = f", {above_base:g} mm above the labware's base" if above_base >= 0 else ""
    return f"{mm:g} mm{units} above their home{base}"


def module_sentence(kind: str, params: Params) -> str:
    """``Temperature module: set temperature (to 4 °C)``; ``Magnetic module: engage
    (magnets 12.5 mm above their home, 10 mm above the labware's base)``."""
    if kind == "magneticModule/engage" and params.get("height_mm") is not None:
        height = magnet_height(params["height_mm"], str(params.get("module", "")))
        return f"Magnetic module: engage (magnets {height})"
    if kind == "loadModule":
        model = params.get("model")
        name = module_display_name(str(model)) if model else params.get("module")
        covers = params.get("covers") or ()
        also = (f" (it covers slot{'s' if len(covers) > 1 else ''} {', '.join(covers)} too)"
                if covers else "")
        return f"Loading {name} in slot {params.get('slot')}{also}"
    module, _, action = kind.partition("/")
    details = ", ".join(f"{_label(k)}{_value(k, v)}" for k, v in params.items()
                        if k != "module" and v is not None
                        and not isinstance(v, (list, tuple, dict)))
    text = f"{MODULE_NAMES.get(module) or _generic(module)}: {_generic(action).lower()}"
    steps = params.get("steps")
    if isinstance(steps, (list, tuple)) and steps:  # a thermocycler profile: its steps
        text += " " + ", ".join(f"{float(step[0]):g} °C for {duration(float(step[1]))}"
                                for step in steps
                                if isinstance(step, (list, tuple)) and len(step) == 2)
    return f"{text} ({details})" if details else text


MODULE_NAMES = {"heaterShaker": "Heater-Shaker"}
"""A module kind's name where its command's (``heaterShaker``) does not read as Opentrons
names it."""


def _label(key: str) -> str:
    if key == "celsius":
        return "to "
    if key == "rpm":  # after the number, as people say it: 500 rpm
        return ""
    if key == "volume_ul":
        return "block max volume "
    return key.removesuffix("_mm").removesuffix("_s").replace("_", " ") + " "


def _value(key: str, value: Any) -> str:
    if key == "celsius":
        return f"{value:g} °C"
    if key == "volume_ul":
        return f"{value:g} µL"
    if key == "rpm":
        return f"{value:g} rpm"
    if key.endswith("_s") and isinstance(value, (int, float)):
        return duration(float(value))  # 30 s, 5 min, 1 h 2 min
    if key.endswith("_mm"):
        return f"{value:g} mm"
    return f"{value:g}" if isinstance(value, float) else str(value)


def call_name(step_name: str, line: str | None) -> str:
    """The API method a call used: the step's name, or (inside a group) read off its line."""
    if step_name in CALL_NAMES or line is None:
        return step_name
    path, _, number = line.rpartition(":")
    if path and number.isdigit():
        import linecache  # (with tokenize) 1.4 ms of start-up: only for a step like this

        for name in _CALL.findall(linecache.getline(path, int(number))):
            if name in CALL_NAMES:
                return str(name)
    return step_name


def volume(value: float) -> str:
    """``50.0 µL`` (one decimal unless the volume needs more)."""
    text = f"{value:.1f}" if round(value, 1) == value else f"{value:g}"
    return f"{text} µL"


class CallCommands:
    """The commands of one protocol call, taken one at a time, as far as its sentence
    needs them: the first, the first of each kind, counts, and (for a transfer,
    distribute or consolidate: ``name``) the liquid each well gave and got. A call of a
    million commands (a transfer of litres) keeps a few."""

    __slots__ = ("_air", "_dispensed_from", "_drawn", "_given", "_mixing_after", "_moved",
                 "_pending", "_previous", "_tally", "aspirates", "count", "dispenses", "ended",
                 "first", "first_kind", "firsts", "liquid", "nozzles")

    def __init__(self, name: str) -> None:
        self.count = 0
        self.first_kind: str | None = None
        self.first: Params = {}
        self.firsts: dict[str, Params] = {}  # the first command of each kind
        self.aspirates = 0  # commands of kind aspirate (air gaps too)
        self.dispenses = 0  # commands of kind dispense
        self.ended: tuple[str, str | None] | None = None
        """Set when the run ended with the call unfinished: how (``stopped``, ``failed``)
        and the kind of its command cut off (None: the call stood between two commands)."""
        # A multi-channel's wells under its other nozzles, by the first nozzle's well
        # (a transfer, distribute or consolidate): the record's ``wells``.
        self.nozzles: dict[str, Sequence[str]] = {}
        self.liquid: list[tuple[str, Params]] = []  # the first two liquid commands
        self._tally = name in LIQUID_VERBS
        self._given: dict[str, float] = {}
        # What each well gave: drawn since the last dispense (in the tip), or dispensed.
        self._drawn: dict[str, float] = {}
        self._dispensed_from: dict[str, float] = {}
        self._previous: tuple[str, Params] | None = None  # the last command but a move
        self._moved = False  # a move came after it: no mix (a mix's dispense stays put)
        self._pending: Params | None = None  # an aspirate: half of a mix, or not?
        self._mixing_after = False  # the pending aspirate is in the well just dispensed into
        self._air = TipAir()  # air gaps: a dispense pushes them out before the liquid

    def add(self, kind: str, params: Params) -> None:
        """The call's next command."""
        if not self.count:
            self.first_kind, self.first = kind, params
        self.count += 1
        firsts = self.firsts
        if kind not in firsts:
            firsts[kind] = params
        if kind in _LIQUID_KINDS:
            if len(self.liquid) < 2:
                self.liquid.append((kind, params))
            if kind == "aspirate":
                self.aspirates += 1
            elif kind == "dispense":
                self.dispenses += 1
        if self._tally:
            if kind == "moveTo":
                self._moved = True
            else:
                self._follow(kind, params)

    def _follow(self, kind: str, params: Params) -> None:
        # Half of a mix moves no liquid: an aspirate followed by a dispense of the same
        # volume into the same well, with no move between (a mix dispenses where it drew),
        # that dispense. Moved to the well it drew from, a transfer gives back to its
        # source (one of its targets) what it drew there: liquid moved.
        mixing = (kind == "dispense" and not self._moved and self._previous is not None
                  and self._previous[0] == "aspirate" and _same(self._previous[1], params))
        self._moved = False
        pending, self._pending = self._pending, None
        if pending is not None and not mixing:
            _add(self._drawn, pending)
        if _moves_liquid(kind, params):
            others = params.get("wells")
            if others and params["well"] not in self.nozzles:
                self.nozzles[params["well"]] = others
            if kind == "aspirate":
                self._pending = params
                previous = self._previous
                # Back into the well it just dispensed into: a mix after when it draws
                # another volume; the same volume is as likely the next source of a
                # serial dilution, and is counted as one (a well too many, never one
                # drawn from left out).
                self._mixing_after = (previous is not None and previous[0] == "dispense"
                                      and previous[1].get("well") == params.get("well")
                                      and abs(float(previous[1]["volume"])
                                              - float(params["volume"])) > 1e-9)
            elif not mixing:
                volume = float(params["volume"])
                if self._air.by_mount:  # air is not liquid: what went in last goes first
                    volume = self._air.liquid_dispensed(params["mount"], volume)
                if volume > 1e-9:
                    _add(self._given, params, volume)
                for well, drawn in self._drawn.items():  # what the tip held went out
                    self._dispensed_from[well] = self._dispensed_from.get(well, 0.0) + drawn
                self._drawn.clear()
        elif kind == "aspirate" and params.get("air_gap"):
            self._air.drawn(params["mount"], float(params["volume"]))
        elif kind in ("blowOut", "dropTip") and "mount" in params:
            self._air.dropped(params["mount"])  # the tip is empty, or gone
        self._previous = (kind, params)

    def liquid_moved(self) -> tuple[dict[str, float], dict[str, float]]:
        """The µL taken from each well and given to each, mixes left out, in order."""
        taken = dict(self._dispensed_from)
        for well, drawn in self.cut_off().items():  # still in the tip, or cut off
            taken[well] = taken.get(well, 0.0) + drawn
        return taken, self._given

    def dispensed_from(self) -> dict[str, float]:
        """The µL taken from each well that a dispense then gave out, in order."""
        return self._dispensed_from

    def cut_off(self) -> dict[str, float]:
        """The µL taken from each well since the last dispense: a call cut off (a stop, a
        failure) with liquid in its tip that was going elsewhere; empty when none."""
        drawn = dict(self._drawn)
        if self._pending is not None and not self._mixing_after:
            _add(drawn, self._pending)
        return drawn


_LIQUID_KINDS = frozenset(("aspirate", "dispense", "airGap"))


def _moves_liquid(kind: str, params: Params) -> bool:
    return kind in ("aspirate", "dispense") and bool(params.get("well")) and not params.get(
        "air_gap")


def _same(one: Params, other: Params) -> bool:
    return one.get("well") == other.get("well") and one.get("volume") == other.get("volume")


def _add(volumes: dict[str, float], params: Params, volume: float | None = None) -> None:
    """Count ``volume`` (the command's own when None) to the command's well."""
    well = params["well"]
    volumes[well] = volumes.get(well, 0.0) + (float(params["volume"]) if volume is None
                                              else volume)


def sentence(name: str, commands: CallCommands, labels: Labels) -> str:
    """One protocol call, from its name and its commands."""
    first, kind = commands.first, commands.first_kind
    one = kind if commands.count == 1 else None  # the kind of its only command
    if kind == "liftPipettes":  # a module call that first lifts the pipettes clear
        kind = next((k for k in commands.firsts if is_module_call(k)), kind)
        first = commands.firsts[kind]
    if kind is not None and is_module_call(kind):
        return module_sentence(kind, first)
    if name in LIQUID_VERBS:
        return _liquid(LIQUID_VERBS[name], name == "consolidate", commands, labels)
    if name == "mix" and commands.aspirates:
        aspirate = commands.firsts["aspirate"]
        at, shared = labels.under_tips(aspirate)
        each = "each of " if aspirate.get("wells") and shared == 1 else ""
        tips = f" with {shared} tips" if shared > 1 else ""
        where = f"with a volume of {volume(aspirate['volume'])} in {each}{at}{tips}"
        if commands.ended is not None:  # the repetitions asked for are not recorded
            return f"Mixing {where} ({_mixes_done(commands, *commands.ended)})"
        times = "once" if commands.aspirates == 1 else f"{commands.aspirates} times"
        return f"Mixing {times} {where}"
    if name == "comment" or one == "comment":
        return message_text(str(first.get("message", "")))
    if name == "pause" or one == "waitForResume":
        message = message_text(str(first.get("message") or ""))
        return f"Pausing: {message}" if message else "Pausing"
    if one in ("moveLabware", "removeLabware"):  # by hand, the run waiting or not
        return command_sentence(one, first, labels)
    if name == "delay" or one == "delay":
        message = f": {message_text(str(first['message']))}" if first.get("message") else ""
        return f"Delaying for {duration(float(first.get('seconds', 0)))}{message}"
    if name == "load_labware" and set(commands.firsts) == {"removeLabware", "loadLabware"}:
        # below apiLevel 2.14, into the fixed trash's slot: in place of what it held
        loaded = labels.loaded(str(commands.firsts["loadLabware"].get("slot")))
        gone = labels.name_of(commands.firsts["removeLabware"].get("labware"))
        return f"Loading {loaded} in place of {gone}"
    if name in ("load_labware", "load_adapter") and kind == "loadLabware" and len(
            commands.firsts) == 1:  # a labware, or (adapter=) an adapter and the one on it
        return f"Loading {labels.loaded(str(first.get('slot')))}"
    if name == "load_instrument" and one == "loadInstrument":
        return f"Loading {first.get('instrument_name')} on the {first.get('mount')} mount"
    if ((name in ("aspirate", "dispense", "air_gap") or name in ("step", ""))
            and len(commands.liquid) == 1):
        return command_sentence(*commands.liquid[0], labels)
    wanted = _KIND.get(name)
    if wanted is not None and wanted in commands.firsts:
        return command_sentence(wanted, commands.firsts[wanted], labels)
    if commands.ended is not None and one == "moveTo" and name in _ON_ITS_WAY:
        # ended on its way there: the call, not the move, which the call never asked for
        where = labels.well(first.get("well")) if first.get("well") else "its place"
        return f"{_ON_ITS_WAY[name]} {where} ({commands.ended[0]} on the way, before it began)"
    if kind is not None and commands.count == 1:
        return command_sentence(kind, first, labels)
    return name.replace("_", " ").capitalize()


_ON_ITS_WAY = {"aspirate": "Aspirating from", "dispense": "Dispensing into",
               "mix": "Mixing in", "air_gap": "Taking an air gap above",
               "blow_out": "Blowing out at", "touch_tip": "Touching the tip at",
               "pick_up_tip": "Picking up a tip from", "drop_tip": "Dropping the tip into",
               "return_tip": "Returning the tip to"}
"""The calls that move to their place first, as said when the run ended on the way."""

_KIND = {"pick_up_tip": "pickUpTip", "drop_tip": "dropTip", "return_tip": "dropTip",
         "blow_out": "blowOut", "touch_tip": "touchTip", "move_to": "moveTo", "home": "home",
         "aspirate": "aspirate", "dispense": "dispense", "air_gap": "airGap",
         "set_rail_lights": "setRailLights", "max_speeds": "setMaxSpeeds",
         "prepare_to_aspirate": "prepareToAspirate", "home_plunger": "home",
         "configure_nozzle_layout": "configureNozzleLayout", "set_offset": "setLabwareOffset",
         "load_liquid": "loadLiquid"}


def _mixes_done(commands: CallCommands, ended: str, cut: str | None) -> str:
    """How far a mix the run ended in got: ``stopped after 3 mixes and part of the 4th``
    (a mix is an aspirate and its dispense; ``cut`` the kind of the command cut off)."""
    done = commands.dispenses - (cut == "dispense")
    mixes = "1 mix" if done == 1 else f"{done} mixes"
    if commands.aspirates <= done:  # between two mixes (a delay after a dispense)
        return f"{ended} after {mixes}"
    if not done:
        return f"{ended} during the 1st mix"
    return f"{ended} after {mixes} and part of the {ordinal(done + 1)}"


def ordinal(number: int) -> str:
    """``1st``, ``2nd``, ``3rd``, ``4th``, ``11th``, ``21st``."""
    suffix = "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(
        number % 10, "th")
    return f"{number}{suffix}"


def nozzle_sentence(params: Params) -> str:
    """``configureNozzleLayout`` in words: how many tips the pipette takes from now on."""
    mount, count = params.get("mount"), params.get("nozzles")
    if params.get("style") == "ALL":
        return f"The {mount} pipette takes tips with all its nozzles (ALL)"
    tips = "1 tip" if count == 1 else f"{count} tips"
    return (f"The {mount} pipette takes {tips} from now on ({params.get('style')}), "
            f"{params.get('primary')} the nozzle that goes where a step says")


def liquid_sentence(params: Params, labels: Labels) -> str:
    """``loadLiquid`` in words: what the protocol says wells hold at the start."""
    wells = [str(w) for w in params.get("wells") or ()]
    volumes = [float(v) for v in params.get("volumes") or ()]
    of = labels.name_of(params.get("labware"))
    named = (f"{len(wells)} wells {wells[0]}…{wells[-1]}" if len(wells) > MANY_WELLS
             else ", ".join(wells))
    s = "s" if len(wells) == 1 else ""
    if params.get("liquid") is None:
        return f"{named} of {of} start{s} empty"
    if len(set(volumes)) == 1:
        each = " each" if len(wells) > 1 else ""
        return (f"{named} of {of} start{s} with {volume(volumes[0])}{each} of "
                f"{params['liquid']}")
    listed = ", ".join(f"{w} {volume(v)}" for w, v in zip(wells, volumes, strict=False))
    return f"{of} starts with {params['liquid']}: {listed}"


def command_sentence(kind: str, params: Params, labels: Labels, *,
                     coordinates: bool = False) -> str:
    """One command, nested under its call (``-v``); with ``coordinates``, where it went."""
    well = params.get("well")
    at = labels.well(well)
    text: str
    if kind == "aspirate" and params.get("air_gap"):  # recorded as Opentrons logs it
        text = f"Air gap of {volume(params['volume'])} above {at}"
    elif kind == "aspirate":
        at, shared = labels.under_tips(params)
        each = "each of " if params.get("wells") and shared == 1 else ""
        taken = f" into each of {shared} tips" if shared > 1 else ""
        text = f"Aspirating {volume(params['volume'])}{taken} from {each}{at}"
    elif kind == "dispense":
        at, shared = labels.under_tips(params)
        each = "each of " if params.get("wells") and shared == 1 else ""
        given = f" from each of {shared} tips" if shared > 1 else ""
        text = f"Dispensing {volume(params['volume'])}{given} into {each}{at}"
    elif kind == "airGap":
        text = f"Air gap of {volume(params['volume'])} above {at}"
    elif kind == "blowOut":
        into = well and labels.is_bin(str(well).partition("/")[0])
        text = f"Blowing out {'into' if into else 'at'} {labels.under_tips(params)[0]}"
    elif kind == "touchTip":
        noun = "tips" if params.get("wells") else "tip"
        text = f"Touching {noun} at {labels.under_tips(params)[0]}"
    elif kind == "pickUpTip":
        tips = int(params.get("tips", 1))
        text = (f"Picking up {'tip' if tips == 1 else plural(tips, 'tip')} from "
                f"{labels.tips_taken(params)}")
    elif kind == "dropTip":
        tips = labels.tips_dropped(params.get("mount"))
        text = f"Dropping {'tip' if tips == 1 else plural(tips, 'tip')} into {at}"
    elif kind == "moveTo":
        text = f"Moving to {at}" if well else "Moving"
    elif kind == "home":
        text = "Homing"
    elif kind == "prepareToAspirate":
        text = "Preparing to aspirate"
    elif kind == "liftPipettes":
        text = f"Lifting the pipettes clear of {module_name(str(params.get('module')))}"
    elif is_module_call(kind):
        text = module_sentence(kind, params)
    elif kind == "setRailLights":
        text = f"Turning the rail lights {'on' if params.get('on') else 'off'}"
    elif kind == "configureNozzleLayout":
        text = nozzle_sentence(params)
    elif kind == "moveLabware":
        text = f"Pausing for a move by hand: {params.get('message')}"
    elif kind == "loadLiquid":
        text = liquid_sentence(params, labels)
    elif kind == "setLabwareOffset":
        x, y, z = params.get("offset") or (0.0, 0.0, 0.0)
        text = (f"Shifting {labels.name_of(params.get('labware'))} (slot {params.get('slot')}) "
                f"by ({x:g}, {y:g}, {z:g}) mm from where its definition places it")
    elif kind == "removeLabware":
        text = (f"Taking {labels.name_of(params.get('labware'))} off the deck (del "
                f"ctx.deck[{params.get('from_slot')!r}])")
    elif kind in CALL_NAMES:  # a command that is a call of its own (delay): its words
        alone = CallCommands(kind)
        alone.add(kind, params)
        text = sentence(kind, alone, labels)
    else:
        text = _generic(kind)
    if kind in ("aspirate", "dispense", "blowOut") and params.get("flow_rate") and coordinates:
        text += f" at {params['flow_rate']:g} µL/s"
    point = params.get("point")
    if coordinates and point:
        text += " (" + ", ".join(f"{v:.1f}" for v in point) + ")"
    return text


def plural(count: int, noun: str) -> str:
    """``1 tip``, ``2 tips``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


LONGEST_COUNTED = 3600.0 * 1e6
"""A million hours: a time beyond it (a flow rate far too low) is said in hours alone."""


def uncounted_hours(seconds: float) -> str | None:
    """``2.8e+295 h`` for a time beyond ``LONGEST_COUNTED``, not hundreds of digits."""
    return f"{seconds / 3600:.2g} h" if seconds >= LONGEST_COUNTED else None


def duration(seconds: float) -> str:
    """``5 min``, ``1 h 2 min``, ``30 s``, ``1 min 30 s``."""
    if (uncounted := uncounted_hours(seconds)) is not None:
        return uncounted
    whole = round(seconds)
    if whole < 60:
        return f"{round(seconds, 2):g} s" if seconds < 10 else f"{whole} s"
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{hours} h"] if hours else []
    parts += [f"{minutes} min"] if minutes else []
    parts += [f"{secs} s"] if secs else []
    return " ".join(parts)


def _liquid(verb: str, per_source: bool, commands: CallCommands, labels: Labels) -> str:
    """A transfer, distribute or consolidate: the volume each target got (from each source,
    when many sources go into one well), sources, targets."""
    taken, given = commands.liquid_moved()
    nozzles = commands.nozzles
    told = not nozzles  # a multi-channel's tips: said where they reached many wells

    def named(wells: Iterable[str]) -> str:
        nonlocal told
        if not nozzles:
            return labels.wells(wells)
        text, told = labels.nozzle_wells(wells, nozzles, told)
        return text

    def tips() -> str:  # every tip into one well each time: how many, once
        return "" if told else f" with {1 + max(map(len, nozzles.values()))} tips"

    if not given:  # cut off (a stop, a failure) before its first dispense
        if not taken:
            return f"{verb}: no liquid moved"
        sources = named(taken)
        return f"{verb}: {_drawn(taken)} from {sources}{tips()}, none dispensed yet"
    done, cut = commands.dispensed_from(), commands.cut_off()
    # Many sources into one well (a consolidate, or a transfer written as one): the volume
    # from each source, as the protocol gave it, rather than the sum the well got. What
    # was drawn and never dispensed is said apart: it was on its way elsewhere.
    per_source = per_source or (len(done) > 1 and len(given) == 1)
    amounts = list((done if per_source else given).values())
    low, high = min(amounts), max(amounts)
    if abs(high - low) < 1e-6:
        each = volume(low)
    elif len(amounts) <= 3:  # each said, in the order of the targets
        each = " and ".join([", ".join(volume(v) for v in amounts[:-1]), volume(amounts[-1])])
    else:  # a list or a gradient: its span
        each = f"{len(amounts)} volumes between {volume(low)} and {volume(high)}"
    sources = named(done)
    if per_source and len(done) > 1:
        sources = f"each of {sources}"
    text = f"{verb} {each} from {sources} to {named(given)}"
    text += tips()
    if cut:
        text += (f"; then drew {_drawn(cut)} from {named(cut)}, cut off before "
                 "dispensing it")
    return text


def _drawn(wells: dict[str, float]) -> str:
    """``50.0 µL``, ``50.0 µL each`` or ``120.0 µL in all``: what was drawn from ``wells``."""
    amounts = list(wells.values())
    if max(amounts) - min(amounts) < 1e-6:
        return volume(amounts[0]) + ("" if len(amounts) == 1 else " each")
    return f"{volume(sum(amounts))} in all"


def _generic(kind: str) -> str:
    words = re.sub(r"(?<!^)([A-Z])", r" \1", kind).lower()
    return words[:1].upper() + words[1:]


def message_text(message: str) -> str:
    """A protocol's message as a person reads it: from its first words to its last (one
    written on a new line after its opening quotes starts there), its lines without the
    indentation they share (the code's, in a triple-quoted message)."""
    if "\n" not in message:
        return message.strip()
    lines = message.rstrip().split("\n")
    own_line = not lines[0].strip()  # the text starts on a line of its own: all indented
    while lines and not lines[0].strip():
        lines.pop(0)
    if not lines:
        return ""
    indented = lines if own_line else lines[1:]
    margin = min((len(line) - len(line.lstrip()) for line in indented if line.strip()),
                 default=0)
    return "\n".join([lines[0].lstrip(), *(line[margin:] for line in lines[1:])])
