"""Each serial module driver against its emulated twin over real pseudo-terminals.

The drivers poll on a real clock sped up as the twins' is, so the waits are short; every
outcome is read from the twin's state and the lines it received, never from timing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import anyio
import pytest

from hardware.clock import RealClock
from hardware.controller import HardwareFault
from hardware.emulator.modules import (
    HeaterShakerFirmware,
    MagneticModuleFirmware,
    ModuleTwins,
    TemperatureModuleFirmware,
    ThermocyclerFirmware,
    running_module_twins,
)
from hardware.gcode import ConnectionLost, ControllerTimeout
from hardware.modules.physics import AMBIENT_C, TOLERANCE_C
from hardware.modules.serial import (
    FirmwareError,
    SerialModule,
    SerialThermocycler,
    serial_module,
)

SPEED = 200.0
KINDS = {"temp": "temperature", "mag": "magnetic", "tc": "thermocycler",
         "hs": "heater_shaker"}
LIMIT_S = 30.0


@pytest.fixture(scope="module")
def twins() -> Iterator[ModuleTwins]:
    with running_module_twins(KINDS, speed=SPEED) as running:
        yield running


def drive(twins: ModuleTwins, name: str,
          script: Callable[[SerialModule], Awaitable[None]]) -> None:
    """Connect a driver to twin ``name``, run ``script`` on it, disconnect."""

    async def main() -> None:
        device = serial_module(KINDS[name], name, twins.address(name), RealClock(SPEED),
                               timeout_s=5.0)
        with anyio.fail_after(LIMIT_S):
            await device.connect()
            try:
                await script(device)
            finally:
                await device.disconnect()

    anyio.run(main)


def received(twins: ModuleTwins, name: str) -> list[str]:
    return twins.call(lambda: list(twins.firmware(name).received))


def test_temperature_set_and_wait(twins: ModuleTwins) -> None:
    async def script(device: SerialModule) -> None:
        result = await device.call("set_temperature", {"celsius": 37})
        assert result == {"target": 37.0}
        await device.call("wait_for_temperature", {})
        status = device.status()
        assert status["kind"] == "temperature"
        assert status["status"] == "holding at target"
        assert abs(status["temperature"] - 37.0) <= TOLERANCE_C
        await device.call("deactivate", {})
        assert device.status()["target"] is None

    drive(twins, "temp", script)
    firmware = twins.firmware("temp")
    assert isinstance(firmware, TemperatureModuleFirmware)
    assert twins.call(lambda: firmware.plate.target) is None
    sent = [line for line in received(twins, "temp") if line.startswith(("M104", "M18"))]
    assert sent == ["M104 S37", "M18"]


def test_a_wait_for_a_temperature_short_of_the_target_ends_once_the_plate_passes_it(
        twins: ModuleTwins) -> None:
    async def script(device: SerialModule) -> None:
        await device.call("set_temperature", {"celsius": 90})
        await device.call("wait_for_temperature", {"celsius": 40})
        status = device.status()
        assert 40.0 <= status["temperature"] < 90.0 - TOLERANCE_C
        assert status["status"] == "heating"
        await device.call("deactivate", {})

    drive(twins, "temp", script)


@pytest.mark.parametrize("awaited", [None, 30.0])
def test_a_wait_fails_once_the_module_switches_its_target_off_by_itself(
        awaited: float | None) -> None:
    # An overheated temperature module switches its target off and says so only in a
    # line nobody asked for; M105 then reads T:none. The wait must not end as if the
    # plate were at 37 °C (it never gets there, nor is it heading there any more).
    async def script(device: SerialModule) -> None:
        await device.call("set_temperature", {"celsius": 37})
        twins.overheat("temp")
        with pytest.raises(HardwareFault, match=r"^the temperature module \[modules\.temp\] "
                                                r"on .* switched its target of 37 °C off "
                                                r"by itself \(it reads [0-9.]+ °C\)"):
            await device.call("wait_for_temperature", {"celsius": awaited})
        assert device.status()["target"] is None
        await device.call("set_temperature", {"celsius": 25})  # set again, it waits again
        await device.call("wait_for_temperature", {"celsius": awaited})
        await device.call("deactivate", {})
        await device.call("wait_for_temperature", {})  # nothing set: nothing to wait for

    with running_module_twins({"temp": "temperature"}, speed=SPEED) as twins:
        drive(twins, "temp", script)


def test_a_thermocycler_wait_fails_once_the_block_or_lid_target_is_switched_off() -> None:
    with running_module_twins({"tc": "thermocycler"}, speed=SPEED) as twins:
        thermocycler_target_switched_off(twins)


def thermocycler_target_switched_off(twins: ModuleTwins) -> None:
    firmware = twins.firmware("tc")
    assert isinstance(firmware, ThermocyclerFirmware)

    def switch_off(track_name: str) -> None:
        track = getattr(firmware, track_name)
        twins.call(lambda: track.set_target(firmware.clock.now(), None))

    async def script(device: SerialModule) -> None:
        await device.call("set_block_temperature", {"celsius": 70})
        switch_off("block")
        with pytest.raises(HardwareFault, match=r"thermocycler module \[modules\.tc\] .* "
                                                r"switched its block target of 70 °C off"):
            await device.call("wait_for_block_temperature", {})
        await device.call("set_lid_temperature", {"celsius": 100})
        switch_off("lid_heater")
        with pytest.raises(HardwareFault, match="switched its lid target of 100 °C off"):
            await device.call("wait_for_lid_temperature", {})
        await device.call("deactivate", {})

    drive(twins, "tc", script)


def test_a_heater_shaker_wait_fails_once_its_heater_is_switched_off() -> None:
    with running_module_twins({"hs": "heater_shaker"}, speed=SPEED) as twins:
        heater_shaker_target_switched_off(twins)


def heater_shaker_target_switched_off(twins: ModuleTwins) -> None:
    firmware = twins.firmware("hs")
    assert isinstance(firmware, HeaterShakerFirmware)

    async def script(device: SerialModule) -> None:
        await device.call("set_temperature", {"celsius": 60})
        twins.call(lambda: firmware.plate.set_target(firmware.clock.now(), None))
        with pytest.raises(HardwareFault, match=r"heater-shaker module \[modules\.hs\] .* "
                                                r"switched its target of 60 °C off"):
            await device.call("wait_for_temperature", {})
        await device.call("deactivate_heater", {})

    drive(twins, "hs", script)


def test_a_heater_shaker_wait_for_a_target_below_the_room_ends_at_room_temperature() -> None:
    # It only heats: the plate never gets colder than the room. The protocol API warns
    # that labrun goes on with the plate at room temperature, as the simulation does; on
    # a robot the wait polled for ever.
    ends: list[float] = []

    async def script(device: SerialModule) -> None:
        await device.call("set_temperature", {"celsius": 20})  # the plate at the room's
        ends.append((await device.call("wait_for_temperature", {}))["temperature"])
        await device.call("set_temperature", {"celsius": 30})
        await device.call("wait_for_temperature", {})
        await device.call("set_temperature", {"celsius": 20})  # it cools to the room's
        ends.append((await device.call("wait_for_temperature", {}))["temperature"])
        await device.call("deactivate_heater", {})

    with running_module_twins({"hs": "heater_shaker"}, speed=SPEED) as twins:
        drive(twins, "hs", script)
    assert len(ends) == 2
    assert all(abs(end - AMBIENT_C) <= TOLERANCE_C for end in ends), ends


def test_magnet_engage_and_disengage(twins: ModuleTwins) -> None:
    firmware = twins.firmware("mag")
    assert isinstance(firmware, MagneticModuleFirmware)
    heights: list[float] = []

    async def script(device: SerialModule) -> None:
        assert await device.call("engage", {"height_mm": 12.5}) == {"height_mm": 12.5}
        assert device.status()["engaged"] is True
        heights.append(twins.call(firmware.magnet.value))  # answered once there
        await device.call("disengage", {})
        assert device.status() | {"port": ""} == {
            "kind": "magnetic", "name": "mag", "port": "", "model": "magneticModuleV2",
            "status": "disengaged", "height_mm": 0.0, "engaged": False}

    drive(twins, "mag", script)
    assert heights == [12.5]
    assert twins.call(firmware.magnet.value) == 0.0
    assert "G0 Z12.500" in received(twins, "mag")


def test_a_gen1_magnet_is_spoken_to_in_half_millimetres() -> None:
    with running_module_twins({"mag": "magnetic"}, speed=SPEED) as twins:
        firmware = twins.firmware("mag")
        assert isinstance(firmware, MagneticModuleFirmware)
        twins.call(lambda: setattr(firmware, "model", "mag_deck_v1.1"))

        async def script(device: SerialModule) -> None:
            assert await device.call("engage", {"height_mm": 6.0}) == {"height_mm": 6.0}

        drive(twins, "mag", script)
        assert "G0 Z12.000" in received(twins, "mag")
        assert twins.call(firmware.magnet.value) == 6.0


def test_thermocycler_lid_block_and_profile(twins: ModuleTwins) -> None:
    firmware = twins.firmware("tc")
    assert isinstance(firmware, ThermocyclerFirmware)
    seen: dict[str, Any] = {}

    async def script(device: SerialModule) -> None:
        assert await device.call("open_lid", {}) == {"lid": "open"}
        seen["lid"] = twins.call(lambda: firmware.lid)
        await device.call("close_lid", {})
        await device.call("set_lid_temperature", {"celsius": 105})
        await device.call("wait_for_lid_temperature", {})
        assert abs(device.status()["lid_temperature"] - 105) <= TOLERANCE_C
        await device.call("set_block_temperature", {"celsius": 60, "hold_time_s": 5.0,
                                                    "volume_ul": 25, "ramp_rate": None})
        await device.call("wait_for_block_temperature", {})
        assert device.status()["hold_time_left_s"] == 0.0
        await device.call("execute_profile", {
            "steps": [{"celsius": 94, "hold_time_s": 3}, {"celsius": 55, "hold_time_s": 3}],
            "repetitions": 2, "volume_ul": 25})
        seen["running"] = (device.status()["profile_cycle"], device.status()["profile_step"])
        await device.call("wait_for_profile", {})
        seen["after"] = (device.status()["profile_cycle"], device.status()["block_target"])
        await device.call("deactivate_lid", {})
        await device.call("deactivate_block", {})

    drive(twins, "tc", script)
    assert seen == {"lid": "open", "running": (1, 1), "after": (None, 55.0)}
    assert twins.call(lambda: firmware.lid) == "closed"
    blocks = [line for line in received(twins, "tc") if line.startswith("M104")]
    assert blocks == ["M104 S60.00 H5.00 V25.00"] + [
        "M104 S94.00 H3.00 V25.00", "M104 S55.00 H3.00 V25.00"] * 2
    assert twins.call(lambda: firmware.block.target) is None


def test_thermocycler_error_surfaces_with_its_cause(twins: ModuleTwins) -> None:
    async def script(device: SerialModule) -> None:
        with pytest.raises(FirmwareError, match=r"^the thermocycler module \[modules\.tc\] on "
                                                r"\S+: the module refused 'M104 S120\.00': "
                                                r"ERR407:thermal:Invalid target temperature"):
            await device.call("set_block_temperature", {"celsius": 120})
        # The module still answers afterwards: a refusal is not a lost connection.
        assert (await device.call("open_lid", {}))["lid"] == "open"
        await device.call("close_lid", {})

    drive(twins, "tc", script)


def test_heater_shaker_latch_shake_and_refusals(twins: ModuleTwins) -> None:
    firmware = twins.firmware("hs")
    assert isinstance(firmware, HeaterShakerFirmware)

    async def script(device: SerialModule) -> None:
        assert await device.call("open_latch", {}) == {"latch": "open"}
        with pytest.raises(FirmwareError, match="ERR126:main motor:plate lock not closed"):
            await device.call("set_shake_speed", {"rpm": 500})
        await device.call("close_latch", {})
        await device.call("set_shake_speed", {"rpm": 500})
        assert device.status()["rpm"] == pytest.approx(500, abs=25)
        with pytest.raises(FirmwareError, match="ERR123:main motor:not home"):
            await device.call("open_latch", {})
        await device.call("set_temperature", {"celsius": 40})
        await device.call("wait_for_temperature", {})
        await device.call("deactivate_shaker", {})
        assert device.status()["rpm"] == 0.0
        await device.call("deactivate_heater", {})

    drive(twins, "hs", script)
    assert twins.call(lambda: (firmware.target_rpm, firmware.shaker.value(),
                               firmware.latch_state())) == (0, 0.0, "IDLE_CLOSED")


def test_a_stop_with_the_latch_open_sends_no_home_the_firmware_would_refuse(
        twins: ModuleTwins) -> None:
    # A stop or abort deactivates the modules: the shaker's stop is G28, which the
    # firmware refuses (ERR126) with the latch open, when nothing can be shaking anyway.
    firmware = twins.firmware("hs")
    assert isinstance(firmware, HeaterShakerFirmware)
    sent: list[str] = []

    async def script(device: SerialModule) -> None:
        await device.call("open_latch", {})
        start = len(received(twins, "hs"))
        await device.deactivate()
        await device.call("deactivate", {})
        sent.extend(received(twins, "hs")[start:])
        with pytest.raises(FirmwareError, match="ERR126:main motor:plate lock not closed"):
            await device.call("deactivate_shaker", {})  # the protocol API refuses it first
        await device.call("close_latch", {})

    drive(twins, "hs", script)
    assert "G28" not in sent and "M106" in sent
    assert twins.call(firmware.latch_state) == "IDLE_CLOSED"


def test_park_stops_the_shaker_on_the_wire_and_unpark_restores_it(
        twins: ModuleTwins) -> None:
    firmware = twins.firmware("hs")
    assert isinstance(firmware, HeaterShakerFirmware)
    states: list[tuple[int, float]] = []
    stopped: list[Any] = []

    def twin_state() -> tuple[int, float]:
        return firmware.target_rpm, round(firmware.shaker.value())

    async def script(device: SerialModule) -> None:
        await device.call("set_shake_speed", {"rpm": 1200})
        states.append(twins.call(twin_state))
        start = len(received(twins, "hs"))
        stopped.append(await device.park())
        states.append(twins.call(twin_state))
        parked_lines = received(twins, "hs")[start:]
        assert "G28" in parked_lines and not any(
            line.startswith("M3") for line in parked_lines)
        # a second park keeps the speed remembered by the first, and stopped nothing
        stopped.append(await device.park())
        await device.unpark()
        states.append(twins.call(twin_state))
        await device.call("deactivate_shaker", {})

    drive(twins, "hs", script)
    assert stopped == [{"stopped_rpm": 1200.0}, {}]
    assert states[1] == (0, 0.0)
    assert states[0][0] == states[2][0] == 1200
    assert abs(states[2][1] - 1200) <= 25


def test_a_halt_stops_a_turning_plate_and_leaves_an_open_latch_and_the_heater_alone(
        twins: ModuleTwins) -> None:
    # stop_moving (a halt, after the emergency stop): G28 for a turning plate, waited
    # until still; the heater keeps its target; nothing for a plate the pause stopped
    # (whose remembered speed is forgotten: the next pause stops the plate again), nor
    # for one whose latch is open (the firmware would refuse G28).
    firmware = twins.firmware("hs")
    assert isinstance(firmware, HeaterShakerFirmware)
    results: list[Any] = []
    sent: list[list[str]] = []

    async def script(device: SerialModule) -> None:
        await device.call("set_temperature", {"celsius": 40})
        await device.call("set_shake_speed", {"rpm": 1500})
        results.append(await device.stop_moving())
        results.append((twins.call(lambda: (firmware.target_rpm, firmware.shaker.value())),
                        device.status()["target"]))
        await device.call("set_shake_speed", {"rpm": 800})
        await device.park()
        start = len(received(twins, "hs"))
        results.append(await device.stop_moving())
        sent.append(received(twins, "hs")[start:])
        await device.call("set_shake_speed", {"rpm": 600})
        await device.park()  # a new run's pause: the plate stops again
        results.append(twins.call(lambda: firmware.target_rpm))
        await device.call("open_latch", {})
        start = len(received(twins, "hs"))
        results.append(await device.stop_moving())
        sent.append(received(twins, "hs")[start:])
        await device.call("close_latch", {})
        await device.call("deactivate", {})

    drive(twins, "hs", script)
    assert results == [{"stopped_rpm": 1500.0}, ((0, 0.0), 40.0), {}, 0, {}]
    assert all("G28" not in lines for lines in sent)


@pytest.mark.parametrize(("before", "call", "line", "parked", "after", "stopped"), [
    (0, {"method": "set_shake_speed", "rpm": 1000}, "M3 S1000", 0, 1000,
     {"stopped_rpm": 1000.0}),
    (1000, {"method": "deactivate_shaker"}, "G28", 0, 0, {})])
def test_park_reads_the_shaker_after_a_call_cut_off_once_its_line_was_sent(
        before: int, call: dict[str, Any], line: str, parked: int, after: int,
        stopped: dict[str, float]) -> None:
    # A door or an immediate pause cuts the call off while the module answers its line:
    # the line is seen through, but the driver's reading of the shaker is from before it.
    # Parking must stop what the module is doing now (a shake just started: it kept
    # shaking behind the open door), say it stopped it (the record's module_park said
    # nothing of it), and unparking restore only that (a shaker just stopped was spun up
    # again).
    with running_module_twins({"hs": "heater_shaker"}, speed=SPEED) as twins:
        firmware = twins.firmware("hs")
        assert isinstance(firmware, HeaterShakerFirmware)
        gate: anyio.Event = twins.call(anyio.Event)
        answer = firmware.execute

        async def held(received_line: str) -> str:  # the twin answers once the gate opens
            if received_line == line:
                await gate.wait()
            return await answer(received_line)

        states: list[int] = []
        said: list[Any] = []

        async def script(device: SerialModule) -> None:
            if before:
                await device.call("set_shake_speed", {"rpm": before})
            twins.call(lambda: setattr(firmware, "execute", held))
            params = {key: value for key, value in call.items() if key != "method"}
            with anyio.CancelScope() as scope:
                async with anyio.create_task_group() as tasks:
                    tasks.start_soon(device.call, call["method"], params)
                    while line not in received(twins, "hs"):
                        await anyio.sleep(0.001)
                    scope.cancel()  # the pause, while the module has not yet answered
                    twins.call(gate.set)
            said.append(await device.park())
            states.append(twins.call(lambda: firmware.target_rpm))
            await device.unpark()
            states.append(twins.call(lambda: firmware.target_rpm))
            await device.call("deactivate_shaker", {})

        drive(twins, "hs", script)
    assert states == [parked, after]
    assert said == [stopped]


def test_a_lost_connection_is_a_fault_naming_the_module() -> None:
    # The run fails with what the call raises: it said 'lost /dev/pts/4: device reports
    # readiness to read but returned no data', naming no module.
    with running_module_twins({"temp": "temperature"}, speed=SPEED) as twins:
        port = twins.address("temp")

        async def main() -> None:
            device = serial_module("temperature", "temp", port, RealClock(SPEED),
                                   timeout_s=5.0)
            with anyio.fail_after(LIMIT_S):
                await device.connect()
                await device.call("set_temperature", {"celsius": 4})
                twins.drop("temp")
                with pytest.raises(HardwareFault) as caught:
                    await device.call("wait_for_temperature", {})
                with pytest.raises(HardwareFault) as again:  # the wire stays failed
                    await device.call("deactivate", {})
                await device.disconnect()
            assert isinstance(caught.value, ConnectionLost), caught.value
            for said in (str(caught.value), str(again.value)):
                assert said.startswith(f"the temperature module [modules.temp] on {port}: ")
                assert said.count(port) == 1, said

        anyio.run(main)


def test_an_unknown_call_names_the_calls_the_module_has(twins: ModuleTwins) -> None:
    async def script(device: SerialModule) -> None:
        with pytest.raises(HardwareFault, match=r"no call 'shake'.*disengage, engage"):
            await device.call("shake", {})

    drive(twins, "mag", script)


def test_connect_tries_again_when_a_booting_module_misses_its_first_line() -> None:
    with running_module_twins({"mag": "magnetic"}, speed=SPEED) as twins:
        firmware = twins.firmware("mag")
        twins.call(lambda: setattr(firmware, "ignore_lines", 1))

        async def main() -> None:
            device = serial_module("magnetic", "mag", twins.address("mag"),
                                   RealClock(SPEED), timeout_s=0.5)
            with anyio.fail_after(LIMIT_S):
                await device.connect()
                assert "model:mag_deck_v20" in device.firmware
                await device.disconnect()

        anyio.run(main)
        assert twins.call(lambda: firmware.received[:2]) == ["M115", "M115"]


@pytest.mark.parametrize("model", ["thermocyclerModuleV2", "thermocyclerModuleV1"])
def test_a_booting_thermocycler_is_tried_again_after_its_other_framing(model: str) -> None:
    # Asked in the other generation's framing after the first silence, as a module of
    # the wrong model would be; the connect's own tries still go on (a GEN1 resets when
    # its port opens).
    with running_module_twins({"tc": "thermocycler"}, speed=SPEED,
                              models={"tc": model}) as twins:
        firmware = twins.firmware("tc")
        twins.call(lambda: setattr(firmware, "ignore_lines", 1))

        async def main() -> None:
            device = serial_module("thermocycler", "tc", twins.address("tc"),
                                   RealClock(SPEED), timeout_s=0.5, model=model)
            with anyio.fail_after(LIMIT_S):
                await device.connect()
                assert device.status()["model"] == model
                await device.disconnect()

        anyio.run(main)


@pytest.mark.parametrize("kind", ["temperature", "magnetic"])
def test_another_kind_on_a_thermocyclers_port_is_named_as_that_kind(kind: str) -> None:
    with running_module_twins({"x": kind}, speed=SPEED) as twins:

        async def main() -> None:
            device = serial_module("thermocycler", "tc", twins.address("x"),
                                   RealClock(SPEED), timeout_s=0.5)
            with anyio.fail_after(LIMIT_S), pytest.raises(
                    HardwareFault, match=f"says it is a {kind} module .*, not a "
                                         r"thermocycler module: check the port of "
                                         r"\[modules.tc\]"):
                await device.connect()

        anyio.run(main)


def test_a_module_that_never_answers_times_out() -> None:
    with running_module_twins({"temp": "temperature"}, speed=SPEED) as twins:
        firmware = twins.firmware("temp")
        twins.call(lambda: setattr(firmware, "ignore_lines", 100))

        async def main() -> None:
            device = serial_module("temperature", "temp", twins.address("temp"),
                                   RealClock(SPEED), timeout_s=0.2)
            with anyio.fail_after(LIMIT_S), pytest.raises(ControllerTimeout,
                                                           match="the answer to 'M115'"):
                await device.connect()

        anyio.run(main)


def test_an_error_the_firmware_meets_on_its_own_fails_the_next_call() -> None:
    with running_module_twins({"hs": "heater_shaker"}, speed=SPEED) as twins:

        async def main() -> None:
            device = serial_module("heater_shaker", "hs", twins.address("hs"),
                                   RealClock(SPEED), timeout_s=5.0)
            with anyio.fail_after(LIMIT_S):
                await device.connect()
                await anyio.to_thread.run_sync(
                    twins.report_error, "hs", "ERR201:heater:thermistor a disconnected")
                while device.wire.async_error is None:  # the line is on its way
                    await anyio.sleep(0.001)
                with pytest.raises(FirmwareError, match="reported 'async ERR201:heater:"
                                                        "thermistor a disconnected'"):
                    await device.call("set_temperature", {"celsius": 40})
                # Reported once: the module answers again.
                await device.call("set_temperature", {"celsius": 40})
                await device.disconnect()

        anyio.run(main)


@pytest.mark.parametrize(("kind", "identity", "model"), [
    ("temperature", "temp_deck_v20", "temperatureModuleV2"),
    ("temperature", "temp_deck_v1.1", "temperatureModuleV1"),
    ("magnetic", "mag_deck_v20", "magneticModuleV2"),
    ("magnetic", "mag_deck_v1.1", "magneticModuleV1"),
    ("thermocycler", None, "thermocyclerModuleV2"),
    ("heater_shaker", None, "heaterShakerModuleV1"),
])
def test_a_module_says_which_model_it_is(kind: str, identity: str | None, model: str) -> None:
    # Read from M115 as Opentrons reads it: GEN2 from revision 20 (model:temp_deck_v20);
    # a thermocycler that echoes M115 (STM32 firmware) is the GEN2.
    with running_module_twins({"m": kind}, speed=SPEED) as twins:
        firmware = twins.firmware("m")
        if identity is not None:
            twins.call(lambda: setattr(firmware, "model", identity))
        seen: list[object] = []

        async def main() -> None:
            device = serial_module(kind, "m", twins.address("m"), RealClock(SPEED),
                                   timeout_s=5.0)
            with anyio.fail_after(LIMIT_S):
                await device.connect()
                seen.append(device.status()["model"])
                await device.disconnect()

        anyio.run(main)
    assert seen == [model]


def test_a_block_ramp_rate_goes_to_the_thermocycler(twins: ModuleTwins) -> None:
    # As Opentrons' GEN2 driver: M104 ... R<°C/s>; the block then ramps that fast.
    firmware = twins.firmware("tc")
    assert isinstance(firmware, ThermocyclerFirmware)
    limits: list[float | None] = []

    async def script(device: SerialModule) -> None:
        await device.call("set_block_temperature", {"celsius": 40, "hold_time_s": None,
                                                    "volume_ul": None, "ramp_rate": 0.5})
        limits.append(twins.call(lambda: firmware.block.limit))
        await device.call("execute_profile", {
            "steps": [{"celsius": 45, "hold_time_s": 0, "ramp_rate": 2.0}],
            "repetitions": 1, "volume_ul": None})
        await device.call("wait_for_profile", {})
        await device.call("deactivate_block", {})

    drive(twins, "tc", script)
    blocks = [line for line in received(twins, "tc") if line.startswith("M104")]
    assert blocks[-2:] == ["M104 S40.00 R0.50", "M104 S45.00 H0.00 R2.00"]
    assert limits == [0.5]


def test_a_ramp_rate_is_refused_by_a_thermocycler_whose_firmware_takes_none() -> None:
    # Opentrons refuses a ramp rate before firmware v1.0.8 (nothing is sent).
    with running_module_twins({"tc": "thermocycler"}, speed=SPEED) as twins:
        firmware = twins.firmware("tc")
        assert isinstance(firmware, ThermocyclerFirmware)
        twins.call(lambda: setattr(firmware, "version", "v1.0.4"))

        async def script(device: SerialModule) -> None:
            with pytest.raises(HardwareFault, match=r"firmware v1\.0\.4, which takes no ramp "
                                                    r"rate \(from v1\.0\.8"):
                await device.call("set_block_temperature", {"celsius": 40, "ramp_rate": 1})

        drive(twins, "tc", script)
        assert not [line for line in received(twins, "tc") if line.startswith("M104")]


PROFILE = {"steps": [{"celsius": 94, "hold_time_s": 2}, {"celsius": 55, "hold_time_s": 2}],
           "repetitions": 50, "volume_ul": 20}


def test_a_new_block_setpoint_ends_a_running_profile(twins: ModuleTwins) -> None:
    # A profile left running (a halted run in `labrun serve`) must not override the next
    # setpoint with its next step, as the simulated thermocycler's does not.
    firmware = twins.firmware("tc")
    assert isinstance(firmware, ThermocyclerFirmware)

    async def script(device: SerialModule) -> None:
        await device.call("execute_profile", PROFILE)
        await device.call("set_block_temperature", {"celsius": 4})
        assert device.status()["status"] != "running profile"
        start = len(received(twins, "tc"))
        await RealClock(SPEED).sleep(40.0)  # the profile would have stepped on by now
        assert not [line for line in received(twins, "tc")[start:]
                    if line.startswith("M104")]
        assert twins.call(lambda: firmware.block.target) == 4.0

    drive(twins, "tc", script)


def test_a_halt_abandons_a_profile_from_another_thread_and_the_block_holds(
        twins: ModuleTwins) -> None:
    # A halt leaves the heaters as they are, but labrun stops sending the profile's steps.
    firmware = twins.firmware("tc")
    assert isinstance(firmware, ThermocyclerFirmware)

    async def script(device: SerialModule) -> None:
        assert isinstance(device, SerialThermocycler)
        assert device.abandon() is False  # nothing running
        start = len(received(twins, "tc"))
        await device.call("execute_profile", PROFILE)
        while "M104 S94.00 H2.00 V20.00" not in received(twins, "tc")[start:]:
            await anyio.sleep(0.001)  # its first step is on the wire
        abandoned = await anyio.to_thread.run_sync(device.abandon)  # the engine's thread
        assert abandoned
        await device.call("wait_for_profile", {})  # over at once
        held = twins.call(lambda: firmware.block.target)
        start = len(received(twins, "tc"))
        await RealClock(SPEED).sleep(40.0)  # the profile would have stepped on by now
        assert not [line for line in received(twins, "tc")[start:]
                    if line.startswith("M104")]
        assert held in (94.0, 55.0) and twins.call(lambda: firmware.block.target) == held
        assert device.status()["status"] != "running profile"
        await device.call("deactivate_block", {})

    drive(twins, "tc", script)


@pytest.mark.parametrize(("name", "call", "reading", "arrived"), [
    ("tc", "close_lid", "lid", "closed"),
    ("mag", "engage", "height_mm", 20.0),
    ("hs", "open_latch", "latch", "open"),
])
def test_a_move_sent_to_the_module_is_seen_through_when_the_caller_is_cut_off(
        twins: ModuleTwins, name: str, call: str, reading: str, arrived: object) -> None:
    # The module finishes it whatever the host does: a pause (or a door) takes effect once
    # it has arrived, and the call says where it is, as the simulated module predicts.
    params = {"height_mm": 20.0} if call == "engage" else {}

    async def script(device: SerialModule) -> None:
        with anyio.CancelScope() as scope:
            scope.cancel()
            result = await device.call(call, params)
        assert not scope.cancelled_caught
        assert result[reading] == device.status()[reading] == arrived
        await device.call({"close_lid": "open_lid", "engage": "disengage",
                           "open_latch": "close_latch"}[call], {})

    drive(twins, name, script)


def test_a_module_that_fails_while_nothing_is_asked_of_it_is_reported_at_once() -> None:
    # A pulled cable, an error the firmware reports on its own and a module that stops
    # answering go to the fault listener without waiting for the next command.
    with running_module_twins({"hs": "heater_shaker", "temp": "temperature",
                               "mag": "magnetic"}, speed=SPEED) as twins:
        heard: list[str] = []

        async def main() -> None:
            devices = {name: serial_module(kind, name, twins.address(name),
                                           RealClock(SPEED), timeout_s=0.4)
                       for name, kind in (("hs", "heater_shaker"), ("temp", "temperature"),
                                          ("mag", "magnetic"))}
            with anyio.fail_after(LIMIT_S):
                for device in devices.values():
                    await device.connect()
                    device.set_fault_listener(lambda fault: heard.append(str(fault)))
                await anyio.to_thread.run_sync(
                    twins.report_error, "hs", "ERR401:motor:whatever went wrong")
                await anyio.to_thread.run_sync(twins.drop, "temp")
                await anyio.to_thread.run_sync(
                    twins.call, lambda: setattr(twins.firmware("mag"), "ignore_lines", 10**6))
                while len(heard) < 3:
                    await anyio.sleep(0.005)
                for device in devices.values():
                    await device.disconnect()

        anyio.run(main)
    assert len(heard) == 3
    hs, = (said for said in heard if "[modules.hs]" in said)
    assert hs.startswith("the heater-shaker module [modules.hs] on ")
    assert hs.endswith("the module reported 'async ERR401:motor:whatever went wrong'")
    temp, = (said for said in heard if "[modules.temp]" in said)
    assert temp.startswith("the temperature module [modules.temp] on ")
    mag, = (said for said in heard if "[modules.mag]" in said)
    assert "the answer to 'M114.2'" in mag  # its state asked while quiet, never answered


def test_a_quiet_modules_state_is_read_while_nothing_is_asked_of_it(twins: ModuleTwins) -> None:
    """A plate heating while the run asks the module nothing (a delay, a pause): the
    quiet wire reads its state, so what the driver reports (the live page's module
    panel) rises with it rather than standing at the last command's answer."""

    async def main() -> None:
        device = serial_module("temperature", "temp", twins.address("temp"), RealClock(SPEED),
                               timeout_s=0.2)
        with anyio.fail_after(LIMIT_S):
            await device.connect()
            try:
                await device.call("set_temperature", {"celsius": 90})
                start = device.status()["temperature"]
                seen = [start]
                while seen[-1] < start + 5.0:  # the plate ramps some degrees a second
                    await anyio.sleep(0.02)
                    seen.append(device.status()["temperature"])
                assert device.status()["status"] == "heating"
                await device.call("deactivate", {})
            finally:
                await device.disconnect()

    anyio.run(main)
    asked = received(twins, "temp")
    asked = asked[len(asked) - asked[::-1].index("M104 S90"):]  # this test's, after M104
    assert len(asked) > 2 and set(asked[:asked.index("M18")]) == {"M105"}  # readings only
