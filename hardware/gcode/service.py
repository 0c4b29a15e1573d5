"""A background task of the current event loop, owned by an object rather than a scope.

``MotionController.connect()`` may be called from any task and ``disconnect()`` from
another, so the driver's reader cannot live in the caller's task group. ``Service``
starts a coroutine as a task of the running loop through anyio's event-loop token (a
small anchor thread waits on it) and stops it by cancelling its own scope. The task
is always finished by ``stop()``; if the loop shuts down first, it is cancelled.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable

import anyio
import anyio.from_thread
import anyio.lowlevel


class Service:
    """Run one coroutine function in the background of the current loop."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._scope: anyio.CancelScope | None = None
        self._finished: anyio.Event | None = None

    @property
    def running(self) -> bool:
        return self._finished is not None and not self._finished.is_set()

    async def start(self, fn: Callable[[], Awaitable[None]]) -> None:
        """Start ``fn()`` as a task of this loop; return once it is running."""
        token = anyio.lowlevel.current_token()
        scope = self._scope = anyio.CancelScope()
        finished = self._finished = anyio.Event()
        started = anyio.Event()

        async def host() -> None:
            try:
                with scope:
                    started.set()
                    await fn()
            except anyio.get_cancelled_exc_class():
                # The loop shut down first (a connection cut off by Ctrl-C): the task
                # ends quietly, not as an error asyncio reports at shutdown.
                return
            finally:
                finished.set()

        def anchor() -> None:
            # Ends when the task does, or with an error when the loop shuts down first.
            with contextlib.suppress(BaseException):
                anyio.from_thread.run(host, token=token)

        threading.Thread(target=anchor, name=self.name, daemon=True).start()
        await started.wait()

    async def stop(self) -> None:
        """Cancel the task and wait until it has finished."""
        if self._scope is not None and self._finished is not None:
            self._scope.cancel()
            with anyio.CancelScope(shield=True):
                await self._finished.wait()
        self._scope = self._finished = None
