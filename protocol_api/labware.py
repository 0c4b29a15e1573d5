"""Labware and Well, shaped like the Opentrons Python Protocol API v2.

A Labware sits in a deck slot; its wells' positions are in deck coordinates:
slot origin + ``cornerOffsetFromSlot`` + the well's x, y, z from the definition (x, y
the well's centre, z its bottom). Wells are built on first use and then reused, so
``plate["A1"] is plate["A1"]``. Tip racks track which wells still hold a tip, with the
same search rules as Opentrons.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from engine.commands import OFF_DECK as OFF_DECK_SLOT
from hardware.frozen import Frozen
from protocol_api.api_level import (
    ENGINE_CORE_API,
    NEWEST,
    check_lid_options,
    refuse_removed,
    removed_in,
    require,
    require_name,
    since,
)
from protocol_api.compat import WellCore
from protocol_api.errors import (
    APIVersionError,
    LabwareCannotBeStackedError,
    LabwareIsInStackError,
    LabwareOffDeckError,
    ProtocolError,
    TipError,
    UnknownAttributeError,
    UnsupportedAPIError,
    UnsupportedNameError,
    WellNotFoundError,
)
from protocol_api.off_deck import OFF_DECK
from protocol_api.steps import is_number
from protocol_api.types import APIVersion, DeckSlotName, Location, Point, placed_at, well_of

__all__ = ["DisposalOffset", "Labware", "OutOfTipsError", "TrashBin", "Well", "WellGeometry"]


class ModuleHolder(Protocol):
    """The module context a labware sits on (``Labware.placed_on``)."""

    @property
    def height_over_labware(self) -> float:
        """How far the module reaches above the top of a labware on it, mm."""
        ...


Stacker = Callable[["Labware", "str | Mapping[str, Any]", "str | None", "str | None",
                    "int | None"], "Labware"]
"""Loads a labware (by load name or definition, label, namespace, version) on a labware."""


class OutOfTipsError(TipError):
    """No tip rack of the pipette has a tip left (importable as in the Opentrons API)."""

_WELL_NAME = re.compile(r"([A-Z]+)(\d+)")


class Well:
    """One well (or tip position) of a labware."""

    # __dict__: protocols attach their own attributes to wells (well.liq_vol = 1500).
    __slots__ = (
        "__dict__", "__weakref__", "_depth", "_diameter", "_index", "_labware", "_length",
        "_liquid", "_max_volume", "_name", "_origin", "_rel", "_slot_origin", "_top",
        "_width", "_x", "_y", "_z",
    )

    def __init__(self, labware: Labware, name: str | WellCore, index: Any = None,
                 props: Mapping[str, Any] | None = None) -> None:
        if isinstance(name, WellCore):  # Well(parent, well._core, api_version): a subclass
            self._copy(name.well)
            return
        assert isinstance(index, int) and props is not None
        self._labware = labware
        self._name = name
        self._index = index
        self._origin: Well | None = None  # the labware's own well, for a protocol's copy
        self._liquid: tuple[Any, float] | None = None
        self._rel = (float(props["x"]), float(props["y"]), float(props["z"]))
        # Sizes keep their JSON type (360, not 360.0), as Opentrons returns them.
        self._depth: float = props["depth"]
        self._max_volume: float = props["totalLiquidVolume"]
        if props["shape"] == "circular":
            self._diameter: float | None = props["diameter"]
            self._length: float | None = None
            self._width: float | None = None
        else:
            self._diameter = None
            self._length = props["xDimension"]
            self._width = props["yDimension"]
        self._place(labware._offset)

    def _copy(self, well: Well) -> None:
        """Stand for ``well`` (a protocol's subclass of Well): where it is now, and from
        now on where its labware puts it (moved, or given an offset); its liquid is the
        well's."""
        for slot in Well.__slots__:
            if slot not in ("__dict__", "__weakref__"):
                object.__setattr__(self, slot, getattr(well, slot))
        self._origin = well._origin or well
        self._labware._follow(self)

    @property
    def _core(self) -> WellCore:
        """Opentrons' private handle on the well, for ``Well`` subclasses of protocols
        (``super().__init__(well.parent, well._core, api_version)``)."""
        return WellCore(self)

    def _place(self, offset: Point) -> None:
        """Fix the deck coordinates for the labware's offset (rounded to 1 nm, no float noise)."""
        x, y, z = self._rel
        # where its labware stands (a Location notes it: a point made before a move by
        # hand is where the labware stood)
        self._slot_origin = self._labware._slot_origin
        self._x = round(offset.x + x, 6)  # centre
        self._y = round(offset.y + y, 6)
        self._z = round(offset.z + z, 6)  # bottom
        self._top = round(offset.z + z + self._depth, 6)

    @property
    def well_name(self) -> str:
        """The well's name, such as ``"A1"``."""
        return self._name

    @property
    def parent(self) -> Labware:
        """The labware this well belongs to."""
        return self._labware

    @property
    def depth(self) -> float:
        """Depth from the top to the bottom, mm."""
        return self._depth

    @property
    def diameter(self) -> float | None:
        """Diameter of a circular well; None for a rectangular one."""
        return self._diameter

    @property
    def length(self) -> float | None:
        """Size along x of a rectangular well; None for a circular one."""
        return self._length

    @property
    def width(self) -> float | None:
        """Size along y of a rectangular well; None for a circular one."""
        return self._width

    @property
    def max_volume(self) -> float:
        """The well's total liquid volume, µL."""
        return self._max_volume

    @property
    def has_tip(self) -> bool:
        """Whether this tip-rack position still holds an unused tip."""
        return self._labware._has_tip[self._index]

    @has_tip.setter
    def has_tip(self, value: bool) -> None:
        refuse_removed("setting Well.has_tip", ENGINE_CORE_API, self._labware._api_version,
                       "tip tracking marks the tips a pipette takes; pick_up_tip(well) or "
                       "starting_tip chooses one, Labware.reset() refills a rack")
        self._labware._has_tip[self._index] = bool(value)

    @property
    def display_name(self) -> str:
        """As Opentrons writes it: ``"A1 of <labware> on slot 5"`` (before apiLevel 2.14,
        ``"A1 of <labware> on 5"``), naming any module and adapter it is on."""
        labware = self._labware
        if labware._api_version >= ENGINE_CORE_API:
            return f"{self._name} of {labware.shown_name} on {labware.whereabouts}"
        return f"{self._name} of {labware!r}"

    @property
    def api_version(self) -> APIVersion:
        """The apiLevel of the protocol that loaded the well's labware."""
        return self._labware._api_version

    @property
    @removed_in(2, 14, "use the well's own depth, diameter, width and length")
    def geometry(self) -> WellGeometry:
        """The well's shape and size from the definition (Opentrons' ``Well.geometry``)."""
        return WellGeometry(self)

    def load_liquid(self, liquid: Any, volume: float) -> None:
        """Note that the well starts with ``volume`` µL of ``liquid`` (from
        ``ctx.define_liquid``); it is for the records, nothing moves."""
        noted = _checked_liquid(self._labware, liquid, volume)
        self._note(noted)
        self._labware._noted([self], noted[0], [noted[1]])

    def _note(self, liquid: tuple[Any, float] | None) -> None:
        """Note the liquid and volume the well starts with (None: empty), checked."""
        if self._origin is not None:  # a copy: the labware's own well has it
            self._origin._note(liquid)
        self._liquid = liquid

    @property
    def liquid(self) -> tuple[Any, float] | None:
        """The liquid and volume ``load_liquid`` put in the well, if any."""
        return self._liquid if self._origin is None else self._origin._liquid

    def top(self, z: float = 0.0) -> Location:
        """The centre of the well's top, raised by ``z`` mm."""
        if self._labware._parent == OFF_DECK_SLOT:
            self._off_deck("top")
        try:
            if not z and not isinstance(z, numbers.Real):  # None, '': refused, as Opentrons
                raise TypeError
            return Location(Point(self._x, self._y, self._top + z if z else self._top), self)
        except TypeError:
            raise ProtocolError(f"top: z must be a number of mm, not {z!r}") from None

    def bottom(self, z: float = 0.0) -> Location:
        """The centre of the well's bottom, raised by ``z`` mm."""
        if self._labware._parent == OFF_DECK_SLOT:
            self._off_deck("bottom")
        try:
            if not z and not isinstance(z, numbers.Real):  # None, '': refused, as Opentrons
                raise TypeError
            return Location(Point(self._x, self._y, self._z + z if z else self._z), self)
        except TypeError:
            raise ProtocolError(f"bottom: z must be a number of mm, not {z!r}") from None

    def center(self) -> Location:
        """The centre of the well's volume."""
        if self._labware._parent == OFF_DECK_SLOT:
            self._off_deck("center")
        return Location(Point(self._x, self._y, round(self._z + self._depth / 2, 6)), self)

    def from_center_cartesian(self, x: float, y: float, z: float) -> Point:
        """A point relative to the centre, as fractions (-1..1) of the half-sizes."""
        centre = self.center().point
        size_x = self._diameter if self._diameter is not None else self._length
        size_y = self._diameter if self._diameter is not None else self._width
        assert size_x is not None and size_y is not None
        return Point(
            centre.x + x * size_x / 2, centre.y + y * size_y / 2, centre.z + z * self._depth / 2
        )

    def __getattr__(self, name: str) -> Any:
        # only for a name the well lacks (its slots and own attributes never come here)
        if name in _WELL_UNSUPPORTED:  # Opentrons' newer calls, said so rather than unknown
            require_name(f"Well.{name}", _SINCE[name], self.api_version)
            raise UnsupportedNameError(f"Well.{name} is not supported by labrun; "
                                      f"{_WELL_UNSUPPORTED[name]}")
        raise UnknownAttributeError(self, name, "Well")

    def _off_deck(self, op: str) -> None:
        detail = (f"{self._name} of {self._labware.shown_name} has no place: the labware "
                  "is off the deck; move it onto the deck first (ctx.move_labware)")
        raise LabwareOffDeckError(f"{op}: {detail}", detail)

    def __repr__(self) -> str:
        return self.display_name


class WellGeometry:
    """A well's size as the definition gives it, under the names protocols read.

    Both the public names and the underscored ones of Opentrons' legacy ``WellGeometry``
    (``_depth``, ``_diameter``, ``_length``: along x, ``_width``: along y) are offered,
    because library protocols read the latter.
    """

    __slots__ = ("_depth", "_diameter", "_length", "_width", "max_volume")

    def __init__(self, well: Well) -> None:
        self._depth = well.depth
        self._diameter = well.diameter
        self._length = well.length
        self._width = well.width
        self.max_volume = well.max_volume

    @property
    def depth(self) -> float:
        """Depth from the top to the bottom, mm."""
        return self._depth

    @property
    def diameter(self) -> float | None:
        """Diameter of a circular well, else None."""
        return self._diameter

    @property
    def length(self) -> float | None:
        """Size along x of a rectangular well, else None."""
        return self._length

    @property
    def width(self) -> float | None:
        """Size along y of a rectangular well, else None."""
        return self._width

    def __repr__(self) -> str:
        size = (f"diameter={self._diameter}" if self._diameter is not None
                else f"length={self._length}, width={self._width}")
        return f"WellGeometry({size}, depth={self._depth}, max_volume={self.max_volume})"


SET_OFFSET_RESTORED_API = APIVersion(2, 18)
"""Opentrons takes ``Labware.set_offset`` again from this apiLevel (not from 2.14 until it)."""



_V = TypeVar("_V")


class _Lookup(dict[str, _V]):
    """The dict ``wells_by_name()``, ``rows_by_name()`` and ``columns_by_name()`` give: a
    plain dict but for a missing key, whose KeyError (``WellNotFoundError``) names the
    labware and what it has ("... has no well 'A13' (wells are A1..H12)"), not only the
    key. ``get`` and ``in`` are a dict's."""

    def __init__(self, items: Mapping[str, _V], missing: Callable[[object], str]) -> None:
        super().__init__(items)
        self._missing = missing

    def __missing__(self, key: object) -> _V:
        raise WellNotFoundError(self._missing(key))

class Labware:
    """A labware loaded in a deck slot, built from a schema-2 definition.

    ``Labware(definition, parent_slot, slot_origin, label=None, api_version=None,
    module=None, over_labware=0.0)`` (``module``: the display name of the module it is on;
    ``over_labware``: how far that module reaches above its top, see ``clearance_top``);
    ``slot_origin`` is the slot's front-left corner in deck coordinates; ``api_version``
    the loading protocol's apiLevel (the newest when None). The definition is shared,
    not copied.
    """

    def __init__(
        self,
        definition: Mapping[str, Any],
        parent_slot: str,
        slot_origin: Sequence[float],
        label: str | None = None,
        api_version: tuple[int, int] | None = None,
        module: str | None = None,
        over_labware: float = 0.0,
    ) -> None:
        if label is not None and not isinstance(label, str):
            if not is_number(label):  # would be said in the log, and fail a print
                raise ProtocolError(f"label must be text or None, not {label!r}")
            label = str(label)  # a number: its text, as Opentrons takes it
        self._api_version = NEWEST if api_version is None else APIVersion(*api_version)
        self._definition = definition
        self._parameters: Mapping[str, Any] = definition["parameters"]
        self._load_name: str = self._parameters["loadName"]
        self._label = label or None
        self._name = label or self._load_name  # a protocol below apiLevel 2.14 may set it
        self._display = label or definition["metadata"]["displayName"]
        self._parent = str(parent_slot)
        self._module = module  # the display name of the module it is on, if any
        self._over = float(over_labware)  # the module's height above it, sat on directly
        if self._api_version >= ENGINE_CORE_API:  # as Opentrons: the name alone
            self._repr = self._display
        else:
            on_module = "" if module is None else f"{module} on "
            self._repr = f"{self._display} on {on_module}{self._parent}"
        self._slot_origin = Point(*(float(v) for v in slot_origin[:3]))
        # the protocol's offsets by definition and place (set_offset, apiLevel 2.18 on)
        self._offsets: dict[tuple[str, str, str | None, str | None], Point] | None = None
        self._on_offset: Callable[[Labware, Point], None] | None = None  # told of set_offset
        # told of the liquid the protocol says wells hold (load_liquid), for the records
        self._on_liquid: Callable[[Labware, Sequence[Well], Any, Sequence[float]],
                                  None] | None = None
        self._on: Labware | None = None  # the labware (adapter) this one sits on
        self._holder: ModuleHolder | None = None  # the module context it sits on, if any
        self._stacked: Labware | None = None  # the labware loaded on this one
        # Loads a labware on this one; set by the ProtocolContext that loaded this one.
        self._stacker: Stacker | None = None
        corner = definition.get("cornerOffsetFromSlot") or {}
        self._base = Point(
            float(slot_origin[0]) + corner.get("x", 0.0),
            float(slot_origin[1]) + corner.get("y", 0.0),
            float(slot_origin[2]) + corner.get("z", 0.0),
        )
        self._offset = self._base
        self._is_tiprack = bool(self._parameters.get("isTiprack", False))
        self._tip_length: float | None = self._parameters.get("tipLength")
        ordering: list[list[str]] = definition["ordering"]
        self._names = [name for column in ordering for name in column]
        bounds, start = [], 0
        for column in ordering:
            bounds.append((start, start + len(column)))
            start += len(column)
        self._column_bounds: list[tuple[int, int]] = bounds
        self._has_tip = [self._is_tiprack] * len(self._names)
        self._wells: list[Well] | None = None  # built on first use
        self._by_name: dict[str, Well] = {}
        self._grid: tuple[dict[str, tuple[Well, ...]], dict[str, tuple[Well, ...]]] | None = None
        self._squares: _WellSquares | None = None  # built on first well_at
        self._copies: weakref.WeakSet[Well] | None = None  # protocols' copies of wells

    # -- identity -----------------------------------------------------------------

    @property
    def api_version(self) -> APIVersion:
        """The apiLevel of the protocol that loaded this labware."""
        return self._api_version

    @property
    @since(2, 15)
    def child(self) -> Labware | None:
        """The labware loaded on this one (an adapter's plate), if any."""
        return self._stacked

    def topmost(self) -> Labware:
        """The labware at the top of what is stacked on this one (this one, if nothing)."""
        top = self
        while top._stacked is not None:
            top = top._stacked
        return top

    @property
    def load_name(self) -> str:
        """The load name the definition is known by."""
        return self._load_name

    @property
    def name(self) -> str:
        """The label given at load time, else the load name (or what a protocol below
        apiLevel 2.14 set it to)."""
        return self._name

    @name.setter
    def name(self, new_name: str) -> None:
        refuse_removed("setting Labware.name", ENGINE_CORE_API, self._api_version,
                       "give load_labware a label instead")
        if not isinstance(new_name, str):
            raise ProtocolError(f"Labware.name must be text, not {new_name!r}")
        self._name = new_name  # as Opentrons: the name only, not the display name

    @property
    def shown_name(self) -> str:
        """The label given at load time, else the definition's display name: how labrun's
        messages name it (not Opentrons' API, which has no ``Labware.display_name``)."""
        return self._display

    @property
    def uri(self) -> str:
        """``namespace/load_name/version``."""
        return uri_of(self)

    @property
    def parent(self) -> Labware | str | Any:
        """What the labware sits on, as in Opentrons: the adapter it was loaded on, the
        module context it was loaded on, else its deck slot."""
        return parent_of(self)

    def placed_on(self, module: ModuleHolder) -> None:
        """The labware was loaded on ``module`` (its context): its ``parent`` from now on."""
        self._holder = module

    @property
    def slot(self) -> str:
        """The deck slot the labware is in (through any adapter); ``"offDeck"`` when it is
        off the deck."""
        return self._parent

    def height_at(self, slot_origin: Point) -> float:
        """Where the labware's top would be with its slot origin at ``slot_origin``."""
        corner = self._definition.get("cornerOffsetFromSlot") or {}
        return (slot_origin.z + float(corner.get("z", 0.0))
                + float(self._definition["dimensions"]["zDimension"]))

    @property
    def whereabouts(self) -> str:
        """Where the labware is, as Opentrons 2.14+ names it in a well's name: ``slot 5``,
        ``Temperature Module GEN2 on slot 3``, the adapter's name and its whereabouts, or
        ``[off-deck]``."""
        if self._on is not None:
            return f"{self._on.shown_name} on {self._on.whereabouts}"
        if self._parent == OFF_DECK_SLOT:
            return "[off-deck]"  # as Opentrons prints it
        slot = f"slot {self._parent}"
        return slot if self._module is None else f"{self._module} on {slot}"

    def stacked_origin(self, child: Mapping[str, Any]) -> Point:
        """Where a labware of definition ``child`` placed on this one has its slot origin.

        On top of this labware, lowered by the child's ``stackingOffsetWithLabware`` for
        this load name, else its ``default`` (how far it sinks in); this labware's own
        corner offset does not carry over, as in Opentrons.
        """
        offsets = child.get("stackingOffsetWithLabware") or {}
        overlap = offsets.get(self._load_name, offsets.get("default")) or {}
        height = float(self._definition["dimensions"]["zDimension"])
        return self._slot_origin + Point(float(overlap.get("x", 0.0)),
                                         float(overlap.get("y", 0.0)),
                                         height - float(overlap.get("z", 0.0)))

    def check_can_hold(self, child: Mapping[str, Any]) -> None:
        """LabwareCannotBeStackedError unless a labware of definition ``child`` may sit on
        this one, by Opentrons' rules: the child's ``stackingOffsetWithLabware`` names this
        load name (or only ``default``, with no ``compatibleParentLabware``); a labware on a
        module holds nothing unless it is an adapter, and nothing goes on a labware that
        sits on an adapter, a lid (role ``lid``) aside; and no stack grows past the child's
        ``stackLimit`` (1 unless given)."""
        name = child["parameters"]["loadName"]
        check_sits_on(child, self._load_name)
        lid = "lid" in (child.get("allowedRoles") or ())  # covers a plate where it stands
        if self._module is not None and not _is_adapter(self._definition) and not lid:
            raise LabwareCannotBeStackedError(
                f"{name} cannot be loaded onto {self._load_name}, a labware on the "
                f"{self._module}: only an adapter there holds a labware")
        if self._on is not None:
            stack = 0  # this labware and those under it, adapters aside
            under: Labware | None = self
            while under is not None:
                stack += not _is_adapter(under._definition)
                under = under._on
            limit = child.get("stackLimit") or 1
            if stack >= limit:
                raise LabwareCannotBeStackedError(
                    f"{name} cannot be loaded onto {self._load_name}, which is already "
                    f"stacked on {self._on.load_name}: {stack} labware in the stack, adapters "
                    f"aside, and its stackLimit is {limit}")
            if _is_adapter(self._on._definition) and not lid:
                raise LabwareCannotBeStackedError(
                    f"{name} cannot be loaded onto {self._load_name}, which sits on the "
                    f"adapter {self._on.load_name}")

    @since(2, 15)
    def load_labware(self, name: str, label: str | None = None, namespace: str | None = None,
                     version: int | None = None, *, lid: str | None = None,
                     lid_namespace: str | None = None,
                     lid_version: int | None = None) -> Labware:
        """Load a labware on top of this one (an adapter), as ``ProtocolContext`` loads it.
        ``lid`` (from apiLevel 2.23; ``lid_namespace`` and ``lid_version`` from 2.26) is
        refused: labrun has no lids."""
        check_lid_options("Labware.load_labware", self.api_version, lid=lid,
                          lid_namespace=lid_namespace, lid_version=lid_version)
        return self._load_on_this("load_labware", name, label, namespace, version)

    @since(2, 15)
    def load_labware_from_definition(self, definition: Mapping[str, Any],
                                     label: str | None = None) -> Labware:
        """Load a labware from its definition (a dict) on top of this one."""
        return self._load_on_this("load_labware_from_definition", definition, label, None,
                                  None)

    def _load_on_this(self, op: str, name: str | Mapping[str, Any], label: str | None,
                      namespace: str | None, version: int | None) -> Labware:
        if self._stacker is None:
            raise UnsupportedAPIError(f"Labware.{op}: {self!r} was not loaded by a protocol "
                                      "context, so nothing can be loaded on it")
        return self._stacker(self, name, label, namespace, version)

    @property
    @since(2, 15)
    def is_adapter(self) -> bool:
        """Whether the definition allows this labware the role of an adapter."""
        return _is_adapter(self._definition)

    @property
    def definition(self) -> Mapping[str, Any]:
        """The definition this labware was built from (shared: do not modify)."""
        return self._definition

    @property
    def parameters(self) -> dict[str, Any]:
        """A copy of the definition's ``parameters``."""
        return dict(self._parameters)

    @property
    def quirks(self) -> list[str]:
        """A copy of the definition's quirks."""
        return list(self._parameters.get("quirks", []))

    def has_quirk(self, quirk: str) -> bool:
        """True when the definition lists ``quirk`` (``quirks`` without the copy)."""
        return quirk in self._parameters.get("quirks", ())

    @property
    def is_tiprack(self) -> bool:
        """Whether this labware is a tip rack."""
        return self._is_tiprack

    @property
    def tip_length(self) -> float:
        """Length of this rack's tips, mm, as the definition writes it (``88``, not
        ``88.0``, as Opentrons returns it); TipError if this is not a tip rack."""
        if self._tip_length is None:
            raise TipError(f"{self!r} is not a tip rack, so it has no tip length")
        return self._tip_length

    @tip_length.setter
    def tip_length(self, length: float) -> None:
        refuse_removed("setting Labware.tip_length", ENGINE_CORE_API, self._api_version,
                       "give the tip length in the tip rack's definition")
        if not is_number(length) or length <= 0:
            raise ProtocolError(f"tip_length must be a positive number of mm, not {length!r}")
        self._tip_length = length  # read back as given (80 stays 80), as in Opentrons

    @property
    def magdeck_engage_height(self) -> float | None:
        """The definition's magnetic-module engage height as it writes it (``20``, not
        ``20.0``, as Opentrons returns it), or None if it has none."""
        if not self._parameters.get("isMagneticModuleCompatible", False):
            return None
        height: float | None = self._parameters.get("magneticModuleEngageHeight")
        return height

    # -- geometry -------------------------------------------------------------------

    @property
    def calibrated_offset(self) -> Point:
        """The labware's front-bottom-left corner in deck coordinates."""
        return self._offset

    @property
    def footprint(self) -> tuple[float, float, float, float]:
        """labrun's own: what the labware covers of the deck where it stands, in deck
        coordinates: (x, y) of its front-left corner, then of its back-right one."""
        dimensions = self._definition["dimensions"]
        x, y = self._offset.x, self._offset.y
        return (round(x, 6), round(y, 6), round(x + float(dimensions["xDimension"]), 6),
                round(y + float(dimensions["yDimension"]), 6))  # no float noise

    @property
    def highest_z(self) -> float:
        """The labware's top in deck coordinates; from apiLevel 2.14, as in Opentrons, with
        the height of the module it sits on directly above it (``clearance_top``)."""
        return highest_z_of(self)

    @property
    def clearance_top(self) -> float:
        """labrun's own: the top the pipettes travel clear of over this labware (deck
        coordinates), at every apiLevel as Opentrons plans its arcs: the labware's top,
        plus its module definition's ``overLabwareHeight`` when it sits directly on a
        module (a magnetic module's 4.052 mm; 0 for the other OT-2 modules; nothing for a
        labware on an adapter). Opentrons 8: ``GeometryView._get_highest_z_from_labware_data``;
        before apiLevel 2.14 its deck's ``highest_z``, through ``ModuleGeometry.highest_z``.
        The module's own top counts as well (``loadModule``): travel clears the higher."""
        top = self._offset.z + float(self._definition["dimensions"]["zDimension"])
        return round(top + self._over, 6) if self._over else top  # no float noise

    def set_offset(self, x: float, y: float, z: float) -> None:
        """Shift the labware (and every well) by this offset from its default position;
        as in Opentrons, not at apiLevel 2.14 to 2.17 (there the app's labware position
        check sets offsets; below 2.12 Opentrons' own gate never closes: its labware
        reports apiLevel 2.13 there). From 2.18 the offset is for the labware's place:
        a labware of the same definition moved or loaded there later has it too."""
        if ENGINE_CORE_API <= self._api_version < SET_OFFSET_RESTORED_API:
            raise APIVersionError(f"Labware.set_offset needs apiLevel 2.18 or later (or "
                                  f"below 2.14); this protocol's apiLevel is "
                                  f"{self._api_version}")
        self._shift("set_offset", x, y, z)

    def set_calibration(self, delta: Point) -> None:
        """Deprecated: shift the labware by ``delta`` from its default position, as
        ``set_offset`` does (before apiLevel 2.14; from 2.14 refused, as in Opentrons)."""
        refuse_removed("Labware.set_calibration()", ENGINE_CORE_API, self._api_version,
                       "the app's labware position check sets offsets")
        try:
            x, y, z = delta
        except (TypeError, ValueError):
            raise ProtocolError(f"set_calibration: delta must be a Point of mm, not "
                                f"{delta!r}") from None
        self._shift("set_calibration", x, y, z)

    @property
    @removed_in(*ENGINE_CORE_API, "it no longer means anything")
    def separate_calibration(self) -> bool:
        """Deprecated, and always False (before apiLevel 2.14, as in Opentrons)."""
        return False

    def _shift(self, op: str, x: float, y: float, z: float) -> None:
        offset: Point | None = None
        if not any(isinstance(v, (str, bytes, bool)) for v in (x, y, z)):
            with contextlib.suppress(TypeError, ValueError):  # numbers of any kind (numpy's)
                offset = Point(float(x), float(y), float(z))
        if offset is None or not all(math.isfinite(v) for v in offset):
            raise ProtocolError(f"{op}: the offset must be finite numbers of mm, not "
                                f"({x!r}, {y!r}, {z!r})")
        if self._parent == OFF_DECK_SLOT:
            raise LabwareOffDeckError(f"{op}: {self.shown_name} is off the deck; an offset "
                                      "is for a place on the deck")
        if self._offsets is not None and self._api_version >= SET_OFFSET_RESTORED_API:
            self._offsets[self._place_key()] = offset  # for its place, as in Opentrons
        self._set_offset(offset)
        if self._on_offset is not None:
            self._on_offset(self, offset)

    def _set_offset(self, offset: Point) -> None:
        self._offset = self._base + offset
        for well in self._wells or ():
            well._place(self._offset)
        for copy in self._copies or ():
            copy._place(self._offset)

    def _noted(self, wells: Sequence[Well], liquid: Any, volumes: Sequence[float]) -> None:
        """Wells of this labware start with ``volumes`` of ``liquid`` (None: empty): the
        protocol's context records it."""
        if self._on_liquid is not None and wells:
            self._on_liquid(self, wells, liquid, volumes)

    def _follow(self, copy: Well) -> None:
        """Place ``copy`` (a protocol's ``Well`` subclass of one of these wells) with
        them from now on, for as long as the protocol keeps it."""
        if self._copies is None:
            self._copies = weakref.WeakSet()
        self._copies.add(copy)

    def _place_key(self) -> tuple[str, str, str | None, str | None]:
        """The labware's definition and place, as an offset is kept for them."""
        on = self._on
        return (uri_of(self), self._parent, self._module if on is None else on._module,
                uri_of(on) if on is not None else None)

    # -- wells ------------------------------------------------------------------------

    def _all_wells(self) -> list[Well]:
        if self._wells is None:
            props = self._definition["wells"]
            self._wells = [Well(self, n, i, props[n]) for i, n in enumerate(self._names)]
            self._by_name = {well.well_name: well for well in self._wells}
        return self._wells

    def __getitem__(self, well_name: str) -> Well:
        if self._wells is None:
            self._all_wells()
        try:
            return self._by_name[well_name]
        except (KeyError, TypeError):
            raise WellNotFoundError(self._no_such("well", well_name, self._names)) from None

    def first_well(self) -> Well:
        """The first well (labrun's: where a step given the fixed trash goes, which from
        apiLevel 2.16 has no wells a protocol can name)."""
        return self._all_wells()[0]

    def well(self, idx: int | str) -> Well:
        """One well by index (in ``wells()`` order) or by name."""
        if isinstance(idx, str):
            return self[idx]
        wells = self._all_wells()
        if isinstance(idx, int) and not isinstance(idx, bool) and -len(wells) <= idx < len(wells):
            return wells[idx]
        raise WellNotFoundError(self._no_such("well", idx, self._names))

    def wells(self, *args: str | int) -> list[Well]:
        """All wells in order (A1, B1, ... down each column), or those named or indexed."""
        wells = self._all_wells()
        if not args:
            return list(wells)
        return [wells[a] if isinstance(a, int) else self[a] for a in _same_kind(args, "wells")]

    def well_at(self, x: float, y: float) -> Well | None:
        """The well whose opening holds the deck point (x, y), if any (a nozzle's well);
        the first in ``wells()`` order should openings overlap."""
        wells = self._all_wells()
        if self._squares is None:
            self._squares = _WellSquares(wells)
        for index in self._squares.near(x - self._offset.x, y - self._offset.y):
            well = wells[index]
            dx, dy = abs(x - well._x), abs(y - well._y)
            if well._diameter is not None:
                radius = well._diameter / 2
                if dx * dx + dy * dy <= radius * radius + 1e-6:
                    return well
            elif dx <= (well._length or 0) / 2 + 1e-6 and dy <= (well._width or 0) / 2 + 1e-6:
                return well
        return None

    def wells_by_name(self) -> dict[str, Well]:
        """Well name -> Well, in ``wells()`` order; a name it lacks raises a KeyError that
        names the labware and its wells, as ``labware[name]`` does."""
        self._all_wells()
        return _Lookup(self._by_name, lambda name: self._no_such("well", name, self._names))

    def rows(self, *args: str | int) -> list[list[Well]]:
        """Rows back to front (A, B, ...), each left to right; or those named or indexed."""
        return self._select(self._layout()[0], args, "row")

    def rows_by_name(self) -> dict[str, list[Well]]:
        """Row letter (``"A"``) -> that row's wells, left to right."""
        rows = self._named(self._layout()[0])
        return _Lookup(rows, lambda name: self._no_such("row", name, list(rows)))

    def columns(self, *args: str | int) -> list[list[Well]]:
        """Columns left to right, each back to front (A1, B1, ...); or named ("1") or indexed."""
        return self._select(self._layout()[1], args, "column")

    def columns_by_name(self) -> dict[str, list[Well]]:
        """Column number (``"1"``) -> that column's wells, back to front."""
        columns = self._named(self._layout()[1])
        return _Lookup(columns, lambda name: self._no_such("column", name, list(columns)))

    # Opentrons' deprecated names of the three (it still runs them, with a warning in
    # its log): old protocols call them.
    wells_by_index = wells_by_name
    rows_by_index = rows_by_name
    columns_by_index = columns_by_name

    def _layout(self) -> tuple[dict[str, tuple[Well, ...]], dict[str, tuple[Well, ...]]]:
        """Row and column names -> their wells, from the well names (as Opentrons); worked
        out once (protocols ask for ``rows()`` and ``columns()`` in their loops)."""
        if self._grid is None:
            wells = self._all_wells()
            rows: dict[str, list[Well]] = {}
            columns: dict[str, list[Well]] = {}
            for c, (start, end) in enumerate(self._column_bounds):
                for i in range(start, end):
                    match = _WELL_NAME.fullmatch(self._names[i])
                    row = match.group(1) if match else chr(ord("A") + i - start)
                    rows.setdefault(row, []).append(wells[i])
                    column = match.group(2) if match else str(c + 1)
                    columns.setdefault(column, []).append(wells[i])
            self._grid = ({key: tuple(group) for key, group in rows.items()},
                          {key: tuple(group) for key, group in columns.items()})
        return self._grid

    @staticmethod
    def _named(groups: dict[str, tuple[Well, ...]]) -> dict[str, list[Well]]:
        """New lists each call, as Opentrons gives: the protocol may change them."""
        return {key: list(wells) for key, wells in groups.items()}

    def _select(
        self, groups: dict[str, tuple[Well, ...]], args: tuple[str | int, ...], kind: str
    ) -> list[list[Well]]:
        named = self._named(groups)
        if not args:
            return list(named.values())
        ordered = list(named.values())
        result = []
        for a in _same_kind(args, f"{kind}s"):
            if isinstance(a, int):
                result.append(ordered[a])
            elif a in named:
                result.append(named[a])
            else:
                raise WellNotFoundError(self._no_such(kind, a, list(named)))
        return result

    def _no_such(self, kind: str, name: object, names: list[str]) -> str:
        where = f"{self._load_name} in slot {self._parent} has no {kind} {name!r}"
        if not names:  # an adapter
            listing = f"it has no {kind}s"
        elif len(names) == 1:
            listing = f"its only {kind} is {names[0]}"
        else:
            listing = f"{kind}s are {names[0]}..{names[-1]}"
        hint = ""
        if isinstance(name, str) and name != name.strip().upper() and name.strip().upper() in names:
            hint = f"; did you mean {name.strip().upper()!r}?"
        elif isinstance(name, int) and str(name) in names:  # columns_by_name()[1]
            hint = f"; did you mean {str(name)!r}?"
        return f"{where} ({listing}){hint}"

    # -- tip tracking -------------------------------------------------------------------

    def _index_of(self, well: Well, what: str) -> int:
        if not isinstance(well, Well) or well.parent is not self:
            raise ValueError(f"{what} {well!r} is not a well of {self!r}")
        return well._index

    def _column_of(self, index: int) -> tuple[int, int]:
        for start, end in self._column_bounds:
            if start <= index < end:
                return start, end
        raise AssertionError("unreachable: every well is in a column")

    def next_tip(self, num_tips: int = 1, starting_tip: Well | None = None) -> Well | None:
        """The first well starting ``num_tips`` tips in a row in one column, or None.

        Searches column by column (A1, B1, ... H1, A2, ...), from ``starting_tip`` if given.
        """
        num_tips = _count("num_tips", num_tips)
        first = 0 if starting_tip is None else self._index_of(starting_tip, "starting_tip")
        has = self._has_tip
        for start, end in self._column_bounds:
            if end <= first:
                continue
            i = max(start, first)
            while i < end and not has[i]:  # skip used positions at the column's top
                i += 1
            j = i
            while j < end and has[j]:  # the run of tips after them
                j += 1
            if j - i >= num_tips:
                return self._all_wells()[i]
        return None

    @removed_in(2, 14, "tip tracking marks the tips a pipette takes")
    def use_tips(self, start_well: Well, num_channels: int = 1) -> None:
        """Mark the tips a pipette with ``num_channels`` takes at ``start_well`` as used."""
        self._use_tips(start_well, num_channels)

    def _use_tips(self, start_well: Well, num_channels: int) -> None:
        num_channels = _count("num_channels", num_channels)
        index = self._index_of(start_well, "start_well")
        _, end = self._column_of(index)
        for i in range(index, min(index + num_channels, end)):
            self._has_tip[i] = False

    @removed_in(2, 14, "use reset() to refill the rack")
    def previous_tip(self, num_tips: int = 1) -> Well | None:
        """The first well starting ``num_tips`` empty positions in one column, or None."""
        num_tips = _count("num_tips", num_tips)
        has = self._has_tip
        for start, end in self._column_bounds:
            i = start
            while i < end and has[i]:
                i += 1
            j = i
            while j < end and not has[j]:
                j += 1
            if j - i >= num_tips:
                return self._all_wells()[i]
        return None

    @removed_in(2, 14, "use reset() instead")
    def return_tips(self, start_well: Well, num_channels: int = 1) -> None:
        """Mark tips as back in the rack; TipError if a target position already has one."""
        self._return_tips(start_well, num_channels)

    def _return_tips(self, start_well: Well, num_channels: int) -> None:
        num_channels = _count("num_channels", num_channels)
        index = self._index_of(start_well, "start_well")
        _, end = self._column_of(index)
        targets = range(index, min(index + num_channels, end))
        for i in targets:
            if self._has_tip[i]:
                raise TipError(f"cannot return a tip to {self._all_wells()[i]!r}: it has a tip")
        for i in targets:
            self._has_tip[i] = True

    # -- liquids (apiLevel 2.22) ----------------------------------------------------------

    @since(2, 22)
    def load_liquid(self, wells: Sequence[Well | str], volume: float, liquid: Any) -> None:
        """Note that each of ``wells`` (wells of this labware, or their names) starts with
        ``volume`` µL of ``liquid``; it is for the records, nothing moves."""
        chosen = self._own_wells("load_liquid", wells, "wells")
        noted = _checked_liquid(self, liquid, volume)  # before any well is noted
        for well in chosen:
            well._note(noted)
        self._noted(chosen, noted[0], [noted[1]] * len(chosen))

    @since(2, 22)
    def load_liquid_by_well(self, volumes: Mapping[Well | str, float], liquid: Any) -> None:
        """Note that each well named in ``volumes`` starts with its volume of ``liquid``."""
        if not isinstance(volumes, Mapping):
            raise ProtocolError(f"load_liquid_by_well: volumes must map wells to µL, not "
                                f"{volumes!r}")
        chosen = self._own_wells("load_liquid_by_well", list(volumes), "keys of volumes")
        noted = [_checked_liquid(self, liquid, v, "load_liquid_by_well")  # all first
                 for v in volumes.values()]
        for well, each in zip(chosen, noted, strict=True):
            well._note(each)
        self._noted(chosen, liquid, [volume for _, volume in noted])

    @since(2, 22)
    def load_empty(self, wells: Sequence[Well | str]) -> None:
        """Note that each of ``wells`` starts empty (not a tip rack's, as in Opentrons)."""
        chosen = self._own_wells("load_empty", wells, "wells")
        if self._is_tiprack:
            raise ProtocolError(f"load_empty: {self} is a tip rack; liquid, or its absence, is "
                                "noted in a labware that holds liquid")
        for well in chosen:
            well._note(None)
        self._noted(chosen, None, [0.0] * len(chosen))

    def _own_wells(self, op: str, wells: Any, what: str) -> list[Well]:
        """``wells`` as wells of this labware: each a Well of it or the name of one."""
        if isinstance(wells, (str, Well)) or not isinstance(wells, Iterable):
            raise ProtocolError(f"{op}: {what} must be a list of wells or well names, not "
                                f"{wells!r}")
        chosen = []
        for well in wells:
            if isinstance(well, Well):
                if well.parent is not self:
                    raise WellNotFoundError(f"{op}: {well} is not a well of {self}; the "
                                            f"{what} must be wells of this labware")
                chosen.append(well)
            elif isinstance(well, str):
                chosen.append(self[well])
            else:
                raise ProtocolError(f"{op}: {what} must be wells or well names, not "
                                    f"{well!r}")
        return chosen

    def reset(self) -> None:
        """Refill a tip rack: every position holds an unused tip again. From apiLevel 2.14
        any other labware is refused, as Opentrons refuses it (before, nothing happens)."""
        if self._is_tiprack:
            self._has_tip = [True] * len(self._names)
        elif self.api_version >= ENGINE_CORE_API:
            raise ProtocolError(f"reset: {self} is not a tip rack; only a tip rack is reset "
                                "(its tips refilled)")

    def __getattr__(self, name: str) -> Any:
        if name in _UNSUPPORTED:  # Opentrons' newer calls, said so rather than unknown
            require_name(f"Labware.{name}", _SINCE[name], self.api_version)
            raise UnsupportedNameError(f"Labware.{name} is not supported by labrun; "
                                      f"{_UNSUPPORTED[name]}")
        raise UnknownAttributeError(self, name, "Labware")  # TrashBin words its own

    def __repr__(self) -> str:
        return self._repr


# labrun's own reading of any labware, the fixed trash's too: from apiLevel 2.16 a
# protocol may not read these on the trash bin (Opentrons' bin lacks them), labrun may.

def load_name_of(labware: Labware) -> str:
    """The labware's load name (``Labware.load_name``)."""
    return labware._load_name


def name_of(labware: Labware) -> str:
    """The labware's name (``Labware.name``): its label, else its load name."""
    return labware._name


def uri_of(labware: Labware) -> str:
    """``namespace/load_name/version`` (``Labware.uri``)."""
    d = labware._definition
    return f"{d.get('namespace', 'opentrons')}/{labware._load_name}/{d.get('version', 1)}"


def is_tiprack(labware: Labware) -> bool:
    """Whether the labware is a tip rack (``Labware.is_tiprack``)."""
    return labware._is_tiprack


def highest_z_of(labware: Labware) -> float:
    """The labware's top in deck coordinates (``Labware.highest_z``)."""
    if labware._api_version >= ENGINE_CORE_API:
        return labware.clearance_top
    return labware._offset.z + float(labware._definition["dimensions"]["zDimension"])


def offset_of(labware: Labware) -> Point:
    """The labware's front-bottom-left corner (``Labware.calibrated_offset``)."""
    return labware._offset


def parent_of(labware: Labware) -> Labware | str | Any:
    """What the labware sits on (``Labware.parent``)."""
    if labware._on is not None:
        return labware._on
    if labware._holder is not None:
        return labware._holder
    return OFF_DECK if labware._parent == OFF_DECK_SLOT else labware._parent


_UNSUPPORTED = {  # added in apiLevels 2.22 and later
    "load_lid_stack": "lids are not supported",
}
_SINCE = {"load_lid_stack": (2, 23), "meniscus": (2, 21), "current_liquid_height": (2, 21),
          "current_liquid_volume": (2, 21), "estimate_liquid_height_after_pipetting": (2, 21),
          "volume_from_height": (2, 24), "height_from_volume": (2, 24),
          "has_tracked_liquid": (2, 27)}
"""The apiLevel Opentrons has each of those from (below it, the level is said first)."""
_NOT_TRACKED = ("labrun does not track the liquid in a well for the protocol to read; "
                "keep the volumes the protocol loads and moves in its own variables")
_NO_HEIGHTS = ("liquid heights are not modelled; give a height from the well's top or "
               "bottom instead (well.top(z=...), well.bottom(z=...))")
_WELL_UNSUPPORTED = {  # added in apiLevel 2.21 and later
    "meniscus": "liquid heights are not modelled, so there is no meniscus to go to; give a "
                "height from the well's top or bottom instead (well.top(z=...), "
                "well.bottom(z=...))",
    "current_liquid_height": _NO_HEIGHTS,
    "estimate_liquid_height_after_pipetting": _NO_HEIGHTS,
    "volume_from_height": _NO_HEIGHTS,
    "height_from_volume": _NO_HEIGHTS,
    "current_liquid_volume": _NOT_TRACKED,
    "has_tracked_liquid": _NOT_TRACKED,
}


def stacked_on(labware: Labware) -> Labware | None:
    """The labware loaded on ``labware``, if any (``Labware.child``, at any apiLevel)."""
    return labware._stacked


def bottom_holder(labware: Labware) -> ModuleHolder | None:
    """The module under the stack ``labware`` is in: under it, or under its adapters."""
    bottom = labware
    while bottom._on is not None:
        bottom = bottom._on
    return bottom._holder


def let_load_on(labware: Labware, loader: Stacker) -> None:
    """Let a protocol load labware on ``labware`` (``Labware.load_labware``): ``loader``
    (the protocol context's) does it."""
    labware._stacker = loader


def stack(labware: Labware, base: Labware, loader: Stacker) -> None:
    """``labware`` has been loaded on ``base``; ``loader`` loads labware on it in turn."""
    labware._on, labware._stacker = base, loader
    base._stacked = labware


def labware_moved(labware: Labware, slot: str, slot_origin: Point | None, *,
                  module: str | None = None, on: Labware | None = None,
                  holder: ModuleHolder | None = None) -> None:
    """A person moved ``labware`` (``move_labware``) to ``slot``, its slot origin now
    ``slot_origin`` (``OFF_DECK_SLOT`` and None: off the deck); on ``on`` (a labware)
    or ``holder`` (a module's context), if given, on module ``module`` (its display
    name). An offset set with ``set_offset`` is for a place: the labware takes the
    one set for its new place, if any, as in Opentrons."""
    if labware._on is not None:
        labware._on._stacked = None
    # as when loaded: the module is named by the labware directly on it (an adapter)
    labware._on, labware._holder = on, holder
    labware._module = module if on is None else None
    labware._over = holder.height_over_labware if holder is not None else 0.0
    if on is not None:
        on._stacked = labware
    labware._parent = OFF_DECK_SLOT if slot_origin is None else slot
    if slot_origin is not None:
        labware._slot_origin = slot_origin
        corner = labware._definition.get("cornerOffsetFromSlot") or {}
        labware._base = slot_origin + Point(corner.get("x", 0.0), corner.get("y", 0.0),
                                            corner.get("z", 0.0))
        found = labware._offsets.get(labware._place_key()) if labware._offsets else None
        labware._set_offset(found if found is not None else Point(0.0, 0.0, 0.0))
        labware._squares = None


def join_protocol(labware: Labware,
                  offsets: dict[tuple[str, str, str | None, str | None], Point],
                  told: Callable[[Labware, Point], None],
                  liquids: Callable[[Labware, Sequence[Well], Any, Sequence[float]], None],
                  ) -> None:
    """``labware`` becomes one of the protocol's: it keeps offsets in ``offsets`` (the
    protocol's, by definition and place), and takes the one of its place, if one was set
    there (apiLevel 2.18 on); it tells ``told`` of every offset the protocol sets from now
    on, and ``liquids`` of the liquid the protocol says its wells hold at the start."""
    labware._offsets = offsets
    labware._on_offset = told
    labware._on_liquid = liquids
    found = offsets.get(labware._place_key())
    if found is not None:
        labware._set_offset(found)


class DisposalOffset(Frozen):
    """How far from the top of a trash bin's centre ``TrashBin.top`` goes, in mm (as
    Opentrons' ``opentrons.protocol_api.disposal_locations.DisposalOffset``)."""

    __slots__ = ("x", "y", "z")

    x: float
    y: float
    z: float

    def __init__(self, x: float, y: float, z: float) -> None:
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "z", z)


