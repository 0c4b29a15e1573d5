"""Simulated modules: their waits take the time the physical model gives, on the virtual
clock; a pause's cancellation stops a moving part where it is; a profile runs on."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hardware.clock import VirtualClock
from hardware.controller import HardwareFault
from hardware.modules import physics
from hardware.modules.profile import PlannedStep, ProfilePlan, ProfileStep
from hardware.modules.simulated import simulated_device


def run(fn: Callable[[VirtualClock], Awaitable[Any]]) -> Any:
    clock = VirtualClock()
    return anyio.run(fn, clock)


def test_temperature_module_heats_and_cools_at_its_rates() -> None:
    async def scenario(clock: VirtualClock) -> list[float]:
        module = simulated_device("temperature", "temp", clock)
        await module.call("set_temperature", {"celsius": 95})
        assert clock.now() == 0.0  # setting returns at once
        await module.call("wait_for_temperature", {})
        heated = clock.now()
        await module.call("set_temperature", {"celsius": 4})
        await module.call("wait_for_temperature", {})
        assert module.status()["temperature"] == 4
        return [heated, clock.now() - heated]

    heated, cooled = run(scenario)
    ramp = physics.TEMPERATURE_MODULE
    assert heated == pytest.approx((95 - physics.AMBIENT_C) / ramp.heat_c_per_s)
    assert cooled == pytest.approx((95 - 4) / ramp.cool_c_per_s)
    assert cooled > heated  # the Peltier cools far slower than it heats


def test_a_wait_for_a_temperature_short_of_the_target_ends_as_the_plate_passes_it() -> None:
    async def scenario(clock: VirtualClock) -> list[float]:
        module = simulated_device("temperature", "temp", clock)
        await module.call("set_temperature", {"celsius": 95})
        await module.call("wait_for_temperature", {"celsius": 50})  # on the way up
        times = [clock.now()]
        await module.call("wait_for_temperature", {"celsius": 40})  # passed already
        times.append(clock.now())
        await module.call("wait_for_temperature", {"celsius": 99})  # beyond: the target
        times.append(clock.now())
        await module.call("set_temperature", {"celsius": 4})
        start = clock.now()
        await module.call("wait_for_temperature", {"celsius": 60})  # on the way down
        return [*times, clock.now() - start]

    up, passed, target, down = run(scenario)
    ramp = physics.TEMPERATURE_MODULE
    assert up == pytest.approx((50 - physics.AMBIENT_C) / ramp.heat_c_per_s)
    assert passed == up
    assert target == pytest.approx((95 - physics.AMBIENT_C) / ramp.heat_c_per_s)
    assert down == pytest.approx((95 - 60) / ramp.cool_c_per_s)


@pytest.mark.parametrize(("kind", "call", "params", "travel_s", "reading", "arrived"), [
    ("magnetic", "engage", {"height_mm": 20}, 20 / physics.MAGNET_SPEED_MM_S, "height_mm", 20),
    ("thermocycler", "close_lid", {}, physics.LID_TRAVEL_S, "lid", "closed"),
    ("heater_shaker", "open_latch", {}, physics.LATCH_TRAVEL_S, "latch", "open"),
])
def test_a_move_the_module_was_sent_is_seen_through_before_a_pause_takes_effect(
        kind: str, call: str, params: dict[str, Any], travel_s: float, reading: str,
        arrived: object) -> None:
    # As on a robot: the firmware answers a magnet or lid move once done and the module
    # finishes a latch move whatever the host does, so an immediate pause (or a door)
    # cut in 1 s after the call waits for it; nothing moves once the call has returned.
    async def scenario(clock: VirtualClock) -> tuple[float, object, object]:
        module = simulated_device(kind, kind, clock)
        with anyio.CancelScope() as scope:
            clock.call_at(1.0, scope.cancel)
            await module.call(call, params)
        returned, there = clock.now(), module.status()[reading]
        await clock.sleep_until(returned + 100.0)  # a long pause
        return returned, there, module.status()[reading]

    returned, there, after_the_pause = run(scenario)
    assert returned == pytest.approx(travel_s)
    assert there == after_the_pause == arrived


def test_profile_runs_on_through_a_pause_and_the_wait_takes_what_remains() -> None:
    steps = [{"celsius": 95, "hold_time_s": 10}, {"celsius": 55, "hold_time_s": 30},
             {"celsius": 72, "hold_time_s": 30}]

    async def scenario(clock: VirtualClock) -> tuple[float, dict[str, Any]]:
        tc = simulated_device("thermocycler", "tc", clock)
        await tc.call("close_lid", {})
        start = clock.now()
        await tc.call("execute_profile", {"steps": steps, "repetitions": 3, "volume_ul": 20})
        await clock.sleep_until(start + 130.0)  # the run is paused meanwhile
        during = dict(tc.status())
        await tc.call("wait_for_profile", {})
        return clock.now() - start, during

    took, during = run(scenario)
    plan = ProfilePlan(physics.THERMOCYCLER_BLOCK, physics.AMBIENT_C,
                       [ProfileStep.from_mapping(s) for s in steps], 3, 0.0)
    assert took == pytest.approx(plan.end)
    # by hand: 23->95 at 4 °C/s, then per cycle 95->55 and 55->72 and (cycles 2, 3) 72->95
    by_hand = (72 / 4 + 10) + 40 / 2 + 30 + 17 / 4 + 30 + 2 * (23 / 4 + 10 + 20 + 30 + 4.25 + 30)
    assert took == pytest.approx(by_hand)
    assert during["profile_cycle"] == 2 and during["status"] == "running profile"


def test_shaker_stops_at_park_and_is_back_at_speed_after_unpark() -> None:
    async def scenario(clock: VirtualClock) -> list[Any]:
        hs = simulated_device("heater_shaker", "hs", clock)
        await hs.call("close_latch", {})
        await hs.call("set_shake_speed", {"rpm": 1000})
        seen = [hs.status()["rpm"]]
        await hs.park()
        seen.append(hs.status()["rpm"])
        with pytest.raises(HardwareFault):
            await hs.call("set_shake_speed", {"rpm": 5000})
        await hs.unpark()
        seen.append(hs.status()["rpm"])
        with pytest.raises(HardwareFault, match="shaking"):
            await hs.call("open_latch", {})
        await hs.deactivate()
        seen.append(hs.status()["rpm"])
        return seen

    assert run(scenario) == [1000, 0, 1000, 0]


def test_block_hold_time_counts_from_reaching_the_target() -> None:
    async def scenario(clock: VirtualClock) -> float:
        tc = simulated_device("thermocycler", "tc", clock)
        await tc.call("set_block_temperature", {"celsius": 63, "hold_time_s": 60,
                                                 "volume_ul": None, "ramp_rate": None})
        await tc.call("wait_for_block_temperature", {})
        return clock.now()

    assert run(scenario) == pytest.approx((63 - 23) / 4 + 60)


INSTANTS = [7.476, 63.177, 4095.033, *(round(random.Random(0).uniform(0, 5000), 3)
                                        for _ in range(400))]
"""Clock readings to start at: the first three once left a stopped shaker at 2e-10 rpm."""


def test_a_stopped_shaker_lets_the_latch_open_whenever_it_stopped() -> None:
    async def scenario(clock: VirtualClock) -> tuple[float, str]:
        hs = simulated_device("heater_shaker", "hs", clock)
        await hs.call("close_latch", {})
        await hs.call("set_shake_speed", {"rpm": 500})
        await hs.call("deactivate_shaker", {})
        await hs.call("open_latch", {})  # raised "the plate is shaking"
        return hs.status()["rpm"], hs.status()["latch"]

    for start in INSTANTS:
        assert anyio.run(scenario, VirtualClock(start)) == (0, "open"), start


def test_with_the_latch_open_the_shaker_is_not_homed_but_a_stop_still_ends_cleanly() -> None:
    # As the firmware: the shaker stops by homing, refused with the latch open; a stop or
    # abort (deactivate) then leaves the shaker alone, since it cannot be turning.
    async def scenario(clock: VirtualClock) -> dict[str, Any]:
        hs = simulated_device("heater_shaker", "hs", clock, heaters_off_on_stop=True)
        await hs.call("set_temperature", {"celsius": 60})
        await hs.call("open_latch", {})
        with pytest.raises(HardwareFault, match="deactivate_shaker: the labware latch is not"):
            await hs.call("deactivate_shaker", {})
        await hs.deactivate()
        await hs.call("deactivate", {})
        return hs.status()

    status = run(scenario)
    assert (status["rpm"], status["latch"], status["target"]) == (0, "open", None)


def test_a_heater_with_no_cooling_gets_no_colder_than_the_room() -> None:
    # A heater-shaker set below room temperature drifts down to the room and holds there.
    for start_c in (23.0, 40.0):
        track = physics.Track(physics.HEATER_SHAKER, 0.0, start=start_c)
        track.set_target(0.0, 10.0)
        end = track.reached_at()
        assert end == (start_c - physics.AMBIENT_C) / physics.HEATER_SHAKER.cool_c_per_s
        assert [track.temperature(t) for t in (end, end + 3600)] == [physics.AMBIENT_C] * 2
        assert track.status(end) == "holding at target"
    block = physics.Track(physics.TEMPERATURE_MODULE, 0.0)  # a Peltier does cool
    block.set_target(0.0, 10.0)
    assert block.temperature(block.reached_at()) == 10.0


def test_a_heater_is_at_its_target_when_its_wait_ends() -> None:
    for start in INSTANTS:
        for ramp, target in ((physics.HEATER_SHAKER, 60.0), (physics.TEMPERATURE_MODULE, 4.0),
                             (physics.THERMOCYCLER_BLOCK, 94.5)):
            track = physics.Track(ramp, start)
            track.set_target(start, target)
            assert track.temperature(track.reached_at()) == target, (start, target)


def _walk(steps: list[ProfileStep], repetitions: int) -> list[tuple[PlannedStep, float]]:
    """Every step of every cycle, walked one by one: what a plan must agree with."""
    walked, now, celsius = [], 0.0, physics.AMBIENT_C
    ramp = physics.THERMOCYCLER_BLOCK
    for cycle in range(1, repetitions + 1):
        for index, step in enumerate(steps, start=1):
            reached = now + ramp.duration(celsius, step.celsius)
            end = reached + step.hold_time_s
            walked.append((PlannedStep(cycle, index, step.celsius, now, reached, end), celsius))
            now, celsius = end, step.celsius
    return walked


@given(st.lists(st.tuples(st.integers(4, 99), st.integers(0, 60)), min_size=1, max_size=4),
       st.integers(1, 5), st.lists(st.floats(0, 1.0), min_size=1, max_size=20))
def test_a_profile_plan_agrees_with_walking_every_step(
        raw: list[tuple[int, int]], repetitions: int, fractions: list[float]) -> None:
    steps = [ProfileStep(float(c), float(h)) for c, h in raw]
    walked = _walk(steps, repetitions)
    plan = ProfilePlan(physics.THERMOCYCLER_BLOCK, physics.AMBIENT_C, steps, repetitions, 0.0)
    assert plan.end == pytest.approx(walked[-1][0].end)
    assert plan.last.cycle == repetitions and plan.last.celsius == steps[-1].celsius
    for fraction in fractions:
        now = fraction * walked[-1][0].end
        expected = next(((s, before) for s, before in walked if s.start <= now < s.end), None)
        got = plan.at(now)
        if expected is None or got is None:  # only at a boundary, to rounding
            assert expected is None or expected[0].end - now < 1e-6
            continue
        (step, before), (want, want_before) = got, expected
        if step.cycle != want.cycle or step.step != want.step:  # rounding at a boundary
            assert min(abs(now - want.start), abs(now - want.end)) < 1e-6
            continue
        assert (step.celsius, before) == (want.celsius, want_before)
        assert (step.start, step.reached, step.end) == pytest.approx(
            (want.start, want.reached, want.end))


def test_a_profile_of_a_hundred_million_cycles_is_planned_at_once() -> None:
    # It was a list of every step of every cycle: 4 GB and minutes in the engine's loop,
    # deaf to Ctrl-C, for ``repetitions=10**12``.
    steps = [ProfileStep(95.0, 5.0), ProfileStep(55.0, 10.0)]
    plan = ProfilePlan(physics.THERMOCYCLER_BLOCK, physics.AMBIENT_C, steps, 10**12, 0.0)
    period = 40 / 4 + 5 + 40 / 2 + 10  # 55 -> 95 at 4 °C/s, hold, 95 -> 55 at 2 °C/s, hold
    first = 72 / 4 + 5 + 40 / 2 + 10
    assert plan.end == pytest.approx(first + (10**12 - 1) * period)
    running = plan.at(plan.end - 1.0)
    assert running is not None
    assert (running[0].cycle, running[0].step, running[1]) == (10**12, 2, 95.0)


def test_a_wait_beyond_the_target_says_so_also_when_called_again_after_a_pause() -> None:
    async def scenario(clock: VirtualClock) -> list[Any]:
        module = simulated_device("temperature", "temp", clock)
        await module.call("set_temperature", {"celsius": 30})
        with anyio.CancelScope() as scope:  # a pause cuts the wait off while heating
            clock.call_at(10.0, scope.cancel)
            await module.call("wait_for_temperature", {"celsius": 35})
        await clock.sleep_until(300.0)  # paused past the ramp: the plate holds at 30 °C
        again = await module.call("wait_for_temperature", {"celsius": 35})
        later = await module.call("wait_for_temperature", {"celsius": 35})  # a new call
        return [again.get("awaited_beyond_target"), later.get("awaited_beyond_target")]

    assert run(scenario) == [True, None]


def test_a_stop_ends_a_running_profile_and_the_block_holds_its_step() -> None:
    # It ran on after the run had stopped ("running profile" in the summary).
    async def scenario(clock: VirtualClock) -> dict[str, Any]:
        tc = simulated_device("thermocycler", "tc", clock)
        steps = [{"celsius": 95, "hold_time_s": 30}, {"celsius": 55, "hold_time_s": 30}]
        await tc.call("execute_profile", {"steps": steps, "repetitions": 10, "volume_ul": 20})
        await clock.sleep_until(100.0)
        await tc.deactivate()  # the run stopped
        await clock.sleep_until(400.0)  # the profile would be in its fourth cycle
        return dict(tc.status())

    status = run(scenario)
    assert status["status"] != "running profile" and status["profile_cycle"] is None
    assert status["block_target"] in (95, 55) and status["block_temperature"] == status[
        "block_target"]


@pytest.mark.parametrize(("model", "rate"), [("thermocyclerModuleV2", 0.5),
                                             ("thermocyclerModuleV1", 4.0)])
def test_a_gen2_block_ramps_at_its_ramp_rate_a_gen1_at_its_full_rate(model: str,
                                                                      rate: float) -> None:
    # Opentrons' GEN2 driver sends the ramp rate (M104 ... R), its GEN1 driver drops it;
    # a profile step's ramp rate likewise.
    async def scenario(clock: VirtualClock) -> tuple[float, float]:
        tc = simulated_device("thermocycler", "tc", clock, model=model)
        await tc.call("set_block_temperature", {"celsius": 43, "ramp_rate": 0.5})
        await tc.call("wait_for_block_temperature", {})
        block = clock.now()
        await tc.call("execute_profile", {"steps": [
            {"celsius": 63, "hold_time_s": 0, "ramp_rate": 0.5}], "repetitions": 1})
        await tc.call("wait_for_profile", {})
        return block, clock.now() - block

    assert run(scenario) == (pytest.approx(20 / rate), pytest.approx(20 / rate))


def test_a_profile_step_s_ramp_rate_paces_the_block_and_its_readings() -> None:
    steps = [ProfileStep(95, 0), ProfileStep(55, 10, ramp_rate=1.0)]
    plan = ProfilePlan(physics.THERMOCYCLER_BLOCK, 95.0, steps, 2, 0.0)
    assert plan.end == pytest.approx(2 * (40 / 1.0 + 10) + 40 / 4)

    async def scenario(clock: VirtualClock) -> float:
        tc = simulated_device("thermocycler", "tc", clock)
        await tc.call("set_block_temperature", {"celsius": 95})
        await tc.call("wait_for_block_temperature", {})
        await tc.call("execute_profile", {"steps": [
            {"celsius": 55, "hold_time_s": 10, "ramp_rate": 1.0}], "repetitions": 1})
        await clock.sleep_until(clock.now() + 10.0)
        return float(tc.status()["block_temperature"])

    assert run(scenario) == pytest.approx(85.0)  # 10 s at 1 °C/s, not 20 s worth at 2


def test_a_halt_abandons_a_running_profile_and_the_block_holds_its_step() -> None:
    async def scenario(clock: VirtualClock) -> tuple[bool, bool, dict[str, Any]]:
        tc = simulated_device("thermocycler", "tc", clock, heaters_off_on_stop=True)
        idle = tc.abandon()
        steps = [{"celsius": 95, "hold_time_s": 30}, {"celsius": 55, "hold_time_s": 30}]
        await tc.call("execute_profile", {"steps": steps, "repetitions": 10, "volume_ul": 20})
        await clock.sleep_until(100.0)  # cycle 2 heads for 95 °C (cycle 1 ended at 98 s)
        abandoned = tc.abandon()
        await clock.sleep_until(400.0)  # the profile would be in its fourth cycle
        return idle, abandoned, dict(tc.status())

    idle, abandoned, status = run(scenario)
    assert (idle, abandoned) == (False, True)
    assert status["status"] == "holding at target" and status["profile_cycle"] is None
    assert status["block_target"] == status["block_temperature"] == 95  # heaters left on
