"""Byte transports to a controller: TCP (anyio) and serial ports (pyserial).

``open_transport(port)`` picks one from the port string:

- ``tcp://host:port``: an anyio TCP stream (TCP_NODELAY, so realtime bytes leave at once);
- anything else: pyserial's ``serial_for_url`` -- a device (``/dev/ttyUSB0``, ``COM3``,
  a pseudo-terminal) or a pyserial URL such as ``socket://host:port``.

Reads block only the reader task. Writes go straight to the OS (a socket send or a
``write`` on the port's non-blocking descriptor) without queueing, so a realtime byte is
on the wire within microseconds of ``send``. A write the line cannot take now (a
controller that stopped reading it, or holds it with flow control) waits for the line in
the event loop, never blocking it: a halt, a pause, the status and the other devices go
on meanwhile. Writes keep their order and go out whole (a line is never cut by another);
one that the line has not taken within the transport's timeout (from the call on) fails
with ``ConnectionLost`` naming the port.
"""

from __future__ import annotations

import contextlib
import os
import socket
from typing import Any, Protocol
from urllib.parse import urlsplit

import anyio
import anyio.abc
import serial  # type: ignore[import-untyped, unused-ignore]  # pyserial ships no types
from anyio.abc import SocketAttribute

from ..config import tcp_address
from .errors import ConnectionLost


class Transport(Protocol):
    """A bidirectional byte stream to the firmware."""

    description: str

    async def send(self, data: bytes) -> None:
        """Put ``data`` on the wire: now, when the line takes it, else as soon as it does,
        after the writes before it; raises ``ConnectionLost``, also when the line has not
        taken it within the transport's timeout."""
        ...

    async def receive(self) -> bytes:
        """The next bytes received (never empty); raises ``ConnectionLost`` at the end."""
        ...

    async def aclose(self) -> None:
        """Close the connection; pending ``receive`` calls end."""
        ...


class TcpTransport:
    """``tcp://host:port`` through anyio."""

    def __init__(self, stream: anyio.abc.SocketStream, description: str,
                 write_timeout: float = 10.0) -> None:
        self._stream = stream
        self._lock = anyio.Lock()
        self._write_timeout = write_timeout
        self.description = description

    @classmethod
    async def connect(cls, host: str, port: int, timeout: float) -> TcpTransport:
        description = f"tcp://{host}:{port}"
        try:
            with anyio.fail_after(timeout):
                stream = await anyio.connect_tcp(host, port)
        except (OSError, TimeoutError) as exc:
            raise ConnectionLost(f"cannot connect to {description}: {connect_failure(exc)}") \
                from None
        sock = stream.extra(SocketAttribute.raw_socket)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(stream, description, timeout)

    async def send(self, data: bytes) -> None:
        try:
            # whole or not at all for a cancelled caller; not past the timeout for a peer
            # that stopped reading (anyio's send would wait for it without end)
            with anyio.CancelScope(shield=True), anyio.fail_after(self._write_timeout):
                async with self._lock:
                    await self._stream.send(data)
        except TimeoutError:
            raise stalled(self.description, self._write_timeout) from None
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise self._lost(exc) from None

    async def receive(self) -> bytes:
        try:
            return await self._stream.receive()
        except anyio.EndOfStream:
            raise ConnectionLost(f"{self.description} closed the connection") from None
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise self._lost(exc) from None

    def _lost(self, exc: BaseException) -> ConnectionLost:
        """The error for a broken connection, saying who broke it when that is known (a
        reset by the peer carries no message of its own: no class name is said instead)."""
        detail = str(exc)
        if isinstance(exc, (anyio.BrokenResourceError, ConnectionResetError, BrokenPipeError)):
            said = f" ({detail})" if detail else ""
            return ConnectionLost(f"{self.description} closed the connection{said}")
        return ConnectionLost(f"lost the connection to {self.description}: "
                              f"{detail or 'it was closed'}")

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()


