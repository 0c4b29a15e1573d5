"""The simulated controller: no I/O, moves take their kinematic time on a clock.

On a ``VirtualClock`` a simulation runs in milliseconds yet reports how long the real
run would take. A move interrupted by cancellation stops where the trajectory is at
that instant of the clock. The simulated robot has a door (an interlock) that tests,
rehearsals and embedding scripts can open and close.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .clock import Clock, VirtualClock
from .config import RobotConfig
from .controller import (
    BoardAction,
    BoardListener,
    FaultListener,
    HardwareFault,
    InterlockListener,
    JobPhase,
    NotHomedError,
    Position,
)
from .kinematics import Trajectory, limiting_axis


class SimulatedController:
    """A ``MotionController`` that moves imaginary axes on a clock."""

    supports_currents = True
    moves_during_interlock = True
    coordinates = "simulated axes"

    def __init__(self, config: RobotConfig, clock: Clock | None = None, *,
                 homed: bool = True) -> None:
        self.config = config
        self.clock: Clock = clock if clock is not None else VirtualClock()
        self._position: Position = {axis: cfg.home for axis, cfg in config.axes.items()}
        self._currents: dict[str, float] = {a: c.run_current for a, c in config.axes.items()}
        self._interlocks: set[str] = set()
        self._listener: InterlockListener | None = None
        self._fault_listener: FaultListener | None = None
        self._board_listener: BoardListener | None = None
        self._lost: HardwareFault | None = None
        self._homed = homed
        self._moving = False
        self.job_marks: list[JobPhase] = []
        """What the run told the board of its job (``mark_job``), in order: a simulated
        robot has no board that shows it."""

    # -- MotionController -------------------------------------------------------------

    @property
    def requires_homing(self) -> bool:
        return not self._homed

    async def connect(self) -> None:
        self._lost = None  # connected again

    async def disconnect(self) -> None:
        return None

    async def home(self, axes: Sequence[str] | None = None) -> Position:
        self._check_connected()
        names = list(axes) if axes is not None else list(self.config.axes)
        # Z axes home first so nothing is dragged across the deck.
        z_first = [a for a in names if a in self.config.z_axes]
        others = [a for a in names if a not in z_first]
        self._homed = True
        for group in (z_first, others):
            if group:
                await self._travel({a: self.config.axes[a].home for a in group}, None)
        return dict(self._position)

    async def move(self, target: Mapping[str, float], speed: float | None = None) -> None:
        if self._lost is not None:  # _check_connected(), written out: once a move
            raise self._lost
        if not self._homed:
            raise NotHomedError("the robot must be homed before it moves (it was halted)")
        problem = self.config.out_of_travel(target)
        if problem is not None:
            raise HardwareFault(problem)
        await self._travel(target, speed)

    async def stop_motion(self) -> Position:
        self._check_connected()
        return dict(self._position)

    async def emergency_stop(self) -> None:
        self._check_connected()
        self._homed = False

    async def read_position(self) -> Position:
        self._check_connected()
        return dict(self._position)

    async def set_currents(self, currents: Mapping[str, float]) -> None:
        self._check_connected()
        self._currents.update(currents)

    async def wait_until_idle(self) -> None:
        self._check_connected()

    async def mark_job(self, phase: JobPhase) -> None:
        self._check_connected()
        self.job_marks.append(phase)

    def active_interlocks(self) -> frozenset[str]:
        return frozenset(self._interlocks)

    def set_interlock_listener(self, listener: InterlockListener | None) -> None:
        self._listener = listener

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        self._fault_listener = listener

    def set_board_listener(self, listener: BoardListener | None) -> None:
        self._board_listener = listener

    # -- simulation only --------------------------------------------------------------

    @property
    def position(self) -> Position:
        """Where the axes are now (a copy)."""
        return dict(self._position)

    @property
    def moving(self) -> bool:
        """True while a move is in progress."""
        return self._moving

    @property
    def connection_lost(self) -> bool:
        """True after ``lose_connection()`` until the next ``connect()``."""
        return self._lost is not None

    @property
    def currents(self) -> dict[str, float]:
        """The current (A) set on each axis."""
        return dict(self._currents)

    def set_interlock(self, name: str, active: bool) -> None:
        """Open (``active=True``) or close an interlock such as ``door``; event loop only."""
        if active == (name in self._interlocks):
            return
        if active:
            self._interlocks.add(name)
        else:
            self._interlocks.discard(name)
        if self._listener is not None:
            self._listener(name, active)

    def ask_at_board(self, action: BoardAction) -> None:
        """Ask for ``action`` as a person at the robot's own board would (a Marlin's LCD
        menu); event loop only."""
        if self._board_listener is not None:
            self._board_listener(action)

    def lose_connection(self, message: str = "the connection to the robot was lost") -> None:
        """Fail as a real controller whose cable is pulled: every call raises until
        ``connect()``, and the fault listener is told now; event loop only."""
        if self._lost is not None:
            return
        self._lost = HardwareFault(message)
        if self._fault_listener is not None:
            self._fault_listener(self._lost)

    def _check_connected(self) -> None:
        if self._lost is not None:
            raise self._lost

    async def _travel(self, target: Mapping[str, float], speed: float | None) -> None:
        position = self._position
        limits = limiting_axis(position, target, self.config.axes, speed)
        duration = limits[0]
        if duration <= 0:
            return
        clock = self.clock
        began = clock.now()
        self._moving = True
        try:
            await clock.sleep_until(began + duration)
        except BaseException:  # cut off: the axes are where the trajectory is now
            elapsed = clock.now() - began  # (``position`` still holds where they began)
            start = {axis: position[axis] for axis in target}
            position.update(Trajectory(start, target, *limits).position_at(elapsed))
            raise
        else:
            # Completed: exactly at the target. (The time it took, read back from the
            # clock, can fall short of the duration in the last bit: not a cut-off.)
            position.update(target)
        finally:
            self._moving = False
