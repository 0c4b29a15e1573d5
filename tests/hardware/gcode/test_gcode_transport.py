"""The TCP transport over a real socket: a connection the peer breaks is said in words."""

from __future__ import annotations

import socket
import struct
import threading

import anyio
import pytest

from hardware.controller import HardwareFault
from hardware.gcode.transport import TcpTransport

pytestmark = pytest.mark.anyio


async def test_a_connection_reset_by_the_controller_is_said_without_class_names() -> None:
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def reset_at_once() -> None:  # accept, then close with RST (a board losing power)
        peer, _ = listener.accept()
        peer.recv(1)  # once the client is connected and talking
        peer.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        peer.close()

    thread = threading.Thread(target=reset_at_once)
    thread.start()
    try:
        transport = await TcpTransport.connect("127.0.0.1", port, timeout=5.0)
        with anyio.fail_after(5), pytest.raises(HardwareFault) as raised:
            for _ in range(100):  # the reset is seen by a receive, or a send after it
                await transport.send(b"?")
                await transport.receive()
        await transport.aclose()
    finally:
        thread.join(5)
        listener.close()
    said = str(raised.value)
    assert said.startswith(f"tcp://127.0.0.1:{port} closed the connection"), said
    assert "Error" not in said, said
