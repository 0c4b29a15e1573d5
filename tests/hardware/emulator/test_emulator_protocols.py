"""The emulated firmwares as a host sees them: raw lines over TCP and a pty."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import AsyncIterator

import anyio
import anyio.abc
import pytest
import serial  # type: ignore[import-untyped, unused-ignore]

from hardware.emulator import EmulatorHandle, main, running_emulator

pytestmark = pytest.mark.anyio

SPEED = 20.0


class Host:
    """A bare-bones host: write bytes, read lines."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self.stream = stream
        self.buffer = b""

    async def send(self, data: bytes | str) -> None:
        await self.stream.send(data.encode() if isinstance(data, str) else data)

    async def line(self, timeout: float = 2.0) -> str:
        with anyio.fail_after(timeout):
            while b"\n" not in self.buffer:
                self.buffer += await self.stream.receive()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line.decode()

    async def lines(self, count: int) -> list[str]:
        return [await self.line() for _ in range(count)]

    async def until(self, prefix: str) -> list[str]:
        seen = [await self.line()]
        while not seen[-1].startswith(prefix):
            seen.append(await self.line())
        return seen


async def connect(emu: EmulatorHandle) -> AsyncIterator[Host]:
    host, port = emu.address.removeprefix("tcp://").rsplit(":", 1)
    async with await anyio.connect_tcp(host, int(port)) as stream:
        yield Host(stream)


@pytest.fixture
async def grbl() -> AsyncIterator[tuple[EmulatorHandle, Host]]:
    with running_emulator("grbl", speed=SPEED) as emu:
        async for host in connect(emu):
            yield emu, host


@pytest.fixture
async def marlin() -> AsyncIterator[tuple[EmulatorHandle, Host]]:
    with running_emulator("marlin", speed=SPEED, busy_interval=0.05) as emu:
        async for host in connect(emu):
            assert await host.lines(2) == ["start", "echo:Marlin 2.1.2 (labrun emulator)"]
            yield emu, host


@pytest.fixture
async def smoothie() -> AsyncIterator[tuple[EmulatorHandle, Host]]:
    with running_emulator("smoothie", speed=SPEED) as emu:
        async for host in connect(emu):
            assert await host.lines(2) == ["Smoothie", "ok"]
            yield emu, host


# -- GRBL -------------------------------------------------------------------------------

async def test_grbl_powers_up_locked_and_unlocks(grbl: tuple[EmulatorHandle, Host]) -> None:
    _, host = grbl
    assert await host.lines(2) == ["Grbl 1.1h ['$' for help]", "[MSG:'$H'|'$X' to unlock]"]
    await host.send("?")
    assert (await host.line()).startswith("<Alarm|MPos:209.000,176.500,109.000,")
    await host.send("G1 X10 F600\n")
    assert await host.line() == "error:9"
    await host.send("$X\n")
    assert await host.lines(2) == ["[MSG:Caution: Unlocked]", "ok"]
    await host.send("G1 X10\n")
    assert await host.line() == "error:22"  # no feed rate yet
    # 20 mm at 1 mm/s: 1 s of wall time at SPEED 20, so the status asked for right after
    # the move is planned finds it running however busy the host is.
    await host.send("G1 X189 F60\nG4 P0\n")
    assert await host.line() == "ok"  # planned
    await host.send("?")
    assert (await host.line()).startswith("<Run|")  # before G4 P0's ok: still moving
    assert await host.line(timeout=30) == "ok"  # G4 P0: motion finished
    await host.send("?")
    status = await host.line()
    assert status.startswith("<Idle|MPos:189.000,176.500,") and "|FS:60,0" in status


async def test_grbl_hold_reset_and_alarm(grbl: tuple[EmulatorHandle, Host]) -> None:
    # Moves at 1 mm/s (minutes of emulated time): each hold and reset lands in motion
    # however busy the host is; the test waits for states, never for a time.
    emu, host = grbl
    await host.lines(2)
    await host.send("$H\n")
    assert await host.line() == "ok"
    assert emu.homed == {"X", "Y", "Z", "A", "B", "C"}
    await host.send("G1 X10 F60\n")
    assert await host.line() == "ok"
    await host.send("!")
    await host.send("?")
    assert (await host.line()).startswith("<Hold:")
    held = await status_until(host, "<Hold:0|")  # the brake has ended
    # Reset while held: no alarm, position kept, homing kept.
    await host.send(b"\x18")
    assert await host.line() == "Grbl 1.1h ['$' for help]"
    assert emu.homed == {"X", "Y", "Z", "A", "B", "C"}
    await host.send("?")
    assert (await host.line()).split("|")[:2] == ["<Idle", held.split("|")[1]]
    # Reset in motion: ALARM:3, locked, homing lost.
    await host.send("G1 X400 F60\n")
    assert await host.line() == "ok"
    await host.send(b"\x18")
    assert await host.lines(3) == ["ALARM:3", "Grbl 1.1h ['$' for help]",
                                   "[MSG:'$H'|'$X' to unlock]"]
    assert emu.homed == set()


