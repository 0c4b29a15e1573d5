"""Point, Location and Mount as a protocol author uses them."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol_api.errors import InstrumentError
from protocol_api.labware import Labware
from protocol_api.labware_definitions import get_definition
from protocol_api.types import APIVersion, Location, LocationLabware, Mount, Point

coords = st.floats(min_value=-1e4, max_value=1e4, allow_nan=False)
points = st.builds(Point, coords, coords, coords)


@pytest.fixture
def plate() -> Labware:
    return Labware(get_definition("corning_96_wellplate_360ul_flat", api_version=(2, 20)), "1",
                   Point(0, 0, 0), api_version=(2, 20))


def test_point_defaults_to_origin_and_is_a_named_tuple() -> None:
    assert Point() == Point(0.0, 0.0, 0.0)
    assert Point(z=5).z == 5
    x, y, z = Point(1, 2, 3)
    assert (x, y, z) == (1, 2, 3)


def test_point_arithmetic_is_vector_arithmetic() -> None:
    assert Point(1, 2, 3) + Point(10, 20, 30) == Point(11, 22, 33)
    assert Point(10, 20, 30) - Point(1, 2, 3) == Point(9, 18, 27)
    assert Point(1, 2, 3) * 2 == Point(2, 4, 6)
    assert 0.5 * Point(2, 4, 6) == Point(1, 2, 3)
    assert Point(3, 0, 0).magnitude_to(Point(0, 4, 0)) == 5.0


def test_point_does_not_concatenate_or_repeat_like_a_tuple() -> None:
    with pytest.raises(TypeError):
        Point(1, 2, 3) + (1, 2, 3)  # noqa: RUF005
    with pytest.raises(TypeError):
        Point(1, 2, 3) * "2"  # type: ignore[operator]


def test_point_repr_names_the_axes() -> None:
    assert repr(Point(1, 2.5, 3)) == "Point(x=1, y=2.5, z=3)"
    assert str(Point(1, 2.5, 3)) == "(1, 2.5, 3)"  # as Opentrons prints it


@given(points, points)
def test_adding_then_subtracting_gives_back_the_point(a: Point, b: Point) -> None:
    back = (a + b) - b
    for got, want in zip(back, a, strict=True):
        assert math.isclose(got, want, abs_tol=1e-6)


@given(points, st.floats(min_value=-100, max_value=100, allow_nan=False))
def test_scaling_scales_every_axis_and_the_length(p: Point, k: float) -> None:
    scaled = p * k
    assert scaled == Point(p.x * k, p.y * k, p.z * k)
    assert math.isclose(
        scaled.magnitude_to(Point()), abs(k) * p.magnitude_to(Point()), rel_tol=1e-9, abs_tol=1e-6
    )


@given(points, points, points)
def test_distance_is_symmetric_and_obeys_the_triangle_inequality(
    a: Point, b: Point, c: Point
) -> None:
    assert a.magnitude_to(b) == b.magnitude_to(a)
    assert a.magnitude_to(a) == 0
    assert a.magnitude_to(c) <= a.magnitude_to(b) + b.magnitude_to(c) + 1e-6


def test_location_keeps_its_point_and_what_it_is_relative_to(plate: Labware) -> None:
    well = plate["A1"]
    loc = Location(Point(1, 2, 3), well)
    assert loc.point == Point(1, 2, 3)
    assert loc.labware.object is well
    assert loc.labware.is_well and not loc.labware.is_labware and not loc.labware.is_slot
    assert loc.labware.as_well() is well
    assert loc.labware.as_labware() is plate


def test_location_wraps_labware_slots_and_nothing(plate: Labware) -> None:
    assert Location(Point(), plate).labware.is_labware
    slot = Location(Point(), "5").labware
    assert slot.is_slot and slot.object == "5"
    assert Location(Point(), None).labware.is_empty
    with pytest.raises(ValueError, match="not a well"):
        slot.as_well()
    with pytest.raises(ValueError, match="not a labware"):
        slot.as_labware()


def test_location_parents_walk_up_to_the_slot(plate: Labware) -> None:
    labware = plate["B2"].top().labware
    assert labware.parent.object is plate
    assert labware.parent.parent.object == "1"
    assert labware.parent.parent.parent.is_empty
    assert labware.first_parent() == "1"
    assert Location(Point(), None).labware.first_parent() is None


def test_move_returns_a_new_offset_location_on_the_same_labware(plate: Labware) -> None:
    top = plate["A1"].top()
    moved = top.move(Point(z=5))
    assert moved.point == top.point + Point(0, 0, 5)
    assert moved.labware.object is plate["A1"]
    assert top.point == plate["A1"].top().point  # the original is unchanged


def test_locations_are_equal_by_point_and_labware(plate: Labware) -> None:
    assert plate["A1"].top() == plate["A1"].top()
    assert hash(plate["A1"].top()) == hash(plate["A1"].top())
    assert plate["A1"].top() != plate["A1"].bottom()
    assert Location(Point(1, 1, 1), "1") != Location(Point(1, 1, 1), "2")
    assert Location(Point(1, 1, 1), plate["A1"]) != Location(Point(1, 1, 1), plate["A2"])
    assert LocationLabware("3") == LocationLabware("3")


def test_location_unpacks_like_the_old_named_tuple(plate: Labware) -> None:
    point, labware = plate["A1"].top()
    assert point == plate["A1"].top().point
    assert isinstance(labware, LocationLabware) and labware.object is plate["A1"]


def test_a_location_unpacked_and_printed_shows_its_well_as_opentrons_does(
        plate: Labware) -> None:
    """Opentrons' LabwareLike reads as what it wraps, its repr as its str: printing the
    unpacked (point, labware) of a location, or its labware's parent in a list, shows the
    well or labware itself, not a wrapper."""
    location = plate["A1"].top()
    assert repr(tuple(location)[1]) == "A1 of Corning 96 Well Plate 360 µL Flat on slot 1"
    assert repr([location.labware.parent]) == "[Corning 96 Well Plate 360 µL Flat]"


def test_location_repr_shows_point_and_labware(plate: Labware) -> None:
    """As Opentrons 8.8.2 prints a location at every apiLevel: its point, its labware and
    ``meniscus_tracking=None`` (labrun's printed location lacked the last, so a protocol's
    printed locations read differently from Opentrons')."""
    text = repr(plate["A1"].top())
    assert text == (
        "Location(point=Point(x=14.38, y=74.24, z=14.22), "
        "labware=A1 of Corning 96 Well Plate 360 µL Flat on slot 1, meniscus_tracking=None)"
    )


def test_a_location_relative_to_nothing_prints_an_empty_labware() -> None:
    """Opentrons 8.8.2 prints Location(point, None) with an empty labware
    ('labware=, '), its labware alone as ''; labrun printed 'labware=None'."""
    loc = Location(Point(1, 2, 3), None)
    assert repr(loc) == ("Location(point=Point(x=1, y=2, z=3), labware=, "
                         "meniscus_tracking=None)")
    assert str(loc.labware) == "" and loc.labware.is_empty


@pytest.mark.parametrize("value", ["left", "LEFT", "Left", Mount.LEFT])
def test_mount_parse_accepts_left_in_any_case(value: str | Mount) -> None:
    assert Mount.parse(value) is Mount.LEFT


def test_a_mount_with_spaces_around_it_is_refused_as_opentrons_refuses_it() -> None:
    with pytest.raises(InstrumentError) as info:
        Mount.parse(" Left ")
    assert str(info.value) == ("no mount ' Left ': it has spaces around it (Opentrons "
                               "refuses it); did you mean 'left'?")


def test_mount_values_and_str_are_opentrons() -> None:
    """Opentrons' Mount numbers LEFT, RIGHT, EXTENSION from 1, prints its name, and maps
    the lower-case names with string_to_mount (anything else is EXTENSION)."""
    assert Mount.parse("right") is Mount.RIGHT
    assert [(m.name, m.value) for m in Mount] == [("LEFT", 1), ("RIGHT", 2), ("EXTENSION", 3)]
    assert str(Mount.LEFT) == "LEFT" and repr(Mount.RIGHT) == "<Mount.RIGHT: 2>"
    assert Mount(2) is Mount.RIGHT
    assert [Mount.string_to_mount(s) for s in ("left", "right", "Left")] == [
        Mount.LEFT, Mount.RIGHT, Mount.EXTENSION]
    assert Mount.ot2_mounts() == [Mount.LEFT, Mount.RIGHT]


def test_a_pipette_on_the_extension_mount_is_refused() -> None:
    with pytest.raises(InstrumentError, match="no pipette mounts on EXTENSION"):
        Mount.parse(Mount.EXTENSION)


@pytest.mark.parametrize("value", ["middle", "", 1, None])
def test_a_bad_mount_is_an_instrument_error_naming_it(value: object) -> None:
    with pytest.raises(InstrumentError, match=f"no mount {value!r}; mounts are 'left' and 'right'"):
        Mount.parse(value)  # type: ignore[arg-type]


# -- APIVersion -----------------------------------------------------------------------------


def test_api_version_compares_with_tuples_and_parses_strings() -> None:
    version = APIVersion.from_string("2.13")
    assert version == APIVersion(2, 13) == (2, 13)
    assert APIVersion(2, 9) < version < (2, 20)
    assert str(version) == "2.13"
    assert (version.major, version.minor) == (2, 13)
    with pytest.raises(ValueError, match="not an API version"):
        APIVersion.from_string("2.x")


def test_point_compares_within_tolerance_and_copies_xyz_as_opentrons_point() -> None:
    """Opentrons' Point has elementwise_isclose (math.isclose per axis, rel_tol 1e-5,
    abs_tol 1e-8 unless given) and from_xyz_attrs (any object with x, y, z)."""
    assert Point(1, 2, 3).elementwise_isclose(Point(1.000001, 2, 3))
    assert not Point(1, 2, 3).elementwise_isclose(Point(1.1, 2, 3))
    assert Point(1, 2, 3).elementwise_isclose(Point(1.1, 2, 3), abs_tol=0.2)
    xyz = type("XYZ", (), {"x": 4, "y": 5, "z": 6})()
    assert Point.from_xyz_attrs(xyz) == Point(4, 5, 6)
