"""The HTTP API as data: every endpoint, its parameters and its lock group.

One table serves three readers: the server validates requests against it, the OpenAPI
document is generated from it, and the client builds its requests from it. A request
that does not match (malformed JSON, an unknown or missing parameter, a wrong type, a
value outside its choices, parameters that contradict each other) is a ``BadRequest``
with a 4xx status and a reason, and changes nothing.

The rule a client relies on: whatever can be told wrong from the request alone, whatever
the queue holds, is a 4xx (422 for its parameters); a well-formed request that cannot be
carried out with the queue and the run as they are now (an item not in the queue, a
position outside it, a run that cannot pause) is answered 200 with ``success`` false.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from attrs import frozen

from .errors import BadRequest

Kind = Literal["string", "text", "boolean", "integer", "number", "option", "position",
               "item"]
LockGroup = Literal["environment", "queue"]

PROTOCOL_NAME_RE = re.compile(r"^(?![.\s])[^/\\\x00-\x1f\x7f]{1,124}\.[pP][yY]$")
"""An uploaded protocol file's name: a base name ending in ``.py`` in any case (any
letters, spaces and punctuation, as people name files), with no folder (``/``, ``\\``),
no control character, and not hidden (a leading dot) nor starting with a space."""
LABWARE_NAME_RE = re.compile(r"^(?![.\s])[^/\\\x00-\x1f\x7f]{1,122}\.json$")
"""An uploaded labware file's name: the same, ending in ``.json`` (in lower case, as
``--labware-dir`` reads them)."""
NAME_RULE = ("of at most 127 characters, with no folder or control character in it, not "
             "starting with a dot or a space")
NAME_BYTES = 255
"""The longest file name a file system holds, in bytes of UTF-8 (Linux's NAME_MAX): the
name patterns count characters, and a character may take four bytes."""
SHORT_TEXT = 1024
"""Longest accepted short string (a key, a user name, a note, a reason, a uid)."""
SIMULATION_LIMIT_S = 60.0
"""The longest the server simulates a protocol before it queues or starts it."""
CHECK_S = SIMULATION_LIMIT_S + 15.0
"""The longest the server may take to check a protocol: a worker started, the file
loaded (a few seconds at most), the simulation; what a client waits beyond its timeout
for an answer to a call that checks one."""
ACTION_S = 20.0
"""The longest the server may take to answer an action on the run (``re_pause``,
``re_abort``, ...): its run worker answers in microseconds, but one that does not (its
process stopped, code in C holding it up) is waited for 15 s (``supervisor.
ACTION_ANSWER_TIMEOUT``), then stopped, and the run fails; what a client waits beyond its
timeout for that answer, so that an abort the server carried out is not said timed out."""


@frozen
class Param:
    """One request parameter."""

    name: str
    kind: Kind
    doc: str
    required: bool = False
    choices: tuple[str, ...] = ()
    # Left out, it picks a default item (the last one): an explicit null is refused, so
    # that a client's None never removes what it did not name.
    names_an_item: bool = False


@frozen
class OneOf:
    """Parameters of which a request gives at most one (exactly one if ``required``):
    ``what`` they say, as its reason says it."""

    names: tuple[str, ...]
    what: str
    required: bool = False

    def reason(self, given: list[str]) -> str | None:
        """Why a request giving ``given`` of these parameters is refused, or None."""
        if len(given) == 1 or (not given and not self.required):
            return None
        if len(self.names) == 2:
            alternatives = " or ".join(self.names)
            return (f"give {alternatives}, not both" if given
                    else f"give {alternatives}: {self.what}")
        alternatives = f"{', '.join(self.names[:-1])} and {self.names[-1]}"
        one = "one" if self.required else "at most one"
        return (f"give {one} of {alternatives}: {self.what}"
                + (f", not {', '.join(given[:-1])} and {given[-1]}" if given else ""))

    def doc(self) -> str:
        """The rule, for the OpenAPI document."""
        return (f"Give {'one' if self.required else 'at most one'} of "
                f"{', '.join(self.names)} ({self.what}).")


@frozen
class Apart:
    """Two parameters that must not name the same item (``first`` before or after
    itself)."""

    first: str
    second: str

    def reason(self, values: Mapping[str, Any]) -> str | None:
        """Why a request whose ``values`` break the rule is refused, or None."""
        value = values.get(self.first)
        if value is None or value != values.get(self.second):
            return None
        return (f"{self.first} and {self.second} name the same item {value!r}: an item "
                "cannot go before or after itself")

    def doc(self) -> str:
        """The rule, for the OpenAPI document."""
        return f"{self.first} and {self.second} name different items."


@frozen
class Endpoint:
    """One API call: the client method of the same name, its route and its lock group."""

    name: str
    method: Literal["GET", "POST"]
    path: str
    summary: str
    params: tuple[Param, ...] = ()
    lock: LockGroup | None = None
    emergency_key: bool = False
    """The server's emergency lock key opens it as the lock's own key does."""
    checks: bool = False  # it simulates a protocol before it answers (up to CHECK_S)
    acts: bool = False  # it acts on the run, in its run worker (answered within ACTION_S)
    rules: tuple[OneOf | Apart, ...] = ()
    """How the parameters go together; a request that breaks a rule is a 422."""

    def param(self, name: str) -> Param | None:
        """The parameter called ``name``, if the endpoint has one."""
        for param in self.params:
            if param.name == name:
                return param
        return None


LOCK_KEY = Param("lock_key", "string", "the key the group was locked with")
FOR_RUN = Param("item_uid", "string", "the run it is meant for (its item_uid, as the status "
                "gives it as running_item_uid): refused, and nothing done, if that run is no "
                "longer the one executing (it ended, and the next began)")
POS = Param("pos", "position", "an index (negative counts from the back), 'front' or 'back'",
            names_an_item=True)
UID = Param("uid", "string", "an item's item_uid", names_an_item=True)
WHERE_NEW = OneOf(("pos", "before_uid", "after_uid"), "where the item goes")
WHERE_MOVED = OneOf(("pos_dest", "before_uid", "after_uid"), "where the item goes",
                    required=True)

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("status", "GET", "/api/status", "The manager's and the current run's status."),
    Endpoint("queue_get", "GET", "/api/queue/get", "The queue and the running item."),
    Endpoint("queue_item_add", "POST", "/api/queue/item/add",
             "Add a protocol file (its text, and custom labware JSON files) to the queue; "
             "it is simulated first, and one that cannot run is answered 422 with its "
             "file:line.",
             (Param("item", "item", "{name, source, labware?: {file name: JSON text}}",
                    required=True), POS,
              Param("before_uid", "string", "insert before this item"),
              Param("after_uid", "string", "insert after this item"),
              Param("user", "string", "who added it"), LOCK_KEY), lock="queue", checks=True,
             rules=(WHERE_NEW,)),
    Endpoint("queue_item_remove", "POST", "/api/queue/item/remove",
             "Remove an item (by uid or position; the last one by default).",
             (POS, UID, LOCK_KEY), lock="queue",
             rules=(OneOf(("pos", "uid"), "the item to remove"),)),
    Endpoint("queue_item_move", "POST", "/api/queue/item/move",
             "Move an item (by uid or position) to another place in the queue.",
             (POS, UID,
              Param("pos_dest", "position", "its position once moved: an index within the "
                    "queue (negative counts from the back), 'front' or 'back'"),
              Param("before_uid", "string", "move it before this item"),
              Param("after_uid", "string", "move it after this item"), LOCK_KEY),
             lock="queue",
             rules=(OneOf(("pos", "uid"), "the item to move", required=True), WHERE_MOVED,
                    Apart("uid", "before_uid"), Apart("uid", "after_uid"))),
    Endpoint("queue_clear", "POST", "/api/queue/clear", "Remove every queued item.",
             (LOCK_KEY,), lock="queue"),
    Endpoint("queue_start", "POST", "/api/queue/start",
             "Start executing the queue (the first item is simulated again before it starts).",
             (LOCK_KEY,), lock="environment", checks=True),
    Endpoint("queue_stop", "POST", "/api/queue/stop",
             "Stop the queue once the running item has finished.",
             (LOCK_KEY,), lock="environment"),
    Endpoint("queue_stop_cancel", "POST", "/api/queue/stop/cancel",
             "Withdraw a pending queue_stop (success false when none is pending).",
             (LOCK_KEY,), lock="environment"),
    Endpoint("history_get", "GET", "/api/history/get",
             "Finished runs, each with its result; with records=true, also its run record "
             "and record_error: the record null where it cannot be given, and "
             "record_error saying why in one line (no longer kept, its file missing, not "
             "readable, not a record), else null.",
             (Param("records", "boolean", "include each run's record (default false)"),)),
    Endpoint("history_item_get", "GET", "/api/history/item/get",
             "One run, by its item_uid, with its result and (unless records=false) its run "
             "record and record_error (as history_get gives them): a finished run "
             "(running false), or the running one with its record so "
             "far and result null (running true); success false for any other uid, saying "
             "whether it is queued, was cleared or is unknown.",
             (Param("uid", "string", "the run's item_uid", required=True),
              Param("records", "boolean", "include the run's record (default true)"))),
    Endpoint("history_clear", "POST", "/api/history/clear", "Forget the finished runs.",
             (LOCK_KEY,), lock="queue"),
    Endpoint("re_pause", "POST", "/api/re/pause",
             "Pause the run: at the next checkpoint (deferred, the default) or now.",
             (Param("option", "option", "deferred (default) or immediate",
                    choices=("deferred", "immediate")), FOR_RUN, LOCK_KEY),
             lock="environment", acts=True),
    Endpoint("re_resume", "POST", "/api/re/resume", "Continue a paused run.",
             (FOR_RUN, LOCK_KEY), lock="environment", acts=True),
    Endpoint("re_stop", "POST", "/api/re/stop",
             "End the run cleanly; it counts as a success and the queue goes on.",
             (FOR_RUN, LOCK_KEY), lock="environment", acts=True),
    Endpoint("re_abort", "POST", "/api/re/abort",
             "End the run with cleanup; the queue stops.",
             (Param("reason", "string", "why, for the run record"), FOR_RUN, LOCK_KEY),
             lock="environment", emergency_key=True, acts=True),
    Endpoint("re_halt", "POST", "/api/re/halt",
             "Emergency stop, no cleanup motion; the queue stops. Never refused for a lock: "
             "an emergency stop takes one request (with the token, as every change does).",
             (Param("lock_key", "string", "accepted and not needed"),), acts=True),
    Endpoint("skip_delay", "POST", "/api/re/skip_delay", "End the active delay now.",
             (FOR_RUN, LOCK_KEY), lock="environment", acts=True),
    Endpoint("lock", "POST", "/api/lock",
             "Lock the environment and/or the queue with a key.",
             (Param("lock_key", "string", "the key; calls in a locked group need it",
                    required=True),
              Param("environment", "boolean", "lock run actions and queue start/stop"),
              Param("queue", "boolean", "lock changes to the queue and the history"),
              Param("user", "string", "who locked it"),
              Param("note", "string", "why, for other users"))),
    Endpoint("unlock", "POST", "/api/unlock",
             "Unlock with the key it was locked with, the emergency key or the server's "
             "token.",
             (Param("lock_key", "string", "the lock key, the emergency key or the token",
                    required=True),)),
    Endpoint("lock_info", "POST", "/api/lock/info",
             "Who locked what; with lock_key, also whether that key is the one.",
             (LOCK_KEY,)),
    Endpoint("robot_tips_removed", "POST", "/api/robot/tips_removed",
             "Say that the tips the last run left on the pipettes (status tips_left) "
             "have been taken off: the queue may start again (msg says so when none were "
             "recorded).",
             (LOCK_KEY,), lock="environment"),
    Endpoint("sim_interlock", "POST", "/api/robot/interlock",
             "Open or close a simulated robot's interlock (the door).",
             (Param("name", "string", "the interlock, such as 'door'", required=True),
              Param("active", "boolean", "true opens it (pauses the run)", required=True),
              LOCK_KEY), lock="environment"),
)

BY_NAME: dict[str, Endpoint] = {e.name: e for e in ENDPOINTS}
STREAM_PATH = "/api/stream"
STREAM_PARAMS = (
    Param("records", "boolean", "also send the running run's record events"),
    Param("progress", "boolean", "also send progress (step k of n, percent, time left, "
                                 "wells done, tips taken), command (each protocol call in "
                                 "words) and comment events, as the live page does"),
    Param("heartbeat", "number", "seconds between keep-alive comments (0.05 to 60)"),
)

ITEM_FIELDS = {
    "item_type": "'protocol' (the default)",
    "name": "the protocol file's name, such as 'dilution.py'",
    "source": "the protocol file's text",
    "labware": "custom labware: {file name: the definition's JSON text} (the items the "
               "server lists give only the file names)",
}


# -- validation ---------------------------------------------------------------------------

def parse_json_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object; an empty body is an empty object. JSON between
    systems is UTF-8 (RFC 8259): a body in UTF-16 or UTF-32 is refused, not guessed at."""
    if not raw.strip():
        return {}
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest(400, "the body is not UTF-8 JSON") from None
    if "\0" in text:  # UTF-16 or UTF-32 text: JSON has no raw NUL anywhere
        raise BadRequest(400, "the body is not UTF-8 JSON")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite,
                           parse_int=_integer, object_pairs_hook=_no_twice)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise BadRequest(400, f"the body is not valid JSON: {exc}") from None
    except ValueError as exc:
        raise BadRequest(400, str(exc)) from None
    if not isinstance(value, dict):
        raise BadRequest(400, f"the body must be a JSON object, not {_json_type(value)}")
    _refuse_lone_surrogates(value)
    return value


