"""Hypothesis fuzzes the endpoints: every malformed request gets a 4xx with a reason,
and the manager is exactly as it was (status, queue, history, locks).

The server under fuzz holds one queued item and is locked (queue and environment) with a
key the fuzz cannot guess, so a well-formed request is refused too (200, success false):
whatever the request, nothing may change and nothing may answer 5xx. The requests
include lone surrogates, numbers beyond any float or int limit, deep nesting, and the
headers a browser on another site would send.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote_from_bytes

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware.config import default_config
from labrun.remote import RunManager, ServerHandle, simulated_robot, start_server
from labrun.remote.spec import ENDPOINTS, STREAM_PARAMS, STREAM_PATH, Endpoint, Param

POSTS = [e for e in ENDPOINTS if e.method == "POST"]
GETS = [e for e in ENDPOINTS if e.method == "GET"]
VOLATILE = ("changed_at",)
LOCK_KEY = secrets.token_urlsafe(16)
MAX_BODY = 200_000
"""The fuzzed server's body limit: room for deep nesting and 5,000-digit numbers."""
STREAM = Endpoint("stream", "GET", STREAM_PATH, "", STREAM_PARAMS)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=3),
    max_leaves=8)


def wrong_value(param: Param) -> st.SearchStrategy[Any]:
    """A non-null JSON value that ``param`` must refuse."""
    if param.kind in ("string", "text"):
        return json_values.filter(lambda v: v is not None and not isinstance(v, str))
    if param.kind == "option":
        return json_values.filter(lambda v: v is not None and v not in param.choices)
    if param.kind == "boolean":
        return json_values.filter(lambda v: v is not None and not isinstance(v, bool))
    if param.kind == "position":
        return json_values.filter(lambda v: v is not None and v not in ("front", "back") and (
            isinstance(v, bool) or not isinstance(v, int)))
    assert param.kind == "item"
    return st.one_of(
        json_values.filter(lambda v: v is not None and not isinstance(v, dict)),
        st.fixed_dictionaries({"name": st.just("a.py")}),  # no source
        st.fixed_dictionaries({"name": st.text(max_size=10).filter(
            lambda n: not n.endswith(".py")), "source": st.just("")}),
        st.fixed_dictionaries({"name": st.just("../up.py"), "source": st.just("")}),
        st.fixed_dictionaries({"name": st.just("a.py"), "source": st.just(""),
                               "extra": json_values}),
        st.fixed_dictionaries({"name": st.just("a.py"), "source": st.just(""),
                               "labware": st.dictionaries(st.just("x.json"), st.integers(),
                                                          min_size=1)}))


@st.composite
def bad_request(draw: st.DrawFn) -> tuple[Endpoint, bytes, str]:
    """An endpoint and a body with at least one defect."""
    endpoint = draw(st.sampled_from(POSTS))
    known = {p.name for p in endpoint.params}
    kind = draw(st.sampled_from(["not json", "not an object", "unknown key", "wrong type",
                                 "missing"]))
    if kind == "missing" and not any(p.required for p in endpoint.params):
        kind = "unknown key"
    if kind == "not json":
        body = draw(st.binary(min_size=1, max_size=40).filter(_not_json))
        return endpoint, body, kind
    if kind == "not an object":
        value = draw(json_values.filter(lambda v: not isinstance(v, dict) and v is not None))
        return endpoint, json.dumps(value).encode(), kind
    fields: dict[str, Any] = {}
    if kind == "unknown key":
        key = draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in known))
        fields[key] = draw(json_values)
    elif kind == "wrong type":
        param = draw(st.sampled_from(endpoint.params))
        fields[param.name] = draw(wrong_value(param))
    else:
        required = [p.name for p in endpoint.params if p.required]
        fields = {p.name: draw(wrong_value(p)) for p in endpoint.params
                  if not p.required and draw(st.booleans()) and p.kind != "item"}
        fields.pop(draw(st.sampled_from(required)), None)
    return endpoint, json.dumps(fields).encode(), kind


def _not_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return bool(data.strip())
    return False


@pytest.fixture(scope="module")
def server() -> Iterator[ServerHandle]:
    robot = simulated_robot(default_config(), speed=50)
    with start_server(RunManager(robot), max_body=MAX_BODY) as handle:
        with httpx.Client(base_url=handle.url, headers=auth(handle)) as http:
            source = 'metadata = {"apiLevel": "2.15"}\ndef run(ctx):\n    pass\n'
            assert http.post("/api/queue/item/add", json={
                "item": {"name": "kept.py", "source": source}}).json()["success"]
            assert http.post("/api/lock", json={"lock_key": LOCK_KEY, "queue": True,
                                                "environment": True}).json()["success"]
        yield handle


