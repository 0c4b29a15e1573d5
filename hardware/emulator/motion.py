"""Motion segments: a trapezoidal move (``hardware.kinematics``) and a feed-hold brake.

A segment is pure: given the seconds since it began, it says where the axes are and
how fast the limiting axis moves. The planner strings them together on the clock.
"""

from __future__ import annotations

from collections.abc import Mapping

from attrs import frozen

from ..kinematics import Trajectory, profile_distance


@frozen
class Profile:
    """A planned coordinated move from rest to rest."""

    trajectory: Trajectory

    @property
    def duration(self) -> float:
        return self.trajectory.duration

    @property
    def target(self) -> Mapping[str, float]:
        return self.trajectory.target

    def position_at(self, t: float) -> dict[str, float]:
        return self.trajectory.position_at(t)

    def covered_at(self, t: float) -> float:
        """Distance (mm) the limiting axis has covered after ``t`` s."""
        tr = self.trajectory
        return profile_distance(t, tr.limiting_distance, tr.limiting_speed,
                                tr.limiting_acceleration)

    def speed_at(self, t: float) -> float:
        """Speed (mm/s) of the limiting axis after ``t`` s."""
        tr = self.trajectory
        if t <= 0 or t >= tr.duration or tr.limiting_distance <= 0:
            return 0.0
        accel = tr.limiting_acceleration
        ramp = min(tr.limiting_speed / accel, tr.duration / 2.0)
        if t < ramp:
            return accel * t
        if t > tr.duration - ramp:
            return accel * (tr.duration - t)
        return accel * ramp

    def brake(self, t: float) -> Brake:
        """Decelerate at the limiting axis' acceleration from where this move is at ``t``."""
        tr = self.trajectory
        per_mm = {axis: (tr.target[axis] - tr.start[axis]) / tr.limiting_distance
                  for axis in tr.target} if tr.limiting_distance > 0 else {}
        return Brake(start=self.position_at(t), per_mm=per_mm, speed=self.speed_at(t),
                     deceleration=tr.limiting_acceleration)


@frozen
class Brake:
    """A controlled stop along the current direction of travel."""

    start: Mapping[str, float]
    per_mm: Mapping[str, float]
    speed: float
    deceleration: float

    @property
    def duration(self) -> float:
        return self.speed / self.deceleration if self.deceleration > 0 else 0.0

    @property
    def target(self) -> dict[str, float]:
        return self.position_at(self.duration)

    def position_at(self, t: float) -> dict[str, float]:
        t = min(max(t, 0.0), self.duration)
        covered = self.speed * t - 0.5 * self.deceleration * t * t
        return {axis: self.start[axis] + self.per_mm.get(axis, 0.0) * covered
                for axis in self.start}

    def speed_at(self, t: float) -> float:
        return max(0.0, self.speed - self.deceleration * t)


Segment = Profile | Brake