TRASH_BIN_AREA = "fixedTrash"
"""The OT-2 trash bin's addressable area, as Opentrons names it (``TrashBin.area_name``)."""


class TrashBin(Labware):
    """The fixed trash from apiLevel 2.16, where Opentrons makes it a trash bin: steps
    take it whole (``drop_tip``, ``dispense``, ``blow_out``, ``move_to``), and it has no
    wells a protocol can name, as in Opentrons (a protocol written for 2.15 that names
    ``ctx.fixed_trash['A1']`` fails there, so it fails here too). As Opentrons' it has a
    ``location`` (slot 12), an ``area_name``, a ``height`` and an ``offset``; ``top()``
    gives the bin again with another offset, which those steps go to. Nothing else of a
    labware is a protocol's to read (``_BIN_REFUSED``)."""

    _disposal_offset = DisposalOffset(x=0, y=0, z=0)
    _own_bin: TrashBin | None = None  # for a bin ``top`` gave: the deck's own

    def __getitem__(self, well_name: str) -> Well:
        raise TypeError(f"ctx.fixed_trash[{well_name!r}]: {BIN_HAS_NO_WELLS}")

    def __getattr__(self, name: str) -> Any:
        # a labware's name refused (see _NotOnTheBin): said as that
        if name in _BIN_WELL_ACCESSORS:
            raise AttributeError(f"ctx.fixed_trash.{name}(): {BIN_HAS_NO_WELLS}")
        if name in _BIN_REFUSED:
            raise AttributeError(f"'TrashBin' object has no attribute {name!r}: "
                                 f"{BIN_IS_NO_LABWARE}")
        raise UnknownAttributeError(self, name, "TrashBin")

    def __dir__(self) -> list[str]:
        """Its names but a labware's it lacks, as ``dir`` lists Opentrons' bin (and as
        a misspelt name's "did you mean" offers them)."""
        return [name for name in super().__dir__() if name not in _BIN_REFUSED]

    @property
    def shown_name(self) -> str:
        """``Trash Bin``, as labrun's log and deck picture name it from apiLevel 2.16 (a
        message such as "slot 12 already holds Trash Bin" too)."""
        return TRASH_BIN_NAME

    def __repr__(self) -> str:
        return TRASH_BIN_NAME  # in messages: "expected a Location or a Well, not Trash Bin"

    @property
    def bin(self) -> TrashBin:
        """The deck's trash bin this one is (itself, or the one ``top`` was called on)."""
        return self._own_bin or self

    @property
    def offset(self) -> DisposalOffset:
        """The offset ``top`` gave, from the top of the bin's centre (0, 0, 0 unless)."""
        return self._disposal_offset

    @property
    def location(self) -> DeckSlotName:
        """The slot the bin is in (``DeckSlotName.FIXED_TRASH``, slot 12, on an OT-2)."""
        return DeckSlotName.from_primitive(self.slot)

    @property
    def area_name(self) -> str:
        """The bin's addressable area name, as Opentrons has it: ``fixedTrash``."""
        return TRASH_BIN_AREA

    @property
    def height(self) -> float:
        """The bin's height in mm (82 for the OT-2's standard trash, 58 for the short)."""
        height: float = self._definition["dimensions"]["zDimension"]
        return height  # as written (82, not 82.0): Opentrons gives its deck's number

    def top(self, x: float = 0, y: float = 0, z: float = 0) -> TrashBin:
        """The bin with its ``offset`` set to ``x``, ``y`` and ``z`` mm (not added to an
        offset it had), as in Opentrons: ``drop_tip``, ``dispense``, ``blow_out`` and
        ``move_to`` given it go that far from the top of the bin's centre."""
        require("TrashBin.top", (2, 18), self._api_version)  # not @since: no api_version
        for name, value in (("x", x), ("y", y), ("z", z)):
            if not is_number(value):
                raise ProtocolError(f"fixed_trash.top: {name} must be a number of mm, "
                                    f"not {value!r}")
        moved = TrashBin.__new__(TrashBin)
        moved.__dict__.update(self.__dict__)  # the same wells, the deck's bin their parent
        moved._disposal_offset = DisposalOffset(x=x, y=y, z=z)
        moved._own_bin = self.bin
        return moved

    def drop_point(self) -> Location:
        """Where a step given this bin goes: the top of its centre, moved by ``offset``."""
        offset = self._disposal_offset
        return self.first_well().top().move(Point(offset.x, offset.y, offset.z))


