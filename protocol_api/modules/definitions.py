"""Module definitions: the names protocols load modules by, and their geometry on the deck.

The geometry comes from Opentrons' module definitions (schema 3) in the
opentrons-shared-data package, read lazily and shared: where a labware on the module
sits (``labwareOffset``, through the OT-2 deck's ``slotTransforms`` in slots where the
module is turned round), how tall the module is, which slots it may use (the OT-2 deck
definition's ``compatibleModuleTypes``; the thermocycler only slot 7, covering 7, 8,
10 and 11), and the module's own configuration (temperature ranges, magnet travel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from hardware.frozen import Frozen

from ..api_level import ENGINE_CORE_API
from ..errors import ProtocolError
from ..labware_definitions import read_json
from ..types import Point

MODULE_DEFINITIONS = "module/definitions/3/{model}.json"
OT2_DECK = "deck/definitions/5/ot2_standard.json"

# The device kind (hardware.devices) of each model. Every model loads at every apiLevel,
# as the reference loads them (the heater-shaker's calls need 2.13: its context says so).
MODELS: dict[str, str] = {
    "temperatureModuleV1": "temperature",
    "temperatureModuleV2": "temperature",
    "magneticModuleV1": "magnetic",
    "magneticModuleV2": "magnetic",
    "thermocyclerModuleV1": "thermocycler",
    "thermocyclerModuleV2": "thermocycler",
    "heaterShakerModuleV1": "heater_shaker",
}

# What ``load_module`` accepts besides the model names, compared in lower case, as the
# Opentrons API does; a model name is taken only as it is written, and the heater-shaker
# has no alias (Opentrons refuses any other spelling, so labrun does too).
ALIASES: dict[str, str] = {
    "tempdeck": "temperatureModuleV1",
    "temperature module": "temperatureModuleV1",
    "temperature module gen2": "temperatureModuleV2",
    "magdeck": "magneticModuleV1",
    "magnetic module": "magneticModuleV1",
    "magnetic module gen2": "magneticModuleV2",
    "thermocycler": "thermocyclerModuleV1",
    "thermocycler module": "thermocyclerModuleV1",
    "thermocycler module gen2": "thermocyclerModuleV2",
}

THERMOCYCLER_SLOT = "7"
THERMOCYCLER_COVERS = ("8", "10", "11")
"""The slots the thermocycler takes besides its own on the OT-2 deck."""
SEMI_COVERS = ("10",)
"""The slot a thermocycler in the semi configuration takes besides its own."""
SEMI_SHIFT_X = -23.28
"""How far Opentrons' geometry of a semi-configured thermocycler moves its labware offset
in x (its report only: the wells stay where the full configuration has them)."""


LEGACY_TC_GEN2_LABWARE_OFFSET = {"x": 0.0, "y": 68.06, "z": 98.26}
"""The GEN2 thermocycler's labware offset before apiLevel 2.14 (Opentrons' shared data
keeps it as ``OLD_TC_GEN2_LABWARE_OFFSET``; the definition's is 68.8, 108.96)."""
THERMOCYCLER_DEFAULT_OVERLAP_MM = 10.7
"""How deep a plate whose definition names no overlap with an OT-2 thermocycler sits in
its block (Opentrons' default from apiLevel 2.14)."""


