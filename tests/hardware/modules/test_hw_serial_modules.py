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
from hardware.modules.physics import TOLERANCE_C
from hardware.modules.serial import FirmwareError, SerialModule, serial_module

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
            "kind": "magnetic", "name": "mag", "port": "", "status": "disengaged",
            "height_mm": 0.0, "engaged": False}

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
        with pytest.raises(FirmwareError, match=r"M104 S120\.00.*ERR407:thermal:Invalid "
                                                r"target temperature"):
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

    def twin_state() -> tuple[int, float]:
        return firmware.target_rpm, round(firmware.shaker.value())

    async def script(device: SerialModule) -> None:
        await device.call("set_shake_speed", {"rpm": 1200})
        states.append(twins.call(twin_state))
        start = len(received(twins, "hs"))
        await device.park()
        states.append(twins.call(twin_state))
        parked_lines = received(twins, "hs")[start:]
        assert "G28" in parked_lines and not any(
            line.startswith("M3") for line in parked_lines)
        await device.park()  # a second park keeps the speed remembered by the first
        await device.unpark()
        states.append(twins.call(twin_state))
        await device.call("deactivate_shaker", {})

    drive(twins, "hs", script)
    assert states[1] == (0, 0.0)
    assert states[0][0] == states[2][0] == 1200
    assert abs(states[2][1] - 1200) <= 25


def test_a_lost_connection_is_a_fault() -> None:
    with running_module_twins({"temp": "temperature"}, speed=SPEED) as twins:
        async def main() -> None:
            device = serial_module("temperature", "temp", twins.address("temp"),
                                   RealClock(SPEED), timeout_s=5.0)
            with anyio.fail_after(LIMIT_S):
                await device.connect()
                await device.call("set_temperature", {"celsius": 4})
                twins.drop("temp")
                with pytest.raises(HardwareFault) as caught:
                    await device.call("wait_for_temperature", {})
                await device.disconnect()
            assert isinstance(caught.value, ConnectionLost), caught.value

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
