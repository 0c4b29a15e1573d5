"""The one narrow interface every motion controller implements (docs/design.md §7).

The engine drives the robot only through ``MotionController``. The hardware layer
knows nothing about protocols: it homes, moves axes, stops, reports positions,
currents and interlocks.

Cancellation is how motion is interrupted: when the scope around ``move`` is
cancelled, the controller stops the axes with a controlled deceleration (feed hold,
quickstop), waits until they are still, and only then lets the cancellation
propagate, so the position read afterwards is where the axes really stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

Position = dict[str, float]
"""Axis letter -> position in mm."""

InterlockListener = Callable[[str, bool], None]
"""Called in the engine's event loop with (interlock name, active)."""

FaultListener = Callable[["HardwareFault"], None]
"""Called in the engine's event loop when the controller fails on its own."""

BoardAction = Literal["pause", "resume", "stop"]
"""What a person asked for at the controller's own board (Marlin's LCD menu, a button
wired to the board): pause the run, resume it, stop it."""

BoardListener = Callable[[BoardAction], None]
"""Called in the engine's event loop with each action asked for at the board."""

JobPhase = Literal["started", "paused", "resumed", "ended"]
"""Where the run stands, as the controller's own board is told it (``mark_job``): it has
started moving the robot, is paused, has resumed, has ended."""


class HardwareFault(Exception):
    """The controller failed: an error reply, a timeout, a lost connection, an alarm."""


class NotHomedError(HardwareFault):
    """The robot must be homed before it moves (after a halt or at power-up)."""


@runtime_checkable
class MotionController(Protocol):
    """What the engine needs from a robot's motion controller."""

    @property
    def supports_currents(self) -> bool:
        """Whether ``set_currents`` changes motor currents on this controller."""
        ...

    @property
    def requires_homing(self) -> bool:
        """True after an emergency stop (and before the first home on real hardware)."""
        ...

    @property
    def coordinates(self) -> str:
        """The frame its positions are in, as the run record names it."""
        ...

    @property
    def moves_during_interlock(self) -> bool:
        """Whether ``move`` works while an interlock is active.

        False for firmware that holds motion itself while its door is open (GRBL): it
        refuses moves then (``InterlockActive``), so parking must not try to move it.
        """
        ...

    async def connect(self) -> None:
        """Open the connection and bring the controller to a known state."""
        ...

    async def disconnect(self) -> None:
        """Close the connection; the robot is left as it is."""
        ...

    async def home(self, axes: Sequence[str] | None = None) -> Position:
        """Home ``axes`` (all when None) and return the position afterwards."""
        ...

    async def move(self, target: Mapping[str, float], speed: float | None = None) -> None:
        """Move the named axes in one coordinated straight line, at most ``speed`` mm/s.

        Returns when the motion has finished. If cancelled, stops with a controlled
        deceleration before the cancellation propagates.
        """
        ...

    async def stop_motion(self) -> Position:
        """Stop any motion with a controlled deceleration; return where the axes stopped."""
        ...

    async def emergency_stop(self) -> None:
        """Stop at once with no deceleration and no cleanup; homing is required afterwards."""
        ...

    async def read_position(self) -> Position:
        """The actual position of every axis; ``HardwareFault`` when the controller cannot
        report it (a G-code board after its emergency stop takes no line)."""
        ...

    async def set_currents(self, currents: Mapping[str, float]) -> None:
        """Set the holding/run current (A) of the named axes, where supported."""
        ...

    async def wait_until_idle(self) -> None:
        """Return once every queued motion has finished."""
        ...

    def active_interlocks(self) -> frozenset[str]:
        """The interlocks (``door``, ...) that are active now."""
        ...

    def set_interlock_listener(self, listener: InterlockListener | None) -> None:
        """Register the callback told of every interlock change (in the event loop)."""
        ...

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        """Register the callback told when the controller fails outside any call (the
        connection is lost while nothing is sent); in the event loop. A call in progress
        raises the fault itself as well."""
        ...

    def set_board_listener(self, listener: BoardListener | None) -> None:
        """Register the callback told of every pause, resume or stop a person asks for at
        the controller's own board (in the event loop); a controller with no such board
        never calls it."""
        ...

    async def mark_job(self, phase: JobPhase) -> None:
        """Tell the controller's own board where the run stands, so that its menu offers
        what the run takes: Marlin's print job timer (``M75`` started and resumed, ``M76``
        paused, ``M77`` ended), without which its LCD offers no Pause, Resume or Stop
        print. Nothing waits for motion; a controller without such a board does nothing.
        ``ended`` after an emergency stop sends nothing (the board took no more lines)."""
        ...
