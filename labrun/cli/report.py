"""The run log as people read it, fed the record's events as they come (``labrun simulate``,
``labrun run`` and the server's progress); the closing summary is ``closing``."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from typing import Any

from engine.commands import REGISTRY, Execution
from engine.run import Run

from .calls import (
    CALL_NAMES,
    CallCommands,
    Labels,
    asked,
    asker,
    call_name,
    command_sentence,
    is_module_call,
    message_text,
    module_display_name,
    sentence,
    uncounted_hours,
)
from .spool import Spool


class TextLog:
    """The run log, fed the record's events as they come (``labrun simulate`` and ``run``).

    ``verbosity`` 0: a line per protocol call in its own words, comments, what people did
    (pauses, resumes, stops) and how the run ended; 1 (``-v``): also the commands each call
    became, nested under it, status changes and parks; 2 (``-vv``): also coordinates, flow
    rates and park positions. The error of a failed run is not in the log: the CLI prints
    it once, on stderr.

    Each line is stamped with the run's time. A call's line is written once the call has
    ended (to name every well it touched): in a log read afterwards (``labrun simulate``)
    it stands where the call began, with its start time; in a live one (``said_live``) it
    is stamped with the time it is said, the call's end, and nothing stamped waits behind
    it, so that the lines a person watches come in time order.
    """

    def __init__(self, verbosity: int = 0, *, quiet_sources: tuple[str, ...] = (),
                 step_words: bool = True, said_live: bool = False) -> None:
        self.verbosity = verbosity
        self.said_live = said_live
        """The caller prints status changes, parks, unparks and interlocks as they come (and
        its own sources' actions): the log leaves them out, rather than say them twice, and
        is live too, in time order with them: a call's line is stamped when it is said (its
        end, not its start) and a stamped line goes out at once, never after a call still
        open (its nested command lines, unstamped, wait for it)."""
        self.quiet_sources = ("simulate", *quiet_sources)  # actions told elsewhere
        self.labels = Labels()
        self.lines: list[str] = []
        self._step_name = ""
        self._group = False
        self._call: _Call | None = None
        self._queued: dict[int, tuple[str, dict[str, Any]]] = {}
        self._step = -1
        self._header: float | None = None  # when the open group step began, not yet said
        self._now = 0.0  # the time of the event being read
        self._said: tuple[int, str | None] | None = None  # a call written before its step ended
        self._spooled: tuple[int, Spool] | None = None  # a closed call's spooled lines
        self._parked_modules: dict[str, float] = {}  # module id -> when the pause parked it
        self._quiet = False  # in a step the log leaves out (a module reading, without -v)
        self._last: Any = None  # the id of the last command queued
        self._last_done = False  # ...which has completed
        self._between: Any = None  # the command an immediate pause came right after
        self.step_words: dict[int, str] = {}
        """The first call of each step in words (a group: its name), for a status line
        (kept unless ``step_words`` is False: a log that is only printed needs none)."""
        self._keep_words = step_words
        self._width = STAMP_WIDTH  # the widest time stamp so far: 10 from the first hour on

    def feed(self, event: dict[str, Any]) -> Iterable[str]:
        """Take one record event; return the lines it completes (a call is written when the
        next one starts, so that its sentence can name every well it touched)."""
        kind = event["event"]
        if isinstance(event.get("t"), (int, float)):
            self._now = float(event["t"])
        if kind == "command" and event["status"] == "started":
            return ()  # a third of a run's events; nothing the log says changes with it
        if kind == "command":
            self._command(event)
        elif kind == "step":
            self._close()
            self._queued.clear()  # what a pause effect names is of the step in progress
            self._quiet = self._step_name_is_read(str(event["name"]))
            self._step_name = str(event["name"])
            self._step = int(event["index"])
            self._group = self._step_name not in CALL_NAMES
            self._header = event["t"] if self._group else None  # said at its first command
        elif kind == "summary":
            self._close()
        else:
            self._other(kind, event)
        return self._ready()

    def _ready(self) -> Iterable[str]:
        """Lines that are complete: everything up to the open call's placeholder, handed
        out once and forgotten (a log of a million calls keeps flat memory). The lines
        under a call still open wait in memory up to ``HOLD`` of them, then in a spool
        (a call of a million commands with ``-v``); a call that had them spooled is
        handed out as an iterator, which reads them back as it goes."""
        call = self._call
        end = call.index if call is not None else len(self.lines)
        done = self.lines[:end]
        del self.lines[:end]
        if call is not None:
            call.index = 0
            if len(self.lines) > HOLD:
                if call.held is None:
                    call.held = Spool(limit=0)  # each write is HOLD lines: straight to a file
                call.held.write("".join([line + "\n" for line in self.lines[1:]]))
                del self.lines[1:]
        spooled, self._spooled = self._spooled, None
        if spooled is None:
            return done
        index, held = spooled  # the closed call's line is at done[index]; its lines follow
        return itertools.chain(done[:index + 1], held.lines(), done[index + 1:])

    def finish(self) -> Iterable[str]:
        """Close the last call; the lines not yet returned by ``feed``."""
        self._close()
        return self._ready()

    # -- calls and their commands ----------------------------------------------------

    def _command(self, event: dict[str, Any]) -> None:
        status = event["status"]
        if self._quiet and event.get("origin") != "cleanup":
            return  # a module reading on a robot: not a call a person made
        self.labels.follow(event)  # what was loaded, and moved by hand, where
        if status == "queued":
            self._last, self._last_done = event["id"], False
            params = event.get("params", {})
            command = REGISTRY.get(event["type"])
            if command is not None and not command.reversible:
                # A step that has touched liquid or tips is never rewound: a pause effect
                # names only its newest command from now on (flat memory in a long step).
                self._queued.clear()
            self._queued[event["id"]] = (event["type"], params)
            if event.get("origin") == "cleanup":
                self._close()
                if self.verbosity:
                    self._add(None, "cleanup: " + self._words(event["type"], params), nest=1)
                return
            line = event.get("line")
            if self._header is not None:
                if is_module_call(event["type"]) or event["type"] == "liftPipettes":
                    # a module method (which may lift the pipettes first): a call
                    self._group = False
                else:
                    if self._keep_words:
                        self.step_words[self._step] = self._step_name
                    self._add(self._now if self.said_live else self._header,
                              self._step_name)
                self._header = None
            if self._call is not None and self._group and line != self._call.line:
                self._close()
            said = self._said is not None and self._said[0] == self._step and (
                not self._group or self._said[1] == line)
            if self._call is None and not said:
                name = call_name(self._step_name, line) if self._group else self._step_name
                self.lines.append("")
                self._call = _Call(name, line, event["t"], len(self.lines) - 1, self._group)
                self._stamp(event["t"])  # its commands' lines are nested under its stamp
            call = self._call
            warning = _is_warning(event["type"], params, call, said)
            if call is not None and not warning:  # a warning is not what the call does
                call.commands.add(event["type"], params)
            if self.verbosity and event["type"] not in SAID_BY_THE_CALL and not (
                    call is not None and _said_by_the_call(event["type"], params, call)):
                self._add(None, self._words(event["type"], params), nest=2 if self._group else 1)
            elif warning:  # what labrun ignored, always said
                self._add(None, str(params["message"]), nest=2 if self._group else 1)
            if call is not None and FINAL_COMMAND.get(call.name) == event["type"]:
                if command is not None and command.execution is Execution.MOTION:
                    call.final = event["id"]  # said once it is done: the robot may yet
                else:  # be cut off on its way (a pause; a stop ends the run before it)
                    self._close()  # said as soon as it is known: a comment or a delay, live
                    self._said = (self._step, line)
            elif (call is not None and not call.nested and command is not None
                  and command.execution is Execution.WAIT and is_module_call(event["type"])):
                # a module's wait (a ramp, a hold, a profile: an hour of PCR) is said as it
                # begins, live, not once it is over
                self._close()
                self._said = (self._step, line)
        elif status == "completed":
            if event["id"] == self._last:
                self._last_done = True
            if self._call is not None and self._call.final == event["id"]:
                self._said = (self._step, self._call.line)
                self._close()
        elif status == "interrupted" and self.verbosity:
            # The run ended with it unfinished (a pause that cut it said "interrupted").
            kind, params = self._queued.get(event["id"], ("?", {}))
            by = f" by the {event['reason']}" if event.get("reason") else ""
            self._add(event["t"], f"left unfinished{by}: " + self._words(kind, params), nest=1)

    def _step_name_is_read(self, name: str) -> bool:
        return name == READ_STEP and not self.verbosity

    def _close(self) -> None:
        call = self._call
        if call is None:
            return
        self._call = None
        words = sentence(call.name, call.commands, self.labels)
        if self._keep_words:  # whole: the plan's words are what the API serves
            self.step_words.setdefault(self._step, words)
        paused = call.commands.firsts.get("waitForResume")
        message = str(paused.get("message") or "") if paused is not None else ""
        if len(message) > MESSAGE_SHOWN:  # a person reads its start; the record keeps it
            words = "Pausing: " + shortened(message)
        nest = "  " if call.nested else ""
        said = self._now if self.said_live else call.t  # live: when it is said, its end
        stamp = self._stamp(said)
        self.lines[call.index] = stamp + nest + hanging(words, len(stamp) + len(nest))
        if call.held is not None:  # its first lines, spooled: they go right after it
            self._spooled = (call.index, call.held)

    def _words(self, kind: str, params: dict[str, Any]) -> str:
        return command_sentence(kind, params, self.labels, coordinates=self.verbosity >= 2)

    # -- what happened to the run ----------------------------------------------------------

    def _other(self, kind: str, event: dict[str, Any]) -> None:
        t = event["t"]
        verbose = self.verbosity >= 1
        status = event["status"] if kind == "status" else None
        call = self._call
        if call is not None:
            if kind == "pause_effect" and event["effect"] == "interrupted":
                call.cut = True  # an immediate pause cut it: it goes on after the resume
            elif kind == "pause_effect" and event["effect"] == "continued":
                self._between = event["id"]  # the call goes on after it, once resumed
            if status in CALLS_ENDED and (not self._last_done or self._between == self._last):
                # The run ends with the call unfinished: cut off in a command, or paused
                # between two of them
                queued = None if self._last_done else self._queued.get(self._last)
                call.commands.ended = (CALLS_ENDED[status], queued[0] if queued else None)
            if status in CALLS_OVER or (not call.cut and (kind == "park" or status == "paused")):
                # Said now: a live log shows the call the robot has just made before the
                # robot parks or the run ends, not after. A call cut by an immediate pause
                # goes on after the resume and is said when it ends.
                self._close()
        if self.said_live and (kind in SAID_LIVE or (
                kind == "action" and event["source"] in self.quiet_sources)):
            return
        if kind == "action":
            shown = event["source"] not in self.quiet_sources and event["action"] != "play"
            if verbose or shown:  # refused too: someone asked for it and must know
                option = f" ({event['option']})" if event.get("option") else ""
                verdict = "" if event["accepted"] else f" refused: {event['refusal']}"
                if event["accepted"] and event.get("reason"):  # a stop's or an abort's
                    verdict = f": {event['reason']}"
                self._add(t, f"{event['action'].replace('_', ' ')}{option} "
                             f"{asked(event['source'], 'from')}{verdict}")
        elif kind == "status":
            if verbose:
                # A client's pause is named by where it came from (rehearsal, terminal...).
                by = event.get("pause_from") or event.get("pause_source")
                extra = f" {asked(by)}" if by else ""
                if event.get("pause_also_for"):  # one pause answers the protocol and them
                    extra += (f", which also answers the pause "
                              f"{asker(event['pause_also_for'])} asked for")
                if event.get("reason"):
                    extra += f" ({event['reason']})"
                self._add(t, f"status {status}{extra}")
            elif status in ("stopped", "aborted", "halted", "failed"):
                reason = f": {event['reason']}" if event.get("reason") else ""
                self._add(t, f"Run {status}{reason}")
            elif status == "paused" and event.get("pause_also_for"):
                self._add(t, f"Paused by the protocol, which also answers the pause "
                             f"{asker(event['pause_also_for'])} asked for")
            elif status == "paused" and event.get("pause_source") != "protocol":
                # Where a rehearsed, a person's or the door's pause took hold (the
                # protocol's own is said by its "Pausing" line).
                by = str(event.get("pause_from") or event.get("pause_source"))
                self._add(t, f"Paused {asked(by)}")
        elif kind == "pause_effect" and verbose:
            queued = self._queued.get(event["id"], ("?", {}))
            effect = event["effect"]
            effect = "step continues after" if effect == "continued" else effect
            self._add(t, f"{effect}: {self._words(*queued)}", nest=1)
        elif kind == "park" and verbose:
            where = f"; recorded position {_pos(event['recorded'])}" if self.verbosity >= 2 else ""
            self._add(t, f"parked{where}")
        elif kind == "unpark" and verbose:
            where = f" {_pos(event['position'])}" if self.verbosity >= 2 else ""
            if event.get("interrupted"):
                self._add(t, f"unpark interrupted{where}")
            elif event.get("rewind"):
                self._add(t, f"unparked back to the step's start{where}")
            elif event.get("z_held"):
                self._add(t, f"unparked{where and ' back to' + where}; the tips stay up until a "
                             "command acts where they were")
            else:
                self._add(t, f"unparked{where and ' back to' + where}")
        elif kind == "delay" and verbose:
            self._add(t, f"delay {event['status']}")
        elif kind == "interlock":
            state = "active" if event["active"] else "cleared"
            self._add(t, f"interlock {event['name']} {state}")
        elif kind == "module_park":
            self._parked_modules[str(event["module"])] = t
            rpm = event.get("stopped_rpm")
            if rpm:
                model, _, slot = str(event["module"]).partition("@")
                self._add(t, f"{module_display_name(model)} in slot {slot}: stopped shaking "
                             f"(it was set to {rpm:g} rpm) while the run is paused")
        elif kind == "module_halt" and event.get("stopped_rpm"):
            model, _, slot = str(event["module"]).partition("@")
            self._add(t, f"{module_display_name(model)} in slot {slot}: stopped shaking "
                         f"(it was set to {event['stopped_rpm']:g} rpm) after the emergency "
                         "stop")
        elif kind == "module_unpark":
            since = self._parked_modules.pop(str(event["module"]), None)
            status = event.get("status") or {}
            rpm = status.get("target_rpm") or 0
            if since is not None and rpm and status.get("kind") == "heater_shaker":
                # The time of a delay runs on through a pause: the shake was that much shorter.
                model, _, slot = str(event["module"]).partition("@")
                self._add(t, f"{module_display_name(model)} in slot {slot}: shaking again at "
                             f"{rpm:g} rpm; it stood still for {clock(t - since)} while the run "
                             "was paused")

    def _add(self, t: float | None, text: str, *, nest: int = 0) -> None:
        call = self._call
        if self.said_live and t is not None and call is not None:
            # a live log's stamped line goes out now, ahead of the call still open, whose
            # line (stamped at its end) follows it; not indented (it would read as part
            # of the line above it, another call's): it names its command itself
            stamp = self._stamp(t)
            self.lines.insert(call.index, stamp + hanging(text, len(stamp)))
            call.index += 1
            return
        stamp = self._stamp(t) if t is not None else " " * self._width
        self.lines.append(stamp + "  " * nest + hanging(text, len(stamp) + 2 * nest))

    def _stamp(self, t: float) -> str:
        """``[ 1:05] `` or, from the first hour on, ``[1:02:05] ``: the lines without a
        stamp (a call's commands, a message's next lines) are indented by the widest so
        far, so that they stay nested under the text of a stamped line."""
        stamp = _stamp(t)
        self._width = max(self._width, len(stamp))
        return stamp


CALLS_OVER = frozenset({"finishing", "stopping", "aborting", "failing", "halting",
                        "succeeded", "stopped", "aborted", "halted", "failed"})
"""Statuses after which the protocol makes no more calls (only a cleanup may follow)."""
CALLS_ENDED = {"stopping": "stopped", "aborting": "aborted", "failing": "failed",
               "halting": "halted", "stopped": "stopped", "aborted": "aborted",
               "halted": "halted", "failed": "failed"}
"""The statuses of a run that ends before the protocol's end, and how it ended."""
SAID_LIVE = frozenset({"status", "park", "unpark", "interlock"})
"""What ``labrun run`` prints as it happens, beside the log (``said_live``)."""
READ_STEP = "read_module"
"""The step a module reading makes on a robot (a simulation reads what was set): said only
with -v, and not counted against the simulation's step numbers."""
MODULE_READ = "module/read"
"""The command a module reading sends on a robot."""


