"""``InstrumentContext``: a single-channel pipette, as in the Opentrons API v2.

Every call is checked here, before any command is sent: a call that cannot be done
(no tip, too much volume, no location) raises a ``ProtocolError`` naming the problem,
and the robot has not moved for it. Tips and liquid are tracked per pipette; the
engine tracks them again for the run record and for safe replays.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from engine import commands as c

from .api_level import (
    ENGINE_CORE_API,
    TRASH_BIN_API,
    engine_flag,
    refuse_removed,
    require,
    require_name,
    since,
)
from .errors import (
    InstrumentError,
    LabwareOffDeckError,
    ProtocolError,
    TipError,
    UnknownAttributeError,
    UnsupportedAPIError,
    UnsupportedNameError,
    VolumeError,
    listed,
    shown,
)
from .labware import (
    Labware,
    TrashBin,
    Well,
    check_reachable,
    is_tiprack,
    mark_returned,
    mark_used,
    offset_of,
    own_well,
)
from .nozzles import Layout, NozzleLayout, check_motion, plan_layout, tips_taken
from .pipette_settings import Clearances, FlowRates, PipetteChannelType, PlungerSpeeds
from .pipettes import PLUNGER_BLOW_OUT, PLUNGER_BOTTOM, PipetteSpec
from .steps import api_step, is_number
from .tip_choice import (
    down_the_column,
    named_tip,
    next_tip_in,
    no_tip_warning,
    partial_pick_warnings,
    racks_from,
    tip_rack_list,
)
from .transfer import plan, transfer_options
from .types import APIVersion, Location, Point, well_of

if TYPE_CHECKING:
    from .context import ProtocolContext
    from .shared_by_pipettes import SharedByPipettes
    from .steps import StepTracker

NAMED_TIP_API = (2, 2)
"""From this apiLevel a tip is picked up from a named well whether or not it is marked used
(tip tracking only chooses tips); before, a used one is refused. Also from this level a
tip dropped into a tip rack's well goes ``return_height`` tip lengths into it."""
PRE_2_2_RETURN_MM = 10.0
"""Before apiLevel 2.2 a tip dropped into a tip rack's well is let go this far above the
well's bottom, as in Opentrons."""
DISPENSE_CHECK_API = (2, 17)
"""From this apiLevel a dispense of more than the tip holds is an error; before, the
plunger stops at empty (Opentrons 8.8.2's simulator: fine at 2.16, an error at 2.17)."""
PUSH_OUT_API = (2, 15)
"""The apiLevel from which ``dispense`` takes ``push_out``."""
FLOW_RATE_API = (2, 24)
"""The apiLevel from which, as in Opentrons, ``aspirate``, ``dispense`` and ``air_gap``
take a ``flow_rate`` in µL/s (instead of a ``rate``), ``air_gap`` its ``rate`` and
``in_place``, and ``mix`` its flow rates, delays and ``final_push_out``."""
TOUCH_TIP_SLOW_API = (2, 4)
"""From this apiLevel a touch_tip may go as slow as 1 mm/s (20 mm/s before), as in
Opentrons."""
MM_FROM_EDGE_API = (2, 24)
"""``touch_tip(mm_from_edge=)``: how far inside the edge, from apiLevel 2.24."""
CURRENT_TIP_SOURCE_API = (2, 25)
"""``current_tip_source_well()``, from apiLevel 2.25."""
VOLUME_MODE_FLOW_RESET_API = (2, 26)
"""From this apiLevel ``configure_for_volume`` sets the flow rates back to the pipette's
defaults, as Opentrons does (before, it keeps those the protocol set)."""
AIR_GAP_API = (2, 22)
"""From here an air gap is one of its own, not an aspirate: taken above a tip rack too."""
PREP_AFTER_API = (2, 13)
"""The apiLevel from which ``pick_up_tip`` takes ``prep_after``."""
TIP_RACK_LIQUID_API = (2, 11)
"""From this apiLevel, as in Opentrons, no liquid goes to or from a tip rack."""
CENTRED_TRASH_DROP_API = (2, 18)
"""From this apiLevel, as in Opentrons, ``drop_tip(ctx.fixed_trash)`` lets go at the
trash's centre (from 2.16 until it, in turn to either side, as ``drop_tip()`` does)."""
IN_BIN_API = APIVersion(2, 24)
"""From this apiLevel, as in Opentrons, a step with no location may act in the trash bin
the pipette last went to (from 2.16 until then it is refused)."""
ALTERNATE_DROP_API = (2, 15)
"""From this apiLevel a tip dropped into the fixed trash with no location named goes to
either side of it in turn, as on an OT-2, so that tips do not pile up at one point."""
DEFAULT_GANTRY_SPEED = 400.0  # mm/s, InstrumentContext.default_speed
OT2_PLUNGERS = {"left": "B", "right": "C"}
"""The OT-2's plunger axes, for a context that was not told the robot's mounts."""

_UNSUPPORTED: dict[str, tuple[int, int]] = {
    "detect_liquid_presence": (2, 20),
    "require_liquid_presence": (2, 20),
    "measure_liquid_height": (2, 20),
    "get_minimum_liquid_sense_height": (2, 21),
    "resin_tip_seal": (2, 23),
    "resin_tip_unseal": (2, 23),
    "resin_tip_dispense": (2, 23),
    "transfer_with_liquid_class": (2, 24),
    "distribute_with_liquid_class": (2, 24),
    "consolidate_with_liquid_class": (2, 24),
    "dynamic_mix": (2, 27),
}
"""Opentrons calls labrun refuses with a clear error (the Flex's, mostly), with the
apiLevel Opentrons has them from: below it, the call is told it needs that level, as
Opentrons tells it."""
HOMED_SINCE = ("the pipettes have homed since the last move (ctx.home(), or lifted clear of "
               "a module)")
"""Why a step with no location has nowhere to act: the robot homed since the last move."""
_PRESSURE_SENSING = frozenset({"detect_liquid_presence", "require_liquid_presence",
                               "measure_liquid_height"})
"""Of those, the calls that sense liquid with a pipette's pressure sensor, which no OT-2
pipette has: Opentrons refuses them on an OT-2 for that reason."""


OT2_TIP_SIZES: dict[str, tuple[float, ...]] = {
    "p10": (10, 20), "p20": (10, 20), "p50": (50, 200, 300), "p300": (200, 300),
    "p1000": (1000,)}
"""The tip sizes (µL) each OT-2 pipette (by its name's first part) takes, as Opentrons
checks them; one of Opentrons' own tip racks of another size is warned of."""

OT2_TIP_KINDS = (10, 20, 50, 200, 300, 1000)
"""The tip sizes (µL) Opentrons' pipette definitions may give settings for."""

STRAY_MARGIN_MM = 1.0
"""How far past a well's rim a tip may be without a warning that it is over no well."""
BELOW_BOTTOM_MARGIN_MM = 1.0
"""How far below a well's bottom a tip may be without a warning (pressed against it)."""
NozzlePlace = tuple["Well | None", tuple[str, ...], float, Point, int]
"""Where a nozzle is: the well under it, the other nozzles' wells, the bottom it would
press into, the corner of the labware when this was found, and how many of the other
nozzles with a tip are over no well of the labware."""


class _ReplacedPipette:
    """A replaced pipette's step tracker: every API call reaches it first (``api_step``),
    and raises there, saying what happened."""

    __slots__ = ("_message",)

    def __init__(self, message: str) -> None:
        self._message = message

    def __getattr__(self, name: str) -> Any:
        raise InstrumentError(self._message)


