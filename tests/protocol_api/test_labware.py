"""Labware and Well as a protocol author sees them: positions, grids, names, tips."""

from __future__ import annotations

import copy
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol_api import open_context
from protocol_api.errors import ProtocolError, TipError, UnsupportedAPIError, WellNotFoundError
from protocol_api.labware import Labware, OutOfTipsError, Well
from protocol_api.labware_definitions import get_definition
from protocol_api.types import Location, Point

SLOT_2 = Point(132.5, 0.0, 0.0)


ORIGIN = Point()


CHECKED_AT = (2, 20)
"""The apiLevel at which these tests' figures were checked against Opentrons (later levels
load newer versions of some definitions)."""


def load(
    load_name: str, slot: str = "1", origin: Point = ORIGIN, label: str | None = None,
    api_version: tuple[int, int] = CHECKED_AT,
) -> Labware:
    return Labware(get_definition(load_name, api_version=api_version), slot, origin,
                   label=label, api_version=api_version)


@pytest.fixture
def plate() -> Labware:
    return load("corning_96_wellplate_360ul_flat")


@pytest.fixture
def tips() -> Labware:
    # apiLevel 2.13: the tip bookkeeping methods (use_tips, ...) are gone from 2.14
    return load("opentrons_96_tiprack_300ul", "4", Point(0.0, 90.5, 0.0), api_version=(2, 13))


def names(wells: list[Well]) -> list[str]:
    return [w.well_name for w in wells]


# -- positions -------------------------------------------------------------------------


def test_well_positions_in_slot_1_are_the_definition_numbers(plate: Labware) -> None:
    a1 = plate["A1"]
    assert a1.top() == Location(Point(14.38, 74.24, 14.22), a1)  # z 3.55 + depth 10.67
    assert a1.bottom().point == Point(14.38, 74.24, 3.55)
    assert a1.center().point == Point(14.38, 74.24, 8.885)
    assert plate["H12"].top().point == Point(113.38, 11.24, 14.22)


def test_positions_add_the_slot_origin_and_offsets(plate: Labware) -> None:
    shifted = load("corning_96_wellplate_360ul_flat", "2", SLOT_2)
    assert shifted["A1"].top().point == Point(146.88, 74.24, 14.22)
    assert shifted["A1"].top(2).point == Point(146.88, 74.24, 16.22)
    assert shifted["A1"].bottom(1.5).point == Point(146.88, 74.24, 5.05)
    assert shifted["A1"].top(-1).labware.object is shifted["A1"]


def test_corner_offset_from_slot_is_applied() -> None:
    plate384 = load("corning_384_wellplate_112ul_flat", "3", Point(265.0, 0.0, 0.0))
    corner = plate384.definition["cornerOffsetFromSlot"]
    a1 = plate384.definition["wells"]["A1"]
    assert plate384["A1"].top().point == Point(
        round(265.0 + corner["x"] + a1["x"], 6), round(corner["y"] + a1["y"], 6),
        round(corner["z"] + a1["z"] + a1["depth"], 6))


def test_set_offset_moves_every_well_and_keeps_them(plate: Labware) -> None:
    a1 = plate["A1"]
    plate.set_offset(1, -2, 0.5)
    assert plate["A1"] is a1
    assert a1.top().point == Point(15.38, 72.24, 14.72)
    assert plate.calibrated_offset == Point(1, -2, 0.5)
    plate.set_offset(0, 0, 0)  # an offset replaces the previous one, as in Opentrons
    assert a1.top().point == Point(14.38, 74.24, 14.22)


def test_set_calibration_and_separate_calibration_before_2_14_as_in_opentrons(
        plate: Labware) -> None:
    # Each was an AttributeError here; Opentrons answers them before 2.14 and refuses after.
    old = Labware(get_definition("corning_96_wellplate_360ul_flat"), "1", (0, 0, 0),
                  api_version=(2, 13))
    before = old["A1"].top().point
    old.set_calibration(Point(1, -2, 0.5))
    assert tuple(old["A1"].top().point) == pytest.approx(tuple(before + Point(1, -2, 0.5)))
    assert old.separate_calibration is False
    with pytest.raises(ProtocolError, match="set_calibration: delta must be a Point of mm"):
        old.set_calibration(5)  # type: ignore[arg-type]
    with pytest.raises(UnsupportedAPIError, match=r"Labware\.set_calibration\(\) was removed "
                       r"in apiLevel 2\.14"):
        plate.set_calibration(Point(1, 0, 0))
    with pytest.raises(UnsupportedAPIError, match="separate_calibration was removed"):
        _ = plate.separate_calibration
    assert plate["A1"].top().point == Point(14.38, 74.24, 14.22)


