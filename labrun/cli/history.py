"""A simulation's history, built from the run's events as they happen.

``labrun simulate`` keeps no list of events or commands in memory, so a protocol of a
million calls runs in flat memory: the log and the ``--json`` document are built from
the record's events as the engine adds them, spooled to temporary files and written out
once the run has ended; nothing is read back.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TextIO

from engine.record import Event, encoder, json_line

from .calls import Labels
from .report import TextLog
from .spool import Spool

JSON_SCHEMA_VERSION = 2
"""The version of the ``--json`` document's layout (its ``schema_version``)."""
_ENDED = ("completed", "failed", "interrupted")


class SpooledLog:
    """A run log fed the run's events as they happen (``listen`` is a record listener):
    its finished lines go to a spool file, so memory stays flat; ``write`` puts the whole
    log on ``out`` once the run has ended."""

    def __init__(self, log: TextLog) -> None:
        self._log = log
        self._spool = Spool()

    @property
    def labels(self) -> Labels:
        """The labware the run loaded, by slot, as the log names it."""
        return self._log.labels

    def listen(self, event: Event) -> None:
        """Take one event of the run, in order."""
        for line in self._log.feed(event):  # a long call's, read back as they go
            self._spool.write(line + "\n")

    def write(self, out: TextIO) -> None:
        """Write the log to ``out`` (the run has ended); the spool is released."""
        lines = self._log.finish()
        self._spool.copy_to(out)
        for line in lines:
            out.write(line + "\n")


def write_json(events: Iterable[Event], out: TextIO,
               extra: Mapping[str, Any] | None = None) -> None:
    """Write the documented ``--json`` document (README, "simulate --json") of ``events``
    to ``out``."""
    document = JsonDocument()
    for event in events:
        document.listen(event)
    document.write(out, extra)


class JsonDocument:
    """The documented ``--json`` document, built from the run's events as they happen
    (``listen`` is a record listener): each command is encoded as soon as it has ended,
    one per line, into a spool file, so memory stays flat and the record is not read back;
    ``write`` puts the whole document on ``out`` once the run has ended.

    Values are encoded as the record encodes them (``engine.record.json_line``), so the
    document is the one the record would give.
    """

    def __init__(self) -> None:
        self._spool = Spool()
        self._commands = 0
        self._open: dict[int, list[Any]] = {}  # [queued event, status, started, completed]
        self._status_changes: list[dict[str, Any]] = []
        self._parks: list[Event] = []
        self._actions: list[dict[str, Any]] = []
        self._pause_effects: list[dict[str, Any]] = []
        self._summary: Event = {}

    def listen(self, event: Event) -> None:
        """Take one event of the run, in order."""
        kind = event["event"]
        if kind == "command":
            status = event["status"]
            if status == "queued":  # the event itself, until the command ends
                self._open[event["id"]] = [event, "queued", None, None]
                return
            command = self._open.get(event["id"])
            if command is None:
                return
            command[1] = status
            if status == "started":
                if command[2] is None:
                    command[2] = event["t"]
                return
            if status == "completed":
                command[3] = event["t"]
            if status in _ENDED:
                del self._open[event["id"]]
                self._emit(command)
        elif kind == "status":
            self._status_changes.append({"t": event["t"], "status": event["status"]})
        elif kind in ("park", "unpark"):
            self._parks.append(_plain(event))
        elif kind == "action":
            self._actions.append(_plain({k: event.get(k) for k in
                                         ("t", "action", "option", "source", "accepted",
                                          "refusal")}))
        elif kind == "pause_effect":
            self._pause_effects.append(
                {"t": event["t"], "id": event["id"], "effect": event["effect"]})
        elif kind == "summary":
            self._summary = _plain(event)

    def _emit(self, command: list[Any]) -> None:
        """Write one command, ``[queued event, status, started_at, completed_at]``."""
        queued, status, started_at, completed_at = command
        line = json_line({"id": queued["id"], "type": queued["type"],
                          "params": queued.get("params", {}), "status": status,
                          "step": queued.get("step"),
                          "origin": queued.get("origin", "protocol"),
                          "line": queued.get("line"), "started_at": started_at,
                          "completed_at": completed_at})
        self._spool.write(("\n    " if not self._commands else ",\n    ") + line[:-1])
        self._commands += 1

    def write(self, out: TextIO, extra: Mapping[str, Any] | None = None) -> None:
        """Write the document to ``out`` (the run has ended); the spool is released."""
        for key in sorted(self._open):  # cut off without an ending (a halted cleanup)
            self._emit(self._open.pop(key))
        summary = self._summary
        optional: dict[str, Any] = {name: summary[name] for name in
                                    ("modules", "ended_during", "tips_at_end",
                                               "cleanup_skipped")
                                    if name in summary}
        rest = {
            "status": summary.get("status"),
            "final_status": summary.get("status"),
            "estimated_duration_s": summary.get("duration_s"),
            "steps": summary.get("steps"),
            "pauses": summary.get("pauses", []),
            "pause_unresolved": summary.get("pause_unresolved", False),
            "tips_used": summary.get("tips_used"),
            "well_volumes_ul": summary.get("well_volumes_ul", {}),
            "status_changes": self._status_changes,
            "parks": self._parks,
            "actions": self._actions,
            "pause_effects": self._pause_effects,
            "error": summary.get("error"),
            "location": summary.get("location"),
            "reason": summary.get("reason"),
            **optional,
            **(extra or {}),
        }
        out.write(f'{{\n  "schema_version": {JSON_SCHEMA_VERSION},\n  "commands": [')
        self._spool.copy_to(out)
        out.write("\n  ]" if self._commands else "]")
        for name, value in rest.items():
            out.write(f',\n  "{name}": {indented(value, 1)}')
        out.write("\n}\n")