async def status_until(host: Host, prefix: str) -> str:
    """Ask for the status until it starts with ``prefix``; that status line."""
    with anyio.fail_after(10):
        while True:
            await host.send("?")
            status = await host.line()
            if status.startswith(prefix):
                return status
            await anyio.sleep(0.005)


async def test_grbl_door(grbl: tuple[EmulatorHandle, Host]) -> None:
    emu, host = grbl
    await host.lines(2)
    await host.send("$X\n")
    await host.lines(2)
    emu.set_door(True)
    assert await host.line() == "[MSG:Check Door]"
    await host.send("?")
    status = await host.line()
    assert status.startswith("<Door:1|") and "|Pn:D" in status
    emu.set_door(False)
    assert await host.line() == "[MSG:Check Door]"
    await host.send("?")
    assert (await host.line()).startswith("<Door:0|")
    await host.send("~?")
    assert (await host.line()).startswith("<Idle|")


async def test_grbl_counts_bytes_the_host_has_in_flight(
        grbl: tuple[EmulatorHandle, Host]) -> None:
    emu, host = grbl
    await host.lines(2)
    await host.send("$X\n")
    await host.lines(2)
    # A careless host: 20 lines without waiting for any ok overflows the 127 usable bytes.
    await host.send("G1 X100 F600\n" * 20)
    await host.lines(20)
    assert emu.stats.max_rx_in_flight == 20 * len("G1 X100 F600\n")
    assert emu.stats.rx_overflows > 0
    assert emu.stats.rx_in_flight == 0


# -- Marlin -----------------------------------------------------------------------------

async def test_marlin_verifies_line_numbers_and_checksums(
        marlin: tuple[EmulatorHandle, Host]) -> None:
    emu, host = marlin
    await host.send("M110 N0\n")
    assert await host.line() == "ok"
    await host.send("N1 G90*19\n")  # wrong checksum (17 is right)
    assert await host.lines(3) == ["Error:checksum mismatch, Last Line: 0", "Resend: 1", "ok"]
    await host.send("N1 G90*17\n")
    assert await host.line() == "ok"
    await host.send("N3 G90*19\n")  # skipped line 2 (checksum right for N3 G90)
    assert await host.lines(3) == ["Error:Line Number is not Last Line Number+1, Last Line: 1",
                                   "Resend: 2", "ok"]
    await host.send("N2 G21\n")
    assert (await host.lines(3))[1] == "Resend: 2"
    assert emu.stats.checksums_verified == 1
    assert emu.stats.resends_requested == 3


async def test_marlin_motion_busy_position_and_quickstop(
        marlin: tuple[EmulatorHandle, Host]) -> None:
    _, host = marlin
    await host.send("G28\n")
    assert (await host.until("ok"))[-1] == "ok"
    await host.send("G1 X10 F600\nM400\n")
    assert await host.line() == "ok"
    assert await host.line() == "echo:busy: processing"  # motion takes a while
    await host.send("M410\n")  # acted on at once, answered in order
    lines = await host.until("ok")
    assert lines[-1] == "ok"  # the M400, released by the quickstop
    assert await host.line() == "ok"  # the M410 itself
    await host.send("M114 R\n")
    report = await host.line()
    x = float(report.split()[0].removeprefix("X:"))
    assert 10.0 < x < 418.0
    assert await host.line() == "ok"
    await host.send("M114\n")  # the planned position is where the quickstop left it
    planned, counts = (await host.line()).split(" Count ")
    assert planned == report
    assert abs(int(counts.split()[0].removeprefix("X:")) - x * 80) <= 1  # 80 steps/mm


async def test_marlin_kill_and_restart(marlin: tuple[EmulatorHandle, Host]) -> None:
    emu, host = marlin
    await host.send("G28\n")
    await host.until("ok")
    await host.send("M112\n")
    assert await host.line() == "Error:Printer halted. kill() called!"
    assert emu.homed == set()
    await host.send("G1 X10 F600\n")
    assert await host.line() == "Error:Printer halted. kill() called!"
    await host.send("M999 S1\n")
    assert await host.line() == "ok"
    await host.send("M906 X750 B40\nM119\n")
    assert await host.line() == "ok"
    assert emu.emulator.machine.currents["X"] == pytest.approx(0.75)
    assert (await host.until("ok"))[-2:] == ["//action:interlock door clear", "ok"]
    emu.set_door(True)
    assert await host.line() == "//action:interlock door active"


# -- Smoothieware ----------------------------------------------------------------------