def test_from_center_cartesian_scales_by_the_well_size(plate: Labware) -> None:
    a1 = plate["A1"]
    assert a1.from_center_cartesian(0, 0, 0) == a1.center().point
    edge = a1.from_center_cartesian(1, 0, 1)
    assert edge.x == pytest.approx(14.38 + 3.43) and edge.z == pytest.approx(14.22)


def test_highest_z_and_calibrated_offset() -> None:
    rack = load("opentrons_96_tiprack_1000ul", "5", Point(132.5, 90.5, 0.0))
    assert rack.highest_z == pytest.approx(97.47)
    assert rack.calibrated_offset == Point(132.5, 90.5, 0.0)


# -- grids -------------------------------------------------------------------------------


def test_wells_run_down_each_column(plate: Labware) -> None:
    wells = plate.wells()
    assert len(wells) == 96
    assert names(wells[:9]) == ["A1", "B1", "C1", "D1", "E1", "F1", "G1", "H1", "A2"]
    assert wells[-1].well_name == "H12"
    assert names(plate.wells("H12", "A1")) == ["H12", "A1"]
    assert names(plate.wells(0, 95, -1)) == ["A1", "H12", "H12"]
    assert list(plate.wells_by_name()) == names(wells)


def test_wells_returns_a_fresh_list(plate: Labware) -> None:
    plate.wells().clear()
    assert len(plate.wells()) == 96


def test_rows_and_columns_are_fresh_lists(plate: Labware) -> None:
    plate.columns()[0].clear()
    plate.columns("2")[0].pop()
    plate.rows_by_name()["A"].clear()
    plate.columns_by_name()["3"].append(plate["A1"])
    plate.rows(1)[0].reverse()
    assert [len(column) for column in plate.columns()] == [8] * 12
    assert names(plate.rows()[0]) == [f"A{i}" for i in range(1, 13)]
    assert names(plate.rows("B")[0])[:2] == ["B1", "B2"]
    assert names(plate.columns_by_name()["3"]) == [f"{r}3" for r in "ABCDEFGH"]


def test_mixing_names_and_indices_is_a_type_error(plate: Labware) -> None:
    with pytest.raises(TypeError, match=r"names .* or indices"):
        plate.wells("A1", 2)


def test_rows_and_columns_of_a_96_plate(plate: Labware) -> None:
    rows, columns = plate.rows(), plate.columns()
    assert (len(rows), {len(r) for r in rows}) == (8, {12})
    assert (len(columns), {len(c) for c in columns}) == (12, {8})
    assert names(rows[0][:3]) == ["A1", "A2", "A3"]
    assert names(columns[1][:2]) == ["A2", "B2"]
    assert list(plate.rows_by_name()) == list("ABCDEFGH")
    assert list(plate.columns_by_name()) == [str(i) for i in range(1, 13)]
    assert names(plate.rows("B")[0])[:2] == ["B1", "B2"]
    assert names(plate.rows(7)[0])[-1] == "H12"
    assert names(plate.columns("3")[0]) == [f"{r}3" for r in "ABCDEFGH"]
    assert plate.columns(0) == [plate.columns_by_name()["1"]]
    # Opentrons' deprecated names, which old protocols still call
    assert plate.wells_by_index() == plate.wells_by_name()
    assert plate.rows_by_index() == plate.rows_by_name()
    assert plate.columns_by_index() == plate.columns_by_name()


def test_rows_go_back_to_front_and_columns_left_to_right(plate: Labware) -> None:
    # as the docstrings say: row A is the back row (farthest from the person), column 1
    # the left one
    backs = [row[0].top().point.y for row in plate.rows()]
    lefts = [column[0].top().point.x for column in plate.columns()]
    assert backs == sorted(backs, reverse=True) and len(set(backs)) == 8
    assert lefts == sorted(lefts) and len(set(lefts)) == 12


@pytest.mark.parametrize(
    ("load_name", "rows", "columns", "last"),
    [
        ("corning_384_wellplate_112ul_flat", 16, 24, "P24"),
        ("nest_12_reservoir_15ml", 1, 12, "A12"),
        ("nest_1_reservoir_195ml", 1, 1, "A1"),
        ("opentrons_1_trash_1100ml_fixed", 1, 1, "A1"),
    ],
)
def test_grid_shapes(load_name: str, rows: int, columns: int, last: str) -> None:
    labware = load(load_name)
    assert (len(labware.rows()), len(labware.columns())) == (rows, columns)
    assert len(labware.wells()) == rows * columns
    assert labware.wells()[-1].well_name == last


