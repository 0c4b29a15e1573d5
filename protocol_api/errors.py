"""Errors a protocol can cause by asking for something that cannot be done.

Each carries a plain message that names the problem; the protocol runner adds the
protocol ``file:line`` from the traceback when it reports the failure.
"""

from __future__ import annotations

from collections.abc import Sequence


def shown(value: object) -> str:
    """``value`` as an error's message shows what a protocol gave: its ``repr`` when that
    is short; else a list's or tuple's length, first and last item (a labware's 96
    wells), or the ``repr`` cut at 200 characters, so the message stays one readable
    line."""
    text = repr(value)
    if len(text) <= 120:
        return text
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple) and len(value) > 2:
        kind = type(value).__name__  # a list or a tuple, not a Point
        return f"a {kind} of {len(value)} ({value[0]!r} ... {value[-1]!r})"[:200]
    return text[:199] + "…"


def listed(items: Sequence[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``: names as a message lists them."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


class ProtocolError(Exception):
    """A protocol asked for something labrun cannot do (bad input, docs/design.md §10)."""


class ProtocolExit(SystemExit):
    """``os._exit(n)`` called by a protocol: it ends the run, never labrun's process."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.call = f"os._exit({code!r})"


def exit_message(exc: SystemExit) -> str:
    """What a protocol that tried to exit is told (``sys.exit``, ``os._exit``, ``exit()``)."""
    how = exc.call if isinstance(exc, ProtocolExit) else (
        "SystemExit" if exc.code is None else f"SystemExit, code {exc.code!r}")
    return f"the protocol tried to exit ({how}); a protocol ends by returning from run(ctx)"


class ProtocolLoadError(ProtocolError):
    """The protocol file cannot be loaded: syntax, missing ``run``, metadata, apiLevel."""


class LabwareNotFoundError(ProtocolError, FileNotFoundError):
    """No labware definition has that load name: a FileNotFoundError too, as Opentrons'
    was below apiLevel 2.15 (protocols try a load name and ``except FileNotFoundError``
    load another)."""


class LabwareDefinitionError(ProtocolError):
    """A custom labware definition is malformed."""


class LabwareCannotBeStackedError(ProtocolError):
    """A labware loaded on one it is not defined to sit on (Opentrons' error of that name)."""


class LabwareMovementNotAllowedError(ProtocolError):
    """A ``move_labware`` that cannot be done (Opentrons' error of that name)."""


class LabwareOffDeckError(ProtocolError):
    """A well of a labware that is off the deck was used as a place to go.

    ``detail`` (the message after ``op: ``), when given, lets the protocol's own call be
    named instead of the ``top``/``bottom`` labrun called for it (``for_call``)."""

    def __init__(self, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.detail = detail

    def for_call(self, call: str) -> LabwareOffDeckError:
        """The same refusal, said as ``call``'s (unchanged when it has no ``detail``)."""
        if self.detail is None:
            return self
        return LabwareOffDeckError(f"{call}: {self.detail}", self.detail)


class LabwareIsInStackError(ProtocolError):
    """A well of a labware with another stacked on it was used as a place to go
    (Opentrons' error of that name)."""


class InvalidSlotError(ProtocolError, KeyError, ValueError):
    """The deck has no such slot: a KeyError, as ``ctx.deck[slot]`` raises in Opentrons
    (so ``ctx.deck.get(slot)`` gives its default from apiLevel 2.14), and a ValueError, as
    a load into no slot raises there (and ``ctx.deck[slot]`` and ``ctx.deck.get(slot)``
    below apiLevel 2.14)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such slot"


class SlotOccupiedError(ProtocolError):
    """Something is already loaded in that slot."""


class WellNotFoundError(ProtocolError, KeyError):
    """The labware has no well of that name (a KeyError, as in the Opentrons API)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "no such well"


class InstrumentError(ProtocolError):
    """An unknown pipette or mount, or a mount already in use."""


class VolumeError(ProtocolError):
    """A volume that is negative or more than the pipette or tip can hold."""


class TipError(ProtocolError):
    """A tip operation that cannot be done: no tip attached, tip already attached, out of tips."""


class ThreadCallError(ProtocolError):
    """A protocol call from a thread other than the one that runs ``run(ctx)``: refused,
    and the run fails, saying so."""


class UnsupportedAPIError(ProtocolError):
    """A part of the Opentrons API that labrun does not support."""


class UnsupportedNameError(UnsupportedAPIError, AttributeError):
    """A name of the Opentrons API (an attribute, a module's constant) for what labrun does
    not do: an AttributeError too, so ``hasattr`` and ``getattr(x, name, default)`` work."""


class UnknownAttributeError(AttributeError):
    """A name a protocol object does not have (a misspelt method): Python's own message,
    and the object's closest public name when one is close (``did you mean
    'pick_up_tip'?``), found only when the message is read, so ``hasattr`` stays cheap."""

    def __init__(self, owner: object, name: str, kind: str) -> None:
        super().__init__(name=name, obj=owner)
        self.kind = kind  # the API's name of the owner's class (ProtocolContext...)

    def __reduce__(self) -> tuple[type[AttributeError], tuple[str]]:
        return AttributeError, (str(self),)  # unpickled as the plain error it says

    def __str__(self) -> str:
        owner, name = self.obj, str(self.name)
        said = f"{self.kind!r} object has no attribute {name!r}"
        if name.startswith("_"):
            return said
        import difflib  # only for an error's message

        public = [n for n in dir(owner) if not n.startswith("_")]  # the names it has
        close = difflib.get_close_matches(name, public, n=1)
        return f"{said}; did you mean {close[0]!r}?" if close else said


UnknownAttributeError.__name__ = "AttributeError"  # the error line reads as Python's own


class APIVersionError(UnsupportedAPIError):
    """A part of the API that the protocol's apiLevel does not have yet (Opentrons'
    ``APIVersionError``: the robot refuses it too)."""


class ParameterError(ProtocolError, ValueError):
    """A runtime parameter defined wrongly (``add_parameters``), given a value it cannot
    take, or a CSV file that cannot be read: a ValueError, as Opentrons' are."""


class RuntimeParameterRequiredError(ProtocolError):
    """A CSV file parameter read when the run was given no file: Opentrons'
    ``RuntimeParameterRequiredError``, which its documentation has a protocol catch to use
    data of its own instead (not a ValueError, as there)."""
