"""The thermocycler over serial: lid ``M126``/``M127``/``M119``, lid heater
``M140``/``M141``/``M108``, block ``M104 S H V R``/``M105``/``M14``, everything off ``M18``.
The GEN2 speaks the STM32 framing; the GEN1 (``SerialThermocyclerGen1``, chosen by the
robot file's ``model``) the Arduino framing, as Opentrons' GEN1 driver speaks to it.

The firmware answers ``M126``/``M127`` when the lid has arrived, and a lid move once
sent is seen through (a pause or a door waits for it: the lid goes on to its end
whatever the host does). ``M104``'s ``H`` is a hold time in seconds that the firmware
counts down once the block is at target, ``R`` a ramp rate in °C/s (firmware v1.0.8 on,
as Opentrons' driver sends it); ``M105`` answers ``T:<target> C:<block> H:<hold left>
Total_H:<hold> At_target?:<0|1>``. A profile runs on the host, step by step, as
Opentrons' own host software does: a task of this module's, so it goes on while the run
is paused. A new block setpoint ends it, as does any ``deactivate``; a halt abandons it
(``abandon``), the block holding the step it was at.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import Any, ClassVar

import anyio

from ...clock import Clock
from ...controller import HardwareFault
from ...gcode.service import Service
from ...wakeup import Waker, loop_waker
from ..dispatch import Handler
from ..models import firmware_version
from ..profile import ProfileProgress, ProfileStep, run_profile
from .base import SerialModule, celsius, near, state_of
from .wire import Family, fields, number

LID_TIMEOUT_S = 40.0
"""Opentrons' own timeout for a lid move."""
RAMP_RATE_FIRMWARE = (1, 0, 8)
"""The first firmware that takes ``M104``'s ``R`` (Opentrons refuses a ramp rate before)."""


