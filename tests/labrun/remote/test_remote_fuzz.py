"""Hypothesis fuzzes the endpoints: every malformed request gets a 4xx with a reason,
and the manager is exactly as it was (status, queue, history, locks)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hardware.config import default_config
from labrun.remote import RunManager, ServerHandle, simulated_robot, start_server
from labrun.remote.spec import ENDPOINTS, Endpoint, Param

POSTS = [e for e in ENDPOINTS if e.method == "POST"]
GETS = [e for e in ENDPOINTS if e.method == "GET"]
VOLATILE = ("changed_at",)

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
    with start_server(RunManager(robot), max_body=4096) as handle:
        with httpx.Client(base_url=handle.url) as http:
            source = 'metadata = {"apiLevel": "2.15"}\ndef run(ctx):\n    pass\n'
            assert http.post("/api/queue/item/add", json={
                "item": {"name": "kept.py", "source": source}}).json()["success"]
            assert http.post("/api/lock", json={"lock_key": "k", "queue": True}).json()["success"]
        yield handle


@pytest.fixture(scope="module")
def http(server: ServerHandle) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url) as client:
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


def test_oversized_bodies_and_wrong_content_types(server: ServerHandle) -> None:
    with httpx.Client(base_url=server.url) as http:  # its own: a 413 may close the connection
        before = snapshot(http)
        big = json.dumps({"item": {"name": "big.py", "source": "#" * 5000}}).encode()
        answer = http.post("/api/queue/item/add", content=big,
                           headers={"Content-Type": "application/json"})
        assert answer.status_code == 413 and "larger than 4096" in answer.json()["msg"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(10):
                yield b" " * 1000

        answer = http.post("/api/queue/clear", content=chunks())
        assert answer.status_code == 413
        answer = http.post("/api/queue/clear", content=b'{"lock_key": "k"}',
                           headers={"Content-Type": "text/plain"})
        assert answer.status_code == 415
        answer = http.post("/api/re/pause", content=b'{"option": NaN}',
                           headers={"Content-Type": "application/json"})
        assert answer.status_code == 400 and "NaN" in answer.json()["msg"]
        assert snapshot(http) == before