class RobotOnlySteps:
    """Counts, from a live run's record, the steps only a robot makes: a step whose every
    command reads a module. On a robot a module reading asks the module, as a step of its
    own (``read_module``) or within a ``ctx.step`` group that does nothing else; its
    simulation reads what was set and has no such step. ``count`` is of the steps ended
    (the next step or the summary ends one), so the simulation's index of a live step is
    its own less ``count`` once that step has begun."""

    __slots__ = ("_reads_only", "count")

    def __init__(self) -> None:
        self.count = 0
        self._reads_only: bool | None = None  # the step going on: None before a command

    def feed(self, event: Mapping[str, Any]) -> None:
        """Take one record event (every event may be given)."""
        kind = event["event"]
        if kind == "step" or kind == "summary":
            if self._reads_only:
                self.count += 1
            self._reads_only = None
        elif (kind == "command" and event["status"] == "queued"
              and event.get("origin") is None):  # the protocol's, not the cleanup's
            read = event.get("type") == MODULE_READ
            self._reads_only = read if self._reads_only is None else self._reads_only and read


STAMP_WIDTH = 8
HOLD = 4096
"""Lines under an open call kept in memory; past that many they go to a spool."""
FINAL_COMMAND = {"comment": "comment", "delay": "delay", "pause": "waitForResume",
                 "load_adapter": "loadLabware",
                 "load_instrument": "loadInstrument", "aspirate": "aspirate",
                 "dispense": "dispense", "pick_up_tip": "pickUpTip", "drop_tip": "dropTip",
                 "return_tip": "dropTip", "blow_out": "blowOut", "touch_tip": "touchTip",
                 "air_gap": "airGap", "home": "home", "prepare_to_aspirate": "prepareToAspirate",
                 "home_plunger": "home", "move_labware": "moveLabware",
                 "del deck[slot]": "removeLabware", "set_offset": "setLabwareOffset",
                 "load_liquid": "loadLiquid"}