def test_an_unknown_well_is_a_key_error_that_names_the_problem() -> None:
    plate = load("corning_96_wellplate_360ul_flat", "2", SLOT_2)
    with pytest.raises(WellNotFoundError) as info:
        plate["Z99"]
    assert isinstance(info.value, KeyError)
    assert str(info.value) == (
        "corning_96_wellplate_360ul_flat in slot 2 has no well 'Z99' (wells are A1..H12)"
    )
    with pytest.raises(KeyError, match="did you mean 'B3'"):
        plate["b3"]
    with pytest.raises(WellNotFoundError, match="has no well 'A13'"):
        plate.wells("A1", "A13")


def test_unknown_rows_columns_and_single_wells_are_named() -> None:
    plate = load("corning_384_wellplate_112ul_flat")
    with pytest.raises(WellNotFoundError, match=r"no row 'Q' \(rows are A..P\)"):
        plate.rows("Q")
    with pytest.raises(WellNotFoundError, match=r"no column '25' \(columns are 1..24\)"):
        plate.columns("25")
    with pytest.raises(WellNotFoundError, match=r"no well 'A2' \(its only well is A1\)"):
        load("nest_1_reservoir_195ml")["A2"]


def test_a_name_missing_from_the_by_name_dicts_is_named_with_what_there_is() -> None:
    """``wells_by_name()["A13"]`` said only ``KeyError: 'A13'``: the dicts stay dicts (a
    KeyError, ``get``, ``in``, equal to a plain dict), but a missing key is explained."""
    plate = load("corning_96_wellplate_360ul_flat", "2", SLOT_2)
    wells, rows, columns = plate.wells_by_name(), plate.rows_by_name(), plate.columns_by_name()
    for lookup, key, message in (
            (wells, "A13", "has no well 'A13' (wells are A1..H12)"),
            (wells, "a1", "has no well 'a1' (wells are A1..H12); did you mean 'A1'?"),
            (rows, "I", "has no row 'I' (rows are A..H)"),
            (columns, 1, "has no column 1 (columns are 1..12); did you mean '1'?")):
        with pytest.raises(KeyError) as info:
            lookup[key]
        assert str(info.value) == f"corning_96_wellplate_360ul_flat in slot 2 {message}"
        assert lookup.get(key) is None and key not in lookup
    assert wells["A1"] is plate["A1"] and wells == dict(wells) and len(columns) == 12
    assert rows["A"] == plate.rows()[0]


def test_naming_a_well_of_an_adapter_says_it_has_none() -> None:
    adapter = load("opentrons_96_flat_bottom_adapter", "2", SLOT_2)
    assert adapter.wells() == [] and adapter.wells_by_name() == {}
    no_wells = "opentrons_96_flat_bottom_adapter in slot 2 has no well {} (it has no wells)"
    for name, call in (("'A1'", lambda: adapter["A1"]), ("0", lambda: adapter.well(0)),
                       ("'A1'", lambda: adapter.wells("A1"))):
        with pytest.raises(WellNotFoundError) as info:
            call()
        assert str(info.value) == no_wells.format(name)
    with pytest.raises(WellNotFoundError, match=r"has no row 'A' \(it has no rows\)"):
        adapter.rows("A")


def test_below_2_14_a_protocol_may_rename_a_labware_as_in_opentrons() -> None:
    plate = load("corning_96_wellplate_360ul_flat", "2", SLOT_2, api_version=(2, 13))
    plate.name = "samples"
    assert (plate.name, plate.load_name, str(plate)) == (
        "samples", "corning_96_wellplate_360ul_flat", "Corning 96 Well Plate 360 µL Flat on 2")
    newer = load("corning_96_wellplate_360ul_flat", "2", SLOT_2, api_version=(2, 14))
    with pytest.raises(UnsupportedAPIError, match=r"^setting Labware.name was removed in "
                       r"apiLevel 2.14; this protocol's apiLevel is 2.14; give load_labware a "
                       r"label instead$"):
        newer.name = "samples"
    assert newer.name == "corning_96_wellplate_360ul_flat"


def test_wells_are_built_once(plate: Labware) -> None:
    assert plate["C7"] is plate["C7"] is plate.wells()[50] is plate.rows_by_name()["C"][6]


# -- identity and attributes -------------------------------------------------------------


