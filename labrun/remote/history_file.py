"""The server's history on disk, beside the run records (``--record-dir``): what a
restarted server still knows of the runs before it.

``history.jsonl`` holds one line per finished run (the history's entry; its record is the
run's own file ``<item_uid>.jsonl``, read only when asked for: ``records``) and one line
per clearing of the history. A run whose record is in the folder but that never reached
the history (the server was killed while it ran; one stopped writes its entry itself)
is read back from its record and said to have ended with the server; a record left
without its end (the server and its run worker killed at once) is ended then, once, by a
``status`` and a ``summary`` line.

A run cleared from the history stays cleared: what was cleared is told by the runs' uids
the file lists before each clearing, never by the record files' times (a copy of the
folder gives every file a new one). Only the records of runs the file never listed are
read at a start.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any

from engine.commands import REGISTRY
from engine.record import Event, being_written, json_line, read_record

FILE_NAME = "history.jsonl"
SERVED_UID = re.compile(r"[0-9a-f]{32}")
"""The name of a served run's record (its item's uid): other files are not the server's."""
STOPPED_WITH_THE_SERVER = "the server stopped while the run went on"


LOCK_NAME = ".labrun-serve.lock"
CLEARED_KEPT = 1000
"""Uids of cleared runs remembered, the last ones: enough to tell a run cleared lately
from a made-up uid, in some 140 kB at most, however often a server running for months
is cleared; of older ones only their count is kept."""


class ClearedRuns:
    """The runs cleared from the history: the last ``CLEARED_KEPT`` uids, and how many
    cleared before them (``older``) are no longer told apart from unknown ones."""

    def __init__(self) -> None:
        self.uids: dict[str, None] = {}  # in the order cleared: the oldest go first
        self.older = 0

    def __contains__(self, uid: str) -> bool:
        return uid in self.uids

    def add(self, uids: Iterable[str]) -> None:
        """These runs were cleared."""
        self.uids.update(dict.fromkeys(uids))
        excess = len(self.uids) - CLEARED_KEPT
        if excess > 0:
            for uid in list(itertools.islice(self.uids, excess)):
                del self.uids[uid]
            self.older += excess


class FolderInUse(Exception):
    """Another server keeps its history and records in the folder."""


def claim(directory: Path) -> IO[bytes]:
    """Hold ``directory`` for this server (keep the file returned open as long as it
    serves): ``FolderInUse`` if another server holds it. Two servers on one folder would
    each take the other's running run for one that ended with its server."""
    import fcntl  # POSIX, as the robots' computers are

    held = open(directory / LOCK_NAME, "ab")  # noqa: SIM115 - held for the server's life
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        held.close()
        raise FolderInUse(f"another labrun serve keeps its records in {directory}") from None
    return held


class HistoryFile:
    """The history of the runs whose records are in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / FILE_NAME
        self.tips_removed_after: str | None = None
        """The run (its item's uid) whose left tips someone said were taken off, as
        ``load`` read it last."""
        self.cleared = ClearedRuns()
        """The runs cleared from the history before, as ``load`` read them."""
        self.last_run: dict[str, Any] | None = None
        """The entry of the run that started last, cleared from the history or not (the
        tips it left are on the robot all the same), as ``load`` read it."""
        self.skipped: list[int] = []
        """The lines of the file that are not what the server writes there (edited by
        hand, another version's), as ``load`` skipped them: their numbers."""
        self._unlisted: dict[str, dict[str, Any]] = {}
        """Runs of the history whose entry could not be written to the file (a full
        disk), by uid: written before the next entry, once it can be; a clearing names
        them, so that they do not come back as runs that ended with the server."""

    def load(self) -> list[dict[str, Any]]:
        """The history as the server last knew it (the entries, not their records), with
        the runs that ended with the server (written in the file from now on), in the
        order they started. A run whose record another process still writes (the run
        worker of a server killed alone) is left out this time: it has not ended."""
        entries: dict[str, dict[str, Any]] = {}
        self.cleared = ClearedRuns()
        self.last_run = None
        listed: set[str] = set()  # every run the file names, cleared since or not
        self.skipped = []
        for number, line in _lines(self.path):
            if not _as_written(line):
                self.skipped.append(number)
                continue
            if isinstance(line.get("item_uid"), str) and _started(line) >= _started(
                    self.last_run):
                self.last_run = line
            if "cleared_at" in line:
                unlisted = [uid for uid in line.get("unlisted") or () if isinstance(uid, str)]
                listed.update(unlisted)
                self.cleared.add([*entries, *unlisted])
                entries.clear()
            elif isinstance(line.get("tips_removed_after"), str):
                self.tips_removed_after = line["tips_removed_after"]
            elif isinstance(line.get("item_uid"), str):
                entries[line["item_uid"]] = line
                listed.add(line["item_uid"])
        for path in self.directory.glob("*.jsonl"):
            uid = path.stem
            # In the history, or cleared from it (whatever the file's times say: a copy
            # of the folder makes them all new): only a run never listed is read.
            if uid in listed or not SERVED_UID.fullmatch(uid):  # a server's runs only
                continue
            if not path.is_file():  # a FIFO or a folder under that name: no record, and
                continue  # opening a FIFO would wait for a writer for ever
            if being_written(path):
                continue
            orphan = _ended_with_the_server(uid, path)
            if orphan is not None:
                with contextlib.suppress(OSError):  # a folder that cannot be written
                    self.append(orphan)  # said once: read from the file from now on
                entries[uid] = orphan
                if _started(orphan) >= _started(self.last_run):
                    self.last_run = orphan
        return sorted(entries.values(), key=_started)

    def skipped_said(self) -> str | None:
        """The lines ``load`` skipped, in one line; None if none was."""
        if not self.skipped:
            return None
        numbers = ", ".join(map(str, self.skipped[:5])) + (
            " ..." if len(self.skipped) > 5 else "")
        if len(self.skipped) == 1:
            return f"{self.path}: line {numbers} is not a line labrun serve writes there; " \
                   "skipped"
        return f"{self.path}: lines {numbers} are not lines labrun serve writes there; " \
               "skipped"

    def append(self, entry: dict[str, Any]) -> None:
        """Add a finished run (its record stays in its own file), after those that could
        not be written before: else a restart would read each as a run that ended with
        the server, in place of its own end (failed for a full disk, say)."""
        self._unlisted[str(entry["item_uid"])] = entry
        for uid, waiting in list(self._unlisted.items()):
            self._write(waiting)  # OSError: in the history all the same (in memory)
            del self._unlisted[uid]

    def tips_removed(self, uid: str) -> None:
        """Someone said the tips the run ``uid`` left on the pipettes are off."""
        self._write({"tips_removed_after": uid})
        self.tips_removed_after = uid

    def clear(self) -> None:
        """Forget the runs so far (their records stay in the folder)."""
        line: dict[str, Any] = {"cleared_at": time.time()}
        if self._unlisted:  # runs the file does not list: cleared all the same
            line["unlisted"] = list(self._unlisted)
        self._write(line)
        self._unlisted.clear()

    def _write(self, line: dict[str, Any]) -> None:
        text = json_line(line)
        with open(self.path, "a+b") as file:
            if file.tell() > 0:  # a line cut short (a kill, a full disk): start a new one
                file.seek(-1, os.SEEK_END)
                if file.read(1) != b"\n":
                    text = "\n" + text
            file.write(text.encode())  # one whole line a write


def _started(entry: dict[str, Any] | None) -> float:
    """When the run of a history entry started (none, or a line that does not say: before
    any)."""
    result = entry.get("result") if entry is not None else None
    started = result.get("time_start") if isinstance(result, dict) else None
    return float(started) if isinstance(started, (int, float)) else -math.inf


def _lines(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """The lines of ``path`` that parse as objects, with their numbers (a cut last line
    is skipped)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines = []
    for number, raw in enumerate(text.splitlines(), 1):
        try:
            line = json.loads(raw)
        except ValueError:
            continue
        if isinstance(line, dict):
            lines.append((number, line))
    return lines


def _as_written(line: dict[str, Any]) -> bool:
    """Whether ``line`` is one the server writes: a clearing, the tips said taken off, or
    a run's entry, with what the server reads of each of the types it writes them."""
    if "cleared_at" in line:
        return isinstance(line.get("unlisted", []), list)
    if "tips_removed_after" in line:
        return isinstance(line["tips_removed_after"], str)
    result = line.get("result")
    if not (isinstance(line.get("item_uid"), str) and isinstance(line.get("name"), str)
            and isinstance(result, dict) and isinstance(result.get("exit_status"), str)
            and isinstance(result.get("summary"), dict)):
        return False
    tips = result["summary"].get("tips_at_end") or {}
    return isinstance(tips, dict) and all(
        isinstance(tip, dict) and _number_or_none(tip.get("volume_ul"))
        and isinstance(tip.get("tips", 1), int) for tip in tips.values())


def _number_or_none(value: Any) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _ended_with_the_server(uid: str, path: Path) -> dict[str, Any] | None:
    """The history entry of a run the server did not live to finish, from its record
    (none for a file that is not a run record). A record left without its end is ended
    here, in its file: ``closing_events``, after its last whole line."""
    try:
        record = read_record(path)
    except (OSError, ValueError):
        return None
    if not record or not all(isinstance(event, dict) for event in record) \
            or record[0].get("event") != "run":
        return None
    first, last = record[0], record[-1]
    if last.get("event") != "summary":  # killed at once: the record ends where the run was
        closing = closing_events(record)
        with contextlib.suppress(OSError):  # a folder that cannot be written: said next time
            append_closing(path, closing)
        last = closing[-1]
    created = _seconds(first.get("created_at"))
    if created is None:  # not a served run's record: the file's time is all there is
        try:
            created = path.stat().st_mtime
        except OSError:
            return None
    started = created
    speed = _seconds(first.get("clock_speed")) or 1.0  # a sped-up clock's seconds are shorter
    stopped = started + (_seconds(last.get("t")) or 0.0) / speed  # its clock from its start
    status = str(last.get("status"))
    summary = {k: v for k, v in last.items() if k not in ("seq", "event")}
    success = status in ("succeeded", "stopped")
    said = "" if success else (str(summary.get("error") or summary.get("reason") or "")
                               or STOPPED_WITH_THE_SERVER)
    result = {"exit_status": status, "success": success, "msg": said,
              "time_start": started, "time_stop": stopped,
              "pause_unresolved": False, "summary": summary}
    return {"item_uid": uid, "item_type": "protocol", "name": str(first.get("protocol")),
            "user": None, "labware": [], "added_at": started, "api_level": None,
            "metadata": {}, "result": result}


def closing_events(record: list[Event], ended: dict[str, Any] | None = None) -> list[Event]:
    """The lines that end a ``record`` left without its end (no ``summary``: the server
    and its run worker were killed at once, or the worker died): the command it was in
    ``interrupted``, then the run's end, ``ended`` (by default ``aborted``, saying
    ``STOPPED_WITH_THE_SERVER``), as a ``status`` line and a ``summary`` (naming that
    command, with the record's counts), numbered on from its last line, at its time; the
    tips it held are on the robot still, as far as anyone knows."""
    last = record[-1] if record else None
    seq = int(last["seq"]) + 1 if last and isinstance(last.get("seq"), int) else len(record)
    t = last.get("t", 0.0) if last else 0.0
    ended = ended or {"status": "aborted", "reason": STOPPED_WITH_THE_SERVER}
    closing: list[Event] = []
    queued: dict[Any, Event] = {}  # the commands not ended, by id, as queued
    for event in record:
        if event.get("event") == "command" and "id" in event:
            if event.get("status") == "queued":
                queued[event["id"]] = event
            elif event.get("status") in ("completed", "failed", "interrupted", "skipped"):
                queued.pop(event["id"], None)
    during = None
    if queued:  # the one the run was in: it ends interrupted, as a stop ends it
        cut = queued[max(queued, key=lambda key: int(queued[key].get("seq", 0)))]
        closing.append({"seq": seq, "t": t, "event": "command", "id": cut["id"],
                        "status": "interrupted",
                        "reason": ended.get("reason") or ended.get("error")})
        kind = str(cut.get("type"))
        command = REGISTRY.get(kind)
        during = {"id": cut["id"], "type": kind, "params": cut.get("params", {}),
                  "line": cut.get("line"), "status": "interrupted",
                  "touches_liquid_or_tips": command is not None and not command.reversible}
    closing.append({"seq": seq + len(closing), "t": t, "event": "status", **ended})
    summary: Event = {"seq": seq + len(closing), "t": t, "event": "summary", **ended,
                      "commands": sum(1 for e in record if e.get("event") == "command"
                                      and e.get("status") == "queued"),  # as the engine's
                      "steps": sum(1 for e in record if e.get("event") == "step"),
                      "duration_s": t}
    if during is not None:
        summary["ended_during"] = during
    held = tips_held(record)
    if held:  # no cleanup ran
        summary["tips_at_end"] = held
    return [*closing, summary]


def append_closing(path: Path, events: list[Event]) -> None:
    """Append ``events`` to the record at ``path`` as whole lines, in one write, after its
    last whole line (``end_whole``)."""
    end_whole(path)
    with open(path, "ab") as file:
        file.write("".join(json_line(event) for event in events).encode())


def end_whole(path: Path) -> None:
    """Have the record at ``path`` end with a whole line, so that what is written after it
    starts a line of its own: a last line cut mid-write (which ``read_record`` skips) is
    cut off; a whole last line that only lacks its newline (which ``read_record`` reads)
    is kept and ended."""
    with open(path, "rb+") as file:
        size = file.seek(0, os.SEEK_END)
        end = size
        while end > 0:  # back to the last newline, a block at a time
            start = max(0, end - 65536)
            file.seek(start)
            newline = file.read(end - start).rfind(b"\n")
            if newline >= 0:
                end = start + newline + 1
                break
            end = start
        if end < size:  # a last line without its newline: whole, or cut
            file.seek(end)
            if _whole(file.read(size - end)):
                file.write(b"\n")
            else:
                file.truncate(end)


def _whole(line: bytes) -> bool:
    """Whether a record's last ``line`` is a whole event, as ``read_record`` reads it
    (strict JSON: no ``NaN``)."""
    try:
        return isinstance(json.loads(line, parse_constant=_not_json), dict)
    except ValueError:  # cut mid-write, or not text
        return False


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _seconds(value: Any) -> float | None:
    """A time in a record (a number of seconds), or None if it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    seconds = float(value)
    return seconds if seconds - seconds == 0 else None  # finite


def tips_held(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The tips on the pipettes after the last of a record's ``events``, by mount, as a
    summary's ``tips_at_end`` gives them when no cleanup ran: a tip picked up (a
    ``pickUpTip`` started or done) and not dropped since, ``uncertain`` (nobody knows
    what happened after the record's end), with the µL its completed commands left in it
    (``volume_ul``) and how many a multi-channel took (``tips``)."""
    kinds: dict[int, tuple[str, str | None, object]] = {}  # kind, mount, tips a pick-up took
    held: dict[str, dict[str, Any]] = {}
    for event in events:
        if event.get("event") != "command":
            continue
        if event["status"] == "queued":
            params = event.get("params") or {}
            kinds[event["id"]] = (event.get("type", ""), params.get("mount"),
                                  params.get("tips"))
            continue
        kind, mount, tips = kinds.get(event["id"], ("", None, None))
        if mount is None:
            continue
        if kind == "pickUpTip" and event["status"] in ("started", "completed"):
            held[mount] = {"dropped": False, "uncertain": True,
                           **({"tips": tips} if isinstance(tips, int) and tips > 1 else {})}
        elif kind == "dropTip" and event["status"] == "completed":
            held.pop(mount, None)
        elif mount in held and event["status"] == "completed":
            volume = (event.get("result") or {}).get("volume_in_tip")
            if isinstance(volume, (int, float)):
                if volume > 0:
                    held[mount]["volume_ul"] = round(float(volume), 6)
                else:
                    held[mount].pop("volume_ul", None)
    return dict(sorted(held.items()))