TRASH_BIN_NAME = "Trash Bin"
"""The trash bin's name in messages, as in labrun's log and deck picture (apiLevel 2.16 on)."""


BIN_HAS_NO_WELLS = ("from apiLevel 2.16 the fixed trash is a trash bin, as in Opentrons, "
                    "with no wells to name; give ctx.fixed_trash itself (drop_tip, "
                    "dispense, blow_out and move_to take it)")


BIN_IS_NO_LABWARE = ("from apiLevel 2.16 the fixed trash is a trash bin, as in Opentrons, "
                     "not a labware: it has only top() (apiLevel 2.18), offset, location, "
                     "area_name and height")


class _NotOnTheBin:
    """A name of Opentrons' ``Labware`` that its ``TrashBin`` lacks: reading it on the
    bin is the AttributeError ``TrashBin.__getattr__`` words, so ``hasattr`` is False; a
    protocol may still set it, as on Opentrons' bin (it keeps what was set). labrun's own
    code reads the bin through ``first_well``, ``bin``, ``shown_name`` and this module's
    functions (``load_name_of``, ...), never through these."""

    def __get__(self, bin_: TrashBin | None, owner: type | None = None) -> Any:
        if bin_ is None:
            return self
        raise AttributeError  # TrashBin.__getattr__ then says which and why