def test_labware_attributes(plate: Labware) -> None:
    assert plate.load_name == plate.name == "corning_96_wellplate_360ul_flat"
    assert plate.uri == "opentrons/corning_96_wellplate_360ul_flat/2"  # apiLevel 2.14+
    assert plate.parent == "1"
    assert plate.is_tiprack is False
    assert plate.quirks == []
    assert plate.parameters["format"] == "96Standard"
    assert plate.magdeck_engage_height is None
    assert repr(plate) == str(plate) == "Corning 96 Well Plate 360 µL Flat"  # as Opentrons


def test_a_label_replaces_the_display_name(plate: Labware) -> None:
    samples = load("nest_96_wellplate_100ul_pcr_full_skirt", "3", label="samples")
    assert samples.name == "samples"
    assert repr(samples) == "samples"
    assert repr(samples["A1"]) == "A1 of samples on slot 3"
    assert samples.magdeck_engage_height == 20  # NEST 100 µL PCR plate, version 2


def test_parameters_and_quirks_are_copies(plate: Labware) -> None:
    plate.parameters["loadName"] = "changed"
    assert plate.load_name == "corning_96_wellplate_360ul_flat"
    assert get_definition("corning_96_wellplate_360ul_flat")["parameters"]["loadName"] == (
        "corning_96_wellplate_360ul_flat"
    )
    reservoir = load("nest_1_reservoir_195ml")
    reservoir.quirks.append("x")
    assert reservoir.quirks == ["centerMultichannelOnWells", "touchTipDisabled"]


def test_tip_length(tips: Labware, plate: Labware) -> None:
    assert tips.is_tiprack and tips.tip_length == 59.3
    tips.tip_length = 60.0  # apiLevel 2.13
    assert tips.tip_length == 60.0
    with pytest.raises(ProtocolError, match="tip_length must be a positive number of mm"):
        tips.tip_length = -1
    new = load("opentrons_96_tiprack_300ul")
    with pytest.raises(UnsupportedAPIError, match=r"setting Labware\.tip_length was removed "
                       r"in apiLevel 2\.14"):  # as Opentrons: it was set here
        new.tip_length = 60.0
    assert get_definition("opentrons_96_tiprack_300ul")["parameters"]["tipLength"] == 59.3
    with pytest.raises(TipError, match="not a tip rack"):
        _ = plate.tip_length


def test_tip_length_and_engage_height_print_as_the_definition_writes_them() -> None:
    """Opentrons 8.8.2 gives the definition's own number at every apiLevel: print() of
    the 1000 µL rack's tip_length shows 88 (its tipLength), not 88.0, and of the NEST
    100 µL PCR plate's magdeck_engage_height 20; a tip_length set below apiLevel 2.14
    reads back as it was given (80)."""
    for api in ((2, 0), (2, 13), (2, 14), (2, 20)):
        rack = load("opentrons_96_tiprack_1000ul", api_version=api)
        assert f"{rack.tip_length} {load('eppendorf_96_tiprack_10ul_eptips').tip_length}" \
            == "88 34"
        assert str(load("opentrons_96_tiprack_300ul", api_version=api).tip_length) == "59.3"
        pcr = load("nest_96_wellplate_100ul_pcr_full_skirt", api_version=api)
        assert str(pcr.magdeck_engage_height) == "20"
    old = load("opentrons_96_tiprack_1000ul", api_version=(2, 13))
    old.tip_length = 80
    assert str(old.tip_length) == "80"


def test_top_and_bottom_refuse_none_as_opentrons_does(plate: Labware) -> None:
    """well.bottom(None) fails in Opentrons 8.8.2 (a TypeError below apiLevel 2.14, a
    validation error from there); labrun took None, and '', as 0 and went on."""
    for z in (None, ""):
        with pytest.raises(ProtocolError, match=rf"^bottom: z must be a number of mm, not {z!r}$"):
            plate["A1"].bottom(z)  # type: ignore[arg-type]
        with pytest.raises(ProtocolError, match=rf"^top: z must be a number of mm, not {z!r}$"):
            plate["A1"].top(z)  # type: ignore[arg-type]
    assert plate["A1"].bottom(0).point == plate["A1"].bottom(False).point  # as there


def test_well_attributes(plate: Labware) -> None:
    a1 = plate["A1"]
    assert (a1.well_name, a1.parent) == ("A1", plate)
    assert (a1.depth, a1.diameter, a1.length, a1.width, a1.max_volume) == (
        10.67, 6.86, None, None, 360.0,
    )
    assert a1.has_tip is False
    assert a1.display_name == repr(a1) == "A1 of Corning 96 Well Plate 360 µL Flat on slot 1"


