"""Transports over real sockets: a connection the peer breaks or refuses, and an address
that is not one, are said in words (not Python's or anyio's)."""

from __future__ import annotations

import socket
import struct
import threading

import anyio
import pytest

from hardware.controller import HardwareFault
from hardware.gcode import ConnectionLost
from hardware.gcode.transport import TcpTransport, open_transport

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


def free_port() -> int:
    """A local port nothing listens on (taken and given back)."""
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port: int = probe.getsockname()[1]
    return port


@pytest.mark.parametrize("scheme", ["tcp", "socket", "rfc2217"])
async def test_a_refused_connection_says_so(scheme: str) -> None:
    address = f"{scheme}://127.0.0.1:{free_port()}"
    with anyio.fail_after(5), pytest.raises(ConnectionLost) as raised:
        await open_transport(address, timeout=2.0)
    assert str(raised.value).endswith(f"{address}: connection refused (nothing listens on "
                                      "that port)"), raised.value


@pytest.mark.parametrize("address", ["rfc2217://x", "socket://x", "socket://x:port",
                                     "rfc2217://x:99999"])
async def test_a_network_url_that_is_no_address_says_so(address: str) -> None:
    scheme = address.partition(":")[0]
    with pytest.raises(ConnectionLost) as raised:
        await open_transport(address, timeout=2.0)
    assert str(raised.value) == (
        f"cannot open {address}: it is not a valid {scheme} address: expected "
        f"{scheme}://host:port, with a port number from 1 to 65535")


async def test_a_port_another_process_has_open_is_refused_not_shared() -> None:
    # Two programs writing G-code to one robot (a server's worker and a `labrun run`, or
    # doctor while a run goes) would interleave their moves: the second is refused, in
    # words, and the port opens again once the first has let go of it.
    import os
    import pty
    import subprocess
    import sys

    master, slave = pty.openpty()
    name = os.ttyname(slave)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, anyio\n"
         "from hardware.gcode.transport import open_transport\n"
         "async def hold():\n"
         f"    await open_transport({name!r})\n"
         "    print('open', flush=True)\n"
         "    sys.stdin.readline()\n"
         "anyio.run(hold)\n"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))))
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "open\n"
        with pytest.raises(ConnectionLost) as refused:
            await open_transport(name)
        assert str(refused.value) == (
            f"cannot open {name}: another program has it open (another labrun driving "
            "this robot or module?); close that first")
        holder.communicate("done\n", timeout=30)
        transport = await open_transport(name)  # let go with its process
        await transport.aclose()
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()
        os.close(master)
        os.close(slave)


# -- a line that takes nothing: the loop goes on, the write waits or says why -------------


def raw_pty() -> tuple[int, int, str]:
    """A pseudo-terminal in raw mode: (master, slave, the slave's path, a serial port)."""
    import os
    import pty
    import tty

    master, slave = pty.openpty()
    tty.setraw(slave)
    return master, slave, os.ttyname(slave)


async def test_a_peer_that_stops_reading_leaves_the_loop_free_and_loses_nothing() -> None:
    # The peer reads nothing until the pty's buffer (some 20 KB) is full: the writes wait
    # for it without blocking the loop, and once it reads, every byte arrives in order.
    import os

    from anyio import wait_all_tasks_blocked

    master, slave, name = raw_pty()
    os.set_blocking(master, False)
    lines = [b"G1 X%d.000 F3000\n" % i for i in range(6000)]  # 100 KB
    transport = await open_transport(name, timeout=5.0)
    streamed = anyio.Event()

    async def stream() -> None:
        for line in lines:
            await transport.send(line)
        streamed.set()

    received = bytearray()
    try:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tg:
                tg.start_soon(stream)
                await wait_all_tasks_blocked()
                assert not streamed.is_set()  # the line is full: the writes wait, we run
                while len(received) < sum(map(len, lines)):
                    await anyio.wait_readable(master)
                    received += os.read(master, 65536)
    finally:
        await transport.aclose()
        os.close(master)
        os.close(slave)
    assert streamed.is_set() and bytes(received) == b"".join(lines)


async def test_a_line_held_past_the_timeout_fails_the_write_naming_the_port() -> None:
    # A board holding the line with flow control (XOFF, CTS low) or a hung USB firmware:
    # the write waits its timeout while the loop goes on, then fails in words.
    import os
    import termios

    from anyio import wait_all_tasks_blocked

    master, slave, name = raw_pty()
    transport = await open_transport(name, timeout=0.5)
    failed: list[ConnectionLost] = []

    async def stop() -> None:
        try:
            await transport.send(b"M112\n")
        except ConnectionLost as exc:
            failed.append(exc)

    try:
        termios.tcflow(slave, termios.TCOOFF)
        async with anyio.create_task_group() as tg:
            tg.start_soon(stop)
            await wait_all_tasks_blocked()
            assert failed == []  # it waits for the line, and the loop runs meanwhile
    finally:
        await transport.aclose()
        os.close(master)
        os.close(slave)
    assert [str(exc) for exc in failed] == [
        f"lost {name}: a write waited 0.5 s for the line to take it (the controller stopped "
        "reading its line: it hangs, or holds the line with flow control)"]


async def test_a_tcp_peer_that_stops_reading_fails_the_write_naming_it() -> None:
    # anyio's send waits for a peer that reads nothing without end (shielded: nothing
    # could end it, an emergency stop behind it waited for ever): the transport's timeout
    # ends it, in words.
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    port = listener.getsockname()[1]
    failed: list[ConnectionLost] = []
    said = anyio.Event()

    async def stream() -> None:
        try:
            for _ in range(1024):  # 64 MB: far beyond any socket's buffers
                await transport.send(b"G1 X1\n" * 10923)
        except ConnectionLost as exc:
            failed.append(exc)
        said.set()

    try:
        transport = await TcpTransport.connect("127.0.0.1", port, timeout=0.5)
        # never accepted nor read: the connection sits in the listener's backlog
        async with anyio.create_task_group() as tg:
            tg.start_soon(stream)
            with anyio.move_on_after(20):
                await said.wait()
            listener.close()  # resets the connection: ends a write that still waits
        await transport.aclose()
    finally:
        listener.close()
    assert [str(exc) for exc in failed] == [
        f"lost tcp://127.0.0.1:{port}: a write waited 0.5 s for the line to take it (the "
        "controller stopped reading its line: it hangs, or holds the line with flow "
        "control)"]