def _refuse_lone_surrogates(value: Any) -> None:
    """400 if a string anywhere in ``value`` (a key or a value) is not valid Unicode text:
    JSON's ``\\ud800`` escapes can spell a lone surrogate, which no file or key can hold."""
    pending = [value]
    while pending:
        current = pending.pop()
        if isinstance(current, dict):
            pending.extend(current.keys())
            pending.extend(current.values())
        elif isinstance(current, list):
            pending.extend(current)
        elif isinstance(current, str):
            try:
                current.encode("utf-8")
            except UnicodeEncodeError:
                raise BadRequest(400, "a text field holds a lone surrogate (\\ud800-"
                                      "\\udfff), which is not text") from None


def parse_query(params: tuple[Param, ...], query: Mapping[str, str]) -> dict[str, Any]:
    """Query-string parameters (a GET request's) converted to their kinds."""
    values: dict[str, Any] = {}
    for name, text in query.items():
        param = next((p for p in params if p.name == name), None)
        if param is None:
            raise BadRequest(422, f"unknown parameter {name!r}{_known(params)}")
        if param.kind == "boolean":
            if text.lower() not in ("true", "false", "1", "0"):
                raise BadRequest(422, f"{name} must be true or false, not {text!r}")
            values[name] = text.lower() in ("true", "1")
        elif param.kind == "number":
            try:
                number = float(text)
            except ValueError:
                raise BadRequest(422, f"{name} must be a number, not {text!r}") from None
            values[name] = number
        else:
            values[name] = text
    return check_params(params, values)