def auth(handle: ServerHandle) -> dict[str, str]:
    return {"Authorization": f"Bearer {handle.token}"}


@pytest.fixture(scope="module")
def http(server: ServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers=auth(server)) as client:
        yield client


def snapshot(http: httpx.Client) -> Any:
    status = http.get("/api/status").json()
    for key in VOLATILE:
        status.pop(key)
    return (status, http.get("/api/queue/get").json(), http.get("/api/history/get").json(),
            http.post("/api/lock/info").json())


@settings(max_examples=150, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(request=bad_request())
def test_bad_bodies_get_4xx_and_change_nothing(http: httpx.Client,
                                               request: tuple[Endpoint, bytes, str]) -> None:
    endpoint, body, kind = request
    before = snapshot(http)
    answer = http.post(endpoint.path, content=body, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, (kind, body, answer.text)
    reply = answer.json()
    assert reply["success"] is False and reply["msg"], reply
    assert snapshot(http) == before


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12).filter(
    lambda a: f"/api/re/{a}" not in {e.path for e in ENDPOINTS}))
def test_unknown_actions_get_404_and_change_nothing(http: httpx.Client, action: str) -> None:
    before = snapshot(http)
    answer = http.post(f"/api/re/{action}", json={})
    assert answer.status_code == 404 and "no such endpoint" in answer.json()["msg"]
    assert snapshot(http) == before


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(GETS),
       query=st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k != "records"),
                             st.text(max_size=8), min_size=1, max_size=2))
def test_unknown_query_parameters_get_422(http: httpx.Client, endpoint: Endpoint,
                                          query: dict[str, str]) -> None:
    answer = http.get(endpoint.path, params=query)
    assert answer.status_code == 422 and "unknown parameter" in answer.json()["msg"]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(endpoint=st.sampled_from(POSTS),
       query=st.dictionaries(st.text(min_size=1, max_size=8).filter(lambda k: k != "token"),
                             st.text(max_size=8), min_size=1, max_size=2))
def test_a_post_s_query_parameters_get_422_and_change_nothing(
        http: httpx.Client, endpoint: Endpoint, query: dict[str, str]) -> None:
    """A POST takes its parameters in its body: ``/api/re/pause?option=immediate`` was
    answered 200 as a deferred pause (the robot went on moving)."""
    before = snapshot(http)
    answer = http.post(endpoint.path, params=query, json={})
    assert answer.status_code == 422, answer.text
    assert "unknown query parameter" in answer.json()["msg"]
    assert snapshot(http) == before