def test_rectangular_wells_have_length_and_width() -> None:
    well = load("nest_12_reservoir_15ml")["A3"]
    assert (well.diameter, well.length, well.width) == (None, 8.2, 71.2)
    assert well.max_volume == 15000


# -- tips ----------------------------------------------------------------------------------


def test_next_tip_goes_down_each_column_then_to_the_next(tips: Labware) -> None:
    order = []
    while (tip := tips.next_tip()) is not None:
        order.append(tip.well_name)
        tips.use_tips(tip)
    assert order[:9] == ["A1", "B1", "C1", "D1", "E1", "F1", "G1", "H1", "A2"]
    assert len(order) == 96 and order[-1] == "H12"
    assert tips.next_tip() is None


def test_a_fresh_rack_has_every_tip(tips: Labware) -> None:
    assert all(w.has_tip for w in tips.wells())
    assert tips.next_tip() is tips["A1"]
    assert tips.previous_tip() is None


def test_eight_channels_need_a_full_run_in_one_column(tips: Labware) -> None:
    tips.use_tips(tips["A1"])  # a single channel took A1
    assert tips.next_tip(8) is tips["A2"]
    tips.use_tips(tips["A2"], num_channels=8)
    assert not any(w.has_tip for w in tips.columns()[1])
    assert tips.next_tip(8) is tips["A3"]
    assert tips.next_tip(7) is tips["B1"]


def test_use_tips_stops_at_the_end_of_the_column(tips: Labware) -> None:
    tips.use_tips(tips["G1"], num_channels=8)
    assert [w.has_tip for w in tips.columns()[0]] == [True] * 6 + [False, False]
    assert tips["A2"].has_tip


def test_next_tip_from_a_starting_tip(tips: Labware) -> None:
    assert tips.next_tip(starting_tip=tips["C3"]) is tips["C3"]
    tips.use_tips(tips["C3"])
    assert tips.next_tip(starting_tip=tips["C3"]) is tips["D3"]
    assert tips.next_tip(8, starting_tip=tips["C3"]) is tips["A4"]


def test_next_tip_only_looks_at_the_first_run_in_a_column(tips: Labware) -> None:
    for name in ("A1", "D1"):  # column 1 is now: - B C - E F G H
        tips.use_tips(tips[name])
    assert tips.next_tip() is tips["B1"]
    assert tips.next_tip(3) is tips["A2"]  # E1-H1 is not considered, as in Opentrons


def test_returning_tips(tips: Labware) -> None:
    tips.use_tips(tips["A1"], num_channels=8)
    tips.use_tips(tips["A2"])
    assert tips.previous_tip() is tips["A1"]
    assert tips.previous_tip(8) is tips["A1"]
    tips.return_tips(tips["A1"], num_channels=8)
    assert tips.previous_tip() is tips["A2"]
    with pytest.raises(TipError, match=r"cannot return a tip to A1 of .*: it has a tip"):
        tips.return_tips(tips["A1"])


def test_reset_refills_the_rack(tips: Labware) -> None:
    for well in tips.wells():
        tips.use_tips(well)
    assert tips.next_tip() is None
    tips.reset()
    assert tips.next_tip() is tips["A1"]


def test_has_tip_can_be_set_until_2_14(tips: Labware) -> None:
    tips["A1"].has_tip = False
    assert tips.next_tip() is tips["B1"]
    newer = load("opentrons_96_tiprack_300ul", api_version=(2, 14))
    with pytest.raises(UnsupportedAPIError, match=r"^setting Well.has_tip was removed in "
                                                  r"apiLevel 2.14; .* Labware.reset\(\) refills"):
        newer["A1"].has_tip = False  # as Opentrons
    assert newer["A1"].has_tip


def test_plates_hold_no_tips_and_reset_them_only_until_2_14() -> None:
    older = load("corning_96_wellplate_360ul_flat", api_version=(2, 13))
    assert older.next_tip() is None
    older.reset()  # nothing happens
    assert older.next_tip() is None
    with pytest.raises(ProtocolError, match=r"^reset: .* is not a tip rack; only a tip rack"):
        load("corning_96_wellplate_360ul_flat", api_version=(2, 14)).reset()  # as Opentrons