_BIN_WELL_ACCESSORS = frozenset((
    "well", "wells", "wells_by_name", "wells_by_index", "rows", "rows_by_name",
    "rows_by_index", "columns", "columns_by_name", "columns_by_index"))
"""The accessors of wells a protocol may not call on the bin (labrun's own code reaches its
one well through ``first_well``)."""

_BIN_REFUSED = _BIN_WELL_ACCESSORS | frozenset((
    "api_version", "calibrated_offset", "child", "highest_z", "is_adapter", "is_tiprack",
    "load_empty", "load_labware", "load_labware_from_definition", "load_lid_stack",
    "load_liquid", "load_liquid_by_well", "load_name", "magdeck_engage_height", "name",
    "next_tip", "parameters", "parent", "previous_tip", "quirks", "reset", "return_tips",
    "separate_calibration", "set_calibration", "set_offset", "tip_length", "uri",
    "use_tips"))
"""Every public name of Opentrons 8.8.2's ``Labware``, none of which its ``TrashBin`` has
(that has only ``top``, ``offset``, ``location``, ``area_name`` and ``height``): a protocol
that reads one on the bin from apiLevel 2.16 fails on the robot, so it fails here too."""
for _name in _BIN_REFUSED:
    setattr(TrashBin, _name, _NotOnTheBin())
