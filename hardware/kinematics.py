"""Trapezoidal motion profiles for coordinated straight-line moves.

Each axis accelerates at its own limit up to its speed limit, cruises and decelerates.
In a coordinated move every axis follows the profile of the slowest (limiting) axis,
scaled to its own distance, so all axes start and stop together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from .config import AxisConfig


def capped_speed(start: Mapping[str, float], target: Mapping[str, float],
                 speed: float | None, caps: Mapping[str, float]) -> float | None:
    """The path speed of a straight move from ``start`` to ``target``, asked at ``speed``
    (None: as fast as the axes go), lowered so that no axis goes faster than its cap in
    ``caps`` (mm/s, by axis: a protocol's ``max_speeds``)."""
    deltas = {axis: abs(value - start.get(axis, value)) for axis, value in target.items()}
    path = math.hypot(*deltas.values())
    for axis, cap in caps.items():
        if deltas.get(axis, 0.0) > 1e-9:
            limit = cap * path / deltas[axis]
            speed = limit if speed is None else min(speed, limit)
    return speed


def profile_time(distance: float, max_speed: float, acceleration: float) -> float:
    """Seconds to travel ``distance`` mm starting and ending at rest."""
    if distance <= 0:
        return 0.0
    ramp = max_speed * max_speed / acceleration  # distance spent accelerating + decelerating
    if distance >= ramp:
        return distance / max_speed + max_speed / acceleration
    return 2.0 * math.sqrt(distance / acceleration)


def profile_distance(t: float, distance: float, max_speed: float, acceleration: float) -> float:
    """Distance covered ``t`` seconds into a profile of ``distance`` mm."""
    total = profile_time(distance, max_speed, acceleration)
    if t <= 0:
        return 0.0
    if t >= total:
        return distance
    ramp_time = min(max_speed / acceleration, total / 2.0)
    peak = acceleration * ramp_time
    if t < ramp_time:
        return 0.5 * acceleration * t * t
    if t <= total - ramp_time:
        return 0.5 * acceleration * ramp_time * ramp_time + peak * (t - ramp_time)
    remaining = total - t
    return distance - 0.5 * acceleration * remaining * remaining


class Trajectory:
    """A planned coordinated move from ``start`` to ``target``.

    A plain slotted class: one is made per simulated move, on the hot path.
    """

    __slots__ = ("duration", "limiting_acceleration", "limiting_distance", "limiting_speed",
                 "start", "target")

    def __init__(self, start: Mapping[str, float], target: Mapping[str, float],
                 duration: float, limiting_distance: float, limiting_speed: float,
                 limiting_acceleration: float) -> None:
        self.start = start
        self.target = target
        self.duration = duration
        self.limiting_distance = limiting_distance
        self.limiting_speed = limiting_speed
        self.limiting_acceleration = limiting_acceleration

    def position_at(self, t: float) -> dict[str, float]:
        """Where every moving axis is ``t`` seconds after the move began."""
        if t >= self.duration or self.limiting_distance <= 0:
            return dict(self.target)
        covered = profile_distance(t, self.limiting_distance, self.limiting_speed,
                                   self.limiting_acceleration)
        fraction = covered / self.limiting_distance
        return {axis: self.start[axis] + (self.target[axis] - self.start[axis]) * fraction
                for axis in self.target}


def plan_move(start: Mapping[str, float], target: Mapping[str, float],
              axes: Mapping[str, AxisConfig], speed: float | None = None) -> Trajectory:
    """Plan a coordinated move of the axes in ``target`` from ``start``.

    ``speed`` caps the speed along the path (mm/s); each axis also keeps its own limits.
    """
    begin = {axis: start[axis] for axis in target}
    return Trajectory(begin, target, *limiting_axis(begin, target, axes, speed))


def limiting_axis(start: Mapping[str, float], target: Mapping[str, float],
                  axes: Mapping[str, AxisConfig], speed: float | None = None,
                  ) -> tuple[float, float, float, float]:
    """The duration of a coordinated move (``plan_move``), and the distance, speed and
    acceleration of the axis that sets it; once a simulated move, which needs the rest of
    its trajectory only when it is cut off."""
    path = 0.0
    if speed is not None:
        deltas = []  # not a generator: no frame to make once a move
        for axis, value in target.items():
            deltas.append(value - start[axis])
        path = math.hypot(*deltas)
    best_t, best_d, best_v, best_a = 0.0, 0.0, 1.0, 1.0  # the limiting axis
    for axis, value in target.items():  # once a simulated move: written for speed
        delta = abs(value - start[axis])
        if delta <= 0:
            continue
        cfg = axes[axis]
        axis_speed, acceleration = cfg.max_speed, cfg.acceleration
        if speed is not None and path > 0:
            axis_speed = min(axis_speed, speed * delta / path)
        t = profile_time(delta, axis_speed, acceleration)
        if t > best_t:
            best_t, best_d, best_v, best_a = t, delta, axis_speed, acceleration
    return best_t, best_d, best_v, best_a
