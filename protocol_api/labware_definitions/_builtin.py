"""labrun's built-in labware, generated in the Opentrons labware JSON layout (schema 2).

Each entry is a compact table row: the grid, the first well's position and the spacing.
The numbers come from Opentrons' ``shared-data/labware/definitions/2/<load_name>/1.json``;
generating the wells from them reproduces those files' well positions exactly (rounded
to 0.01 mm as the files are).
"""

from __future__ import annotations

from functools import cache
from typing import Any, NamedTuple

LabwareDefinition = dict[str, Any]

_ROW_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class _Spec(NamedTuple):
    display_name: str
    category: str  # metadata.displayCategory
    brand: str
    dims: tuple[float, float, float]  # footprint x, y and height z
    grid: tuple[int, int]  # rows, columns
    a1: tuple[float, float, float]  # well A1: centre x, centre y, bottom z
    pitch: tuple[float, float]  # mm between columns (x) and between rows (y)
    size: tuple[float, ...]  # (diameter,) for a circular well, (x, y) for a rectangular one
    depth: float
    volume: float  # totalLiquidVolume, µL
    fmt: str = "96Standard"
    units: str = "µL"
    tip: tuple[float, float] | None = None  # tipLength, tipOverlap
    magnet: float | None = None  # magneticModuleEngageHeight
    quirks: tuple[str, ...] = ()
    bottom: str | None = None  # groups[0].metadata.wellBottomShape
    corner: tuple[float, float, float] = (0.0, 0.0, 0.0)  # cornerOffsetFromSlot


_PLATE = (127.76, 85.48)
_96 = (8, 12)
_TIPS = "tipRack"

_SPECS: dict[str, _Spec] = {
    "opentrons_96_tiprack_20ul": _Spec(
        "Opentrons 96 Tip Rack 20 µL", _TIPS, "Opentrons", (*_PLATE, 64.69), _96,
        (14.38, 74.24, 25.49), (9, 9), (3.27,), 39.2, 20, tip=(39.2, 8.25)),
    "opentrons_96_tiprack_300ul": _Spec(
        "Opentrons 96 Tip Rack 300 µL", _TIPS, "Opentrons", (*_PLATE, 64.49), _96,
        (14.38, 74.24, 5.39), (9, 9), (5.23,), 59.3, 300, tip=(59.3, 7.47)),
    "opentrons_96_tiprack_1000ul": _Spec(
        "Opentrons 96 Tip Rack 1000 µL", _TIPS, "Opentrons", (*_PLATE, 97.47), _96,
        (14.38, 74.24, 9.47), (9, 9), (7.23,), 88, 1000, tip=(88, 7.95)),
    "opentrons_96_filtertiprack_20ul": _Spec(
        "Opentrons 96 Filter Tip Rack 20 µL", _TIPS, "Opentrons", (*_PLATE, 64.69), _96,
        (14.36, 74.26, 25.49), (9, 9), (3.27,), 39.2, 20, tip=(39.2, 3.29)),
    "opentrons_96_filtertiprack_200ul": _Spec(
        "Opentrons 96 Filter Tip Rack 200 µL", _TIPS, "Opentrons", (*_PLATE, 64.49), _96,
        (14.38, 74.24, 5.39), (9, 9), (5.23,), 59.3, 200, tip=(59.3, 7.47)),
    "opentrons_96_filtertiprack_1000ul": _Spec(
        "Opentrons 96 Filter Tip Rack 1000 µL", _TIPS, "Opentrons", (*_PLATE, 97.47), _96,
        (14.36, 74.26, 9.47), (9, 9), (7.23,), 88, 1000, tip=(88, 7.95)),
    "corning_96_wellplate_360ul_flat": _Spec(
        "Corning 96 Well Plate 360 µL Flat", "wellPlate", "Corning", (127.76, 85.47, 14.22),
        _96, (14.38, 74.24, 3.55), (9, 9), (6.86,), 10.67, 360, bottom="flat"),
    "nest_96_wellplate_100ul_pcr_full_skirt": _Spec(
        "NEST 96 Well Plate 100 µL PCR Full Skirt", "wellPlate", "NEST", (*_PLATE, 15.7),
        _96, (14.38, 74.24, 0.92), (9, 9), (5.34,), 14.78, 100, magnet=18, bottom="v"),
    "nest_96_wellplate_2ml_deep": _Spec(
        "NEST 96 Deep Well Plate 2mL", "wellPlate", "NEST", (127.6, 85.3, 41), _96,
        (14.3, 74.15, 3), (9, 9), (8.2, 8.2), 38, 2000, magnet=6.8, bottom="v"),
    "biorad_96_wellplate_200ul_pcr": _Spec(
        "Bio-Rad 96 Well Plate 200 µL PCR", "wellPlate", "Bio-Rad", (*_PLATE, 16.06), _96,
        (14.38, 74.24, 1.25), (9, 9), (5.46,), 14.81, 200, magnet=18, bottom="v"),
    "nest_12_reservoir_15ml": _Spec(
        "NEST 12 Well Reservoir 15 mL", "reservoir", "NEST", (*_PLATE, 31.4), (1, 12),
        (14.38, 42.78, 4.55), (9, 0), (8.2, 71.2), 26.85, 15000, fmt="trough", units="mL",
        quirks=("centerMultichannelOnWells",), bottom="v"),
    "nest_1_reservoir_195ml": _Spec(
        "NEST 1 Well Reservoir 195 mL", "reservoir", "NEST", (*_PLATE, 31.4), (1, 1),
        (63.88, 42.74, 4.55), (0, 0), (106.8, 71.2), 25, 195000, fmt="trough", units="mL",
        quirks=("centerMultichannelOnWells", "touchTipDisabled"), bottom="v"),
    "usascientific_12_reservoir_22ml": _Spec(
        "USA Scientific 12 Well Reservoir 22 mL", "reservoir", "USA Scientific",
        (127.76, 85.8, 44.45), (1, 12), (13.94, 42.9, 2.29), (9.09, 0), (8.33, 71.88),
        42.16, 22000, fmt="trough", units="mL", quirks=("centerMultichannelOnWells",),
        bottom="v"),
    "corning_384_wellplate_112ul_flat": _Spec(
        "Corning 384 Well Plate 112 µL Flat", "wellPlate", "Corning", (127.76, 85.47, 14.22),
        (16, 24), (12.12, 76.49, 2.79), (4.5, 4.5), (3.63,), 11.43, 112, fmt="384Standard",
        bottom="flat", corner=(0, -0.01, 0)),
    # The fixed trash's single well is wider (in y) than its footprint: that is how
    # Opentrons defines it, and it is kept so positions match the OT-2.
    "opentrons_1_trash_1100ml_fixed": _Spec(
        "Opentrons Fixed Trash", "trash", "Opentrons", (172.86, 165.86, 82), (1, 1),
        (82.84, 53.56, 5), (0, 0), (107.11, 165.67), 77, 1100000, fmt="trash", units="mL",
        quirks=("fixedTrash", "centerMultichannelOnWells")),
}