del _name


def _count(what: str, value: object) -> int:
    """A number of tips or channels: a whole number of at least 1 (``8.0`` will do)."""
    if (isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 1
            and float(value).is_integer()):
        return int(value)
    raise ValueError(f"{what} must be a positive integer, not {value!r}")


def _same_kind(args: tuple[str | int, ...], what: str) -> tuple[str | int, ...]:
    """Arguments must be all names or all indices, as in Opentrons."""
    if all(isinstance(a, str) for a in args):
        return args
    if all(isinstance(a, int) and not isinstance(a, bool) for a in args):
        return args
    raise TypeError(f"{what}() takes names (str) or indices (int), not {args!r}")


class _WellSquares:
    """A labware's wells by the square of a grid their centre lies in (in the labware's
    own frame, so an offset changes nothing), each square as wide as the widest well: a
    point in a well's opening lies in the square of its centre or in one next to it, so
    ``well_at`` checks the wells of nine squares instead of every well."""

    def __init__(self, wells: Sequence[Well]) -> None:
        widest = max((w._diameter if w._diameter is not None
                      else max(w._length or 0, w._width or 0) for w in wells), default=0.0)
        self.size = max(float(widest), 1.0) + 1e-3
        self.squares: dict[tuple[int, int], list[int]] = {}
        for well in wells:
            self.squares.setdefault(self._square(well._rel[0], well._rel[1]), []).append(
                well._index)

    def _square(self, x: float, y: float) -> tuple[int, int]:
        return math.floor(x / self.size), math.floor(y / self.size)

    def near(self, x: float, y: float) -> list[int]:
        """Indices, in ``wells()`` order, of the wells that may hold the point (x, y)."""
        column, row = self._square(x, y)
        squares = self.squares
        found: list[int] = []
        for i in (column - 1, column, column + 1):
            for j in (row - 1, row, row + 1):
                found += squares.get((i, j), ())
        found.sort()
        return found


