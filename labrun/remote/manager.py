"""The run manager: a queue of protocol runs on one robot, their history, locks and status.

It lives in the server's event loop; nothing else touches its state. The manager is the
queue: items, history, locks, the status document and the API calls. The run being
served is a ``served.ActiveRun``, which owns what concerns that run alone (its actions,
its status, its record, its end). Records stay in their files (``records``): the history
holds each run's listing only. Protocol code is loaded and checked in worker processes
(``worker``) and, under ``labrun serve``, run in the run worker process that owns the
robot (``supervisor``), never here.

Queue semantics follow bluesky-queueserver:

- ``queue_start`` runs the items one after another until the queue is empty;
- a run that ends ``stopped`` counts as a success: it goes to the history and the
  queue goes on; one that ends ``aborted``, ``halted`` or ``failed`` goes to the history
  and the queue stops, and ``queue_error`` says which item ended how, and why (as for
  every other reason the queue stops, until the next run starts);
- a deferred pause asked for during a run's last step cannot be taken: the run
  finishes (its summary says ``pause_unresolved``) and the queue stops, manager idle;
- ``queue_stop`` lets the running item finish and then stops; a stopped queue restarts
  with ``queue_start`` (``re_resume`` only continues a paused run);
- every item is simulated when it is added (one that cannot run is refused) and again
  right before it starts: one that no longer simulates fails there, before anything
  moves, and the queue stops.
- a run an interlock keeps from playing as it starts (the door opened just then) waits,
  idle, nothing moved, and plays once it clears, as ``labrun run`` waits for the door.

``RunManager.for_run`` serves one existing run of this process instead of a queue
(``server.serve_run``, from Python): the run actions and the status work, the queue calls
are refused.
"""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from engine.actions import Abort, Action, Halt, Pause, PauseOption, Play, Resume, SkipDelay, Stop
from engine.bridge import LoopCaller, LoopClosedError
from engine.entries import ActionResult
from engine.record import Event
from engine.run import Run
from engine.state import Status
from hardware.controller import HardwareFault
from labrun.cli.tips_left import (
    TipsStateError,
    remember,
    said_of,
    tips_left,
    tips_left_said,
    unfinished,
)

from .errors import BadRequest
from .history_file import CLEARED_KEPT, ClearedRuns, HistoryFile
from .items import ItemRefused, Position, Queue, QueueItem, as_uploaded_event, store_item
from .locks import Locks
from .modules import ModuleBoard, Reading
from .progress import Plan, RunProgress, read_plan
from .records import RecordFiles, RecordUnreadable
from .robots import HOMING_HALTED, Robot, set_interlock
from .served import SHUTDOWN_GRACE, ActiveRun, RunHooks, ServedRun
from .spec import BY_NAME
from .stream import EventHub, Subscriber
from .streamed import Later, Lazy, StreamedReply
from .supervisor import SupervisedRobot
from .watch import PROGRESS_INTERVAL
from .worker import Checker, CheckFailed

Reply = dict[str, Any]

SOURCE = "remote"
"""The ``source`` of actions taken through the API, as the run record shows it."""
SERVER_TIPS_REMOVED = ("say so with robot_tips_removed (the page's 'Tips removed' button), "
                       "and start the queue again")
"""How a person tells the server the tips a run left are off the robot."""
SUCCESS = (Status.SUCCEEDED, Status.STOPPED)


def ok(msg: str = "", **fields: Any) -> Reply:
    """A successful reply."""
    return {"success": True, "msg": msg, **fields}


def refused(msg: str, **fields: Any) -> Reply:
    """A refused request: nothing changed."""
    return {"success": False, "msg": msg, **fields}