def test_oversized_bodies_and_wrong_content_types(server: ServerHandle) -> None:
    # its own client: a 413 may close the connection
    with httpx.Client(base_url=server.url, headers=auth(server)) as http:
        before = snapshot(http)
        big = json.dumps({"item": {"name": "big.py", "source": "#" * MAX_BODY}}).encode()
        answer = http.post("/api/queue/item/add", content=big,
                           headers={"Content-Type": "application/json"})
        assert answer.status_code == 413
        assert f"larger than {MAX_BODY}" in answer.json()["msg"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b" " * (MAX_BODY // 5)

        answer = http.post("/api/queue/clear", content=chunks(),
                           headers={"Content-Type": "application/json"})
        assert answer.status_code == 413
        answer = http.post("/api/queue/clear", content=b"")  # a form post has no type
        assert answer.status_code == 415
        answer = http.post("/api/queue/clear", content=b'{"lock_key": "k"}',
                           headers={"Content-Type": "text/plain"})
        assert answer.status_code == 415
        answer = http.post("/api/re/pause", content=b'{"option": NaN}',
                           headers={"Content-Type": "application/json"})
        assert answer.status_code == 400 and "NaN" in answer.json()["msg"]
        answer = http.post("/api/queue/item/remove", content=b'{"pos": -1e999}',
                           headers={"Content-Type": "application/json"})
        assert answer.status_code == 400 and "-1e999 is beyond any number" in (
            answer.json()["msg"])
        answer = http.post("/api/queue/item/remove", content=b'{"pos": 1%s}' % (b"0" * 5000),
                           headers={"Content-Type": "application/json"})
        assert answer.json() == {"success": False, "msg": "a number in the body is too long"}
        answer = http.post("/api/re/pause", content='{"option": "immediate"}'.encode("utf-16"),
                           headers={"Content-Type": "application/json"})
        assert (answer.status_code, answer.json()["msg"]) == (400, "the body is not UTF-8 JSON")
        assert snapshot(http) == before


# -- any request to any endpoint ------------------------------------------------------------

def _nested(depth: int, opener: str, closer: str) -> str:
    return opener * depth + "1" + closer * depth if opener == "[" else \
        '{"a":' * depth + "1" + "}" * depth


fragments = st.recursive(
    st.one_of(
        json_values.map(json.dumps),
        st.text(max_size=12).map(json.dumps),  # any code point, lone surrogates included
        st.sampled_from(["\"\\ud800\"", "\"\\udfff\"", "\"a\\ud83d\"", "\"\\u0000\"",
                         "1e400", "-1e400", "1e-400", "NaN", "Infinity", "-0",
                         "18446744073709551616", "1" + "0" * 5000, "-" + "9" * 4400]),
        st.integers(2, 50_000).flatmap(lambda depth: st.sampled_from(
            [_nested(depth, "[", "]"), _nested(depth, "{", "}")])),
    ),
    lambda inner: st.lists(inner, max_size=3).map(lambda xs: "[" + ",".join(xs) + "]")
    | st.dictionaries(st.text(max_size=6).map(json.dumps), inner, max_size=3).map(
        lambda d: "{" + ",".join(f"{k}:{v}" for k, v in d.items()) + "}"),
    max_leaves=6)


@st.composite
def any_body(draw: st.DrawFn, endpoint: Endpoint) -> bytes:
    """A JSON object text naming some of the endpoint's parameters (and maybe others),
    with hostile values; or, rarely, any fragment at all."""
    if draw(st.integers(0, 9)) == 0:
        return draw(fragments).encode("utf-8", "surrogatepass")
    names = [p.name for p in endpoint.params]
    keys = draw(st.lists(st.sampled_from(names) if names else st.nothing(), max_size=4)
                | st.lists(st.text(max_size=6), max_size=2))
    fields = {json.dumps(key): draw(fragments) for key in keys}
    if "lock_key" in names and draw(st.booleans()):
        fields['"lock_key"'] = json.dumps(draw(st.text(max_size=8)))  # never LOCK_KEY
    text = "{" + ",".join(f"{k}:{v}" for k, v in fields.items()) + "}"
    return text.encode("utf-8", "surrogatepass")


@st.composite
def any_query(draw: st.DrawFn, endpoint: Endpoint) -> str:
    """A query string of percent-encoded arbitrary bytes under known or unknown names."""
    names = [p.name for p in endpoint.params] + ["token", "x"]
    pairs = draw(st.dictionaries(st.sampled_from(names), st.one_of(
        st.binary(max_size=12), st.sampled_from([b"1e400", b"nan", b"-inf", b"true", b"9" * 400,
                                                 b"\xed\xa0\x80", b"0.01", b"61"])),
        max_size=3))
    return "&".join(f"{name}={quote_from_bytes(value)}" for name, value in pairs.items())


@st.composite
def any_request(draw: st.DrawFn, token: str, url: str) -> tuple[str, str, bytes | None,
                                                                dict[str, str]]:
    endpoint = draw(st.sampled_from([*ENDPOINTS, STREAM]))
    headers: dict[str, str] = {}
    credential = draw(st.sampled_from(["bearer", "bearer", "bearer", "none", "wrong",
                                       "cookie"]))
    if credential == "bearer":
        headers["Authorization"] = f"Bearer {token}"
    elif credential == "wrong":
        headers["Authorization"] = "Bearer " + draw(st.text(
            alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
            max_size=30))
    elif credential == "cookie":
        headers["Cookie"] = f"labrun_token={token}"
    origin = draw(st.sampled_from([None, None, None, url, "http://evil.example", "null"]))
    if origin is not None:
        headers["Origin"] = origin
    if draw(st.integers(0, 7)) == 0:
        headers["Host"] = draw(st.sampled_from(["evil.example", "127.0.0.1.nip.io:1",
                                                "[::2]:80", ""]))
    if endpoint.method == "GET":
        return "GET", f"{endpoint.path}?{draw(any_query(endpoint))}", None, headers
    headers["Content-Type"] = draw(st.sampled_from(
        ["application/json"] * 6 + ["text/plain", "application/x-www-form-urlencoded",
                                    "application/json; charset=utf-8", ""]))
    return "POST", endpoint.path, draw(any_body(endpoint)), headers


@settings(max_examples=250, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(data=st.data())
def test_any_request_to_any_endpoint_never_5xx_and_changes_nothing(
        server: ServerHandle, http: httpx.Client, data: st.DataObject) -> None:
    method, path, body, headers = data.draw(any_request(server.token, server.url))
    before = snapshot(http)
    with httpx.Client(base_url=server.url) as raw, \
            raw.stream(method, path, content=body, headers=headers) as answer:  # only these
        status = answer.status_code
        text = answer.read().decode() if not path.startswith(STREAM_PATH) \
            or status != 200 else ""
    assert status < 500, (method, path, body and body[:200], headers, text)
    if status >= 400:
        assert json.loads(text)["success"] is False
    assert snapshot(http) == before, (method, path, body and body[:200], headers, status)
