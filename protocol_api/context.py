"""``ProtocolContext``: what ``run(ctx)`` receives, as in the Opentrons API v2."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterator, Mapping, MutableMapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from engine import commands as c
from engine.channel import CommandChannel

from .api_level import (
    ADAPTER_API,
    BY_NAME_DEPRECATED,
    ENGINE_CORE_API,
    OWN_ADAPTER_VERSION_API,
    check_lid_options,
    engine_flag,
    refuse_removed,
    removed_in,
    require,
    require_name,
    since,
)
from .compat import HardwareManager
from .deck import Deck
from .errors import (
    InstrumentError,
    InvalidSlotError,
    ProtocolError,
    SlotOccupiedError,
    UnknownAttributeError,
    UnsupportedNameError,
    shown,
)
from .instrument import InstrumentContext
from .labware import (
    Labware,
    TrashBin,
    Well,
    check_sits_on,
    highest_z_of,
    join_protocol,
    labware_moved,
    let_load_on,
    load_name_of,
    name_of,
    stack,
    stacked_on,
)
from .labware_definitions import (
    STANDARD_NAMESPACE,
    LabwareDefinition,
    check_deck_slot,
    check_role,
    custom_wells,
    get_definition,
    own_definition,
)
from .loader import MAX_API
from .moves import PlannedMove, module_under, pause_message, plan_move
from .off_deck import OFF_DECK, OffDeckType
from .pipettes import PLUNGER_BLOW_OUT, PLUNGER_BOTTOM, PLUNGER_DROP_TIP, get_pipette
from .shared_by_pipettes import SharedByPipettes
from .steps import StepTracker, api_step, is_number
from .tip_choice import tip_rack_list
from .types import APIVersion, Location, Mount, Point, well_of

if TYPE_CHECKING:  # imported by the first load_module: most protocols load none
    from .modules import ModuleContext, ModuleRules
    from .modules.definitions import ModuleSpec
    from .parameters import Parameters

_FLEX_ONLY = {  # Opentrons 8.8.2 refuses these on an OT-2 too, at and after their level
    "load_waste_chute": "a waste chute is a Flex's; an OT-2 has none (drop tips into its "
                        "fixed trash, ctx.fixed_trash)",
    "robot": "the robot context is a Flex's; an OT-2 has none",
}
_UNSUPPORTED = {
    "load_waste_chute": "waste chutes",
    "load_instrument_from_definition": "custom instrument definitions",
    # added in apiLevels 2.21 to 2.27
    "define_liquid_class": "liquid classes",
    "get_liquid_class": "liquid classes",
    "wait_for_tasks": "tasks",
    "create_timer": "tasks",
    "load_lid_stack": "lid stacks",
    "move_lid": "moves of lids",
    "robot": "robot contexts",
    "capture_image": "camera images",
}
_UNSUPPORTED_SINCE = {
    "load_waste_chute": (2, 16), "robot": (2, 22), "load_lid_stack": (2, 23),
    "move_lid": (2, 23), "define_liquid_class": (2, 24), "get_liquid_class": (2, 24),
    "wait_for_tasks": (2, 27), "create_timer": (2, 27), "capture_image": (2, 27),
}
"""The apiLevel Opentrons has each of those from: below it, it is told it needs that
level, as Opentrons tells it."""


AXES = ("X", "Y", "Z", "A", "B", "C")
"""The OT-2's axes as ``max_speeds`` names them: gantry X and Y, the left and right Z
(Z, A) and the left and right plungers (B, C)."""
MAX_DELAY_S = 86_400 * 999_999_999.0
"""The longest delay: what Python's clock arithmetic counts (Opentrons' does no more)."""
CACHED_BIN_API = APIVersion(2, 24)
"""From this apiLevel ``location_cache`` gives the trash bin the pipette last went to
(from 2.16 until then, None), as in Opentrons."""


HEX_COLOR = re.compile(r"#(?:[0-9a-fA-F]{3,4}){1,2}")
"""A liquid's display colour, as Opentrons takes it: #rgb, #rgba, #rrggbb or #rrggbbaa."""


class Liquid:
    """A liquid the protocol names for the run's records (``define_liquid``)."""

    __slots__ = ("description", "display_color", "name")

    def __init__(self, name: str, description: str | None = None,
                 display_color: str | None = None) -> None:
        self.name = name
        self.description = description
        self.display_color = display_color

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Liquid):
            return NotImplemented
        return (self.name, self.description, self.display_color) == (
            other.name, other.description, other.display_color)

    __hash__ = None  # type: ignore[assignment]  # mutable, as Opentrons' Liquid

    def __repr__(self) -> str:
        return (f"Liquid(name={self.name!r}, description={self.description!r}, "
                f"display_color={self.display_color!r})")


