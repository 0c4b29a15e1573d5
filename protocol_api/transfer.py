"""Planning ``transfer``, ``distribute`` and ``consolidate``, as the Opentrons API v2 does.

A plan is a sequence of pipette calls (``Action``), produced lazily because some choices
depend on what the tip holds when they come (a mix before an aspirate only into an empty
tip). Volumes are split the reference's way: a volume above the pipette's maximum is taken
in maximum-sized parts until at most two parts are left, which share what remains
equally; each part is then taken in tip-sized aspirates, filling the tip first. So a
P300 with 200 µL tips moves 1320 µL as 300, 300, 300, 210, 210, each in 200 µL aspirates
and the rest (200 + 100, ..., 200 + 10).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from hardware.frozen import Frozen

from .api_level import require
from .errors import ProtocolError, TipError, VolumeError
from .labware import Labware, TrashBin, Well
from .steps import is_number
from .types import Location

if TYPE_CHECKING:
    from .instrument import InstrumentContext

Target = Well | Location
Action = tuple[str, tuple[Any, ...]]
"""A pipette method's name and its positional arguments."""

_OPTIONS = {"new_tip", "trash", "touch_tip", "blow_out", "blowout_location", "mix_before",
            "mix_after", "carryover", "gradient_function", "disposal_volume", "disposal_vol",
            "air_gap", "mode"}
_BLOWOUT_LOCATIONS = ("trash", "source well", "destination well")
_NO_SINGLE_WELL = {("consolidate", "source well"), ("distribute", "destination well")}
BLOWOUT_LOCATION_API = (2, 8)
"""The apiLevel from which transfer, distribute and consolidate take ``blowout_location``."""
ZERO_PARTS_SKIPPED_API = (2, 8)
"""From this apiLevel, distribute and consolidate move no part of 0 µL."""
_MODES = ("transfer", "distribute", "consolidate")


class TransferOptions(Frozen):
    """A transfer's options, checked."""

    __slots__ = ("air_gap", "blow_out", "disposal_volume", "gradient", "max_volume", "mix_after",
                 "mix_before", "mode", "new_tip", "touch_tip", "trash")

    mode: str
    new_tip: str          # once, always, never
    trash: bool           # drop used tips in the trash (else return them to their rack)
    air_gap: float
    disposal_volume: float
    touch_tip: bool
    blow_out: str | None  # trash, source well, destination well; None: no blow-out
    mix_before: tuple[float, float] | None
    mix_after: tuple[float, float] | None
    max_volume: float     # what one aspirate may take: the pipette with its (next) tip
    # gradient_function: where between a (first, last) gradient's volumes each well's
    # volume lies (0 to 1 in, 0 to 1 out); None: evenly
    gradient: Callable[[float], Any] | None

    def __init__(self, mode: str, new_tip: str, trash: bool, air_gap: float, disposal_volume: float,
                 touch_tip: bool, blow_out: str | None, mix_before: tuple[float, float] | None,
                 mix_after: tuple[float, float] | None, max_volume: float,
                 gradient: Callable[[float], Any] | None = None) -> None:
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "new_tip", new_tip)
        object.__setattr__(self, "trash", trash)
        object.__setattr__(self, "air_gap", air_gap)
        object.__setattr__(self, "disposal_volume", disposal_volume)
        object.__setattr__(self, "touch_tip", touch_tip)
        object.__setattr__(self, "blow_out", blow_out)
        object.__setattr__(self, "mix_before", mix_before)
        object.__setattr__(self, "mix_after", mix_after)
        object.__setattr__(self, "max_volume", max_volume)
        object.__setattr__(self, "gradient", gradient)