def indented(value: Any, depth: int = 0) -> str:
    """``json.dumps(value, indent=2, default=str)``, the same text, for a value nested
    ``depth`` levels deep (its lines after the first indented as much).

    The standard library writes indented JSON in Python, one generator step a value
    (the setup sheet of a large protocol took milliseconds); here a container that holds
    no other non-empty container is written by the C encoder in one call, with the
    newline and the indent as its item separator.
    """
    if isinstance(value, (list, tuple)) and value:
        if not any(_nested(item) for item in value):
            return _flat(value, depth)
        inner = "\n" + "  " * (depth + 1)
        items = [indented(item, depth + 1) for item in value]
        return f"[{inner}{(',' + inner).join(items)}\n{'  ' * depth}]"
    if isinstance(value, dict) and value:
        if not all(type(key) is str for key in value):  # keys json turns into text
            return json.dumps(value, indent=2, default=str).replace("\n", "\n" + "  " * depth)
        if not any(_nested(item) for item in value.values()):
            return _flat(value, depth)
        inner = "\n" + "  " * (depth + 1)
        items = [f"{_key(key)}: {indented(item, depth + 1)}" for key, item in value.items()]
        return f"{{{inner}{(',' + inner).join(items)}\n{'  ' * depth}}}"
    return "".join(_scalar(value, 0))


def _nested(value: Any) -> bool:
    return isinstance(value, (list, tuple, dict)) and bool(value)


def _flat(value: list[Any] | tuple[Any, ...] | dict[str, Any], depth: int) -> str:
    """A non-empty container of scalars (and empty containers), indented."""
    encode = _FLAT.get(depth)
    if encode is None:
        encode = _FLAT[depth] = encoder(",\n" + "  " * (depth + 1), ": ", allow_nan=True,
                                        default=str)
    text = "".join(encode(value, 0))
    return f"{text[0]}\n{'  ' * (depth + 1)}{text[1:-1]}\n{'  ' * depth}{text[-1]}"


_FLAT: dict[int, Callable[[Any, int], Iterable[str]]] = {}
_scalar = encoder(allow_nan=True, default=str)
_key = json.encoder.encode_basestring_ascii


def _plain(event: Mapping[str, Any]) -> Event:
    """``event`` as the record gives it back (tuples as lists, names for enums, ...)."""
    plain: Event = json.loads(json_line(dict(event)))
    return plain