def check_params(params: tuple[Param, ...], body: Mapping[str, Any]) -> dict[str, Any]:
    """Check ``body`` against ``params``; the values, with absent ones as None."""
    known = {p.name: p for p in params}
    for name in body:
        if name not in known:
            raise BadRequest(422, f"unknown parameter {name!r}{_known(params)}")
    values: dict[str, Any] = {}
    for param in params:
        value = body.get(param.name)
        if value is None and param.names_an_item and param.name in body:
            raise BadRequest(422, f"{param.name} is null; leave it out for the default, or "
                                  f"give {param.doc}")
        if value is None:
            if param.required:
                raise BadRequest(422, f"missing parameter {param.name!r}: {param.doc}")
            values[param.name] = None
            continue
        values[param.name] = _check_value(param, value)
    return values


def check_request(endpoint: Endpoint, values: Mapping[str, Any]) -> dict[str, Any]:
    """``values`` (``check_params``' or ``parse_query``'s) checked against the endpoint's
    rules: parameters that contradict each other, or a required one of several missing, are
    the request's fault, whatever the queue holds (422)."""
    for rule in endpoint.rules:
        if isinstance(rule, OneOf):
            reason = rule.reason([name for name in rule.names if values.get(name) is not None])
        else:
            reason = rule.reason(values)
        if reason is not None:
            raise BadRequest(422, reason)
    return dict(values)


