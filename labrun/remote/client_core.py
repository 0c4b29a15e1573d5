"""The client's core, shared by ``RunManagerAPI`` and ``AsyncRunManagerAPI``.

As in httpx (one set of models, a sync and an async client over them): everything but
the transport call lives here once. ``Methods`` defines every API method, building a
``Call`` from the endpoint table and handing it to the face's ``_send``, which is a
plain call in the sync face and a coroutine in the async one. ``ClientCore`` turns a
``Call`` into request arguments and a response into a reply or an exception; the
event-stream parser and the wait predicates are shared the same way.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Generic, TypeVar

import httpx
from attrs import frozen

from protocol_api.loader import (
    LocatedLoadError,
    protocol_text,  # labrun simulate's reading rule
)

from .auth import TOKEN_QUERY, read_token_file, token_problem
from .errors import (
    HTTPClientError,
    HTTPRequestError,
    HTTPServerError,
    RequestError,
    RequestFailedError,
    RequestTimeoutError,
)
from .spec import ACTION_S, BY_NAME, CHECK_S, PROTOCOL_NAME_RE, STREAM_PATH, Endpoint

DEFAULT_URI = "http://127.0.0.1:8790"
DEFAULT_TIMEOUT = 5.0
DEFAULT_WAIT_TIMEOUT = 600.0
TOKEN_ENV = "LABRUN_TOKEN"
TOKEN_FILE_ENV = "LABRUN_TOKEN_FILE"

Reply = dict[str, Any]
Predicate = Callable[[Reply], bool]
R = TypeVar("R")


@frozen
class Call:
    """One API call: the endpoint and its parameters (absent ones left out)."""

    endpoint: Endpoint
    params: dict[str, Any]


@frozen
class StreamEvent:
    """One server-sent event: ``status`` (the status document) or ``record``."""

    event: str
    data: dict[str, Any]


class ClientCore:
    """Request building and response handling, with no I/O."""

    def __init__(self, uri: str | None, *, token: str | None, lock_key: str | None,
                 timeout: float, request_fail_exceptions: bool,
                 token_file: str | os.PathLike[str] | None = None) -> None:
        url = httpx.URL(uri or DEFAULT_URI)
        self.base_url = str(url.copy_with(query=None, fragment=None)).rstrip("/")
        self.server = str(url.copy_with(query=None, fragment=None, username=None,
                                        password=None)).rstrip("/")
        """The server's address as errors name it: never a token or a password."""
        self.token = find_token(token, url.params.get(TOKEN_QUERY), token_file)
        problem = token_problem(self.token) if self.token is not None else None
        if problem is not None:  # said now, not as httpx's UnicodeEncodeError at each call
            raise ValueError(problem)
        self.lock_key = lock_key
        self.timeout = timeout
        self.request_fail_exceptions = request_fail_exceptions

    def headers(self) -> dict[str, str]:
        """Headers every request carries."""
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def call(self, name: str, /, **params: Any) -> Call:
        """A call to endpoint ``name``; the client's default lock key where one applies."""
        endpoint = BY_NAME[name]
        values = {k: v for k, v in params.items() if v is not None}
        if "lock_key" not in values and self.lock_key is not None \
                and endpoint.param("lock_key") is not None:
            values["lock_key"] = self.lock_key
        return Call(endpoint, values)

    def request(self, call: Call) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client.build_request`` for ``call``."""
        endpoint = call.endpoint
        arguments: dict[str, Any] = {"method": endpoint.method,
                                     "url": self.base_url + endpoint.path,
                                     "headers": self.headers()}
        odd = _lone_surrogate(call.params)
        if odd is not None:  # said here: httpx raised a UnicodeEncodeError naming no parameter
            where, char = odd
            raise RequestError(f"{where} holds a lone surrogate ({char!r}), which is not "
                               "text: no request carries it (the server refuses it, 400)")
        if endpoint.method == "GET":
            arguments["params"] = {k: _query_value(v) for k, v in call.params.items()}
        else:
            arguments["json"] = call.params
        if endpoint.checks:  # the server simulates a protocol first: wait for its answer
            arguments["timeout"] = httpx.Timeout(self.timeout, read=self.timeout + CHECK_S)
        elif endpoint.acts:  # a run worker that does not answer is stopped: said by then
            arguments["timeout"] = httpx.Timeout(self.timeout, read=self.timeout + ACTION_S)
        return arguments

    def stream_request(self, *, records: bool, heartbeat: float | None) -> dict[str, Any]:
        """Keyword arguments of ``httpx.Client.stream`` for the event stream."""
        params: dict[str, str] = {}
        if records:
            params["records"] = "true"
        if heartbeat is not None:
            params["heartbeat"] = repr(heartbeat)
        headers = {**self.headers(), "Accept": "text/event-stream"}
        read = (heartbeat or 15.0) + self.timeout  # a silent server is a dead one
        return {"method": "GET", "url": self.base_url + STREAM_PATH, "params": params,
                "headers": headers, "timeout": httpx.Timeout(self.timeout, read=read)}

    def reply(self, response: httpx.Response) -> Reply:
        """The reply in ``response``; raises for 4xx, 5xx and (if enabled) refusals."""
        try:
            body = response.json()
        except ValueError:
            body = {"success": False, "msg": response.text[:200]}
        if not isinstance(body, dict):
            body = {"success": False, "msg": f"unexpected answer {str(body)[:200]}"}
        status = response.status_code
        where = f"{response.request.method} {response.request.url.path}"
        if status >= 500:
            raise HTTPServerError(f"{status} from {where}: {body.get('msg', '')}", status)
        if status >= 400:
            raise HTTPClientError(f"{status} from {where}: {body.get('msg', '')}", status, body)
        if self.request_fail_exceptions and body.get("success", True) is False:
            raise RequestFailedError(body)
        return body

    def check_stream(self, response: httpx.Response, body: bytes) -> None:
        """Raise if the event stream was refused (``body`` is what the refusal said)."""
        if response.status_code >= 400:
            refusal = httpx.Response(response.status_code, content=body,
                                     request=response.request)
            self.reply(refusal)

    def error(self, exc: httpx.HTTPError) -> RequestError:
        """The client exception for a transport failure: one line naming the server."""
        kind = type(exc).__name__
        if isinstance(exc, httpx.TimeoutException):
            return RequestTimeoutError(f"Request timeout: the server at {self.server} did "
                                       f"not answer in time ({kind})")
        if isinstance(exc, httpx.ConnectError):
            return HTTPRequestError(f"cannot reach the server at {self.server}: "
                                    f"{_cause(exc)} ({kind})")
        return HTTPRequestError(f"the request to the server at {self.server} failed: "
                                f"{_cause(exc)} ({kind})")


def _cause(exc: BaseException) -> str:
    """What went wrong under a transport error, in a few words: the system's reason
    (``Connection refused``, also under the async client's "All connection attempts
    failed"), else the error's own text, on one line."""
    pending: list[BaseException] = [exc]
    seen: set[int] = set()
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return os.strerror(current.errno) if current.errno > 0 else str(current.strerror)
        pending += [e for e in (current.__cause__, current.__context__) if e is not None]
        pending += list(getattr(current, "exceptions", ()))
    return " ".join(str(exc).split()) or "no reason given"


def find_token(token: str | None, in_url: str | None,
               token_file: str | os.PathLike[str] | None) -> str | None:
    """The server's token: given, in the URL (``?token=``), in ``token_file``, or in
    ``$LABRUN_TOKEN`` or the file ``$LABRUN_TOKEN_FILE`` names."""
    if token or in_url:
        return token or in_url
    token_file = token_file or os.environ.get(TOKEN_FILE_ENV)
    if os.environ.get(TOKEN_ENV) and not token_file:
        return os.environ[TOKEN_ENV]
    return read_token_file(token_file, create=False) if token_file else None


def _lone_surrogate(value: Any, where: str = "") -> tuple[str, str] | None:
    """Where in ``value`` (a call's parameters) a string holds a lone surrogate
    (``'\\udcff'``, as ``errors="surrogateescape"`` reads a byte that is not UTF-8), and
    that character; None if none does."""
    if isinstance(value, str):
        char = next((c for c in value if "\ud800" <= c <= "\udfff"), None)
        return (where or "a parameter", char) if char is not None else None
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = (_lone_surrogate(str(key), f"{where or 'the parameters'}'s key")
                     or _lone_surrogate(item, f"{where}.{key}" if where else str(key)))
            if found is not None:
                return found
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found = _lone_surrogate(item, f"{where}[{index}]")
            if found is not None:
                return found
    return None


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


KEEPALIVE = StreamEvent("keep-alive", {})
"""What a comment line (the server's keep-alive) parses to."""


class EventParser:
    """Server-sent events from lines of text."""

    def __init__(self) -> None:
        self._event = "message"
        self._data: list[str] = []

    def line(self, line: str) -> StreamEvent | None:
        """Feed one line; returns the event it completes (or ``KEEPALIVE``), if any."""
        if not line:
            if not self._data:
                return None
            event = StreamEvent(self._event, json.loads("\n".join(self._data)))
            self._event, self._data = "message", []
            return event
        if line.startswith(":"):
            return KEEPALIVE
        field, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        return None


def is_idle(status: Reply) -> bool:
    """``wait_for_idle``: the manager is idle."""
    return bool(status.get("manager_state") == "idle")


def is_idle_or_paused(status: Reply) -> bool:
    """``wait_for_idle_or_paused``: the manager is idle or the run is paused (parked)."""
    return status.get("manager_state") in ("idle", "paused")


LabwarePaths = str | os.PathLike[str] | Iterable[str | os.PathLike[str]]
"""Custom labware: one folder or file, or several."""


def read_item(path: str | os.PathLike[str], labware: LabwarePaths | None) -> dict[str, Any]:
    """A queue item from a protocol file and custom labware files or directories.

    The protocol's text is read as ``labrun simulate`` reads it: UTF-8, or the encoding
    its coding comment names; ``RequestError`` with its ``file:line`` for a byte that
    cannot be read, as for a labware file that is not UTF-8, and ``RequestError`` naming
    what was given for a protocol file not named ``*.py`` (it is not read) or that cannot
    be read, and a labware folder or file that does not exist."""
    protocol = Path(path)
    if not PROTOCOL_NAME_RE.fullmatch(protocol.name):  # the server's rule, said of path
        shown = str(path)[:200]
        if not protocol.name.lower().endswith(".py"):
            raise RequestError(f"path must be a protocol file ending in .py, not {shown!r}")
        raise RequestError(f"path {shown!r}: a protocol file's name must not start with a "
                           "dot or a space, hold a control character or be longer than 127 "
                           "characters")
    entries = [labware] if isinstance(labware, (str, os.PathLike)) else list(labware or ())
    files: dict[str, str] = {}
    defined: dict[tuple[object, ...], int] = {}  # a definition -> the entry that gave it
    for index, given in enumerate(entries):
        entry = Path(given)
        if not entry.exists():  # a name ending in .json is meant as a file, else a folder
            what = "file" if entry.suffix.lower() == ".json" else "folder"
            raise RequestError(f"labware {what} {os.fspath(given)[:200]!r} does not exist")
        for json_file in sorted(entry.rglob("*.json")) if entry.is_dir() else [entry]:
            try:
                text = json_file.read_text(encoding="utf-8")
            except UnicodeDecodeError as exc:
                raise RequestError(f"{json_file}: the labware file is not UTF-8 text: "
                                   f"byte 0x{exc.object[exc.start]:02x} cannot be read") \
                    from None
            defines = _defines(text)
            if defines is not None and defined.setdefault(defines, index) != index:
                continue  # an earlier folder or file defines it: it is used, as labrun
                # simulate --labware-dir uses the first of its folders that does
            files[_upload_name(json_file, entry, files)] = text
    try:
        source = protocol_text(protocol.read_bytes(), str(path))
    except LocatedLoadError as exc:
        raise RequestError(f"{exc.location}: {exc}") from None
    except OSError as exc:  # missing, a folder, unreadable: said as the other mistakes
        raise RequestError(f"protocol file {str(path)[:200]!r} cannot be read: "
                           f"{exc.strerror or exc}") from None
    item: dict[str, Any] = {"item_type": "protocol", "name": protocol.name, "source": source}
    if files:
        item["labware"] = files
    return item


def _defines(text: str) -> tuple[object, ...] | None:
    """The labware a definition file's text defines (namespace, load name, version), or
    None for a file that is not one."""
    try:
        definition = json.loads(text)
        parameters = definition["parameters"]
        return (definition.get("namespace"), str(parameters["loadName"]).lower(),
                definition.get("version"))
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def _upload_name(path: Path, entry: Path, taken: Mapping[str, str]) -> str:
    """The name ``path`` is uploaded by: its own, unless a file of the same name is taken
    (Opentrons' ``my_plate/1.json`` and ``other_plate/1.json``), then its path in the
    folder given, ``my_plate-1.json``, and a number if that is taken too."""
    if path.name not in taken:
        return path.name
    parts = path.relative_to(entry).parts if entry.is_dir() else (path.name,)
    stem = "-".join(parts)[:-len(".json")][:100]
    name, number = f"{stem}.json", 1
    while name in taken:
        number += 1
        name = f"{stem}-{number}.json"
    return name


class Methods(Generic[R]):
    """Every API method, defined once; ``R`` is a reply (sync) or an awaitable of one."""

    _core: ClientCore

    def _send(self, call: Call) -> R:
        raise NotImplementedError

    def _call(self, endpoint: str, /, **params: Any) -> R:
        return self._send(self._core.call(endpoint, **params))

    # -- client settings --

    @property
    def lock_key(self) -> str | None:
        """The lock key sent with every call that takes one, unless the call gives its own."""
        return self._core.lock_key

    @lock_key.setter
    def lock_key(self, key: str | None) -> None:
        if key is not None and (not isinstance(key, str) or not key):
            raise ValueError("lock_key must be a non-empty string or None")
        self._core.lock_key = key

    @property
    def request_fail_exceptions(self) -> bool:
        """Whether a refused request (``success`` false) raises ``RequestFailedError``."""
        return self._core.request_fail_exceptions

    @request_fail_exceptions.setter
    def request_fail_exceptions(self, value: bool) -> None:
        self._core.request_fail_exceptions = bool(value)

    # -- status --

    def status(self) -> R:
        """The status: manager_state, run status, pause, queue, lock."""
        return self._call("status")

    # -- the queue --

    def queue_get(self) -> R:
        """The queued items and the running one."""
        return self._call("queue_get")

    def queue_item_add(self, item: Mapping[str, Any] | None = None, *,
                       path: str | os.PathLike[str] | None = None,
                       labware: LabwarePaths | None = None,
                       pos: int | str | None = None, before_uid: str | None = None,
                       after_uid: str | None = None, user: str | None = None,
                       lock_key: str | None = None) -> R:
        """Add a protocol: a protocol file's ``path`` (with custom ``labware``: a folder or
        file, or several), or an ``item`` ``{name, source, labware}``."""
        if (item is None) == (path is None):
            raise TypeError("give an item or a path to a protocol file")
        body = dict(item) if item is not None else read_item(path or "", labware)
        return self._call("queue_item_add", item=body, pos=pos, before_uid=before_uid,
                          after_uid=after_uid, user=user, lock_key=lock_key)

    def queue_item_remove(self, *, pos: int | str | None = None, uid: str | None = None,
                          lock_key: str | None = None) -> R:
        """Remove an item by ``uid`` or ``pos`` (the last one by default)."""
        return self._call("queue_item_remove", pos=pos, uid=uid, lock_key=lock_key)

    def queue_item_move(self, *, pos: int | str | None = None, uid: str | None = None,
                        pos_dest: int | str | None = None, before_uid: str | None = None,
                        after_uid: str | None = None, lock_key: str | None = None) -> R:
        """Move an item (by ``uid`` or ``pos``) to ``pos_dest``, or before or after
        another item (``before_uid``, ``after_uid``)."""
        return self._call("queue_item_move", pos=pos, uid=uid, pos_dest=pos_dest,
                          before_uid=before_uid, after_uid=after_uid, lock_key=lock_key)

    def queue_clear(self, *, lock_key: str | None = None) -> R:
        """Remove every queued item."""
        return self._call("queue_clear", lock_key=lock_key)

    def queue_start(self, *, lock_key: str | None = None) -> R:
        """Start executing the queue."""
        return self._call("queue_start", lock_key=lock_key)

    def queue_stop(self, *, lock_key: str | None = None) -> R:
        """Stop the queue once the running item has finished."""
        return self._call("queue_stop", lock_key=lock_key)

    def queue_stop_cancel(self, *, lock_key: str | None = None) -> R:
        """Withdraw a pending ``queue_stop``; refused when none is pending."""
        return self._call("queue_stop_cancel", lock_key=lock_key)

    def history_get(self, *, records: bool = False) -> R:
        """Finished runs with their results (and, with ``records=True``, their run
        records, read from the server's files: null where it no longer keeps one)."""
        return self._call("history_get", records=records)

    def history_item_get(self, uid: str, *, records: bool = True) -> R:
        """One run, by its ``item_uid``, with its result (and run record, unless
        ``records=False``) as ``reply["item"]``: a finished run, or the running one
        (``reply["running"]``; its record so far, its result None); refused (``success``
        false) for any other uid, saying whether it is queued, was cleared or is unknown."""
        return self._call("history_item_get", uid=uid, records=records)

    def history_clear(self, *, lock_key: str | None = None) -> R:
        """Forget the finished runs."""
        return self._call("history_clear", lock_key=lock_key)

    # -- the run --

    def re_pause(self, option: str | None = None, *, item_uid: str | None = None,
                 lock_key: str | None = None) -> R:
        """Pause the run: ``deferred`` (the default, at the next checkpoint) or ``immediate``.

        With ``item_uid`` (as ``status()['running_item_uid']`` gives it), this and every
        other run action is refused, and nothing done, unless that run is the one
        executing: a client acting on a status it read just before that run ended never
        acts on the next."""
        return self._call("re_pause", option=option, item_uid=item_uid, lock_key=lock_key)

    def re_resume(self, *, item_uid: str | None = None, lock_key: str | None = None) -> R:
        """Continue the paused run."""
        return self._call("re_resume", item_uid=item_uid, lock_key=lock_key)

    def re_stop(self, *, item_uid: str | None = None, lock_key: str | None = None) -> R:
        """End the run cleanly (a success: the queue goes on)."""
        return self._call("re_stop", item_uid=item_uid, lock_key=lock_key)

    def re_abort(self, reason: str | None = None, *, item_uid: str | None = None,
                 lock_key: str | None = None) -> R:
        """End the run with cleanup (the queue stops). A run worker that does not answer
        is stopped by the server within 15 s, the run failed, and the reply says so: an
        action's answer is waited for up to ``ACTION_S`` (20 s) beyond the timeout."""
        return self._call("re_abort", reason=reason, item_uid=item_uid, lock_key=lock_key)

    def re_halt(self, *, lock_key: str | None = None) -> R:
        """Emergency stop without cleanup (the queue stops)."""
        return self._call("re_halt", lock_key=lock_key)

    def skip_delay(self, *, item_uid: str | None = None, lock_key: str | None = None) -> R:
        """End the run's active delay now."""
        return self._call("skip_delay", item_uid=item_uid, lock_key=lock_key)

    def robot_tips_removed(self, *, lock_key: str | None = None) -> R:
        """Say that the tips the last run left on the pipettes (``tips_left`` in the
        status) have been taken off, so that the queue may start again; with none
        recorded it succeeds all the same, its ``msg`` saying so."""
        return self._call("robot_tips_removed", lock_key=lock_key)

    def sim_interlock(self, name: str, active: bool, *, lock_key: str | None = None) -> R:
        """Open (``active=True``) or close a simulated robot's interlock, such as ``door``."""
        return self._call("sim_interlock", name=name, active=active, lock_key=lock_key)

    # -- locks --

    def lock(self, lock_key: str | None = None, *, environment: bool | None = None,
             queue: bool | None = None, user: str | None = None,
             note: str | None = None) -> R:
        """Lock the environment and/or the queue with ``lock_key`` (or the client's)."""
        return self._call("lock", lock_key=self._key(lock_key), environment=environment,
                          queue=queue, user=user, note=note)

    def lock_environment(self, lock_key: str | None = None, *, user: str | None = None,
                         note: str | None = None) -> R:
        """Lock the environment only."""
        return self.lock(lock_key, environment=True, user=user, note=note)

    def lock_queue(self, lock_key: str | None = None, *, user: str | None = None,
                   note: str | None = None) -> R:
        """Lock the queue only."""
        return self.lock(lock_key, queue=True, user=user, note=note)

    def lock_all(self, lock_key: str | None = None, *, user: str | None = None,
                 note: str | None = None) -> R:
        """Lock the environment and the queue."""
        return self.lock(lock_key, environment=True, queue=True, user=user, note=note)

    def unlock(self, lock_key: str | None = None) -> R:
        """Unlock with the lock key (or the client's), or the server's emergency key."""
        return self._call("unlock", lock_key=self._key(lock_key))

    def lock_info(self, lock_key: str | None = None) -> R:
        """Who locked what; with a key (given or the client's), refused unless it is the
        key in use."""
        return self._call("lock_info", lock_key=lock_key)

    def _key(self, lock_key: str | None) -> str:
        key = lock_key if lock_key is not None else self._core.lock_key
        if key is None:
            raise ValueError("no lock_key: pass one or set the client's lock_key")
        return key