class ModuleSpec(Frozen):
    """One module model: its kind, its definition and what labrun reads from it."""

    __slots__ = ("definition", "kind", "model", "semi")

    model: str
    kind: str
    definition: Mapping[str, Any]
    semi: bool
    """A thermocycler in the semi configuration (apiLevel 2.4 to 2.13): a labware on it
    has no columns 1 and 2, and it takes slot 10 besides its own, not 8 and 11."""

    def __init__(self, model: str, kind: str, definition: Mapping[str, Any],
                 semi: bool = False) -> None:
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "definition", definition)
        object.__setattr__(self, "semi", semi)

    def in_semi_configuration(self) -> ModuleSpec:
        """This thermocycler in the semi configuration."""
        return ModuleSpec(self.model, self.kind, self.definition, semi=True)

    @property
    def display_name(self) -> str:
        """The definition's display name (``Temperature Module GEN2``...)."""
        return str(self.definition["displayName"])

    @property
    def module_type(self) -> str:
        """The definition's ``moduleType`` (``magneticModuleType``...)."""
        return str(self.definition["moduleType"])

    @property
    def config(self) -> Mapping[str, Any]:
        """The definition's ``config`` (empty if it has none)."""
        return self.definition.get("config") or {}

    @property
    def over_labware(self) -> float:
        """How far the module reaches above the top of a labware sitting on it directly
        (its definition's ``overLabwareHeight``: a magnetic module's 4.052 mm, 0 for the
        other OT-2 modules); see ``Labware.clearance_top``."""
        return float(self.definition["dimensions"].get("overLabwareHeight") or 0.0)

    @property
    def covers(self) -> tuple[str, ...]:
        """The slots it takes beyond its own."""
        if self.kind != "thermocycler":
            return ()
        return SEMI_COVERS if self.semi else THERMOCYCLER_COVERS

    def accessible(self, labware: Mapping[str, Any]) -> Mapping[str, Any]:
        """``labware`` (a definition) as a protocol sees it on this module: in the semi
        configuration without its first two columns, as Opentrons gives it."""
        if not self.semi:
            return labware
        hidden = {well for column in labware["ordering"][:2] for well in column}
        return {**labware, "ordering": labware["ordering"][2:],
                "wells": {name: well for name, well in labware["wells"].items()
                          if name not in hidden}}

    def compatible_slots(self) -> tuple[str, ...]:
        """The OT-2 slots this module may be loaded in."""
        if self.kind == "thermocycler":
            return (THERMOCYCLER_SLOT,)
        return tuple(slot for slot, kinds in _compatible().items() if self.module_type in kinds)

    def labware_origin(self, slot: str, slot_origin: Sequence[float],
                       api_version: tuple[int, int] = ENGINE_CORE_API) -> Point:
        """The slot origin of a labware on the module in ``slot`` (deck coordinates),
        before the labware's own overlap with the module (``overlap``)."""
        offset = self.definition["labwareOffset"]
        if api_version < ENGINE_CORE_API and self.model == "thermocyclerModuleV2":
            offset = LEGACY_TC_GEN2_LABWARE_OFFSET
        vector = [float(offset["x"]), float(offset["y"]), float(offset["z"]), 1.0]
        transform = (((self.definition.get("slotTransforms") or {}).get("ot2_standard") or {})
                     .get(slot) or {}).get("labwareOffset")
        if transform:
            vector = [sum(row[i] * vector[i] for i in range(4)) for row in transform]
        return Point(float(slot_origin[0]) + vector[0], float(slot_origin[1]) + vector[1],
                     float(slot_origin[2]) + vector[2])

    def overlap(self, labware: Mapping[str, Any], api_version: tuple[int, int]) -> Point:
        """How far ``labware`` (a definition) sits into the module, from its
        ``stackingOffsetWithModule`` for this model; a thermocycler's plate without one
        sits 10.7 mm into the block. Before apiLevel 2.14 no labware overlaps (the GEN2
        thermocycler's legacy offset already has its plate in the block)."""
        if api_version < ENGINE_CORE_API:
            return Point(0.0, 0.0, 0.0)
        own = (labware.get("stackingOffsetWithModule") or {}).get(self.model)
        if own:
            return Point(float(own.get("x", 0)), float(own.get("y", 0)), float(own.get("z", 0)))
        if self.kind == "thermocycler":
            return Point(0.0, 0.0, THERMOCYCLER_DEFAULT_OVERLAP_MM)
        return Point(0.0, 0.0, 0.0)

    def highest_z(self, slot_origin: Sequence[float]) -> float:
        """The module's top in deck coordinates (a thermocycler's with its lid)."""
        dimensions = self.definition["dimensions"]
        height = float(dimensions["bareOverallHeight"])
        if "lidHeight" in dimensions:
            height = max(height, float(self.definition["labwareOffset"]["z"])
                         + float(dimensions["lidHeight"]))
        return float(slot_origin[2]) + height


@cache
def _compatible() -> dict[str, tuple[str, ...]]:
    deck = read_json(OT2_DECK)
    return {area["id"]: tuple(area.get("compatibleModuleTypes") or ())
            for area in deck["locations"]["addressableAreas"]}


def resolve_model(name: object) -> str:
    """The module model ``name`` means; ProtocolError naming the accepted names if none."""
    if isinstance(name, str):
        model = ALIASES.get(name.lower()) or (name if name in MODELS else None)
        if model is not None:
            return model
    import difflib

    names = {**{model.lower(): model for model in MODELS}, **{a: a for a in ALIASES}}
    close = difflib.get_close_matches(str(name).strip().lower(), list(names), n=2,
                                      cutoff=0.6) if isinstance(name, str) else []
    guess = f"; did you mean {' or '.join(repr(names[n]) for n in close)}?" if close else "."
    raise ProtocolError(
        f"load_module: {name!r} is not a module labrun knows{guess} Use a model, as it is "
        f"written ({', '.join(MODELS)}), or one of Opentrons' aliases, in any case "
        f"({', '.join(ALIASES)})")


@cache
def module_spec(model: str) -> ModuleSpec:
    """The spec of ``model`` (a name from ``MODELS``), its definition read once."""
    return ModuleSpec(model, MODELS[model], read_json(MODULE_DEFINITIONS.format(model=model)))