def test_tip_arguments_are_checked(tips: Labware, plate: Labware) -> None:
    with pytest.raises(ValueError, match="num_tips"):
        tips.next_tip(0)
    with pytest.raises(ValueError, match="num_channels"):
        tips.use_tips(tips["A1"], num_channels=0)
    for count in ([8], "8", 2.5, float("inf"), True):  # the count of a row, not a number
        with pytest.raises(ValueError, match=r"num_tips must be a positive integer, not "):
            tips.next_tip(count)  # type: ignore[arg-type]
        with pytest.raises(ValueError, match=r"num_channels must be a positive integer, not "):
            tips.return_tips(tips["A1"], count)  # type: ignore[arg-type]
    tips.use_tips(tips["A1"], num_channels=8.0)  # type: ignore[arg-type]  # a whole float
    assert tips.next_tip() == tips["A2"]
    tips.reset()
    with pytest.raises(ValueError, match=r"start_well A1 of Corning .* is not a well of Opentrons"):
        tips.use_tips(plate["A1"])
    with pytest.raises(ValueError, match="starting_tip"):
        tips.next_tip(starting_tip=plate["A1"])


@given(st.integers(min_value=0, max_value=96))
def test_after_k_single_tips_the_next_is_the_k_plus_first_well(k: int) -> None:
    rack = load("opentrons_96_filtertiprack_200ul", api_version=(2, 13))
    for _ in range(k):
        tip = rack.next_tip()
        assert tip is not None
        rack.use_tips(tip)
    expected = rack.wells()[k] if k < 96 else None
    assert rack.next_tip() is expected


def test_construction_and_lookup_are_fast() -> None:
    definition = get_definition("corning_96_wellplate_360ul_flat")
    start = time.perf_counter()
    for i in range(200):
        labware = Labware(definition, "1", Point(0, 0, 0))
        for name in ("A1", "H12", "D6"):
            labware[name].top()
        labware.wells()[i % 96].bottom(1)
    assert time.perf_counter() - start < 0.5  # ~2.5 ms per labware at most


# -- what protocols read: well(), geometry, tips, height ---------------------------------


def test_well_takes_an_index_or_a_name(plate: Labware) -> None:
    assert plate.well(0) is plate["A1"] is plate.well("A1")
    assert plate.well(9) is plate["B2"]  # column-major: A1..H1, then A2, B2
    assert plate.well(-1) is plate["H12"]
    with pytest.raises(WellNotFoundError, match="has no well 96"):
        plate.well(96)
    with pytest.raises(WellNotFoundError):
        plate.well("Z1")
    for index in (2.0, plate["A1"]):  # an index is a whole number, not a float or a well
        with pytest.raises(WellNotFoundError, match="has no well "):
            plate.well(index)  # type: ignore[arg-type]


def test_well_sizes_come_from_the_definition() -> None:
    reservoir = load("nest_12_reservoir_15ml", api_version=(2, 13))  # geometry: until 2.13
    a1 = reservoir["A1"]
    # NEST 12 reservoir wells: 8.2 mm along x (length), 71.2 mm along y (width), 26.85 deep
    assert (a1.length, a1.width, a1.diameter) == (8.2, 71.2, None)
    assert (a1.depth, a1.max_volume) == (26.85, 15000)
    geometry = a1.geometry
    assert (geometry._length, geometry._width, geometry._depth) == (8.2, 71.2, 26.85)
    assert (geometry.length, geometry.width, geometry.depth) == (8.2, 71.2, 26.85)
    assert geometry._diameter is None and geometry.max_volume == 15000


def test_circular_well_geometry() -> None:
    plate = load("corning_96_wellplate_360ul_flat", api_version=(2, 13))
    geometry = plate["C3"].geometry
    assert (geometry._diameter, geometry.diameter, geometry._depth) == (6.86, 6.86, 10.67)
    assert geometry._width is None and geometry.max_volume == 360
    assert plate["C3"].display_name == "C3 of Corning 96 Well Plate 360 µL Flat on 1"


def test_highest_z_is_the_labware_top_above_its_slot() -> None:
    plate = load("corning_96_wellplate_360ul_flat", "2", SLOT_2)
    assert plate.highest_z == 14.22
    plate.set_offset(0, 0, 1.5)
    assert plate.highest_z == 15.72
    deep = load("nest_96_wellplate_2ml_deep")
    assert deep.highest_z == deep.definition["dimensions"]["zDimension"]


def test_tip_rack_properties_and_reset(tips: Labware, plate: Labware) -> None:
    assert tips.is_tiprack and not plate.is_tiprack
    assert tips.tip_length == 59.3  # opentrons_96_tiprack_300ul's tipLength
    with pytest.raises(TipError, match="not a tip rack"):
        _ = plate.tip_length
    tips.use_tips(tips["A1"], 8)
    assert not tips["H1"].has_tip and tips["A2"].has_tip
    tips.reset()
    assert all(w.has_tip for w in tips.wells())
    assert tips.parent == "4" and tips["A1"].parent is tips


