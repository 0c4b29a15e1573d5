"""What every module context shares: its place on the deck, the labware on it, its calls.

A module context is what ``ctx.load_module`` returns. Each of its calls that does
something is one step made of module commands (``engine.commands``); the engine carries
them out on the device it bound the module to. Every module command's result carries
the module's status. On a robot, reading a temperature or a speed sends a
``module/read`` command for what the module does now. In a simulation nothing is sent
and a temperature or speed reads as its target once one is set, and a heater switched
off reads room temperature (the run's timing still follows the physical model), as in
the reference's legacy simulator, so a protocol that polls a temperature, heating or
cooling down, takes the branches it takes there and never loops for ever. (From apiLevel
2.14 Opentrons' own simulator leaves every reading where it started: labrun reports what
was set, as a robot would.)

On a robot the module bound may be another model that Opentrons takes in place of the one
asked for (a Temperature Module GEN2 for a GEN1, and back: its definition's
``compatibleWith``): as in Opentrons, the module is the attached model from then on, its
labware placed by that model's definition. The context learns which from the module's
status (a reading of its own, before a labware is loaded on it, or its model is asked
for), unless a module call has told it already.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any, Protocol

from engine import commands as c

from ..api_level import (
    ADAPTER_API,
    BY_NAME_DEPRECATED,
    ENGINE_CORE_API,
    OWN_ADAPTER_VERSION_API,
    check_lid_options,
    removed_in,
    require,
    since,
)
from ..errors import (
    LabwareMovementNotAllowedError,
    ProtocolError,
    SlotOccupiedError,
    UnsupportedAPIError,
)
from ..labware import Labware
from ..steps import StepTracker, api_step, is_number
from ..types import APIVersion, Location, Point
from .definitions import MODELS, SEMI_SHIFT_X, ModuleSpec, module_spec

LabwarePlacer = Callable[[str | Mapping[str, Any], str, Point, str | None, str | None,
                          int | None, bool, ModuleSpec,
                          tuple[str, str | None, int | None] | None], Labware]
"""Loads a labware (a load name or a definition) on a module, sending its ``loadLabware``:
(name or definition, slot, the module's labware origin, label, namespace, version,
adapter, the module's spec, and for an adapter the labware to go on it, checked first:
its load name, namespace and version)."""


class PipettesMover(Protocol):
    """Lifts the pipettes before ``module`` moves beside them, when the last move went to
    one of the slots ``near`` (any, when None): ``ProtocolContext._move_pipettes_away``."""

    def __call__(self, module: str, near: Collection[str] | None, *,
                 gantry: bool = False) -> None: ...


SETTLED = {"temperature": "target", "block_temperature": "block_target",
           "lid_temperature": "lid_target", "rpm": "target_rpm"}
"""In a simulation, each reading that reads as its target once one is set."""
ROOM_C = 23.0
"""What a heater switched off reads in a simulation (the reference's room temperature)."""


class ModuleError(ProtocolError):
    """A module call the module cannot do now or at all (bad value, lid closed, shaking)."""


class NoSuchCallError(ModuleError, AttributeError):
    """A module call Opentrons' API does not have (an AttributeError too, as it would be
    there): refused, so that a protocol written here runs on an OT-2."""


class ModuleContext:
    """A module loaded on the deck: the labware on it and its calls."""

    def __init__(self, steps: StepTracker, spec: ModuleSpec, slot: str, origin: Point, *,
                 requested_as: str, api_version: tuple[int, int],
                 placer: LabwarePlacer, move_pipettes_away: PipettesMover,
                 simulating: bool = True) -> None:
        self._steps = steps
        self._move_pipettes_away = move_pipettes_away
        self._spec = spec
        self._slot = slot
        self._origin = origin  # where a labware on it has its slot origin
        self._requested_as = requested_as
        self._api_version = api_version
        self._placer = placer
        self._labware: Labware | None = None
        self._readings: dict[str, Any] = {}
        self._simulating = simulating
        # A simulation simulates the model asked for; a robot binds no other model than
        # that one or one its definition names as compatible.
        others = set(spec.definition.get("compatibleWith") or ()) - {spec.model}
        self._attached_known = simulating or not others
        self.id = f"{spec.model}@{slot}"

    # -- what it is -----------------------------------------------------------------

    @property
    @since(2, 14)
    def model(self) -> str:
        """The module model, such as ``magneticModuleV2`` (on a robot, the one attached)."""
        self._learn_attached()
        return self._spec.model

    @property
    @since(2, 14)
    def type(self) -> str:
        """The module type, such as ``magneticModuleType``."""
        return self._spec.module_type

    @property
    def requested_as(self) -> str:
        """The name ``load_module`` was given."""
        return self._requested_as

    @property
    def api_version(self) -> APIVersion:
        """The apiLevel of the protocol that loaded the module."""
        return APIVersion(*self._api_version)

    @property
    @since(2, 14)
    def parent(self) -> str:
        """The deck slot the module is in."""
        return self._slot

    @property
    def slots(self) -> tuple[str, ...]:
        """Every deck slot the module takes (a thermocycler's four)."""
        return (self._slot, *self._spec.covers)

    @property
    def shown_name(self) -> str:
        """The module's name as labrun's messages give it (not Opentrons' API, whose
        module contexts have no ``display_name``)."""
        self._learn_attached()
        return self._spec.display_name

    @property
    def height_over_labware(self) -> float:
        """How far the module reaches above the top of a labware sitting on it directly
        (a magnetic module's 4.052 mm; its definition's ``overLabwareHeight``)."""
        return self._spec.over_labware

    @property
    @since(2, 14)
    def serial_number(self) -> str:
        """A simulated module's serial number."""
        return f"labrun-{self.id}"

    @property
    def labware(self) -> Labware | None:
        """The labware on the module, if any."""
        return self._labware

    @property
    def stack_top(self) -> float:
        """labrun's own: the top of the module or of what stands on it, whichever is
        higher (deck coordinates)."""
        top = self._geometry().highest_z
        held = self._labware
        return top if held is None else max(top, held.topmost().clearance_top)

    @property
    def own_top(self) -> float:
        """labrun's own: the top of the module itself, whatever stands on it (deck
        coordinates)."""
        return self._geometry().own_top

    @property
    @removed_in(*ENGINE_CORE_API, "use the module's model, type, parent and labware")
    def geometry(self) -> ModuleGeometry:
        """The module as an item on the deck (apiLevel below 2.14, as in Opentrons)."""
        self._learn_attached()
        return self._geometry()

    def _geometry(self) -> ModuleGeometry:
        """The geometry of this kind of module (a thermocycler's says more)."""
        return ModuleGeometry(self)

    def _learn_attached(self) -> None:
        """On a robot, once: become the model bound to this module when it is another one
        Opentrons takes in its place (its definition places the labware from now on)."""
        if self._attached_known:
            return
        if "model" not in self._readings:
            self._refresh()  # outside another call: a step of its own
        self._attached_known = True
        attached = self._readings.get("model")
        if attached == self._spec.model or attached not in MODELS:
            return
        spec = module_spec(str(attached))
        if spec.kind != self._spec.kind:
            return
        here = (0.0, 0.0, 0.0)
        self._origin = (self._origin - self._spec.labware_origin(self._slot, here,
                                                                  self._api_version)
                        + spec.labware_origin(self._slot, here, self._api_version))
        self._spec = spec

    # -- loading labware --------------------------------------------------------------

    def load_labware(self, name: str, label: str | None = None, namespace: str | None = None,
                     version: int | None = None, adapter: str | None = None,
                     lid: str | None = None, *, adapter_namespace: str | None = None,
                     adapter_version: int | None = None, lid_namespace: str | None = None,
                     lid_version: int | None = None) -> Labware:
        """Load a labware on the module (on ``adapter``, if named), as
        ``ProtocolContext.load_labware`` loads it: from apiLevel 2.26 the adapter is looked
        up by its own ``adapter_namespace`` and ``adapter_version``; a ``lid`` is refused."""
        self._learn_attached()
        return self._load_labware(name, label, namespace, version, adapter, lid,
                                  adapter_namespace, adapter_version, lid_namespace, lid_version)

    @api_step("load_labware")
    def _load_labware(self, name: str, label: str | None, namespace: str | None,
                      version: int | None, adapter: str | None, lid: str | None,
                      adapter_namespace: str | None, adapter_version: int | None,
                      lid_namespace: str | None, lid_version: int | None) -> Labware:
        check_lid_options("load_labware", self.api_version, lid=lid,
                          lid_namespace=lid_namespace, lid_version=lid_version,
                          adapter_namespace=adapter_namespace, adapter_version=adapter_version)
        if is_number(label):  # as ctx.load_labware(name, slot) is written
            self._steps.warn(f"load_labware: label={label!r} is a number (a slot?); a "
                             "module's labware goes on the module, so it is taken as the "
                             f"labware's name, '{label}'")
        if adapter is not None:  # the level checked before anything is placed
            require("load_labware: adapter", ADAPTER_API, self.api_version)
            if self.api_version < OWN_ADAPTER_VERSION_API:
                adapter_namespace, adapter_version = namespace, None
            base = self._place(adapter, None, adapter_namespace, adapter_version, adapter=True,
                               then=(name, namespace, version))
            return base.load_labware(name, label, namespace, version)
        return self._place(name, label, namespace, version)

    def load_labware_from_definition(self, definition: Mapping[str, Any],
                                     label: str | None = None) -> Labware:
        """Load a labware on the module from a definition object."""
        self._learn_attached()
        return self._load_labware_from_definition(definition, label)

    @api_step("load_labware")
    def _load_labware_from_definition(self, definition: Mapping[str, Any],
                                      label: str | None) -> Labware:
        return self._place(definition, label, None, None)

    @since(2, 1)
    def load_labware_by_name(self, name: str, label: str | None = None,
                             namespace: str | None = None,
                             version: int | None = None) -> Labware:
        """Deprecated since apiLevel 2.0 (use ``load_labware``), and still answered."""
        self._learn_attached()
        return self._load_labware_by_name(name, label, namespace, version)

    @api_step("load_labware")
    def _load_labware_by_name(self, name: str, label: str | None, namespace: str | None,
                              version: int | None) -> Labware:
        self._steps.warn(BY_NAME_DEPRECATED)
        return self._place(name, label, namespace, version)

    @since(2, 15)
    def load_adapter_from_definition(self, definition: Mapping[str, Any]) -> Labware:
        """Load an adapter on the module from its definition (a dict)."""
        self._learn_attached()
        return self._load_adapter_from_definition(definition)

    @api_step("load_adapter")
    def _load_adapter_from_definition(self, definition: Mapping[str, Any]) -> Labware:
        return self._place(definition, None, None, None, adapter=True)

    def load_adapter(self, name: str, namespace: str | None = None,
                     version: int | None = None) -> Labware:
        """Load an adapter on the module (apiLevel 2.15 and later)."""
        if self._api_version < ADAPTER_API:
            raise UnsupportedAPIError("load_adapter on a module needs apiLevel 2.15 or later")
        self._learn_attached()
        return self._load_adapter(name, namespace, version)

    @api_step("load_adapter")
    def _load_adapter(self, name: str, namespace: str | None, version: int | None) -> Labware:
        return self._place(name, None, namespace, version, adapter=True)

    def _place(self, name: str | Mapping[str, Any], label: str | None, namespace: str | None,
               version: int | None, *, adapter: bool = False,
               then: tuple[str, str | None, int | None] | None = None) -> Labware:
        if self._labware is not None:
            raise SlotOccupiedError(f"{self.described} already holds {self._labware.shown_name}")
        self._learn_attached()  # known already, unless placed from within another call
        labware = self._placer(name, self._slot, self._origin, label, namespace, version,
                               adapter, self._spec, then)
        labware.placed_on(self)
        self._labware = labware
        self._labware_loaded(labware)
        return labware

    def _labware_loaded(self, labware: Labware) -> None:
        """A labware was placed on the module (a subclass checks it)."""

    def _check_hand_access(self) -> None:
        """LabwareMovementNotAllowedError if a person cannot reach the labware place now
        (a subclass: a closed lid, a closed latch; see ``_refuse_hands``)."""

    def _refuse_hands(self, cover: str, closed: bool, opener: str) -> None:
        """Refuse a move by hand onto or off the module while ``cover`` (its lid, its
        labware latch) is not known to be open: ``closed`` if it is known closed."""
        state = "closed" if closed else (f"not known to be open (the protocol has not "
                                         f"called {opener}(), though it may stand open)")
        raise LabwareMovementNotAllowedError(
            f"move_labware: no labware goes onto or off {self.described} while its {cover} "
            f"is {state}; open it with {opener}() first")

    # -- calls ------------------------------------------------------------------------

    def _call(self, command: c.ModuleCommand) -> dict[str, Any]:
        """Send one module command of the current step; remember what the module reports."""
        result = self._steps.execute(command)
        status = result.get("module")
        if isinstance(status, Mapping):
            self._readings = dict(status)
        return result

    @api_step("read_module")
    def _refresh(self) -> None:
        self._call(c.ReadModule(self.id))

    def _reading(self, name: str, default: Any = None) -> Any:
        """What the module reports for ``name`` (see the module's docstring)."""
        if not self._simulating:
            self._refresh()
            return self._readings.get(name, default)
        settled = SETTLED.get(name)
        target = self._readings.get(settled) if settled is not None else None
        if target is not None:
            return target
        if settled is not None and name != "rpm" and settled in self._readings:
            return ROOM_C  # switched off: where it drifts back to
        status = self._readings.get(name, default)
        if name == "status" and status in ("heating", "cooling"):
            return "holding at target"
        return status

    def __repr__(self) -> str:  # as Opentrons prints a module context
        return (f"{type(self).__name__} at {self._spec.display_name} on {self._slot} "
                f"lw {self.labware}")

    @property
    def described(self) -> str:
        """The module as labrun's messages name it: ``Thermocycler Module GEN2 (slot 7)``."""
        return f"{self._spec.display_name} (slot {self._slot})"


def labware_origin(module: ModuleContext, definition: Mapping[str, Any]) -> Point:
    """Where a labware of ``definition`` put on ``module`` has its slot origin."""
    module._learn_attached()
    return module._origin - module._spec.overlap(definition, module._api_version)


def check_hand_access(module: ModuleContext) -> None:
    """LabwareMovementNotAllowedError if a person cannot reach ``module``'s labware place
    now (a closed lid, a closed latch)."""
    module._check_hand_access()


def hold(module: ModuleContext, labware: Labware | None) -> None:
    """A person put ``labware`` on ``module`` (None: took it away)."""
    module._labware = labware
    if labware is not None:
        module._labware_loaded(labware)


class ModuleGeometry:
    """A module as an item on the deck, as Opentrons' ``ModuleContext.geometry`` gave it
    before apiLevel 2.14: where a labware on it goes, and how high it reaches."""

    __slots__ = ("_module",)

    def __init__(self, module: ModuleContext) -> None:
        self._module = module

    @property
    def model(self) -> str:
        """The module model, such as ``magneticModuleV2``."""
        return self._module._spec.model

    @property
    def load_name(self) -> str:
        """The model (Opentrons' geometry named its model's value so)."""
        return self._module._spec.model

    @property
    def module_type(self) -> str:
        """The module type, such as ``magneticModuleType``."""
        return self._module._spec.module_type

    @property
    def parent(self) -> str:
        """The deck slot the module is in."""
        return self._module._slot

    @property
    def labware(self) -> Labware | None:
        """The labware on the module, if any."""
        return self._module._labware

    @property
    def labware_offset(self) -> Point:
        """From the slot's front-left corner to where a labware on the module goes (as
        Opentrons reports it: a semi-configured thermocycler's 23.28 mm to the left)."""
        offset = self._offset()
        return offset + Point(SEMI_SHIFT_X, 0.0, 0.0) if self._module._spec.semi else offset

    def _offset(self) -> Point:
        """From the slot's front-left corner to where a labware on the module goes."""
        module = self._module
        return module._spec.labware_origin(module._slot, (0.0, 0.0, 0.0), module._api_version)

    @property
    def location(self) -> Location:
        """Where a labware on the module has its front-left corner, in its slot (in the
        semi configuration too, as Opentrons gives it)."""
        return Location(self._module._origin, self._module._slot)

    @property
    def highest_z(self) -> float:
        """The top of the labware on it and the module's height above that, else the
        module's own top (deck coordinates)."""
        module = self._module
        if module._labware is not None:
            return module._labware.clearance_top
        return self.own_top

    @property
    def own_top(self) -> float:
        """labrun's own: the module's top, whatever stands on it (deck coordinates)."""
        module = self._module
        dimensions = module._spec.definition["dimensions"]
        return module._origin.z - self._offset().z + float(dimensions["bareOverallHeight"])

    def __repr__(self) -> str:  # as Opentrons prints it
        return f"{self._module._spec.display_name} on {self._module._slot}"


def check_number(what: str, value: object, unit: str) -> float:
    """``value`` as a float; ModuleError naming ``what`` if it is not a number."""
    if not is_number(value):  # numpy's numbers too
        raise ModuleError(f"{what} must be a number of {unit}, not {value!r}")
    return float(value)


def check_range(what: str, value: object, low: float, high: float, unit: str) -> float:
    """``value`` as a float within ``low``-``high``; ModuleError naming ``what`` otherwise."""
    value = check_number(what, value, unit)
    if not low <= value <= high:
        raise ModuleError(f"{what} must be between {low:g} and {high:g} {unit}, "
                          f"not {value:g}")
    return float(value)