"""The command that completes a call's sentence: the call is written when it is queued,
or, if it moves, when it has completed. (A ``load_labware`` may load an adapter first, then
the labware on it: it is written when the next step begins.)"""
SAID_BY_THE_CALL = frozenset(("loadLabware", "loadInstrument", "comment", "delay",
                              "waitForResume", "moveLabware", "removeLabware",
                              "setLabwareOffset", "loadLiquid"))
"""Commands whose call's line already says all of them: not nested under it again."""


class _Call:
    """A protocol call being read: its name, line, start and commands."""

    __slots__ = ("commands", "cut", "final", "held", "index", "line", "name", "nested", "t")

    def __init__(self, name: str, line: str | None, t: float, index: int, nested: bool) -> None:
        self.name = name
        self.line = line
        self.t = t
        self.index = index
        self.nested = nested
        self.commands = CallCommands(name)
        self.held: Spool | None = None  # the first of its lines, past HOLD of them
        self.cut = False  # an immediate pause interrupted one of its commands
        self.final: int | None = None  # its last command, whose end ends the call


def _said_by_the_call(kind: str, params: dict[str, Any], call: _Call) -> bool:
    """A module's command that its call's line says already (``-v``): the first module
    command of a module call (which may first lift the pipettes), loading one included."""
    if not is_module_call(kind):
        return False
    commands = call.commands
    if commands.firsts.get(kind) is not params or commands.first_kind not in (
            kind, "liftPipettes"):
        return False
    return next(k for k in commands.firsts if is_module_call(k)) == kind


