"""``GcodeController``: the ``MotionController`` over any transport and dialect.

A move is one ``G1`` to absolute targets followed by the dialect's wait line (``G4 P0``
or ``M400``), so ``move`` returns when the axes are still. Cancelling ``move`` stops the
axes before the cancellation propagates, shielded:

- feed hold (GRBL): ``!`` goes out at once, the driver polls ``?`` until the axes are
  still, then discards the held motion (a soft reset in ``Hold:0``, which keeps the
  position);
- quickstop (Marlin): ``M410`` at once (emergency parser), again in order to catch a
  move planned meanwhile, then ``M400``; a Marlin without its emergency parser (no
  ``Cap:EMERGENCY_PARSER:1`` in its ``M115``, read at connection) acts on ``M410`` only
  once the move under way ends, so there the move is waited out;
- Smoothieware, whose feed hold lets the move under way run to its end: the move is
  waited out (its wait line answered);

and then reads back where the axes really stopped. ``emergency_stop`` sends 0x18 or
``M112`` and leaves the robot needing ``home()`` (which unlocks with ``$X``/``M999``
first); no line is written in between, so a stop already under way cannot undo it. The
robot is also considered unhomed after ``connect()``, after an alarm and after an
unexpected firmware restart; those, and an endstop hit, reach the fault listener when
the firmware has them on its own. A pause, resume or stop a person asks for at the board
(Marlin's host action commands, ``//action:pause``) reaches the board listener;
``mark_job`` runs Marlin's print job timer (``M75``/``M76``/``M77``), without which its
LCD offers none of them.

Axis letters: labrun's axes map to firmware letters through ``axis_map`` (default: the
same letter, which GRBL 6-axis forks, Marlin with ``AXIS4..6_NAME 'A'..'C'`` and
Smoothieware all accept). A robot may have any subset of axes.

Coordinates: every move and every read is in machine coordinates (``G53`` and ``MPos``,
or ``WPos`` plus the latest ``WCO``; Marlin's logical frame, in which it both moves and
reports), whatever work offsets the controller holds. Homing: axes with a switch are
homed by the firmware's cycle and their position is then read and checked against the
robot file; an axis with ``homing = "none"`` takes its configured ``home`` as wherever
it stands at the first ``home()`` after connecting (the driver keeps that origin).
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import time
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import anyio

from ..config import RobotConfig, slowest_feed
from ..controller import (
    BoardListener,
    FaultListener,
    HardwareFault,
    InterlockListener,
    JobPhase,
    NotHomedError,
    Position,
)
from ..kinematics import plan_move
from .dialects import Dialect, configured_dialect
from .dialects.marlin import emergency_parser_of
from .errors import (
    CommandUnknown,
    ConnectionLost,
    ControllerAlarm,
    ControllerError,
    ControllerTimeout,
    InterlockActive,
    MotionInterrupted,
    SettingsMismatch,
    TooSlow,
)
from .events import (
    Alarm,
    Axes,
    BoardRequest,
    EndstopHit,
    Event,
    Info,
    Restarted,
    Status,
    Unhalted,
)
from .link import Link
from .planning import default_axis_map, feed_for, homing_time, is_still
from .settings import (
    HomingRates,
    grbl_build_options,
    grbl_homing,
    grbl_settings,
    grbl_unsafe,
    marlin_settings,
    marlin_unsafe,
    refusal,
)
from .transport import Transport, open_transport

log = logging.getLogger(__name__)

_OFFSET_WORDS = re.compile(r"G\s*(?:10|92|5[4-9])(?!\d)|\$RST", re.IGNORECASE)
"""Lines that may change the work offset (G10, G92, G54..G59, settings reset)."""
HOME_TOLERANCE_MM = 0.05
"""How far the position read after homing may be from the configured ``home``."""
MOVING_STATES = frozenset({"Run", "Jog"})
"""Status states in which a feed hold, had it arrived, would have been reported as
``Hold``."""
STILL_POLL_S = 0.01
"""Status polling period while waiting for a feed hold to come to rest."""
STOP_AGAIN_S = 0.1
"""An emergency stop not yet confirmed is sent again this often (a byte lost on the line:
the firmware confirms a stop within milliseconds)."""
SETTLE_S = 0.1
"""Quiet time awaited after opening a port before the first line (no status query)."""


_NO_EMERGENCY_PARSER_STOP = (
    "without an emergency parser Marlin reads M410 (quickstop) and M112 (emergency stop) "
    "only once the move under way ends, so an immediate pause takes effect then, and a "
    "halt stops the axes only then{}: keep the robot's own emergency stop switch at hand")
"""What a Marlin without emergency parser does with labrun's stops ({}: how soon)."""
AT_CONNECTION = "at_connection"
"""Set (True) on the log record of a warning found at connection, which ``warnings``
keeps too: a caller that says ``warnings`` itself can leave the record out."""


