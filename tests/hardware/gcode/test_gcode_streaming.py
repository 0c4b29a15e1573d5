"""The streamer's bookkeeping, fed answers by hand (the wire is a list)."""

from __future__ import annotations

import anyio
import pytest

from hardware.gcode import ControllerError, ControllerTimeout, Grbl, Marlin, Smoothie
from hardware.gcode.events import Error, Halted, Ok, Resend
from hardware.gcode.streaming import BUSY_FACTOR, Pending, Streamer

pytestmark = pytest.mark.anyio


def streamer_for(dialect: Grbl | Marlin | Smoothie, timeout_s: float = 1.0
                 ) -> tuple[Streamer, list[bytes]]:
    wire: list[bytes] = []

    async def write(data: bytes) -> None:
        wire.append(data)

    return Streamer(dialect, write, timeout_s), wire


async def test_character_counting_holds_a_line_that_would_overflow_127_bytes() -> None:
    streamer, wire = streamer_for(Grbl())
    line = "G1 X100.000 Y100.000 Z100.000 F6000.0"  # 38 bytes with its newline
    first = [await streamer.submit(line) for _ in range(3)]  # 114 bytes in flight
    assert streamer.in_flight_bytes == 114
    async with anyio.create_task_group() as tg:
        tg.start_soon(streamer.submit, line)
        await anyio.sleep(0.01)
        assert len(wire) == 3  # the fourth would make 152 bytes: held back
        streamer.on_ok(Ok())
        await anyio.sleep(0.01)
        assert len(wire) == 4
    assert first[0].done.is_set() and first[0].reply == Ok()
    assert streamer.in_flight_bytes == 114
    await streamer.submit("G1 X1.00 F60")  # 13 bytes: 127 in flight, GRBL's usable buffer
    assert streamer.in_flight_bytes == 127
    async with anyio.create_task_group() as tg:
        tg.start_soon(streamer.submit, "")  # one byte more would be 128: held back
        await anyio.sleep(0.01)
        assert streamer.in_flight_bytes == 127 and len(wire) == 5
        streamer.on_ok(Ok())
    assert len(wire) == 6


async def test_window_of_one_line_for_marlin_and_smoothie() -> None:
    for dialect in (Marlin(), Smoothie()):
        streamer, wire = streamer_for(dialect)
        await streamer.submit("G90")
        with anyio.move_on_after(0.02):
            await streamer.submit("G21")
        assert len(wire) == 1


async def test_grbl_error_replaces_the_ok() -> None:
    streamer, _ = streamer_for(Grbl())
    entry = await streamer.submit("G1 X1")
    streamer.on_error(Error("error:22 (feed rate not set)", final=True))
    with pytest.raises(ControllerError, match=r"rejected 'G1 X1': error:22"):
        await streamer.wait(entry)


async def test_marlin_error_then_ok_fails_the_line() -> None:
    streamer, wire = streamer_for(Marlin())
    entry = await streamer.submit("G1 X1")
    assert wire == [b"N1 G1 X1*96\n"]
    streamer.on_error(Error("Error:Injected failure", final=False))
    assert not entry.done.is_set()
    streamer.on_ok(Ok())
    with pytest.raises(ControllerError, match="Injected failure"):
        await streamer.wait(entry)


async def test_smoothie_halted_answer_fails_the_line() -> None:
    streamer, _ = streamer_for(Smoothie())
    entry = await streamer.submit("G1 X1")
    streamer.on_error(Halted("controller is halted: send M999"))
    with pytest.raises(ControllerError, match="halted"):
        await streamer.wait(entry)


async def test_marlin_resend_rewrites_the_line_behind_an_out_of_band_one() -> None:
    streamer, wire = streamer_for(Marlin())
    move = await streamer.submit("G1 X1")
    stop = await streamer.submit("M410", out_of_band=True)
    # Marlin: line 1 was corrupted; it asks for it again, then oks the request.
    await streamer.on_resend(Resend(1))
    assert wire == [b"N1 G1 X1*96\n", b"M410\n", b"N1 G1 X1*96\n"]
    streamer.on_ok(Ok())  # belongs to the resend request
    assert not stop.done.is_set() and not move.done.is_set()
    streamer.on_ok(Ok())  # M410, processed before the line sent again
    assert stop.done.is_set() and not move.done.is_set()
    streamer.on_ok(Ok())
    assert move.done.is_set()
    assert streamer.resent_lines == 1


