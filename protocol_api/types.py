"""Geometry and mount types shaped like ``opentrons.types``: Point, Location, Mount.

Coordinates are deck coordinates in millimetres: x to the right, y to the back, z up,
with the origin at the front-left corner of slot 1.
"""

from __future__ import annotations

import builtins
import enum
import math
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, NamedTuple, Union

from protocol_api.errors import InstrumentError

if TYPE_CHECKING:
    from protocol_api.labware import Labware, Well

__all__ = ["APIVersion", "DeckSlotName", "Location", "LocationLabware", "Mount", "Point"]

#: What a Location can be relative to: a well, a labware, a deck slot name, or nothing.
LocationTarget = Union["Well", "Labware", str, None]


class APIVersion(NamedTuple):
    """An apiLevel such as 2.15, comparable with others and with ``(major, minor)`` tuples."""

    major: int
    minor: int

    @classmethod
    def from_string(cls, text: str) -> APIVersion:
        """``"2.15"`` -> ``APIVersion(2, 15)``; ValueError for anything else."""
        parts = text.strip().split(".")
        if len(parts) != 2 or not all(p.isdigit() for p in parts):
            raise ValueError(f"{text!r} is not an API version like '2.15'")
        return cls(int(parts[0]), int(parts[1]))

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}"


class Point(NamedTuple):
    """A point (or offset) in deck coordinates, in mm."""

    x: float = 0.0
    y: float = 0.0
    z: float = 0.0

    def __str__(self) -> str:
        """As Opentrons writes it: ``(1, 2.5, 3)``; the repr names the axes."""
        return f"({self.x}, {self.y}, {self.z})"

    def __add__(self, other: tuple[float, ...]) -> Point:  # type: ignore[override]
        """Vector sum (not tuple concatenation)."""
        if not isinstance(other, Point):
            return NotImplemented
        return Point(self.x + other.x, self.y + other.y, self.z + other.z)

    def __sub__(self, other: Point) -> Point:
        """Vector difference."""
        if not isinstance(other, Point):
            return NotImplemented
        return Point(self.x - other.x, self.y - other.y, self.z - other.z)

    def __mul__(self, factor: float) -> Point:  # type: ignore[override]
        """Scale by a number (not tuple repetition)."""
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            return NotImplemented
        return Point(self.x * factor, self.y * factor, self.z * factor)

    def __rmul__(self, factor: float) -> Point:  # type: ignore[override]
        """``k * point``, the same as ``point * k``."""
        return self.__mul__(factor)

    def __abs__(self) -> Point:
        """Absolute value of each axis."""
        return Point(abs(self.x), abs(self.y), abs(self.z))

    def magnitude_to(self, other: Point) -> float:
        """Straight-line distance to ``other``."""
        return math.sqrt(
            (self.x - other.x) ** 2 + (self.y - other.y) ** 2 + (self.z - other.z) ** 2
        )

    def elementwise_isclose(self, other: Point, *, rel_tol: float = 1e-05,
                            abs_tol: float = 1e-08) -> bool:
        """Whether each coordinate is close to ``other``'s (``math.isclose``, with
        Opentrons' default tolerances)."""
        return all(math.isclose(mine, theirs, rel_tol=rel_tol, abs_tol=abs_tol)
                   for mine, theirs in zip(self, other, strict=True))

    @classmethod
    def from_xyz_attrs(cls, has_xyz: Any) -> Point:
        """The point of anything with ``x``, ``y`` and ``z`` attributes."""
        return cls(has_xyz.x, has_xyz.y, has_xyz.z)