class GcodeController:
    """A G-code motion controller (GRBL, Marlin, Smoothieware) as a ``MotionController``."""

    def __init__(self, config: RobotConfig, *, dialect: Dialect | str | None = None,
                 port: str | None = None, axis_map: Mapping[str, str] | None = None,
                 timeout_s: float | None = None, poll_interval: float | None = None,
                 transport: Transport | None = None, check_settings: bool = True) -> None:
        """Options left out come from ``config.controller`` (its dialect, with Smoothieware's
        ``feed_hold``/``realtime_status``, port, axis map, timeout and poll interval).
        ``check_settings=False`` connects to a controller whose steps/mm disagree with the
        robot file (``labrun doctor``, which reads and lists them); otherwise ``connect``
        refuses it (``settings``)."""
        self.config = config
        self.check_settings = check_settings
        ctl = config.controller
        if isinstance(dialect, Dialect):
            self.dialect = dialect
        else:
            self.dialect = configured_dialect(ctl, dialect)
        self.port = port or ctl.port
        self.timeout_s = ctl.timeout_s if timeout_s is None else timeout_s
        self.poll_interval = ctl.poll_interval if poll_interval is None else poll_interval
        self.axis_map = default_axis_map(config, self.dialect,
                                         ctl.axis_map if axis_map is None else axis_map)
        self._transport = transport
        self._link: Link | None = None
        self._listener: InterlockListener | None = None
        self._fault_listener: FaultListener | None = None
        self._board_listener: BoardListener | None = None
        self._pausing_job = False
        """The job's pause line (Marlin's ``M76``) awaits its ``ok``: a ``//action:pause``
        meanwhile is the board repeating it (``HOST_PAUSE_M76``), not a person (the run
        is paused by then: a person's pause would change nothing)."""
        self._unhomed: set[str] = set(config.axes)
        self._board_held = False
        """A feed hold someone set at the board (GRBL ``Hold``) has not been resumed: a
        door opened and closed since (``Door:0``) leaves it theirs to end, not labrun's
        ``~``. A reset ends it."""
        self._origin: dict[str, float] = {}
        """Added to the firmware's position of an axis without homing switch."""
        self._lost: str | None = None
        """Why the origin of the switchless axes is no longer known (None: it is)."""
        self._commanded: Position = {}
        self._needs_init = True
        self._halted = False
        """An emergency stop was sent: nothing unlocks or sets up the firmware again
        until ``home()`` (or a new connection)."""
        self._stopping: set[anyio.CancelScope] = set()
        """Waits for the axes to stop that an emergency stop ends: it stops them itself,
        and a board that dies with its stop would hold them for the whole timeout."""
        self._connected = False
        """Set up: alarms and restarts from now on are news for the fault listener."""
        self._endstops_raised = 0
        """The link's ``endstop_seq`` up to which endstop hits have been raised."""
        self._intentional_reset = False
        self._motion_until = 0.0
        self._interruptions = 0
        self._interrupted_by = ""
        self._printed: list[list[str]] = []  # collectors of ``query``
        self._settings_checked = not check_settings
        self._homing_rates: HomingRates | None = None
        """The firmware's own homing rates, when it said them (GRBL's ``$$``): a homing
        cycle is allowed the time they take (GRBL answers nothing while it homes)."""
        self._homes_single_axes = True
        """The firmware's cycle can home some axes only (GRBL: ``H`` in ``$I``'s options)."""
        self._capabilities_read = False
        self.emergency_parser: bool | None = None
        """Marlin: whether its ``M115`` said ``Cap:EMERGENCY_PARSER:1`` (None: not read
        yet, or not Marlin). Without it, ``M410`` and ``M112`` act only once the move
        under way ends."""
        self.warnings: list[str] = []
        """What the user should know about this controller, found at connection (also
        logged as warnings)."""
        self.currents_unknown = False
        """Whether the firmware said it does not know the dialect's currents line (a
        Marlin built without TMC drivers and ``M906``): not sent again on this
        connection, and ``supports_currents`` is False."""
        self.home_moved = False
        """Whether the last ``home()`` sent anything that moves the robot (its homing
        cycle, a switchless axis's travel): False if it ended (or was cancelled) before."""
        self.home_held = False
        """Whether the last ``home()`` found a feed hold set at the board, and waited for
        it to be resumed there before sending anything."""

    # -- MotionController -------------------------------------------------------------

    @property
    def supports_currents(self) -> bool:
        return self.dialect.supports_currents and not self.currents_unknown

    @property
    def requires_homing(self) -> bool:
        return bool(self._unhomed)

    @property
    def moves_during_interlock(self) -> bool:
        return not self.dialect.interlock_blocks_motion

    async def connect(self) -> None:
        """Open the port, start the reader and bring the firmware to mm/absolute mode;
        connected already, nothing, unless the connection was lost since (the cable
        pulled, the controller reset): then it is opened again, and the robot must be
        homed again."""
        if self._link is not None:
            if self._link.fault is None:
                return
            await self.disconnect()
        transport = self._transport or await open_transport(
            self.port, baudrate=self.config.controller.baudrate, timeout=self.timeout_s)
        self._transport = None  # a given transport is used once
        link = Link(self.dialect, transport, timeout_s=self.timeout_s,
                    poll_interval=self.poll_interval, on_event=self._on_event,
                    on_interlock=self._on_interlock, on_fault=self._on_fault)
        await link.start()
        self._link = link
        self._unhomed = set(self.config.axes)
        self._board_held = False
        self._origin, self._lost = {}, None
        self._halted = self._connected = False
        self._endstops_raised = 0
        self._needs_init = True
        self._settings_checked = not self.check_settings
        self._homing_rates = None
        self._homes_single_axes = True
        self._capabilities_read = False
        self.emergency_parser = None
        self.warnings = []
        self.currents_unknown = False
        try:
            await self._handshake()
            # GRBL reads its settings in an alarm; the others are asked once home() has
            # brought them back
            locked = self._halted or (link.alarm is not None and self.dialect.name != "grbl")
            # GRBL answers no $I in a hold or a door's (error:8): asked in home(), once left
            held = link.status is not None and link.status.state in ("Hold", "Door")
            if not (self._settings_checked or locked or held):
                await self._check_settings()
            if not locked:
                await self._read_capabilities()
            self._connected = True
        except HardwareFault as exc:
            with anyio.CancelScope(shield=True):
                await self.disconnect()
            other = other_firmware(link.heard, self.dialect.name)
            if other is None:
                raise
            raise type(exc)(f"{exc}; {other}") from exc
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self.disconnect()
            raise

    async def disconnect(self) -> None:
        """Stop the reader and close the port; the robot is left as it is."""
        link, self._link = self._link, None
        if link is not None:
            await link.close()

    async def __aenter__(self) -> GcodeController:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.disconnect()

    async def home(self, axes: Sequence[str] | None = None) -> Position:
        """Home ``axes`` (all when None): the firmware's cycle for axes with a switch, then
        the position read back and checked; switchless axes get their origin or go home.
        A line the firmware rejects as another firmware would says so (the robot file's
        dialect is wrong: the first line a run sends after connecting may be here)."""
        link = self._live()
        try:
            return await self._home(axes)
        except ControllerError as exc:
            other = other_firmware([str(exc), *link.heard], self.dialect.name)
            if other is None:
                raise
            raise ControllerError(f"{exc}; {other}") from exc

    async def _home(self, axes: Sequence[str] | None) -> Position:
        link = self._live()
        self.home_moved = self.home_held = False
        names = list(axes) if axes is not None else list(self.config.axes)
        self._check_axes(names)
        if not names:
            return await self.read_position()
        if self._halted or link.alarm is not None:
            await self.recover()
        await self._ready()
        # A door opened and closed while nothing ran leaves GRBL waiting for cycle start
        # (Door:0), where it refuses a homing cycle ('$' commands need Idle): its state
        # read now (a rare call; a move trusts the last report), and the hold left.
        if self.dialect.cycle_resume is not None and self.dialect.status_query is not None:
            await link.fresh_status()
        self.home_held = link.status is not None and self._held_at_the_board(link.status)
        await self._leave_hold()
        active = self.active_interlocks()
        if active:  # (GRBL's own hold refused it above): nothing homes behind an open door
            raise InterlockActive(f"{', '.join(sorted(active))} open: labrun does not home "
                                  "the robot until it is closed")
        if not self._settings_checked:  # halted, in an alarm or a hold at connect
            await self._check_settings()
        if not self._capabilities_read:
            await self._read_capabilities()
        switched = [a for a in names if self.config.axes[a].homing == "switch"]
        if switched and not self._homes_single_axes:
            # Stock GRBL homes all its axes or none: it answers $HX with error:3, left
            # in its Home state, where no move starts until a reset
            switched = [a for a, c in self.config.axes.items() if c.homing == "switch"]
        if switched:
            await self._home_cycle(switched)
        position = await self.read_position()
        self._check_home(switched, position)
        self._unhomed -= set(switched)
        free = [a for a in names if self.config.axes[a].homing == "none"]
        if free:
            position = await self._home_free(free, position)
        self._commanded.update(position)
        return position

    async def _home_cycle(self, axes: list[str]) -> None:
        """Run the firmware's homing cycle for ``axes``; a cycle that alarms is a fault."""
        link = self._live()
        with_switch = [a for a, c in self.config.axes.items() if c.homing == "switch"]
        whole = set(axes) == set(with_switch) and (
            self.dialect.cycle_homes_configured_axes or len(with_switch) == len(self.axis_map))
        # Z axes first, so nothing is dragged across the deck.
        ordered = sorted(axes, key=lambda a: a not in self.config.z_axes)
        lines = self.dialect.home_lines(None if whole else [self.axis_map[a] for a in ordered])
        extra = homing_time(self.config, axes, self._homing_rates)
        alarms, restarts = link.alarm_seq, link.restart_seq
        self._motion_until = time.monotonic() + extra  # an emergency stop may wait it out
        self.home_moved = True
        try:
            for line in lines:
                await link.streamer.request(line, extra_timeout=extra)
        except anyio.get_cancelled_exc_class():
            # The firmware's cycle runs on by itself once started: only a reset stops it
            # (the axes are then unhomed, and the next home recovers first).
            with anyio.CancelScope(shield=True), contextlib.suppress(HardwareFault):
                await self.emergency_stop()
            raise
        except ControllerError as exc:
            hint = (' (no homing cycle: give these axes homing = "none" in the robot file)'
                    if "error:5" in str(exc) else "")
            raise ControllerError(f"homing {', '.join(axes)} failed: {exc}{hint}") from exc
        except HardwareFault as exc:
            if link.alarm_seq > alarms or link.restart_seq > restarts:
                await self._homing_alarmed(axes, restarts)
            raise type(exc)(f"homing {', '.join(axes)} failed: {exc}") from exc
        if link.alarm_seq > alarms or link.restart_seq > restarts:
            await self._homing_alarmed(axes, restarts)
        link.alarm = None

    async def _homing_alarmed(self, axes: list[str], restarts: int) -> None:
        """The homing cycle alarmed: raise that, once the reset it causes has come (GRBL:
        the banner follows the ``ok``), so that the next ``home()`` starts afresh."""
        link = self._live()
        if self.dialect.alarm_resets:
            await link.wait_until(lambda: link.restart_seq > restarts, self.timeout_s)
        raise ControllerAlarm(f"homing {', '.join(axes)} failed: "
                              f"{link.alarm or 'the controller restarted'}; "
                              "the axes are not homed")

    def _check_home(self, axes: list[str], position: Position) -> None:
        """The firmware must have left every homed axis at its configured ``home``."""
        wrong = [a for a in axes
                 if abs(position[a] - self.config.axes[a].home) > HOME_TOLERANCE_MM]
        if wrong:
            found = ", ".join(f"{a} at {position[a]:.3f}" for a in wrong)
            said = ", ".join(f"[axes.{a}] home = {self.config.axes[a].home:g}" for a in wrong)
            raise HardwareFault(
                f"after homing, the controller reports {found} mm ({self.dialect.coordinates} "
                f"coordinates) but the robot file says {said}: set each axis' home, min and "
                "max to the firmware's coordinates (GRBL puts machine zero at the switches, "
                "with the travel on the negative side) or fix the firmware's homing settings")

    async def _home_free(self, axes: list[str], position: Position) -> Position:
        """Switchless axes: the first home takes where they stand as ``home``; later ones
        move them there, unless their position was lost since."""
        if self._lost is not None:
            home = ", ".join(f"{a} {self.config.axes[a].home:g}" for a in axes)
            raise HardwareFault(
                f"axis {', '.join(axes)} has no homing switch (homing = \"none\") and its "
                f"position was lost ({self._lost}): jog it to its home point ({home} mm) "
                "and reconnect")
        new = [a for a in axes if a not in self._origin]
        for axis in new:
            self._origin[axis] = (self._origin.get(axis, 0.0) + self.config.axes[axis].home
                                  - position[axis])
        self._unhomed -= set(new)
        again = {a: self.config.axes[a].home for a in axes if a not in new}
        if again:
            self.home_moved = True
            await self._travel(again, None)
        return await self.read_position()

    async def move(self, target: Mapping[str, float], speed: float | None = None) -> None:
        self._live()
        if self.requires_homing:
            raise NotHomedError("the robot must be homed before it moves "
                                f"(unhomed: {', '.join(sorted(self._unhomed))})")
        self._check_axes(target)
        if not target:
            return
        await self._travel(target, speed)

    async def _travel(self, target: Mapping[str, float], speed: float | None) -> None:
        """One coordinated move in machine coordinates, waited for until the axes are still."""
        link = self._live()
        problem = self.config.out_of_travel(target)
        if problem is not None:
            raise HardwareFault(problem)
        await self._ready()
        await self._leave_hold()
        start = {a: self._commanded.get(a, value) for a, value in target.items()}
        feed = feed_for(self.config, start, target, speed) * 60.0
        slowest = slowest_feed(self.dialect.name)
        if feed < slowest:
            raise TooSlow(f"a move at {feed / 60:.3g} mm/s is slower than {self.dialect.name} "
                          f"moves (at least {slowest / 60:.3g} mm/s): it would not go at the "
                          "speed asked (a flow rate or speed too low)")
        duration = plan_move(start, target, self.config.axes, speed).duration
        line = self.dialect.move_line({self.axis_map[a]: v - self._origin.get(a, 0.0)
                                       for a, v in target.items()}, feed)
        sent_before = link.streamer.lines_sent
        interruptions = self._interruptions
        await self._check_endstops()  # a hit Marlin printed after the last move's ok
        alarms, refusals = link.alarm_seq, link.refused_seq
        try:
            await link.streamer.request(line)
            self._motion_until = time.monotonic() + duration
            if link.alarm_seq > alarms:  # came after the move's ok: no wait line for it
                raise link.alarm_fault()
            await link.streamer.request(self.dialect.wait_line(), extra_timeout=duration + 0.5)
        except anyio.get_cancelled_exc_class():
            if link.streamer.lines_sent > sent_before:
                with anyio.CancelScope(shield=True):
                    await self._stop_quietly()
            raise
        except HardwareFault as exc:
            self._raise_if_interrupted(interruptions, exc)
            raise
        self._raise_if_interrupted(interruptions)
        if link.refused_seq > refusals and link.refused is not None:
            # said while the move was planned, before the wait line was read
            raise ControllerError(f"controller refused {line!r} after its ok: "
                                  f"{link.refused.text}; the robot did not move")
        self._commanded.update(target)
        await self._check_endstops()

    async def _check_endstops(self) -> None:
        """Raise an endstop hit not raised yet (Marlin prints it during the move, or just
        after its ``ok``)."""
        link = self._live()
        if link.endstop_seq == self._endstops_raised or link.endstop_hit is None:
            return
        self._endstops_raised = link.endstop_seq
        with contextlib.suppress(HardwareFault):  # where it stopped, for the next move
            self._commanded = await self.read_position()
        raise HardwareFault(self._endstop_said(link.endstop_hit))

    def _endstop_said(self, hit: EndstopHit) -> str:
        """An endstop hit in labrun's axes and coordinates."""
        axis_of = {fw: axis for axis, fw in self.axis_map.items()}
        where = []
        for letter, value in hit.position.items():
            axis = axis_of.get(letter, letter)
            where.append(f"{axis} at {value + self._origin.get(axis, 0.0):.2f} mm")
        stopped = (f"axis {where[0]}" if len(where) == 1 else
                   f"axes {', '.join(where)}" if where else f"an axis ({hit.text})")
        return (f"an endstop stopped {stopped} during a move: the robot is not where it "
                "was sent")

    async def stop_motion(self) -> Position:
        self._live()
        self._interrupt("stop_motion()")
        with anyio.CancelScope(shield=True):
            await self._halt_motion()
        return dict(self._commanded)

    async def emergency_stop(self) -> None:
        """Send the dialect's emergency stop now; wait, at most ``timeout_s``, for the
        firmware to confirm it (an alarm, a halt, a restart). No line is written after it
        until ``home()`` recovers the robot.

        Even on a link already failed (a timeout, a resend limit) the stop is written, and
        its confirmation still awaited. ``ConnectionLost`` when it cannot be written,
        ``ControllerTimeout`` when it is not confirmed.
        """
        link = self._link
        if link is None:
            raise ConnectionLost(f"the emergency stop was not sent: not connected to the "
                                 f"controller at {self.port or '?'}")
        self._position_lost("an emergency stop")
        self._halted = True
        self._interrupt("an emergency stop")
        for wait in self._stopping:
            wait.cancel()
        # Before the write, with no await between: a line written after the stop would
        # undo it (Smoothieware's M999, a move).
        link.streamer.lock_out(ControllerAlarm(
            "the controller was emergency-stopped; home the robot to recover"))
        alarms, restarts = link.alarm_seq, link.restart_seq
        failed = link.fault

        def confirmed() -> bool:
            return link.alarm_seq > alarms or link.restart_seq > restarts

        # A Marlin without its emergency parser reads M112 only once the command under
        # way (the move's M400, a homing G28) ends: its confirmation may take that long.
        waits = 0.0
        slow_to_read = self.dialect.quickstop_line is not None and not self.emergency_parser
        if slow_to_read:
            waits = max(0.0, self._motion_until - time.monotonic())
            log.warning("emergency stop: M112 sent; %s", _NO_EMERGENCY_PARSER_STOP.format(
                f" (in up to {waits + 0.5:.3g} s)" if waits > 0 else ""))

        if isinstance(failed, ConnectionLost):  # closed: nothing can be written to it
            raise ConnectionLost(f"the emergency stop was not sent: {failed}")

        async def send_stop() -> None:
            if failed is None:
                await link.write(self.dialect.emergency_stop)
            else:
                await link.transport.send(self.dialect.emergency_stop)

        async def send_again() -> None:
            """A stop lost on the line (noise) is sent again until it is confirmed."""
            while True:
                await anyio.sleep(STOP_AGAIN_S)
                if confirmed():
                    return
                with contextlib.suppress(HardwareFault):  # the wait says what failed
                    await send_stop()

        with anyio.CancelScope(shield=True):
            try:
                await send_stop()
            except HardwareFault as exc:
                raise ConnectionLost(f"the emergency stop was not sent: {exc}") from exc
            fault: HardwareFault | None = None  # raised after the group, which would wrap it
            async with anyio.create_task_group() as tg:
                if not slow_to_read:  # else it reads the stop once the command under way ends
                    tg.start_soon(send_again)
                if failed is None:
                    try:
                        await link.wait_for(confirmed, "the controller to confirm the "
                                            "emergency stop", timeout=self.timeout_s + waits)
                    except HardwareFault as exc:
                        fault = exc
                    answered = True
                else:
                    answered = await link.wait_until(confirmed, self.timeout_s + waits)
                tg.cancel_scope.cancel()
            if fault is not None:
                raise fault
            if not answered:
                raise ControllerTimeout(
                    f"{link.transport.description}: the emergency stop was sent but not "
                    f"confirmed within {self.timeout_s:g} s (the connection had already "
                    f"failed: {failed})")

    async def read_position(self) -> Position:
        link = self._live()
        reported: Axes | None
        if self.dialect.status_query is not None:
            _, reported = await link.machine_status()
        else:
            line = self.dialect.position_line()
            assert line is not None
            seq = link.position_seq
            await link.streamer.request(line)
            reported = link.position if link.position_seq > seq else None
        if reported is None:
            raise HardwareFault("the controller's answer carried no position")
        return self._from_firmware(reported)

    def _from_firmware(self, reported: Axes) -> Position:
        missing = [a for a, fw in self.axis_map.items() if fw not in reported]
        if missing:
            raise HardwareFault(f"the controller reported no position for axis "
                                f"{', '.join(missing)} (firmware letters "
                                f"{', '.join(self.axis_map[a] for a in missing)}); "
                                "remove the axes it does not have from the robot file "
                                "([axes] A = false) or give an axis_map")
        return {axis: reported[fw] + self._origin.get(axis, 0.0)
                for axis, fw in self.axis_map.items()}

    async def set_currents(self, currents: Mapping[str, float]) -> None:
        """Set motor currents. Lower currents while parked are only a saving (less heat):
        a firmware that does not know the line (Marlin without TMC drivers: ``M906``) is
        warned of once and sent it no more on this connection; the motors keep the
        current the board gives them."""
        link = self._live()
        self._check_axes(currents)
        line = self.dialect.currents_line({self.axis_map[a]: v for a, v in currents.items()})
        if line is not None and currents and not self.currents_unknown:
            await self._ready()
            try:
                await link.streamer.request(line)
            except CommandUnknown as exc:
                self.currents_unknown = True
                warning = (f"{exc}; labrun sends it no more on this connection: the motors "
                           "keep the current the board gives them, while parked too")
                log.warning("%s", warning)

    async def wait_until_idle(self) -> None:
        link = self._live()
        await self._ready()
        extra = max(0.0, self._motion_until - time.monotonic()) + 0.5
        await link.streamer.request(self.dialect.wait_line(), extra_timeout=extra)

    async def mark_job(self, phase: JobPhase) -> None:
        """The dialect's job line, as any line (a lost link raises); ``ended`` sends nothing
        after an emergency stop or in an alarm, where the board takes no line (Marlin's
        ``M112`` killed it, and its timer, until a reset)."""
        link = self._live()
        line = self.dialect.job_line(phase)
        if line is None or (phase == "ended" and (self._halted or link.alarm is not None)):
            return
        await self._ready()
        self._pausing_job = phase == "paused"
        try:
            await link.streamer.request(line)
        finally:
            self._pausing_job = False

    def active_interlocks(self) -> frozenset[str]:
        link = self._link
        if link is None:
            return frozenset()
        return frozenset(name for name, active in link.interlocks.items() if active)

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        self._fault_listener = listener

    def set_interlock_listener(self, listener: InterlockListener | None) -> None:
        self._listener = listener

    def set_board_listener(self, listener: BoardListener | None) -> None:
        self._board_listener = listener

    # -- beyond the interface ---------------------------------------------------------

    async def recover(self) -> None:
        """Clear an alarm or halt (``$X``, ``M999``; after GRBL's hard limit a reset
        first); the robot still needs homing."""
        link = self._live()
        link.streamer.unlock()
        if link.reset_required:
            restarts = link.restart_seq
            self._intentional_reset = True
            try:
                await link.write(self.dialect.emergency_stop)  # GRBL: its soft reset
                await link.wait_for(lambda: link.restart_seq > restarts,
                                    "the controller to restart after the reset")
            finally:
                self._intentional_reset = False
        for line in self.dialect.unlock_lines():
            await link.streamer.request(line, numbered=False)
        link.alarm = None
        self._halted = False
        await self._initialize()
        await self._ask_interlocks()  # not asked while it was halted: a door opened since

    async def set_motors_enabled(self, enabled: bool, axes: Sequence[str] | None = None) -> None:
        """Switch motors on or off (Marlin, Smoothieware; GRBL has no such command)."""
        link = self._live()
        if axes is not None:
            self._check_axes(axes)
        line = self.dialect.motors_line(
            enabled, None if axes is None else [self.axis_map[a] for a in axes])
        if line is not None:
            await self._ready()
            await link.streamer.request(line)
        if not enabled and self.dialect.supports_motor_enable:
            self._unhomed |= set(axes if axes is not None else self.config.axes)

    async def send_gcode(self, lines: Iterable[str]) -> list[str]:
        """Stream raw lines with the dialect's flow control; return each answer's text."""
        link = self._live()
        await self._ready()
        lines = list(lines)
        shifts = any(_OFFSET_WORDS.search(line) for line in lines)
        if shifts:
            link.work_offset = None  # known again from the next WCO: (GRBL sends it then)
        entries = [await link.streamer.submit(line) for line in lines]
        answers = [(await link.streamer.wait(entry)).payload for entry in entries]
        if shifts:  # a WCO in a report sent before the ok is the old offset
            link.work_offset = None
        return answers

    async def query(self, line: str) -> list[str]:
        """Send ``line`` and return what the firmware printed up to its answer, one item
        a line, the answer's own text last if it has any (``$$``, ``$#``, ``$I``,
        ``M115``, ``M503``). Works in an alarm too (settings can be read while locked)."""
        link = self._live()
        printed: list[str] = []
        self._printed.append(printed)
        try:
            answer = await link.streamer.request(line)
        finally:
            self._printed.remove(printed)
        return printed + ([answer.payload] if answer.payload else [])

    @property
    def coordinates(self) -> str:
        """The frame every move and read uses on the wire (for the run record)."""
        return {"machine": "machine coordinates (G53 moves, machine position reads)",
                "logical": "Marlin's logical coordinates (G1 moves, M114 reads)"}.get(
                    self.dialect.coordinates, self.dialect.coordinates)

    @property
    def link(self) -> Link:
        """The live connection (for diagnostics)."""
        return self._live()

    @property
    def reported_position(self) -> Position | None:
        """The position in the latest status report, without asking (None if unknown).

        Status polling keeps it fresh on GRBL and Smoothieware; Marlin has no such
        report. For displays: ``read_position`` is the authoritative answer.
        """
        link = self._link
        status = link.status if link is not None else None
        reported = link.machine_position(status) if link and status else None
        if reported is None or any(fw not in reported for fw in self.axis_map.values()):
            return None
        return self._from_firmware(reported)

    # -- internals --------------------------------------------------------------------

    def _live(self) -> Link:
        link = self._link
        if link is None:
            raise HardwareFault(f"not connected to the controller at {self.port or '?'}")
        if link.fault is not None:
            raise link.fault
        return link

    async def _handshake(self) -> None:
        link = self._live()
        if self.dialect.status_query is None:
            # Without a realtime query to sync on, let a start-up banner (and the
            # board's reset) pass first; an "ok" racing a banner is ambiguous.
            await link.settle(SETTLE_S)
        else:
            try:
                status = await link.fresh_status()
            except ControllerTimeout as exc:
                if self.dialect.name != "grbl":
                    raise
                # Indistinguishable from a dead board, but for the time it takes
                raise ControllerTimeout(
                    f"{exc} (GRBL answers nothing while it homes: if a homing cycle was "
                    "under way when a connection to it was lost, connect again once it has "
                    "ended)") from exc
            if status.state == "Alarm":
                link.alarm = link.alarm or "alarm at connect"
            elif status.state in ("Run", "Jog") and self.dialect.flush_after_hold is not None:
                await self._stop_left_motion(status.state)
        for attempt in range(3):
            if link.alarm is not None:
                break
            restarts = link.restart_seq
            try:
                await self._initialize()
                break
            except ControllerAlarm:
                self._halted = True
            except ControllerError:
                # A board that resets when the port opens prints its banner after our
                # first line and discards it: try again once it has restarted.
                if link.restart_seq == restarts or attempt == 2:
                    raise
        if not self._halted and link.alarm is None:
            await self._ask_interlocks()

    async def _stop_left_motion(self, state: str, *, resumed: bool = False) -> None:
        """GRBL still runs motion sent before it was connected (a connection lost mid-move,
        which GRBL does not notice), as labrun connects or once a hold it was in then is
        resumed at its board (``resumed``): no one knows where it goes, and GRBL runs no
        ``$`` command (``$I``, ``$$``, ``$H``) until it ends (``error:8``). It is stopped
        as a cancelled move is: a feed hold, then a reset once still (the position is
        kept)."""
        link = self._live()
        assert self.dialect.feed_hold is not None and self.dialect.flush_after_hold is not None
        when = "once its hold was resumed at its board" if resumed else "when labrun connected"
        log.warning("the controller at %s was still moving (%s) %s, running what was sent "
                    "before (a connection lost mid-move): labrun stopped it (a feed hold)",
                    self.port or "?", state, when)
        await link.write(self.dialect.feed_hold)
        await self._wait_still()
        await self._flush(self.dialect.flush_after_hold)

    async def _ask_interlocks(self) -> None:
        """Ask a controller that reports its interlocks only when asked (Marlin's and
        Smoothieware's endstop report) which are active now."""
        query = self.dialect.interlock_query_line()
        if query is not None:
            await self._live().streamer.request(query)

    async def _check_settings(self) -> None:
        """SettingsMismatch if the firmware's steps/mm or units would put every move or
        read off (GRBL's ``$$``, Marlin's ``M503``; see ``settings``)."""
        name = self.dialect.name
        if name == "grbl":
            options = grbl_build_options(await self.query("$I"))
            self._homes_single_axes = options is None or "H" in options
            settings = grbl_settings(await self.query("$$"))
            self._homing_rates = grbl_homing(settings)
            problems = grbl_unsafe(self.config, self.axis_map, settings)
        elif name == "marlin":
            try:
                report = await self.query("M503")
            except CommandUnknown as exc:  # DISABLE_M503: a build short of flash
                self._settings_checked = True
                self._warn_at_connection(
                    f"{exc}; labrun cannot check its steps/mm against the robot file's: "
                    "make sure they agree (M92)")
                return
            problems = marlin_unsafe(self.config, self.axis_map, marlin_settings(report))
        else:
            problems = []
        if problems:
            raise SettingsMismatch(refusal(problems))
        self._settings_checked = True

    async def _read_capabilities(self) -> None:
        """Marlin: whether its emergency parser is on (``Cap:EMERGENCY_PARSER:1`` in its
        ``M115``); without it an immediate pause waits for the move under way to end, and
        the user is warned (``warnings``, and the log)."""
        self._capabilities_read = True
        if self.dialect.quickstop_line is None:
            return
        try:
            said = emergency_parser_of(await self.query("M115"))
        except ControllerError:  # refused: a Marlin-like firmware that does not say
            said = None
        self.emergency_parser = said is True
        if said is True:
            return
        where = self.port or "?"
        why = ("its M115 says Cap:EMERGENCY_PARSER:0" if said is False else
               "its M115 does not say Cap:EMERGENCY_PARSER:1 (EXTENDED_CAPABILITIES_REPORT "
               "off, or an old Marlin): labrun takes it to have none")
        warning = (f"the Marlin at {where} has no emergency parser ({why}): "
                   + _NO_EMERGENCY_PARSER_STOP.format("")
                   + "; turn EMERGENCY_PARSER on in Marlin's Configuration_adv.h")
        self._warn_at_connection(warning)

    def _warn_at_connection(self, warning: str) -> None:
        """Tell the user of ``warning``, found at connection: ``warnings``, and the log."""
        self.warnings.append(warning)
        log.warning("%s", warning, extra={AT_CONNECTION: True})

    async def _initialize(self) -> None:
        link = self._live()
        if self.dialect.numbered_lines:
            await link.streamer.request("M110 N0", numbered=False)
            link.streamer.reset_numbering()
        for line in self.dialect.init_lines():
            await link.streamer.request(line)
        self._needs_init = False
        link.keep_alive = True  # set up: a line of its own between ours is harmless now

    async def _ready(self) -> None:
        link = self._live()
        if link.alarm is not None:
            raise ControllerAlarm(f"{link.alarm_fault()}; home the robot to recover")
        if self._halted:
            raise ControllerAlarm("the controller was emergency-stopped; home the robot to "
                                  "recover")
        if self._needs_init:
            await self._initialize()

    def _check_interlocks(self) -> None:
        active = self.active_interlocks()
        if active and self.dialect.interlock_blocks_motion:
            raise InterlockActive(f"{', '.join(sorted(active))} open: the {self.dialect.name} "
                                  "controller will not move until it is closed")

    async def _leave_hold(self) -> None:
        """Refuse motion behind an active interlock; leave a door hold whose door has
        closed (GRBL ``Door:0``, ``~``); wait for a feed hold set at the board to be
        resumed there, without limit (``~`` would override the person who set it), also
        once a door opened and closed in it (``Door:0``), then refuse motion behind a
        door opened meanwhile as well."""
        self._check_interlocks()
        link = self._live()
        status = link.status
        if status is not None and self._held_at_the_board(status):
            await self._wait_for_the_board(status)
            if link.status is None or link.status.state != "Door":
                return
            self._check_interlocks()  # its door opened meanwhile (Hold -> Door)
            status = link.status
        resume = self.dialect.cycle_resume
        if resume is None or status is None or status.state != "Door":
            return
        if status.substate not in (0, None):
            return
        await link.write(resume)
        await link.wait_for(lambda: link.status is not None and link.status.state not in
                            ("Hold", "Door"), "the controller to leave its hold")

    async def _wait_for_the_board(self, status: Status) -> None:
        """A feed hold labrun did not set (labrun's own ends in a reset): someone held
        the machine at its board (its feed hold button, a pendant), maybe to reach in.
        Nothing is sent until it is resumed there; a warning says so at once. Motion the
        hold kept, which a connection lost mid-move left, is stopped once resumed."""
        link = self._live()
        state = status.state if status.substate is None else f"{status.state}:{status.substate}"
        door = (", its door opened and closed since" if status.state == "Door" else "")
        log.warning("the controller at %s is in a feed hold (%s) that labrun did not set: "
                    "someone held it at its board%s. labrun does not resume it; the run "
                    "waits, without moving, until it is resumed there (cycle start)",
                    self.port or "?", state, door)
        alarms, restarts = link.alarm_seq, link.restart_seq
        await link.wait_for(lambda: self._halted or link.status is None
                            or not self._held_at_the_board(link.status),
                            "the hold to be resumed at the board", timeout=math.inf)
        if self._halted:
            await self._ready()  # says so
        # Ended by the board's reset button, not cycle start: what was to be sent is not
        if link.alarm_seq > alarms:
            raise link.alarm_fault()
        if link.restart_seq > restarts:
            raise ControllerError("the controller restarted while labrun waited for its hold "
                                  "to be resumed at its board (its reset, not cycle start): "
                                  "nothing was sent; the robot must be homed again")
        # Resumed, it runs what it held: motion a connection lost mid-move left (labrun's
        # own moves have ended before it sends another)
        resumed = link.status.state if link.status is not None else None
        if resumed in ("Run", "Jog") and self.dialect.flush_after_hold is not None:
            await self._stop_left_motion(resumed, resumed=True)

    def _held_at_the_board(self, status: Status) -> bool:
        """Held by someone at the board: ``Hold``, or GRBL's ``Door:0`` when the board was
        held before its door opened (cycle start there ends both)."""
        return status.state == "Hold" or (status.state == "Door" and status.substate == 0
                                           and self._board_held)

    def _interrupt(self, by: str) -> None:
        self._interruptions += 1
        self._interrupted_by = by

    def _raise_if_interrupted(self, since: int, cause: HardwareFault | None = None) -> None:
        """A move another task stopped did not reach its target: say so."""
        if self._interruptions > since:
            raise MotionInterrupted(f"the move was ended early by {self._interrupted_by}") \
                from cause

    async def _stop_quietly(self) -> None:
        with contextlib.suppress(HardwareFault):  # recorded on the link; raised next call
            await self._halt_motion()

    async def _halt_motion(self) -> None:
        """Stop with a controlled deceleration, discard queued motion, read the position."""
        link = self._live()
        dialect = self.dialect
        if self._halted or link.alarm is not None:
            return  # an emergency stop or an alarm stopped it; that stays until home()
        if (dialect.feed_hold is not None and link.streamer.in_flight == 0
                and (await link.fresh_status()).state == "Idle"):
            pass  # nothing is moving or queued: a hold and a reset would only cost time
        elif dialect.feed_hold is not None:
            # A hold already reported is someone's at the board (labrun's end in a reset),
            # also when a door opened since
            held = self._board_held
            await link.write(dialect.feed_hold)  # first: on the wire within microseconds
            link.streamer.motion_stopped()
            await self._wait_still()
            if self._halted:
                return  # an emergency stop came meanwhile: it stopped them, nothing to read
            if dialect.flush_after_hold is not None:
                await self._flush(dialect.flush_after_hold)
                if self._halted:
                    return  # an emergency stop came during the flush: nothing to read
                if held:  # the reset ended that hold too: set again, for the board to end
                    self._board_held = True
                    await link.write(dialect.feed_hold)
                    # a door opened meanwhile holds it (GRBL takes no feed hold then)
                    await link.wait_for(lambda: self._halted or (
                        link.status is not None and link.status.state in ("Hold", "Door")),
                        "the controller to hold again")
        elif dialect.quickstop_line is not None and self.emergency_parser:
            stop = await link.streamer.submit(dialect.quickstop_line, out_of_band=True)
            link.streamer.motion_stopped()
            # It acts as it arrives: the lines before it (the move's M400) and then it are
            # answered at once. Unanswered a while later, it was lost on the line (damaged,
            # the parser missed it) and the move goes on: it is sent again (for as long as
            # its answer may take; a silent board then times out waiting for it).
            give_up = time.monotonic() + self.timeout_s
            while (not await link.wait_until(stop.done.is_set, STOP_AGAIN_S)
                   and time.monotonic() < give_up):
                stop = await link.streamer.submit(dialect.quickstop_line, out_of_band=True)
            await link.streamer.drain()
            # Again in order: stops a move that was planned after the first one acted.
            await link.streamer.request(dialect.quickstop_line)
            await link.streamer.request(dialect.wait_line())
        else:
            # Smoothieware, and Marlin without its emergency parser (it would act on
            # M410 only once the move ends): the move under way is waited out
            await link.streamer.drain()
            await link.streamer.request(dialect.wait_line())
        self._motion_until = 0.0
        self._commanded = await self.read_position()

    async def _wait_still(self) -> None:
        """Until a status report says the axes are still, or an emergency stop is sent."""
        link = self._live()
        deadline = time.monotonic() + self.timeout_s
        with anyio.CancelScope() as wait:
            self._stopping.add(wait)
            try:
                while not self._halted:
                    status = await link.fresh_status()
                    if is_still(status.state, status.substate):
                        return
                    if status.state in MOVING_STATES and self.dialect.feed_hold is not None:
                        # Asked after the hold, still moving: the hold never arrived (a
                        # byte lost on the line); GRBL ignores a second one once holding.
                        await link.write(self.dialect.feed_hold)
                    if time.monotonic() > deadline:
                        raise HardwareFault(f"the axes did not stop within {self.timeout_s:g} "
                                            f"s (state {status.state})")
                    await anyio.sleep(STILL_POLL_S)
            finally:
                self._stopping.discard(wait)

    async def _flush(self, reset: bytes) -> None:
        """Discard held motion with a reset; the axes are still, so the position is kept."""
        link = self._live()
        if self._halted:
            return  # an emergency stop came while the axes stopped: it discarded the motion
        restarts = link.restart_seq
        self._intentional_reset = True
        link.keep_alive = False  # until it is set up again
        try:
            await link.write(reset)
            await link.wait_for(lambda: link.restart_seq > restarts,
                                "the controller to restart after the reset")
        finally:
            self._intentional_reset = False
        if link.alarm is None and not self._halted:
            await self._initialize()

    def _on_event(self, event: Event) -> None:
        if isinstance(event, Status) and event.state != "Door":
            self._board_held = event.state == "Hold"  # a door's hold keeps what it held
        elif isinstance(event, Restarted):
            self._board_held = False  # a reset ends a hold
        if isinstance(event, (Info, Unhalted)):  # what query() returns: all it printed
            for printed in self._printed:
                printed.append(event.text)
        if self._intentional_reset:
            return
        link = self._link
        if isinstance(event, Alarm):
            self._position_lost(event.message)
            if link is not None:
                self._report(link.alarm_fault())
        elif isinstance(event, Restarted):
            self._position_lost(f"the controller restarted: {event.banner}")
            self._needs_init = True
            if link is not None:
                link.keep_alive = False
            after = f" after {link.alarm}" if link is not None and link.alarm else ""
            self._report(ControllerError(f"the controller restarted ({event.banner}){after}: "
                                         "the robot's position is lost"))
        elif isinstance(event, EndstopHit):  # a move in progress raises it too
            self._report(HardwareFault(self._endstop_said(event)))
        elif isinstance(event, BoardRequest) and self._board_listener is not None:
            if event.action == "pause" and self._pausing_job:
                return  # the board repeats labrun's own M76 (HOST_PAUSE_M76)
            try:
                self._board_listener(event.action)
            except Exception:  # a listener's bug must not kill the reader
                log.exception("board listener failed for %s", event.text)

    def _report(self, fault: HardwareFault) -> None:
        """Tell the fault listener of an alarm or restart the firmware had on its own
        (a run waiting in a delay fails now, naming it); a call in progress raises it
        too. Not after an emergency stop, whose alarm is expected."""
        if self._halted or not self._connected:
            return
        try:
            self._on_fault(fault)
        except Exception:  # a listener's bug must not kill the reader
            log.exception("fault listener failed for %s", fault)

    def _position_lost(self, why: str) -> None:
        """Homing is required again; switchless axes cannot find their origin by themselves."""
        self._unhomed = set(self.config.axes)
        if self._origin and self._lost is None:
            self._lost = why

    def _on_interlock(self, name: str, active: bool) -> None:
        if self._listener is not None:
            self._listener(name, active)

    def _on_fault(self, fault: HardwareFault) -> None:
        if self._fault_listener is not None:
            self._fault_listener(fault)

    def _check_axes(self, axes: Iterable[str]) -> None:
        unknown = [a for a in axes if a not in self.axis_map]
        if unknown:
            raise HardwareFault(f"unknown axis {unknown[0]!r}; this robot has "
                                f"{', '.join(self.axis_map)}")

