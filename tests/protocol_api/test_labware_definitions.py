"""Built-in and custom labware definitions: Opentrons geometry, lookup and errors."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from protocol_api import open_context
from protocol_api.errors import LabwareDefinitionError, LabwareNotFoundError
from protocol_api.labware_definitions import (
    builtin_load_names,
    get_definition,
    load_custom_definitions,
    read_definition_file,
    skipped_files,
    standard_versions,
    validate_definition,
)

# Load names a protocol of Opentrons' library names, which must all be there (a sample).
REQUIRED = [
    "opentrons_96_tiprack_10ul",
    "opentrons_96_tiprack_20ul",
    "opentrons_96_tiprack_300ul",
    "opentrons_96_tiprack_1000ul",
    "opentrons_96_filtertiprack_20ul",
    "opentrons_96_filtertiprack_200ul",
    "opentrons_96_filtertiprack_1000ul",
    "corning_96_wellplate_360ul_flat",
    "nest_96_wellplate_100ul_pcr_full_skirt",
    "nest_96_wellplate_2ml_deep",
    "biorad_96_wellplate_200ul_pcr",
    "nest_12_reservoir_15ml",
    "nest_1_reservoir_195ml",
    "usascientific_12_reservoir_22ml",
    "corning_384_wellplate_112ul_flat",
    "opentrons_1_trash_1100ml_fixed",
    "opentrons_24_tuberack_nest_1.5ml_snapcap",
    "opentrons_15_tuberack_falcon_15ml_conical",
    "opentrons_24_aluminumblock_nest_1.5ml_snapcap",
    "opentrons_96_aluminumblock_generic_pcr_strip_200ul",
    "opentrons_96_flat_bottom_adapter",
]

# Well (name, x, y, z, depth, volume, diameter or (xDimension, yDimension)) as Opentrons'
# definitions give them (labware/definitions/2/<load_name>/<version>.json).
OPENTRONS_WELLS = [
    ("corning_96_wellplate_360ul_flat", "A1", 14.38, 74.24, 3.55, 10.67, 360, 6.86),
    ("corning_96_wellplate_360ul_flat", "H12", 113.38, 11.24, 3.55, 10.67, 360, 6.86),
    ("opentrons_96_tiprack_300ul", "A1", 14.38, 74.24, 5.39, 59.3, 300, 5.23),
    ("opentrons_96_tiprack_20ul", "C5", 50.38, 56.24, 25.49, 39.2, 20, 3.27),
    ("opentrons_96_filtertiprack_20ul", "H1", 14.36, 11.26, 25.49, 39.2, 20, 3.27),
    ("opentrons_96_filtertiprack_1000ul", "A11", 104.36, 74.26, 9.47, 88, 1000, 7.23),
    ("nest_12_reservoir_15ml", "A12", 113.38, 42.78, 4.55, 26.85, 15000, (8.2, 71.2)),
    ("usascientific_12_reservoir_22ml", "A2", 23.03, 42.9, 2.29, 42.16, 22000, (8.33, 71.88)),
    ("corning_384_wellplate_112ul_flat", "A2", 16.62, 76.49, 2.79, 11.43, 112, (3.63, 3.63)),
    ("corning_384_wellplate_112ul_flat", "P1", 12.12, 8.99, 2.79, 11.43, 112, (3.63, 3.63)),
    ("opentrons_1_trash_1100ml_fixed", "A1", 82.84, 80, 82, 0, 1100000, (107.11, 165.67)),
]


def test_every_standard_labware_is_available() -> None:
    names = builtin_load_names()
    assert set(REQUIRED) <= set(names)
    assert len(names) > 100 and names == sorted(names)
    assert not any(n.startswith("schema3test") for n in names)


@pytest.mark.parametrize("load_name", REQUIRED)
def test_standard_definitions_are_schema_2_and_pass_the_custom_checks(load_name: str) -> None:
    d = get_definition(load_name)
    assert (d["namespace"], d["schemaVersion"]) == ("opentrons", 2)
    assert d["parameters"]["loadName"] == load_name
    assert sorted(n for column in d["ordering"] for n in column) == sorted(d["wells"])
    validate_definition(d, load_name)


@pytest.mark.parametrize(
    ("load_name", "name", "x", "y", "z", "depth", "volume", "size"), OPENTRONS_WELLS
)
def test_well_geometry_matches_opentrons(
    load_name: str, name: str, x: float, y: float, z: float, depth: float, volume: float,
    size: float | tuple[float, float],
) -> None:
    well = get_definition(load_name, api_version=(2, 20))["wells"][name]  # as checked
    assert (well["x"], well["y"], well["z"]) == (x, y, z)
    assert (well["depth"], well["totalLiquidVolume"]) == (depth, volume)
    if isinstance(size, tuple):
        assert well["shape"] == "rectangular"
        assert (well["xDimension"], well["yDimension"]) == size
    else:
        assert well["shape"] == "circular" and well["diameter"] == size


@pytest.mark.parametrize(
    ("load_name", "length", "overlap"),
    [
        ("opentrons_96_tiprack_20ul", 39.2, 8.25),
        ("opentrons_96_tiprack_300ul", 59.3, 7.47),
        ("opentrons_96_tiprack_1000ul", 88, 7.95),
        ("opentrons_96_filtertiprack_20ul", 39.2, 3.29),
        ("opentrons_96_filtertiprack_200ul", 59.3, 7.47),
        ("opentrons_96_filtertiprack_1000ul", 88, 7.95),
    ],
)
def test_tip_racks_carry_opentrons_tip_length_and_overlap(
    load_name: str, length: float, overlap: float
) -> None:
    params = get_definition(load_name)["parameters"]
    assert params["isTiprack"] is True
    assert (params["tipLength"], params["tipOverlap"]) == (length, overlap)


def test_plates_are_not_tip_racks_and_carry_their_extras() -> None:
    assert get_definition("corning_96_wellplate_360ul_flat")["parameters"]["isTiprack"] is False
    assert "tipLength" not in get_definition("corning_96_wellplate_360ul_flat")["parameters"]
    nest = get_definition("nest_96_wellplate_100ul_pcr_full_skirt")["parameters"]
    assert nest["magneticModuleEngageHeight"] == 20
    trash = get_definition("opentrons_1_trash_1100ml_fixed")
    assert "fixedTrash" in trash["parameters"]["quirks"]
    assert trash["dimensions"] == {"xDimension": 172.86, "yDimension": 165.86, "zDimension": 82}


@pytest.mark.parametrize(
    ("load_name", "count", "columns"),
    [
        ("corning_96_wellplate_360ul_flat", 96, 12),
        ("corning_384_wellplate_112ul_flat", 384, 24),
        ("nest_12_reservoir_15ml", 12, 12),
        ("nest_1_reservoir_195ml", 1, 1),
        ("opentrons_24_tuberack_nest_1.5ml_snapcap", 24, 6),
        ("opentrons_10_tuberack_falcon_4x50ml_6x15ml_conical", 10, 4),
    ],
)
def test_well_counts_and_column_major_ordering(load_name: str, count: int, columns: int) -> None:
    d = get_definition(load_name)
    assert len(d["wells"]) == count
    assert len(d["ordering"]) == columns
    assert d["ordering"][0][0] == "A1"


# -- versions: the one Opentrons loads when the protocol names none ---------------------


@pytest.mark.parametrize(
    ("load_name", "api", "version"),
    [
        ("corning_96_wellplate_360ul_flat", (2, 13), 1),  # below 2.14: always version 1
        ("corning_96_wellplate_360ul_flat", (2, 14), 2),  # v1's zDimension was wrong
        ("nest_96_wellplate_2ml_deep", (2, 20), 2),
        ("nest_12_reservoir_15ml", (2, 20), 1),  # not re-issued before 2.23
        ("opentrons_96_tiprack_300ul", (2, 20), 1),
    ],
)
def test_the_default_version_follows_the_api_level(
    load_name: str, api: tuple[int, int], version: int
) -> None:
    assert get_definition(load_name, api_version=api)["version"] == version


def test_an_explicit_version_and_namespace_are_honoured() -> None:
    newest = max(standard_versions("corning_96_wellplate_360ul_flat"))
    assert newest >= 3
    d = get_definition("corning_96_wellplate_360ul_flat", "opentrons", newest)
    assert d["version"] == newest
    # A version written as text, as Opentrons takes it (its parameters are coerced).
    text = get_definition("corning_96_wellplate_360ul_flat", None, str(newest))  # type: ignore[arg-type]
    assert text is d


def test_definitions_are_read_once_and_shared() -> None:
    name = "opentrons_96_tiprack_300ul"
    assert get_definition(name) is get_definition(name)


def test_load_names_are_matched_case_insensitively_like_opentrons() -> None:
    assert get_definition("Corning_96_Wellplate_360ul_Flat")["parameters"]["loadName"] == (
        "corning_96_wellplate_360ul_flat"
    )
    # but not with spaces around them: Opentrons finds no such labware, and the protocol
    # would fail on the robot
    with pytest.raises(LabwareNotFoundError, match="the load name has spaces around it"):
        get_definition(" Corning_96_Wellplate_360ul_Flat ")
    # and a namespace, which Opentrons looks up in lower case too
    assert get_definition("nest_12_reservoir_15ml", namespace="Opentrons")["namespace"] == \
        "opentrons"


def test_unknown_load_name_names_it_suggests_and_explains_custom_labware() -> None:
    with pytest.raises(LabwareNotFoundError) as info:
        get_definition("corning_96_wellplate_360ul_flt")
    message = str(info.value)
    assert "no labware definition named 'corning_96_wellplate_360ul_flt'" in message
    assert "did you mean 'corning_96_wellplate_360ul_flat'?" in message
    assert "custom labware" in message and "--labware-dir" in message and "extra_dirs" in message
    assert "labware_dirs= (open_context)" in message  # a script's own way
    assert "labware= when the protocol is queued" in message  # labrun serve's way


def test_unknown_load_name_with_nothing_close_still_explains() -> None:
    with pytest.raises(LabwareNotFoundError, match=r"'zzz'\. labrun has Opentrons' \d+ standard"):
        get_definition("zzz")


@pytest.mark.parametrize(
    ("wrong", "suggested"),
    [
        ("opentrons_96_tiprack_300ul_", "'opentrons_96_tiprack_300ul'"),
        ("opentrons_96_tiprack_200ul", "'opentrons_96_filtertiprack_200ul'"),
        ("opentron_96_tiprack_20ul", "'opentrons_96_tiprack_20ul'"),
        ("opentrons_96_tiprack_300.0ul", "'opentrons_96_tiprack_300ul'"),
    ],
)
def test_suggestions_never_offer_a_tip_rack_of_another_volume(wrong: str, suggested: str) -> None:
    with pytest.raises(LabwareNotFoundError) as info:
        get_definition(wrong)
    hint = str(info.value).split("did you mean ", 1)[1].split("?", 1)[0]
    assert suggested in hint
    volume = wrong.rsplit("_", 1)[-1].replace(".0", "") if wrong.endswith("ul") else "300ul"
    for name in hint.replace(" or ", ",").split(","):
        assert "tiprack" not in name or volume in name, hint


def test_wrong_version_or_namespace_says_what_exists() -> None:
    have = r"version 99; labrun has opentrons/nest_12_reservoir_15ml/1, "
    with pytest.raises(LabwareNotFoundError, match=have):
        get_definition("nest_12_reservoir_15ml", version=99)
    with pytest.raises(LabwareNotFoundError, match="in namespace 'custom_beta'"):
        get_definition("nest_12_reservoir_15ml", namespace="custom_beta")
    assert get_definition("nest_12_reservoir_15ml", "opentrons", 1)["version"] == 1


def test_a_version_that_is_not_a_whole_number_is_said_so() -> None:
    """``version=1.0`` failed inside labrun, with a FileNotFoundError naming a "1.0.json"
    of its own installation. Opentrons' engine (apiLevel 2.14 on) takes 1.0 as 1; its
    older core finds no such labware."""
    assert get_definition("nest_12_reservoir_15ml", version=1.0,  # type: ignore[arg-type]
                          api_version=(2, 14))["version"] == 1
    for version, level in ((1.0, (2, 13)), (1.5, (2, 20)), (True, (2, 20))):
        with pytest.raises(LabwareNotFoundError) as info:
            get_definition("nest_12_reservoir_15ml", version=version,  # type: ignore[arg-type]
                           api_version=level)
        assert str(info.value) == (f"no labware 'nest_12_reservoir_15ml' version {version!r}: "
                                   "a version is a whole number, such as 1")


def test_a_version_written_with_a_leading_zero_is_refused_below_2_14() -> None:
    """Below apiLevel 2.14 Opentrons' core looks ``version='01'`` up as written (a file
    "01.json") and finds no labware, though it takes ``'1'``; its engine (2.14 on) reads
    '01' as 1. labrun took '01' at any level."""
    with open_context(api_version=(2, 13)) as ctx:
        assert ctx.load_labware("nest_12_reservoir_15ml", 1, version="1").parent == "1"
        with pytest.raises(LabwareNotFoundError) as info:
            ctx.load_labware("nest_12_reservoir_15ml", 2, version="01")
        assert str(info.value) == (
            "no labware 'nest_12_reservoir_15ml' version '01': below apiLevel 2.14 Opentrons "
            "looks a version up as it is written, and finds none; write version=1")
        assert 2 not in ctx.loaded_labwares
    with open_context(api_version=(2, 14)) as ctx:
        assert ctx.load_labware("nest_12_reservoir_15ml", 2, version="01").parent == "2"


# -- custom definitions --------------------------------------------------------------


def custom(load_name: str = "my_plate", **changes: Any) -> dict[str, Any]:
    d = copy.deepcopy(get_definition("corning_96_wellplate_360ul_flat"))
    d["parameters"]["loadName"] = load_name
    d["namespace"] = "custom_beta"
    d["metadata"]["displayName"] = "My Plate"
    d.update(changes)
    return d


def write(directory: Path, name: str, data: object) -> Path:
    path = directory / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_custom_definitions_load_from_a_directory_and_its_subdirectories(tmp_path: Path) -> None:
    write(tmp_path, "a.json", custom("plate_a"))
    (tmp_path / "more").mkdir()
    write(tmp_path / "more", "b.json", custom("plate_b"))
    write(tmp_path, "notes.txt", "not a definition")
    found = load_custom_definitions(tmp_path)
    assert sorted(found) == ["plate_a", "plate_b"]
    assert found["plate_a"]["metadata"]["displayName"] == "My Plate"


def test_get_definition_finds_custom_labware_first(tmp_path: Path) -> None:
    write(tmp_path, "mine.json", custom("my_plate"))
    shadow = custom("corning_96_wellplate_360ul_flat")
    write(tmp_path, "shadow.json", shadow)
    assert get_definition("my_plate", extra_dirs=[tmp_path])["namespace"] == "custom_beta"
    assert get_definition("corning_96_wellplate_360ul_flat", extra_dirs=[tmp_path])[
        "namespace"
    ] == "custom_beta"
    assert get_definition(
        "corning_96_wellplate_360ul_flat", namespace="opentrons", extra_dirs=[tmp_path]
    )["namespace"] == "opentrons"


def test_unknown_name_suggests_custom_labware_too(tmp_path: Path) -> None:
    write(tmp_path, "mine.json", custom("my_special_plate"))
    with pytest.raises(LabwareNotFoundError, match="did you mean 'my_special_plate'"):
        get_definition("my_specal_plate", extra_dirs=[tmp_path])


def broken(key_path: str) -> dict[str, Any]:
    """A custom definition with one key (dotted path) removed."""
    d = custom()
    *parents, last = key_path.split(".")
    target = d
    for part in parents:
        target = target[part]
    del target[last]
    return d


@pytest.mark.parametrize(
    "key_path",
    [
        "parameters.loadName",
        "parameters.isTiprack",
        "metadata.displayName",
        "dimensions.zDimension",
        "cornerOffsetFromSlot.y",
        "wells.A1.diameter",
        "wells.H12.depth",
        "wells.B3.totalLiquidVolume",
        "wells.C4.x",
        "schemaVersion",
        "namespace",
        "ordering",
    ],
)
def test_a_missing_field_is_reported_with_file_and_key(tmp_path: Path, key_path: str) -> None:
    path = write(tmp_path, "bad.json", broken(key_path))
    with pytest.raises(LabwareDefinitionError) as info:
        read_definition_file(path)
    message = str(info.value)
    assert str(path) in message
    assert key_path in message


@pytest.mark.parametrize(
    ("change", "key", "problem"),
    [
        ({"schemaVersion": 1}, "schemaVersion", "schema 2, found 1"),
        ({"version": "1"}, "version", "whole number"),
        ({"wells": {}}, "wells", "has no wells"),
        ({"ordering": [["A1", "Z9"]]}, "ordering[0]", "'Z9' is not defined in wells"),
        ({"ordering": [["A1"]]}, "ordering", "is in wells but in no column"),
        ({"parameters": {"loadName": "x", "isTiprack": True}}, "parameters.tipLength", "missing"),
        ({"parameters": {"loadName": "x", "isTiprack": "no"}}, "parameters.isTiprack", "true or"),
        ({"dimensions": {"xDimension": 1, "yDimension": 1, "zDimension": -1}}, "zDimension", "0"),
        ({"stackingOffsetWithLabware": {"opentrons_96_flat_bottom_adapter": {"x": None, "y": 0,
                                                                             "z": 1}}},
         "stackingOffsetWithLabware.opentrons_96_flat_bottom_adapter.x", "missing"),
        ({"stackingOffsetWithLabware": [1, 2]}, "stackingOffsetWithLabware", "must be an object"),
        ({"stackingOffsetWithModule": {"magneticModuleV2": {"z": "2"}}},
         "stackingOffsetWithModule.magneticModuleV2.x", "missing"),
        ({"stackLimit": "2"}, "stackLimit", "whole number >= 1, found '2'"),
        ({"allowedRoles": "labware"}, "allowedRoles", "list of strings"),
        ({"compatibleParentLabware": "a_plate"}, "compatibleParentLabware", "list of strings"),
        ({"parameters": {"loadName": "My_Plate", "isTiprack": False}}, "parameters.loadName",
         "must be lower-case letters, digits, '.' and '_' only, as Opentrons' labware schema "
         "asks, found 'My_Plate'"),
        ({"namespace": "our-lab"}, "namespace", "found 'our-lab'"),
        ({"parameters": {"loadName": "x", "isTiprack": False,
                         "magneticModuleEngageHeight": "ten"}},
         "parameters.magneticModuleEngageHeight", "must be a number"),
    ],
)
def test_a_wrong_field_is_reported_with_file_key_and_problem(
    tmp_path: Path, change: dict[str, Any], key: str, problem: str
) -> None:
    path = write(tmp_path, "bad.json", custom(**change))
    with pytest.raises(LabwareDefinitionError) as info:
        read_definition_file(path)
    assert "bad.json" in str(info.value)
    assert key in str(info.value) and problem in str(info.value)


def test_a_bad_well_shape_is_reported(tmp_path: Path) -> None:
    d = custom()
    d["wells"]["D7"]["shape"] = "hexagonal"
    path = write(tmp_path, "shape.json", d)
    with pytest.raises(LabwareDefinitionError, match=r"shape\.json: wells\.D7\.shape: must be"):
        read_definition_file(path)


def test_a_definition_saved_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    # as Opentrons reads it (json.loads of the file's bytes); Windows' Notepad writes one
    (tmp_path / "bom.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(custom("bom_plate")).encode())
    assert skipped_files(tmp_path) == ()
    assert get_definition("bom_plate", extra_dirs=[tmp_path])["namespace"] == "custom_beta"


def test_invalid_json_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.json", '{\n  "ordering": [\n  oops\n}')
    with pytest.raises(LabwareDefinitionError, match=r"broken\.json: not valid JSON \(line 3"):
        read_definition_file(path)


def test_a_file_of_a_directory_that_is_not_a_definition_is_skipped(tmp_path: Path) -> None:
    """As Opentrons' ``labware_from_paths`` ("invalid labware, ignoring"): a user's own
    JSON file, or one cut short, beside the definitions stops nothing; it is named with
    why, and only a load that it alone could have answered is refused, saying so."""
    write(tmp_path, "plate.json", custom("plate_a"))
    settings = write(tmp_path, "settings.json", {"theme": "dark"})
    cut = write(tmp_path, "cut_plate.json", json.dumps(custom("cut_plate"))[:200])
    named = write(tmp_path, "other_name.json", custom("named_plate", schemaVersion=3))
    assert sorted(load_custom_definitions(tmp_path)) == ["plate_a"]
    assert [(s.path, s.problem, s.load_name) for s in skipped_files(tmp_path)] == [
        (str(cut), "not valid JSON (line 1, column 201: Expecting value)", None),
        (str(named), "schemaVersion: labrun reads Opentrons labware schema 2, found 3",
         "named_plate"),
        (str(settings), "schemaVersion: labrun reads Opentrons labware schema 2, found "
                        "'missing'", None)]
    assert get_definition("plate_a", extra_dirs=[tmp_path])["namespace"] == "custom_beta"
    assert get_definition("corning_96_wellplate_360ul_flat", extra_dirs=[tmp_path])[
        "namespace"] == "opentrons"
    with pytest.raises(LabwareDefinitionError) as info:  # by its file's name
        get_definition("Cut_Plate", extra_dirs=[tmp_path])
    assert str(info.value) == (
        f"labware 'cut_plate' is only in {cut}, which is not a labware definition labrun "
        "can read: not valid JSON (line 1, column 201: Expecting value)")
    with pytest.raises(LabwareDefinitionError, match=r"^labware 'named_plate' is only in "
                                                     r".*other_name\.json, which"):
        get_definition("named_plate", extra_dirs=[tmp_path])  # by the load name it gives
    with pytest.raises(LabwareNotFoundError, match="no labware definition named 'setting'"):
        get_definition("setting", extra_dirs=[tmp_path])


def test_two_copies_of_one_definition_are_one_labware(tmp_path: Path) -> None:
    write(tmp_path, "one.json", custom("same"))
    write(tmp_path, "one0.json", custom("same"))
    assert list(load_custom_definitions(tmp_path)) == ["same"]


def test_two_different_files_with_the_same_load_name_are_refused(tmp_path: Path) -> None:
    write(tmp_path, "one.json", custom("same"))
    other = custom("same")
    other["wells"]["A1"]["depth"] = 1.5
    write(tmp_path, "two.json", other)
    with pytest.raises(LabwareDefinitionError, match=r"two\.json.*'same' is already defined by"):
        load_custom_definitions(tmp_path)


def test_one_load_name_in_two_namespaces_is_loaded_by_its_namespace(tmp_path: Path) -> None:
    (tmp_path / "ours").mkdir()
    (tmp_path / "theirs").mkdir()
    write(tmp_path / "ours", "plate.json", custom("same", version=1))
    write(tmp_path / "theirs", "plate.json", custom("same", version=1, namespace="theirs"))
    dirs = [tmp_path / "ours", tmp_path / "theirs"]
    assert get_definition("same", "theirs", extra_dirs=dirs)["namespace"] == "theirs"
    with pytest.raises(LabwareDefinitionError) as info:
        get_definition("same", extra_dirs=dirs)
    assert str(info.value) == (
        "several custom labware are named 'same' (custom_beta/same/1, theirs/same/1); give "
        "the namespace and version of the one to load, as Opentrons asks")


def test_a_missing_directory_is_reported(tmp_path: Path) -> None:
    with pytest.raises(LabwareDefinitionError, match="does not exist"):
        load_custom_definitions(tmp_path / "nope")
    write(tmp_path, "plate.json", custom("plate"))
    with pytest.raises(LabwareDefinitionError, match=r"plate\.json' is not a directory"):
        load_custom_definitions(tmp_path / "plate.json")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any folder")
def test_an_unreadable_directory_is_reported(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0)
    try:
        with pytest.raises(LabwareDefinitionError, match="cannot be read: permission denied"):
            load_custom_definitions(folder)
    finally:
        folder.chmod(0o755)


def test_validate_definition_names_the_source() -> None:
    with pytest.raises(LabwareDefinitionError, match=r"^protocol\.py: wells: missing"):
        validate_definition(broken("wells"), "protocol.py")
    with pytest.raises(LabwareDefinitionError, match="must be a JSON object"):
        validate_definition([1, 2], "x")


def test_a_directory_is_read_again_only_when_its_files_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from protocol_api.labware_definitions import _custom

    reads: list[str] = []
    real = _custom.read_definition_file
    monkeypatch.setattr(_custom, "read_definition_file",
                        lambda path: reads.append(Path(path).name) or real(path))
    path = write(tmp_path, "a.json", custom("plate_a"))
    write(tmp_path, "b.json", custom("plate_b"))
    assert sorted(load_custom_definitions(tmp_path)) == ["plate_a", "plate_b"]
    assert get_definition("plate_b", extra_dirs=[tmp_path])["parameters"]["loadName"] == "plate_b"
    assert reads == ["a.json", "b.json"]  # looked at, not read again

    found = load_custom_definitions(tmp_path)
    found.clear()  # the caller's copy
    assert sorted(load_custom_definitions(tmp_path)) == ["plate_a", "plate_b"]

    edited = custom("plate_a")
    edited["metadata"]["displayName"] = "Edited Plate"
    write(tmp_path, "a.json", edited)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert load_custom_definitions(tmp_path)["plate_a"]["metadata"]["displayName"] == "Edited Plate"
    write(tmp_path, "c.json", custom("plate_c"))
    assert sorted(load_custom_definitions(tmp_path)) == ["plate_a", "plate_b", "plate_c"]
    (tmp_path / "b.json").unlink()
    assert sorted(load_custom_definitions(tmp_path)) == ["plate_a", "plate_c"]
    write(tmp_path, "d.json", "{not json")
    assert sorted(load_custom_definitions(tmp_path)) == ["plate_a", "plate_c"]
    read = len(reads)
    assert [Path(s.path).name for s in skipped_files(tmp_path)] == ["d.json"]
    assert sorted(load_custom_definitions(tmp_path)) == ["plate_a", "plate_c"]
    assert len(reads) == read  # the file skipped is remembered too, not read again


def test_a_directory_lists_its_json_files_as_rglob_does(tmp_path: Path) -> None:
    """Every ``*.json`` below the directory, hidden ones and links to files too, in the
    order of their paths' parts (a folder's files before a sibling named like a file),
    but nothing inside a linked directory (it could lead back up)."""
    from protocol_api.labware_definitions._custom import _json_files

    elsewhere = tmp_path / "elsewhere"
    root = tmp_path / "labware"
    for folder in (elsewhere, root / "a", root / "a.b", root / "z" / "deep"):
        folder.mkdir(parents=True)
    for name in ("a/b.json", "a.b/c.json", "a.json", "z/deep/x.json", "Z.json", ".h.json",
                 "notes.txt"):
        (root / name).write_text("{}")
    (elsewhere / "o.json").write_text("{}")
    (root / "linked").symlink_to(elsewhere)
    (root / "file_link.json").symlink_to(elsewhere / "o.json")
    (root / "broken.json").symlink_to(tmp_path / "nowhere.json")
    listed = _json_files(str(root))
    assert [name for name, _, _ in listed] == [str(p) for p in sorted(root.rglob("*.json"))]
    assert [Path(name).relative_to(root).as_posix() for name, _, _ in listed] == [
        ".h.json", "Z.json", "a/b.json", "a.b/c.json", "a.json", "broken.json",
        "file_link.json", "z/deep/x.json"]
    assert [size for name, _, size in listed if name.endswith("broken.json")] == [-1]


def test_a_folder_that_cannot_be_listed_is_passed_over(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As ``rglob`` does: the definitions beside it still load (root may list any folder,
    so the refusal is staged)."""
    write(tmp_path, "a.json", custom("plate_a"))
    (tmp_path / "locked").mkdir()
    write(tmp_path / "locked", "b.json", custom("plate_b"))
    scandir = os.scandir

    def refuse(path: str) -> Any:
        if os.path.basename(path) == "locked":
            raise PermissionError(13, "Permission denied", path)
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refuse)
    assert sorted(load_custom_definitions(tmp_path)) == ["plate_a"]