class LocationLabware:
    """What a Location is relative to, with the questions Opentrons' ``LabwareLike`` answers."""

    __slots__ = ("_object",)

    def __init__(self, obj: LocationTarget) -> None:
        self._object = obj

    @property
    def object(self) -> LocationTarget:
        """The wrapped well, labware, slot name or None."""
        return self._object

    @property
    def is_well(self) -> bool:
        """True for a Well."""
        return isinstance(self._object, labware_module.Well)

    @property
    def is_labware(self) -> bool:
        """True for a Labware (not one of its wells)."""
        return isinstance(self._object, labware_module.Labware)

    @property
    def is_slot(self) -> bool:
        """True for a deck slot name."""
        return isinstance(self._object, str)

    @property
    def is_empty(self) -> bool:
        """True when relative to nothing."""
        return self._object is None

    def as_well(self) -> Well:
        """The object as a Well; ValueError if it is something else."""
        if not isinstance(self._object, labware_module.Well):
            raise ValueError(f"{self._object!r} is not a well")
        return self._object

    def as_labware(self) -> Labware:
        """The object as a Labware (a well's labware for a well); ValueError otherwise."""
        if isinstance(self._object, labware_module.Well):
            return self._object.parent
        if not isinstance(self._object, labware_module.Labware):
            raise ValueError(f"{self._object!r} is not a labware")
        return self._object

    @property
    def parent(self) -> LocationLabware:
        """One level up: well -> labware -> (adapter, module) -> slot name -> nothing."""
        if self._object is None or isinstance(self._object, str):
            return LocationLabware(None)
        slots = getattr(self._object, "slots", None)
        if slots:  # a module: its slot (its parent property is gated below apiLevel 2.14)
            return LocationLabware(slots[0])
        if isinstance(self._object, labware_module.Labware):  # the trash bin's too
            return LocationLabware(labware_module.parent_of(self._object))
        return LocationLabware(getattr(self._object, "parent", None))

    def first_parent(self) -> str | None:
        """The deck slot name this object sits in, or None."""
        current = self
        while not current.is_empty:
            if current.is_slot:
                return current._object  # type: ignore[return-value]
            current = current.parent
        return None

    def __eq__(self, other: builtins.object) -> bool:
        if isinstance(other, LocationLabware):
            return self._object is other._object or self._object == other._object
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._object)

    def __str__(self) -> str:
        # relative to nothing: empty, as Opentrons prints it (Location(..., labware=, ...))
        return "" if self._object is None else str(self._object)

    def __repr__(self) -> str:
        # As Opentrons' LabwareLike: printed in a tuple or list, it reads as what it wraps.
        return str(self)


