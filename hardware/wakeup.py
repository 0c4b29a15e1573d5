"""Waking an event loop from another thread: the primitive under every thread hop.

``loop_waker()``, called inside a running anyio loop (asyncio or trio) or the
simulation's ``aio.Runtime``, returns a function that schedules a callback in that loop
from any thread without waiting for it. The engine's bridge and the hardware thread's
controller both hop threads with it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from . import aio

Waker = Callable[[Callable[[], object]], object]


def loop_waker() -> Waker:
    """Schedule callbacks in the current event loop from any thread (fire and forget)."""
    runtime = aio.current_runtime()
    if runtime is not None:
        return runtime.call_soon_threadsafe
    import anyio.lowlevel

    native: Any = anyio.lowlevel.current_token().native_token
    if hasattr(native, "call_soon_threadsafe"):  # asyncio event loop
        return native.call_soon_threadsafe  # type: ignore[no-any-return]
    if hasattr(native, "run_sync_soon"):  # trio token
        return native.run_sync_soon  # type: ignore[no-any-return]
    raise RuntimeError(f"unsupported event loop {native!r}")  # pragma: no cover