class AxisMaxSpeeds(MutableMapping[str, float]):
    """``ctx.max_speeds``: per-axis speed caps in mm/s; the robot's moves obey them.

    Set ``ctx.max_speeds["X"] = 100``; delete a key (or set None) to lift the cap.
    """

    def __init__(self, ctx: ProtocolContext) -> None:
        self._ctx = ctx
        self._caps: dict[str, float] = {}

    def _axis(self, key: object) -> str:
        axis = str(getattr(key, "name", key)).upper()
        if axis not in AXES:
            raise ProtocolError(f"max_speeds: {key!r} is not an axis; the axes are "
                                f"{', '.join(AXES)}")
        return axis

    def __getitem__(self, key: object) -> float:
        return self._caps[self._axis(key)]

    def __setitem__(self, key: object, value: float | None) -> None:
        axis = self._axis(key)
        if value is None:
            self._caps.pop(axis, None)
        elif not is_number(value) or value <= 0:
            raise ProtocolError(f"max_speeds[{axis!r}] must be a positive speed in mm/s, "
                                f"not {value!r}")
        else:
            self._caps[axis] = float(value)
        self._ctx._send_max_speeds(tuple(sorted(self._caps.items())))

    def __delitem__(self, key: object) -> None:
        axis = self._axis(key)
        del self._caps[axis]
        self._ctx._send_max_speeds(tuple(sorted(self._caps.items())))

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._caps))

    def __len__(self) -> int:
        return len(self._caps)

    def __repr__(self) -> str:
        return f"AxisMaxSpeeds({self._caps!r})"


class _Omitted:
    """The default of an argument that older apiLevels require."""


OMITTED = _Omitted()