class InstrumentContext:
    """A pipette on a mount."""

    def __init__(self, ctx: ProtocolContext, shared: SharedByPipettes, spec: PipetteSpec,
                 mount: str, tip_racks: list[Labware], requested_as: str | None = None,
                 ) -> None:
        self._ctx = ctx
        # the name the protocol loaded it by (load_instrument's first argument)
        self.requested_as = spec.name if requested_as is None else requested_as
        self._steps = shared.steps
        self._mounts = shared.mounts
        self._replaced: str | None = None  # why this pipette is done with, once replaced
        self._spec = spec
        self._mount = mount
        self._racks = tip_rack_list(tip_racks)
        # the tip_racks were given as a generator (a set...), which Opentrons keeps and
        # cannot pick a next tip from: its type and where it was given (``racks_given``)
        self._racks_unindexable: tuple[str, str] | None = None
        self._racks_checked: set[int] = set()  # racks (by id) checked for the tip size
        self.starting_tip: Well | None = None
        self.trash_container: Labware = ctx.fixed_trash
        self._trash_well = ctx.deck.trash.first_well()  # the fixed trash's one well
        self._flow_rate = FlowRates(spec.aspirate_flow_rate, spec.dispense_flow_rate,
                                    spec.blow_out_flow_rate)
        self._clearance = Clearances()
        self._tip_from: Well | None = None
        self._tip_capacity: float | None = None
        # Opentrons' working volume (hw_pipette): the pipette's, as a float, until a tip is
        # picked up; then the lesser of the pipette's and that tip's, kept after it goes
        self._working_volume: float = float(spec.max_volume)
        self._volume: float = 0.0  # in the numbers given (see current_volume)
        self._last_move = shared.last_move  # shared by the pipettes
        # The plunger is at the bottom, ready to draw, while this equals _last_move.homes;
        # None after a blow-out, a push-out or a home (see _ready_above).
        self._plunger_ready: int | None = None
        self._trash_drops = shared.trash_drops  # likewise
        self._taken_tips = shared.taken_tips  # likewise
        self._default_speed: float | None = None  # None: the gantry's own limits
        self._speed_as_set: float = DEFAULT_GANTRY_SPEED  # default_speed as the protocol set it
        self._tip_length = 0.0
        # (labware, x, y) -> the well under the first nozzle, the other nozzles' wells,
        # the bottom of the well under the first, and where the labware stood then
        self._nozzle_cache: dict[tuple[int, float, float], NozzlePlace] = {}
        self._warned: set[tuple[str, str | None]] = set()  # (warning, protocol line) told
        # The nozzles that take tips (None: all of them), and from the primary one (the
        # one a location names) to each of the others and to the middle of them all: a
        # multi-channel centres its nozzles on a labware that asks for it (reservoirs).
        self._layout: Layout | None = None
        self._tip_wetted = False  # the tip on has aspirated, dispensed, blown out or touched
        self._configured = False  # configure_nozzle_layout was called (it sets tip_racks)
        self._use_nozzles([(x, y) for _, (x, y, _) in spec.nozzles] or [(0.0, 0.0)])
        self._full_centring = self._centring  # all nozzles: into the trash bin, any layout

    def _use_nozzles(self, nozzles: Sequence[tuple[float, float]]) -> None:
        """Take tips with ``nozzles`` (x, y), the primary first."""
        x0, y0 = nozzles[0]
        self._others = tuple((x - x0, y - y0) for x, y in nozzles[1:])
        self._wet = self._others  # the other nozzles that hold a tip (see pick_up_tip)
        self._centring = (sum(x for x, _ in nozzles) / len(nozzles) - x0,
                          sum(y for _, y in nozzles) / len(nozzles) - y0)
        self._nozzle_cache.clear()

    # -- properties -----------------------------------------------------------------

    @property
    def flow_rate(self) -> FlowRates:
        """The flow rates in µL/s, set one at a time (``flow_rate.aspirate = 50``)."""
        return self._flow_rate

    @flow_rate.setter
    def flow_rate(self, value: object) -> None:
        raise ProtocolError(f"flow_rate cannot be replaced (by {value!r}); set its parts: "
                            "flow_rate.aspirate, flow_rate.dispense, flow_rate.blow_out")

    @property
    def well_bottom_clearance(self) -> Clearances:
        """Heights above a well's bottom (mm) where aspirate and dispense given a well go,
        set one at a time (``well_bottom_clearance.aspirate = 2``)."""
        return self._clearance

    @well_bottom_clearance.setter
    def well_bottom_clearance(self, value: object) -> None:
        raise ProtocolError(f"well_bottom_clearance cannot be replaced (by {value!r}); set "
                            "its parts: well_bottom_clearance.aspirate, "
                            "well_bottom_clearance.dispense")

    @property
    def type(self) -> str:
        """``'single'`` or ``'multi'``."""
        return "multi" if self._spec.channels > 1 else "single"

    @property
    @since(2, 2)
    def return_height(self) -> float:
        """How far a returned tip goes into its rack before it is let go, as a fraction
        of the tip's length (from the pipette's definition; 0.5 unless it says)."""
        return self._spec.return_height

    @property
    def default_speed(self) -> float:
        """The gantry speed of moves, mm/s (400 unless set), a number as Opentrons 8.8.2
        gives it, since protocols print it: the one set, as set; else 400.0 below apiLevel
        2.14 and 400 from it."""
        if self._default_speed is not None:
            return self._speed_as_set
        return DEFAULT_GANTRY_SPEED if self._ctx.api_version < ENGINE_CORE_API else int(
            DEFAULT_GANTRY_SPEED)

    @default_speed.setter
    def default_speed(self, speed: float) -> None:
        self._default_speed = _speed("default_speed", speed)
        self._speed_as_set = _as_given(speed, self._default_speed)

    @property
    def speed(self) -> PlungerSpeeds:
        """Plunger speeds in mm/s; removed at apiLevel 2.14 (use ``flow_rate``)."""
        if self._ctx.api_version >= ENGINE_CORE_API:
            raise UnsupportedAPIError("InstrumentContext.speed was removed in apiLevel 2.14; "
                                      "use flow_rate")
        return PlungerSpeeds(self._flow_rate, self._spec.ot2_ul_per_mm)

    @property
    def hw_pipette(self) -> Mapping[str, Any]:
        """A read-only dict of what the hardware knows of the pipette, as Opentrons gives it."""
        spec = self._spec
        aspirating, dispensing = spec.ot2_ul_per_mm  # plunger speeds, mm/s, from flow rates
        per_mm = {"aspirate": aspirating, "dispense": dispensing, "blow_out": dispensing}
        rates = dict(zip(per_mm, spec.flow_rates_by_level, strict=True))
        state: dict[str, Any] = {
            "name": spec.name, "model": spec.model, "pipette_id": f"{self._mount}-{spec.name}",
            "display_name": spec.display_name, "channels": spec.channels,
            "min_volume": spec.min_volume, "max_volume": spec.max_volume,
            "working_volume": self._working_volume, "current_volume": self.current_volume,
            "available_volume": self._working_volume - self.current_volume,
            "has_tip": self._holds_tip, "tip_length": self._tip_length,
            "return_tip_height": spec.return_height, "tip_overlap": dict(spec.tip_overlaps),
            "ul_per_mm": spec.ul_per_mm, "mount": self._mount,
        }
        for op, mm in per_mm.items():
            flow_rate = getattr(self._flow_rate, op)
            state[f"{op}_flow_rate"] = flow_rate
            state[f"{op}_speed"] = round(flow_rate / mm, 6)
            state[f"default_{op}_flow_rates"] = dict(rates[op])
            state[f"default_{op}_speeds"] = {level: round(rate / mm, 6)
                                            for level, rate in rates[op].items()}
        return MappingProxyType(state)

    @property
    def name(self) -> str:
        """The load name, e.g. ``p300_single_gen2``."""
        return self._spec.name

    @property
    def model(self) -> str:
        """The model string."""
        return self._spec.model

    @property
    def mount(self) -> str:
        """``left`` or ``right``."""
        return self._mount

    @property
    def channels(self) -> int:
        """Number of channels (1 or 8); from apiLevel 2.14, as in Opentrons, an int that
        prints as ``single`` or ``multi``."""
        if self._ctx.api_version >= ENGINE_CORE_API:
            return PipetteChannelType(self._spec.channels)
        return self._spec.channels

    @property
    @since(2, 16)
    def active_channels(self) -> int:
        """The channels that pick up tips: all of them, unless ``configure_nozzle_layout``
        chose fewer."""
        return self._spec.channels if self._layout is None else self._layout.count

    @property
    def partial_layout(self) -> bool:
        """labrun's own: whether only some nozzles take tips (``configure_nozzle_layout``);
        a multi-channel's transfer then takes any well, not only the first row's."""
        return self._layout is not None

    @api_step("configure_nozzle_layout")
    @since(2, 16)
    def configure_nozzle_layout(self, style: NozzleLayout | None, start: str | None = None,
                                end: str | None = None, front_right: str | None = None,
                                back_left: str | None = None,
                                tip_racks: list[Labware] | None = None) -> None:
        """Take tips with some of the nozzles of an 8-channel pipette (apiLevel 2.20 on):
        ``SINGLE`` with ``start`` ``"A1"`` (the back nozzle) or ``"H1"`` (the front one),
        ``PARTIAL_COLUMN`` from ``"H1"`` back to ``end`` (``"B1"`` to ``"G1"``), or ``ALL``
        again (``None`` too, from 2.20, as in Opentrons). ``start`` is the nozzle a location
        names from now on. As in Opentrons, ``tip_racks`` replaces the pipette's tip racks
        (none, when not given)."""
        layout = plan_layout(self._spec, style, start, end, front_right, back_left,
                             api_version=self._ctx.api_version, holds_tip=self._holds_tip)
        racks = tip_rack_list(tip_racks or [])
        if layout is None and any(v is not None for v in (start, end, front_right, back_left)):
            self._steps.warn("configure_nozzle_layout: start, end, front_right and back_left "
                             "are ignored for the ALL layout, as in Opentrons")
        self._layout, self._configured = layout, True
        if layout is None:
            self._use_nozzles([(x, y) for _, (x, y, _) in self._spec.nozzles])
        else:
            self._use_nozzles([(v.x, v.y) for _, v in layout.active])
        self._racks = racks
        self.racks_given(tip_racks, "configure_nozzle_layout")
        self._steps.send(c.ConfigureNozzleLayout(
            self._mount, "ALL" if layout is None else layout.style.value,
            None if layout is None else layout.primary,
            layout.active[-1][0] if layout is not None and layout.count > 1 else None,
            self.active_channels))

    @property
    @since(2, 20)
    def liquid_presence_detection(self) -> bool:
        """Whether each aspirate checks for liquid first: never on an OT-2."""
        return False

    @liquid_presence_detection.setter
    @since(2, 20)
    def liquid_presence_detection(self, enable: bool) -> None:
        if enable:
            raise InstrumentError(f"liquid_presence_detection: the {self._mount} pipette "
                                  f"({self.name}) has no pressure sensor, as no OT-2 pipette "
                                  "has; only False can be set")

    @property
    def min_volume(self) -> float:
        """Smallest volume the pipette handles well (µL)."""
        return self._spec.min_volume

    @property
    def max_volume(self) -> float:
        """Largest volume the pipette holds (µL)."""
        return self._spec.max_volume

    @property
    @since(2, 7)
    def has_tip(self) -> bool:
        """True while a tip is attached."""
        return self._holds_tip

    def current_tip_source_well(self) -> Well | None:
        """The tip rack well the attached tip came from; None without a tip (apiLevel
        2.25)."""
        require("current_tip_source_well", CURRENT_TIP_SOURCE_API, self._ctx.api_version)
        return self._tip_from

    @property
    def _holds_tip(self) -> bool:
        return self._tip_from is not None

    @property
    def api_version(self) -> APIVersion:
        """The apiLevel the protocol asked for."""
        return self._ctx.api_version

    @property
    def current_volume(self) -> float:
        """Liquid in the tip (µL), a number as Opentrons 8.8.2 gives it, since protocols
        print it: below apiLevel 2.14 the sum of the volumes given, of their type (50 after
        ``aspirate(50)``, 0 once emptied, 0.0 before the first tip); from 2.14 a float, or
        0 when empty."""
        if self._ctx.api_version >= ENGINE_CORE_API:
            return float(self._volume) if self._volume else 0
        return self._volume

    def _capacity(self, fresh_tip: bool = False) -> float:
        """What the pipette with its tip (or, for a fresh tip, its racks' tips) can hold."""
        tip = None if fresh_tip else self._tip_capacity
        if tip is None and self.tip_racks:
            tip = min(rack.wells()[0].max_volume for rack in self.tip_racks)
        return min(self._spec.max_volume, tip) if tip else self._spec.max_volume

    @property
    def tip_racks(self) -> list[Labware]:
        """The tip racks this pipette picks its tips from, in order."""
        return self._racks

    @tip_racks.setter
    def tip_racks(self, racks: list[Labware]) -> None:
        self._set_tip_racks(racks)

    @api_step("tip_racks")
    def _set_tip_racks(self, racks: object) -> None:
        self._racks = tip_rack_list(racks)
        self.racks_given(racks, "set as tip_racks")

    def racks_given(self, racks: object, where: str) -> None:
        """Note how the tip racks were given (``where``: by which call): a generator, a
        set, a ``map``... is listed here, but Opentrons keeps it as given and fails at
        the first pick-up with no location ('not subscriptable'); labrun takes the tips
        named and refuses that pick-up, saying why (and warns now)."""
        self._racks_unindexable = None
        if racks is None or isinstance(racks, Labware) or hasattr(type(racks), "__getitem__"):
            return
        kind = type(racks).__name__
        line = self._steps.line
        self._racks_unindexable = (kind, f"{where}" + (f" at {line}" if line else ""))
        self._steps.warn(f"{where}: tip_racks is a {kind}, not a list: Opentrons keeps it "
                         "so and picks no tip from it without a location (pick_up_tip() "
                         "fails there); give a list, tip_racks=[...]")

    _tip_racks = tip_racks
    """Opentrons' private name of ``tip_racks`` (the same list), as protocols read it."""

    @property
    def _last_tip_picked_up_from(self) -> Well | None:
        """Opentrons' private record of where the attached tip came from (None without a
        tip), as protocols read it to return tips to a parking spot later."""
        return self._tip_from

    # -- tips -----------------------------------------------------------------------

    @api_step("pick_up_tip")
    def pick_up_tip(self, location: Location | Well | Labware | None = None,
                    presses: int | None = None, increment: float | None = None,
                    prep_after: bool | None = None) -> InstrumentContext:
        """Pick up a tip: the next one from ``tip_racks``, or the one at ``location`` (a
        ``Location`` in a tip's well: the nozzle goes to its point, offset and all, as in
        Opentrons; in a rack: its next tip)."""
        level = self._ctx.api_version
        for name, value in (("presses", presses), ("increment", increment)):
            if value is not None:  # as Opentrons
                refuse_removed(f"pick_up_tip: {name}", ENGINE_CORE_API, level)
        # an OT-2 presses that many times, each ``increment`` deeper: Opentrons fails at the
        # pick-up on a count that is not an int (2.0 too), or an increment that is no number
        if presses is not None and not isinstance(presses, int):
            raise ProtocolError(f"pick_up_tip: presses must be a whole number (an int), "
                                f"not {presses!r}")
        if increment is not None and not is_number(increment):
            raise ProtocolError(f"pick_up_tip: increment must be a number of mm, not "
                                f"{increment!r}")
        if prep_after is not None:
            require("pick_up_tip: prep_after", PREP_AFTER_API, level)
        if self._holds_tip:
            raise TipError(f"pick_up_tip: the {self._mount} pipette already holds a tip; "
                           "drop or return it first")
        well = self._tip_well(location)
        rack = well.parent
        if rack.slot == c.OFF_DECK:  # said as pick_up_tip's, not as the well.top() below
            named = isinstance(location, Well | Location)
            _refuse_off_deck("pick_up_tip", well, "" if named else "the next tip, ")
        # Tip tracking chooses tips; from apiLevel 2.2 a named well is taken as it is.
        if not well.has_tip and self._ctx.api_version < NAMED_TIP_API:
            raise TipError(f"pick_up_tip: there is no tip in {well.display_name}")
        at = location if isinstance(location, Location) and location.labware.is_well \
            else well.top()
        check_reachable("pick_up_tip", at)
        top = at.point
        tip_length = self._spec.effective_tip_length(rack.tip_length, rack.uri)  # less overlap
        layout = self._layout
        if layout is None:
            tips = down_the_column(well, self._spec.channels)
            taken = len(tips)
        else:
            self._check_partial("pick_up_tip", at, 0.0)
            tips = tips_taken(layout, rack, well)
            taken = len(tips)
            top = self._command_point(at)
            for warning in partial_pick_warnings(layout, self._spec.channels, rack, well,
                                                 taken):
                self._steps.warn(warning)
        self._refuse_unknown_tip(rack, well)
        self.check_tip_size(rack)  # warned of once it is checked: a refused pick-up is not
        empty = self._taken_tips.empty(tips)
        if empty and empty[0][0] is tips[0]:  # the first nozzle's: warned. Others' only:
            # a multi-channel taking one tip on purpose, from the bottom of a column up, as
            # from past the rack's end (bare nozzles)
            self._steps.warn(no_tip_warning(empty, taken))
        elif empty and layout is None:  # the nozzles over the emptied end of the column
            gone = {well for well, _ in empty}  # come up bare, as past the rack's end:
            while tips[taken - 1] in gone:  # no tip, no liquid under them
                taken -= 1
            named = isinstance(location, Well) or (isinstance(location, Location)
                                                   and location.labware.is_well)
            if not named:  # a place tip tracking chose: no single tip taken on purpose
                self._steps.warn(no_tip_warning(empty, taken))
            elif empty[0][0] in tips[:taken]:  # one between two that take tips: no pattern
                self._steps.warn(no_tip_warning([e for e in empty if e[0] in tips[:taken]],
                                                taken))
        self._steps.send(c.PickUpTip(self._mount, (top.x, top.y, top.z), _ref(well),
                                        tip_length, taken))
        wet = self._others[:taken - 1]  # the nozzles past the rack's end take none: bare,
        if wet != self._wet:  # a tip length above the liquid, they move only air
            self._wet = wet
            self._nozzle_cache.clear()
        if layout is None:
            mark_used(rack, well, self._spec.channels)
        else:
            for tip in tips:
                mark_used(rack, tip, 1)
        # a used tip put back and taken again is still a used one
        self._tip_wetted = bool(self._taken_tips.used(tips[:taken]))
        self._taken_tips.take(tips, self._steps.line)
        self._tip_from, self._tip_capacity, self._volume = well, well.max_volume, 0
        if well.max_volume:
            self._working_volume = min(self._spec.max_volume, well.max_volume)
        self._plunger_ready = self._last_move.homes  # the plunger goes down after a pick-up
        self._tip_length = tip_length
        self._last_move.moved(at, self._mount)
        return self

    def _tip_well(self, location: Location | Well | Labware | None) -> Well:
        """The tip a pick-up at ``location`` takes (None: the next one of ``tip_racks``)."""
        if location is not None:
            return named_tip(location, self._spec.channels, self._layout)
        if self._racks_unindexable is not None:
            kind, where = self._racks_unindexable
            raise TipError(f"pick_up_tip: no location given, and this pipette's tip_racks "
                           f"is a {kind} ({where}), which Opentrons cannot take the next "
                           f"tip from (it fails: '{kind}' object is not subscriptable); "
                           "give a list, tip_racks=[...]")
        if not self.tip_racks:
            where = ("configure_nozzle_layout (which replaces them, as in Opentrons)"
                     if self._configured else "load_instrument")
            raise TipError("pick_up_tip: no location given and this pipette has no "
                           f"tip_racks; pass tip_racks to {where}")
        racks, start = racks_from(self.tip_racks, self.starting_tip)
        return next_tip_in(racks, start, self._spec.channels, self._layout)

    @api_step("drop_tip")
    def drop_tip(self, location: Location | Well | Labware | None = None,
                 home_after: bool | None = None) -> InstrumentContext:
        """Drop the tip into the trash, or at ``location``.

        From apiLevel 2.15, tips dropped into the fixed trash with no location named go to
        either side of it in turn (``TrashDrops``), as on an OT-2; given ``ctx.fixed_trash``
        itself (2.16 on, Opentrons' trash bin), the same until 2.17, its centre from 2.18.
        """
        engine_flag("drop_tip", "home_after", home_after, self._ctx.api_version,
                     optional=True)
        no_tip = not self._holds_tip and self._ctx.api_version < ENGINE_CORE_API
        if not no_tip:
            self._require_tip("drop_tip")
        if location is None:
            trash = self.trash_labware("drop_tip")
            if isinstance(trash, TrashBin):  # ``fixed_trash.top(...)`` too: as Opentrons,
                trash = trash.bin  # it drops in turn to either side, not at the offset
            if trash is self._ctx.fixed_trash and self._ctx.api_version >= ALTERNATE_DROP_API:
                target = self._trash_drops.next_drop(trash.first_well())
            else:  # another labware as the trash: as if its first well were named
                target = self._drop_into(trash.first_well())
        elif isinstance(location, Well):
            if location.parent.slot == c.OFF_DECK:
                _refuse_off_deck("drop_tip", location, "")
            target = self._drop_into(location)
        elif isinstance(location, Location):
            if well_of(location) is None:  # as Opentrons refuses it: where would it go?
                base = location.labware.object
                raise ProtocolError(
                    f"drop_tip: the location {location.point} is relative to "
                    f"{'nothing' if base is None else base}, not to a well; a tip is dropped "
                    "into a well (of the trash, or of a tip rack): give one, or a location "
                    "relative to one (such as well.top())")
            target = location
        elif isinstance(location, Labware):
            target = self._trash_bin_top("drop_tip", location)
            if self._ctx.api_version < CENTRED_TRASH_DROP_API:  # either side, in turn
                target = self._trash_drops.next_drop(self._ctx.fixed_trash.first_well())
        else:
            raise ProtocolError(f"drop_tip: cannot drop a tip at {location!r}")
        # a partial layout's tip goes to a place of the protocol's with its primary nozzle
        # (to the first nozzle's place, ``shift`` from it); into the trash bin as with all
        layout = self._layout
        shift = layout.offset if layout is not None and not _in_bin(target) else None
        if shift is not None:
            well = well_of(target)
            if well is not None and is_tiprack(well.parent):
                raise TipError("drop_tip: Cannot return tip to a tiprack while the pipette is "
                               "configured for partial tip.")
            if well is not None:
                self._check_partial("drop_tip", target)
        if no_tip:  # Opentrons goes there, warns and goes on
            self._steps.warn(f"drop_tip: the {self._mount} pipette ({self.name}) has no tip; "
                             "it goes where it would drop one and drops nothing, as "
                             "Opentrons does before apiLevel 2.14 (from 2.14 it fails)")
            self._move(target)
            return self
        check_reachable("drop_tip", target)
        point = target.point
        if shift is not None:
            point = point + shift
        self._steps.send(c.DropTip(self._mount, (point.x, point.y, point.z),
                                      _location_ref(target) or "trash"))
        into = well_of(target)
        if into is not None and is_tiprack(into.parent):  # (a partial layout's never is)
            # the tips go back down the column, one a nozzle that holds one
            self._taken_tips.put_back(down_the_column(own_well(into), 1 + len(self._wet)),
                                      self._steps.line, used=self._tip_wetted)
        if self._ctx.api_version < NAMED_TIP_API:
            self._back_in_rack(into)
        elif self._ctx.api_version >= ENGINE_CORE_API:
            self._used_in_rack(into)
        self._tip_from, self._tip_capacity, self._volume = None, None, 0
        self._plunger_ready = self._last_move.homes  # and after a drop
        self._tip_length = 0.0
        self._last_move.dropped(target, self._mount,
                                location if isinstance(location, Location) else None)
        return self

    def trash_labware(self, op: str) -> Labware:
        """``trash_container``, where ``op`` takes a tip or liquid with no place named;
        refused, saying so, if the protocol set it to what is not a labware (a well), where
        Opentrons fails ('Well' object has no attribute 'offset')."""
        trash = self.trash_container
        if isinstance(trash, Labware):
            return trash
        what = "," if isinstance(trash, str | int | float) else f", a {type(trash).__name__},"
        hint = " or the well's labware (well.parent)" if isinstance(trash, Well) else ""
        raise ProtocolError(f"{op}: the pipette's trash_container is {shown(trash)}{what} "
                            f"not a labware or a trash bin; set it to one, such as "
                            f"ctx.fixed_trash{hint}")

    def _drop_into(self, well: Well) -> Location:
        """Where a tip dropped into ``well`` is let go: seated back into a tip rack's,
        else as ``_into_well`` says."""
        return self._into_rack(well) if is_tiprack(well.parent) else self._into_well(well)

    def _into_well(self, well: Well) -> Location:
        """Where a tip dropped into ``well`` (not a tip rack's) is let go, as Opentrons lets
        it: the trash's top; another labware's top, from apiLevel 2.14; before 2.2, 10 mm
        above its bottom; from 2.2 to 2.13 Opentrons refuses it (an assertion)."""
        level = self._ctx.api_version
        if well.parent.has_quirk("fixedTrash") or level >= ENGINE_CORE_API:
            return well.top()
        if level < NAMED_TIP_API:
            return well.bottom(PRE_2_2_RETURN_MM)
        raise ProtocolError(f"drop_tip: {well} is not in a tip rack: from apiLevel 2.2 to "
                            "2.13 Opentrons drops a tip into a well only of a tip rack or the "
                            "trash (it fails: 'Expected tip drop target to be a tip rack'); "
                            "give a Location (well.top()) or use apiLevel 2.14 or later")

    def _into_rack(self, well: Well) -> Location:
        """Where a tip is let go into a tip rack's ``well``, as on an OT-2: its end
        ``return_height`` tip lengths below the top (before apiLevel 2.2, 10 mm above
        the bottom), so the tip is seated back rather than dropped onto the rack."""
        if self._ctx.api_version < NAMED_TIP_API:
            return well.bottom(PRE_2_2_RETURN_MM)
        return well.top(-self._spec.return_height * well.parent.tip_length)

    @api_step("return_tip")
    def return_tip(self, home_after: bool | None = None) -> InstrumentContext:
        """Put the tip back where it came from.

        As in Opentrons, from apiLevel 2.2 tip tracking is not reset: ``pick_up_tip()``
        takes a fresh tip next, ``pick_up_tip(well)`` the returned one again; before 2.2
        the returned tips are marked unused again.
        """
        engine_flag("return_tip", "home_after", home_after, self._ctx.api_version,
                     optional=True)
        self._require_tip("return_tip")
        if self._layout is not None:  # as Opentrons; said as the call the protocol made
            raise TipError("return_tip: Cannot return tip to a tiprack while the pipette is "
                           "configured for partial tip.")
        well = self._tip_from
        assert well is not None
        if well.parent.slot == c.OFF_DECK:
            _refuse_off_deck("return_tip", well, "the tip's place, ")
        self.drop_tip(well)
        return self

    def _back_in_rack(self, well: Well | None) -> None:
        """Before apiLevel 2.2, as in Opentrons: a tip dropped into a tip rack's well (by
        ``return_tip`` or ``drop_tip``) is marked there, to be picked up again; where a
        tip already is, it is not, and the log says so."""
        if well is None or not is_tiprack(well.parent):
            return
        try:
            mark_returned(well.parent, well, self._spec.channels)
        except TipError as exc:
            self._steps.warn(f"drop_tip: the tip stays out of the tip tracking: {exc}")

    def _used_in_rack(self, well: Well | None) -> None:
        """From apiLevel 2.14, as Opentrons' engine counts them: the tip-rack positions
        under the nozzles of a tip dropped into a rack's well (``return_tip``, ``drop_tip``)
        are used, whatever they held, so that no later ``pick_up_tip()`` takes a tip put
        back (after ``reset_tipracks()`` too): a used tip is taken only by name."""
        if well is not None and is_tiprack(well.parent):
            mark_used(well.parent, well, self._spec.channels)

    def reset_tipracks(self) -> None:
        """Mark every tip in ``tip_racks`` as available again, and forget the
        ``starting_tip`` (as Opentrons does: the next pick-up is the racks' first tip).
        It puts no tip back: a pick-up where the run took one since its last pause is
        warned of (``TakenTips``)."""
        if self._replaced is not None:  # the racks may be the new pipette's
            raise InstrumentError(self._replaced)
        for rack in self.tip_racks:
            rack.reset()
        self.starting_tip = None

    # -- liquid ---------------------------------------------------------------------

    @api_step("aspirate")
    def aspirate(self, volume: float | None = None, location: Location | Well | None = None,
                 rate: float = 1.0, flow_rate: float | None = None,
                 end_location: Location | None = None,
                 movement_delay: float | None = None) -> InstrumentContext:
        """Draw ``volume`` µL (all it can hold when None) from ``location`` or where it is,
        at ``rate`` times the pipette's flow rate or at ``flow_rate`` µL/s (2.24 on).
        Aspirating while moving (``end_location``, ``movement_delay``) is refused."""
        if end_location is not None or movement_delay is not None:
            _refuse_moving_liquid("aspirate", end_location, movement_delay)
        self._require_tip("aspirate")
        asked, volume = volume, self._zero_means_all(volume)
        available = self._capacity() - self._volume
        amount = (self._all_it_takes("aspirate", asked) if volume is None
                  else _volume("aspirate", volume))
        if amount > available + 1e-9:
            raise VolumeError(
                f"aspirate: {amount:.10g} µL would put {self._volume + amount:.10g} µL in the "
                f"tip; the {self.name} with this tip holds at most {self._capacity():g} µL")
        flow_rate = self._rate("aspirate", rate, flow_rate)
        self._refuse_tip_rack("aspirate", "from", location)
        if isinstance(location, Location):  # refused before the plunger's reset moves
            check_reachable(self._steps.step.name, location)
        if self._layout is not None and isinstance(location, Well | Location):
            self._check_partial("aspirate", location if isinstance(location, Location)
                                else location.bottom(self._clearance.aspirate))
        prepare = self._plunger_ready != self._last_move.homes and self._volume <= 1e-9
        if prepare and self._ready_above(location):
            prepare = False
        elif prepare and location is None and self._last_move.lifted \
                and self._last_move.mount == self._mount:  # up where its home left it:
            self._steps.send(c.PrepareToAspirate(self._mount))  # ready there, out of the
            prepare = False  # liquid, then back down to where it was
        target, ref = self._go("aspirate", location, self._clearance.aspirate)
        if prepare and location is not None:  # at or above a well's top, or in none:
            self._steps.send(c.PrepareToAspirate(self._mount))  # out of the liquid, there
        self._tip_wetted = True
        self._steps.send(c.Aspirate(self._mount, amount, flow_rate, ref,
                                    self._other_wells(target, "aspirate"),
                                    # a well given is aspirated from near its bottom
                                    air_gap=not isinstance(location, Well)
                                    and _above_the_well(target)))
        self._volume += _as_given(volume, amount)
        self._plunger_ready = self._last_move.homes
        return self

    def _ready_above(self, location: Location | Well | None) -> bool:
        """Before an aspirate into an empty tip whose plunger is not at the bottom (after a
        blow-out, a push-out or a home), bring it there at the top of the well the
        aspirate draws from, out of the liquid, as an OT-2 does; the aspirate then goes
        down; whether it did. At a point above a well's top or in no well, the reset is
        made there once the tip is there (``aspirate``); in place (no location), the
        aspirate's own reset lifts the tip clear first, if it must. ``_plunger_ready`` is
        this side's account, which only chooses where the reset happens: the engine knows
        where the plunger is, and still resets (lifting the tip) if the account was wrong."""
        if isinstance(location, Well):
            well: Well | None = location
        elif isinstance(location, Location):
            well = well_of(location)
        else:
            return False
        if well is None:
            return False
        top = well.top()
        if isinstance(location, Location) and location.point.z >= top.point.z:
            return False
        self._move(top)
        self._steps.send(c.PrepareToAspirate(self._mount))
        return True

    @api_step("dispense")
    def dispense(self, volume: float | None = None,
                 location: Location | Well | Labware | None = None,
                 rate: float = 1.0, push_out: float | None = None,
                 flow_rate: float | None = None, end_location: Location | None = None,
                 movement_delay: float | None = None) -> InstrumentContext:
        """Push out ``volume`` µL (everything when None) at ``location`` or where it is,
        at ``rate`` times the pipette's flow rate or at ``flow_rate`` µL/s (2.24 on).
        Dispensing while moving (``end_location``, ``movement_delay``) is refused."""
        if end_location is not None or movement_delay is not None:
            _refuse_moving_liquid("dispense", end_location, movement_delay)
        self._require_tip("dispense")
        if push_out:
            require("dispense: push_out", PUSH_OUT_API, self._ctx.api_version)
        volume = self._zero_means_all(volume)
        amount = self._volume if volume is None else _volume("dispense", volume)
        # Before 2.17 the plunger stops at empty: the command keeps the volume asked, as
        # the reference logs it, and its result says what left the tip.
        if amount > self._volume + 1e-9 and self._ctx.api_version >= DISPENSE_CHECK_API:
            raise VolumeError(f"dispense: {amount:g} µL asked but the tip holds "
                              f"{self._volume:g} µL")
        flow_rate = self._rate("dispense", rate, flow_rate)
        pushed = self._push_out(push_out, self._volume - amount)
        if isinstance(location, Labware):
            location = self._trash_bin_top("dispense", location)
        elif location is self._trash_well:
            location = location.top()  # as Opentrons: into the trash from its top
        self._refuse_tip_rack("dispense", "into", location)
        target, ref = self._go("dispense", location, self._clearance.dispense)
        self._tip_wetted = True
        self._steps.send(c.Dispense(self._mount, amount, flow_rate, ref,
                                    self._other_wells(target, "dispense"), pushed))
        self._volume = self._left_after(min(self._volume, _as_given(volume, amount)))
        if pushed:
            self._plunger_ready = None  # past the bottom
        return self

    def _push_out(self, push_out: float | None, left: float,
                  what: str = "dispense: push_out") -> float:
        """The µL of plunger travel past empty that ``dispense(push_out=)`` asks for,
        refused as an OT-2's pipette refuses it: on a dispense that leaves liquid in the
        tip (``left`` µL), or past the blow-out position (``what``: the call's argument,
        for the message)."""
        if push_out is None or push_out == 0:
            return 0.0
        if not is_number(push_out) or push_out < 0:
            raise ProtocolError(f"{what} must be a number of µL >= 0, not {push_out!r}")
        if left > 1e-9:
            raise ProtocolError(f"{what} needs a dispense that empties the tip; "
                                f"{left:g} µL would stay in it")
        most = (PLUNGER_BLOW_OUT - PLUNGER_BOTTOM) * self._spec.ul_per_mm
        if push_out > most + 1e-9:
            raise ProtocolError(f"{what} of {push_out:g} µL is more than the "
                                f"{self.name} can push past empty ({most:g} µL)")
        return float(push_out)

    @api_step("prepare_to_aspirate")
    @since(2, 16)
    def prepare_to_aspirate(self) -> None:
        """Bring the plunger to the bottom now, where the tip is, so that the next
        aspirate draws in place (otherwise an aspirate into an empty tip whose plunger is
        elsewhere, after a blow-out or a home, first lifts the tip out of the well)."""
        self._require_tip("prepare_to_aspirate")
        if self._volume > 1e-9:
            raise ProtocolError(f"prepare_to_aspirate: the tip holds {self._volume:g} µL; "
                                "it prepares only an empty tip")
        self._steps.send(c.PrepareToAspirate(self._mount))
        self._plunger_ready = self._last_move.homes

    @api_step("blow_out")
    def blow_out(self, location: Location | Well | Labware | None = None
                 ) -> InstrumentContext:
        """Expel what is left in the tip, at the top of ``location`` or where it is."""
        self._require_tip("blow_out")
        if isinstance(location, Well):
            location = location.top()
        elif isinstance(location, Labware):
            location = self._trash_bin_top("blow_out", location)
        target, ref = self._go("blow_out", location, None, back=False)
        self._tip_wetted = True
        self._steps.send(c.BlowOut(self._mount, self._flow_rate.blow_out, ref,
                                   self._other_wells(target, "blow_out")))
        self._volume = 0
        self._plunger_ready = None  # past the bottom
        return self

    @api_step("mix")
    def mix(self, repetitions: float = 1, volume: float | None = None,
            location: Location | Well | None = None, rate: float = 1.0,
            aspirate_flow_rate: float | None = None, dispense_flow_rate: float | None = None,
            aspirate_delay: float | None = None, dispense_delay: float | None = None,
            final_push_out: float | None = None) -> InstrumentContext:
        """Aspirate and dispense ``volume`` µL ``repetitions`` times at ``location``.

        From apiLevel 2.24, as in Opentrons: flow rates in µL/s for the aspirates and the
        dispenses, a delay in seconds after each, and a push-out on the last dispense.
        """
        self._require_tip("mix")
        if location is not None and not isinstance(location, Location | Well):
            # said as the call the protocol made, not as the aspirate it starts with
            raise ProtocolError(f"mix: expected a Location or a Well, not {shown(location)}")
        for name, value in (("aspirate_flow_rate", aspirate_flow_rate),
                            ("dispense_flow_rate", dispense_flow_rate),
                            ("aspirate_delay", aspirate_delay),
                            ("dispense_delay", dispense_delay),
                            ("final_push_out", final_push_out)):
            if value:  # as Opentrons: 0 or None is not given
                require(f"mix: {name}", FLOW_RATE_API, self._ctx.api_version)
            if value is None:
                continue
            if name.endswith("flow_rate") and (not is_number(value) or value <= 0):
                raise ProtocolError(f"mix: {name} must be a positive number of µL/s, "
                                    f"not {value!r}")
            if not is_number(value) or value < 0:
                raise ProtocolError(f"mix: {name} must be a number >= 0, not {value!r}")
        if (aspirate_flow_rate or dispense_flow_rate) and rate != 1.0:
            raise ProtocolError("mix: rate must not be set if aspirate_flow_rate or "
                                "dispense_flow_rate is given")
        if not is_number(repetitions) or repetitions < 0:
            raise ProtocolError(
                f"mix: repetitions must be a whole number >= 0, not {repetitions!r}")
        if repetitions != int(repetitions):  # Opentrons counts down while more than 1 is left
            rounded = math.ceil(repetitions)
            self._steps.warn(f"mix: repetitions={repetitions!r} is not a whole number; "
                             f"mixing {rounded} times, as Opentrons does")
            repetitions = rounded
        repetitions = int(repetitions)
        if repetitions == 0:  # Opentrons aspirates and dispenses before it counts
            self._steps.warn("mix: repetitions=0 mixes once, as Opentrons does")
            repetitions = 1
        asked, volume = volume, self._zero_means_all(volume)
        # The last dispense leaves what the tip held before (all of it with no volume):
        # a push-out it cannot make is refused before the first aspirate, not at the end.
        self._push_out(final_push_out, 0.0 if volume is None else self._volume,
                       "mix: final_push_out")
        if volume is None:
            self._warn_mix_draws(repetitions, asked)
        for i in range(repetitions):
            # With no volume, as Opentrons documents it: each aspirate draws all the tip
            # takes then, and each dispense empties the tip (liquid it held before the mix
            # goes too), so the draws after the first fill the emptied tip.
            self.aspirate(self._capacity() - self._volume if volume is None else volume,
                          location if i == 0 else None, rate, flow_rate=aspirate_flow_rate)
            if aspirate_delay:
                self._ctx.delay(seconds=aspirate_delay)
            last = i == repetitions - 1
            self.dispense(volume, None, rate, flow_rate=dispense_flow_rate,
                          push_out=final_push_out if last else None)
            if dispense_delay:
                self._ctx.delay(seconds=dispense_delay)
        return self

    @api_step("transfer")
    def transfer(self, volume: float | Sequence[float], source: Any, dest: Any,
                 trash: bool = True, **kwargs: Any) -> InstrumentContext:
        """Move liquid from source wells to destination wells, splitting volumes that do
        not fit in the tip, with the options of the Opentrons API (``new_tip``,
        ``air_gap``, ``touch_tip``, ``mix_before``/``mix_after``, ``blow_out`` and
        ``blowout_location``, ``disposal_volume``, ``trash``)."""
        return self._liquid_plan("transfer", volume, source, dest, trash, kwargs)

    @api_step("distribute")
    def distribute(self, volume: float | Sequence[float], source: Any, dest: Any,
                   *args: Any, **kwargs: Any) -> InstrumentContext:
        """One source to many destinations, filling the tip for several dispenses; a
        disposal volume (the pipette's minimum unless given) is blown out at the end."""
        # As in the reference, ``disposal_vol`` (an older spelling) is accepted and ignored.
        kwargs["disposal_volume"] = kwargs.get("disposal_volume", self.min_volume)
        kwargs["mix_after"] = (0, 0)
        kwargs.setdefault("mode", "distribute")
        return self._liquid_plan("distribute", volume, source, dest,
                                 kwargs.pop("trash", True), kwargs)

    @api_step("consolidate")
    def consolidate(self, volume: float | Sequence[float], source: Any, dest: Any,
                    *args: Any, **kwargs: Any) -> InstrumentContext:
        """Many sources to one destination, aspirating from several before one dispense."""
        kwargs["mix_before"] = (0, 0)
        kwargs["disposal_volume"] = 0
        kwargs.setdefault("mode", "consolidate")
        return self._liquid_plan("consolidate", volume, source, dest,
                                 kwargs.pop("trash", True), kwargs)

    def _liquid_plan(self, name: str, volume: Any, source: Any, dest: Any, trash: bool,
                     kwargs: dict[str, Any]) -> InstrumentContext:
        opts = transfer_options(self, name, trash, kwargs, holds_tip=self._holds_tip,
                                capacity=self._capacity, warn=self._steps.warn)
        if isinstance(volume, tuple) and self._first_time("gradient"):
            self._steps.warn(f"{name}: a (first, last) volume gradient fails on Opentrons "
                             "8.8.2's robot software (its run log cannot print a tuple of "
                             "volumes), although its documentation describes it; give a list "
                             "of volumes, one per well, to run there")
        actions: Iterator[tuple[str, tuple[Any, ...]]] = plan(self, volume, source, dest, opts)
        for method, args in actions:
            if method == "warn":  # the plan's own warning (kind, text): once a line
                if self._first_time(args[0]):
                    self._steps.warn(args[1])
                continue
            if method == "pick_up_tip" and self._holds_tip:
                # As Opentrons, at every apiLevel: the tip on may have touched anything,
                # and the call asked for a new one.
                raise TipError(f"{name}: new_tip={opts.new_tip!r} picks up a new tip, but "
                               f"the {self._mount} pipette already holds one; drop or return "
                               "it first, or use new_tip='never' to go on with it")
            if method == "pick_up_tip":
                self._warn_used_tip(name)
            getattr(self, method)(*args)
        return self

    def _warn_used_tip(self, name: str) -> None:
        """Warn, once a line, where the new tip a transfer, distribute or consolidate picks
        up by itself is a used one put back in its rack (``TakenTips``), which tip tracking
        offers again: below apiLevel 2.2 after ``return_tip`` (as in Opentrons, so that
        ``new_tip='always'`` with ``trash=False`` takes the same tip for every pair), at any
        level after ``reset_tipracks()``."""
        try:
            well = self._tip_well(None)
        except TipError:
            return  # the pick-up says why
        layout = self._layout
        tips = (down_the_column(well, self._spec.channels) if layout is None
                else tips_taken(layout, well.parent, well))
        used = self._taken_tips.used(tips)
        if not used or not self._first_time("used tip"):
            return
        line = used[0][1]
        self._steps.warn(f"{name}: the new tip it picks up, {used[0][0].display_name}, is a "
                         f"used one, put back at {line or 'an unknown line'}; tip tracking "
                         "offers it again (return_tip below apiLevel 2.2, as in Opentrons, "
                         "or reset_tipracks()), and on a robot it carries what it touched "
                         f"into the {name}'s wells")

    @api_step("air_gap")
    def air_gap(self, volume: float | None = None, height: float | None = None,
                in_place: bool | None = None, rate: float | None = None,
                flow_rate: float | None = None) -> InstrumentContext:
        """Draw ``volume`` µL of air (all the tip can still take when None) ``height`` mm
        (5 unless given) above the top of the well the pipette was last at; from apiLevel
        2.24 ``in_place`` where the tip is, at ``rate`` times the pipette's aspirate flow
        rate or at ``flow_rate`` µL/s."""
        self._require_tip("air_gap")
        # in_place=False is taken at every level, as Opentrons takes it
        for name, value in (("in_place", in_place or None), ("rate", rate),
                            ("flow_rate", flow_rate)):
            if value is not None:
                require(f"air_gap: {name}", FLOW_RATE_API, self._ctx.api_version)
        if rate is not None and flow_rate is not None:
            raise ProtocolError("air_gap: give rate or flow_rate, not both")
        if in_place and height is not None:
            raise ProtocolError("air_gap: height must not be given with in_place=True")
        last = self._last_move.location  # whichever pipette went there, as Opentrons
        if last is None:  # this pipette has a tip, so it moved: they homed since
            raise ProtocolError(f"air_gap: {HOMED_SINCE}; move to the well to take the air "
                                "gap above first")
        if not in_place and not last.labware.is_well:  # in place: wherever the tip is
            raise ProtocolError("air_gap: a pipette must have been at a well first, to "
                                "take the air gap above it")
        self._refuse_after_bin("air_gap", last, "move to a well first")
        if not in_place:
            self._refuse_after_drop("air_gap", "move to a well first")
        available = self._capacity() - self._volume
        asked, volume = volume, self._zero_means_all(volume)  # air_gap(0) before 2.16: all
        amount = (self._all_it_takes("air_gap", asked) if volume is None  # the tip takes
                  else _volume("air_gap", volume))
        if amount > available + 1e-9:
            raise VolumeError(f"air_gap: {amount:.10g} µL would put "
                              f"{self._volume + amount:.10g} µL in the tip; it holds at most "
                              f"{self._capacity():g} µL")
        if height is not None and not is_number(height):
            raise ProtocolError(f"air_gap: height must be a number of mm, not {height!r}")
        rack = last.labware.as_well().parent if last.labware.is_well else None  # in place
        if rack is not None and is_tiprack(rack) \
                and TIP_RACK_LIQUID_API <= self._ctx.api_version < AIR_GAP_API:
            raise ProtocolError(f"air_gap: the last move was to a tip rack ({rack}); move to "
                                "a well first (below apiLevel 2.22, as in Opentrons, an air "
                                "gap is an aspirate, and none is taken at a tip rack)")
        speed = self._rate("air_gap", 1.0 if rate is None else rate, flow_rate, kind="aspirate")
        if in_place:  # where the last move went, no move
            target, ref = last, _location_ref(last)
        else:
            target = last.labware.as_well().top(5.0 if height is None else float(height))
            if height is not None and height < 0:  # in the well: it may draw liquid
                self._steps.warn(f"air_gap: height={height:g} takes the air gap "
                                 f"{-height:g} mm below the top of "
                                 f"{last.labware.as_well().display_name}, where the tip "
                                 "may draw liquid; the run counts it as air")
                self._check_depth("air_gap", target, self._primary_point(target))
            ref = self._move(target)
        self._steps.send(c.Aspirate(self._mount, amount, speed,
                                       ref, self._other_wells(target, None),
                                       air_gap=True))
        self._volume += _as_given(volume, amount)
        self._plunger_ready = self._last_move.homes
        return self

    @api_step("touch_tip")
    def touch_tip(self, location: Well | None = None, radius: float = 1.0,
                  v_offset: float = -1.0, speed: float = 60.0,
                  mm_from_edge: float | None = None) -> InstrumentContext:
        """Touch the tip to the four sides of ``location`` (the last well when None),
        ``v_offset`` mm from its top, at ``radius`` of its half-size or (apiLevel 2.24)
        ``mm_from_edge`` mm inside its edge, at ``speed`` mm/s (kept within 1-80 as
        Opentrons does; 20-80 below apiLevel 2.4). A ``Location`` is refused, as Opentrons
        refuses it: the height is ``v_offset``'s."""
        if mm_from_edge is not None:
            require("touch_tip: mm_from_edge", MM_FROM_EDGE_API, self._ctx.api_version)
            if not is_number(mm_from_edge):
                raise ProtocolError(f"touch_tip: mm_from_edge must be a number, not "
                                    f"{mm_from_edge!r}")
            if radius != 1.0:  # as Opentrons: two ways to say how far in; one at a time
                raise ProtocolError("touch_tip: radius must be left at 1.0 when mm_from_edge "
                                    "is given")
        self._require_tip("touch_tip")
        if location is None:
            last = self._last_move.location  # whichever pipette went there, as Opentrons
            if last is None:  # this pipette has a tip, so it moved: they homed since
                raise ProtocolError(f"touch_tip: no location given and {HOMED_SINCE}; give "
                                    "the well")
            if not last.labware.is_well:
                raise ProtocolError("touch_tip: no location given and the last move was not "
                                    "to a well")
            self._refuse_after_bin("touch_tip", last, "give the well", until=None)
            self._refuse_after_drop("touch_tip", "give the well")
            location = last.labware.as_well()
        if isinstance(location, Location):
            well = well_of(location)
            which = f"the well itself ({well.well_name})" if well is not None else "a well"
            raise ProtocolError(f"touch_tip: give {which}, not a location; v_offset= sets "
                                "the height from its top (Opentrons refuses a location too)")
        if not isinstance(location, Well):
            raise ProtocolError(f"touch_tip: expected a Well, not {shown(location)}")
        for name, value in (("radius", radius), ("v_offset", v_offset), ("speed", speed)):
            if not is_number(value):
                raise ProtocolError(f"touch_tip: {name} must be a number, not {value!r}")
        labware = location.parent
        if labware.has_quirk("touchTipDisabled"):  # reservoirs, the trash: as an OT-2 does
            if self._first_time(f"touch tip disabled in {id(labware)}"):
                self._steps.warn(f"touch_tip skipped: the definition of {labware.shown_name} "
                                 f"on {labware.whereabouts} disables touching its walls (quirk "
                                 "touchTipDisabled), and an OT-2 skips it too; the pipette "
                                 "does not move")
            return self
        if is_tiprack(labware) and self._ctx.api_version >= ENGINE_CORE_API:
            raise ProtocolError(f"touch_tip: {labware} is a tip rack; a tip touches the walls "
                                "of a well with liquid, never a tip rack's (refused from "
                                "apiLevel 2.14, as in Opentrons)")
        size_x = location.diameter if location.diameter is not None else location.length
        size_y = location.diameter if location.diameter is not None else location.width
        target = location.top(float(v_offset))
        check_reachable("touch_tip", target)
        self._check_depth("touch_tip", target, self._primary_point(target))
        if self._layout is not None:
            self._check_partial("touch_tip", target)
        point = self._command_point(target)  # a multi-channel centred on a reservoir
        inside = float(mm_from_edge) if mm_from_edge is not None else 0.0
        self._tip_wetted = True
        self._steps.send(c.TouchTip(
            self._mount, (point.x, point.y, point.z),
            round(float(radius) * float(size_x or 0) / 2 - inside, 6),  # to the nanometre:
            round(float(radius) * float(size_y or 0) / 2 - inside, 6),  # 3.075, not ...97
            min(max(float(speed), 1.0 if self._ctx.api_version >= TOUCH_TIP_SLOW_API else 20.0),
                80.0),
            _ref(location), self._other_wells(target, None),
            self._wall_left_alone(location) if self._ctx.api_version >= ENGINE_CORE_API
            else None))
        self._last_move.moved(target, self._mount)
        return self

    def _wall_left_alone(self, well: Well) -> str | None:
        """The wall of ``well`` a touch-tip leaves untouched from apiLevel 2.14, as
        Opentrons' engine plans it on an OT-2: the right pipette, in a labware's first
        column, skips the right (+x) wall when the labware is in slot 3, 6, 9 or 12 or a
        module is in the slot to its left; the left pipette, in the last column, skips the
        left (-x) wall when a module is in the slot to its right."""
        labware = well.parent
        slot = labware.slot
        if not slot.isdigit():
            return None
        number = int(slot)
        columns = labware.columns()
        modules = self._ctx.loaded_modules
        if self._mount == "right" and well in columns[0]:
            beside = number - 1 if number % 3 != 1 else None
            if number % 3 == 0 or beside in modules:
                return "right"
        if self._mount == "left" and well in columns[-1]:
            beside = number + 1 if number % 3 != 0 else None
            if beside in modules:
                return "left"
        return None

    # -- motion ---------------------------------------------------------------------

    @api_step("move_to")
    def move_to(self, location: Location | Well | Labware, force_direct: bool = False,
                minimum_z_height: float | None = None, speed: float | None = None,
                publish: bool = True) -> InstrumentContext:
        """Move the tip end (or nozzle) to ``location``: a point, as ``well.top()`` gives;
        a well itself is refused, as Opentrons refuses it (which point of it is meant?)."""
        if isinstance(location, Well):
            raise ProtocolError(f"move_to: give a point of the well, such as {location.well_name}"
                                f".top(), .bottom() or .center(), not the well {location} "
                                "itself (Opentrons refuses it too)")
        if isinstance(location, Labware):
            location = self._trash_bin_top("move_to", location)
        if not isinstance(location, Location):
            raise ProtocolError(f"move_to: expected a Location, such as well.top(), not "
                                f"{location!r}")
        direct = engine_flag("move_to", "force_direct", force_direct, self._ctx.api_version)
        if minimum_z_height is not None and not is_number(minimum_z_height):
            raise ProtocolError("move_to: minimum_z_height must be a number of mm, not "
                                f"{minimum_z_height!r}")
        if self._layout is not None:  # stricter than Opentrons, which lets move_to crash
            self._check_partial("move_to", location)
        self._move(location, bool(direct), minimum_z_height,
                   None if speed is None else _speed("move_to: speed", speed))
        self._check_depth("move_to", location, self._primary_point(location))
        return self

    def _check_depth(self, verb: str, location: Location, point: Point) -> None:
        """Warn when ``point`` (where ``location`` puts the tip) is more than
        ``BELOW_BOTTOM_MARGIN_MM`` below the bottom of its well, or below the deck when it
        is in none: the liquid steps are checked in ``_other_wells``."""
        well = well_of(location)
        if well is None:
            if point.z < -BELOW_BOTTOM_MARGIN_MM and self._first_time("deck"):
                tip = "the tips go" if self._others else "the tip goes"
                self._steps.warn(f"{verb}: {tip} {-point.z:.1f} mm below the deck; on a robot "
                                 "it would press into the deck or what stands on it")
            return
        bottom = self._under(well, point)[2]
        if point.z < bottom - BELOW_BOTTOM_MARGIN_MM:
            self._warn_below(verb, well, bottom - point.z)

    @api_step("home")
    def home(self) -> InstrumentContext:
        """Home this pipette's Z axis and plunger."""
        self._steps.send(c.Home(axes=self._axes()))  # every axis, if the robot's are unknown
        self._plunger_ready = None
        if self._last_move.mount == self._mount:  # up from where it went: it goes back
            self._last_move.lifted = True
        return self

    @api_step("configure_for_volume")
    @since(2, 15)
    def configure_for_volume(self, volume: float) -> None:
        """Choose the pipette's volume mode for ``volume`` µL. An OT-2 pipette has one mode,
        so nothing about it changes but, from apiLevel 2.26, its flow rates: back to the
        defaults. As in Opentrons the call is refused with liquid in the tip or a negative
        volume, and the tip first goes up to the top of the well this pipette was last in."""
        if self._volume > 1e-9:
            raise ProtocolError(f"configure_for_volume: the tip holds {self._volume:g} µL; "
                                "a pipette changes its volume mode only when it is empty")
        _volume("configure_for_volume", volume)
        last = self._last_move
        if last.mount == self._mount and last.location is not None:
            well = well_of(last.location)
            if well is not None:
                self._move(well.top())
        if self._ctx.api_version >= VOLUME_MODE_FLOW_RESET_API:
            spec = self._spec
            self._flow_rate.aspirate = spec.aspirate_flow_rate
            self._flow_rate.dispense = spec.dispense_flow_rate
            self._flow_rate.blow_out = spec.blow_out_flow_rate

    @api_step("home_plunger")
    def home_plunger(self) -> InstrumentContext:
        """Home this pipette's plunger only (the tip stays where it is)."""
        axes = self._axes()
        self._steps.send(c.Home(axes=(axes[1] if axes else OT2_PLUNGERS[self._mount],)))
        self._plunger_ready = None
        return self

    def _trash_bin_top(self, op: str, labware: Labware) -> Location:
        """The top of the fixed trash's centre, where ``op`` goes when given the fixed trash
        itself: from apiLevel 2.16 Opentrons' trash bin, which ``drop_tip``, ``dispense``,
        ``blow_out`` and ``move_to`` take; any other labware is refused."""
        if (isinstance(labware, TrashBin) and labware.bin is self._ctx.fixed_trash
                and self._ctx.api_version >= TRASH_BIN_API):
            return labware.drop_point()  # ``fixed_trash.top(...)``'s offset from it too
        raise ProtocolError(f"{op}: expected a Location or a Well, not {shown(labware)}")

    def _go(self, op: str, location: Location | Well | None,
            clearance: float | None, *, back: bool = True) -> tuple[Location, str | None]:
        """Move to ``location`` (a well: its bottom raised by ``clearance``, or its top
        when None); when it is None, stay where the last move went (``_here``), but go
        back down there first if this pipette homed since (``back``: as Opentrons moves an
        aspirate or a dispense to the well it names; a blow-out it does where it is). Where
        the pipette is then, and its well."""
        if location is None:
            here = self._here(op)
            if self._last_move.mount == self._mount and not (back and self._last_move.lifted):
                return here, _location_ref(here)
            location = here  # where another pipette went, or this one before it homed:
            # it goes there first
        if isinstance(location, Well):
            location = location.bottom(clearance) if clearance is not None else location.top()
        if not isinstance(location, Location):
            raise ProtocolError(f"{op}: expected a Location or a Well, not {shown(location)}")
        if self._layout is not None:
            self._check_partial(op, location)
        return location, self._move(location)

    def _here(self, op: str) -> Location:
        """Where a liquid step with no location acts: the last move's location.

        Below apiLevel 2.14 that is wherever the last move of either pipette went (this
        pipette goes there first when the other made it, as an OT-2 does for a first
        aspirate); from 2.14 only where this pipette went last, as Opentrons refuses an
        in-place step after the other pipette moved. After the robot homed there is
        none (nor after the pipettes were lifted clear of a module): labrun refuses at
        every apiLevel rather than act at the home position.
        """
        last = self._last_move
        if last.location is None:  # a pipette with a tip has moved: they homed since
            raise ProtocolError(f"{op}: no location given and {HOMED_SINCE}; give a location")
        level = self._ctx.api_version
        if last.mount != self._mount and level >= ENGINE_CORE_API:
            raise ProtocolError(
                f"{op}: no location given and the {last.mount} pipette has moved since this "
                f"one did (from apiLevel 2.14 a pipette acts in place only where it moved "
                "last); give a location")
        check_reachable(op, last.location, in_place=True)
        # from 2.24 Opentrons dispenses, blows out and takes an air gap in a trash bin in
        # place, never aspirates (a mix included) there
        draws = op in ("aspirate", "mix")
        self._refuse_after_bin(op, last.location,
                               "give the well to draw from (nothing is drawn from a trash "
                               "bin)" if draws else
                               f"give a location ({op}(location=ctx.fixed_trash))",
                               until=None if draws else IN_BIN_API)
        return last.location

    def _refuse_after_bin(self, op: str, last: Location, instead: str, *,
                          until: APIVersion | None = IN_BIN_API) -> None:
        """Refuse a step in place after the last move went into the trash bin, from
        apiLevel 2.16 until ``until`` (None: at every later level), as Opentrons refuses
        it (a trash bin is not a location it acts in place at)."""
        level = self._ctx.api_version
        if level < TRASH_BIN_API or (until is not None and level >= until):
            return
        well = well_of(last)
        if well is not None and well.parent is self._ctx.fixed_trash:
            span = "from apiLevel 2.16" + ("" if until is None else f" until {until}")
            raise ProtocolError(
                f"{op}: no location given and the pipette last went into the trash bin; "
                f"{span}, as in Opentrons, a step acts in place only after a move to a "
                f"well or a point: {instead}")

    def _refuse_after_drop(self, op: str, instead: str) -> None:
        """Refuse a step at the last well when the last move was a tip drop (into a well
        or the trash; not at a Location given), from apiLevel 2.14: Opentrons' location
        cache, which ``touch_tip`` and ``air_gap`` read whichever pipette moved, is empty
        then."""
        last = self._last_move
        if (self._ctx.api_version >= ENGINE_CORE_API and last.location is not None
                and last.cache is None):
            raise ProtocolError(
                f"{op}: no location given and the last move dropped a tip; from apiLevel "
                f"2.14, as in Opentrons, a step acts at the last well only after a move "
                f"there: {instead}")

    def _move(self, location: Location, force_direct: bool = False,
              minimum_z_height: float | None = None, speed: float | None = None) -> str | None:
        """Send the move to ``location``; the well it names (``slot/well``), if any."""
        check_reachable(self._steps.step.name, location)
        point = self._command_point(location)
        if speed is None:
            speed = self._default_speed
        ref = _location_ref(location)
        self._steps.send(c.MoveTo(self._mount, (point.x, point.y, point.z), ref,
                                  force_direct, minimum_z_height, speed))
        last = self._last_move  # LastMove.moved, written out: once a move
        last.location, last.mount, last.lifted = location, self._mount, False
        last.cache = location
        return ref

    def _primary_point(self, location: Location,
                       centring: tuple[float, float] | None = None) -> Point:
        """Where the primary nozzle (the first, A1, without a partial layout) goes for
        ``location``: the location itself, but for a multi-channel pipette at a labware
        that centres it (reservoirs, the trash), as the OT-2 does, the point that puts
        the middle of its nozzles that take tips there (``centring``: of other nozzles)."""
        point = location.point
        if self._spec.channels == 1:
            return point
        well = well_of(location)
        if well is None or not well.parent.has_quirk("centerMultichannelOnWells"):
            return point
        dx, dy = self._centring if centring is None else centring
        return Point(point.x - dx, point.y - dy, point.z)

    def _command_point(self, location: Location) -> Point:
        """The point a command names for ``location``: where the first nozzle (A1) goes
        when the primary one goes there. Into the trash bin a pipette goes as it does
        with all its nozzles, whatever its layout, as in Opentrons."""
        layout = self._layout
        if layout is None:
            return self._primary_point(location)
        if _in_bin(location):
            return self._primary_point(location, self._full_centring)
        return self._primary_point(location) + layout.offset

    def _check_partial(self, op: str, location: Location, tip_length: float | None = None
                       ) -> None:
        """With a partial layout, refuse ``op`` taking the tips to ``location`` in a well
        where the pipette would leave the deck's reach or come down onto a neighbouring
        slot's labware or module (``nozzles.check_motion``; ``tip_length``: of the tip
        on, when not the one it holds now)."""
        well = well_of(location)
        if self._layout is None or well is None or _in_bin(location):
            return  # into the trash the pipette goes as with all its nozzles, unchecked
        check_motion(op, self._layout, self._spec, self._primary_point(location),
                     self._tip_length if tip_length is None else tip_length, well.parent,
                     self._ctx.deck)

    def _other_wells(self, target: Location, verb: str | None) -> tuple[str, ...]:
        """The wells under the other nozzles that take tips (none for a single channel): a
        nozzle over no well of the labware touches none.

        When the primary nozzle is not over the well ``target`` names (an offset wider than
        the well), the command still names that well, as Opentrons reports it, and the run
        log warns of ``verb`` once a protocol line: the tip goes into another well. So it
        does when the tip goes below the bottom of the well.
        """
        well = well_of(target)
        if well is None:
            return ()
        point = self._primary_point(target)
        labware = well.parent
        found = self._nozzle_cache.get((id(labware), point.x, point.y))
        if found is None or found[3] is not offset_of(labware):
            found = self._under(well, point)  # new, or the labware moved since
        under, wells_under, bottom, _, missed = found
        if verb is not None:
            if under is not well and (under is None or _ref(under) != _ref(well)):
                self._warn_stray(verb, well, under, point)
            if point.z < bottom - BELOW_BOTTOM_MARGIN_MM:
                self._warn_below(verb, well, bottom - point.z)
            if missed and self._first_time("past the labware"):
                self._steps.warn(
                    f"{verb} at {well.display_name}: {missed} of the "
                    f"{len(self._wet) + 1} tips are over no well of it (past its edge, or "
                    "between its wells); on a robot they would "
                    f"{'draw air' if verb == 'aspirate' else 'let liquid fall'} there")
        return wells_under

    def _under(self, well: Well, point: Point) -> NozzlePlace:
        """What the primary nozzle at ``point`` (sent to ``well``) is over: the well of
        the labware there (None: none), the wells under the other nozzles, the bottom it
        would press into, and the labware's corner then; kept in ``_nozzle_cache`` by
        place (the liquid steps look there first: most go to the same few places). The
        labware's corner is a new value once it is moved or given an offset: what was
        kept for it before is then out of date."""
        labware = well.parent
        wells = []
        missed = 0
        for dx, dy in self._wet:
            other = labware.well_at(point.x + dx, point.y + dy)
            if other is not None:
                wells.append(_ref(other))
            else:
                missed += 1
        if len(self._nozzle_cache) > 4096:  # a protocol of ever new offsets: flat memory
            self._nozzle_cache.clear()
        under = labware.well_at(point.x, point.y)
        bottom = (under or well).bottom().point.z
        found = self._nozzle_cache[(id(labware), point.x, point.y)] = (
            under, tuple(wells), bottom, offset_of(labware), missed)
        return found

    def _warn_stray(self, verb: str, well: Well, under: Well | None, point: Point) -> None:
        """The run log's warning that the tip is over another well than the one the command
        names, or over none and more than ``STRAY_MARGIN_MM`` past its rim (a tip pressed
        against the wall, just past the rim, is what "touch the side" asks for)."""
        if ("stray", self._steps.line) in self._warned:
            return
        centre = well.center().point
        dx, dy = abs(point.x - centre.x), abs(point.y - centre.y)
        if under is None:
            if well.diameter is not None:
                past = math.hypot(dx, dy) - well.diameter / 2
            else:
                past = max(dx - (well.length or 0.0) / 2, dy - (well.width or 0.0) / 2)
            if past <= STRAY_MARGIN_MM:
                return
        self._first_time("stray")
        off = math.hypot(dx, dy)
        where = f"over {under.well_name}" if under is not None else "over no well"
        tip = "the first nozzle's tip" if self._others else "the tip"
        self._steps.warn(f"{verb} at {well.display_name}: {tip} is "
                         f"{off:.1f} mm from its centre, {where}; the command names "
                         f"{well.well_name}, as Opentrons does")

    def _warn_below(self, verb: str, well: Well, depth: float) -> None:
        """The run log's warning that the tip goes below the bottom of the well: into the
        labware's plastic, on a robot."""
        if not self._first_time("below"):
            return
        tip, it = ("the tips go", "they") if self._others else ("the tip goes", "it")
        self._steps.warn(f"{verb} at {well.display_name}: {tip} "
                         f"{depth:.1f} mm below the well's bottom; on a robot {it} would press "
                         "into the labware")

    def _refuse_tip_rack(self, op: str, way: str, location: Location | Well | None) -> None:
        """Refuse liquid to or from a tip rack (where the pipette is after picking up a
        tip, when no location is given), before anything moves, as Opentrons does from
        apiLevel 2.11."""
        target = self._here(op) if location is None else location
        if isinstance(target, Well):
            labware: object = target.parent
        elif isinstance(target, Location):
            well = well_of(target)
            labware = well.parent if well is not None else target.labware.object
        else:
            return  # not a location: _go says so
        if (isinstance(labware, Labware) and is_tiprack(labware)
                and self._ctx.api_version >= TIP_RACK_LIQUID_API):
            raise ProtocolError(f"{op}: the location is in a tip rack ({labware}); give the "
                                f"well to {op} {way}")

    def _left_after(self, amount: float) -> float:  # (a number as given: see current_volume)
        """The µL left in the tip once ``amount`` is dispensed. From apiLevel 2.14, as
        Opentrons' engine counts it, a dispense of what the tip holds but for the last
        digits of a float (``isclose``) empties it: three dispenses of 84.2 µL out of
        252.6 µL leave 0 µL, not 3e-14, so a transfer's mix before the next aspirate (into
        an empty tip only) still happens."""
        if self._ctx.api_version >= ENGINE_CORE_API and math.isclose(self._volume, amount):
            return 0
        return max(self._volume - amount, 0)

    def _all_it_takes(self, op: str, asked: float | None) -> float:
        """The µL that ``op`` with no volume (or 0, below apiLevel 2.16) draws: all the tip
        takes, as Opentrons documents it. From 2.14 Opentrons' own software draws 0 µL
        into an empty tip there instead: a protocol relying on it is warned, once a line."""
        available = self._capacity() - self._volume
        if (self._volume <= 1e-9 and self._ctx.api_version >= ENGINE_CORE_API
                and self._first_time(op)):
            self._steps.warn(f"{op}: {_no_volume(asked)}: labrun draws all the tip takes, "
                             f"{available:g} µL, as Opentrons documents it, but Opentrons' own "
                             "software draws 0 µL into an empty tip from apiLevel 2.14; give "
                             "the volume")
        return available

    def _warn_mix_draws(self, repetitions: int, asked: float | None) -> None:
        """Warn, once a line, of a mix with no volume whose draws differ from Opentrons'
        own from apiLevel 2.14, naming both: labrun draws all the tip takes each time, as
        Opentrons documents it (after the first dispense, the whole emptied tip); Opentrons'
        software draws 0 µL into an empty tip. A tip holding liquid, mixed once, draws the
        same in both, and is not warned of."""
        held = self._volume > 1e-9
        if (self._ctx.api_version < ENGINE_CORE_API or (held and repetitions == 1)
                or not self._first_time("mix")):
            return
        capacity = self._capacity()
        first = capacity - self._volume
        each = " each time" if repetitions > 1 else ""
        if not held:
            ours, theirs = f"{capacity:g} µL{each}", f"0 µL{each}: no liquid moves"
        else:
            each = " each time" if repetitions > 2 else ""
            ours = f"{first:g} µL, then {capacity:g} µL{each} into the emptied tip"
            theirs = f"{first:g} µL, then 0 µL{each}" if first > 1e-9 else "0 µL each time"
        self._steps.warn(f"mix: {_no_volume(asked)}: labrun draws all the tip takes, as Opentrons "
                         f"documents it ({ours}), but Opentrons' own software draws 0 µL into "
                         f"an empty tip from apiLevel 2.14 ({theirs}); give the volume")

    def _axes(self) -> tuple[str, str] | None:
        """This mount's Z and plunger axes on the robot, when the context was told them."""
        mounts = self._mounts
        return mounts.get(self._mount) if mounts is not None else None

    def check_replaceable(self) -> None:
        """Raise before ``load_instrument(..., replace=True)`` puts another pipette on this
        mount while this one holds a tip (the tip would be lost track of); at every
        apiLevel, ``has_tip`` being public only from 2.7."""
        if self._holds_tip:
            raise InstrumentError(
                f"the {self._spec.name} on the {self._mount} mount holds a tip; drop it "
                "(drop_tip() or return_tip()) before replacing the pipette")

    def mark_replaced(self, by: str) -> None:
        """``load_instrument(..., replace=True)`` has put the pipette ``by`` on this mount:
        every later call of this one raises, before anything is sent (its commands would
        name the mount, and move the new pipette; its tip racks may be the new one's)."""
        other = "another" if by == self._spec.name else "the"
        self._replaced = (f"this {self._spec.name} on the {self._mount} mount was replaced "
                          f"by {other} {by} (load_instrument(..., replace=True)); call the "
                          "pipette that call returned")
        # Every API call reaches its step tracker first (api_step): refused there.
        self._steps = cast("StepTracker", _ReplacedPipette(self._replaced))

    def check_tip_size(self, rack: Labware) -> None:
        """Warn, once a rack, when one of Opentrons' own tip racks holds tips of a size
        this pipette does not take (a p20 given 300 µL tips), as Opentrons does (when the
        pipette is loaded with it, and when it picks a tip up from it)."""
        if id(rack) in self._racks_checked:
            return
        self._racks_checked.add(id(rack))
        sizes = OT2_TIP_SIZES.get(self._spec.name.split("_")[0])
        if sizes is None or not rack.uri.startswith("opentrons/") or not rack.wells():
            return
        size = rack.wells()[0].max_volume
        if size not in sizes:
            self._steps.warn(f"the pipette {self._spec.name} and its tip rack "
                             f"{rack.load_name} ({size:g} µL tips) appear to be mismatched; "
                             f"it takes {' or '.join(f'{v:g}' for v in sizes)} µL tips")

    def _refuse_unknown_tip(self, rack: Labware, well: Well) -> None:
        """Below apiLevel 2.14 Opentrons takes the settings of a picked-up tip from the
        pipette's definition by the tip's size (the pipette's volume if the tip holds more,
        or if it is no standard size), and fails the pick-up when they are not there (a
        p300 given 20 µL tips): refuse it so, before the pipette moves."""
        spec = self._spec
        if self._ctx.api_version >= ENGINE_CORE_API or not spec.tip_sizes:
            return
        working = int(min(spec.max_volume, well.max_volume or spec.max_volume))
        size = working if working in OT2_TIP_KINDS else int(spec.max_volume)
        if size in spec.tip_sizes:
            return
        sizes = listed([str(v) for v in spec.tip_sizes])
        raise TipError(f"pick_up_tip: the {spec.name}'s definition has settings for {sizes} "
                       f"µL tips, not for the {size} µL tips of {rack.load_name}; below "
                       f"apiLevel 2.14 Opentrons fails this pick-up (KeyError: "
                       f"<PipetteTipType.t{size}: {size}>): use a tip rack of a size it "
                       "takes, or apiLevel 2.14 or later")

    def _first_time(self, warning: str) -> bool:
        """Whether ``warning`` is yet to be told for the protocol line in progress (it is
        from now on): a warning is said once a line, however often the line runs."""
        told = (warning, self._steps.line)
        if told in self._warned:
            return False
        self._warned.add(told)
        return True

    def _zero_means_all(self, volume: float | None) -> float | None:
        """Below apiLevel 2.16 a volume of 0 means "as much as possible", as in Opentrons."""
        if (self._ctx.api_version < (2, 16) and isinstance(volume, (int, float))
                and not isinstance(volume, bool) and volume == 0):
            return None
        return volume

    def _rate(self, op: str, rate: float, flow_rate: float | None = None,
              kind: str | None = None) -> float:
        """The flow rate (µL/s) of ``op``, an aspirate or a dispense (``kind``, when ``op``
        is another name): ``rate`` times the pipette's, or ``flow_rate`` itself (from
        apiLevel 2.24; ``rate`` must then stay 1)."""
        if flow_rate is not None:
            require(f"{op}: flow_rate", FLOW_RATE_API, self._ctx.api_version)
            if rate != 1.0:
                raise ProtocolError(f"{op}: rate must not be set if flow_rate is given")
            if not is_number(flow_rate) or flow_rate <= 0:
                raise ProtocolError(f"{op}: flow_rate must be a positive number of µL/s, "
                                    f"not {flow_rate!r}")
            return float(flow_rate)
        if not is_number(rate) or rate <= 0:
            raise ProtocolError(f"{op}: rate must be a positive number, not {rate!r}")
        return float(getattr(self._flow_rate, kind or op)) * float(rate)

    def _require_tip(self, op: str) -> None:
        if not self._holds_tip:
            raise TipError(f"{op}: the {self._mount} pipette ({self.name}) has no tip; "
                           "call pick_up_tip() first")

    def delay(self, *args: Any, **kwargs: Any) -> None:
        """Deprecated since apiLevel 2.0, and does nothing, as in Opentrons; with arguments
        (a wait was meant) refused, naming ``ProtocolContext.delay``."""
        if args or kwargs:
            raise UnsupportedAPIError("InstrumentContext.delay() is not supported in Python "
                                      "Protocol API v2; use ProtocolContext.delay() instead")

    def __getattr__(self, name: str) -> Any:
        if name in _UNSUPPORTED:
            require_name(f"InstrumentContext.{name}", _UNSUPPORTED[name], self.api_version)
            if name in _PRESSURE_SENSING:  # as Opentrons refuses them on an OT-2
                raise UnsupportedNameError(
                    f"InstrumentContext.{name}: the {self._mount} pipette ({self.name}) has "
                    "no pressure sensor to sense liquid with, as no OT-2 pipette has")
            raise UnsupportedNameError(f"InstrumentContext.{name} is not supported by labrun")
        raise UnknownAttributeError(self, name, "InstrumentContext")

    def __repr__(self) -> str:
        return f"<InstrumentContext: {self.model} in {self._mount.upper()}>"

    def __str__(self) -> str:
        """As Opentrons writes it: ``P300 Single-Channel GEN2 on right mount``."""
        return f"{self._spec.display_name} on {self._mount} mount"