async def test_smoothie_halt_and_recovery(smoothie: tuple[EmulatorHandle, Host]) -> None:
    emu, host = smoothie
    await host.send("G28.2 X0\n")
    assert await host.line() == "ok"
    assert emu.homed == {"X"}
    await host.send("M114\n")
    assert await host.line() == ("ok C: X:418.0000 Y:176.5000 Z:109.0000 A:109.0000 "
                                 "B:10.0000 C:10.0000")
    await host.send("G1 Y10 F3000\nM400\n")
    assert await host.line() == "ok"
    await host.send(b"\x18")
    # Smoothieware's words outside grbl_mode (USBSerial.cpp); the M400's wait ends
    assert await host.lines(2) == ["HALTED, M999 or $X to exit HALT state", "ok"]
    await host.send("G1 X10\n")
    assert await host.line() == "!!"
    await host.send("?")
    assert (await host.line()).startswith("<Alarm|")
    await host.send("M114.2\n")  # among the M-codes it carries out while halted
    assert (await host.line()).startswith("ok MCS: X:418.0000 Y:")
    await host.send("M999\n")
    assert await host.lines(2) == [
        "WARNING: After HALT you should HOME as position is currently unknown", "ok"]
    await host.send("M907 B0.05\nM114.2\n")
    assert await host.line() == "ok"
    assert (await host.line()).startswith("ok MCS: X:418.0000 Y:")
    assert emu.emulator.machine.currents["B"] == pytest.approx(0.05)


async def test_smoothie_halts_on_an_error_as_smoothieware_does(
        smoothie: tuple[EmulatorHandle, Host]) -> None:
    # GcodeDispatch.cpp: an error answers its line and "we cannot continue safely after
    # an error so we enter HALT state"; only M999 or $X leave it.
    emu, host = smoothie
    emu.faults.error_next = 1
    await host.send("G28.2 X0\n")
    assert await host.lines(2) == ["Error: Injected failure", "Entering Alarm/Halt state"]
    await host.send("G28.2 X0\n")
    assert await host.line() == "!!"
    assert emu.homed == set()
    await host.send("$X\n")
    assert await host.lines(2) == ["[Caution: Unlocked]", "ok"]
    await host.send("$X\nM114\n")  # not halted, $X is answered nothing (SimpleShell.cpp)
    assert (await host.line()).startswith("ok C: X:")  # the M114's
    await host.send("M112\n")
    assert await host.line() == ("ok Emergency Stop Requested - reset or M999 required to "
                                 "exit HALT state")
    await host.send("G4 P0\n")
    assert await host.line() == "!!"


async def test_smoothie_feed_hold_lets_the_planned_move_run_to_its_end(
        smoothie: tuple[EmulatorHandle, Host]) -> None:
    # Smoothieware's '!' only keeps it from planning new moves; its reports say Hold at
    # once, with the planned position. 20 mm at 1 mm/s: 1 s of wall time at SPEED 20.
    emu, host = smoothie
    await host.send("G53 G1 Y156.5 F60\n")
    assert await host.line() == "ok"
    await host.send("!?")
    assert (await host.line()).startswith("<Hold|MPos:209.0000,156.5000,")
    assert emu.call(lambda: emu.emulator.machine.moving)
    await host.send("M400\n")
    assert await host.line(timeout=30) == "ok"  # the move ran to its end
    assert emu.position()["Y"] == pytest.approx(156.5)
    await host.send("G53 G1 X200\n~M400\n")  # planned once the hold ends
    assert [await host.line(timeout=30) for _ in range(2)] == ["ok", "ok"]
    assert emu.position()["X"] == pytest.approx(200.0)


# -- links and the command line ---------------------------------------------------------

def test_pseudo_terminal_works_as_a_serial_port() -> None:
    with running_emulator("grbl", link="pty", speed=SPEED) as emu:
        port = serial.Serial(emu.address, 115200, timeout=1)
        try:
            port.write(b"$X\n")
            assert port.readline() == b"[MSG:Caution: Unlocked]\n"
            assert port.readline() == b"ok\n"
            port.write(b"?")
            assert port.readline().startswith(b"<Idle|MPos:")
        finally:
            port.close()


def test_command_line_serves_until_interrupted() -> None:
    code = "from hardware.emulator import main; main(['--dialect', 'marlin', '--port', '0'])"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert banner.startswith("labrun emulator (marlin, speed x1) on tcp://127.0.0.1:")
        host, port = banner.rsplit("tcp://", 1)[1].strip().rsplit(":", 1)
        with serial.serial_for_url(f"socket://{host}:{port}", timeout=5) as link:
            # (pyserial's socket:// discards what arrived while opening: maybe the banner)
            link.write(b"M115\n")
            line = link.readline()
            while line in (b"start\n", b"echo:Marlin 2.1.2 (labrun emulator)\n"):
                line = link.readline()
            assert line == b"FIRMWARE_NAME:Marlin 2.1.2 (labrun emulator) AXIS_COUNT:6\n"
    finally:
        process.terminate()
        process.wait(timeout=5)


def test_command_line_rejects_a_bad_dialect(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--dialect", "repetier"])
    assert "invalid choice: 'repetier'" in capsys.readouterr().err
