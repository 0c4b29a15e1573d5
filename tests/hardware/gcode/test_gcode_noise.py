"""Bytes that are not text on the wire: a stray byte next to an ``ok`` is still an ``ok``;
a peer that sends only noise (a wrong baud rate) is named as such when nothing answers."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable, Iterator

import anyio
import pytest

from hardware.config import RobotConfig
from hardware.emulator import EmulatorHandle
from hardware.gcode import ControllerTimeout, GcodeController, open_controller
from hardware.gcode.link import MAX_LINE_BYTES

pytestmark = pytest.mark.anyio

CheckAt = Callable[[dict[str, float], dict[str, float]], None]
ConfigFor = Callable[..., RobotConfig]


async def test_an_ok_with_a_stray_byte_is_an_ok(
        homed: GcodeController, emulator: EmulatorHandle, check_at: CheckAt) -> None:
    emulator.faults.noisy_ok_next = 4  # b"\x00ok", b"ok\xff", in turn
    for x in (50.0, 60.0):
        with anyio.fail_after(5):
            await homed.move({"X": x})
    assert emulator.stats.noisy_oks == 4
    check_at(await homed.read_position(), {"X": 60.0})


def noise(line_ends: bool) -> bytes:
    """What a wrong baud rate makes of a firmware's output."""
    if line_ends:
        return b"\xff\xfe\x80 \xc3( junk \x00\x1b[0m\n"
    return bytes(b for b in os.urandom(1024) if b != 0x0A)


@pytest.fixture(params=[True, False], ids=["junk lines", "no line ends"])
def noisy_peer(request: pytest.FixtureRequest) -> Iterator[tuple[str, bool]]:
    """A TCP peer that sends only noise, 100 times a second, until the test ends; its
    address and whether the noise has line ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    done = threading.Event()

    def serve() -> None:
        peer, _ = listener.accept()
        with peer:
            while not done.wait(0.01):
                try:
                    peer.sendall(noise(request.param))
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"tcp://127.0.0.1:{listener.getsockname()[1]}", request.param
    finally:
        done.set()
        listener.close()
        thread.join(5)


@pytest.mark.parametrize("dialect", ["grbl", "marlin"])
async def test_a_peer_that_sends_only_noise_is_named_so(
        dialect: str, noisy_peer: tuple[str, bool], config_for: ConfigFor) -> None:
    address, line_ends = noisy_peer
    with anyio.fail_after(10), pytest.raises(ControllerTimeout) as raised:
        async with open_controller(config_for(dialect, address, 0.3)):
            pass
    said = str(raised.value)
    assert "the controller sent data that is not text (wrong baud rate?): " in said, said
    if line_ends:
        assert r"a line that is not text, b'\xff\xfe\x80 \xc3( junk \x00" in said, said
    else:  # kept to about a line's worth at a time, not all of it
        kept = int(said.split(" bytes without a line end")[0].rsplit(" ", 1)[1])
        assert MAX_LINE_BYTES < kept <= MAX_LINE_BYTES + 64 * 1024, said
