"""The deck rules of modules on the OT-2, checked before anything moves.

At load: a module goes only in a slot its kind may use, every slot it takes is free,
no module stands next to a heater-shaker, nothing taller than 53 mm (but a few short tip
racks) stands left or right of one (its labware latch swings there), and none goes in
front of the fixed trash (which covers the screw that locks it to the deck). Before each
move of a pipette, as in Opentrons: not to a thermocycler's labware while its lid is not
(known to be) open (a point above its closed lid is no labware); not to a shaking
heater-shaker nor the slots beside, in front of and behind it; while a heater-shaker's
latch is not closed, not to its labware nor the slots left and right of it; an 8-channel
pipette never to the slots left and right of a heater-shaker, and in front of or behind
it only to a tip rack (its nozzles would pass over the module). A refused call raises
``ModuleError``; the run fails with the protocol line of that call, before the robot moves.
"""

from __future__ import annotations

from collections.abc import Callable

from engine.commands import Command

from ..deck import SLOT_SIZE, Deck, neighbours
from ..labware import Labware, highest_z_of, is_tiprack, uri_of
from .base import ModuleContext, ModuleError
from .definitions import ModuleSpec
from .heater_shaker import HeaterShakerContext
from .thermocycler import ThermocyclerContext


class ModuleRules:
    """The modules loaded on one deck, and the rules they impose."""

    def __init__(self, deck: Deck, *, channels: Callable[[str], int] = lambda mount: 1,
                 legacy: bool = False) -> None:
        self.deck = deck
        self.modules: dict[str, ModuleContext] = {}  # by the slot the module is in
        self._channels = channels  # of the pipette on a mount
        # Before apiLevel 2.14 Opentrons keeps an 8-channel out of the slots in front of and
        # behind a heater-shaker whatever its latch; from 2.14 only once it is closed.
        self._legacy = legacy
        self._tops: dict[str, float] = {}  # each module's top (a thermocycler's lid's)

    def check_load(self, spec: ModuleSpec, slot: str) -> None:
        """Refuse a module in a slot it cannot use, a taken slot, a heater-shaker's side;
        else keep its top (a refused module changes nothing: the one there keeps its)."""
        self._check_load(spec, slot)
        self._tops[slot] = spec.highest_z(self.deck.position_for(slot).point)

    def _check_load(self, spec: ModuleSpec, slot: str) -> None:
        allowed = spec.compatible_slots()
        if slot not in allowed:
            raise ModuleError(f"load_module: a {spec.display_name} cannot go in slot {slot}; "
                              f"it fits in slot{'s' if len(allowed) > 1 else ''} "
                              f"{', '.join(allowed)}")
        for taken in (slot, *spec.covers):
            self.deck.check_free(taken)
        for other_slot, other in self.present().items():
            shaker = (spec.kind == "heater_shaker"
                      or isinstance(other, HeaterShakerContext))
            if shaker and other_slot in neighbours(slot):
                raise ModuleError(f"load_module: a {spec.display_name} in slot {slot} would "
                                  f"stand next to {other.described}; on the OT-2 no module "
                                  "may stand next to a Heater-Shaker")
        if spec.kind != "heater_shaker":
            return
        trash = self.deck.trash_slot
        if trash.isdigit() and int(trash) > 3 and slot == str(int(trash) - 3):
            raise ModuleError(f"load_module: a {spec.display_name} cannot go in slot {slot}, "
                              f"in front of the fixed trash in slot {trash}: the trash covers "
                              "the screw that locks it to the deck")
        for side in sorted(neighbours(slot, sideways_only=True)):
            labware = self.deck.occupant(side) if side in self.deck.slot_names else None
            if isinstance(labware, Labware) and _too_tall(uri_of(labware), highest_z_of(labware)):
                raise ModuleError(f"load_module: a {spec.display_name} in slot {slot} would "
                                  f"stand beside {labware.shown_name} in slot {side}, "
                                  f"{highest_z_of(labware):g} mm tall; beside a Heater-Shaker "
                                  f"nothing may be {HS_SIDE_MAX_HEIGHT_MM:g} mm tall or more")

    def check_labware(self, slot: str, labware: Labware, op: str = "load_labware", *,
                      height: float | None = None) -> None:
        """Refuse a labware too tall for a slot left or right of a heater-shaker (``op``:
        the call that puts it there; ``height``: its top there, if not where it is)."""
        top = highest_z_of(labware) if height is None else height
        for here, module in self.present().items():
            if (isinstance(module, HeaterShakerContext)
                    and slot in neighbours(here, sideways_only=True)
                    and _too_tall(uri_of(labware), top)):
                raise ModuleError(f"{op}: {labware.shown_name} in slot {slot} would "
                                  f"stand beside {module.described}, {top:g} mm tall; "
                                  f"beside a Heater-Shaker nothing may be "
                                  f"{HS_SIDE_MAX_HEIGHT_MM:g} mm tall or more (its labware "
                                  "latch swings there)")

    def check_motion(self, command: Command) -> None:
        """Refuse a move to a closed thermocycler or a move a heater-shaker forbids."""
        point = getattr(command, "point", None)
        if point is None:
            return
        well = getattr(command, "well", None)
        slot = well.split("/")[0] if isinstance(well, str) and "/" in well else None
        slots = {slot} if slot is not None else self._slots_at(point[0], point[1])
        for here, module in self.present().items():
            above = slot is None and point[2] >= self._tops.get(here, float("inf"))
            if (isinstance(module, ThermocyclerContext) and not module.lid_known_open
                    and slots & set(module.slots) and not above):  # a point over the lid
                state = "closed" if module.lid_position != "open" else (
                    "not known to be open (the protocol has not called open_lid(), though "
                    "the lid may stand open)")
                raise ModuleError(f"the pipette cannot go to the labware in "
                                  f"{module.described} while its lid is {state}; open it "
                                  "with open_lid()")
            if isinstance(module, HeaterShakerContext):
                self._check_heater_shaker(module, command, slots, named=slot is not None)

    def _check_heater_shaker(self, module: HeaterShakerContext, command: Command,
                             slots: set[str], *, named: bool) -> None:
        here = module.slots[0]
        sides = neighbours(here, sideways_only=True)
        ends = neighbours(here) - sides  # in front and behind
        if module.shaking:
            if slots & ({here} | sides | ends):
                raise ModuleError(f"the pipette cannot go to or next to {module.described} "
                                  "while it shakes; stop it with deactivate_shaker() first")
            return
        if not named:  # a bare point: Opentrons checks only moves to a labware
            return
        latch = module.labware_latch_status
        if latch != "idle_closed":
            state = ("while its labware latch is open" if latch == "idle_open"
                     else "before the protocol has closed its labware latch")
            if here in slots:
                raise ModuleError(f"the pipette cannot go to the labware on "
                                  f"{module.described} {state}; "
                                  f"close it with "
                                  "close_labware_latch()")
            if slots & sides:
                raise ModuleError(f"the pipette cannot go to the slots left and right of "
                                  f"{module.described} {state}; "
                                  "close it with close_labware_latch()")
            if not self._legacy:
                return
        mount = getattr(command, "mount", None)
        if not isinstance(mount, str) or self._channels(mount) == 1:
            return
        if slots & sides:
            raise ModuleError(f"an 8-channel pipette cannot go to the slots left and right of "
                              f"{module.described}: its nozzles would pass over the module")
        for slot in slots & ends:
            labware = self.deck.occupant(slot) if slot in self.deck.slot_names else None
            if not (isinstance(labware, Labware) and is_tiprack(labware)):
                raise ModuleError(f"an 8-channel pipette can go in front of or behind "
                                  f"{module.described} only to a tip rack, not to slot {slot}")

    def present(self) -> dict[str, ModuleContext]:
        """The loaded modules still on the deck (``del ctx.deck[slot]`` removes one)."""
        return {slot: module for slot, module in self.modules.items()
                if self.deck.occupant(slot) is module}

    def _slots_at(self, x: float, y: float) -> set[str]:
        found = set()
        for slot in self.deck.slot_names:
            origin = self.deck.position_for(slot).point
            if (origin.x <= x <= origin.x + SLOT_SIZE[0]
                    and origin.y <= y <= origin.y + SLOT_SIZE[1]):
                found.add(slot)
        return found


HS_SIDE_MAX_HEIGHT_MM = 53.0
"""Labware left or right of a heater-shaker must be lower than this (Opentrons' rule)."""
HS_SIDE_TALL_ALLOWED = frozenset({
    "opentrons/opentrons_96_filtertiprack_10ul/1", "opentrons/opentrons_96_filtertiprack_200ul/1",
    "opentrons/opentrons_96_filtertiprack_20ul/1", "opentrons/opentrons_96_tiprack_10ul/1",
    "opentrons/opentrons_96_tiprack_20ul/1", "opentrons/opentrons_96_tiprack_300ul/1"})
"""Tip racks allowed beside a heater-shaker however tall: they leave the latch room. As in
Opentrons, by ``namespace/loadName/version``: a custom labware of the same load name (its
own namespace or version) is held to the height rule like any other."""


def _too_tall(uri: str, highest_z: float) -> bool:
    return uri not in HS_SIDE_TALL_ALLOWED and highest_z >= HS_SIDE_MAX_HEIGHT_MM