def test_out_of_tips_is_a_tip_error_protocols_can_catch() -> None:
    assert issubclass(OutOfTipsError, TipError)


def test_location_labware_names_the_well(plate: Labware) -> None:
    location = plate["B2"].bottom(1)
    assert location.labware.object is plate["B2"]
    assert location.labware.as_labware() is plate
    assert location.labware.first_parent() == "1"


def test_tube_racks_and_blocks_load_with_their_own_geometry() -> None:
    rack = load("opentrons_24_tuberack_nest_1.5ml_snapcap")
    assert len(rack.wells()) == 24 and len(rack.columns()) == 6
    assert rack["D6"].max_volume == 1500
    block = load("opentrons_96_aluminumblock_generic_pcr_strip_200ul")
    assert len(block.rows()) == 8 and block["A1"].max_volume == 200


def test_protocols_may_attach_their_own_attributes_to_wells(plate: Labware) -> None:
    plate["A1"].liq_vol = 1500  # type: ignore[attr-defined]
    assert plate["A1"].liq_vol == 1500  # type: ignore[attr-defined]
    assert plate["A1"].max_volume == 360 and f"{plate['A1'].max_volume}" == "360"


def _well_holding(labware: Labware, x: float, y: float) -> str | None:
    """The first well in order whose opening holds (x, y), from the well's own size."""
    for well in labware.wells():
        centre = well.top().point
        if well.diameter is not None:
            if (x - centre.x) ** 2 + (y - centre.y) ** 2 <= (well.diameter / 2) ** 2 + 1e-6:
                return well.well_name
        elif (abs(x - centre.x) <= well.length / 2 + 1e-6
              and abs(y - centre.y) <= well.width / 2 + 1e-6):
            return well.well_name
    return None


@pytest.mark.parametrize("load_name", [
    "corning_96_wellplate_360ul_flat", "corning_384_wellplate_112ul_flat",
    "nest_12_reservoir_15ml", "nest_1_reservoir_195ml",
    "opentrons_24_tuberack_nest_1.5ml_snapcap", "opentrons_15_tuberack_falcon_15ml_conical",
])
def test_well_at_finds_the_well_under_a_point_anywhere_on_the_labware(load_name: str) -> None:
    labware = load(load_name, "2", SLOT_2)
    for offset in (None, (1.7, -2.3, 0.5)):
        if offset is not None:
            labware.set_offset(*offset)
        found = 0
        for i in range(0, 130, 3):
            for j in range(0, 88, 3):
                x, y = labware.wells()[0].top().point.x - 20 + i * 1.13, SLOT_2.y - 3 + j * 1.07
                expected = _well_holding(labware, x, y)
                well = labware.well_at(x, y)
                assert (well.well_name if well else None) == expected, (x, y)
                found += expected is not None
        assert found > 30
    for well in labware.wells():  # every centre, and an edge of every opening
        centre = well.top().point
        assert labware.well_at(centre.x, centre.y) is well
        half = well.diameter / 2 if well.diameter is not None else well.length / 2
        assert labware.well_at(centre.x + half - 1e-4, centre.y) is well


def test_where_openings_overlap_well_at_gives_the_first_well_in_order() -> None:
    definition = copy.deepcopy(get_definition("corning_96_wellplate_360ul_flat"))
    a1, b1 = definition["wells"]["A1"], definition["wells"]["B1"]
    b1["x"], b1["y"] = a1["x"] - 3.0, a1["y"]  # B1's opening overlaps A1's, to its left
    labware = Labware(definition, "1", ORIGIN)
    point = labware["A1"].top().point
    assert labware.well_at(point.x - 1.5, point.y) is labware["A1"]
    assert labware.well_at(point.x - 4.0, point.y) is labware["B1"]