class SerialTransport:
    """A pyserial port; reads run in a worker thread with a short timeout. Writes to a
    serial device go to its descriptor, non-blocking, and wait for it in the event loop;
    to a pyserial URL (``socket://``, ``rfc2217://``), in a worker thread."""

    READ_TIMEOUT = 0.05

    def __init__(self, port: Any, description: str, write_timeout: float = 10.0) -> None:
        self._port = port
        self._fd = device_fd(port)
        self._closed = False
        self._lock = anyio.Lock()
        self._write_timeout = write_timeout
        self.description = description

    @classmethod
    async def open(cls, url: str, baudrate: int, timeout: float) -> SerialTransport:
        def _open() -> Any:
            # exclusive: a port another process has open (another labrun driving the same
            # robot or module) is refused, not shared; the lock goes with the process
            return serial.serial_for_url(url, baudrate=baudrate, timeout=cls.READ_TIMEOUT,
                                         write_timeout=timeout, exclusive=True)

        problem = url_problem(url)
        if problem is not None:
            raise ConnectionLost(f"cannot open {url}: {problem}")
        try:
            with anyio.fail_after(timeout):
                port = await anyio.to_thread.run_sync(_open)
        except (OSError, ValueError, TimeoutError) as exc:
            raise ConnectionLost(f"cannot open {url}: {open_failure(url, exc)}") from None
        return cls(port, url, timeout)

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise ConnectionLost(f"{self.description} is closed")
        fd, held = self._fd, False
        try:
            if fd is not None and not self._lock.locked():
                # a free line takes a few bytes at once: out now, as a realtime byte must be
                with contextlib.suppress(BlockingIOError):
                    data = data[os.write(fd, data):]
                if not data:
                    return
                self._lock.acquire_nowait()  # free: the rest goes before anything else
                held = True
            # whole or not at all for a cancelled caller (half a line would run into the
            # next); the line's time to take it counts from the call, the turn included
            with anyio.CancelScope(shield=True), anyio.fail_after(self._write_timeout):
                if not held:
                    await self._lock.acquire()
                    held = True
                if fd is None:
                    await anyio.to_thread.run_sync(self._port.write, data,
                                                   abandon_on_cancel=True)
                else:
                    await self._write(fd, data)
        except (TimeoutError, serial.SerialTimeoutException):
            raise stalled(self.description, self._write_timeout) from None
        except anyio.ClosedResourceError:
            raise ConnectionLost(f"{self.description} is closed") from None
        except OSError as exc:
            raise ConnectionLost(f"lost {self.description}: {exc.strerror or exc}") from None
        except serial.SerialException as exc:
            raise ConnectionLost(f"lost {self.description}: {exc}") from None
        finally:
            if held:
                self._lock.release()

    async def _write(self, fd: int, data: bytes) -> None:
        """All of ``data`` on ``fd``, as fast as the line takes it, waiting in the event
        loop for it to take more."""
        rest = memoryview(data)
        while True:
            await anyio.wait_writable(fd)
            if self._closed:  # the descriptor is gone (its number may be another's now)
                raise anyio.ClosedResourceError
            with contextlib.suppress(BlockingIOError):  # taken by another writer meanwhile
                rest = rest[os.write(fd, rest):]
            if not rest:
                return

    async def receive(self) -> bytes:
        while True:
            if self._closed:
                raise ConnectionLost(f"{self.description} is closed")
            try:
                data: bytes = await anyio.to_thread.run_sync(self._read)
            except (OSError, TypeError, serial.SerialException) as exc:
                # pyserial raises TypeError when the port is closed under a read.
                raise ConnectionLost(f"lost {self.description}: {exc}") from None
            if data:
                return data

    def _read(self) -> bytes:
        data: bytes = self._port.read(1)  # blocks up to READ_TIMEOUT
        # Then whatever is already there (pyserial's socket:// reports 1 byte at a time).
        while data and len(data) < 4096 and (waiting := self._port.in_waiting):
            data += self._port.read(waiting)
        return data

    async def aclose(self) -> None:
        self._closed = True
        if self._fd is not None:
            anyio.notify_closing(self._fd)  # a write waiting for the line ends
        with contextlib.suppress(OSError, serial.SerialException), \
                anyio.CancelScope(shield=True):
            # In a thread: pyserial's socket:// close sleeps a while.
            await anyio.to_thread.run_sync(self._port.close)


def device_fd(port: Any) -> int | None:
    """The descriptor of a POSIX serial device pyserial opened (non-blocking), or None
    for a pyserial URL's port or another platform's (written in a worker thread)."""
    if os.name != "posix" or type(port) is not serial.Serial:
        return None
    fd: int = port.fileno()
    os.set_blocking(fd, False)  # pyserial opens it so; said here, since it is relied on
    return fd


def stalled(description: str, seconds: float) -> ConnectionLost:
    """A write the line did not take within the transport's timeout, in words."""
    return ConnectionLost(
        f"lost {description}: a write waited {seconds:g} s for the line to take it (the "
        "controller stopped reading its line: it hangs, or holds the line with flow "
        "control)")


NETWORK_SCHEMES = ("socket", "rfc2217")
"""pyserial URLs that name a network address (``scheme://host:port``)."""


def url_problem(url: str) -> str | None:
    """What is wrong with a pyserial network URL (``socket://``, ``rfc2217://``), or None.

    pyserial itself answers a missing port with a Python ``TypeError`` text."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme.lower() not in NETWORK_SCHEMES:
        return None
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None or not 0 < port < 65536:
        return (f"it is not a valid {scheme} address: expected {scheme}://host:port, with a "
                "port number from 1 to 65535")
    return None


def connect_failure(exc: BaseException) -> str:
    """Why a connection could not be made, in words (not anyio's or Python's)."""
    causes = [exc, exc.__cause__, *getattr(exc.__cause__, "exceptions", ())]
    if any(isinstance(c, ConnectionRefusedError) for c in causes):
        return "connection refused (nothing listens on that port)"
    if isinstance(exc, TimeoutError):
        return "timed out"
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    return getattr(exc, "strerror", None) or str(exc) or type(exc).__name__


def open_failure(url: str, exc: BaseException) -> str:
    """Why a serial port or pyserial URL could not be opened, in words."""
    cause = exc.__context__ or exc.__cause__
    if "exclusively lock" in str(exc):  # pyserial's exclusive=True, refused
        return ("another program has it open (another labrun driving this robot or "
                "module?); close that first")
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused (nothing listens on that port)"
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    if isinstance(cause, (TypeError, KeyError)):  # pyserial's own parsing gave up
        return "it is not a valid serial port or pyserial URL"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc).removeprefix(f"Could not open port {url}: ") or type(exc).__name__


async def open_transport(port: str, *, baudrate: int = 115200,
                         timeout: float = 10.0) -> Transport:
    """Open ``tcp://host:port``, a serial device or a pyserial URL."""
    try:
        address = tcp_address(port)
    except ValueError as exc:
        raise ConnectionLost(str(exc)) from None
    if address is not None:
        return await TcpTransport.connect(*address, timeout)
    return await SerialTransport.open(port, baudrate, timeout)