def transfer_options(pipette: InstrumentContext, mode: str, trash: bool,
                     options: dict[str, Any], *, holds_tip: bool,
                     capacity: Callable[[bool], float],
                     warn: Callable[[str], None]) -> TransferOptions:
    """Check a liquid-handling call's keyword options, as ``transfer`` takes them
    (``holds_tip``: the pipette has a tip on now; ``capacity(fresh_tip)``: what it holds
    with its tip, or with a new one; ``warn``: says a warning under the call)."""
    for key in options:
        if key not in _OPTIONS:  # Opentrons ignores what it does not know; so do we, aloud
            warn(f"{mode}: {key}={options[key]!r} is not an option of {mode}; ignored, as "
                 "Opentrons does")
    called, mode = mode, options.get("mode", mode)  # the method, and its plan
    if mode not in _MODES:
        raise ProtocolError(f"{mode}: mode must be one of {_MODES}")
    new_tip = options.get("new_tip") or "once"
    if not isinstance(new_tip, str) or new_tip.lower() not in ("once", "always", "never"):
        raise ProtocolError(f"{mode}: new_tip must be 'once', 'always' or 'never', "
                            f"not {new_tip!r}")
    new_tip = new_tip.lower()
    if not trash and new_tip != "never" and pipette.partial_layout:
        # Opentrons fails at the first return, once liquid has moved; said before a tip
        raise TipError(f"{mode}: trash=False returns each tip to its tip rack, which a "
                       "pipette with a partial nozzle layout cannot do; drop the tips "
                       "(trash=True) or call configure_nozzle_layout(ALL) first")
    location = options.get("blowout_location")
    if location:
        require(f"{mode}: blowout_location", BLOWOUT_LOCATION_API, pipette.api_version)
    if location is not None and location not in _BLOWOUT_LOCATIONS:
        raise ProtocolError(f"{mode}: blowout_location must be one of {_BLOWOUT_LOCATIONS}, "
                            f"not {location!r}")
    if (called, location) in _NO_SINGLE_WELL:  # as Opentrons: distribute() and
        # consolidate() refuse it; transfer(mode=...) takes it (the plan's last well)
        many = "sources" if mode == "consolidate" else "destinations"
        raise ProtocolError(f"{mode}: blowout_location cannot be {location!r}; a {mode} "
                            f"has several {many}")
    blow_out = None
    if options.get("blow_out"):
        # Without a location: the trash, or the source when the tip already holds liquid.
        blow_out = location or ("source well" if pipette.current_volume else "trash")
    max_volume = _max_volume(pipette, mode, new_tip, holds_tip, capacity)
    air_gap = _number(mode, "air_gap", options.get("air_gap", 0))  # None fails in Opentrons
    if not 0 <= air_gap < max_volume:
        raise VolumeError(f"{mode}: air_gap must be from 0 µL to below the pipette's working "
                          f"volume, {max_volume:g} µL; not {air_gap:g}")
    disposal = _number(mode, "disposal_volume", options.get("disposal_volume") or 0)
    if disposal and disposal + air_gap >= max_volume:  # said before a tip is picked up
        what = (f"disposal_volume {disposal:g} µL and air_gap {air_gap:g} µL leave"
                if air_gap else f"disposal_volume {disposal:g} µL leaves")
        raise VolumeError(f"{mode}: {what} no room in the {max_volume:g} µL tip")
    mixes = {name: _mix(mode, name, options.get(name)) for name in ("mix_before", "mix_after")}
    for name, mix in mixes.items():
        if mix is not None and mix[1] > max_volume + 1e-9:
            raise VolumeError(f"{mode}: {name} volume {mix[1]:g} µL is more than the tip "
                              f"can take ({max_volume:g} µL)")
    gradient = options.get("gradient_function")
    if gradient is not None and not callable(gradient):
        raise ProtocolError(f"{mode}: gradient_function must be a function of one number "
                            f"(from 0 to 1), not {gradient!r}")
    return TransferOptions(
        mode=mode, new_tip=new_tip, trash=bool(trash), air_gap=air_gap,
        disposal_volume=disposal,
        touch_tip=bool(options.get("touch_tip")), blow_out=blow_out,
        mix_before=mixes["mix_before"], mix_after=mixes["mix_after"],
        max_volume=max_volume, gradient=gradient)


