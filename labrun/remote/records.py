"""Where the server finds each run's record: in its file, read when a client asks.

A queue's run writes its record as it goes (``engine.record``): to ``--record-dir``'s
``DIR/<item_uid>.jsonl``, or, without a record folder, to a spool folder in the server's
temporary folder, which the server removes when it stops. The server keeps no record in
memory, so that a server that runs for months does not grow with every run: the history
keeps each run's listing, and a record is read back from its file when a client asks for
it (``history_get(records=true)``, ``history_item_get``, the running run's so far): a
finished run's as the reply is written, an event at a time (``events``, ``streamed``).

Of the spooled records only the last ``SPOOL_KEPT`` runs' are kept; an older run's record
is no longer there (null). A record folder's files are never deleted. A run that never
started has an empty record, and the one run ``serve_run`` serves keeps its record in
memory as its owner's ``Run`` does: neither has a file of the server's. A record that
cannot be given (no longer kept, its file missing, unreadable or not a record) is
``RecordUnreadable``, saying why in one line: the reply's ``record_error``.
"""

from __future__ import annotations

import contextlib
import itertools
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from engine.record import Event, NotARecordLine, iter_record

SPOOL_KEPT = 20
"""Spooled records kept (without ``--record-dir``): the last runs' ones."""


class RecordUnreadable(Exception):
    """A run's record cannot be given: the message says why, in one line."""


class RecordFiles:
    """The record file of each run the server knows, and the few records held in memory."""

    def __init__(self, record_dir: Path | None) -> None:
        self.record_dir = record_dir
        self._spool: Path | None = None
        self._spooled: deque[str] = deque()
        self._held: dict[str, list[Event]] = {}

    def spool_in(self, workdir: Path) -> None:
        """Without a record folder, write the records under ``workdir`` (the server's
        temporary folder, removed when it stops)."""
        if self.record_dir is None:
            self._spool = workdir / "records"
            self._spool.mkdir(exist_ok=True)

    def path(self, uid: str) -> Path | None:
        """Where the record of run ``uid`` is (or goes); None with nowhere to write it."""
        folder = self.record_dir or self._spool
        return folder / f"{uid}.jsonl" if folder is not None else None

    def hold(self, uid: str, record: list[Event]) -> None:
        """Keep run ``uid``'s ``record`` in memory: one that never started (empty), or the
        one run of ``serve_run``."""
        self._held[uid] = record

    def ended(self, uid: str) -> None:
        """Run ``uid`` has ended: a spooled record older than the last ``SPOOL_KEPT``
        goes."""
        if self._spool is None or uid in self._held:
            return
        self._spooled.append(uid)
        while len(self._spooled) > SPOOL_KEPT:
            self._delete(self._spooled.popleft())

    def forget(self, uids: Iterable[str]) -> None:
        """The history has forgotten these runs: their spooled records go (a record
        folder's stay)."""
        gone = set(uids)
        for uid in gone:
            self._held.pop(uid, None)
            if uid in self._spooled:
                self._delete(uid)
        self._spooled = deque(uid for uid in self._spooled if uid not in gone)

    def events(self, uid: str) -> Iterable[Event]:
        """Run ``uid``'s record as far as it is written (a line being written is left out),
        read from its file as it is iterated: the file is read through once first, so that
        a file that is not a record is ``RecordUnreadable`` before any of it is written
        out. Reads a file: call it from a worker thread."""
        if uid in self._held:
            return self._held[uid]
        path = self.path(uid)
        if path is None:
            raise RecordUnreadable("the server keeps no record of this run")
        where = "record folder" if self.record_dir is not None else "server's temporary folder"
        name = f"the record file {path.name}"
        if self.record_dir is None and uid not in self._spooled:
            missing = RecordUnreadable(f"no longer kept: without a record folder "
                                       f"(--record-dir) the server keeps only the last "
                                       f"{SPOOL_KEPT} runs' records")
        else:
            missing = RecordUnreadable(f"{name} is missing from the {where}")
        if not path.exists():
            raise missing
        if not path.is_file():  # a FIFO put there: never waited on
            raise RecordUnreadable(f"{name} in the {where} is not a regular file")
        try:
            count = sum(1 for _ in iter_record(path))
            events = iter_record(path)
            first = next(events, None)  # the file is open: a spooled one may now go
        except FileNotFoundError:  # gone since
            raise missing from None
        except OSError as error:
            raise RecordUnreadable(f"{name} cannot be read: "
                                   f"{(error.strerror or str(error)).lower()}") from None
        except NotARecordLine as error:
            raise RecordUnreadable(f"{name} is not a run record: line {error.line} is not "
                                   "JSON") from None
        except UnicodeDecodeError:
            raise RecordUnreadable(f"{name} is not a run record: it is not UTF-8 "
                                   "text") from None
        except ValueError as error:  # any other way of not being one
            raise RecordUnreadable(f"{name} is not a run record: {error}") from None
        return _first(first, events, count)

    def _delete(self, uid: str) -> None:
        if self._spool is not None:
            with contextlib.suppress(OSError):
                (self._spool / f"{uid}.jsonl").unlink()


def _first(first: Event | None, events: Iterator[Event], count: int) -> Iterator[Event]:
    """``first`` and the rest of ``events``, ``count`` in all (what the file held when it
    was checked); a file that changed since then ends there. The file closes with
    ``events``, when this is done with."""
    if first is not None:
        yield first
        with contextlib.suppress(OSError, ValueError):
            yield from itertools.islice(events, count - 1)
