"""Pure helpers of the driver: axis letters, feed rates, time allowances, still states.

Axis mapping: each labrun axis (``X Y Z A B C`` on the built-in robot) is sent under
the same firmware letter unless ``axis_map`` says otherwise. GRBL 6-axis forks
(grblHAL, grbl-Mega-5X), Marlin 2.1 with ``AXIS4..6_NAME`` 'A'..'C' and Smoothieware
all accept X Y Z A B C; a Marlin that drives a plunger as an extruder takes e.g.
``{"B": "E"}``. Positional status reports (GRBL, Smoothieware) list the axes in the
order X Y Z A B C.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from ..config import RobotConfig
from ..kinematics import profile_time
from .dialects import Dialect
from .settings import HomingRates


def default_axis_map(config: RobotConfig, dialect: Dialect,
                     axis_map: Mapping[str, str] | None = None) -> dict[str, str]:
    """labrun axis -> firmware letter: ``axis_map`` where given, else the same letter."""
    mapping = {axis: (axis_map or {}).get(axis, axis) for axis in config.axes}
    for axis, letter in mapping.items():
        if letter not in dialect.axis_letters:
            raise ValueError(f"axis {axis}: {dialect.name} has no axis {letter!r} (it has "
                             f"{', '.join(dialect.axis_letters)}); give an axis_map")
    if len(set(mapping.values())) != len(mapping):
        raise ValueError(f"axis_map sends two axes to one firmware letter: {mapping}")
    return mapping


def feed_for(config: RobotConfig, start: Mapping[str, float], target: Mapping[str, float],
             speed: float | None) -> float:
    """Path speed (mm/s) at which no axis exceeds its own limit, nor ``speed``.

    The firmware's ``F`` is a speed along the path; this one makes the limiting axis
    run at its maximum, as ``hardware.kinematics.plan_move`` assumes.
    """
    deltas = {a: abs(target[a] - start[a]) for a in target}
    path = math.sqrt(sum(d * d for d in deltas.values()))
    limits = [config.axes[a].max_speed * path / d for a, d in deltas.items() if d > 0]
    feed = min(limits) if limits else max(c.max_speed for c in config.axes.values())
    return min(feed, speed) if speed is not None else feed


def homing_time(config: RobotConfig, axes: Sequence[str],
                firmware: HomingRates | None = None) -> float:
    """Generous upper bound of a homing cycle: every axis crossing its travel twice, at
    its own speed or the firmware's homing seek rate if slower, plus the firmware's
    locate phase (``firmware``: the rates the firmware said, GRBL's ``$24``/``$25``/``$27``;
    None: the robot file's speeds are all that is known)."""
    seek = firmware.seek if firmware is not None else math.inf
    locate = firmware.locate_s if firmware is not None else 0.0
    return sum(2.0 * profile_time(c.max - c.min, min(c.max_speed, seek), c.acceleration)
               + locate for a, c in config.axes.items() if a in axes) + 1.0


def is_still(state: str, substate: int | None) -> bool:
    """Whether a status report's state means the axes have stopped."""
    if state in ("Idle", "Alarm", "Sleep"):
        return True
    if state == "Hold":
        return substate in (0, None)
    if state == "Door":
        return substate in (0, 1)
    return False