class Location:
    """A point in deck coordinates together with what it is relative to.

    ``Location(point, labware)`` where labware is a Well, a Labware, a slot name or None.
    """

    __slots__ = ("_labware", "_placed", "_point")

    def __init__(self, point: Point, labware: LocationTarget | LocationLabware) -> None:
        self._point = point
        target = labware.object if isinstance(labware, LocationLabware) else labware
        self._labware = target
        # Where its labware stood when it was made (its slot origin): a point made before
        # the labware was moved by hand is where it stood, not where it is.
        self._placed: Point | None = getattr(target, "_slot_origin", None)

    @property
    def point(self) -> Point:
        """The position in deck coordinates."""
        return self._point

    @property
    def labware(self) -> LocationLabware:
        """What the point is relative to, wrapped (``.object`` is the well/labware/slot)."""
        return LocationLabware(self._labware)

    def move(self, point: Point) -> Location:
        """A new Location offset by ``point``, relative to the same labware."""
        moved = Location(self._point + point, self._labware)
        moved._placed = self._placed
        return moved

    def __iter__(self) -> Iterator[Point | LocationLabware]:
        """Unpack like the old Opentrons named tuple: ``point, labware = loc``."""
        return iter((self._point, LocationLabware(self._labware)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Location):
            return NotImplemented
        return self._point == other._point and (
            self._labware is other._labware or self._labware == other._labware
        )

    def __hash__(self) -> int:
        return hash((self._point, self._labware))

    def __repr__(self) -> str:
        # as Opentrons 8.8.2 prints it at every apiLevel: labrun tracks no meniscus
        return (f"Location(point={self._point!r}, labware={self.labware}, "
                "meniscus_tracking=None)")


class Mount(enum.Enum):
    """A mount on the gantry, as ``opentrons.types.Mount``: numbered members whose ``str``
    is the name (``LEFT``); ``EXTENSION`` is the Flex's gripper mount, and no pipette's."""

    LEFT = 1
    RIGHT = 2
    EXTENSION = 3

    @classmethod
    def parse(cls, value: Mount | str) -> Mount:
        """Accept a pipette mount, LEFT or RIGHT, or ``"left"``/``"right"`` in any case (but
        not with spaces around it, as Opentrons refuses ``" left"``); InstrumentError
        otherwise."""
        if value is cls.EXTENSION:
            raise InstrumentError("no pipette mounts on EXTENSION (the Flex's gripper "
                                  "mount); mounts are 'left' and 'right'")
        if isinstance(value, Mount):
            return value
        if isinstance(value, str):
            if value.lower() in ("left", "right"):
                return cls[value.upper()]
            if value.strip().lower() in ("left", "right"):
                raise InstrumentError(f"no mount {value!r}: it has spaces around it "
                                      f"(Opentrons refuses it); did you mean "
                                      f"{value.strip().lower()!r}?") from None
        raise InstrumentError(f"no mount {value!r}; mounts are 'left' and 'right'")

    @classmethod
    def string_to_mount(cls, mount: str) -> Mount:
        """``"left"`` -> LEFT, ``"right"`` -> RIGHT, anything else EXTENSION (as Opentrons:
        lower case only)."""
        return {"left": cls.LEFT, "right": cls.RIGHT}.get(mount, cls.EXTENSION)

    @classmethod
    def ot2_mounts(cls) -> list[Mount]:
        """The pipette mounts: LEFT and RIGHT."""
        return [cls.LEFT, cls.RIGHT]

    @property
    def mount_name(self) -> str:
        """``"left"``, ``"right"``: what a pipette's ``mount`` says."""
        return self.name.lower()

    def __str__(self) -> str:
        return self.name


class DeckSlotName(enum.Enum):
    """A deck slot's name, as ``opentrons.types.DeckSlotName``: what a trash bin's
    ``location`` is (``FIXED_TRASH``, slot 12). ``str()`` and ``.id`` give the name."""

    SLOT_1 = "1"
    SLOT_2 = "2"
    SLOT_3 = "3"
    SLOT_4 = "4"
    SLOT_5 = "5"
    SLOT_6 = "6"
    SLOT_7 = "7"
    SLOT_8 = "8"
    SLOT_9 = "9"
    SLOT_10 = "10"
    SLOT_11 = "11"
    FIXED_TRASH = "12"
    SLOT_A1 = "A1"
    SLOT_A2 = "A2"
    SLOT_A3 = "A3"
    SLOT_B1 = "B1"
    SLOT_B2 = "B2"
    SLOT_B3 = "B3"
    SLOT_C1 = "C1"
    SLOT_C2 = "C2"
    SLOT_C3 = "C3"
    SLOT_D1 = "D1"
    SLOT_D2 = "D2"
    SLOT_D3 = "D3"

    @classmethod
    def from_primitive(cls, value: int | str) -> DeckSlotName:
        """``12`` or ``"12"`` -> ``FIXED_TRASH``; ``"c2"`` -> ``SLOT_C2``."""
        return cls(str(value).upper())

    @property
    def id(self) -> str:
        """The slot's name, as the deck definition has it."""
        return str(self.value)

    def to_ot2_equivalent(self) -> DeckSlotName:
        """The OT-2 slot in the same place (``SLOT_C2`` -> ``SLOT_5``); an OT-2 slot itself."""
        return _OT3_TO_OT2.get(self, self)

    def to_ot3_equivalent(self) -> DeckSlotName:
        """The Flex slot in the same place (``SLOT_5`` -> ``SLOT_C2``); a Flex slot itself."""
        return _OT2_TO_OT3.get(self, self)

    def as_int(self) -> int:
        """The OT-2 slot number in the same place (``SLOT_C2`` -> 5)."""
        return int(self.to_ot2_equivalent().value)

    def __str__(self) -> str:
        return self.id


_OT2_TO_OT3 = {DeckSlotName(str(number)): DeckSlotName(f"{row}{column}")
               for number, (row, column) in enumerate(
                   ((r, c) for r in "DCBA" for c in "123"), start=1)}
_OT3_TO_OT2 = {flex: ot2 for ot2, flex in _OT2_TO_OT3.items()}


def well_of(location: Location) -> Well | None:
    """The well ``location`` is relative to, or None (``location.labware.as_well()``
    without the wrapper: asked a few times for every liquid command)."""
    target = location._labware
    return target if isinstance(target, labware_module.Well) else None



def placed_at(location: Location) -> Point | None:
    """Where the labware of ``location`` stood (its slot origin) when ``location`` was
    made; None if it names no labware."""
    return location._placed

# Last, as the labware module imports this one's Point and Location. (An import inside
# the checks above would cost a microsecond a call: they run for every command.)
from protocol_api import labware as labware_module  # noqa: E402

if not TYPE_CHECKING:  # (so that mypy still flags a misspelt name of this module)
    def __getattr__(name: str) -> object:
        """``opentrons.types.X`` that labrun does not have: said as such, at its line."""
        if name.startswith("__"):  # Python's own probes
            raise AttributeError(f"module 'opentrons.types' has no attribute {name!r}")
        from protocol_api.errors import UnsupportedNameError
        raise UnsupportedNameError(f"labrun does not provide opentrons.types.{name}")