def _speed(what: str, value: object) -> float:
    if not is_number(value) or value <= 0:
        raise ProtocolError(f"{what} must be a positive number of mm/s, not {value!r}")
    return float(value)


def _volume(op: str, value: object) -> float:
    if not is_number(value):
        raise VolumeError(f"{op}: volume must be a number of µL, not {shown(value)}")
    if value < 0:
        raise VolumeError(f"{op}: volume {value:g} µL is negative")
    return float(value)


def _as_given(value: object, number: float) -> float:
    """``number`` (a float: µL, mm/s), as the protocol gave it if it gave one (50, not
    50.0), for a property that shows it as Opentrons shows it."""
    return value if type(value) in (int, float) and value == number else number


def _no_volume(asked: float | None) -> str:
    """How a warning says a volume was left to the pipette: none, or 0 (below apiLevel
    2.16, "all it takes", as in Opentrons)."""
    return "no volume given" if asked is None else "volume 0 (none, below apiLevel 2.16)"


def _refuse_off_deck(op: str, well: Well, what: str) -> None:
    """Refuse ``op`` at a tip rack's ``well`` whose rack is off the deck, naming ``op``
    (Opentrons fails too: "Cannot get ancestor slot of location offDeck")."""
    name = f"{well.well_name} of {well.parent.shown_name}"
    detail = (f"{what}{name}{',' if what else ''} is in a labware that is off the deck; "
              "move it onto the deck first (ctx.move_labware)")
    raise LabwareOffDeckError(f"{op}: {detail}", detail)


