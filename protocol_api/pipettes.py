"""OT-2 pipette models, read from Opentrons' pipette definitions (opentrons-shared-data).

A load name such as ``p300_multi_gen2`` names a model (``p300``), a channel count
(``single`` or ``multi``) and a generation (GEN1, or ``_gen2``); labrun reads the newest
published version of that generation from the package's schema-2 pipette JSON (general
properties, liquid properties and nozzle geometry) into a small frozen ``PipetteSpec``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from typing import Any

from hardware.frozen import Frozen

from .errors import InstrumentError
from .labware_definitions import SharedDataMissingError, data_root, read_json
from .loader import MAX_API

PLUNGER_BOTTOM = 18.0
PLUNGER_BLOW_OUT = 19.0
PLUNGER_DROP_TIP = 20.0
STROKE_MM = 16.0  # plunger travel for the pipette's full volume

Vector = tuple[float, float, float]

# The OT-2's pipette load names: p<volume>_<single|multi>[_gen2].
OT2_PIPETTE_NAMES = (
    "p10_single", "p10_multi", "p50_single", "p50_multi", "p300_single", "p300_multi",
    "p1000_single", "p20_single_gen2", "p20_multi_gen2", "p300_single_gen2",
    "p300_multi_gen2", "p1000_single_gen2",
)
_NAME = re.compile(r"(p\d+)_(single|multi)(_gen2)?")


class PipetteSpec(Frozen):
    """One OT-2 pipette model at one apiLevel, as its definition gives it."""

    __slots__ = (
        "aspirate_flow_rate",
        "blow_out_flow_rate",
        "bounding_box",
        "channels",
        "default_tip_length",
        "default_tipracks",
        "dispense_flow_rate",
        "display_name",
        "flow_rates_by_level",
        "max_volume",
        "min_volume",
        "model",
        "name",
        "nozzle_offset",
        "nozzles",
        "ot2_ul_per_mm",
        "return_height",
        "tip_overlaps",
        "tip_sizes",
    )

    name: str  # the load name, p300_multi_gen2
    model: str  # the versioned model, p300_multi_v2.1
    display_name: str
    channels: int
    min_volume: float
    max_volume: float
    aspirate_flow_rate: float  # µL/s, the default at the apiLevel
    dispense_flow_rate: float
    blow_out_flow_rate: float
    default_tip_length: float  # mm, for a tip rack whose definition gives none
    tip_overlaps: Mapping[str, float]  # tip rack URI (or "default") -> overlap, mm
    nozzle_offset: Vector  # the primary nozzle (A1) from the mount, mm
    nozzles: tuple[tuple[str, Vector], ...]  # every nozzle, back to front (A1, B1, ...)
    bounding_box: tuple[Vector, Vector]  # its back-left and front-right corners from the mount
    default_tipracks: tuple[str, ...]  # tip rack URIs
    return_height: float  # a returned tip is let go this many tip lengths into its rack
    flow_rates_by_level: tuple[Mapping[str, float], Mapping[str, float], Mapping[str, float]]
    """The default aspirate, dispense and blow-out flow rates by apiLevel ("2.0", "2.6"),
    as its definition gives them."""
    tip_sizes: tuple[int, ...]
    """The tip volumes (µL) its definition has settings for (``supportedTips``): Opentrons
    picks a tip up below apiLevel 2.14 only if it finds its size there."""
    ot2_ul_per_mm: tuple[float, float]
    """µL per mm of an OT-2's plunger at full volume (aspirating, dispensing), as its
    definition gives them: the unit of ``pipette.speed`` (apiLevel < 2.14)."""

    def __init__(self, name: str, model: str, display_name: str, channels: int, min_volume: float,
                 max_volume: float, aspirate_flow_rate: float, dispense_flow_rate: float,
                 blow_out_flow_rate: float, default_tip_length: float,
                 tip_overlaps: Mapping[str, float], nozzle_offset: Vector,
                 nozzles: tuple[tuple[str, Vector], ...],
                 default_tipracks: tuple[str, ...], return_height: float = 0.5,
                 ot2_ul_per_mm: tuple[float, float] | None = None,
                 bounding_box: tuple[Vector, Vector] | None = None,
                 tip_sizes: tuple[int, ...] | None = None,
                 flow_rates_by_level: tuple[Mapping[str, float], Mapping[str, float],
                                            Mapping[str, float]] | None = None) -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "model", model)
        object.__setattr__(self, "display_name", display_name)
        object.__setattr__(self, "channels", channels)
        object.__setattr__(self, "min_volume", min_volume)
        object.__setattr__(self, "max_volume", max_volume)
        object.__setattr__(self, "aspirate_flow_rate", aspirate_flow_rate)
        object.__setattr__(self, "dispense_flow_rate", dispense_flow_rate)
        object.__setattr__(self, "blow_out_flow_rate", blow_out_flow_rate)
        object.__setattr__(self, "default_tip_length", default_tip_length)
        object.__setattr__(self, "tip_overlaps", tip_overlaps)
        object.__setattr__(self, "nozzle_offset", nozzle_offset)
        object.__setattr__(self, "nozzles", nozzles)
        object.__setattr__(self, "default_tipracks", default_tipracks)
        object.__setattr__(self, "return_height", return_height)
        object.__setattr__(self, "ot2_ul_per_mm", ot2_ul_per_mm or (self.ul_per_mm,) * 2)
        object.__setattr__(self, "tip_sizes", tip_sizes if tip_sizes is not None else ())
        object.__setattr__(self, "flow_rates_by_level", flow_rates_by_level or (
            {"2.0": aspirate_flow_rate}, {"2.0": dispense_flow_rate},
            {"2.0": blow_out_flow_rate}))
        object.__setattr__(self, "bounding_box", bounding_box or (
            (-16.0, 43.15, 0.0), (16.0, -43.15, 0.0)))  # an 8-channel GEN2's

    @property
    def ul_per_mm(self) -> float:
        """Microlitres per millimetre of plunger travel."""
        return self.max_volume / STROKE_MM

    def tip_overlap(self, tiprack_uri: str) -> float:
        """How far a tip from the rack ``tiprack_uri`` slides onto the nozzle, mm."""
        overlap = self.tip_overlaps.get(tiprack_uri, self.tip_overlaps.get("default", 0.0))
        return float(overlap)

    def effective_tip_length(self, tip_length: float, tiprack_uri: str) -> float:
        """The length a tip of ``tip_length`` adds below the nozzle once picked up, mm, to
        the nanometre (the record says 51.1, not 59.3 - 8.2 = 51.099999999999994)."""
        return round(tip_length - self.tip_overlap(tiprack_uri), 6)


def pipette_names() -> tuple[str, ...]:
    """Every OT-2 pipette load name labrun knows."""
    return OT2_PIPETTE_NAMES


def get_pipette(name: str, api_version: tuple[int, int] = MAX_API) -> PipetteSpec:
    """The spec of the pipette called ``name`` at ``api_version``, or an InstrumentError."""
    given = name
    name = name.lower() if isinstance(name, str) else name  # as Opentrons: any case
    if name not in OT2_PIPETTE_NAMES:
        import difflib  # 2 ms of start-up, for a misspelt name only

        known = ", ".join(OT2_PIPETTE_NAMES)
        close = difflib.get_close_matches(name, OT2_PIPETTE_NAMES, n=1) if isinstance(
            name, str) else []
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise InstrumentError(f"unknown instrument {given!r}; {hint}the OT-2 pipettes are "
                              f"{known}")
    return _spec(name, api_version)


@cache
def _spec(name: str, api_version: tuple[int, int]) -> PipetteSpec:
    match = _NAME.fullmatch(name)
    assert match is not None, name
    model, kind, gen2 = match.groups()
    channels_dir = "single_channel" if kind == "single" else "eight_channel"
    major = 2 if gen2 else 1
    minor = _newest_minor(channels_dir, model, major)
    version = f"{major}_{minor}"
    root = "pipette/definitions/2"
    general = read_json(f"{root}/general/{channels_dir}/{model}/{version}.json")
    liquid = read_json(f"{root}/liquid/{channels_dir}/{model}/default/{version}.json")
    geometry = read_json(f"{root}/geometry/{channels_dir}/{model}/{version}.json")
    # Numbers keep their JSON type (300, not 300.0), as Opentrons returns them: protocols
    # build load names like f"opentrons_96_tiprack_{pipette.max_volume}ul".
    max_volume = liquid["maxVolume"]
    tips: Mapping[str, Any] = liquid["supportedTips"]
    tip = tips.get(f"t{int(max_volume)}") or next(iter(tips.values()))
    by_name = {n: _vector(v) for n, v in geometry["nozzleMap"].items()}
    box = geometry["pipetteBoundingBoxOffsets"]
    order = [n for column in geometry["orderedColumns"] for n in column["orderedNozzles"]]
    return PipetteSpec(
        name=name,
        model=f"{model}_{kind}_v{major}.{minor}",
        display_name=str(general["displayName"]),
        channels=int(general["channels"]),
        min_volume=liquid["minVolume"],
        max_volume=max_volume,
        aspirate_flow_rate=_at_level(tip["defaultAspirateFlowRate"], api_version),
        dispense_flow_rate=_at_level(tip["defaultDispenseFlowRate"], api_version),
        blow_out_flow_rate=_at_level(tip["defaultBlowOutFlowRate"], api_version),
        default_tip_length=float(tip["defaultTipLength"]),
        tip_overlaps=_overlaps(general, int(general["channels"])),
        nozzle_offset=_vector(geometry["nozzleOffset"]),
        nozzles=tuple((n, by_name[n]) for n in order),
        bounding_box=(_vector(box["backLeftCorner"]), _vector(box["frontRightCorner"])),
        default_tipracks=tuple(liquid.get("defaultTipracks", ())),
        return_height=float(tip.get("defaultReturnTipHeight", 0.5)),
        ot2_ul_per_mm=(_ul_per_mm(tip["aspirate"], max_volume),
                       _ul_per_mm(tip["dispense"], max_volume)),
        tip_sizes=tuple(sorted(int(key.lstrip("t")) for key in tips)),
        flow_rates_by_level=(_by_level(tip["defaultAspirateFlowRate"]),
                             _by_level(tip["defaultDispenseFlowRate"]),
                             _by_level(tip["defaultBlowOutFlowRate"])),
    )


def _ul_per_mm(function: Mapping[str, Any], volume: float) -> float:
    """µL/mm at ``volume`` from a definition's piecewise function, as Opentrons reads it:
    the newest version given ("2", else "1"); the first piece whose top is not below
    ``volume`` (``[top, slope, intercept]``), else the last."""
    pieces = function["default"].get("2") or function["default"]["1"]
    _top, slope, intercept = next((p for p in pieces if volume <= p[0]), pieces[-1])
    return float(slope * volume + intercept)


def _newest_minor(channels_dir: str, model: str, major: int) -> int:
    folder = data_root() / "pipette" / "definitions" / "2" / "general" / channels_dir / model
    minors = [int(p.stem.split("_")[1]) for p in folder.glob(f"{major}_*.json")]
    if not minors:
        raise SharedDataMissingError(f"opentrons-shared-data has no {model} {channels_dir} "
                                     f"GEN{major} definition in {folder}")
    return max(minors)


def _at_level(rates: Mapping[str, Any], api_version: tuple[int, int]) -> float:
    """The value for the highest apiLevel in ``valuesByApiLevel`` not above ``api_version``."""
    best: tuple[tuple[int, int], float] | None = None
    for level, value in rates.get("valuesByApiLevel", {}).items():
        major, minor = (int(part) for part in level.split("."))
        if (major, minor) <= api_version and (best is None or (major, minor) > best[0]):
            best = ((major, minor), value)
    return best[1] if best is not None else rates["default"]


def _by_level(rates: Mapping[str, Any]) -> dict[str, float]:
    """A definition's flow rates by apiLevel; its default under "2.0" if it gives none."""
    values = rates.get("valuesByApiLevel") or {"2.0": rates["default"]}
    return {level: float(value) for level, value in values.items()}


def _overlaps(general: Mapping[str, Any], channels: int) -> dict[str, float]:
    """Tip overlaps of the full nozzle layout (the one a protocol picks tips up with)."""
    layouts = general["pickUpTipConfigurations"]["pressFit"]["configurationsByNozzleMap"]
    layout = layouts.get("Full" if channels > 1 else "SingleA1") or next(iter(layouts.values()))
    versions: Mapping[str, Mapping[str, float]] = layout["default"]["tipOverlaps"]
    table = versions.get("v0") or next(iter(versions.values()))
    return {uri: float(value) for uri, value in table.items()}


def _vector(values: Any) -> Vector:
    x, y, z = (float(v) for v in values)
    return (x, y, z)
