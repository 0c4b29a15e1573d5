"""The emulator's side of a connection: a TCP stream or a pseudo-terminal master."""

from __future__ import annotations

import contextlib
import os
from typing import Protocol

import anyio
import anyio.abc


class LinkClosed(Exception):
    """The peer went away or the link was closed."""


class Link(Protocol):
    async def receive(self) -> bytes: ...
    async def send(self, data: bytes) -> None: ...
    async def aclose(self) -> None: ...


class TcpLink:
    """An accepted TCP connection."""

    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        self._stream = stream
        self._lock = anyio.Lock()

    async def receive(self) -> bytes:
        try:
            return await self._stream.receive()
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError,
                OSError) as exc:
            raise LinkClosed(str(exc)) from None

    async def send(self, data: bytes) -> None:
        try:
            async with self._lock:
                await self._stream.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise LinkClosed(str(exc)) from None

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()


class PtyLink:
    """The master side of a pseudo-terminal; ``path`` is the slave, usable as a serial port.

    The emulator keeps the slave open too, so a driver closing and reopening the port
    looks like a serial line: nothing ends. Output nobody reads is dropped once the
    terminal's buffer is full, like a UART's.
    """

    def __init__(self) -> None:
        import tty  # POSIX only; imported here so the emulator's TCP side works anywhere

        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo, no line-ending translation
        os.set_blocking(self._master, False)
        self.path = os.ttyname(self._slave)
        self._closed = False

    async def receive(self) -> bytes:
        while True:
            if self._closed:
                raise LinkClosed("pseudo-terminal closed")
            try:
                await anyio.wait_readable(self._master)
            except (anyio.ClosedResourceError, OSError) as exc:
                raise LinkClosed(str(exc)) from None
            try:
                data = os.read(self._master, 4096)
            except BlockingIOError:
                continue
            except OSError as exc:
                raise LinkClosed(str(exc)) from None
            if data:
                return data

    async def send(self, data: bytes) -> None:
        if self._closed:
            raise LinkClosed("pseudo-terminal closed")
        with contextlib.suppress(BlockingIOError):
            os.write(self._master, data)

    def hold(self, held: bool) -> None:
        """Fault: hold the line (True) as a board does with flow control (XOFF, CTS low)
        or a USB firmware that stopped reading: the host's writes wait, none is lost,
        until it is let go (False)."""
        import termios

        if not self._closed:
            termios.tcflow(self._slave, termios.TCOOFF if held else termios.TCOON)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            anyio.notify_closing(self._master)  # wakes a pending receive()
            for fd in (self._master, self._slave):
                with contextlib.suppress(OSError):
                    os.close(fd)


def hold_line(link: Link | None, held: bool) -> None:
    """Hold (or let go) the line of ``link``, a pseudo-terminal's (``PtyLink.hold``)."""
    if not isinstance(link, PtyLink):
        raise TypeError("only a pseudo-terminal's line can be held (link='pty')")
    link.hold(held)