def mark_used(rack: Labware, start_well: Well, num_channels: int = 1) -> None:
    """Mark the tips a pipette with ``num_channels`` takes at ``start_well`` as used (tip
    tracking's own bookkeeping, at every apiLevel)."""
    rack._use_tips(start_well, num_channels)


def mark_returned(rack: Labware, start_well: Well, num_channels: int = 1) -> None:
    """Mark tips as back in ``rack``; TipError if a target position already has one."""
    rack._return_tips(start_well, num_channels)


def _is_adapter(definition: Mapping[str, Any]) -> bool:
    """Whether a definition's ``allowedRoles`` include ``adapter``."""
    return "adapter" in (definition.get("allowedRoles") or ())


def _checked_liquid(labware: Labware, liquid: Any, volume: Any,
                    op: str = "load_liquid") -> tuple[Any, float]:
    """``(liquid, volume)`` for a well of ``labware``, once both are what a well holds;
    refused as ``op``'s, the call the protocol made."""
    from .context import Liquid  # the context module imports this one

    if not isinstance(liquid, Liquid):
        raise ProtocolError(f"{op}: the liquid must be one ctx.define_liquid "
                            f"made, not {liquid!r}")
    if not is_number(volume) or volume < 0:
        raise ProtocolError(f"{op}: volume must be a number of µL >= 0, "
                            f"not {volume!r}")
    if labware._is_tiprack and labware._api_version >= ENGINE_CORE_API:
        raise ProtocolError(f"{op}: {labware} is a tip rack; liquid is loaded into a "
                            "labware that holds liquid (refused from apiLevel 2.14, as in "
                            "Opentrons)")
    return liquid, float(volume)


