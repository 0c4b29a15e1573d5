"""What the engine's parts (pausing, ending) may use of the engine loop.

``Engine`` implements this surface; ``Pausing`` and ``Ending`` are written against it,
so they depend on no private field of the engine and the package has no import circle.
Everything here runs in the engine loop's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Protocol

from hardware.aio import Scope
from hardware.clock import Clock
from hardware.config import RobotConfig
from hardware.controller import HardwareFault, JobPhase, MotionController

from .actions import Action
from .entries import ActionResult, CommandEntry, StepJournal
from .record import RunRecord
from .reducer import EngineEvent
from .robot_model import RobotModel
from .segments import Segment
from .state import RunState

if TYPE_CHECKING:
    from .book import CommandBook
    from .modules import Modules

StalledPolicy = Callable[[RunState], Action | None]
"""Asked what to do when a run is paused on a virtual clock with nothing scheduled."""


class EngineCore(Protocol):
    """The engine loop as its parts see it."""

    controller: MotionController
    clock: Clock
    config: RobotConfig
    record: RunRecord
    model: RobotModel
    book: CommandBook  # the run's commands and their running totals
    on_stalled: StalledPolicy | None
    journal: StepJournal  # the commands of the step in progress, as a rewind needs them
    position_seen: dict[str, float]  # the position as other threads may read it
    position_unknown: str | None  # set when the controller cannot say where it stopped
    modules: Modules  # the run's hardware modules and their devices

    @property
    def state(self) -> RunState:
        """The run state now."""

    def dispatch(self, event: Action | EngineEvent) -> None:
        """Reduce ``event`` into the run state and tell the listeners."""

    def apply(self, action: Action) -> ActionResult:
        """Check and carry out an action."""

    def interruptible(self) -> AbstractContextManager[Scope]:
        """A scope that an immediate pause cancels (motion, unparking, a rewind)."""

    def stopped_by_interlocks(self) -> AbstractContextManager[Scope]:
        """A scope that an interlock tripping cancels (parking, the cleanup)."""

    async def move(self, segment: Segment) -> None:
        """Make one motion; the position is read back if it is cut off."""

    async def read_back(self) -> None:
        """Read the controller's position into the robot model (a fault is ignored)."""

    async def execute(self, entry: CommandEntry) -> None:
        """Run a command's motion plan to its end and record its effect."""

    async def mark_job(self, phase: JobPhase) -> None:
        """Tell the controller's board where the run stands (once for each change)."""

    def on_fault(self, fault: HardwareFault) -> None:
        """A fault the hardware met on its own: a run that waits fails at once."""

    def take_fault(self) -> None:
        """Fail the run on a fault the controller reported while the engine waited."""

    def end_protocol(self) -> None:
        """Close the protocol's channel and cancel what the protocol is doing."""

    async def wait(self) -> None:
        """Sleep until the next state change or request."""