def builtin_names() -> list[str]:
    """Load names of the built-in definitions, sorted."""
    return sorted(_SPECS)


@cache
def builtin_definition(load_name: str) -> LabwareDefinition | None:
    """The generated definition for ``load_name``, or None; generated once, then shared."""
    spec = _SPECS.get(load_name)
    return None if spec is None else _generate(load_name, spec)


def _generate(load_name: str, spec: _Spec) -> LabwareDefinition:
    rows, columns = spec.grid
    x0, y0, z0 = spec.a1
    dx, dy = spec.pitch
    if len(spec.size) == 1:
        shape: dict[str, Any] = {"shape": "circular", "diameter": spec.size[0]}
    else:
        shape = {"shape": "rectangular", "xDimension": spec.size[0], "yDimension": spec.size[1]}
    ordering = [[f"{_ROW_LETTERS[r]}{c + 1}" for r in range(rows)] for c in range(columns)]
    wells = {
        name: {
            "depth": spec.depth,
            "totalLiquidVolume": spec.volume,
            **shape,
            "x": round(x0 + c * dx, 2),
            "y": round(y0 - r * dy, 2),
            "z": z0,
        }
        for c, column in enumerate(ordering)
        for r, name in enumerate(column)
    }
    parameters: dict[str, Any] = {"format": spec.fmt, "isTiprack": spec.tip is not None}
    if spec.tip is not None:
        parameters["tipLength"], parameters["tipOverlap"] = spec.tip
    parameters["isMagneticModuleCompatible"] = spec.magnet is not None
    if spec.magnet is not None:
        parameters["magneticModuleEngageHeight"] = spec.magnet
    if spec.quirks:
        parameters["quirks"] = list(spec.quirks)
    parameters["loadName"] = load_name
    group_meta = {"wellBottomShape": spec.bottom} if spec.bottom else {}
    return {
        "ordering": ordering,
        "brand": {"brand": spec.brand, "brandId": []},
        "metadata": {
            "displayName": spec.display_name,
            "displayCategory": spec.category,
            "displayVolumeUnits": spec.units,
            "tags": [],
        },
        "dimensions": dict(zip(("xDimension", "yDimension", "zDimension"), spec.dims, strict=True)),
        "wells": wells,
        "groups": [{"metadata": group_meta, "wells": [n for col in ordering for n in col]}],
        "parameters": parameters,
        "namespace": "opentrons",
        "version": 1,
        "schemaVersion": 2,
        "cornerOffsetFromSlot": dict(zip("xyz", spec.corner, strict=True)),
    }