def _check_value(param: Param, value: Any) -> Any:
    name, kind = param.name, param.kind
    if kind in ("string", "option", "text"):
        if not isinstance(value, str):
            raise _wrong(name, "a string", value)
        if kind == "string" and len(value) > SHORT_TEXT:
            raise BadRequest(422, f"{name} is longer than {SHORT_TEXT} characters")
        if param.required and not value:
            raise BadRequest(422, f"{name} must not be empty")
        if kind == "option" and value not in param.choices:
            raise BadRequest(422, f"{name} must be one of {', '.join(param.choices)}, "
                                  f"not {value!r}")
        return value
    if kind == "boolean":
        if not isinstance(value, bool):
            raise _wrong(name, "true or false", value)
        return value
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(name, "an integer", value)
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise _wrong(name, "a finite number", value)
        return float(value)
    if kind == "position":
        if value in ("front", "back"):
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise _wrong(name, "an integer, 'front' or 'back'", value)
        return value
    if kind == "item":
        return check_item(value)
    raise AssertionError(f"unknown parameter kind {kind}")  # pragma: no cover


def check_item(value: Any) -> dict[str, Any]:
    """A queue item as uploaded: a protocol file's name and text, and labware files."""
    if not isinstance(value, dict):
        raise _wrong("item", "an object", value)
    for key in value:
        if key not in ITEM_FIELDS:
            raise BadRequest(422, f"unknown item field {key!r}; an item has "
                                  f"{', '.join(ITEM_FIELDS)}")
    item_type = value.get("item_type", "protocol")
    if item_type != "protocol":
        raise BadRequest(422, f"item.item_type must be 'protocol', not {item_type!r}")
    for key, what in (("name", "the protocol's file name"),
                      ("source", "the protocol file's text")):
        if key not in value:
            raise BadRequest(422, f"item.{key} is missing: {what}")
    name, source = value.get("name"), value.get("source")
    if not isinstance(name, str):
        raise _wrong("item.name", "a file name", name)
    if not PROTOCOL_NAME_RE.fullmatch(name):
        raise BadRequest(422, f"item.name must be a file name ending in .py, {NAME_RULE}, "
                              f"not {name[:80]!r}")
    _check_bytes("item.name", name)
    if not isinstance(source, str):
        raise _wrong("item.source", "the protocol file's text", source)
    labware = value.get("labware", {})
    if not isinstance(labware, dict):
        raise _wrong("item.labware", "an object of {file name: JSON text}", labware)
    for file_name, text in labware.items():
        if not LABWARE_NAME_RE.fullmatch(file_name):
            raise BadRequest(422, f"item.labware: {file_name[:80]!r} is not a file name "
                                  f"ending in .json, {NAME_RULE}")
        _check_bytes("item.labware", file_name)
        if not isinstance(text, str):
            raise _wrong(f"item.labware[{file_name!r}]", "the file's JSON text", text)
    return {"item_type": "protocol", "name": name, "source": source, "labware": labware}