class ProtocolContext:
    """The protocol's handle on the robot: load labware and pipettes, pause, delay, comment."""

    def __init__(self, channel: CommandChannel, *, slot_origins: Mapping[str, Sequence[float]],
                 trash_slot: str = "12", api_version: tuple[int, int] = MAX_API,
                 simulating: bool = True, protocol_file: str | None = None,
                 labware_dirs: Sequence[str] = (),
                 mounts: Mapping[str, tuple[str, str]] | None = None,
                 params: Parameters | None = None) -> None:
        self._steps = StepTracker(channel, protocol_file)
        self._params = params
        self._deck = Deck(slot_origins, trash_slot, api_version, remover=self._remove_labware)
        self._modules: ModuleRules | None = None  # the deck rules, from the first module on
        self._api_version = api_version
        self._api_level = APIVersion(*api_version)  # read once a dispense
        self._simulating = simulating
        self._labware_dirs = tuple(labware_dirs)
        # the custom definitions the protocol gave (load_labware_from_definition), by URI
        self._given: dict[str, LabwareDefinition] = {}
        self._instruments: dict[str, InstrumentContext] = {}
        # the gantry, the trash's sides, the tips the racks hold, the mounts: the pipettes'
        self._shared = SharedByPipettes(self._steps, dict(mounts) if mounts is not None
                                        else None)
        self._rail_lights = False
        self._max_speeds = AxisMaxSpeeds(self)
        self._liquids: list[Liquid] = []
        # set_offset's offsets by labware definition and place (apiLevel 2.18 on)
        self._offsets: dict[tuple[str, str, str | None, str | None], Point] = {}
        trash = self._deck.trash
        self._load_order: list[Labware] = [trash]  # loaded_labwares lists them so
        drop = trash.first_well().top()
        self._steps.open("load_labware", implicit=True)  # the fixed trash
        try:
            self._steps.send(c.LoadLabware(
                load_name_of(trash), trash.slot, name_of(trash), highest_z_of(trash),
                drop_point=(drop.point.x, drop.point.y, drop.point.z),
                version=trash.definition.get("version"), trash_bin=isinstance(trash, TrashBin)))
        finally:
            self._steps.close()

    # -- properties -----------------------------------------------------------------

    @property
    def api_version(self) -> APIVersion:
        """The apiLevel the protocol asked for."""
        return self._api_level

    @property
    @since(2, 18)
    def params(self) -> Parameters:
        """The runtime parameters' values (what ``add_parameters`` defines), by name."""
        if self._params is None:  # none defined: an empty set, as in Opentrons
            from .parameters import Parameters

            self._params = Parameters()
        return self._params

    @property
    def location_cache(self) -> Location | Labware | None:
        """Where the last pipette move went, as Opentrons keeps it: below apiLevel 2.14
        None after the pipettes homed; from 2.14 kept through a home, but None after a tip
        was dropped (unless at a Location given); in the trash bin (2.16 on) None, and from
        2.24 the bin itself. Read only here: labrun keeps it itself."""
        last = self._shared.last_move
        if self._api_version < ENGINE_CORE_API:
            return last.location
        well = None if last.cache is None else well_of(last.cache)
        if well is not None and isinstance(well.parent, TrashBin):
            return well.parent if self._api_version >= CACHED_BIN_API else None
        return last.cache

    @location_cache.setter
    def location_cache(self, location: Location | None) -> None:
        raise UnsupportedNameError("ProtocolContext.location_cache: setting it is not "
                                   "supported by labrun (a step with no location acts where "
                                   "the last move went; give the location instead)")

    @property
    @since(2, 5)
    def rail_lights_on(self) -> bool:
        """Whether the rail lights are on."""
        return self._rail_lights

    @property
    @since(2, 5)
    def door_closed(self) -> bool:
        """Whether the robot's door is closed now (True in a simulation unless a test
        opens it). An open door pauses the run by itself: a protocol need not check."""
        return "door" not in self._steps.channel.interlocks

    @property
    @removed_in(2, 14, "set speeds with InstrumentContext.default_speed or the speed "
                       "argument of move_to")
    def max_speeds(self) -> AxisMaxSpeeds:
        """Per-axis speed caps (mm/s) that every later move obeys."""
        return self._max_speeds

    @property
    def loaded_modules(self) -> dict[int, ModuleContext]:
        """Loaded hardware modules by the slot each is in."""
        if self._modules is None:
            return {}
        return {int(slot): module for slot, module in self._modules.modules.items()
                if self._deck[slot] is module}

    def commands(self) -> list[str]:
        """The run log so far: a line per command."""
        return list(self._steps.log)

    def clear_commands(self) -> None:
        """Empty the run log that ``commands()`` returns (and record in it again after
        ``cleanup()``)."""
        self._steps.log.clear()

    def cleanup(self) -> None:
        """As Opentrons' (which its own runners call when a protocol ends): ``commands()``
        records no later command, until ``clear_commands()``. Nothing else changes: the
        run goes on, and its record and ``--json`` keep every command."""
        self._steps.log.stop()

    @property
    def deck(self) -> Deck:
        """The deck: slot name -> labware."""
        return self._deck

    @property
    def fixed_trash(self) -> Labware:
        """The fixed trash in slot 12. Below apiLevel 2.14, as in Opentrons, whatever
        labware slot 12 holds: after ``del ctx.deck[12]``, the labware loaded there
        (a pipette loaded from then on drops its tips into it), and none is an error."""
        trash = self._deck.trash
        if self._api_version >= ENGINE_CORE_API:
            return trash
        held = self._deck.occupant(trash.slot)
        if isinstance(held, Labware):
            return held
        raise ProtocolError(
            f"slot {trash.slot} holds no trash: del ctx.deck[{trash.slot}] took the fixed "
            f"trash away, and below apiLevel 2.14 the fixed trash is the labware slot "
            f"{trash.slot} holds (Opentrons fails too: 'Robot must have a trash container "
            f"in {trash.slot}'); load a labware there first to be the trash")

    @property
    def loaded_labwares(self) -> dict[int, Labware]:
        """Loaded labware by slot number, in the order it was loaded, as in Opentrons
        (a protocol may pair them with volumes in that order): the fixed trash first,
        before apiLevel 2.16 (from 2.16 Opentrons makes it a trash bin, not labware).
        Below apiLevel 2.14, as there, every labware loaded, one taken off the deck
        (``del ctx.deck[slot]``) too until another is loaded into its slot."""
        if self._api_version < ENGINE_CORE_API:
            return {int(labware.slot): labware for labware in self._load_order}
        bottoms: dict[int, Labware] = {}  # in each slot, the labware loaded first
        for slot in self._deck.slot_names:  # the deck reads no trash bin (apiLevel 2.16 on)
            item = self._deck[slot]
            if isinstance(item, Labware):
                bottoms[int(slot)] = item
            # a module: the labware on it, at its own slot
            elif item is not None and item.slots[0] == slot and item.labware is not None:
                bottoms[int(slot)] = item.labware
        order = {id(labware): index for index, labware in enumerate(self._load_order)}
        # As Opentrons: a slot in the order its first labware was loaded, and the labware
        # on top of a stack (a plate on its adapter) as the slot's.
        return {slot: bottom.topmost() for slot, bottom in sorted(
            bottoms.items(), key=lambda kv: order.get(id(kv[1]), len(order)))}

    def _channels_on(self, mount: str) -> int:
        """How many channels the pipette on ``mount`` has (1 with none loaded)."""
        instrument = self._instruments.get(mount)
        return instrument.channels if instrument is not None else 1

    @property
    def loaded_instruments(self) -> dict[str, InstrumentContext]:
        """Loaded pipettes by mount name, left before right (as Opentrons lists them,
        whichever was loaded first)."""
        return {mount: self._instruments[mount] for mount in sorted(self._instruments)}

    @property
    def _hw_manager(self) -> HardwareManager:
        """Opentrons' private hardware handle, as far as protocols use it: ``.hardware``
        with ``is_simulator`` and ``set_lights(rails=...)`` (see ``compat``)."""
        return HardwareManager(self._simulating, self._switch_rail_lights,
                               lambda: self._rail_lights)

    def is_simulating(self) -> bool:
        """True when the run is a simulation."""
        return self._simulating

    # -- loading --------------------------------------------------------------------

    @api_step("load_labware")
    def load_labware(self, load_name: str, location: int | str, label: str | None = None,
                     namespace: str | None = None, version: int | None = None,
                     adapter: str | None = None, lid: str | None = None, *,
                     adapter_namespace: str | None = None, adapter_version: int | None = None,
                     lid_namespace: str | None = None,
                     lid_version: int | None = None) -> Labware:
        """Load a labware by its load name into a deck slot (on ``adapter``, if named).

        From apiLevel 2.26 the adapter is looked up by its own ``adapter_namespace`` and
        ``adapter_version``, as Opentrons does; before, by ``namespace``, in its newest
        version. A ``lid`` (from 2.23) is refused: labrun has no lids."""
        check_lid_options("load_labware", self.api_version, lid=lid,
                          lid_namespace=lid_namespace, lid_version=lid_version,
                          adapter_namespace=adapter_namespace, adapter_version=adapter_version)
        if adapter is not None:
            require("load_labware: adapter", ADAPTER_API, self.api_version)
            if self.api_version < OWN_ADAPTER_VERSION_API:
                adapter_namespace, adapter_version = namespace, None
            self._check_for_adapter(load_name, namespace, version, adapter,
                                    adapter_namespace, adapter_version)
            base = self._load(adapter, location, None, adapter_namespace, adapter_version,
                              adapter=True)
            return self._load_on(base, load_name, label, namespace, version)
        return self._load(load_name, location, label, namespace, version)

    def _check_for_adapter(self, name: str, namespace: str | None, version: int | None,
                           adapter: str, adapter_namespace: str | None,
                           adapter_version: int | None) -> None:
        """Refuse a labware that cannot be loaded on ``adapter`` before the adapter is
        loaded for it (``load_labware(..., adapter=)``): a refused call loads neither."""
        definition = self._definition(name, namespace, version)
        check_role(definition, adapter=False, api_version=self._api_version)
        base = self._definition(adapter, adapter_namespace, adapter_version)
        check_role(base, adapter=True, api_version=self._api_version)
        check_sits_on(definition, base["parameters"]["loadName"])

    @since(2, 15)
    @api_step("load_adapter")
    def load_adapter(self, load_name: str, location: int | str, namespace: str | None = None,
                     version: int | None = None) -> Labware:
        """Load an adapter into a deck slot; load labware on it with its ``load_labware``."""
        return self._load(load_name, location, None, namespace, version, adapter=True,
                          call="load_adapter")

    @api_step("load_labware")  # a load as any other, in the log and the record
    def load_labware_from_definition(self, labware_def: Mapping[str, Any],
                                     location: int | str, label: str | None = None) -> Labware:
        """Load a labware from its definition (a dict, as a labware JSON file holds it)
        into a deck slot."""
        return self._load(own_definition(labware_def), location, label, None, None)

    @since(2, 15)
    @api_step("load_adapter")
    def load_adapter_from_definition(self, adapter_def: Mapping[str, Any],
                                     location: int | str) -> Labware:
        """Load an adapter from its definition (a dict) into a deck slot."""
        return self._load(own_definition(adapter_def), location, None, None, None,
                          adapter=True)

    @api_step("load_labware")
    def load_labware_by_name(self, load_name: str, location: int | str,
                             label: str | None = None, namespace: str | None = None,
                             version: int = 1) -> Labware:
        """Deprecated since apiLevel 2.0 (use ``load_labware``), and still answered: as in
        Opentrons, it loads version 1 of the definition unless told another."""
        self._steps.warn(BY_NAME_DEPRECATED)
        return self._load(load_name, location, label, namespace, version,
                          call="load_labware_by_name")

    def _load(self, load_name: str | Mapping[str, Any], location: int | str,
              label: str | None, namespace: str | None, version: int | None,
              adapter: bool = False, call: str = "load_labware") -> Labware:
        off_deck = isinstance(location, OffDeckType)  # there until move_labware moves it
        if off_deck:
            require("loading a labware OFF_DECK", ADAPTER_API, self.api_version)
            slot = c.OFF_DECK
        else:
            if callable(getattr(location, "load_labware", None)):  # a module or a labware
                onto = "load_adapter" if adapter else "load_labware"
                raise InvalidSlotError(f"{onto}: a slot is a number or a slot's name, not "
                                       f"{location}; to load onto it, call its own {onto}")
            slot = self._deck.check_slot(location)
            if not self._replaces_trash(slot):
                self._deck.check_free(slot)
        definition = self._definition(load_name, namespace, version, call)
        check_role(definition, adapter=adapter, api_version=self._api_version)
        if not off_deck and self._api_version >= ENGINE_CORE_API:
            check_deck_slot(definition, slot)
        origin = Point(0.0, 0.0, 0.0) if off_deck else self._deck.position_for(slot).point
        labware = Labware(definition, slot, origin, label, self._api_version)
        if self._modules is not None and not off_deck:  # beside a heater-shaker: not too tall
            self._modules.check_labware(slot, labware)
        let_load_on(labware, self._load_on)
        if not off_deck:
            if self._replaces_trash(slot) and self._deck.occupant(slot) is not None:
                del self._deck[slot]
            self._deck.assign(slot, labware)
        self._send_load(labware, slot)
        return labware

    def _replaces_trash(self, slot: str) -> bool:
        """Whether a labware loaded into ``slot`` takes the place of what it holds: the
        fixed trash's slot below apiLevel 2.14, as in Opentrons, as if ``del
        ctx.deck[slot]`` came first (from 2.14 Opentrons refuses it as a taken slot)."""
        return slot == self._deck.trash_slot and self._api_version < ENGINE_CORE_API

    @api_step("load_labware")
    def _load_on(self, base: Labware, load_name: str | Mapping[str, Any],
                 label: str | None = None, namespace: str | None = None,
                 version: int | None = None) -> Labware:
        """Load a labware (by load name or definition) on top of ``base`` (an adapter or a
        labware already on the deck)."""
        held = stacked_on(base)
        if held is not None:
            raise SlotOccupiedError(f"{base!r} already holds {held.shown_name}")
        definition = self._definition(load_name, namespace, version)
        check_role(definition, adapter=False, api_version=self._api_version)
        base.check_can_hold(definition)
        labware = Labware(definition, base.slot, base.stacked_origin(definition), label,
                          self._api_version)
        stack(labware, base, self._load_on)
        self._send_load(labware, base.slot)
        return labware

    def _definition(self, name: str | Mapping[str, Any], namespace: str | None,
                    version: int | None, call: str = "load_labware") -> Mapping[str, Any]:
        """The definition of load name ``name`` (the protocol's labware directories first),
        or a copy of the definition ``name`` is, checked; ``call`` names the call that
        asked, in the refusal of a name that is neither."""
        if isinstance(name, Mapping):
            definition: LabwareDefinition = own_definition(name)
            if definition["namespace"] != STANDARD_NAMESPACE:
                # as Opentrons, at every apiLevel: a later load_labware by its name finds it
                self._given[_uri(definition)] = definition
            return definition
        if not isinstance(name, str):
            raise ProtocolError(f"{call}: the load name must be text, not {name!r}"[:300])
        return get_definition(name, namespace, version, extra_dirs=self._labware_dirs,
                              api_version=self._api_version, known=self._given.values())

    def _send_load(self, labware: Labware, slot: str) -> None:
        """The loadLabware command of a labware just placed in ``slot``."""
        self._load_order.append(labware)  # the run's labware counted in the record's order
        join_protocol(labware, self._offsets, self._offset_set, self._liquid_loaded)
        wells = custom_wells(labware.definition)
        custom = wells is not None  # a reader knows a standard one by its load name
        self._steps.send(c.LoadLabware(labware.load_name, slot, labware.name,
                                       labware.clearance_top, wells=wells,
                                       version=None if custom else
                                       labware.definition.get("version"),
                                       definition_name=_definition_name(labware.definition)
                                       if custom else None))

    @api_step("load_module")
    def load_module(self, module_name: str, location: int | str | None = None,
                    configuration: str | None = None) -> ModuleContext:
        """Load a hardware module into a deck slot (a thermocycler: slot 7, its only one)."""
        from .modules import CONTEXTS, ModuleError, ModuleRules, module_spec, resolve_model
        from .modules.definitions import THERMOCYCLER_SLOT

        if configuration:  # the thermocycler's, as Opentrons: from 2.4 until 2.13
            require("load_module: configuration", (2, 4), self.api_version)
            refuse_removed("load_module: configuration", ENGINE_CORE_API, self.api_version)
        model = resolve_model(module_name)
        spec = module_spec(model)
        if configuration and spec.kind == "thermocycler":
            if str(configuration).lower() == "semi":
                spec = spec.in_semi_configuration()
            elif str(configuration).lower() != "full":
                raise ModuleError(f"load_module: a thermocycler's configuration is 'full' or "
                                  f"'semi', not {configuration!r}")
        if location is None:
            if spec.kind != "thermocycler":
                raise ModuleError(f"load_module: the {spec.display_name} needs a location")
            location = THERMOCYCLER_SLOT
        slot = self._deck.check_slot(location)
        if self._modules is None:
            self._modules = ModuleRules(self._deck, channels=self._channels_on,
                                        legacy=self._api_version < ENGINE_CORE_API)
            self._steps.guard = self._modules.check_motion  # no move into a closed module
        self._modules.check_load(spec, slot)
        origin = self._deck.position_for(slot).point
        module = CONTEXTS[spec.kind](self._steps, spec, slot,
                                     spec.labware_origin(slot, origin, self._api_version),
                                     requested_as=str(module_name),
                                     api_version=self._api_version,
                                     placer=self._place_labware,
                                     simulating=self._simulating,
                                     move_pipettes_away=self._move_pipettes_away)
        self._steps.send(c.LoadModule(module.id, spec.kind, model, slot,
                                         spec.highest_z(origin), spec.covers))
        for taken in module.slots:
            self._deck.assign_module(taken, module)
        self._modules.modules[slot] = module
        return module

    def _place_labware(self, name: str | Mapping[str, Any], slot: str, origin: Point,
                       label: str | None, namespace: str | None, version: int | None,
                       adapter: bool, module: ModuleSpec,
                       then: tuple[str, str | None, int | None] | None = None) -> Labware:
        """A labware (by load name or definition) on ``module`` in ``slot``, whose
        labware origin is ``origin``: lowered by how far the labware sits into it. An
        adapter loaded for a labware (``then``: its load name, namespace and version) is
        loaded only if that labware can go on it."""
        if then is not None and isinstance(name, str):
            self._check_for_adapter(*then, name, namespace, version)
        definition = self._definition(name, namespace, version,
                                      "load_adapter" if adapter else "load_labware")
        check_role(definition, adapter=adapter, api_version=self._api_version)
        definition = module.accessible(definition)
        origin = origin - module.overlap(definition, self._api_version)
        labware = Labware(definition, slot, origin, label, self._api_version,
                          module=module.display_name, over_labware=module.over_labware)
        let_load_on(labware, self._load_on)
        self._send_load(labware, slot)
        return labware

    @api_step("load_instrument")
    def load_instrument(self, instrument_name: str, mount: Mount | str,
                        tip_racks: Sequence[Labware] | None = None,
                        replace: bool = False,
                        liquid_presence_detection: bool | None = None) -> InstrumentContext:
        """Attach a pipette to a mount. ``liquid_presence_detection`` (from apiLevel 2.20)
        is refused, True or False, as Opentrons refuses it on an OT-2."""
        if liquid_presence_detection is not None:
            require("load_instrument: liquid_presence_detection", (2, 20), self.api_version)
            raise InstrumentError("load_instrument: liquid_presence_detection is a Flex's; an "
                                  "OT-2 pipette has no pressure sensor (leave it out)")
        spec = get_pipette(instrument_name, self._api_version)
        instrument_name = instrument_name.lower()  # any case, as Opentrons
        mount_name = Mount.parse(mount).mount_name
        if self._shared.mounts is not None and mount_name not in self._shared.mounts:
            have = " and ".join(repr(m) for m in sorted(self._shared.mounts)) or "none"
            raise InstrumentError(f"this robot has no {mount_name} mount; its mounts: {have}")
        if mount_name in self._instruments and not replace:
            raise InstrumentError(
                f"the {mount_name} mount already has a {self._instruments[mount_name].name}; "
                "pass replace=True to replace it")
        replaced = self._instruments.get(mount_name)
        if replaced is not None:
            replaced.check_replaceable()
        racks = tip_rack_list(tip_racks)
        instrument = InstrumentContext(self, self._shared, spec, mount_name, racks,
                                       requested_as=instrument_name)
        instrument.racks_given(tip_racks, "load_instrument")
        for rack in racks:
            instrument.check_tip_size(rack)  # its warning said under this call
        self._steps.send(c.LoadInstrument(
            instrument_name, mount_name, spec.max_volume, spec.ul_per_mm,
            plunger_bottom=PLUNGER_BOTTOM, plunger_blow_out=PLUNGER_BLOW_OUT,
            plunger_drop_tip=PLUNGER_DROP_TIP,
            nozzle_xy=(spec.nozzle_offset[0], spec.nozzle_offset[1]), channels=spec.channels))
        if replaced is not None:
            replaced.mark_replaced(instrument_name)
        self._instruments[mount_name] = instrument
        return instrument

    @since(2, 14)
    def define_liquid(self, name: str, description: str | _Omitted | None = OMITTED,
                      display_color: str | _Omitted | None = OMITTED) -> Liquid:
        """Name a liquid, to load into wells with ``Well.load_liquid``; before apiLevel
        2.20, as in Opentrons, ``description`` and ``display_color`` must be given (None
        will do)."""
        for what, value in (("description", description), ("display_color", display_color)):
            if value is OMITTED:
                require(f"define_liquid without a {what}", (2, 20), self.api_version,
                        f"(give {what}=None)")
        description = None if isinstance(description, _Omitted) else description
        display_color = None if isinstance(display_color, _Omitted) else display_color
        if not isinstance(name, str):
            raise ProtocolError(f"define_liquid: name must be text, not {name!r}")
        if description is not None and not isinstance(description, str):
            raise ProtocolError(f"define_liquid: description must be text or None, not "
                                f"{description!r}")
        if display_color is not None and (not isinstance(display_color, str)
                                          or not HEX_COLOR.fullmatch(display_color)):
            raise ProtocolError(f"define_liquid: display_color must be a hex colour such as "
                                f"'#1f77b4' (or None), not {display_color!r}")
        liquid = Liquid(name, description or "", display_color)  # None: '', as Opentrons
        self._liquids.append(liquid)
        return liquid

    @since(2, 15)
    @api_step("move_labware")
    def move_labware(self, labware: Labware, new_location: int | str | Labware | Any,
                     use_gripper: bool = False, pick_up_offset: Mapping[str, float] | None = None,
                     drop_offset: Mapping[str, float] | None = None) -> None:
        """Have a person move ``labware`` to ``new_location``: a deck slot, a module, a
        labware or adapter, or ``OFF_DECK``. The robot parks and the run pauses, saying
        what to move where, until someone resumes it; the labware's wells are then at
        their new place. An OT-2 has no gripper: ``use_gripper`` must stay False, and the
        gripper's offsets are checked but unused."""
        move = plan_move(labware, new_location, deck=self._deck, modules=self._module_list(),
                         use_gripper=use_gripper, pick_up_offset=pick_up_offset,
                         drop_offset=drop_offset)
        if self._modules is not None and move.origin is not None and move.on is None \
                and move.holder is None:  # beside a heater-shaker: not too tall, there
            self._modules.check_labware(move.slot, labware, "move_labware",
                                        height=labware.height_at(move.origin))
        self._relocate(labware, move, pause_message(labware, move))

    @api_step("del deck[slot]")
    def _remove_labware(self, labware: Labware, legacy: bool) -> None:
        """``del ctx.deck[slot]``: from apiLevel 2.15 the labware is off the deck, with no
        pause (the protocol's bookkeeping, as in Opentrons); before 2.14 (``legacy``) the
        slot is free and the labware object stays as it was, as Opentrons leaves it: the
        record says it left, so that readers know what is in the slot."""
        if legacy:
            self._steps.send(c.RemoveLabware(
                self._load_order.index(labware), labware.load_name, labware.name,
                labware.slot, c.OFF_DECK, "off the deck", labware.clearance_top, ""))
            return
        move = plan_move(labware, OFF_DECK, deck=self._deck, modules=self._module_list(),
                         op="del deck[slot]")
        self._relocate(labware, move, None)

    @api_step("set_offset")
    def _offset_set(self, labware: Labware, offset: Point) -> None:
        """A labware's offset was set (``set_offset``, ``set_calibration``): the record
        says so, and the pipettes travel clear of its top from now on."""
        self._steps.send(c.SetLabwareOffset(self._load_order.index(labware), labware.name,
                                            labware.slot, (offset.x, offset.y, offset.z),
                                            labware.clearance_top))

    @api_step("load_liquid")
    def _liquid_loaded(self, labware: Labware, wells: Sequence[Well], liquid: Liquid | None,
                       volumes: Sequence[float]) -> None:
        """The protocol says ``wells`` of ``labware`` start with ``volumes`` of ``liquid``
        (None: empty; ``load_liquid``, ``load_liquid_by_well``, ``load_empty``): for the
        record, the run log and the setup sheet."""
        name = None
        if liquid is not None:  # one defined with no name is named for people by its order
            name = liquid.name or next((f"liquid {n}" for n, defined in
                                        enumerate(self._liquids, 1) if defined is liquid),
                                       "a liquid with no name")
        self._steps.send(c.LoadLiquid(
            self._load_order.index(labware), tuple(w.well_name for w in wells),
            tuple(float(v) for v in volumes), name,
            None if liquid is None else liquid.display_color))

    def _module_list(self) -> Collection[ModuleContext]:
        return self._modules.modules.values() if self._modules is not None else ()

    def _relocate(self, labware: Labware, move: PlannedMove, message: str | None) -> None:
        """Take ``labware`` where ``move`` says; a person is asked to (``message``), or
        (None) the protocol only says it is no longer on the deck."""
        from_slot = labware.slot
        source = module_under(labware)
        if source is not None or move.holder is not None:
            from .modules.base import hold  # loaded with the first module
        if from_slot in self._deck and self._deck[from_slot] is labware:
            self._deck.release(from_slot)
        if source is not None and source.labware is labware:
            hold(source, None)
        labware_moved(labware, move.slot, move.origin, module=move.module, on=move.on,
                      holder=move.holder)
        if move.origin is not None and move.on is None and move.holder is None:
            self._deck.assign(move.slot, labware)
        if move.holder is not None:
            hold(move.holder, labware)
        command = c.MoveLabware if message is not None else c.RemoveLabware
        self._steps.send(command(self._load_order.index(labware), labware.load_name,
                                 labware.name, from_slot, move.slot, move.destination,
                                 labware.clearance_top, message or "",
                                 None if move.origin is None else labware.footprint))
        if message is not None:  # the run pauses for a person, who may refill tip racks
            self._shared.taken_tips.refilled()

    # -- run control ----------------------------------------------------------------

    @since(2, 5)
    def set_rail_lights(self, on: bool) -> None:
        """Switch the rail lights on or off."""
        self._switch_rail_lights(on)

    @api_step("set_rail_lights")
    def _switch_rail_lights(self, on: bool) -> None:
        # from 2.14, as Opentrons' engine: 'off' is False, None or 'x' refused
        lit = bool(engine_flag("set_rail_lights", "on", on, self.api_version))
        self._steps.send(c.SetRailLights(lit))
        self._rail_lights = lit

    @api_step("max_speeds")
    def _send_max_speeds(self, speeds: tuple[tuple[str, float], ...]) -> None:
        self._steps.send(c.SetMaxSpeeds(speeds))

    @api_step("pause")
    def pause(self, msg: str | None = None) -> None:
        """Park the robot and wait until someone resumes the run (the message: text or
        None from apiLevel 2.14, as in Opentrons)."""
        if msg is not None and not isinstance(msg, str):
            if self._api_version >= ENGINE_CORE_API:
                raise ProtocolError(f"pause: the message must be text or None, not {msg!r}; "
                                    f"write ctx.pause(str(...))")
            msg = str(msg)
        self._steps.send(c.WaitForResume(msg))
        self._shared.taken_tips.refilled()  # a person may refill tip racks at a pause

    @api_step("delay")
    def delay(self, seconds: float = 0, minutes: float = 0, msg: str | None = None) -> None:
        """Wait; time keeps running during pauses. The message: text or None from
        apiLevel 2.14, as in Opentrons."""
        for name, value in (("seconds", seconds), ("minutes", minutes)):
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise ProtocolError(f"delay: {name} must be a number, not {value!r}")
        if msg is not None and not isinstance(msg, str):
            if self._api_version >= ENGINE_CORE_API:
                raise ProtocolError(f"delay: the message must be text or None, not "
                                    f"{shown(msg)}; write msg=str(...)")
            msg = str(msg)
        total = float(seconds) + 60.0 * float(minutes)
        if total < 0:  # a computed wait gone past: Opentrons goes on at once
            self._steps.warn(f"delay: {total:g} s is negative; nothing is waited, as "
                             "Opentrons waits nothing")
            total = 0.0
        if MAX_DELAY_S < total < float("inf"):  # infinite: refused as every number is
            raise ProtocolError(f"delay: {total:g} s is longer than any delay can be "
                                f"(at most {MAX_DELAY_S / 86400:,.0f} days)")
        self._steps.send(c.Delay(total, msg))

    @api_step("comment")
    def comment(self, msg: str) -> None:
        """Add a message to the run log (text: from apiLevel 2.14, as in Opentrons,
        nothing else)."""
        if not isinstance(msg, str) and self._api_version >= ENGINE_CORE_API:
            raise ProtocolError(f"comment: the message must be text, not {msg!r}; "
                                f"write ctx.comment(str(...))")
        self._steps.send(c.Comment(str(msg)))

    @api_step("resume")
    def resume(self) -> None:
        """Deprecated: nothing to do, as a protocol runs only while its run is not paused
        (before apiLevel 2.14; from 2.14 refused, as Opentrons refuses it)."""
        refuse_removed("resume: a protocol resuming itself after a pause",
                       ENGINE_CORE_API, self.api_version,
                       "to wait for a time, use ProtocolContext.delay()")

    @property
    def bundled_data(self) -> dict[str, bytes]:
        """The data files bundled with the protocol: none, as a protocol file is run."""
        return {}

    @api_step("home")
    def home(self) -> None:
        """Home every axis."""
        self._steps.send(c.Home())
        self._shared.last_move.forget(plungers=True)

    def _move_pipettes_away(self, module: str, near: Collection[str] | None, *,
                            gantry: bool = False) -> None:
        """Before ``module`` moves beside the pipettes, as an OT-2 does: lift them
        (``liftPipettes``) when the last move went to one of the slots ``near`` (any slot
        when None), or to no known slot. They are then over no well the protocol named:
        a step with no location is refused until one moves."""
        slot = self._shared.last_move.slot()
        if near is not None and slot is not None and slot not in near:
            return
        self._steps.send(c.LiftPipettes(module, gantry))
        self._shared.last_move.forget()

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Group the calls inside into one step: the run pauses only around it."""
        with self._steps.group(name):
            yield

    def __getattr__(self, name: str) -> Any:
        if name == "load_trash_bin":  # an OT-2 rule, which Opentrons' simulator says too
            raise UnsupportedNameError("ProtocolContext.load_trash_bin: an OT-2 cannot load a "
                                       "trash bin; its fixed trash in slot 12 is always "
                                       "loaded (ctx.fixed_trash)")
        if name in _UNSUPPORTED:
            if name in _UNSUPPORTED_SINCE:
                require_name(f"ProtocolContext.{name}", _UNSUPPORTED_SINCE[name],
                             self.api_version)
            if name in _FLEX_ONLY:
                raise UnsupportedNameError(f"ProtocolContext.{name}: {_FLEX_ONLY[name]}")
            raise UnsupportedNameError(
                f"ProtocolContext.{name}: {_UNSUPPORTED[name]} are not supported by labrun")
        raise UnknownAttributeError(self, name, "ProtocolContext")

    def __repr__(self) -> str:
        return f"<ProtocolContext apiLevel {self._api_version[0]}.{self._api_version[1]}>"


__all__ = ["ProtocolContext"]


def _uri(definition: Mapping[str, Any]) -> str:
    """A definition's ``namespace/loadName/version``, as Opentrons keys it."""
    return (f"{definition['namespace']}/{definition['parameters']['loadName']}/"
            f"{definition['version']}")


def _definition_name(definition: Mapping[str, Any]) -> str | None:
    """A labware definition's own name (``metadata.displayName``), if it gives one."""
    metadata = definition.get("metadata")
    name = metadata.get("displayName") if isinstance(metadata, Mapping) else None
    return str(name) if name else None