async def test_marlin_numbering_restarts_after_m110() -> None:
    streamer, wire = streamer_for(Marlin())
    for text in ("G90", "G21"):
        await streamer.submit(text)
        streamer.on_ok(Ok())
    await streamer.submit("M110 N0", numbered=False)
    streamer.on_ok(Ok())
    streamer.reset_numbering()
    await streamer.submit("G90")
    assert wire[-2:] == [b"M110 N0\n", b"N1 G90*17\n"]


async def test_silence_times_out_and_poisons() -> None:
    streamer, _ = streamer_for(Grbl(), timeout_s=0.05)
    entry = await streamer.submit("G4 P0")
    with anyio.fail_after(1), pytest.raises(ControllerTimeout, match="'G4 P0'"):
        await streamer.wait(entry)
    with pytest.raises(ControllerTimeout):
        await streamer.submit("G90")


async def test_anything_received_keeps_a_waiting_line_alive() -> None:
    streamer, _ = streamer_for(Grbl(), timeout_s=0.05)
    entry = await streamer.submit("G4 P0")
    async with anyio.create_task_group() as tg:
        async def keep_alive() -> None:
            for _ in range(8):
                await anyio.sleep(0.02)
                streamer.touch()
            streamer.on_ok(Ok())
        tg.start_soon(keep_alive)
        with anyio.fail_after(1):
            assert await streamer.wait(entry) == Ok()


async def test_an_error_before_a_resend_does_not_stick_to_the_resent_line() -> None:
    streamer, wire = streamer_for(Marlin())
    entry = await streamer.submit("G1 X30 Y15 F6000")
    streamer.on_error(Error("Error: Missing checksum", final=False))  # explains the resend
    await streamer.on_resend(Resend(1))
    streamer.on_ok(Ok())  # the ok that follows the resend request
    assert wire[-1] == wire[0]  # N1 again
    streamer.on_ok(Ok())  # the resent line is accepted
    with anyio.fail_after(1):
        assert await streamer.wait(entry) == Ok()


async def test_busy_lines_keep_a_line_alive_only_so_long() -> None:
    streamer, _ = streamer_for(Marlin(), timeout_s=0.05)
    entry = await streamer.submit("M400", extra_timeout=0.05)  # allowance 0.1 s
    async with anyio.create_task_group() as tg:
        async def busy_forever() -> None:
            while True:
                await anyio.sleep(0.01)
                streamer.busy()
        tg.start_soon(busy_forever)
        started = anyio.current_time()
        with anyio.fail_after(2), pytest.raises(ControllerTimeout, match="'M400'"):
            await streamer.wait(entry)
        assert 0.1 < anyio.current_time() - started < BUSY_FACTOR * 0.1 + 0.1
        tg.cancel_scope.cancel()


async def test_a_resend_request_after_an_unnumbered_m999_asks_for_nothing() -> None:
    streamer, wire = streamer_for(Marlin())
    for _ in range(3):
        await streamer.wait(await _answered(streamer, "G90"))
    entry = await streamer.submit("M999", numbered=False)
    await streamer.on_resend(Resend(1))  # OctoPrint's virtual printer, old Marlin
    streamer.on_ok(Ok())
    with anyio.fail_after(1):
        assert await streamer.wait(entry) == Ok()
    assert wire[-1] == b"M999\n"  # nothing was sent again
    await streamer.wait(await _answered(streamer, "G90"))  # and the link is still good


async def _answered(streamer: Streamer, text: str) -> Pending:
    entry = await streamer.submit(text)
    streamer.on_ok(Ok())
    return entry


async def test_marlin_late_twin_of_a_resend_request_is_ignored() -> None:
    # Marlin asks for the line it expects after every bad line; a request answering a
    # line that was in flight can arrive after the line sent again was accepted.
    streamer, wire = streamer_for(Marlin())
    entry = await streamer.submit("G1 X1")
    await streamer.on_resend(Resend(1))
    streamer.on_ok(Ok())  # the ok of the resend request
    streamer.on_ok(Ok())  # line 1, sent again, accepted
    assert entry.done.is_set() and entry.error is None
    await streamer.on_resend(Resend(1))  # the late twin
    streamer.on_ok(Ok())  # and its ok
    assert wire == [b"N1 G1 X1*96\n"] * 2  # not sent a third time
    after = await streamer.submit("G1 X2")
    streamer.on_ok(Ok())
    with anyio.fail_after(1):
        assert await streamer.wait(after) == Ok()
    assert streamer.resent_lines == 1
