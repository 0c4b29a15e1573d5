"""A module's calls by name: shared by the simulated modules and the serial drivers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..controller import HardwareFault

Handler = Callable[[Mapping[str, Any]], Awaitable[Mapping[str, Any]]]
"""One call of a module: its parameters in, its result out."""


async def call_handler(kind: str, name: str, handlers: Mapping[str, Handler], method: str,
                       params: Mapping[str, Any]) -> Mapping[str, Any]:
    """Run ``method`` of the ``kind`` module ``name``; a call it lacks is a HardwareFault."""
    handler = handlers.get(method)
    if handler is None:
        raise HardwareFault(f"the {kind} module {name!r} has no call {method!r}; it has "
                            f"{', '.join(sorted(handlers))}")
    return await handler(params)