def _is_warning(kind: str, params: dict[str, Any], call: _Call | None, said: bool) -> bool:
    """A warning labrun adds inside a protocol call (an option it ignores), also after
    the call was ``said`` as it began (a module's wait: an await that awaits nothing)."""
    return (kind == "comment" and ((call is not None and call.name != "comment") or said)
            and str(params.get("message", "")).startswith("warning: "))


_CONTROLS = {code: f"\\x{code:02x}" for code in (*range(0x20), 0x7F, *range(0x80, 0xA0))
             if chr(code) not in "\t\n"}
"""Control characters a protocol's text may hold, written as escapes: raw, an escape
sequence or a carriage return in a pause message would rewrite the user's terminal."""


MESSAGE_SHOWN = 600
"""Characters of a protocol's pause message shown to a person (the run log, the server's
terminal, the live page's banner); the record and the API keep the whole message."""


def shortened(message: str, limit: int = MESSAGE_SHOWN) -> str:
    """``message`` as a person is shown it, without the blank lines and spaces around it
    (a message that starts on a new line, after its opening quotes) and the indentation
    its further lines share (the code's, in a triple-quoted message): whole up to
    ``limit`` characters; a longer one by its start, its lines run together, cut at
    ``limit`` characters, and how long it was in all."""
    text = message_text(message)
    if len(text) <= limit:
        return text
    head = " ".join(text.split())[:limit].rstrip()
    return f"{head}… ({len(message):,} characters in all; the run record has the whole message)"