def _check_bytes(field: str, name: str) -> None:
    """Refuse a file name longer than a file system holds (``NAME_BYTES``)."""
    size = len(name.encode("utf-8", "surrogatepass"))
    if size > NAME_BYTES:
        raise BadRequest(422, f"{field}: {name[:40]!r}... is {size} bytes in UTF-8; a file "
                              f"name holds at most {NAME_BYTES}")


def _wrong(name: str, expected: str, value: Any) -> BadRequest:
    return BadRequest(422, f"{name} must be {expected}, not {_json_type(value)}")


def _json_type(value: Any) -> str:
    """What a bad value is, for its error: a short string itself ('middle'), else its
    JSON type."""
    if isinstance(value, str) and len(value) <= 40:
        return repr(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, float) and not math.isfinite(value):
        return repr(value)  # nan, inf: not "a number", which they are in JSON's eyes
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__  # pragma: no cover


def _known(params: tuple[Param, ...]) -> str:
    if not params:
        return "; this call takes none"
    return f"; this call takes {', '.join(p.name for p in params)}"


def _no_constant(name: str) -> Any:
    raise ValueError(f"the body is not valid JSON: {name} is not a JSON number")


def _finite(text: str) -> float:
    """A JSON number with a fraction or exponent; one beyond any float (``1e999``, which
    Python reads as infinity) is refused as the body's fault, as ``NaN`` is."""
    value = float(text)
    if value - value != 0:
        raise ValueError(f"the body is not valid JSON: {text[:40]} is beyond any number "
                         "labrun reads")
    return value


