"""Opentrons' published definitions, read as JSON from the opentrons-shared-data package.

The package's own Python modules pull in pydantic and logging; labrun never imports them.
``importlib.util.find_spec`` locates the installed package without running its code, and
each JSON file is read once, on first use, then shared (treat it as read-only).
"""

from __future__ import annotations

import importlib.util
import json
import os
from functools import cache
from pathlib import Path
from typing import Any

from protocol_api.errors import ProtocolError

LabwareDefinition = dict[str, Any]

_PACKAGE = "opentrons_shared_data"


class SharedDataMissingError(ProtocolError):
    """The opentrons-shared-data package (labrun's labware and pipette data) is not installed."""


@cache
def data_root() -> Path:
    """The package's ``data`` folder; SharedDataMissingError if it is not installed."""
    spec = importlib.util.find_spec(_PACKAGE)
    locations = list(spec.submodule_search_locations or ()) if spec is not None else []
    for location in locations:
        root = Path(location) / "data"
        if root.is_dir():
            return root
    raise SharedDataMissingError(
        "labrun reads Opentrons' labware, pipette and deck definitions from the "
        "opentrons-shared-data package, which is not installed: pip install opentrons-shared-data"
    )


@cache
def read_json(relative: str) -> Any:
    """The parsed JSON file at ``relative`` under the data folder (read once, then shared)."""
    with (data_root() / relative).open("rb") as file:
        return json.load(file)


def _labware_dir() -> Path:
    return data_root() / "labware" / "definitions" / "2"


@cache
def standard_names() -> tuple[str, ...]:
    """Load names of Opentrons' standard (schema 2) labware, sorted."""
    with os.scandir(_labware_dir()) as entries:  # no stat per entry: every run reads it
        return tuple(sorted(entry.name for entry in entries if entry.is_dir()))


@cache
def standard_versions(load_name: str) -> tuple[int, ...]:
    """The versions published for ``load_name``, ascending; empty if there is no such labware."""
    if load_name not in _name_set():
        return ()
    folder = _labware_dir() / load_name
    return tuple(sorted(int(p.stem) for p in folder.glob("*.json") if p.stem.isdigit()))


@cache
def _name_set() -> frozenset[str]:
    return frozenset(standard_names())


def standard_definition(load_name: str, version: int) -> LabwareDefinition:
    """The standard definition of ``load_name`` at ``version`` (shared: do not modify)."""
    return read_json(f"labware/definitions/2/{load_name}/{version}.json")  # type: ignore[no-any-return]


# From apiLevel 2.14 on, Opentrons loads version 2 of these when no version is given (their
# version 1 has a wrong zDimension); any other labware defaults to version 1. apiLevels
# above 2.20, which change more defaults, are not accepted by labrun.
_V2_FROM_2_14 = frozenset({
    "armadillo_96_wellplate_200ul_pcr_full_skirt", "biorad_384_wellplate_50ul",
    "biorad_96_wellplate_200ul_pcr", "corning_12_wellplate_6.9ml_flat",
    "corning_24_wellplate_3.4ml_flat", "corning_384_wellplate_112ul_flat",
    "corning_48_wellplate_1.6ml_flat", "corning_6_wellplate_16.8ml_flat",
    "corning_96_wellplate_360ul_flat", "nest_1_reservoir_195ml",
    "nest_96_wellplate_100ul_pcr_full_skirt", "nest_96_wellplate_200ul_flat",
    "nest_96_wellplate_2ml_deep", "opentrons_24_aluminumblock_generic_2ml_screwcap",
    "opentrons_96_aluminumblock_generic_pcr_strip_200ul",
    "opentrons_96_wellplate_200ul_pcr_full_skirt",
})


def default_version(load_name: str, api_version: tuple[int, int]) -> int:
    """The version Opentrons loads for ``load_name`` at ``api_version`` when none is given.

    Falls back to the newest published version if that one is missing from the package.
    """
    versions = standard_versions(load_name)
    wanted = 2 if api_version >= (2, 14) and load_name in _V2_FROM_2_14 else 1
    if wanted in versions or not versions:
        return wanted
    return versions[-1]