def shortened_sheet(sheet: dict[str, Any]) -> dict[str, Any]:
    """The setup sheet as a person is shown it: its timeline's messages ``shortened``
    (the ``--json`` document and the record keep them whole)."""
    timeline = [{**item, "message": shortened(str(item["message"]))}
                if item.get("message") else item for item in sheet.get("timeline", ())]
    return {**sheet, "timeline": timeline}


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: its control characters as ``\\xNN``."""
    return text.translate(_CONTROLS) if not text.isprintable() else text


def hanging(text: str, indent: int) -> str:
    """``printable(text)`` with each line after its first indented by ``indent`` spaces:
    a protocol's message of several lines stays under the text of its own line."""
    text = printable(text)
    return text.replace("\n", "\n" + " " * indent) if "\n" in text else text


def one_line(text: str) -> str:
    """``printable(text)`` on one line (a status line redrawn in place): a message's
    line breaks shown as ``⏎``."""
    return printable(text.replace("\n", " ⏎ ") if "\n" in text else text)


def is_terminal(stream: Any) -> bool:
    """True when ``stream`` is a terminal (a person reads it as it is written)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def clock(seconds: float) -> str:
    """``1:05`` or ``1:02:05``: a time in the run as people read it."""
    if (uncounted := uncounted_hours(seconds)) is not None:
        return uncounted
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02}:{secs:02}" if hours else f"{minutes}:{secs:02}"


def _stamp(t: float) -> str:
    return f"[{clock(t):>5}] "


def text_log(run: Run, verbosity: int = 0) -> list[str]:
    """The whole run log of a finished run."""
    log = TextLog(verbosity)
    lines: list[str] = []
    for event in run.record.events:
        lines += log.feed(event)
    return [*lines, *log.finish()]


def _pos(position: dict[str, float]) -> str:
    return " ".join(f"{axis}={value:.2f}" for axis, value in position.items())
