"""Simulated hardware modules: ``Device``s with physical timing on the run's clock.

Each module keeps its state as tracks on the clock (a temperature heading for its
target, magnets or a lid travelling, a shaker spinning up), using the rates of
``hardware.modules.physics``: a wait computes when the module gets there and sleeps
until then, so on the virtual clock a simulation reports how long the real run takes.
What a module does once told carries on whatever the run does, as on a robot: a magnet,
lid or latch move is seen through before a pause (or a door) takes effect; a shaker and
a heater go on toward their goal while a wait for them is cut off, and the engine's call
after the resume waits only for what remains. A thermocycler profile is planned ahead on
the clock (``profile.ProfilePlan``): it runs on by itself through a pause; a halt
abandons it (``abandon``). Each module is the model the protocol asked for (``model``);
a Thermocycler Module GEN1 takes no ramp rate, as Opentrons' driver sends it none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from .. import aio
from ..clock import Clock
from ..controller import FaultListener, HardwareFault
from . import physics
from .dispatch import Handler, call_handler
from .physics import AMBIENT_C, Ramp, Track
from .profile import ProfilePlan, ProfileStep


class Travel:
    """A value moving at a constant rate toward a target on a clock (a magnet, a lid,
    a shaker's speed)."""

    def __init__(self, value: float, rate: float, now: float = 0.0) -> None:
        self.start = self.target = value
        self.since = now
        self.rate = rate

    def value(self, now: float) -> float:
        # At or past the arrival it is at the target: compared in time, as a wait until
        # ``arrives()`` ends, not by the distance covered, which can fall short of the
        # distance by a rounding (a stopped shaker left at 2e-10 rpm).
        if now >= self.arrives():
            return self.target
        step = self.rate * max(0.0, now - self.since)
        return self.start + step if self.target > self.start else self.start - step

    def go(self, now: float, target: float) -> None:
        """Head for ``target`` from where it is now."""
        self.start, self.since, self.target = self.value(now), now, target

    def arrives(self) -> float:
        """When it reaches its target."""
        return self.since + abs(self.target - self.start) / self.rate


class SimulatedModule:
    """Base of the simulated modules: the ``Device`` calls by name, sleeping on the clock."""

    kind: ClassVar[str]

    def __init__(self, name: str, clock: Clock, *, heaters_off_on_stop: bool = False,
                 model: str | None = None) -> None:
        self._name = name
        self.clock = clock
        self.heaters_off_on_stop = heaters_off_on_stop
        self.model = model

    @property
    def name(self) -> str:
        return self._name

    async def connect(self) -> None:
        return None

    async def disconnect(self) -> None:
        return None

    def handlers(self) -> Mapping[str, Handler]:
        """The kind's calls, by the device vocabulary's method names."""
        raise NotImplementedError

    async def call(self, method: str, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await call_handler(self.kind, self.name, self.handlers(), method, params)

    async def park(self) -> Mapping[str, Any]:
        """Temperatures and magnets hold during a pause."""
        return {}

    async def unpark(self) -> None:
        """Nothing was stopped at the pause."""

    async def deactivate(self) -> None:
        """Stop or abort: heaters off only when configured so."""
        if self.heaters_off_on_stop:
            await self.call("deactivate", {})

    async def stop_moving(self) -> Mapping[str, Any]:
        """A halt: nothing of it moves by itself (a shaker does)."""
        return {}

    def set_fault_listener(self, listener: FaultListener | None) -> None:
        """A simulated module meets no fault of its own."""

    def abandon(self) -> bool:
        """Nothing runs by itself (the thermocycler's profile does)."""
        return False

    def status(self) -> Mapping[str, Any]:
        model = {"model": self.model} if self.model is not None else {}
        return {"kind": self.kind, "name": self.name, **model,
                **self.readings(self.clock.now())}

    def readings(self, now: float) -> dict[str, Any]:
        raise NotImplementedError

    async def _until(self, deadline: float) -> None:
        """Sleep to ``deadline`` (a cancellation cuts the wait off, not the module)."""
        await self.clock.sleep_until(deadline)

    async def _through(self, deadline: float) -> None:
        """Sleep to ``deadline`` whatever happens meanwhile: a move the firmware answers
        only once done (a pause, a stop or a door takes effect after it)."""
        with aio.CancelScope(shield=True):
            await self.clock.sleep_until(deadline)


def _celsius(params: Mapping[str, Any], ramp: Ramp, what: str) -> float:
    celsius = float(params["celsius"])
    if not ramp.low_c - 1e-9 <= celsius <= ramp.high_c + 1e-9:
        raise HardwareFault(f"{what}: {celsius:g} °C is outside {ramp.low_c:g}-"
                            f"{ramp.high_c:g} °C")
    return celsius


def _temperature_readings(track: Track, now: float) -> dict[str, Any]:
    return {"status": track.status(now), "temperature": round(track.temperature(now), 3),
            "target": track.target}


class SimulatedTemperatureModule(SimulatedModule):
    """A temperature module: a Peltier plate that heats fast and cools slowly."""

    kind = "temperature"

    def __init__(self, name: str, clock: Clock, **kwargs: Any) -> None:
        super().__init__(name, clock, **kwargs)
        self.track = Track(physics.TEMPERATURE_MODULE, clock.now())
        # A wait beyond the target that a pause cut off: when called again, it still is.
        self._cut_beyond: float | None = None

    def handlers(self) -> Mapping[str, Handler]:
        return {"set_temperature": self._set, "wait_for_temperature": self._wait,
                "deactivate": self._deactivate}

    async def _set(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        celsius = _celsius(params, self.track.ramp, "set_temperature")
        self.track.set_target(self.clock.now(), celsius)
        self._cut_beyond = None
        return {}

    async def _wait(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        beyond = False
        target = self.track.target
        if target is not None:
            deadline = self.track.reached_at()
            awaited = params.get("celsius")
            if awaited is not None:  # passed on the way to the target
                deadline = min(deadline, self.track.passes_at(float(awaited)))
                # Still on its way to a target short of the awaited temperature: the wait
                # ends at the target (an OT-2's waits for ever).
                now = self.clock.now()
                beyond = self._cut_beyond == float(awaited) or (
                    now < self.track.reached_at()
                    and (target - self.track.temperature(now)) * (float(awaited) - target) > 0)
            self._cut_beyond = float(awaited) if beyond and awaited is not None else None
            await self._until(deadline)
        self._cut_beyond = None
        result: dict[str, Any] = {"temperature": round(self.track.temperature(self.clock.now()), 3)}
        if beyond:
            result["awaited_beyond_target"] = True
        if target is None and params.get("celsius") is not None:
            result["awaited_with_no_target"] = True  # idle: nothing to wait for
        return result

    async def _deactivate(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.track.set_target(self.clock.now(), None)
        return {}

    def readings(self, now: float) -> dict[str, Any]:
        return _temperature_readings(self.track, now)


class SimulatedMagneticModule(SimulatedModule):
    """A magnetic module: magnets travelling between home (0) and their engage height."""

    kind = "magnetic"

    def __init__(self, name: str, clock: Clock, **kwargs: Any) -> None:
        super().__init__(name, clock, **kwargs)
        self.magnet = Travel(0.0, physics.MAGNET_SPEED_MM_S, clock.now())

    def handlers(self) -> Mapping[str, Handler]:
        return {"engage": self._engage, "disengage": self._disengage,
                "deactivate": self._disengage}

    async def _move(self, height: float) -> Mapping[str, Any]:
        self.magnet.go(self.clock.now(), height)
        await self._through(self.magnet.arrives())
        return {"height_mm": height}

    async def _engage(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        height = float(params["height_mm"])
        if not -2.5 <= height <= physics.MAGNET_MAX_HEIGHT_MM + 20.0:
            raise HardwareFault(f"engage: {height:g} mm is outside the magnets' travel")
        return await self._move(height)

    async def _disengage(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._move(0.0)

    async def deactivate(self) -> None:
        """Magnets hold at a stop, as they do at a pause."""

    def readings(self, now: float) -> dict[str, Any]:
        height = self.magnet.value(now)
        moving = abs(height - self.magnet.target) > 1e-9
        return {"status": "moving" if moving else ("engaged" if height > 1e-9 else
                                                    "disengaged"),
                "height_mm": round(height, 3), "engaged": height > 1e-9}


class SimulatedThermocycler(SimulatedModule):
    """A thermocycler: block and heated lid, a motorised lid, profiles planned on the clock."""

    kind = "thermocycler"

    def __init__(self, name: str, clock: Clock, **kwargs: Any) -> None:
        super().__init__(name, clock, **kwargs)
        now = clock.now()
        self.block = Track(physics.THERMOCYCLER_BLOCK, now)
        self.lid_heater = Track(physics.THERMOCYCLER_LID, now)
        self.lid = Travel(0.0, 1.0 / physics.LID_TRAVEL_S, now)  # 0 open, 1 closed
        self.hold_s: float | None = None
        self.profile: ProfilePlan | None = None

    def handlers(self) -> Mapping[str, Handler]:
        return {"open_lid": self._open, "close_lid": self._close,
                "set_lid_temperature": self._set_lid, "wait_for_lid_temperature": self._wait_lid,
                "deactivate_lid": self._deactivate_lid,
                "set_block_temperature": self._set_block,
                "wait_for_block_temperature": self._wait_block,
                "deactivate_block": self._deactivate_block,
                "execute_profile": self._execute_profile, "wait_for_profile": self._wait_profile,
                "deactivate": self._deactivate}

    # -- lid ----------------------------------------------------------------------------

    async def _lid_to(self, closed: float) -> Mapping[str, Any]:
        self.lid.go(self.clock.now(), closed)
        await self._through(self.lid.arrives())
        return {"lid": self._lid_position(self.clock.now())}

    async def _open(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._lid_to(0.0)

    async def _close(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._lid_to(1.0)

    def _lid_position(self, now: float) -> str:
        value = self.lid.value(now)
        return "open" if value <= 1e-9 else "closed" if value >= 1 - 1e-9 else "in_between"

    async def _set_lid(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.lid_heater.set_target(self.clock.now(),
                                   _celsius(params, self.lid_heater.ramp, "set_lid_temperature"))
        return {}

    async def _wait_lid(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.lid_heater.target is not None:
            await self._until(self.lid_heater.reached_at())
        return {}

    async def _deactivate_lid(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.lid_heater.set_target(self.clock.now(), None)
        return {}

    # -- block --------------------------------------------------------------------------

    def _settle_profile(self, now: float) -> None:
        """A finished profile leaves the block holding its last step."""
        if self.profile and now >= self.profile.end:
            last = self.profile.last
            self.block = Track(self.block.ramp, last.end, last.celsius)
            self.block.target, self.hold_s, self.profile = last.celsius, 0.0, None

    async def deactivate(self) -> None:
        """Stop or abort: a running profile ends, the block holding the step it was at
        (as the serial driver's does); the heaters go off only when configured so."""
        self.abandon()
        await super().deactivate()

    def abandon(self) -> bool:
        """A halt (and a stop): a running profile ends, the block holding the step it was
        at, its ramp rate kept; whether one was running."""
        now = self.clock.now()
        self._settle_profile(now)
        running = self.profile.at(now) if self.profile else None
        self._stop_profile(now)
        if running is None:
            return False
        self.block.set_target(now, running[0].celsius, limit=running[0].ramp_rate)
        self.hold_s = None
        return True

    def _ramp_limit(self, rate: float | None) -> float | None:
        """The block's rate cap for ``rate``: none for a GEN1, which Opentrons sends none."""
        if not rate or self.model == "thermocyclerModuleV1":
            return None
        return float(rate)

    def _stop_profile(self, now: float) -> None:
        if self.profile:
            self.block = Track(self.block.ramp, now, self._block_temperature(now))
            self.profile = None

    async def _set_block(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        now = self.clock.now()
        self._settle_profile(now)
        self._stop_profile(now)
        celsius = _celsius(params, self.block.ramp, "set_block_temperature")
        self.block.set_target(now, celsius, limit=self._ramp_limit(params.get("ramp_rate")))
        hold = params.get("hold_time_s")
        self.hold_s = float(hold) if hold else None
        return {}

    async def _wait_block(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self._settle_profile(self.clock.now())
        if self.profile:
            await self._until(self.profile.end)
            self._settle_profile(self.clock.now())
        elif self.block.target is not None:
            await self._until(self.block.reached_at() + (self.hold_s or 0.0))
        return {}

    async def _deactivate_block(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        now = self.clock.now()
        self._settle_profile(now)
        self._stop_profile(now)
        self.block.set_target(now, None)
        self.hold_s = None
        return {}

    async def _execute_profile(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        now = self.clock.now()
        steps = [ProfileStep.from_mapping(step) for step in params["steps"]]
        for step in steps:
            _celsius({"celsius": step.celsius}, self.block.ramp, "execute_profile")
        self._settle_profile(now)
        start = self._block_temperature(now)
        profile = ProfilePlan(self.block.ramp, start, steps, int(params["repetitions"]), now,
                              ramp_rates=self.model != "thermocyclerModuleV1")
        if not profile:  # no steps: nothing to run, the block keeps its target
            self.profile = None
            return {}
        self.block = Track(self.block.ramp, now, start)
        self.profile = profile
        self.block.target = profile.last.celsius
        return {"ends_at": round(profile.end, 6)}

    async def _wait_profile(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.profile:
            await self._until(self.profile.end)
            self._settle_profile(self.clock.now())
        return {}

    async def _deactivate(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self._deactivate_block(params)
        await self._deactivate_lid(params)
        return {}

    def _block_temperature(self, now: float) -> float:
        running = self.profile.at(now) if self.profile else None
        if running is None:
            if self.profile and now >= self.profile.end:
                return self.profile.last.celsius
            return self.block.temperature(now)
        step, before = running
        ramp = Track(self.block.ramp, step.start, before)
        ramp.set_target(step.start, step.celsius, limit=step.ramp_rate)
        return ramp.temperature(now)

    def readings(self, now: float) -> dict[str, Any]:
        running = self.profile.at(now) if self.profile else None
        step = running[0] if running else None
        block = self._block_temperature(now)
        if step is not None:
            target: float | None = step.celsius
            hold_left = step.end - max(now, step.reached)
        else:
            target = self.profile.last.celsius if self.profile else self.block.target
            hold_left = 0.0
            if self.block.target is not None and self.hold_s and not self.profile:
                hold_left = max(0.0, self.block.reached_at() + self.hold_s - now)
        return {"status": "running profile" if step is not None else self.block.status(now),
                "lid": self._lid_position(now),
                "lid_temperature": round(self.lid_heater.temperature(now), 3),
                "lid_target": self.lid_heater.target,
                "block_temperature": round(block, 3), "block_target": target,
                "hold_time_left_s": round(hold_left, 3),
                "profile_step": step.step if step else None,
                "profile_cycle": step.cycle if step else None}


class SimulatedHeaterShaker(SimulatedModule):
    """A heater-shaker: a heated plate (no active cooling), an orbital shaker, a latch."""

    kind = "heater_shaker"

    def __init__(self, name: str, clock: Clock, **kwargs: Any) -> None:
        super().__init__(name, clock, **kwargs)
        now = clock.now()
        self.track = Track(physics.HEATER_SHAKER, now)
        self.shaker = Travel(0.0, physics.SHAKER_ACCEL_RPM_S, now)
        self.latch = Travel(1.0, 1.0 / physics.LATCH_TRAVEL_S, now)  # 1 closed, 0 open
        self.remembered_rpm: float | None = None  # the speed a pause stopped

    def handlers(self) -> Mapping[str, Handler]:
        return {"set_temperature": self._set, "wait_for_temperature": self._wait,
                "deactivate_heater": self._deactivate_heater,
                "set_shake_speed": self._shake, "deactivate_shaker": self._stop_shaking,
                "open_latch": self._open_latch, "close_latch": self._close_latch,
                "deactivate": self._deactivate}

    async def _set(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.track.set_target(self.clock.now(),
                              _celsius(params, self.track.ramp, "set_temperature"))
        return {}

    async def _wait(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        if self.track.target is not None:
            await self._until(self.track.reached_at())
        return {}

    async def _deactivate_heater(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        self.track.set_target(self.clock.now(), None)
        return {}

    async def _spin(self, rpm: float) -> None:
        self.shaker.go(self.clock.now(), rpm)
        await self._until(self.shaker.arrives())

    async def _shake(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        rpm = float(params["rpm"])
        if not physics.SHAKER_MIN_RPM <= rpm <= physics.SHAKER_MAX_RPM:
            raise HardwareFault(f"set_shake_speed: {rpm:g} rpm is outside "
                                f"{physics.SHAKER_MIN_RPM:g}-{physics.SHAKER_MAX_RPM:g} rpm")
        if not self._latch_closed():
            raise HardwareFault("set_shake_speed: the labware latch is open")
        self.remembered_rpm = None
        await self._spin(rpm)
        return {"rpm": rpm}

    async def _stop_shaking(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        if not self._latch_closed():  # the module homes its plate only with it closed
            raise HardwareFault("deactivate_shaker: the labware latch is not closed; the "
                                "module stops and homes its plate only with the latch closed")
        self.remembered_rpm = None
        await self._spin(0.0)
        return {}

    def _latch_closed(self) -> bool:
        return self.latch.value(self.clock.now()) >= 1.0 - 1e-9

    async def _stop_unless_open(self) -> None:
        """Stop the shaker, unless the latch is not closed: then it cannot turn, and the
        module would refuse to home."""
        self.remembered_rpm = None
        if self._latch_closed():
            await self._spin(0.0)

    async def _latch_to(self, closed: float) -> Mapping[str, Any]:
        if closed < 1.0 and self.shaker.value(self.clock.now()) > 0.0:
            raise HardwareFault("open_latch: the plate is shaking")
        self.latch.go(self.clock.now(), closed)
        await self._through(self.latch.arrives())
        return {}

    async def _open_latch(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._latch_to(0.0)

    async def _close_latch(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        return await self._latch_to(1.0)

    async def _deactivate(self, params: Mapping[str, Any]) -> Mapping[str, Any]:
        await self._stop_unless_open()
        await self._deactivate_heater(params)
        return {}

    async def park(self) -> Mapping[str, Any]:
        """The run pauses: stop shaking, remembering the speed it was set to; that speed
        (``stopped_rpm``) when it was set to shake."""
        target = self.shaker.target
        if target > 0.0 and self.remembered_rpm is None:
            self.remembered_rpm = target
        if self.shaker.value(self.clock.now()) > 0.0 or target > 0.0:
            await self._spin(0.0)
        return {"stopped_rpm": target} if target > 0.0 else {}

    async def unpark(self) -> None:
        """The run resumes: back at the remembered speed before returning."""
        if self.remembered_rpm is not None:
            await self._spin(self.remembered_rpm)
            self.remembered_rpm = None

    async def deactivate(self) -> None:
        """Stop or abort: the shaker stops; the heater too when configured so."""
        await self._stop_unless_open()
        if self.heaters_off_on_stop:
            await self._deactivate_heater({})

    async def stop_moving(self) -> Mapping[str, Any]:
        """A halt: a turning plate stops (the speed a pause remembered is forgotten: no
        resume follows); the heater stays. A plate whose latch is open is not turning."""
        self.remembered_rpm = None
        target, rpm = self.shaker.target, self.shaker.value(self.clock.now())
        if target <= 0.0 and rpm <= 0.0:
            return {}
        await self._spin(0.0)
        return {"stopped_rpm": target or round(rpm, 3)}

    def readings(self, now: float) -> dict[str, Any]:
        latch = self.latch.value(now)
        return {**_temperature_readings(self.track, now),
                "rpm": round(self.shaker.value(now), 3), "target_rpm": self.shaker.target,
                "latch": "closed" if latch >= 1 - 1e-9 else "open" if latch <= 1e-9
                else "in_between"}


SIMULATED: dict[str, type[SimulatedModule]] = {
    module.kind: module for module in (SimulatedTemperatureModule, SimulatedMagneticModule,
                                       SimulatedThermocycler, SimulatedHeaterShaker)}
"""The simulated module of each kind."""


def simulated_device(kind: str, name: str, clock: Clock, *,
                     heaters_off_on_stop: bool = False,
                     model: str | None = None) -> SimulatedModule:
    """A simulated module of ``kind`` (the ``model`` a protocol loads) on ``clock``."""
    try:
        module = SIMULATED[kind]
    except KeyError:
        raise ValueError(f"no simulated module of kind {kind!r}; kinds: "
                         f"{', '.join(sorted(SIMULATED))}") from None
    return module(name, clock, heaters_off_on_stop=heaters_off_on_stop, model=model)


__all__ = ["AMBIENT_C", "SIMULATED", "SimulatedModule", "Travel", "simulated_device"]