@asynccontextmanager
async def open_controller(config: RobotConfig, **options: Any) -> AsyncIterator[GcodeController]:
    """Connect a ``GcodeController`` for ``config`` (its dialect and port); disconnect after."""
    controller = GcodeController(config, **options)
    await controller.connect()
    try:
        yield controller
    finally:
        with anyio.CancelScope(shield=True):
            await controller.disconnect()


FIRMWARE_MARKS = {"grbl": ("grbl",), "marlin": ("marlin",), "smoothie": ("smoothie",)}
"""Words in a firmware's banner or version line that name it (grblHAL's says Grbl too)."""
FIRMWARE_SHAPES = {
    "grbl": re.compile(r"(?<![A-Za-z])(?:error|ALARM):\d+\b"),
    "marlin": re.compile(r"echo:Unknown command:"),
}
"""Answers only one firmware gives, for a controller whose banner went by before the port
was opened (a board that does not reset then): GRBL's numbered ``error:9`` and
``ALARM:1`` (Marlin says ``Error:`` and words, Smoothieware ``error:`` and words), Marlin's
``echo:Unknown command:``."""


def other_firmware(lines: Iterable[str], dialect: str) -> str | None:
    """What to say when a controller that did not answer as ``dialect`` said it is
    another firmware (one of ``lines``, those the dialect did not know, or an error it
    answered with), or None."""
    lines = list(lines)
    for line in lines:
        low = line.lower()
        if "firmware_name:" in low:  # its name, not the rest (Smoothieware's X-GRBL_MODE)
            low = low.split("firmware_name:", 1)[1].split(",")[0]
        for name, marks in FIRMWARE_MARKS.items():
            if name != dialect and any(mark in low for mark in marks):
                return (f"the controller said {line.strip()!r}: it looks like {name} "
                        f"firmware, but the robot file says dialect = {dialect!r}")
    for line in lines:
        for name, shape in FIRMWARE_SHAPES.items():
            if name != dialect and (found := shape.search(line)) is not None:
                return (f"the controller answered {found[0]!r} as {name} firmware does, "
                        f"but the robot file says dialect = {dialect!r}")
    return None

