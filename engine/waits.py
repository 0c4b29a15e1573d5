"""Timed waits inside the engine loop: ``ctx.delay`` (docs/design.md §4).

A wait fixes its deadline when it starts; time runs on during a pause, so after a resume
the run waits only what remains. ``skip_delay`` ends it early; both are recorded.
"""

from __future__ import annotations

from hardware.aio import CancelScope, Scope, checkpoint_if_cancelled

from . import commands as c
from .core import EngineCore
from .entries import CommandEntry
from .reducer import DelayEnded, DelayStarted
from .state import DelayInfo


class Waits:
    """The run's active timed wait, if any."""

    def __init__(self, engine: EngineCore) -> None:
        self.engine = engine
        self._scope: Scope | None = None
        self._left_at_skip: float | None = None

    @property
    def active(self) -> bool:
        """True while the run sleeps toward a deadline."""
        return self._scope is not None

    def skip(self) -> None:
        """End the active wait now (``skip_delay``); skipped while paused, it ends now too:
        the time it had left is what the record says, however long the pause goes on."""
        delay = self.engine.state.delay
        if delay is not None:
            self._left_at_skip = max(0.0, delay.deadline - self.engine.clock.now())
        if self._scope is not None:
            self._scope.cancel()

    async def wait(self, entry: CommandEntry) -> None:
        """Wait out ``entry`` (a delay) to its deadline, fixed the first time it starts."""
        engine, cmd = self.engine, entry.command
        assert isinstance(cmd, c.Delay)
        if entry.deadline is None:
            entry.deadline = engine.clock.now() + cmd.seconds
        state = engine.state
        skipped = state.delay is not None and state.delay.skipped
        engine.dispatch(DelayStarted(DelayInfo(entry.deadline, cmd.seconds, cmd.message,
                                               skipped)))
        if engine.state.pause is not None:  # pending from earlier in the step: taken as
            await checkpoint_if_cancelled()  # it starts (a virtual sleep never checks)
        if not skipped:
            engine.take_fault()
            if engine.state.ending is not None:  # the fault failed the run: its cancel
                await checkpoint_if_cancelled()  # lands now, not at the deadline
            try:
                with CancelScope() as self._scope:
                    if not engine.clock.is_virtual:
                        engine.record.flush()
                    await engine.clock.sleep_until(entry.deadline)
            finally:  # a pause cancels the wait from outside: it is no longer active
                self._scope = None
        state = engine.state
        skipped = state.delay is not None and state.delay.skipped
        left = max(0.0, entry.deadline - engine.clock.now())
        if skipped and self._left_at_skip is not None:
            left = self._left_at_skip
        self._left_at_skip = None
        engine.record.add("delay", id=entry.id, status="skipped" if skipped else "elapsed",
                          remaining=round(left, 6))
        engine.dispatch(DelayEnded())