def own_well(well: Well) -> Well:
    """The labware's own well that ``well`` is, or stands for (a protocol's subclass of
    Well made from ``well._core``): the one its labware tracks tips and liquid by."""
    return well._origin or well


def check_sits_on(child: Mapping[str, Any], parent: str) -> None:
    """LabwareCannotBeStackedError unless a labware of definition ``child`` may sit on one
    of load name ``parent``: the child's ``stackingOffsetWithLabware`` names it (or only
    ``default``, with no ``compatibleParentLabware``)."""
    offsets = child.get("stackingOffsetWithLabware") or {}
    if parent not in offsets and not (
            "default" in offsets and child.get("compatibleParentLabware") is None):
        fits = sorted(set(offsets) - {"default"})
        on = f"it sits only on {', '.join(fits)}" if fits else \
            "its definition names nothing it sits on"
        raise LabwareCannotBeStackedError(
            f"{child['parameters']['loadName']} cannot be loaded onto {parent}: {on} "
            "(stackingOffsetWithLabware)")


def check_reachable(op: str, location: Location, *, in_place: bool = False) -> None:
    """Refuse ``location`` in a well when its labware has another stacked on it (as
    Opentrons refuses it), is off the deck, or was moved by hand after the location was
    made and stands elsewhere (Opentrons goes where it stood). ``in_place``: the location
    is where the pipette last went, for a step given none. A location relative to a
    labware, not a well, is a free point: never refused."""
    well = well_of(location)
    if well is None:
        return
    labware = well._labware
    placed = placed_at(location)
    moved = placed is not None and placed != labware._slot_origin
    if labware._stacked is None and labware._parent != OFF_DECK_SLOT and not moved:
        return  # in reach: every liquid step's case, said without naming the labware
    name = (f"no location given, and {labware.shown_name}, where the pipette last went,"
            if in_place else labware.shown_name)
    if labware._stacked is not None:
        raise LabwareIsInStackError(
            f"{op}: {name} is out of reach: {labware._stacked.shown_name} is stacked on "
            f"it; {'give a location' if in_place else 'move that one first'}")
    if labware._parent == OFF_DECK_SLOT:
        raise LabwareOffDeckError(
            f"{op}: {name} is off the deck; "
            f"{'give a location' if in_place else 'move it onto the deck first'}")
    if moved:
        if in_place:
            raise ProtocolError(f"{op}: {name} has been moved by hand since; give a "
                                "location")
        raise ProtocolError(
            f"{op}: the location {location.point} in {well.well_name} of "
            f"{labware.shown_name} was made before the labware was moved by hand, and "
            "points where it stood; make it again after the move (such as well.bottom(1))")
