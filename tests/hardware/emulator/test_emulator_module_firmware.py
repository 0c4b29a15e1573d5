"""The emulated module firmware agrees with itself: what it reports is what it then acts
on. Time is a clock only the test moves, so nothing depends on how busy the host is."""

from __future__ import annotations

import anyio
import pytest
from labrun_testing import SteppedClock

from hardware.emulator.modules.base import Refused
from hardware.emulator.modules.firmwares import HeaterShakerFirmware
from hardware.modules import physics


def answer(firmware: HeaterShakerFirmware, line: str) -> str:
    return anyio.run(firmware.execute, line)


@pytest.mark.parametrize("left_rpm", [0.0, 0.2, 0.49, 0.5, 0.9, 3.0])
def test_a_shaker_reported_stopped_lets_the_latch_open(left_rpm: float) -> None:
    clock = SteppedClock()
    firmware = HeaterShakerFirmware(clock)
    answer(firmware, "M3 S500")
    clock.t = 10.0  # at speed
    answer(firmware, "G28")  # the host stops it, then asks M123 until it says C:0
    clock.t = 10.0 + (500 - left_rpm) / physics.SHAKER_ACCEL_RPM_S
    reported = answer(firmware, "M123")
    if reported.startswith("C:0 "):
        answer(firmware, "M242")  # refused ERR123 "not home" at 0.2 rpm, shown as C:0
        assert firmware.latch_state() == "OPENING"
    else:
        assert left_rpm > 0, reported  # still turning: it says so, and refuses
        with pytest.raises(Refused, match="ERR123"):
            answer(firmware, "M242")


def test_asking_for_the_latch_as_it_already_is_is_no_move_and_no_refusal() -> None:
    # As the firmware does: a latch already closed (or open) reports so, shaking or not;
    # only a latch that would have to move is refused while the plate shakes.
    clock = SteppedClock()
    firmware = HeaterShakerFirmware(clock)
    answer(firmware, "M3 S500")
    clock.t = 10.0
    answer(firmware, "M243")  # refused ERR124 "not stopped" though nothing had to move
    assert answer(firmware, "M241") == "STATUS:IDLE_CLOSED"
    with pytest.raises(Refused, match="ERR123"):
        answer(firmware, "M242")
    answer(firmware, "G28")
    clock.t = 20.0
    answer(firmware, "M242")
    clock.t = 30.0
    answer(firmware, "M242")
    assert answer(firmware, "M241") == "STATUS:IDLE_OPEN"


def test_only_a_stop_by_g28_homes_the_plate_and_lets_the_latch_open() -> None:
    # The firmware opens its latch only with the plate homed: at power-on, and after a
    # G28 has stopped it; an M3 S0 stops the plate too but leaves it unhomed.
    clock = SteppedClock()
    firmware = HeaterShakerFirmware(clock)
    answer(firmware, "M3 S500")
    clock.t = 10.0
    answer(firmware, "M3 S0")
    clock.t = 20.0
    assert answer(firmware, "M123") == "C:0 T:0"
    with pytest.raises(Refused, match="ERR123:main motor:not home"):
        answer(firmware, "M242")
    answer(firmware, "G28")
    clock.t = 30.0
    answer(firmware, "M242")
    assert firmware.latch_state() == "OPENING"


def test_with_the_latch_open_the_plate_neither_shakes_nor_homes() -> None:
    # G28 homes the plate by turning it: the firmware refuses it, as any M3 (S0 too),
    # unless the latch is closed.
    clock = SteppedClock()
    firmware = HeaterShakerFirmware(clock)
    answer(firmware, "M242")
    clock.t = 10.0
    assert answer(firmware, "M241") == "STATUS:IDLE_OPEN"
    for line in ("G28", "M3 S500", "M3 S0"):
        with pytest.raises(Refused, match="ERR126:main motor:plate lock not closed"):
            answer(firmware, line)
    answer(firmware, "M243")
    clock.t = 20.0
    answer(firmware, "G28")
    assert answer(firmware, "M123") == "C:0 T:0"
