"""Planning ``InstrumentContext.transfer``: pairing wells, splitting volumes, options."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from attrs import frozen

from .errors import ProtocolError, UnsupportedAPIError, VolumeError
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
    capacity = pipette._capacity()
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
    return TransferPlan(new_tip, moves, _mix("mix_before", options.get("mix_before")),
                        _mix("mix_after", options.get("mix_after")),
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


def _mix(name: str, value: Any) -> tuple[int, float] | None:
    if value is None:
        return None
    if (not isinstance(value, (list, tuple)) or len(value) != 2
            or not isinstance(value[0], int) or not isinstance(value[1], (int, float))):
        raise ProtocolError(f"transfer: {name} must be (repetitions, volume), not {value!r}")
    return int(value[0]), float(value[1])
