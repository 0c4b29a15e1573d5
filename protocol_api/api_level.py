"""Parts of the API that exist from a given apiLevel, as Opentrons dates them.

Opentrons refuses a method or property newer than the protocol's ``apiLevel`` at the
call (``APIVersionError``), on its simulator and on the robot. labrun refuses it the
same way, so a protocol simulated here does not fail there halfway through its run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from protocol_api.errors import APIVersionError, UnsupportedAPIError
from protocol_api.loader import MAX_API
from protocol_api.types import APIVersion


class _Leveled(Protocol):
    @property
    def api_version(self) -> APIVersion: ...


F = TypeVar("F", bound=Callable[..., Any])

NEWEST = APIVersion(*MAX_API)
"""The newest apiLevel labrun takes (what an object made outside a protocol answers to)."""
ENGINE_CORE_API = APIVersion(2, 14)
"""From this apiLevel Opentrons runs protocols on its engine core: ``InstrumentContext.speed``,
``pick_up_tip``'s ``presses`` and ``increment``, a labware's tip bookkeeping
(``use_tips``, ``previous_tip``, ``return_tips``) and ``Well.geometry`` are gone."""
ADAPTER_API = APIVersion(2, 15)
"""From this apiLevel labware loads onto adapters (on the deck or on a module)."""


def since(major: int, minor: int) -> Callable[[F], F]:
    """The method (or a property's getter) exists from apiLevel ``major.minor``: called
    by a protocol of an earlier apiLevel, it raises ``APIVersionError`` naming both."""
    level = APIVersion(major, minor)

    def decorate(function: F) -> F:
        name = function.__qualname__

        @functools.wraps(function)
        def gated(self: _Leveled, *args: Any, **kwargs: Any) -> Any:
            current = self.api_version
            if current < level:
                raise APIVersionError(f"{name} needs apiLevel {level} or later; this "
                                      f"protocol's apiLevel is {current}")
            return function(self, *args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate


def removed_in(major: int, minor: int, instead: str) -> Callable[[F], F]:
    """The method (or a property's getter) is gone from apiLevel ``major.minor``: called
    by a protocol of that level or later, it raises ``UnsupportedAPIError`` saying what to
    use ``instead``."""
    level = APIVersion(major, minor)

    def decorate(function: F) -> F:
        name = function.__qualname__

        @functools.wraps(function)
        def gated(self: _Leveled, *args: Any, **kwargs: Any) -> Any:
            current = self.api_version
            if current >= level:
                raise UnsupportedAPIError(f"{name} was removed in apiLevel {level}; this "
                                          f"protocol's apiLevel is {current}; {instead}")
            return function(self, *args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate
