"""Queue items: uploaded protocol files, checked when added and before they run; the queue.

An item's protocol file and its custom labware are written under the manager's work
directory; a worker process (``worker``) then loads it (syntax, apiLevel, ``run``) and
simulates it to the end as ``labrun simulate`` does, so a protocol that cannot run (a
well that does not exist, a volume out of range) is refused when it is added, not when
the robot has already aspirated. Errors name the files as the client uploaded them, not
where the server keeps them.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
import tokenize
import uuid
from pathlib import Path
from typing import Any

from attrs import define

from engine.modules import modules_for
from engine.state import Status
from hardware.config import RobotConfig
from protocol_api.errors import ProtocolError
from protocol_api.execute import continue_when_stalled, create_run
from protocol_api.loader import LocatedLoadError, ProtocolSource
from protocol_api.watchdog import DEFAULT_WATCHDOG_S

from .errors import BadRequest
from .progress import write_plan
from .spec import BY_NAME, SIMULATION_LIMIT_S, check_request
from .worker import ProtocolInfo

Position = int | str | None
SIMULATION_TIMEOUT = SIMULATION_LIMIT_S
"""Longest a check by simulation may take (a protocol simulates in milliseconds)."""


NAMING_FIELDS = ("line", "location", "error", "protocol")
"""The fields of run-record events that may name the protocol file's path."""


class ItemRefused(Exception):
    """An uploaded protocol that cannot run; the message names the uploaded file and line."""


@define(eq=False)
class QueueItem:
    """A protocol file waiting in the queue (or running)."""

    item_uid: str
    name: str
    user: str | None
    directory: Path | None
    info: ProtocolInfo | None
    labware: tuple[str, ...]
    added_at: float

    @property
    def labware_dir(self) -> Path | None:
        """Where its custom labware files are, if it has any."""
        return self.directory / "labware" if self.directory and self.labware else None

    def as_uploaded(self, text: str) -> str:
        """``text`` with the server's paths of the item's files replaced by their names."""
        return as_uploaded(self.directory, text)

    def as_uploaded_event(self, event: dict[str, Any]) -> dict[str, Any]:
        """A run-record event (or outcome) whose ``file:line`` and error fields name the
        item's files as uploaded; a copy when it has such fields."""
        return as_uploaded_event(self.directory, event)

    def to_dict(self) -> dict[str, Any]:
        """The item as the API shows it."""
        info = self.info
        return {
            "item_uid": self.item_uid, "item_type": "protocol", "name": self.name,
            "user": self.user, "labware": list(self.labware), "added_at": self.added_at,
            "api_level": info.api_level if info else None,
            "metadata": dict(info.metadata) if info else {},
        }

    @property
    def path(self) -> Path:
        """The protocol file, as the server keeps it."""
        assert self.directory is not None
        return self.directory / self.name

    def discard(self) -> None:
        """Delete its files."""
        if self.directory is not None:
            shutil.rmtree(self.directory, ignore_errors=True)


def store_item(workdir: Path, upload: dict[str, Any], user: str | None) -> QueueItem:
    """Write an uploaded item's files under ``workdir``; ``ItemRefused`` if the protocol's
    text cannot be written in the encoding its coding comment names. Runs none of its
    code: a worker loads and simulates it (``worker.Checker``) before it is queued. A
    labware file that is not a definition labrun can read is kept and passed over, as
    ``labrun simulate --labware-dir`` passes it over: a protocol that loads the labware
    it would have been is refused then, naming the file and what is wrong with it."""
    uid = uuid.uuid4().hex
    directory = workdir / uid
    directory.mkdir(parents=True)
    try:
        labware: dict[str, str] = upload["labware"]
        if labware:
            (directory / "labware").mkdir()
            for file_name, text in labware.items():
                (directory / "labware" / file_name).write_text(text, encoding="utf-8")
        (directory / upload["name"]).write_bytes(protocol_bytes(upload["name"],
                                                                upload["source"]))
    except BaseException as exc:
        shutil.rmtree(directory, ignore_errors=True)
        if isinstance(exc, ProtocolError):
            raise ItemRefused(as_uploaded(directory, describe_load_error(exc))) from None
        raise
    return QueueItem(uid, upload["name"], user, directory, None, tuple(sorted(labware)),
                     time.time())


def protocol_bytes(name: str, source: str) -> bytes:
    """An uploaded protocol's text as the file the loader reads back as that same text:
    in the encoding its coding comment names (PEP 263), else UTF-8. A ``# -*- coding:
    latin-1 -*-`` file sent as text is written in latin-1 again, not as UTF-8 under a
    comment that would have it read as latin-1. ``ItemRefused`` (with its line) for text
    that encoding cannot hold; an unknown encoding is left for the loader to name."""
    data = source.encode("utf-8")
    if b"coding" not in b"".join(data.split(b"\n", 2)[:2]):
        return data
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:  # an unknown encoding: the check says so, at its line
        return data
    if encoding.startswith("utf-8"):
        return data
    try:
        return source.encode(encoding)
    except LookupError:  # no text encoding (rot13): the check says so, at its line
        return data
    except UnicodeEncodeError as exc:
        line = source.count("\n", 0, exc.start) + 1
        raise ItemRefused(f"{name}:{line}: {source[exc.start]!r} cannot be written in "
                          f"{encoding}, the encoding the file's coding comment names") from None


def simulate_source(source: ProtocolSource, name: str, directory: Path,
                    labware_dir: Path | None, config: RobotConfig,
                    timeout: float = SIMULATION_TIMEOUT,
                    watchdog_s: float = DEFAULT_WATCHDOG_S, *,
                    fixed_modules: bool = False, emulated: bool = False) -> str | None:
    """Simulate a loaded protocol to its end on a virtual clock, as ``labrun simulate``
    does (with its watchdog: a ``run`` stuck in its own code fails with its line); why it
    cannot run (naming the uploaded file and line), or None. With ``fixed_modules`` (a
    robot or an emulator, not a simulation) a module the robot file does not name is a
    reason too: the run would fail at that ``load_module`` (``emulated``: the robot is the
    emulator ``labrun serve --emulate`` started, and the reason says how to give it one).

    Runs the protocol: only a worker process calls it (``worker.work``).
    """
    labware_dirs = [str(labware_dir)] if labware_dir else []
    try:
        run = create_run(source, config=config, on_stalled=continue_when_stalled,
                         labware_dirs=labware_dirs, watchdog_s=watchdog_s)
    except ProtocolError as exc:
        return as_uploaded(directory, describe_load_error(exc))
    try:
        run.control.play(source="simulate")
        run.wait(timeout=timeout)
    except TimeoutError:
        last = run.engine.book.last_protocol  # where it was: a loop's line, most often
        where = "" if last is None or not last.line else \
            f" (it was at {as_uploaded(directory, last.line)}, {last.id + 1:,} commands in)"
        return (f"{name}: the simulation did not end within {timeout:g} s{where}; "
                "does the protocol loop for ever, or wait for something?")
    finally:
        run.close()
    summary = run.record.events[-1]
    status = Status(summary["status"])
    if status in (Status.SUCCEEDED, Status.STOPPED) and fixed_modules:
        needed = [e for e in run.record.events if e["event"] == "command"
                  and e.get("type") == "loadModule" and e.get("status") == "queued"]
        missing = modules_for(config, needed, emulated=False, served_emulator=emulated)[1]
        if missing is not None:
            return as_uploaded(directory, missing)
    if status in (Status.SUCCEEDED, Status.STOPPED):
        # steps, estimate, deck: the live page's; unless the item was removed meanwhile
        with contextlib.suppress(FileNotFoundError):
            write_plan(directory, run.record.events)
        return None
    error = summary.get("error") or summary.get("reason") or f"the simulated run {status.value}"
    where = f"{summary['location']}: " if summary.get("location") else ""
    return as_uploaded(directory, f"{where}{error}")


def describe_load_error(error: ProtocolError) -> str:
    """A load error as one line naming the file and line."""
    location = getattr(error, "location", None)
    if isinstance(error, LocatedLoadError) and location:
        return f"{location}: {error}"
    return str(error)


def as_uploaded_event(directory: Path | None, event: dict[str, Any]) -> dict[str, Any]:
    """``event`` (a run-record event, an outcome) with its ``file:line`` and error fields
    naming the files under ``directory`` as uploaded; a copy when it has such fields."""
    if directory is None or not any(key in event for key in NAMING_FIELDS):
        return event
    return {key: as_uploaded(directory, value) if key in NAMING_FIELDS and isinstance(value, str)
            else value for key, value in event.items()}


def as_uploaded(directory: Path | None, text: str) -> str:
    """``text`` naming an item's files by their uploaded names, not the server's paths."""
    if directory is None:
        return text
    for root in sorted({str(directory), str(directory.resolve())}, key=len, reverse=True):
        text = text.replace(f"{root}/labware/", "").replace(f"{root}/", "")
    return text


class Queue:
    """The items waiting to run, in order; ``uid`` changes whenever the queue does."""

    def __init__(self) -> None:
        self.items: list[QueueItem] = []
        self.uid = uuid.uuid4().hex

    def __len__(self) -> int:
        return len(self.items)

    def insert(self, item: QueueItem, *, pos: Position = None, before_uid: str | None = None,
               after_uid: str | None = None) -> str | None:
        """Insert ``item``; None on success, else the reason."""
        at = self.place(pos=pos, before_uid=before_uid, after_uid=after_uid)
        if isinstance(at, str):
            return at
        self.items.insert(at, item)
        self._changed()
        return None

    def place(self, *, pos: Position = None, before_uid: str | None = None,
              after_uid: str | None = None) -> int | str:
        """Where an item inserted now would go (an index), else why it cannot be.
        ``ValueError`` for arguments that contradict each other (the API refuses them,
        422, before it asks)."""
        _check_arguments("queue_item_add", pos=pos, before_uid=before_uid,
                         after_uid=after_uid)
        if before_uid is not None or after_uid is not None:
            index = self._index(before_uid or after_uid or "")
            if index is None:
                return f"no item {before_uid or after_uid!r} in the queue"
            return index if before_uid is not None else index + 1
        if pos is None or pos == "back":
            return len(self.items)
        if pos == "front":
            return 0
        assert isinstance(pos, int)
        at = pos if pos >= 0 else len(self.items) + pos + 1
        return min(max(at, 0), len(self.items))

    def move(self, *, pos: Position = None, uid: str | None = None,
             pos_dest: Position = None, before_uid: str | None = None,
             after_uid: str | None = None) -> QueueItem | str:
        """Move the item named by ``uid`` or ``pos`` to ``pos_dest`` (its position once
        moved), or before or after another; the item, or why it cannot be moved with the
        queue as it is. ``ValueError`` for arguments that contradict each other or leave
        out what to move or where (the API refuses them, 422, before it asks)."""
        _check_arguments("queue_item_move", pos=pos, uid=uid, pos_dest=pos_dest,
                         before_uid=before_uid, after_uid=after_uid)
        index = self._find(pos=pos, uid=uid)
        if isinstance(index, str):
            return index
        if isinstance(pos_dest, int) and not -len(self.items) <= pos_dest < len(self.items):
            return (f"no position {pos_dest} to move to; the queue has {len(self.items)} "
                    f"(0 to {len(self.items) - 1}, or -{len(self.items)} to -1 from the back)")
        beside = before_uid if before_uid is not None else after_uid
        if beside is not None and beside == self.items[index].item_uid:  # named by pos
            return (f"the item at position {index} is {beside!r}: an item cannot go before "
                    "or after itself")
        item = self.items.pop(index)
        at = self.place(pos=pos_dest, before_uid=before_uid, after_uid=after_uid)
        if isinstance(at, str):
            self.items.insert(index, item)  # as it was
            return at
        self.items.insert(at, item)
        if at != index:
            self._changed()
        return item

    def _find(self, *, pos: Position, uid: str | None) -> int | str:
        """The index of the item named by ``uid`` or ``pos`` (the last when neither)."""
        if not self.items:
            return "the queue is empty"
        if uid is not None:
            index = self._index(uid)
            return f"no item {uid!r} in the queue" if index is None else index
        if pos is None or pos == "back":
            return len(self.items) - 1
        if pos == "front":
            return 0
        assert isinstance(pos, int)
        if not -len(self.items) <= pos < len(self.items):
            return f"no item at position {pos}; the queue has {len(self.items)}"
        return pos % len(self.items)

    def remove(self, *, pos: Position = None, uid: str | None = None) -> QueueItem | str:
        """Remove and return an item (the last one when neither is given), or the reason;
        ``ValueError`` for both (the API refuses them, 422, before it asks)."""
        _check_arguments("queue_item_remove", pos=pos, uid=uid)
        index = self._find(pos=pos, uid=uid)
        if isinstance(index, str):
            return index
        item = self.items.pop(index)
        self._changed()
        return item

    def pop_front(self) -> QueueItem:
        """Take the next item to run."""
        item = self.items.pop(0)
        self._changed()
        return item

    def clear(self) -> list[QueueItem]:
        """Remove every item; return them."""
        items, self.items = self.items, []
        self._changed()
        return items

    def _index(self, uid: str) -> int | None:
        return next((i for i, item in enumerate(self.items) if item.item_uid == uid), None)

    def _changed(self) -> None:
        self.uid = uuid.uuid4().hex


def _check_arguments(endpoint: str, **values: Any) -> None:
    """``ValueError`` with the API's reason if ``values`` break the rules of ``endpoint``
    (the server answers such a request 422 before it touches the queue)."""
    try:
        check_request(BY_NAME[endpoint], values)
    except BadRequest as exc:
        raise ValueError(exc.reason) from None