def _max_volume(pipette: InstrumentContext, mode: str, new_tip: str, holds_tip: bool,
                capacity: Callable[[bool], float]) -> float:
    if new_tip != "never":
        if not pipette.tip_racks:
            raise TipError(f"{mode}: new_tip={new_tip!r} needs tip_racks; pass tip_racks to "
                           "load_instrument or pick up a tip and use new_tip='never'")
        return capacity(True)
    if not holds_tip:
        raise TipError(f"{mode} with new_tip='never': the {pipette.mount} pipette has no tip; "
                       "call pick_up_tip() first")
    return capacity(False)


def plan(pipette: InstrumentContext, volume: Any, source: Any, dest: Any,
         opts: TransferOptions) -> Iterator[Action]:
    """The pipette calls that carry out the transfer, in order."""
    sources = _targets(f"{opts.mode}: source", source)
    dests = _targets(f"{opts.mode}: dest", dest)
    if pipette.channels > 1 and not pipette.partial_layout:  # as Opentrons
        two_rows = pipette.api_version >= (2, 2)
        sources = _reachable(sources, two_rows)
        dests = _reachable(dests, two_rows)
        rows = "the first row" if two_rows else \
            "the first row (a 384-well plate's too, below apiLevel 2.2)"
        if not sources and not dests and not two_rows and opts.mode == "transfer":
            yield ("warn", ("unreachable", f"transfer: a multi-channel pipette reaches none "
                            "of these wells with its first nozzle, so nothing is moved, as "
                            f"Opentrons moves nothing; give wells of {rows}"))
            return
        for name, kept in (("source", sources), ("dest", dests)):
            if not kept:  # Opentrons fails too (below apiLevel 2.2, once it took a tip)
                raise ProtocolError(f"{opts.mode}: a multi-channel pipette reaches none of "
                                    f"the {name} wells with its first nozzle; give wells "
                                    f"of {rows}")
    for name, value in (("source", source), ("dest", dest)):
        shape = _nesting_refused_by_opentrons(value)
        if shape is not None:
            yield ("warn", (f"nested {name}", f"{opts.mode}: {name} is {shape}; labrun "
                            "takes it as one list of wells, but Opentrons fails on it "
                            "during the run; give a list of wells (or a list of lists) "
                            "to run there"))
    volumes = _volumes(opts.mode, volume, max(len(sources), len(dests)), opts.gradient)
    steps = _Steps(pipette, opts, sources)
    if opts.mode == "transfer":
        sources, dests = _extend(sources, dests)
    if opts.new_tip == "once":
        yield ("pick_up_tip", ())
    if opts.mode == "transfer":
        yield from steps.transfer(volumes, sources, dests)
    elif opts.mode == "distribute":
        yield from steps.distribute(volumes, dests)
    else:
        yield from steps.consolidate(volumes, dests[0])
    if opts.new_tip == "once":
        yield ("drop_tip" if opts.trash else "return_tip", ())


def split(volumes: Sequence[float], targets: Sequence[Any],
          max_volume: float) -> Iterator[tuple[float, Any]]:
    """Each volume in parts of at most ``max_volume``: whole parts while more than two
    are needed, then the rest in two equal halves (the reference's splitting)."""
    if max_volume <= 0:
        raise VolumeError(f"no volume fits in the tip (at most {max_volume:g} µL left after "
                          "the air gap and disposal volume)")
    for volume, target in zip(volumes, targets, strict=False):
        while volume > 2 * max_volume:
            yield max_volume, target
            volume -= max_volume
        if volume > max_volume:
            volume /= 2
            yield volume, target
        yield volume, target


def _pieces(part: tuple[float, Any], most: float) -> Iterator[tuple[float, Any]]:
    """``part`` in aspirates of at most ``most`` µL: a distribute's part that fits the
    pipette but not, with the disposal volume and air gap, its smaller tip (a
    consolidate's likewise); split as ``split`` splits (whole ones while more than two are
    needed, then two equal halves), so that no piece is a sliver below what the pipette
    measures well. The parts stay whole if nothing fits: the call then refuses the first."""
    if most <= 0 or part[0] <= most + 1e-9:  # fits, within the tolerance volumes have
        yield part
        return
    yield from split([part[0]], [part[1]], most)


class _Steps:
    """The three plans over one pipette and its options."""

    def __init__(self, pipette: InstrumentContext, opts: TransferOptions,
                 sources: list[Target]) -> None:
        self.p, self.o, self.sources = pipette, opts, sources

    def transfer(self, volumes: list[float], sources: list[Target],
                 dests: list[Target]) -> Iterator[Action]:
        o = self.o
        reserve = o.disposal_volume + o.air_gap
        per_tip = o.max_volume - reserve
        for part, (src, dst) in split(volumes, list(zip(sources, dests, strict=True)),
                                      self.p.max_volume - reserve):
            if o.new_tip == "always":
                yield ("pick_up_tip", ())
            moved = 0.0
            while moved < part:
                amount = min(per_tip, part - moved)
                yield from self._aspirate(amount, src)
                yield from self._dispense(amount, dst, src)
                moved += amount
            yield from self._new_tip()

    def distribute(self, volumes: list[float], dests: list[Target]) -> Iterator[Action]:
        o = self.o
        per_tip = o.max_volume - o.disposal_volume - o.air_gap
        parts, warned = self._in_pieces("distribute", split(
            volumes, dests, self.p.max_volume - o.disposal_volume - o.air_gap), per_tip)
        yield from warned
        if o.new_tip == "always":
            yield ("pick_up_tip", ())
        while parts:
            group: list[tuple[float, Target]] = []
            while parts and (sum(v for v, _ in group) + o.disposal_volume + o.air_gap
                             + parts[0][0]) <= o.max_volume + 1e-9:
                self._take(group, parts.pop(0))
            if not group and not parts:
                break  # nothing but parts of 0 µL
            if not group:
                raise VolumeError(f"distribute: {parts[0][0]:g} µL with the disposal volume "
                                  f"and air gap does not fit in the tip ({o.max_volume:g} µL)")
            yield from self._aspirate(sum(v for v, _ in group) + o.disposal_volume,
                                      self.sources[0])
            for index, (amount, dst) in enumerate(group):
                yield from self._dispense(amount, dst, self.sources[0],
                                          more=index < len(group) - 1)
        yield from self._new_tip()

    def consolidate(self, volumes: list[float], dest: Target) -> Iterator[Action]:
        o = self.o
        per_tip = o.max_volume - o.disposal_volume - o.air_gap
        parts, warned = self._in_pieces("consolidate", split(volumes, self.sources,
                                                             self.p.max_volume), per_tip)
        yield from warned
        if o.new_tip == "always":
            yield ("pick_up_tip", ())
        while parts:
            group: list[tuple[float, Target]] = []
            while parts and (sum(v for v, _ in group) + o.disposal_volume
                             + o.air_gap * len(group) + parts[0][0]) <= o.max_volume + 1e-9:
                self._take(group, parts.pop(0))
            if not group and not parts:
                break  # nothing but parts of 0 µL
            if not group:
                raise VolumeError(f"consolidate: {parts[0][0]:g} µL does not fit in the tip "
                                  f"({o.max_volume:g} µL)")
            for amount, src in group:
                yield from self._aspirate(amount, src)
            # Each air gap goes out with the liquid: the dispense adds the last one back.
            # No one source: a blow-out at the "source well" is where the tip is, as in
            # Opentrons (the destination).
            yield from self._dispense(sum(v + o.air_gap for v, _ in group) - o.air_gap, dest,
                                      None)
        yield from self._new_tip()

    def _in_pieces(self, mode: str, split_parts: Iterable[tuple[float, Target]],
                   per_tip: float) -> tuple[list[tuple[float, Target]], list[Action]]:
        """``parts`` (each fits the pipette) in aspirates that fit the tip with the disposal
        volume and air gap (``_pieces``); and, where a part did not, the warning to give
        (a ``warn`` action): Opentrons' own software does not take it in pieces, but moves
        nothing from that part on (it does not fit a tip smaller than the pipette), or, for
        a consolidate's air gap, which it leaves out of its count, fails on it."""
        parts = list(split_parts)
        pieces = [piece for part in parts for piece in _pieces(part, per_tip)]
        if len(pieces) == len(parts):
            return pieces, []
        o = self.o
        big = max(volume for volume, _ in parts)
        air_gap_only = mode == "consolidate" and big + o.disposal_volume <= o.max_volume + 1e-9
        theirs = ("leaves the air gap out of that count and fails on the OT-2 when it takes "
                  "the air gap" if air_gap_only else "moves nothing from that part on")
        kept = " and ".join(what for what, amount in (
            (f"a disposal volume of {o.disposal_volume:g} µL", o.disposal_volume),
            (f"an air gap of {o.air_gap:g} µL", o.air_gap)) if amount)
        said = (f"{mode}: {big:g} µL{' with ' + kept if kept else ''} does not fit the "
                f"{o.max_volume:g} µL tip, so labrun takes it in pieces that do; "
                f"Opentrons' own software {theirs}")
        return pieces, [("warn", ("split", said))]

    def _take(self, group: list[tuple[float, Target]], part: tuple[float, Target]) -> None:
        """Add ``part`` to the group of one aspirate (distribute) or one dispense
        (consolidate); from apiLevel 2.8, as in Opentrons, not a part of 0 µL."""
        if part[0] > 0 or self.p.api_version < ZERO_PARTS_SKIPPED_API:
            group.append(part)

    def _aspirate(self, amount: float, src: Target) -> Iterator[Action]:
        o = self.o
        if o.mix_before and self.p.current_volume == 0:
            yield ("mix", (o.mix_before[0], o.mix_before[1], src))
        yield ("aspirate", (amount, src))
        if o.air_gap:
            yield ("air_gap", (o.air_gap,))
        if o.touch_tip:
            yield ("touch_tip", ())

    def _dispense(self, amount: float, dst: Target, src: Target | None,
                  more: bool = False) -> Iterator[Action]:
        """Dispense into ``dst`` what came from ``src`` (None: several sources)."""
        o = self.o
        yield ("dispense", (amount + o.air_gap, dst))
        if more:  # distribute, between two dispenses of one aspirate
            if o.air_gap:
                yield ("air_gap", (o.air_gap,))
            if o.touch_tip:
                yield ("touch_tip", ())
            return
        if o.mix_after and self.p.current_volume == 0:
            yield ("mix", (o.mix_after[0], o.mix_after[1], dst))
        if o.touch_tip:
            yield ("touch_tip", ())
        if o.blow_out == "trash" or (o.blow_out is None and o.disposal_volume):
            yield ("blow_out", (self.p.trash_labware(self.o.mode).first_well(),))
        elif o.blow_out == "destination well":
            yield ("blow_out", (dst,))
        elif o.blow_out == "source well":
            yield ("blow_out", (src,))

    def _new_tip(self) -> Iterator[Action]:
        if self.o.new_tip == "always":
            yield ("drop_tip" if self.o.trash else "return_tip", ())


