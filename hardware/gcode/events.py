"""What a line from the firmware means, independent of the dialect that said it.

A dialect's ``parse`` turns one received line into a few of these events; the driver
and the streamer act on them. Anything not understood becomes ``Info``; a line in a
known shape that arrived damaged becomes ``Garbled``.
"""

from __future__ import annotations

from attrs import field, frozen

from ..controller import BoardAction

Axes = dict[str, float]
"""Firmware axis letter -> position in mm."""


@frozen
class Ok:
    """The oldest unacknowledged line was accepted (``ok``); ``payload`` is any text after it."""

    payload: str = ""


@frozen
class Error:
    """A line was rejected. ``final``: the error replaces the ``ok`` (GRBL, Smoothie);
    otherwise an ``ok`` still follows (Marlin)."""

    message: str
    final: bool = True


@frozen
class Halted:
    """Smoothieware's ``!!``: the line was refused because the controller is halted."""

    message: str = "controller is halted"


@frozen
class Unhalted:
    """The firmware left its halt (Smoothieware's ``M999``: ``WARNING: After HALT you
    should HOME...``; ``$X``: ``[Caution: Unlocked]``); the next answer is that line's."""

    text: str


@frozen
class Resend:
    """Marlin asks for every line from ``line`` on again; an ``ok`` follows."""

    line: int


@frozen
class Busy:
    """The firmware is alive but still working (``echo:busy: processing``, ``wait``)."""

    text: str


@frozen
class Alarm:
    """The firmware entered an alarm/halt state. ``flushes``: it will never answer the
    lines sent before (Marlin ``kill()``)."""

    message: str
    flushes: bool = False


@frozen
class EndstopHit:
    """An endstop stopped axes during a move that was not homing (Marlin's ``echo:endstops
    hit:  A:100.00``, with endstops always on): the robot is not where it was sent."""

    text: str
    position: Axes


@frozen
class MoveRefused:
    """The firmware refused a move it had already answered ``ok`` (Smoothieware answers a
    ``G1`` before planning it; with ``soft_endstop.halt false`` a move past its soft
    endstops is then ``Error: Soft Endstop X was exceeded - entire move ignored``):
    nothing of it runs, and no line is answered for it."""

    text: str


@frozen
class Restarted:
    """The firmware (re)started: lines sent before are lost. ``extra_ok``: the banner is
    followed by an unsolicited ``ok`` (Smoothieware)."""

    banner: str
    extra_ok: bool = False


@frozen
class Status:
    """A realtime status report ``<State:sub|MPos:...|Pn:...>``."""

    state: str
    substate: int | None = None
    position: Axes | None = None
    work_offset: Axes | None = None
    work_position: Axes | None = None
    pins: frozenset[str] = field(factory=frozenset)


@frozen
class PositionReport:
    """A position answer to a query (Marlin ``M114``, Smoothieware ``ok C: ...``)."""

    position: Axes


@frozen
class InterlockChange:
    """An interlock (``door``) became active or cleared."""

    name: str
    active: bool


@frozen
class BoardRequest:
    """A person asked at the controller's own board (its LCD menu, a button wired to it)
    for ``action``: ``pause``, ``resume`` or ``stop`` (Marlin's host action commands,
    ``//action:pause`` ...); ``text`` is the line as it came."""

    action: BoardAction
    text: str


@frozen
class Garbled:
    """A status report that arrived damaged (a state, field name or number that does not
    read, as line noise or an interleaved write leaves it): nothing in it is believed,
    and the driver asks again."""

    text: str


@frozen
class UnknownCommand:
    """The firmware was not built with the command of the line in flight (Marlin's
    ``echo:Unknown command: "M906 X800"``); its ``ok`` still follows."""

    text: str


@frozen
class Info:
    """Anything else: ``[MSG:...]``, ``// ...``, ``echo:...``."""

    text: str


Event = Ok | Error | Halted | Unhalted | Resend | Busy | Alarm | EndstopHit | MoveRefused \
    | Restarted | Status \
    | PositionReport | InterlockChange | BoardRequest | Garbled | UnknownCommand | Info
