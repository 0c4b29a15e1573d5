"""Parts of the API that exist from a given apiLevel, as Opentrons dates them.

Opentrons refuses a method or property newer than the protocol's ``apiLevel`` at the
call (``APIVersionError``), on its simulator and on the robot. labrun refuses it the
same way, so a protocol simulated here does not fail there halfway through its run.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from protocol_api.errors import (
    APIVersionError,
    ProtocolError,
    UnsupportedAPIError,
    UnsupportedNameError,
    shown,
)
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
COORDINATE_SLOT_API = APIVersion(2, 15)
"""From this apiLevel an OT-2's slots may be named as a Flex's (``"D1"`` for 1)."""
LID_API = APIVersion(2, 23)
"""From this apiLevel ``load_labware`` takes a ``lid`` (which labrun does not support)."""
OWN_ADAPTER_VERSION_API = APIVersion(2, 26)
"""From this apiLevel ``load_labware`` takes ``adapter_namespace`` and ``adapter_version``
(the adapter's own, no longer the labware's namespace), and ``lid_namespace`` and
``lid_version``."""
TRASH_BIN_API = APIVersion(2, 16)
"""From this apiLevel Opentrons makes the fixed trash a trash bin rather than labware:
``drop_tip``, ``dispense``, ``blow_out`` and ``move_to`` take it (at its top, centred)."""


def require(what: str, level: tuple[int, int], current: APIVersion, hint: str = "") -> None:
    """Raise ``APIVersionError`` unless ``current`` is ``level`` or later: ``what`` (a
    method, or a call's argument) exists only from there."""
    if current < level:
        raise APIVersionError(f"{what} needs apiLevel {APIVersion(*level)} or later; this "
                              f"protocol's apiLevel is {current}" + (f" {hint}" if hint else ""))


def require_name(what: str, level: tuple[int, int], current: APIVersion) -> None:
    """As ``require``, for a name labrun does not support, looked up through
    ``__getattr__``: the error is an AttributeError too (``UnsupportedNameError``), so
    ``hasattr`` stays False, but it says the level first, as Opentrons does."""
    try:
        require(what, level, current)
    except APIVersionError as exc:
        raise UnsupportedNameError(str(exc)) from None


def check_lid_options(what: str, current: APIVersion, *, lid: str | None,
                      lid_namespace: str | None, lid_version: int | None,
                      adapter_namespace: str | None = None,
                      adapter_version: int | None = None) -> None:
    """The lid and adapter options a ``load_labware`` takes (``what``: which one, a
    context's, a labware's or a module's): each needs its apiLevel, as in Opentrons
    (``APIVersionError``), and from there a ``lid`` is refused, saying why
    (``UnsupportedAPIError``): labrun has no lids."""
    for option, value in (("adapter_namespace", adapter_namespace),
                          ("adapter_version", adapter_version),
                          ("lid_namespace", lid_namespace), ("lid_version", lid_version)):
        if value is not None:
            require(f"{what}: {option}", OWN_ADAPTER_VERSION_API, current)
    if lid is not None:
        require(f"{what}: lid", LID_API, current)
        raise UnsupportedAPIError(f"{what}: lid: lids on labware are not supported by labrun")


BY_NAME_DEPRECATED = "load_labware_by_name is deprecated; use load_labware"
"""The warning of ``load_labware_by_name``, a context's or a module's."""


def refuse_removed(what: str, level: tuple[int, int], current: APIVersion,
                   instead: str = "") -> None:
    """Raise ``UnsupportedAPIError`` if ``current`` is ``level`` or later: ``what`` is
    gone from there (``instead``: what to use)."""
    if current >= level:
        raise UnsupportedAPIError(f"{what} was removed in apiLevel {APIVersion(*level)}; this "
                                  f"protocol's apiLevel is {current}"
                                  + (f"; {instead}" if instead else ""))


def since(major: int, minor: int) -> Callable[[F], F]:
    """The method (or a property's getter) exists from apiLevel ``major.minor``: called
    by a protocol of an earlier apiLevel, it raises ``APIVersionError`` naming both."""
    return _gated(lambda name, current: require(name, (major, minor), current))


def removed_in(major: int, minor: int, instead: str) -> Callable[[F], F]:
    """The method (or a property's getter) is gone from apiLevel ``major.minor``: called
    by a protocol of that level or later, it raises ``UnsupportedAPIError`` saying what to
    use ``instead``."""
    return _gated(lambda name, current: refuse_removed(name, (major, minor), current, instead))


def _gated(check: Callable[[str, APIVersion], None]) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        name = function.__qualname__

        @functools.wraps(function)
        def gated(self: _Leveled, *args: Any, **kwargs: Any) -> Any:
            check(name, self.api_version)
            return function(self, *args, **kwargs)

        return gated  # type: ignore[return-value]

    return decorate


_TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})
_FLAG_WORDS = _TRUE_WORDS | _FALSE_WORDS
"""The words Opentrons' engine reads as a boolean (in any case, with no spaces)."""


def engine_flag(op: str, name: str, value: object, level: APIVersion, *,
                 optional: bool = False) -> bool | None:
    """A boolean option (``name`` of ``op``) as Opentrons reads it. From apiLevel 2.14 its
    engine takes True, False, 1, 0 and words such as ``'yes'`` or ``'false'`` (None too
    if ``optional``), and refuses any other value; before, it takes any value, by its
    truth."""
    if value is None and (optional or level < ENGINE_CORE_API):
        return None
    if level < ENGINE_CORE_API or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.lower() in _FLAG_WORDS:
        return value.lower() in _TRUE_WORDS
    raise ProtocolError(f"{op}: {name} must be True or False, not {shown(value)}")