def _reachable(targets: list[Target], two_rows: bool) -> list[Target]:
    """For a multi-channel pipette, as the reference: only the targets its first nozzle
    can take, wells of the first row (of the first two rows of a 384-well plate, from
    apiLevel 2.2: ``two_rows``)."""
    kept = []
    for target in targets:
        well = target if isinstance(target, Well) else (
            target.labware.as_well() if target.labware.is_well else None)
        if well is None or isinstance(well.parent, TrashBin):  # the bin: its one well
            kept.append(target)
            continue
        labware = well.parent
        rows = 2 if two_rows and labware.parameters.get("format") == "384Standard" else 1
        if any(well in row for row in labware.rows()[:rows]):
            kept.append(target)
    return kept


def _extend(sources: list[Target], dests: list[Target]) -> tuple[list[Target], list[Target]]:
    """Repeat each item of the shorter list so both have the longer one's length."""
    short, long = (sources, dests) if len(sources) <= len(dests) else (dests, sources)
    if len(long) % len(short):
        raise ProtocolError(f"transfer: {len(sources)} sources and {len(dests)} destinations "
                            "cannot be paired; one list's length must divide the other's")
    stretched = [item for item in short for _ in range(len(long) // len(short))]
    return (stretched, long) if short is sources else (long, stretched)


def _targets(name: str, value: Any) -> list[Target]:
    if isinstance(value, (Well, Location)):
        return [value]
    if isinstance(value, Labware):
        raise ProtocolError(f"{name} must be wells or locations, not the labware {value!r}")
    if isinstance(value, (list, tuple)):
        flat: list[Any] = []
        for item in value:
            flat.extend(item if isinstance(item, (list, tuple)) else [item])
        for item in flat:
            if not isinstance(item, (Well, Location)):
                raise ProtocolError(f"{name} must be wells or locations; got {item!r}")
        if not flat:
            raise ProtocolError(f"{name} is an empty list")
        return flat
    raise ProtocolError(f"{name} must be a well, a location or a list of them; got {value!r}")


def _nesting_refused_by_opentrons(value: Any) -> str | None:
    """What makes ``value`` (a source or dest) a shape that labrun flattens and Opentrons
    fails on, or None: a tuple, or a list that holds lists (or tuples) unless all its
    items are lists (Opentrons flattens a list only when its first item is a list, and
    hands a tuple on whole)."""
    if isinstance(value, tuple):
        return "a tuple"
    if (isinstance(value, list) and any(isinstance(item, (list, tuple)) for item in value)
            and not all(isinstance(item, list) for item in value)):
        return "a list of wells and lists (or tuples) together"
    return None


def _volumes(mode: str, volume: Any, count: int,
             gradient: Callable[[float], Any] | None = None) -> list[float]:
    if isinstance(volume, tuple) and len(volume) >= 2:  # a gradient, first to last
        low, high = _number(mode, "volume", volume[0]), _number(mode, "volume", volume[-1])
        if count == 1:
            return [low]
        if gradient is None:  # evenly
            return [low + (high - low) * i / (count - 1) for i in range(count)]
        return [_number(mode, "volume (from gradient_function)",
                        low + (high - low) * gradient(i / (count - 1))) for i in range(count)]
    if isinstance(volume, (list, tuple)):
        if len(volume) != count:
            raise VolumeError(f"{mode}: {len(volume)} volumes given for {count} transfers")
        return [_number(mode, "volume", v) for v in volume]
    return [_number(mode, "volume", volume, lists=True)] * count


def _number(mode: str, name: str, value: Any, *, lists: bool = False) -> float:
    """``value`` µL, checked; ``lists``: the option takes a list too (said if refused)."""
    if not is_number(value):
        raise VolumeError(f"{mode}: {name} must be a number of µL"
                          f"{' (or a list of them)' if lists else ''}, not {value!r}")
    if value < 0:
        raise VolumeError(f"{mode}: {name} {value:g} µL is negative")
    return float(value)


def _mix(mode: str, name: str, value: Any) -> tuple[float, float] | None:
    """``mix_before`` or ``mix_after``: (repetitions, volume), each any real number (a
    count that is not whole is ``mix``'s to round, as it says), or None for none."""
    if value is None or value == (0, 0) or value == [0, 0]:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not is_number(value[0]) or value[0] < 0):
        raise ProtocolError(f"{mode}: {name} must be (repetitions, volume), not {value!r}")
    repetitions = value[0]
    repetitions = int(repetitions) if repetitions == int(repetitions) else float(repetitions)
    return repetitions, _number(mode, name, value[1])


