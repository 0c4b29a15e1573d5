"""Planning ``InstrumentContext.transfer``: pairing wells, splitting volumes, options."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from attrs import frozen

from .errors import ProtocolError, TipError, UnsupportedAPIError, VolumeError
from .labware import Well
from .types import Location

if TYPE_CHECKING:
    from .instrument import InstrumentContext

Target = Well | Location

_SUPPORTED = {"new_tip", "mix_before", "mix_after", "blow_out", "blowout_location"}
_IGNORED_WHEN_FALSY = {"touch_tip", "air_gap", "disposal_volume", "carryover", "gradient",
                       "trash"}
_BLOWOUT_LOCATIONS = ("trash", "source well", "destination well")


@frozen
class TransferPlan:
    """What a transfer will do: one (source, destination, volume) per aspirate."""

    new_tip: str
    moves: list[tuple[Target, Target, float]]
    mix_before: tuple[int, float] | None
    mix_after: tuple[int, float] | None
    blow_out: bool
    blowout_location: str


def plan_transfer(pipette: InstrumentContext, volume: float | Sequence[float], source: Any,
                  dest: Any, options: dict[str, Any]) -> TransferPlan:
    """Check a transfer's arguments and split it into aspirate-dispense moves."""
    for key, value in options.items():
        if key in _SUPPORTED:
            continue
        if key in _IGNORED_WHEN_FALSY and not value:
            continue
        raise UnsupportedAPIError(f"transfer: the option {key}={value!r} is not supported "
                                  "by labrun")
    new_tip = options.get("new_tip", "once")
    if new_tip not in ("once", "always", "never"):
        raise ProtocolError(f"transfer: new_tip must be 'once', 'always' or 'never', "
                            f"not {new_tip!r}")
    sources, dests = _targets("source", source), _targets("dest", dest)
    if len(sources) == len(dests):
        pairs = list(zip(sources, dests, strict=True))
    elif len(sources) == 1:
        pairs = [(sources[0], d) for d in dests]
    elif len(dests) == 1:
        pairs = [(s, dests[0]) for s in sources]
    else:
        raise ProtocolError(f"transfer: {len(sources)} sources and {len(dests)} destinations "
                            "cannot be paired; give lists of the same length, or one well "
                            "on one side")
    volumes = _volumes(volume, len(pairs))
    fresh = new_tip == "always" or (new_tip == "once" and not pipette.has_tip)
    if fresh and not pipette.tip_racks and any(volumes):
        raise TipError(f"transfer: new_tip={new_tip!r} needs tip_racks; pass tip_racks to "
                       "load_instrument or pick up a tip and use new_tip='never'")
    # The moves must fit in the tips they will use, next to what a reused tip holds.
    capacity = (pipette._capacity(fresh_tip=True) if fresh
                else pipette._capacity() - pipette.current_volume)
    if capacity <= 1e-9 and any(volumes):
        raise VolumeError(f"transfer: the tip already holds {pipette.current_volume:g} µL, "
                          "all it can take")
    moves: list[tuple[Target, Target, float]] = []
    for (src, dst), amount in zip(pairs, volumes, strict=True):
        if amount == 0:
            continue
        chunks = max(1, math.ceil(amount / capacity - 1e-9))
        moves.extend((src, dst, amount / chunks) for _ in range(chunks))
    blowout_location = options.get("blowout_location", "trash")
    if blowout_location not in _BLOWOUT_LOCATIONS:
        raise ProtocolError(f"transfer: blowout_location must be one of {_BLOWOUT_LOCATIONS}, "
                            f"not {blowout_location!r}")
    mixes = {name: _mix(name, options.get(name), capacity) for name in ("mix_before",
                                                                          "mix_after")}
    return TransferPlan(new_tip, moves, mixes["mix_before"], mixes["mix_after"],
                        bool(options.get("blow_out", False)), blowout_location)


def _targets(name: str, value: Any) -> list[Target]:
    if isinstance(value, (Well, Location)):
        return [value]
    if isinstance(value, (list, tuple)):
        flat: list[Target] = []
        for item in value:
            flat.extend(_targets(name, item) if isinstance(item, (list, tuple)) else [item])
        for item in flat:
            if not isinstance(item, (Well, Location)):
                raise ProtocolError(f"transfer: {name} must be wells or locations; "
                                    f"got {item!r}")
        if not flat:
            raise ProtocolError(f"transfer: {name} is an empty list")
        return flat
    raise ProtocolError(f"transfer: {name} must be a well, a location or a list of them; "
                        f"got {value!r}")


def _volumes(volume: float | Sequence[float], count: int) -> list[float]:
    if isinstance(volume, (list, tuple)):
        if len(volume) != count:
            raise VolumeError(f"transfer: {len(volume)} volumes given for {count} transfers")
        return [_one_volume(v) for v in volume]
    if _is_number(volume):
        return [_one_volume(volume)] * count
    raise VolumeError(f"transfer: volume must be a number or a list, not {volume!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _one_volume(value: object) -> float:
    if not _is_number(value) or not math.isfinite(value):  # type: ignore[arg-type]
        raise VolumeError(f"transfer: volume must be a number of µL, not {value!r}")
    number = float(value)  # type: ignore[arg-type]
    if number < 0:
        raise VolumeError(f"transfer: volume {number:g} µL is negative")
    return number


def _mix(name: str, value: Any, capacity: float) -> tuple[int, float] | None:
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not isinstance(value[0], int) or isinstance(value[0], bool) or value[0] < 0
            or not _is_number(value[1]) or not math.isfinite(value[1]) or value[1] < 0):
        raise ProtocolError(f"transfer: {name} must be (repetitions, volume), not {value!r}")
    if value[1] > capacity + 1e-9:
        raise VolumeError(f"transfer: {name} volume {value[1]:g} µL is more than the tip "
                          f"can take ({capacity:g} µL)")
    return int(value[0]), float(value[1])