@pytest.mark.parametrize("api", [(2, 13), (2, 14), (2, 15)])
def test_labware_and_wells_print_as_in_opentrons(api: tuple[int, int]) -> None:
    # opentrons_simulate 8.8.2's str() at 2.13, 2.14 and 2.15 (and 2.20, as 2.15):
    # before 2.14 the parent follows "on"; from 2.14 a labware is its name alone and a
    # well names the slot, and any module and adapter, it is on
    with open_context(api_version=api) as ctx:
        plate = ctx.load_labware("corning_96_wellplate_360ul_flat", 5)
        module = ctx.load_module("temperature module gen2", 3)
        block = module.load_labware("opentrons_96_aluminumblock_generic_pcr_strip_200ul")
        named = ctx.load_labware("nest_96_wellplate_100ul_pcr_full_skirt", 2, label="My Plate")
        texts = [str(plate), str(plate["A1"]), str(block), str(block["A1"]), str(named),
                 str(named["B2"]), str(ctx.fixed_trash)]
        corning = "Corning 96 Well Plate 360 µL Flat"
        strips = "Opentrons 96 Well Aluminum Block with Generic PCR Strip 200 µL"
        if api < (2, 14):
            assert texts == [
                f"{corning} on 5", f"A1 of {corning} on 5",
                f"{strips} on Temperature Module GEN2 on 3",
                f"A1 of {strips} on Temperature Module GEN2 on 3",
                "My Plate on 2", "B2 of My Plate on 2", "Opentrons Fixed Trash on 12"]
            return
        assert texts == [
            corning, f"A1 of {corning} on slot 5", strips,
            f"A1 of {strips} on Temperature Module GEN2 on slot 3",
            "My Plate", "B2 of My Plate on slot 2", "Opentrons Fixed Trash"]
        if api >= (2, 15):
            shaker = ctx.load_module("heaterShakerModuleV1", 1)
            adapter = shaker.load_adapter("opentrons_96_flat_bottom_adapter")
            on_adapter = adapter.load_labware("nest_96_wellplate_200ul_flat")
            assert str(on_adapter["A1"]) == (
                "A1 of NEST 96 Well Plate 200 µL Flat on Opentrons 96 Flat Bottom "
                "Heater-Shaker Adapter on Heater-Shaker Module GEN1 on slot 1")


@pytest.mark.parametrize(("api", "versions", "a1s"), [
    # opentrons_simulate 8.8.2: the versions it loads with none named, and the first
    # well's top, depth and size at that level
    ((2, 20), (2, 1, 1), [((14.38, 74.24, 14.22), 10.67, 6.86),
                          ((146.88, 42.78, 31.4), 26.85, (8.2, 71.2)),
                          ((283.21, 75.43, 85.2), 25.2, 8.69)]),
    ((2, 23), (3, 2, 2), None),
    ((2, 25), (4, 2, 2), None),
    ((2, 27), (5, 3, 4), [((14.37, 74.24, 14.22), 10.668, 6.858),
                          ((146.88, 42.74, 31.4), 26.85, (8.35, 71.25)),
                          ((283.21, 75.43, 85.2), 25.2, 8.56)]),
])
def test_later_api_levels_load_the_labware_versions_opentrons_loads(
        api: tuple[int, int], versions: tuple[int, ...],
        a1s: list[tuple[tuple[float, ...], float, object]] | None) -> None:
    names = ("corning_96_wellplate_360ul_flat", "nest_12_reservoir_15ml",
             "opentrons_24_tuberack_nest_0.5ml_screwcap")
    with open_context(api_version=api) as ctx:
        loaded = [ctx.load_labware(name, slot) for slot, name in enumerate(names, start=1)]
        assert [labware.uri for labware in loaded] == [
            f"opentrons/{name}/{version}" for name, version in zip(names, versions, strict=True)]
        if a1s is None:
            return
        for labware, (top, depth, size) in zip(loaded, a1s, strict=True):
            a1 = labware.wells()[0]
            assert tuple(a1.top().point) == pytest.approx(top)
            assert a1.depth == depth
            assert (a1.diameter if a1.diameter is not None else (a1.length, a1.width)) == size


@pytest.mark.parametrize("on_module", [False, True])
@pytest.mark.parametrize("plate, error", [
    ("opentrons_96_wellplate_200ul_pcr_ful_skirt", "no labware definition named"),
    ("corning_96_wellplate_360ul_flat", "cannot be loaded onto opentrons_96_well_aluminum_block"),
])
def test_a_labware_refused_on_its_adapter_loads_neither(on_module: bool, plate: str,
                                                        error: str) -> None:
    # The adapter was loaded first: a typo left it in the slot, and the corrected call
    # was refused, the slot taken (as in Opentrons).
    with open_context(api_version=(2, 20)) as ctx:
        place = ctx.load_module("temperature module gen2", 3) if on_module else ctx
        at = () if on_module else (3,)
        with pytest.raises(ProtocolError, match=error):
            place.load_labware(plate, *at, adapter="opentrons_96_well_aluminum_block")
        # only the fixed trash is loaded
        assert [e.command.kind for e in ctx.run.engine.entries].count("loadLabware") == 1
        loaded = place.load_labware("opentrons_96_wellplate_200ul_pcr_full_skirt", *at,
                                    adapter="opentrons_96_well_aluminum_block")
        assert loaded.parent.load_name == "opentrons_96_well_aluminum_block"
