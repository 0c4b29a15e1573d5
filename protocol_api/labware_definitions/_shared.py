"""Opentrons' published definitions, read as JSON from the opentrons-shared-data package.

The package's own Python modules pull in pydantic and logging; labrun never imports them.
``importlib.util.find_spec`` locates the installed package without running its code, and
each JSON file is read once, on first use, then shared (treat it as read-only).
"""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Mapping
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


# The versions Opentrons loads when no version is given, by apiLevel (Opentrons 8.8.2's
# table): from each level on, the names listed load that version, until a later level
# lists the name again; a name never listed loads version 1. The first (2.14) fixes the
# zDimension of version 1 of its plates; later ones refine wells' shapes and sizes.
_DEFAULT_VERSIONS: tuple[tuple[tuple[int, int], Mapping[str, int]], ...] = (
    ((2, 14), {
        "armadillo_96_wellplate_200ul_pcr_full_skirt": 2, "biorad_384_wellplate_50ul": 2,
        "biorad_96_wellplate_200ul_pcr": 2, "corning_12_wellplate_6.9ml_flat": 2,
        "corning_24_wellplate_3.4ml_flat": 2, "corning_384_wellplate_112ul_flat": 2,
        "corning_48_wellplate_1.6ml_flat": 2, "corning_6_wellplate_16.8ml_flat": 2,
        "corning_96_wellplate_360ul_flat": 2, "nest_1_reservoir_195ml": 2,
        "nest_96_wellplate_100ul_pcr_full_skirt": 2, "nest_96_wellplate_200ul_flat": 2,
        "nest_96_wellplate_2ml_deep": 2,
        "opentrons_24_aluminumblock_generic_2ml_screwcap": 2,
        "opentrons_96_aluminumblock_generic_pcr_strip_200ul": 2,
        "opentrons_96_wellplate_200ul_pcr_full_skirt": 2,
    }),
    ((2, 23), {
        "agilent_1_reservoir_290ml": 2, "appliedbiosystemsmicroamp_384_wellplate_40ul": 2,
        "armadillo_96_wellplate_200ul_pcr_full_skirt": 3, "axygen_1_reservoir_90ml": 2,
        "biorad_384_wellplate_50ul": 3, "biorad_96_wellplate_200ul_pcr": 3,
        "corning_12_wellplate_6.9ml_flat": 3, "corning_24_wellplate_3.4ml_flat": 3,
        "corning_384_wellplate_112ul_flat": 3, "corning_48_wellplate_1.6ml_flat": 3,
        "corning_6_wellplate_16.8ml_flat": 3, "corning_96_wellplate_360ul_flat": 3,
        "nest_12_reservoir_15ml": 2, "nest_1_reservoir_195ml": 3,
        "nest_1_reservoir_290ml": 2, "nest_96_wellplate_100ul_pcr_full_skirt": 3,
        "nest_96_wellplate_200ul_flat": 3, "nest_96_wellplate_2ml_deep": 3,
        "opentrons_10_tuberack_falcon_4x50ml_6x15ml_conical": 2,
        "opentrons_10_tuberack_nest_4x50ml_6x15ml_conical": 2,
        "opentrons_15_tuberack_falcon_15ml_conical": 2,
        "opentrons_15_tuberack_nest_15ml_conical": 2,
        "opentrons_24_aluminumblock_generic_2ml_screwcap": 3,
        "opentrons_24_aluminumblock_nest_0.5ml_screwcap": 2,
        "opentrons_24_aluminumblock_nest_1.5ml_screwcap": 2,
        "opentrons_24_aluminumblock_nest_1.5ml_snapcap": 2,
        "opentrons_24_aluminumblock_nest_2ml_screwcap": 2,
        "opentrons_24_aluminumblock_nest_2ml_snapcap": 2,
        "opentrons_24_tuberack_eppendorf_1.5ml_safelock_snapcap": 2,
        "opentrons_24_tuberack_eppendorf_2ml_safelock_snapcap": 2,
        "opentrons_24_tuberack_generic_2ml_screwcap": 2,
        "opentrons_24_tuberack_nest_0.5ml_screwcap": 2,
        "opentrons_24_tuberack_nest_1.5ml_screwcap": 2,
        "opentrons_24_tuberack_nest_1.5ml_snapcap": 2,
        "opentrons_24_tuberack_nest_2ml_screwcap": 2,
        "opentrons_24_tuberack_nest_2ml_snapcap": 2,
        "opentrons_6_tuberack_falcon_50ml_conical": 2,
        "opentrons_6_tuberack_nest_50ml_conical": 2,
        "opentrons_96_aluminumblock_generic_pcr_strip_200ul": 3,
        "opentrons_96_wellplate_200ul_pcr_full_skirt": 3,
        "opentrons_tough_pcr_auto_sealing_lid": 2,
        "thermoscientificnunc_96_wellplate_1300ul": 2,
        "thermoscientificnunc_96_wellplate_2000ul": 2, "usascientific_12_reservoir_22ml": 2,
        "usascientific_96_wellplate_2.4ml_deep": 2,
    }),
    ((2, 25), {
        "appliedbiosystemsmicroamp_384_wellplate_40ul": 3, "axygen_96_wellplate_500ul": 2,
        "biorad_384_wellplate_50ul": 4, "biorad_96_wellplate_200ul_pcr": 4,
        "corning_12_wellplate_6.9ml_flat": 4, "corning_24_wellplate_3.4ml_flat": 4,
        "corning_48_wellplate_1.6ml_flat": 5, "corning_6_wellplate_16.8ml_flat": 4,
        "corning_96_wellplate_360ul_flat": 4, "ibidi_96_square_well_plate_300ul": 2,
        "nest_96_wellplate_100ul_pcr_full_skirt": 4, "nest_96_wellplate_200ul_flat": 4,
        "nest_96_wellplate_2ml_deep": 4, "opentrons_96_wellplate_200ul_pcr_full_skirt": 4,
        "smc_384_read_plate": 2, "thermoscientificnunc_96_wellplate_1300ul": 3,
        "thermoscientificnunc_96_wellplate_2000ul": 3,
        "usascientific_96_wellplate_2.4ml_deep": 3,
    }),
    ((2, 27), {
        "agilent_1_reservoir_290ml": 4, "axygen_1_reservoir_90ml": 3,
        "biorad_96_wellplate_200ul_pcr": 5, "corning_12_wellplate_6.9ml_flat": 5,
        "corning_24_wellplate_3.4ml_flat": 5, "corning_384_wellplate_112ul_flat": 5,
        "corning_48_wellplate_1.6ml_flat": 6, "corning_6_wellplate_16.8ml_flat": 5,
        "corning_96_wellplate_360ul_flat": 5, "nest_12_reservoir_15ml": 3,
        "nest_1_reservoir_195ml": 4, "nest_1_reservoir_290ml": 4,
        "nest_96_wellplate_100ul_pcr_full_skirt": 5, "nest_96_wellplate_200ul_flat": 5,
        "nest_96_wellplate_2ml_deep": 5,
        "opentrons_10_tuberack_falcon_4x50ml_6x15ml_conical": 3,
        "opentrons_15_tuberack_falcon_15ml_conical": 3,
        "opentrons_24_aluminumblock_nest_0.5ml_screwcap": 4,
        "opentrons_24_aluminumblock_nest_1.5ml_screwcap": 3,
        "opentrons_24_aluminumblock_nest_1.5ml_snapcap": 3,
        "opentrons_24_aluminumblock_nest_2ml_screwcap": 3,
        "opentrons_24_aluminumblock_nest_2ml_snapcap": 3,
        "opentrons_24_tuberack_eppendorf_1.5ml_safelock_snapcap": 3,
        "opentrons_24_tuberack_eppendorf_2ml_safelock_snapcap": 3,
        "opentrons_24_tuberack_nest_0.5ml_screwcap": 4,
        "opentrons_6_tuberack_nest_50ml_conical": 3,
        "opentrons_96_aluminumblock_generic_pcr_strip_200ul": 4,
        "opentrons_tough_universal_lid": 2, "usascientific_12_reservoir_22ml": 4,
        "usascientific_96_wellplate_2.4ml_deep": 4,
    }),
)


def default_version(load_name: str, api_version: tuple[int, int]) -> int:
    """The version Opentrons loads for ``load_name`` at ``api_version`` when none is given.

    Falls back to the newest published version if that one is missing from the package.
    """
    versions = standard_versions(load_name)
    wanted = 1
    for level, defaults in _DEFAULT_VERSIONS:
        if api_version >= level and load_name in defaults:
            wanted = defaults[load_name]
    if wanted in versions or not versions:
        return wanted
    return versions[-1]