class RunManager:
    """A queue of runs on one robot (or one existing run), controlled over the API."""

    def __init__(self, robot: Robot | SupervisedRobot | None = None, *,
                 run: Run | None = None,
                 emergency_lock_key: str | None = None, record_dir: str | Path | None = None,
                 progress_interval: float = PROGRESS_INTERVAL,
                 checker: Checker | None = None, robot_tips: str | None = None) -> None:
        if (robot is None) == (run is None):
            raise ValueError("give a robot (a queue of runs) or one run, not both")
        self.robot = robot
        self.locks = Locks(emergency_lock_key)
        self.hub = EventHub()
        self.queue = Queue()
        self.history: list[dict[str, Any]] = []
        self.history_uid = uuid.uuid4().hex
        self.cleared = ClearedRuns()
        """Runs cleared from the history (the last ones): their uids are told as cleared."""
        self.queue_running = False
        self.queue_stop_pending = False
        self.queue_error: str | None = None
        self._tips_left_by: str | None = None  # the run (item uid) that left them
        self.tips_left: dict[str, Any] | None = None
        """Tips a run left on the pipettes (a halt, a worker lost, a stop told to keep
        them): no run starts until someone says they are off (``robot_tips_removed``)."""
        self.active: ActiveRun | None = None
        self._next: QueueItem | None = None
        """The item the queue is getting ready to start (checked, the robot homed, its run
        made), between two runs."""
        self._homing = False  # the robot homes for ``_next``
        self.changed_at = time.time()
        self._last_pause_unresolved = False  # the last run's, until the next starts
        self._single = run
        self._record_dir = Path(record_dir) if record_dir is not None else None
        if self._record_dir is not None:  # made if need be, as ``labrun serve`` makes it
            self._record_dir.mkdir(parents=True, exist_ok=True)
        self._records = RecordFiles(self._record_dir)
        # The history lives on with the records: a restarted server still has it.
        self._history_file: HistoryFile | None = None
        if self._record_dir is not None:
            self._history_file = HistoryFile(self._record_dir)
            if self._record_dir.is_dir():
                self.history = self._history_file.load()
                self.cleared = self._history_file.cleared
                # tips the last run left are still on the robot, its entry cleared or not
                last = self._history_file.last_run
                if last is not None and last["item_uid"] != self._history_file.tips_removed_after:
                    self.tips_left = tips_left(last["name"], last["result"]["exit_status"],
                                               last["result"]["summary"])
                    self._tips_left_by = last["item_uid"]
        self._robot_tips = robot_tips
        """The robot's name in the state folder's tips left (``tips_left.said_of``), which
        ``labrun run`` on the same robot reads and writes too; None for a robot that starts
        afresh each run (the simulated robot, the emulator)."""
        if robot_tips is not None:
            self._take_shared_tips(robot_tips)
        self._interval = progress_interval
        self._caller: LoopCaller | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._run_change: anyio.Event | None = None  # set at each change of the run's status
        self._workdir: Path | None = None
        self.progress: RunProgress | None = None
        """The running run's progress (the last run's, once it has ended)."""
        self.modules: ModuleBoard | None = None
        """What the running run's modules are doing (the last run's, once it has ended)."""
        self.log: Callable[[str], None] | None = None
        """Where each run's start, pauses and end are told, one line each."""
        self.checker = checker or Checker()

    @classmethod
    def for_run(cls, run: Run, **options: Any) -> RunManager:
        """A manager serving one existing (started) run, with no queue."""
        return cls(run=run, **options)

    # -- lifetime (the server's lifespan) ----------------------------------------------------

    @asynccontextmanager
    async def running(self) -> AsyncIterator[RunManager]:
        """Run the manager in the current event loop; on exit, abort what is running."""
        self._caller = LoopCaller()
        with tempfile.TemporaryDirectory(prefix="labrun-queue-") as workdir:
            self._workdir = Path(workdir)
            self._records.spool_in(self._workdir)
            skipped = self._history_file.skipped_said() if self._history_file else None
            if skipped is not None and self.log is not None:
                self.log(skipped)  # (as it started: its log is set by now)
            async with anyio.create_task_group() as tg:
                self._tg = tg
                if self._single is not None:
                    item = QueueItem(uuid.uuid4().hex, "run", None, None, None, (),
                                     time.time())
                    served = ServedRun(item, self._single, hooks=self._hooks(), owned=False)
                    self._adopt(served)
                    served.attach()
                else:
                    if isinstance(self.robot, SupervisedRobot):
                        self.robot.serve_in(self._caller, self._hooks().start_soon)
                        self.robot.listen_warnings(self._driver_warning)
                    self._watch_robot()
                    tg.start_soon(self.checker.start)
                try:
                    yield self
                finally:
                    self.hub.close()
                    self.checker.close()
                    with anyio.CancelScope(shield=True):
                        await self._shutdown()
                    tg.cancel_scope.cancel()
            self._caller.close()

    async def _shutdown(self) -> None:
        active = self.active
        if self.log is not None and len(self.queue):  # the queue is not kept: said so
            names = ", ".join(item.name for item in self.queue.items[:5])
            more = f" and {len(self.queue) - 5} more" if len(self.queue) > 5 else ""
            self.log(f"the queue is not kept: {len(self.queue)} item(s) not run "
                     f"({names}{more})")
        if active is None:
            if self.robot is not None:
                self.robot.listen_interlocks(None)
            return
        if self._single is None:  # a queue's run: its record says why it ended
            if self.log is not None:
                self.log(f"run {active.item.name}: aborted: the server stopped")
            with contextlib.suppress(Exception):
                await active.apply(Abort(source=SOURCE, reason="the server stopped"))
        await active.close(grace=SHUTDOWN_GRACE)  # a queue's run is aborted; a single not
        summary = None
        if self._single is None and not active.done:  # how it ended, as its record says
            with contextlib.suppress(Exception):  # a record that cannot be read: a restart's
                last = active.record()[-1:]
                summary = last[0] if last and last[0].get("event") == "summary" else None
        if summary is not None:
            # Its end would go to the history in _finish, which the stop cuts short: it
            # goes now, whole (a restart would rebuild it from the record, less its item).
            active.done = True
            self._to_history(active.item, summary, active.started_at)
            self._records.ended(active.item.item_uid)
            await self._share_tips(tips_left(active.item.name, summary["status"], summary),
                                   active.item.item_uid)

    # -- the tips left on the robot, shared with labrun run -----------------------------

    def _take_shared_tips(self, robot: str) -> None:
        """At start: what the state folder says is on the robot's pipettes holds, unless
        it is the word that a run of ours never ended and the history has its end (a
        server killed alone: its worker ended the run). ``TipsStateError`` if it cannot be
        read: nothing is known."""
        kept = said_of(robot)
        last = self.history[-1] if self.history else None
        if kept is None or (kept.get("unfinished") and last is not None
                            and kept.get("uid") == last["item_uid"]):
            # the history is the latest word (or the only one, from an older labrun): the
            # state folder has it too (if it cannot be written, the first run says so)
            with contextlib.suppress(TipsStateError):
                remember(robot, None if self.tips_left is None
                         else {**self.tips_left, "uid": self._tips_left_by})
            return
        if kept.get("mounts") or kept.get("unfinished"):
            self.tips_left = {k: v for k, v in kept.items() if k != "uid"}
            self._tips_left_by = kept.get("uid") if isinstance(kept.get("uid"), str) else None
        else:  # nothing on them: said by the last run here (ours or labrun run's), or a person
            self.tips_left = None

    async def _reread_shared_tips(self) -> str | None:
        """Take the state folder's word of the robot's tips again (as at start); why no
        run may start if it cannot be read."""
        robot = self._robot_tips
        if robot is None:
            return None
        try:
            await anyio.to_thread.run_sync(self._take_shared_tips, robot)
        except TipsStateError as exc:
            return f"{exc}; nothing is known of the tips on the robot"
        return None

    async def _share_tips(self, tips: dict[str, Any] | None, uid: str | None) -> None:
        """Tell the state folder what is on the robot's pipettes now (a run playing:
        ``tips_left.unfinished``), for the next ``labrun run`` or server on it."""
        robot = self._robot_tips
        if robot is None:
            return
        kept = None if tips is None else {**tips, "uid": uid}
        try:
            await anyio.to_thread.run_sync(remember, robot, kept)
        except TipsStateError as exc:
            if self.log is not None:
                self.log(f"warning: {exc}; the next labrun run on this robot will not know "
                         "what is on its pipettes")

    # -- the API ------------------------------------------------------------------------------

    async def call(self, name: str, params: dict[str, Any]) -> Reply:
        """Carry out the API call ``name`` with checked ``params``."""
        endpoint = BY_NAME[name]
        if endpoint.lock is not None:
            reason = self.locks.check(endpoint.lock, params.pop("lock_key", None),
                                      emergency=endpoint.emergency_key)
            if reason is not None:
                return refused(reason)
        handler: Callable[..., Any] = getattr(self, f"_api_{name}")
        reply: Reply = await handler(**params)
        return reply

    def status(self) -> dict[str, Any]:
        """The status document: the manager's state, the run's, the queue's and the locks'."""
        active = self.active
        run = active.report() if active is not None else None
        interlocks = run["interlocks"] if run else list(self._robot_interlocks())
        watch_time = active.changed_at if active is not None else 0.0
        return {
            "msg": "labrun run manager",
            "manager_state": self.manager_state,
            "re_state": run["status"] if run else None,
            "run_status": run["status"] if run else None,
            "pause_pending": bool(run and run["pause_pending"]),
            "pause_source": run["pause_source"] if run else None,
            "pause_from": run.get("pause_from") if run else None,
            "pause_message": run["pause_message"] if run else None,
            "parked": bool(run and run["parked"]),
            "unparking": bool(run and run.get("unparking")),
            "held_over_well": bool(run and run.get("held_over_well")),
            "held_in_place": bool(run and run.get("held_in_place")),
            "resumes_when_clear": bool(run and run.get("resumes_when_clear")),
            "pause_also_for": run.get("pause_also_for") if run else None,
            "position": run["position"] if run else None,
            "position_unknown": run.get("position_unknown") if run else None,
            "interlocks": interlocks,
            "step": run["step"] if run else None,
            "delay": run["delay"] if run else None,
            "pause_unresolved": bool(run["pause_unresolved"]) if run
            else self._last_pause_unresolved,
            "outcome": run["outcome"] if run else None,
            "items_in_queue": len(self.queue),
            "items_in_history": len(self.history),
            "running_item_uid": active.item.item_uid if active else None,
            "running_item": active.item.to_dict() if active else None,
            "queue_stop_pending": self.queue_stop_pending,
            "queue_error": self.queue_error,
            "tips_left": self.tips_left,
            "plan_queue_uid": self.queue.uid,
            "plan_history_uid": self.history_uid,
            "lock": {"environment": self.locks.environment, "queue": self.locks.queue},
            "lock_info": self.locks.info(),
            "lock_info_uid": self.locks.uid,
            "mode": "single_run" if self._single is not None else "queue",
            "robot": self.robot.describe() if self.robot else None,
            "changed_at": max(self.changed_at, watch_time),
            "progress": self._progress_fields(run),
            "modules": self.modules.fields() if self.modules is not None else [],
        }

    def _progress_fields(self, run: dict[str, Any] | None) -> dict[str, Any] | None:
        """The status's ``progress``, its ``status`` the run's own now: the progress reads
        the status from record events, which reach it just after the status is pushed."""
        progress = self.progress
        if progress is None:
            return None
        fields = progress.fields()
        if run is not None and self.active is not None \
                and self.active.item.item_uid == progress.item_uid:
            fields["status"] = run["status"]
        return fields

    @property
    def manager_state(self) -> str:
        """``idle``, ``executing_queue`` or ``paused``."""
        active = self.active
        if active is None:
            return "executing_queue" if self.queue_running else "idle"
        status = active.status
        if status is Status.PAUSED:
            return "paused"
        if self._single is not None and (status is Status.IDLE or active.done):
            return "idle"
        return "executing_queue"

    def subscribe(self, records: bool, progress: bool = False) -> Subscriber:
        """A new event-stream subscriber; its first event is the status now (then, if it
        asks for progress, the progress so far)."""
        first = [("progress", self.progress.snapshot())] if self.progress is not None else []
        subscriber = self.hub.subscribe(records, self.status(), progress=progress, first=first)
        self._want_records()
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        """Forget a subscriber."""
        self.hub.unsubscribe(subscriber)
        self._want_records()

    def close_streams(self) -> None:
        """End every event stream (the server is stopping); from any thread."""
        caller = self._caller
        if caller is not None and not caller.closed:
            with contextlib.suppress(LoopClosedError):
                caller.call_soon(self.hub.close)

    # -- reads --

    async def _api_status(self) -> Reply:
        return ok(**self.status())

    async def _api_queue_get(self) -> Reply:
        active = self.active
        return ok(items=[item.to_dict() for item in self.queue.items],
                  running_item=active.item.to_dict() if active else {},
                  plan_queue_uid=self.queue.uid)

    async def _api_history_get(self, records: bool | None) -> Reply:
        if not records:
            return ok(items=list(self.history), plan_history_uid=self.history_uid)
        # each record is read from its file as the reply is written (``streamed``)
        entries = [self._with_record(entry, entry["item_uid"]) for entry in self.history]
        return StreamedReply(ok(items=entries, plan_history_uid=self.history_uid))

    async def _api_history_item_get(self, uid: str, records: bool | None) -> Reply:
        active = self.active
        if active is not None and active.item.item_uid == uid and not active.done:
            running = {**active.item.to_dict(), "result": None}  # its record so far
            if records is False:
                return ok(item=running, running=True, plan_history_uid=self.history_uid)
            path = self._records.path(uid) if self._single is None else None
            if path is None or not path.is_file():  # a run of this process with no file
                running.update(record=active.record(), record_error=None)
                return ok(item=running, running=True, plan_history_uid=self.history_uid)
            # read from its file as the reply is written, as a finished run's is
            return StreamedReply(ok(item=self._with_record(running, uid),
                                    running=True, plan_history_uid=self.history_uid))
        entry = next((e for e in reversed(self.history) if e["item_uid"] == uid), None)
        if entry is None:
            return refused(self._not_in_history(uid))
        if records is False:
            return ok(item=entry, running=False, plan_history_uid=self.history_uid)
        return StreamedReply(ok(item=self._with_record(entry, uid),
                                running=False, plan_history_uid=self.history_uid))

    def _with_record(self, entry: dict[str, Any], uid: str) -> dict[str, Any]:
        """``entry`` with run ``uid``'s ``record``, naming its files as uploaded, read from
        its file as the reply is written (a running run's as far as it has got), and
        ``record_error``: null, or why the record is null (no longer kept, its file
        missing or not a record)."""
        directory = self._workdir / uid if self._workdir is not None else None
        why: list[str] = []  # said by the record as it is read, before record_error is

        def events() -> Iterable[Event] | None:
            try:
                record = self._records.events(uid)
            except RecordUnreadable as unreadable:
                why.append(str(unreadable))
                return None
            return (as_uploaded_event(directory, e) for e in record)

        return {**entry, "record": Lazy(events),
                "record_error": Later(lambda: why[0] if why else None)}

    def _not_in_history(self, uid: str) -> str:
        """Why the history has no run ``uid``: it is waiting, was cleared, or is unknown."""
        if any(item.item_uid == uid for item in self.queue.items):
            return f"item {uid!r} has not run: it waits in the queue"
        if uid in self.cleared:
            return f"run {uid!r} was cleared from the history"
        if self.cleared.older:
            return (f"no run {uid!r} in the history: unknown, or cleared from it before the "
                    f"last {CLEARED_KEPT} runs cleared, which are all the server remembers")
        return f"no run {uid!r} in the history"

    # -- the queue --

    async def _api_queue_item_add(self, item: dict[str, Any], pos: Position,
                                  before_uid: str | None, after_uid: str | None,
                                  user: str | None) -> Reply:
        if self._single is not None:
            return self._no_queue()
        assert self._workdir is not None and self.robot is not None
        running = self._running_neighbour(before_uid, after_uid)
        if running is not None:
            return refused(running)
        place = self.queue.place(pos=pos, before_uid=before_uid, after_uid=after_uid)
        if isinstance(place, str):  # before the protocol is simulated, not after
            return refused(place)
        try:
            queued = await anyio.to_thread.run_sync(store_item, self._workdir, item, user)
        except ItemRefused as exc:  # bad input: nothing is queued
            raise BadRequest(422, f"the protocol cannot run: {exc}") from None
        except OSError as exc:  # (the server's own folders are not the client's to see)
            return refused(f"cannot store the protocol file: {exc.strerror or exc}")
        try:  # loaded and simulated in a worker process, never here
            queued.info = await self.checker.check(queued.path, queued.labware_dir,
                                                   self.robot.config,
                                                   fixed_modules=not self.robot.simulating,
                                                   emulated=self.robot.emulated)
        except CheckFailed as exc:
            queued.discard()
            raise BadRequest(422, f"the protocol cannot run: {exc}") from None
        except Exception as exc:  # the server's side: a check's process did not start
            queued.discard()
            return refused(f"the protocol could not be checked: {type(exc).__name__}: "
                           f"{exc}; nothing was queued")
        reason = self.queue.insert(queued, pos=pos, before_uid=before_uid, after_uid=after_uid)
        if reason is not None:  # the item named may have started during the check
            queued.discard()
            return refused(self._running_neighbour(before_uid, after_uid) or reason)
        self._changed()
        return ok(qsize=len(self.queue), item=queued.to_dict())

    def _running_neighbour(self, before_uid: str | None, after_uid: str | None, *,
                           moved: bool = False) -> str | None:
        """Why a new item (or one ``moved``) cannot go before or after the item named,
        when that one is running."""
        running = self._running_one_of(before_uid, after_uid)
        if running is None:
            return None
        where = ("an item moves before or after a waiting one, or to a position (pos_dest "
                 "'front' runs it next)" if moved else
                 "a new item goes before or after a waiting one, or at a position")
        if running == before_uid:
            return (f"item {running!r} is running: nothing can go before it, as it has "
                    f"started; {where}")
        return f"item {running!r} is running, not waiting in the queue: {where}"

    def _running_one_of(self, *uids: str | None) -> str | None:
        """The uid of the running item, when it is one of ``uids``."""
        active = self.active
        running = active.item.item_uid if active is not None else None
        return running if running is not None and running in uids else None

    async def _api_queue_item_remove(self, pos: Position, uid: str | None) -> Reply:
        if self._single is not None:
            return self._no_queue()
        if self._running_one_of(uid) is not None:
            return refused(f"item {uid!r} is running, not waiting in the queue; re_stop or "
                           "re_abort ends it")
        removed = self.queue.remove(pos=pos, uid=uid)
        if isinstance(removed, str):
            return refused(removed)
        removed.discard()
        self._changed()
        return ok(qsize=len(self.queue), item=removed.to_dict())

    async def _api_queue_item_move(self, pos: Position, uid: str | None, pos_dest: Position,
                                   before_uid: str | None, after_uid: str | None) -> Reply:
        if self._single is not None:
            return self._no_queue()
        if self._running_one_of(uid) is not None:
            return refused(f"item {uid!r} is running, not waiting in the queue: only a "
                           "waiting item moves (re_stop or re_abort ends a running one)")
        running = self._running_neighbour(before_uid, after_uid, moved=True)
        if running is not None:
            return refused(running)
        moved = self.queue.move(pos=pos, uid=uid, pos_dest=pos_dest, before_uid=before_uid,
                                after_uid=after_uid)
        if isinstance(moved, str):
            return refused(moved)
        self._changed()
        return ok(qsize=len(self.queue), item=moved.to_dict())

    async def _api_queue_clear(self) -> Reply:
        if self._single is not None:
            return self._no_queue()
        for item in self.queue.clear():
            item.discard()
        self._changed()
        return ok()

    async def _api_history_clear(self) -> Reply:
        if self._history_file is not None:
            # Written in the loop, as a run's entry is: a run that ends as the history is
            # cleared is listed after the clearing in the file as in memory
            try:
                self._history_file.clear()
            except OSError as exc:  # kept as it was: a restart would bring it back
                return refused(f"the history cannot be cleared: cannot write "
                               f"{self._history_file.path}: {exc.strerror or exc}")
        self._records.forget(entry["item_uid"] for entry in self.history)
        self.cleared.add(entry["item_uid"] for entry in self.history)
        self.history.clear()
        self.history_uid = uuid.uuid4().hex
        self._changed()
        return ok()

    async def _api_queue_start(self) -> Reply:
        if self._single is not None:
            active = self.active
            assert active is not None
            if active.status is not Status.IDLE:
                return refused(f"the run has already started ({active.status.value})")
            return self._action_reply(await active.apply(Play(source=SOURCE)))
        why = self._why_not_started()
        if why is not None:
            return refused(why)
        reread = await self._reread_shared_tips()  # a labrun run since may have left one
        if reread is not None:
            return refused(reread)
        why = self._why_not_started()  # another start, or an edit, during the read
        if why is not None:
            return refused(why)
        if self.tips_left is not None:
            self._changed()  # the status says them too
            return refused(tips_left_said(self.tips_left, SERVER_TIPS_REMOVED))
        self.queue_running = True
        self.queue_stop_pending = False
        self._changed()
        failure = await self._advance()  # the first run has started (or not) by now
        return ok() if failure is None else refused(failure)

    def _why_not_started(self) -> str | None:
        """Why ``queue_start`` cannot start the queue as it stands now, or None."""
        state = self.manager_state
        if state == "paused":
            return "a run is paused: continue it with re_resume (or end it)"
        if state != "idle" or self.queue_running:
            return "the queue is already running"
        if not self.queue.items:
            return "the queue is empty"
        interlocks = self._robot_interlocks()
        if interlocks:
            return f"interlock {', '.join(interlocks)} is active; clear it first"
        return None

    async def _api_queue_stop(self) -> Reply:
        if self._single is not None:
            return self._no_queue()
        if not self.queue_running:
            return refused("the queue is not running")
        if self.queue_stop_pending:  # asked again: still done, and said so
            return ok("the queue was already to stop after the current run")
        self.queue_stop_pending = True
        self._changed()
        return ok()

    async def _api_queue_stop_cancel(self) -> Reply:
        if self._single is not None:
            return self._no_queue()
        if not self.queue_running:  # as queue_stop: refused when there is nothing to do
            return refused("the queue is not running: there is no queue_stop to cancel")
        if not self.queue_stop_pending:
            return refused("no queue_stop is pending: there is nothing to cancel")
        self.queue_stop_pending = False
        self._changed()
        return ok()

    # -- the run --

    async def _api_re_pause(self, option: PauseOption | None, item_uid: str | None) -> Reply:
        return await self._run_action(Pause(source=SOURCE, option=option or "deferred"),
                                      item_uid)

    async def _api_re_resume(self, item_uid: str | None) -> Reply:
        return await self._run_action(Resume(source=SOURCE), item_uid)

    async def _api_re_stop(self, item_uid: str | None) -> Reply:
        return await self._run_action(Stop(source=SOURCE), item_uid)

    async def _api_re_abort(self, reason: str | None, item_uid: str | None) -> Reply:
        return await self._run_action(Abort(source=SOURCE, reason=reason), item_uid)

    async def _api_re_halt(self, lock_key: str | None) -> Reply:
        del lock_key  # an emergency stop needs no key: no lock holds it up
        item = self._next
        if self.active is None and item is not None and self.queue_running:
            return await self._halt_between_runs(item)
        return await self._run_action(Halt(source=SOURCE))

    async def _halt_between_runs(self, item: QueueItem) -> Reply:
        """An emergency stop while the queue gets ``item`` ready (no run has the robot):
        a homing going on is stopped as a halt stops a run's motion, and the queue stops
        before ``item`` runs (it stays queued, or, its run made, that run is halted)."""
        assert self.robot is not None
        moving = await self.robot.halt_homing() if self._homing else None
        if moving is None:
            why, done = "halted (re_halt) before it started", "nothing was moving and"
        else:  # (an emergency stop not confirmed: the robot may still be moving)
            why = f"the robot could not be homed: {HOMING_HALTED}" + (
                f"; {moving}" if moving else "")
            done = f"its homing was halted, but {moving};" if moving else \
                "its homing was halted and"
        if self.log is not None:
            self.log(f"run {item.name}: could not start: {why}")
        self._queue_stops(item, why)
        return ok(f"no run was executing: the robot was getting ready for {item.name}; "
                  f"{done} the queue stops", run_status=None)

    async def _api_skip_delay(self, item_uid: str | None) -> Reply:
        return await self._run_action(SkipDelay(source=SOURCE), item_uid)

    async def _api_robot_tips_removed(self) -> Reply:
        if self.active is not None and not self.active.status.is_terminal:
            return refused("a run is executing: its tips are its own")
        if self.tips_left is not None and self._history_file is not None \
                and self._tips_left_by is not None:
            try:  # a restarted server must not ask again
                await anyio.to_thread.run_sync(self._history_file.tips_removed,
                                               self._tips_left_by)
            except OSError as exc:
                return refused(f"cannot write {self._history_file.path}: "
                               f"{exc.strerror or exc}; the tips are still said to be on")
        msg = "" if self.tips_left is not None else "no tips were recorded on the pipettes"
        self.tips_left = None
        await self._share_tips(None, None)
        self.queue_error = None
        self._changed()
        return ok(msg)  # idempotent: said so when there was nothing to clear

    async def _api_sim_interlock(self, name: str, active: bool) -> Reply:
        current = self.active
        if self._single is not None:
            reason = await set_interlock(self._single.controller, None, name, active,
                                         self._single)
        else:
            assert self.robot is not None
            going = current if current is not None and not current.status.is_terminal \
                else None
            reason = await self.robot.set_interlock(name, active, going)
        if reason is not None:
            return refused(reason)
        self._changed()
        return ok()

    # -- locks --

    async def _api_lock(self, lock_key: str, environment: bool | None, queue: bool | None,
                        user: str | None, note: str | None) -> Reply:
        reason = self.locks.lock(lock_key, environment=bool(environment), queue=bool(queue),
                                 user=user, note=note)
        if reason is not None:
            return refused(reason, lock_info=self.locks.info())
        self._changed()
        return ok(lock_info=self.locks.info(), lock_info_uid=self.locks.uid)

    async def _api_unlock(self, lock_key: str) -> Reply:
        reason = self.locks.unlock(lock_key)
        if reason is not None:
            return refused(reason, lock_info=self.locks.info())
        self._changed()
        return ok(lock_info=self.locks.info(), lock_info_uid=self.locks.uid)

    async def _api_lock_info(self, lock_key: str | None) -> Reply:
        info = self.locks.info()
        if lock_key is not None and (self.locks.environment or self.locks.queue) \
                and not self.locks.valid(lock_key):
            return refused("that lock_key is not the one the manager is locked with",
                           lock_info=info, lock_info_uid=self.locks.uid)
        return ok(lock_info=info, lock_info_uid=self.locks.uid)

    # -- running the queue ------------------------------------------------------------------

    async def _advance(self) -> str | None:
        """Start the next item if the queue is running and may go on, else stop it;
        None once a run has started, else why none did (the queue ended, was emptied or
        stopped meanwhile, or the next item could not start).

        Before anything moves the item is simulated again (its files or the robot may
        have changed since it was added): one that no longer runs fails here. What fails
        on the server's side meanwhile (a check's process that cannot be started: no
        memory, no process left) stops the queue, said in ``queue_error``, the item kept;
        it ended the server's task group, and the queue said ``executing_queue`` for
        ever.
        """
        try:
            return await self._start_next()
        except Exception as exc:
            return await self._not_started(exc)
        finally:
            self._next = None

    async def _not_started(self, exc: Exception) -> str:
        """The queue stops: getting its next item ready failed with ``exc``; why."""
        name = self._next.name if self._next is not None else "the next item"
        why = f"the server could not get it ready: {type(exc).__name__}: {exc}"
        if self.log is not None:
            self.log(f"run {name}: could not start: {why}")
        self.queue_error = f"{name} could not start: {why}"
        self._stop_queue()
        active = self.active
        if active is not None and active.status is Status.IDLE:  # made, never played
            await active.apply(Abort(source=SOURCE, reason=f"could not start: {why}"))
        return self.queue_error

    async def _start_next(self) -> str | None:
        """``_advance``, its item in ``_next`` while it is got ready."""
        robot = self.robot
        assert robot is not None
        while True:
            self._next = None
            if not (self.queue_running and self.queue.items and not self.queue_stop_pending):
                why = self._why_none_starts()
                self._stop_queue()
                return why
            item = self._next = self.queue.items[0]
            if self.tips_left is not None:
                return self._queue_stops(item,
                                         tips_left_said(self.tips_left, SERVER_TIPS_REMOVED))
            reason = await self._check_again(item, robot)
            if not self._next_is(item):
                continue  # the queue changed meanwhile: look again
            if reason is not None:
                self.queue.pop_front()
                return self._cannot_start(item, f"the protocol cannot run: {reason}")
            held = self._held_by_interlocks(item)  # homing moves: not behind an open door
            if held is not None:
                return held
            self._homing = True
            try:
                await robot.home_if_needed()  # after a halt, or a robot just connected
            except HardwareFault as exc:
                if not self._next_is(item):  # halted, stopped or emptied meanwhile: said
                    continue
                return self._queue_stops(item, f"the robot could not be homed: {exc}")
            finally:
                self._homing = False
            # Read again now that the run worker holds the robot (it may be a new one): a
            # labrun run on the robot since the last read (while no worker held it) may
            # have left a tip
            reread = await self._reread_shared_tips()
            if self._next_is(item):
                break
        if reread is not None or self.tips_left is not None:
            return self._queue_stops(item, reread or tips_left_said(
                self.tips_left or {}, SERVER_TIPS_REMOVED))
        held = self._held_by_interlocks(item)  # opened while the robot homed or was read
        if held is not None:
            return held
        item = self.queue.pop_front()
        record_path = self._records.path(item.item_uid)
        labware_dirs = [str(item.labware_dir)] if item.labware_dir else []
        started_at = time.time()
        try:
            active = await robot.start_run(item, record_path=record_path,
                                           labware_dirs=labware_dirs, started_at=started_at,
                                           hooks=self._hooks())
        except Exception as exc:
            return self._cannot_start(item, f"the run could not start: {exc}")
        self.queue_error = None
        self._adopt(active)
        # until it ends, a tip may be on: a server killed now leaves that word
        await self._share_tips(unfinished(item.name), item.item_uid)
        if self._run_change is not None:  # a run's waiter still waiting (it ended): done
            self._run_change.set()
        change = self._run_change = anyio.Event()
        if not self.queue_running:  # halted (re_halt) while its run was made: not played
            await active.apply(Halt(source=SOURCE))
            return f"{item.name} was halted before it started"
        played = await active.apply(Play(source=SOURCE))
        if not played.accepted and played.status is Status.IDLE and (
                active.report().get("interlocks") or self._robot_interlocks()):
            # An interlock tripped as it was made (the door opened after the last look):
            # nothing has moved; it waits for the door as labrun run does, not thrown away
            if self.log is not None:
                self.log(f"run {item.name}: waiting to start: {played.reason}")
            assert self._tg is not None
            self._tg.start_soon(self._play_when_clear, active, change)
        elif not played.accepted:  # (its worker does not answer): ended, and said so
            why = f"could not start: {played.reason}"
            await active.apply(Abort(source=SOURCE, reason=why))
            self._changed()
            return f"{item.name} {why}"
        self._changed()
        return None

    async def _play_when_clear(self, active: ActiveRun, change: anyio.Event) -> None:
        """Play the queue's run ``active``, which an interlock kept from starting, at the
        first change of its status after ``change`` was made that lets it (the door
        closed); the engine's guard decides each time. Done once it plays, or once it is
        no longer the idle run served (a person stopped or aborted it meanwhile)."""
        while True:
            await change.wait()
            if self.active is not active or active.done or active.status is not Status.IDLE:
                return
            change = self._run_change = anyio.Event()  # a change during the play: again
            if active.report().get("interlocks"):
                continue  # still held (another change): no play the guard would refuse
            played = await active.apply(Play(source=SOURCE))
            if played.accepted or played.status is not Status.IDLE:
                self._changed()
                return

    async def _check_again(self, item: QueueItem,
                           robot: Robot | SupervisedRobot) -> str | None:
        """Why ``item`` can no longer run (its worker's words), or None."""
        try:
            await self.checker.check(item.path, item.labware_dir, robot.config,
                                     fixed_modules=not robot.simulating,
                                     emulated=robot.emulated)
        except CheckFailed as exc:
            return str(exc)
        return None

    def _why_none_starts(self) -> str:
        """Why the queue starts no run now (it is stopped, stopping, or empty)."""
        if not self.queue_running:  # (a halt says why)
            return self.queue_error or "the queue was stopped before its next run could start"
        if self.queue_stop_pending:
            return "queue_stop was asked for before the next run could start"
        return "the queue was emptied before its next run could start"

    def _queue_stops(self, item: QueueItem, why: str) -> str:
        """The queue stops before ``item`` could start (it stays queued); the reason."""
        self.queue_error = f"{item.name} could not start: {why}"
        self._stop_queue()
        return self.queue_error

    def _held_by_interlocks(self, item: QueueItem) -> str | None:
        """With an interlock active (someone reaching in between two runs), the queue
        stops before ``item``, which stays queued, as ``queue_start`` keeps it with the
        door open; why. None when none is active."""
        interlocks = self._robot_interlocks()
        if not interlocks:
            return None
        return self._queue_stops(item, f"interlock {', '.join(interlocks)} is active; clear "
                                       "it, then queue_start")

    def _next_is(self, item: QueueItem) -> bool:
        """Whether the queue still runs, no one has asked it to stop, and ``item`` is still
        the next to start (each await before a start may change any of them)."""
        return (self.queue_running and not self.queue_stop_pending
                and self.queue.items[:1] == [item])

    def _cannot_start(self, item: QueueItem, error: str) -> str:
        """``item`` failed before it started: history (an empty record), and the queue
        stops; why."""
        if self.log is not None:
            self.log(f"run {item.name}: could not start: {error}")
        self._records.hold(item.item_uid, [])
        self._to_history(item, {"status": Status.FAILED.value, "error": error}, time.time())
        return self._queue_stops(item, error)

    def _watch_robot(self) -> None:
        """Between runs, the robot's interlock changes come to us (a run's engine takes
        them over while it runs)."""
        assert self.robot is not None
        self.robot.listen_interlocks(self._changed)

    def _stop_queue(self) -> None:
        self.queue_running = False
        self.queue_stop_pending = False
        self._changed()

    def _hooks(self) -> RunHooks:
        """How a served run reports to this manager, in its event loop."""
        assert self._caller is not None and self._tg is not None
        tg = self._tg

        def start_soon(function: Callable[[], Coroutine[Any, Any, Any]]) -> None:
            tg.start_soon(function)

        return RunHooks(self._caller, start_soon, self._run_changed, self._on_events,
                        self._finish, self._interval, self._on_modules)

    def _adopt(self, active: ActiveRun) -> None:
        """``active`` becomes the served run; its progress starts."""
        item = active.item
        self.progress = RunProgress(item.item_uid, item.name, self._plan(item),
                                    speed=self.robot.speed if self.robot else 1.0,
                                    log=self.log)
        earlier, self.modules = self.modules, ModuleBoard(item.item_uid, item.name)
        if earlier is not None and self.robot is not None and not self.robot.simulating:
            self.modules.carry(earlier)  # its modules stay connected, and as they were left
        self._last_pause_unresolved = False
        self.active = active
        self._want_records()
        if self.hub.record_subscribers:  # what it wrote before we listened: its run line
            self.hub.publish_records(item.item_uid, active.record())

    def _on_events(self, active: ActiveRun, events: list[Event]) -> None:
        if self.progress is not None and self.progress.item_uid == active.item.item_uid:
            self.hub.publish_progress(self.progress.feed(events))
        modules = self.modules
        if modules is not None and modules.item_uid == active.item.item_uid \
                and modules.feed(events) and not modules.ended:
            self._publish()  # a module call's end (the summary's is pushed with the end)
        if self.hub.record_subscribers:
            self.hub.publish_records(active.item.item_uid,
                                     [active.item.as_uploaded_event(e) for e in events])

    def _driver_warning(self, text: str) -> None:
        """A warning of the robot's driver (``"warning: ..."``): told in the terminal and,
        during a run, among its comments (the status's, the page's)."""
        active, progress = self.active, self.progress
        going = active is not None and progress is not None \
            and progress.item_uid == active.item.item_uid
        if self.log is not None:
            self.log(f"run {active.item.name}: {text}" if going and active else text)
        if going and progress is not None:
            self.hub.publish_progress(progress.note(text))
        self._changed()  # a new connection's are in the status's robot

    def _on_modules(self, active: ActiveRun, readings: list[Reading]) -> None:
        """The running run's modules as read now: pushed if they changed."""
        modules = self.modules
        if modules is not None and modules.item_uid == active.item.item_uid \
                and modules.update(readings):
            self._publish()

    async def _finish(self, active: ActiveRun, summary: Event) -> None:
        """The run has ended: history, then the next item or a stopped queue."""
        await active.close()
        if active.done and self._single is None:  # the server's stop put it in the history
            return
        item = active.item
        if self._single is not None:  # the owner's run: no file of ours holds its record
            self._records.hold(item.item_uid, active.record())
        self._to_history(item, summary, active.started_at)
        self._records.ended(item.item_uid)
        active.done = True
        if self._single is not None:
            self._changed()
            return
        self.active = None
        self._last_pause_unresolved = bool(summary.get("pause_unresolved"))
        self.tips_left = tips_left(item.name, summary["status"], summary)
        self._tips_left_by = item.item_uid
        await self._share_tips(self.tips_left, item.item_uid)
        self._watch_robot()
        status = Status(summary["status"])
        if status not in SUCCESS or summary.get("pause_unresolved"):
            why = ended_said(item.as_uploaded_event(summary))
            self.queue_error = f"{item.name} {status.value}" + (f": {why}" if why else "")
            self._stop_queue()  # said with why
        else:
            self._changed()  # between runs: said before the next one is checked
        await self._advance()

    def _to_history(self, item: QueueItem, summary: Event, started_at: float) -> None:
        """``item``'s run goes to the history: its listing (its record stays in its
        file)."""
        summary = item.as_uploaded_event(summary)
        status = Status(summary["status"])
        msg = ended_said(summary)
        if status not in SUCCESS and not msg:
            msg = f"the run {status.value}"
        result = {
            "exit_status": status.value, "success": status in SUCCESS, "msg": msg,
            "time_start": started_at, "time_stop": time.time(),
            "pause_unresolved": bool(summary.get("pause_unresolved")),
            "summary": {k: v for k, v in summary.items() if k not in ("seq", "event")},
        }
        entry = {**item.to_dict(), "result": result}
        self.history.append(entry)
        self.history_uid = uuid.uuid4().hex
        if self._history_file is not None:
            try:
                self._history_file.append(entry)
            except OSError as exc:  # the run itself is done and in memory: said, not lost
                # (a folder gone is said already: no run starts without its record)
                if self.log is not None and self._history_file.directory.is_dir():
                    self.log(f"cannot write the history to {self._history_file.path}: "
                             f"{exc.strerror or exc}")

    # -- actions into a run's engine loop --------------------------------------------------

    async def _run_action(self, action: Action, item_uid: str | None = None) -> Reply:
        active = self.active
        if item_uid is not None and (active is None or active.item.item_uid != item_uid):
            return refused(self._not_the_run(item_uid, active))
        if active is None and self.queue_running:
            return refused("no run is executing: the queue is between two runs (queue_stop "
                           "stops it before the next)")
        if active is None:
            return refused("no run is executing: the manager is idle")
        return self._action_reply(await active.apply(action))

    def _not_the_run(self, item_uid: str, active: ActiveRun | None) -> str:
        """Why an action meant for the run ``item_uid`` is not carried out: that run is
        not the one executing (a client acting on a status read as it ended)."""
        ended = next((e for e in reversed(self.history) if e["item_uid"] == item_uid), None)
        meant = (f"{ended['name']}, which it was meant for, has ended "
                 f"({ended['result']['exit_status']})" if ended is not None
                 else f"the run it was meant for ({item_uid[:40]}) is not executing")
        now = (f"{active.item.name} is executing now" if active is not None
               else "no run is executing now")
        return f"not done: {meant}; {now}"

    def _action_reply(self, result: ActionResult) -> Reply:
        return {"success": result.accepted, "msg": result.reason or "",
                "run_status": result.status.value}

    # -- notifications ------------------------------------------------------------------------

    def _changed(self) -> None:
        """Something the status shows has changed: push it."""
        self.changed_at = time.time()
        self._publish()

    def _run_changed(self) -> None:
        """The served run's status changed: pushed, and a run waiting to play looks again
        (``_play_when_clear``)."""
        self._publish()
        if self._run_change is not None:
            self._run_change.set()

    def _publish(self) -> None:
        if len(self.hub):
            self.hub.publish_status(self.status())

    def _want_records(self) -> None:
        if self.active is not None:
            self.active.want_records()  # the progress reads every event

    def _plan(self, item: QueueItem) -> Plan | None:
        """What the item's simulation said of its run (steps, estimate, deck)."""
        return read_plan(item.directory) if item.directory is not None else None

    def sheet_of(self, item_uid: str | None) -> dict[str, Any] | None:
        """The setup sheet of the running (or last) run, or of a queued item; None if
        there is none (the live page draws its deck)."""
        plans = [(self.progress.item_uid, self.progress.plan)] if self.progress else []
        plans += [(i.item_uid, self._plan(i)) for i in self.queue.items]
        for uid, plan in plans:
            if plan is not None and (item_uid is None or uid == item_uid):
                return plan.sheet
        return None

    def _robot_interlocks(self) -> tuple[str, ...]:
        if self.robot is not None:
            return self.robot.interlocks()
        assert self._single is not None
        return tuple(sorted(self._single.controller.active_interlocks()))

    def _no_queue(self) -> Reply:
        return refused("this server controls a single run; it has no queue")


UNRESOLVED = ("a pause was asked for during the last step and could not be taken; the "
              "queue stops")
"""Why the queue stopped after a run whose last step a deferred pause could not hold."""


def ended_said(summary: Event) -> str:
    """Why a run ended as its ``summary`` says, in one line: its error (with the
    protocol's ``file:line``), its abort reason, the pause it could not take; or ""."""
    status = Status(summary["status"])
    if status not in SUCCESS:
        why = str(summary.get("error") or summary.get("reason") or "")
        if summary.get("error") and summary.get("location"):  # where it failed
            why = f"{summary['location']}: {why}"
        return why
    return UNRESOLVED if summary.get("pause_unresolved") else ""