MAX_DIGITS = 4300
"""Longest integer a body may hold, in digits (Python's own limit on converting one)."""


def _integer(text: str) -> int:
    """A JSON integer; one of more than ``MAX_DIGITS`` digits is the body's fault."""
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise ValueError("a number in the body is too long")
    return int(text)


def _no_twice(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused if it gives a key twice (which value was meant?)."""
    value = dict(pairs)
    if len(value) < len(pairs):
        keys = [key for key, _ in pairs]
        twice = next(key for i, key in enumerate(keys) if key in keys[:i])
        raise ValueError(f"the body gives {twice!r} twice")
    return value


# -- OpenAPI --------------------------------------------------------------------------------

_SCHEMAS: dict[str, dict[str, Any]] = {
    "string": {"type": "string", "maxLength": SHORT_TEXT},
    "text": {"type": "string"},
    "boolean": {"type": "boolean"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "position": {"oneOf": [{"type": "integer"}, {"type": "string", "enum": ["front", "back"]}]},
    "item": {"$ref": "#/components/schemas/Item"},
}


def _schema(param: Param) -> dict[str, Any]:
    schema = dict(_SCHEMAS["string"] if param.kind == "option" else _SCHEMAS[param.kind])
    if param.choices:
        schema["enum"] = list(param.choices)
    if "$ref" not in schema:
        schema["description"] = param.doc
    return schema


TOKEN_SCHEMES = ("bearer", "cookie")
"""How a request carries the server's token (a GET may also use ``?token=``)."""


def openapi(version: str, *, reads_need_token: bool) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the API, generated from ``ENDPOINTS``: every POST
    needs the token; a GET needs it only when ``reads_need_token`` (beyond loopback)."""
    token: list[dict[str, list[str]]] = [{scheme: []} for scheme in TOKEN_SCHEMES]
    read_token = [*token, {"query": []}] if reads_need_token else []
    reply = {"description": "success false with msg when the request is well-formed but "
                            "cannot be carried out now (an item not in the queue, a "
                            "position outside it, a run that cannot do it)", "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Reply"}}}}
    errors = {str(code): {"description": text, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}}
        for code, text in ((400, "malformed JSON, not UTF-8, not an object, a lone "
                                 "surrogate in a text field, or a number too long"),
                           (401, "missing or wrong token"),
                           (403, "a Host this server is not bound to, or a cross-origin "
                                 "Origin"),
                           (413, "body larger than the server's limit"),
                           (415, "body is not application/json"),
                           (422, "unknown parameter, missing parameter, wrong type, or "
                                 "parameters that contradict each other"))}
    read_errors = {code: errors[code] for code in ("400", "403", "422")}
    if reads_need_token:
        read_errors["401"] = errors["401"]
    paths: dict[str, Any] = {}
    for endpoint in ENDPOINTS:
        operation: dict[str, Any] = {
            "operationId": endpoint.name, "summary": endpoint.summary,
            "responses": {"200": reply, **(errors if endpoint.method == "POST"
                                           else read_errors)},
            "security": token if endpoint.method == "POST" else read_token}
        notes = [rule.doc() for rule in endpoint.rules]
        if endpoint.lock is not None:
            notes.append(f"Refused while the {endpoint.lock} is locked, unless lock_key is "
                         "the key it was locked with"
                         + (" or the server's emergency lock key." if endpoint.emergency_key
                            else "."))
        if notes:
            operation["description"] = " ".join(notes)
        if endpoint.method == "GET":
            operation["parameters"] = [
                {"name": p.name, "in": "query", "required": p.required, "schema": _schema(p)}
                for p in endpoint.params]
        elif endpoint.params:
            operation["requestBody"] = {"required": any(p.required for p in endpoint.params),
                                        "content": {"application/json": {"schema": {
                                            "type": "object", "additionalProperties": False,
                                            "required": [p.name for p in endpoint.params
                                                         if p.required],
                                            "properties": {p.name: _schema(p)
                                                           for p in endpoint.params}}}}}
        paths.setdefault(endpoint.path, {})[endpoint.method.lower()] = operation
    paths[STREAM_PATH] = {"get": {
        "operationId": "stream", "summary": "Server-sent events: 'status' (the status "
        "document, at once and on every change) and, with records=true, 'record' "
        "(the running run's record events).",
        "parameters": [{"name": p.name, "in": "query", "required": False,
                        "schema": _schema(p)} for p in STREAM_PARAMS],
        "security": read_token,
        "responses": {"200": {"description": "an event stream",
                              "content": {"text/event-stream": {}}}, **read_errors}}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "labrun run manager", "version": version,
                 "description": "Queue protocol runs and control them; calls mirror "
                                "bluesky-queueserver's REManagerAPI. Every POST carries "
                                "the server's token and Content-Type: application/json; "
                                "a request whose Host is not an address the server is "
                                "bound to, or whose Origin is another site, is refused "
                                "(403)."},
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "labrun_token"},
                "query": {"type": "apiKey", "in": "query", "name": "token"}},
            "schemas": {
                "Reply": {"type": "object", "required": ["success", "msg"],
                          "properties": {"success": {"type": "boolean"},
                                         "msg": {"type": "string"}}},
                "Error": {"type": "object", "required": ["success", "msg"],
                          "properties": {"success": {"const": False},
                                         "msg": {"type": "string"}}},
                "Item": {"type": "object", "additionalProperties": False,
                         "required": ["name", "source"],
                         "properties": {
                             "item_type": {"const": "protocol"},
                             "name": {"type": "string",
                                      "pattern": PROTOCOL_NAME_RE.pattern,
                                      "description": f"at most {NAME_BYTES} bytes of UTF-8"},
                             "source": {"type": "string"},
                             "labware": {"type": "object",
                                         "propertyNames": {
                                             "pattern": LABWARE_NAME_RE.pattern,
                                             "description": f"at most {NAME_BYTES} bytes "
                                                            "of UTF-8"},
                                         "additionalProperties": {"type": "string"}}}},
            }},
    }
