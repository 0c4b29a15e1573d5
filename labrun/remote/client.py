"""``RunManagerAPI`` and ``AsyncRunManagerAPI``: the two thin faces over ``client_core``.

Each face owns an httpx client and implements only what touches I/O: sending a call,
reading the event stream, and the waits, which listen to the stream (no polling) and
return as soon as the pushed status satisfies them.

    from labrun.remote import RunManagerAPI

    RM = RunManagerAPI("http://127.0.0.1:8790/?token=...")  # the URL labrun serve prints
    RM.queue_item_add(path="dilution.py")
    RM.queue_start()
    RM.re_pause("immediate")
    RM.wait_for_idle_or_paused(timeout=30)
    RM.re_resume()
    RM.wait_for_idle()
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from types import TracebackType

import anyio
import httpx

from .client_core import (
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT_TIMEOUT,
    KEEPALIVE,
    Call,
    ClientCore,
    EventParser,
    Methods,
    Predicate,
    Reply,
    StreamEvent,
    is_idle,
    is_idle_or_paused,
)
from .errors import HTTPRequestError, WaitTimeoutError

WAIT_HEARTBEAT = 1.0
"""Keep-alive period asked of the stream during a wait (bounds how late a timeout is)."""


class RunManagerAPI(Methods[Reply]):
    """The synchronous client; methods mirror bluesky-queueserver's REManagerAPI."""

    def __init__(self, http_server_uri: str | None = None, *, token: str | None = None,
                 token_file: str | os.PathLike[str] | None = None,
                 lock_key: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 request_fail_exceptions: bool = True) -> None:
        self._core = ClientCore(http_server_uri, token=token, token_file=token_file,
                                lock_key=lock_key, timeout=timeout,
                                request_fail_exceptions=request_fail_exceptions)
        self._http = httpx.Client(timeout=timeout)

    def _send(self, call: Call) -> Reply:
        request = self._http.build_request(**self._core.request(call))
        try:
            response = self._http.send(request)
        except httpx.HTTPError as exc:
            raise self._core.error(exc) from exc
        return self._core.reply(response)

    @contextmanager
    def stream(self, *, records: bool = False, heartbeat: float | None = None,
               keepalive: bool = False) -> Iterator[Iterator[StreamEvent]]:
        """The pushed events: the status at once and on every change (and, with
        ``records``, the running run's record events; with ``keepalive``, the server's
        keep-alives every ``heartbeat`` s of silence, as ``KEEPALIVE``)."""
        try:
            with self._http.stream(**self._core.stream_request(
                    records=records, heartbeat=heartbeat)) as response:
                if response.status_code >= 400:
                    self._core.check_stream(response, response.read())
                yield self._events(response, keepalive)
        except httpx.HTTPError as exc:
            raise self._core.error(exc) from exc

    @staticmethod
    def _events(response: httpx.Response, keepalive: bool) -> Iterator[StreamEvent]:
        parser = EventParser()
        for line in response.iter_lines():
            event = parser.line(line)
            if event is not None and (keepalive or event is not KEEPALIVE):
                yield event

    def wait_for_idle(self, *, timeout: float = DEFAULT_WAIT_TIMEOUT) -> Reply:
        """Return the status once the manager is idle; ``WaitTimeoutError`` after ``timeout``."""
        return self._wait(is_idle, timeout, "idle")

    def wait_for_idle_or_paused(self, *, timeout: float = DEFAULT_WAIT_TIMEOUT) -> Reply:
        """Return the status once the manager is idle or the run is paused."""
        return self._wait(is_idle_or_paused, timeout, "idle or paused")

    def wait_for(self, predicate: Predicate, *, timeout: float = DEFAULT_WAIT_TIMEOUT) -> Reply:
        """Return the first pushed status that satisfies ``predicate``."""
        return self._wait(predicate, timeout, "the awaited state")

    def _wait(self, predicate: Predicate, timeout: float, what: str) -> Reply:
        deadline = time.monotonic() + timeout
        heartbeat = max(0.05, min(WAIT_HEARTBEAT, timeout))
        with self.stream(heartbeat=heartbeat, keepalive=True) as events:
            for event in events:
                if event.event == "status" and predicate(event.data):
                    return event.data
                if time.monotonic() >= deadline:
                    break
            else:
                raise HTTPRequestError(f"the server at {self._core.server} closed the "
                                       "event stream")
        raise WaitTimeoutError(f"the manager was not {what} within {timeout:g} s")

    def close(self) -> None:
        """Close the connections."""
        self._http.close()

    def __enter__(self) -> RunManagerAPI:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


class AsyncRunManagerAPI(Methods[Awaitable[Reply]]):
    """The asynchronous client; the same methods, awaited (tested on asyncio; httpx's
    async client also runs on trio)."""

    def __init__(self, http_server_uri: str | None = None, *, token: str | None = None,
                 token_file: str | os.PathLike[str] | None = None,
                 lock_key: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 request_fail_exceptions: bool = True) -> None:
        self._core = ClientCore(http_server_uri, token=token, token_file=token_file,
                                lock_key=lock_key, timeout=timeout,
                                request_fail_exceptions=request_fail_exceptions)
        self._http = httpx.AsyncClient(timeout=timeout)

    async def _send(self, call: Call) -> Reply:
        request = self._http.build_request(**self._core.request(call))
        try:
            response = await self._http.send(request)
        except httpx.HTTPError as exc:
            raise self._core.error(exc) from exc
        return self._core.reply(response)

    @asynccontextmanager
    async def stream(self, *, records: bool = False, heartbeat: float | None = None,
                     keepalive: bool = False) -> AsyncIterator[AsyncIterator[StreamEvent]]:
        """The pushed events, as ``RunManagerAPI.stream``."""
        try:
            async with self._http.stream(**self._core.stream_request(
                    records=records, heartbeat=heartbeat)) as response:
                if response.status_code >= 400:
                    self._core.check_stream(response, await response.aread())
                yield self._events(response, keepalive)
        except httpx.HTTPError as exc:
            raise self._core.error(exc) from exc

    @staticmethod
    async def _events(response: httpx.Response,
                      keepalive: bool) -> AsyncIterator[StreamEvent]:
        parser = EventParser()
        async for line in response.aiter_lines():
            event = parser.line(line)
            if event is not None and (keepalive or event is not KEEPALIVE):
                yield event

    async def wait_for_idle(self, *, timeout: float = DEFAULT_WAIT_TIMEOUT) -> Reply:
        """Return the status once the manager is idle; ``WaitTimeoutError`` after ``timeout``."""
        return await self._wait(is_idle, timeout, "idle")

    async def wait_for_idle_or_paused(self, *, timeout: float = DEFAULT_WAIT_TIMEOUT) -> Reply:
        """Return the status once the manager is idle or the run is paused."""
        return await self._wait(is_idle_or_paused, timeout, "idle or paused")

    async def wait_for(self, predicate: Predicate, *,
                       timeout: float = DEFAULT_WAIT_TIMEOUT) -> Reply:
        """Return the first pushed status that satisfies ``predicate``."""
        return await self._wait(predicate, timeout, "the awaited state")

    async def _wait(self, predicate: Predicate, timeout: float, what: str) -> Reply:
        with anyio.move_on_after(timeout):
            async with self.stream() as events:
                async for event in events:
                    if event.event == "status" and predicate(event.data):
                        return event.data
                raise HTTPRequestError(f"the server at {self._core.server} closed the "
                                       "event stream")
        raise WaitTimeoutError(f"the manager was not {what} within {timeout:g} s")

    async def close(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def __aenter__(self) -> AsyncRunManagerAPI:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()