class SerialThermocycler(SerialModule):
    """A thermocycler on its serial port."""

    kind = "thermocycler"
    family: ClassVar[Family] = "stm32"
    other_family: ClassVar[Family | None] = "arduino"

    lid: str = "unknown"
    lid_temperature: float | None = None
    lid_target: float | None = None
    block_temperature: float | None = None
    block_target: float | None = None
    block_at_target: bool = False
    sent_lid_target: float | None = None
    sent_block_target: float | None = None
    """The targets the driver last set (None once it switched that heater off)."""
    hold_time_left_s: float | None = None
    _profile: Service | None = None
    _progress: ProfileProgress | None = None
    _profile_scope: anyio.CancelScope | None = None
    _profile_loop: Waker | None = None  # schedules in the loop the profile runs in

    def handlers(self) -> dict[str, Handler]:
        return {"open_lid": self.open_lid, "close_lid": self.close_lid,
                "set_lid_temperature": self.set_lid_temperature,
                "wait_for_lid_temperature": self.wait_for_lid_temperature,
                "deactivate_lid": self.deactivate_lid,
                "set_block_temperature": self.set_block_temperature,
                "wait_for_block_temperature": self.wait_for_block_temperature,
                "deactivate_block": self.deactivate_block,
                "execute_profile": self.execute_profile,
                "wait_for_profile": self.wait_for_profile,
                "deactivate": self.deactivate_all}

    # -- lid --------------------------------------------------------------------------

    async def open_lid(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._move_lid("M126", "open")

    async def close_lid(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._move_lid("M127", "closed")

    async def _move_lid(self, command: str, where: str) -> Mapping[str, Any]:
        with anyio.CancelScope(shield=True):  # the lid goes on to its end whatever we do
            await self.wire.request(command, timeout=LID_TIMEOUT_S)
            await self.refresh()
        if self.lid != where:
            raise HardwareFault(f"the thermocycler {self.name!r} answered {command} but its "
                                f"lid is {self.lid}, not {where}")
        return {"lid": self.lid}

    async def set_lid_temperature(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self.wire.request(f"M140 S{celsius(params):.2f}")
        self.sent_lid_target = celsius(params)
        await self.refresh()
        return {"lid_target": self.lid_target}

    async def wait_for_lid_temperature(self, params: Mapping[str, Any]
                                       ) -> Mapping[str, Any]:
        def reached() -> bool:
            self.check_target_kept("lid ", self.sent_lid_target, self.lid_target,
                                   self.lid_temperature)
            return near(self.lid_temperature, self.lid_target)

        await self.poll_until(reached)
        return {"lid_temperature": self.lid_temperature}

    async def deactivate_lid(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self.wire.request("M108")
        self.sent_lid_target = None
        await self.refresh()
        return {}

    # -- block ------------------------------------------------------------------------

    async def set_block_temperature(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        """A new setpoint: a running profile ends first (its next step would override it)."""
        await self._stop_profile()
        return await self._set_block(params)

    async def _set_block(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        words = [f"M104 S{celsius(params):.2f}"]
        if params.get("hold_time_s") is not None:
            words.append(f"H{float(params['hold_time_s']):.2f}")
        if params.get("volume_ul") is not None:
            words.append(f"V{float(params['volume_ul']):.2f}")
        if params.get("ramp_rate"):
            self._check_ramp_firmware()
            words.append(f"R{float(params['ramp_rate']):.2f}")
        await self.wire.request(" ".join(words))
        self.sent_block_target = celsius(params)
        await self.refresh()
        return {"block_target": self.block_target}

    def _check_ramp_firmware(self) -> None:
        version = firmware_version(self.firmware)
        if version is None or version < RAMP_RATE_FIRMWARE:
            said = ".".join(map(str, version)) if version else "unknown"
            raise HardwareFault(
                f"the thermocycler [modules.{self.name}] has firmware v{said}, which takes no "
                f"ramp rate (from v{'.'.join(map(str, RAMP_RATE_FIRMWARE))}, as Opentrons "
                "sends it): update its firmware, or leave the ramp rate out")

    async def wait_for_block_temperature(self, params: Mapping[str, Any]
                                         ) -> Mapping[str, Any]:
        await self._wait_block()
        return {"block_temperature": self.block_temperature}

    async def _wait_block(self) -> None:
        await self.poll_until(self._block_done)

    def _block_done(self) -> bool:
        self.check_target_kept("block ", self.sent_block_target, self.block_target,
                               self.block_temperature)
        return self.block_target is None or (
            self.block_at_target and not (self.hold_time_left_s or 0.0) > 0.0)

    async def deactivate_block(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self._stop_profile()
        await self.wire.request("M14")
        self.sent_block_target = None
        await self.refresh()
        return {}

    # -- profile ----------------------------------------------------------------------

    async def execute_profile(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self._stop_profile()
        steps = [ProfileStep.from_mapping(step) for step in params["steps"]]
        if any(step.ramp_rate for step in steps):
            self._check_ramp_firmware()
        progress = self._progress = ProfileProgress(steps, int(params["repetitions"]))
        volume = params.get("volume_ul")
        scope = self._profile_scope = anyio.CancelScope()
        self._profile_loop = loop_waker()

        async def run() -> None:
            with scope, contextlib.suppress(Exception):  # in progress.error for the waiter
                await run_profile(self._set_block, self._wait_block, progress,
                                  volume_ul=volume)

        self._profile = Service(f"labrun-profile-{self.name}")
        await self._profile.start(run)
        return {"steps": len(steps), "repetitions": progress.repetitions}

    async def wait_for_profile(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        progress = self._progress
        if progress is not None:
            await progress.done.wait()
            if progress.error is not None:
                self._progress = None
                raise progress.error
        return {}

    async def _stop_profile(self) -> None:
        if self._profile is not None:
            profile, self._profile = self._profile, None
            await profile.stop()
        self._progress = None

    def abandon(self) -> bool:
        """A halt: no further step is sent, from any thread; the block holds its setpoint."""
        progress, scope, loop = self._progress, self._profile_scope, self._profile_loop
        if progress is None or not progress.running or scope is None or loop is None:
            return False
        with contextlib.suppress(RuntimeError):  # that loop has ended: nothing runs there
            loop(scope.cancel)
        return True

    # -- stop -------------------------------------------------------------------------

    async def deactivate_all(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self._stop_profile()
        await self.wire.request("M18")
        self.sent_block_target = self.sent_lid_target = None
        await self.refresh()
        return {}

    async def make_safe(self) -> None:
        """Stop and abort end a profile; the heaters go off only when configured."""
        await self._stop_profile()
        if self.heaters_off_on_stop:
            await self.deactivate_all({})

    async def disconnect(self) -> None:
        await self._stop_profile()
        await super().disconnect()

    async def refresh(self) -> None:
        block = await self.wire.request("M105")
        self.block_target = number(block, "T")
        self.block_temperature = number(block, "C")
        self.hold_time_left_s = number(block, "H")
        self.block_at_target = fields(block).get("At_target?") == "1"
        lid = await self.wire.request("M141")
        self.lid_target = number(lid, "T")
        self.lid_temperature = number(lid, "C")
        self.lid = fields(await self.wire.request("M119")).get("Lid", "unknown")

    def readings(self) -> dict[str, Any]:
        progress = self._progress if self._progress is not None and \
            self._progress.running else None
        return {"lid": self.lid, "lid_temperature": self.lid_temperature,
                "lid_target": self.lid_target, "block_temperature": self.block_temperature,
                "block_target": self.block_target, "hold_time_left_s": self.hold_time_left_s,
                "profile_step": progress.step if progress else None,
                "profile_cycle": progress.cycle if progress else None}

    def state(self) -> str:
        if self._progress is not None and self._progress.running:
            return "running profile"
        return state_of(self.block_temperature, self.block_target)


GEN1_TERMINATOR = "\r\n"
"""What ends a line to a GEN1 (Opentrons' ``TC_COMMAND_TERMINATOR``)."""


class SerialThermocyclerGen1(SerialThermocycler):
    """A Thermocycler GEN1 on its serial port, as Opentrons' ``ThermocyclerDriver``
    speaks to it: the GEN2's lines, framed as the Arduino modules' answers (``ok`` twice,
    no error replies), no ramp rate (Opentrons never sends its ``M566``: the block ramps
    at its full rate), and a block at its target when within tolerance of it (its
    ``M105`` has no ``At_target?``), as Opentrons' host decides it."""

    family: ClassVar[Family] = "arduino"
    other_family: ClassVar[Family | None] = "stm32"

    def __init__(self, name: str, port: str, clock: Clock, **options: Any) -> None:
        super().__init__(name, port, clock, **options)
        self.wire.dialect.terminator = GEN1_TERMINATOR

    async def _set_block(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await super()._set_block({**params, "ramp_rate": None})

    def _check_ramp_firmware(self) -> None:
        """A GEN1 is sent no ramp rate, so none is refused."""

    async def refresh(self) -> None:
        await super().refresh()
        self.block_at_target = (self.block_target is not None
                                and near(self.block_temperature, self.block_target))