def _ref(well: Well) -> str:
    return f"{well.parent.slot}/{well.well_name}"


def _above_the_well(location: Location) -> bool:
    """Whether ``location`` is at or above the top of the well it names: an aspirate there
    draws air (a protocol's own air gap, ``aspirate(20, well.top())``), which the record
    keeps as an air gap, so no well is counted as giving liquid for it."""
    if not location.labware.is_well:
        return False
    return location.point.z >= location.labware.as_well().top().point.z - 1e-6


def _refuse_moving_liquid(op: str, end_location: object, movement_delay: object) -> None:
    """Opentrons 2.27's aspirating or dispensing while the tip moves is not in labrun."""
    for name, value in (("end_location", end_location), ("movement_delay", movement_delay)):
        if value is not None:
            raise UnsupportedAPIError(f"{op}: {name} (apiLevel 2.27: pipetting while the "
                                      "tip moves) is not supported by labrun")


def _location_ref(location: Location) -> str | None:
    well = well_of(location)
    return None if well is None else _ref(well)


def _in_bin(location: Location) -> bool:
    """Whether ``location`` is in the fixed trash as a trash bin (apiLevel 2.16 on), where
    a pipette goes as with all its nozzles whatever its layout, as in Opentrons."""
    well = well_of(location)
    return well is not None and isinstance(well.parent, TrashBin)
