"""Who may do what: lock keys, the server's token, Host and Origin, lone surrogates;
the transport errors; the OpenAPI description; one existing run served with
``serve_run``."""

from __future__ import annotations

import json
import re
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx
import pytest
from remote_kit import QUICK, SPEED, WAIT, Gates, Served, item, protocol

from hardware.clock import RealClock
from hardware.config import default_config
from hardware.simulated import SimulatedController
from labrun.remote import (
    AsyncRunManagerAPI,
    HTTPClientError,
    HTTPRequestError,
    RequestError,
    RequestFailedError,
    RequestTimeoutError,
    RunManager,
    RunManagerAPI,
    serve_run,
    simulated_robot,
    start_server,
)
from labrun.remote.auth import TokenFileError, read_token_file
from labrun.remote.served import ServedRun
from labrun.remote.server import is_loopback
from labrun.remote.spec import ENDPOINTS
from protocol_api.execute import create_run
from protocol_api.loader import load_protocol


def test_environment_lock_needs_the_key_for_run_actions(served: Served, gates: Gates) -> None:
    c = served.client
    reply = c.lock("secret", environment=True, user="ana", note="calibrating")
    assert reply["lock_info"]["environment"] and not reply["lock_info"]["queue"]
    assert reply["lock_info"]["user"] == "ana" and "secret" not in str(reply)
    assert c.status()["lock"] == {"environment": True, "queue": False}
    c.queue_item_add(item('p300.pick_up_tip()\ngates.wait("held")\np300.drop_tip()'))
    with pytest.raises(RequestFailedError, match="environment is locked by ana"):
        c.queue_start()
    with pytest.raises(RequestFailedError, match="different lock_key"):
        c.queue_start(lock_key="guess")
    assert c.queue_start(lock_key="secret")["success"]
    gates.reached("held")
    other = served.api()
    with pytest.raises(RequestFailedError, match="locked"):
        other.re_pause("immediate")
    assert other.status()["run_status"] == "running"
    other.lock_key = "secret"  # the client's default key goes with every locked call
    assert other.re_pause("immediate")["success"]
    assert other.wait_for_idle_or_paused(timeout=WAIT)["run_status"] == "paused"
    other.re_resume()
    gates.open("held")
    other.wait_for_idle(timeout=WAIT)
    other.close()


def test_queue_lock_and_unlock(served: Served) -> None:
    c = served.client
    c.lock_queue("k1")
    with pytest.raises(RequestFailedError, match="queue is locked"):
        c.queue_item_add(QUICK)
    with pytest.raises(RequestFailedError, match="queue is locked"):
        c.history_clear()
    assert c.queue_item_add(QUICK, lock_key="k1")["success"]
    with pytest.raises(RequestFailedError, match="already locked"):
        c.lock("k2", environment=True)
    assert c.lock("k1", environment=True, queue=True)["lock_info"]["environment"]  # re-lock
    with pytest.raises(RequestFailedError, match="nothing to lock"):
        c.lock("k1")
    assert c.lock_info()["lock_info"]["queue"] is True
    assert c.lock_info("k1")["success"]
    with pytest.raises(RequestFailedError, match="not the one"):
        c.lock_info("k2")
    with pytest.raises(RequestFailedError, match="wrong lock_key"):
        c.unlock("k2")
    assert c.status()["lock"] == {"environment": True, "queue": True}
    assert c.unlock("k1")["lock_info"]["queue"] is False
    assert c.unlock("anything")["success"]  # unlocking an unlocked manager is no error
    assert c.queue_clear()["success"]
    with pytest.raises(ValueError, match="no lock_key"):
        c.lock(environment=True)


def test_the_emergency_key_unlocks_without_the_lock_key(served: Served) -> None:
    c = served.client
    c.lock_all("lost key")
    assert c.lock_info()["lock_info"]["emergency_lock_key_is_set"] is True
    with pytest.raises(RequestFailedError, match="locked"):
        c.queue_clear(lock_key="EMERGENCY")  # it unlocks; it does not open calls
    assert c.unlock("EMERGENCY")["success"]
    assert c.status()["lock"] == {"environment": False, "queue": False}


def test_an_emergency_halt_is_never_held_up_by_a_lock(served: Served, gates: Gates) -> None:
    """A halt takes one request whatever is locked, with no key; the token is still
    needed. An abort stays locked, but the server's emergency key opens it."""
    c = served.client
    c.queue_item_add(item('p300.pick_up_tip()\ngates.wait("aborted")', "aborted.py"))
    c.queue_item_add(item('p300.pick_up_tip()\ngates.wait("halted")', "halted.py"))
    c.queue_start()
    gates.reached("aborted")
    c.lock("K1", environment=True, queue=True, user="ana")
    with pytest.raises(RequestFailedError, match="environment is locked by ana; pass"):
        c.re_abort("enough")
    with pytest.raises(RequestFailedError, match="with a different lock_key"):
        c.re_abort("enough", lock_key="guess")
    assert c.re_abort("enough", lock_key="EMERGENCY")["success"]
    gates.open("aborted")
    assert c.wait_for_idle(timeout=WAIT)["lock"] == {"environment": True, "queue": True}
    c.queue_start(lock_key="K1")
    gates.reached("halted")
    halt = served.url + "/api/re/halt"
    anonymous = httpx.post(halt, json={})
    assert anonymous.status_code == 401  # a credential still goes with every change
    assert c.status()["run_status"] == "running"
    token = {"Authorization": f"Bearer {served.handle.token}"}
    answer = httpx.post(halt, json={}, headers=token)  # no lock_key at all
    assert (answer.status_code, answer.json()["success"]) == (200, True)
    gates.open("halted")
    status = c.wait_for_idle(timeout=WAIT)
    assert [h["result"]["exit_status"] for h in c.history_get()["items"]] == \
        ["aborted", "halted"]
    assert status["lock"] == {"environment": True, "queue": True}  # the lock stands
    documented = httpx.get(served.url + "/openapi.json").json()["paths"]
    assert "description" not in documented["/api/re/halt"]["post"]  # no lock refuses it
    assert "or the server's emergency lock key" in (
        documented["/api/re/abort"]["post"]["description"])


def test_request_fail_exceptions_off_returns_the_refusal(served: Served) -> None:
    c = served.api(request_fail_exceptions=False)
    reply = c.queue_start()
    assert reply == {"success": False, "msg": "the queue is empty"}
    c.request_fail_exceptions = True
    with pytest.raises(RequestFailedError, match="Request failed: the queue is empty") as err:
        c.queue_start()
    assert err.value.response["success"] is False
    c.close()


def test_every_change_needs_the_token_on_loopback_too() -> None:
    robot = simulated_robot(default_config(), speed=SPEED)
    with start_server(RunManager(robot), token="t0ken") as handle:
        anonymous = RunManagerAPI(handle.url)
        assert anonymous.status()["manager_state"] == "idle"  # reads are open on loopback
        for change in (anonymous.queue_clear, lambda: anonymous.queue_item_add(QUICK),
                       anonymous.re_halt, lambda: anonymous.unlock("t0ken")):
            with pytest.raises(HTTPClientError, match=r"401.*token is required") as err:
                change()
            assert err.value.status_code == 401
        wrong = RunManagerAPI(handle.url, token="nope")
        with pytest.raises(HTTPClientError, match=r"401.*the token given is not this server's"):
            wrong.queue_clear()
        assert anonymous.status()["items_in_queue"] == 0
        right = RunManagerAPI(handle.url, token="t0ken")
        assert right.queue_item_add(QUICK)["success"]
        assert right.wait_for_idle(timeout=WAIT)["items_in_queue"] == 1
        for client in (anonymous, wrong, right):
            client.close()


def test_a_server_always_has_a_token_and_beyond_loopback_reads_need_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    robot = simulated_robot(default_config(), speed=SPEED)
    with start_server(RunManager(robot), announce=True) as handle:
        assert handle.token and len(handle.token) >= 24
        assert handle.token_url == f"{handle.url}/?token={handle.token}"
        assert handle.token_url in capsys.readouterr().err  # as labrun serve prints it
    with start_server(RunManager(robot), host="0.0.0.0", announce=True) as handle:
        url = f"http://127.0.0.1:{handle.port}"
        printed = capsys.readouterr().err  # 0.0.0.0 is no address to open: name and loopback
        assert f"serving on all addresses of this machine, port {handle.port}" in printed
        assert f"http://{socket.gethostname()}:{handle.port}/?token={handle.token}" in printed
        assert f"{url}/?token={handle.token}" in printed and "0.0.0.0" not in printed
        page = httpx.get(url + "/")  # a browser without the token: a page saying how
        assert page.status_code == 401 and page.headers["content-type"].startswith("text/html")
        assert "the server&#x27;s token is required" in page.text and "/?token=" in page.text
        wrong = httpx.get(url + "/api/status", params={"token": "wrong"}).json()["msg"]
        assert wrong.startswith("the token given is not this server's")
        with pytest.raises(HTTPClientError, match="401"):
            RunManagerAPI(url).status()
        assert RunManagerAPI(url, token=handle.token).status()["success"]
        assert RunManagerAPI(f"{url}/?token={handle.token}").status()["success"]


def test_other_sites_and_other_host_names_are_refused(served: Served) -> None:
    bearer = {"Authorization": f"Bearer {served.handle.token}"}
    url = served.url + "/api/queue/item/add"
    body = json.dumps({"item": QUICK})
    for headers, status, reason in (
            ({"Origin": "http://evil.example"}, 403, "cross-origin"),
            ({"Origin": "null"}, 403, "cross-origin"),
            ({"Host": "evil.example:8790"}, 403, "not an address this server is bound to"),
            ({"Content-Type": "text/plain"}, 415, "application/json"),  # a simple request
            ({"Content-Type": ""}, 415, "application/json")):
        answer = httpx.post(url, content=body,
                            headers={**bearer, "Content-Type": "application/json", **headers})
        assert answer.status_code == status and reason in answer.json()["msg"], answer.text
    answer = httpx.get(served.url + "/api/status", headers={"Host": "rebound.example"})
    assert answer.status_code == 403
    assert served.client.status()["items_in_queue"] == 0
    same_site = {**bearer, "Origin": served.url, "Content-Type": "application/json"}
    assert httpx.post(url, content=body, headers=same_site).json()["success"]
    localhost = {**same_site, "Host": f"localhost:{served.handle.port}",
                 "Origin": f"http://localhost:{served.handle.port}"}
    assert httpx.post(served.url + "/api/queue/clear", json={},
                      headers=localhost).json()["success"]


def test_a_page_opened_with_the_token_url_keeps_it_in_a_cookie(served: Served) -> None:
    token = served.handle.token
    with httpx.Client(base_url=served.url) as page:
        assert page.post("/api/queue/clear", json={}).status_code == 401
        assert page.get("/api/status", params={"token": "wrong"}).status_code == 200
        assert "labrun_token" not in page.cookies
        assert page.get("/api/status", params={"token": token}).status_code == 200
        assert page.cookies["labrun_token"] == token
        assert page.post("/api/queue/clear", json={}).json()["success"]
    with httpx.Client(base_url=served.url, cookies={"labrun_token": "stale"}) as stale:
        assert stale.post("/api/queue/clear", params={"token": token},
                          json={}).status_code == 401  # a query token is for GETs only
    refused = httpx.post(served.url + "/api/queue/clear", params={"token": token}, json={})
    assert refused.status_code == 401  # the right token, in the wrong place: said so
    assert refused.json()["msg"].startswith("a token in the URL is taken for GETs only")
    stale_url = httpx.get(served.url + "/", params={"token": "from-last-week"})
    assert stale_url.status_code == 401  # loopback: reads need no token, but this one fails
    assert "the token given is not this server" in stale_url.text
    assert "labrun_token" not in stale_url.cookies


def test_the_token_url_carries_a_token_with_url_characters_as_it_is() -> None:
    # A token given with --token such as "lab+robot&1#2": the URL labrun serve printed
    # read back as "lab robot" (the rest another parameter, or the fragment), and the
    # client and the page given it were told "the token given is not this server's".
    token = "lab+robot&1#2 %41"
    robot = simulated_robot(default_config(), speed=SPEED)
    try:
        with start_server(RunManager(robot), token=token) as handle:
            with RunManagerAPI(handle.token_url) as client:
                assert client.queue_clear()["success"]
            with httpx.Client() as page:
                assert page.get(handle.token_url).status_code == 200
                assert page.post(handle.url + "/api/queue/clear", json={}).json()["success"]
            assert handle.token_url == f"{handle.url}/?token=lab%2Brobot%261%232%20%2541"
    finally:
        robot.close()


def test_a_head_is_a_read_and_the_event_stream_s_ends(served: Served) -> None:
    # A HEAD needed the token on loopback, as a change does (and a token in its URL was
    # "taken for GETs only"). A HEAD of the event stream subscribed and never ended: the
    # next request on its connection got no answer, and the subscriber stayed for good.
    with httpx.Client(base_url=served.url) as reader:
        for path in ("/", "/api/status", "/api/queue/get", "/openapi.json"):
            assert reader.head(path).status_code == 200, path
        assert reader.head("/api/status",
                           params={"token": served.handle.token}).status_code == 200
        stream = reader.head("/api/stream")
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        assert reader.get("/api/status").json()["success"]  # on the same connection
    assert len(served.manager.hub) == 0  # no subscriber left behind


NOT_ASCII = "the token must be printable ASCII, as an HTTP header carries it; 'ü' is not"
SPACED = "the token must not start or end with a space, which an HTTP header drops"


@pytest.mark.parametrize(("token", "problem"), [("schlüssel", NOT_ASCII), ("lab ", SPACED)])
def test_a_token_no_header_can_carry_is_refused_where_it_is_given(
        token: str, problem: str, tmp_path: Path) -> None:
    # Taken, such a token shut every client out: each call raised httpx's
    # UnicodeEncodeError, or "Illegal header value" for the space.
    robot = simulated_robot(default_config(), speed=SPEED)
    try:
        with pytest.raises(ValueError, match=re.escape(problem)):
            start_server(RunManager(robot), token=token)
    finally:
        robot.close()
    with pytest.raises(ValueError, match=re.escape(problem)):
        RunManagerAPI("http://127.0.0.1:8790", token=token)
    made = tmp_path / "token"
    made.write_text("schlüssel\n")
    made.chmod(0o600)
    with pytest.raises(TokenFileError, match=re.escape(f"{made}: {NOT_ASCII}")):
        read_token_file(made)


def test_lone_surrogates_are_a_400_and_the_token_always_clears_a_lock(served: Served) -> None:
    bearer = {"Authorization": f"Bearer {served.handle.token}",
              "Content-Type": "application/json"}
    for path, body in (("/api/lock", '{"lock_key": "\\ud800", "environment": true}'),
                       ("/api/unlock", '{"lock_key": "\\udfff"}'),
                       ("/api/queue/item/add", '{"item": {"name": "a.py", "source": '
                                               '"x = \'\\ud800\'"}}'),
                       ("/api/queue/item/add", '{"item": {"name": "a.py", "source": "", '
                                               '"labware": {"l.json": "\\udc80"}}}'),
                       ("/api/re/abort", '{"reason": "\\ud83d"}'),
                       ("/api/lock", '{"lock_key": "k", "environment": true, '
                                     '"\\ud800": 1}')):
        answer = httpx.post(served.url + path, content=body, headers=bearer)
        assert answer.status_code == 400 and "lone surrogate" in answer.json()["msg"], path
    c = served.client
    assert c.status()["lock"] == {"environment": False, "queue": False}
    assert c.lock_all("\U0001f512 forgotten")["success"]  # a real astral character is fine
    with pytest.raises(RequestFailedError, match="wrong lock_key"):
        c.unlock("guess")
    assert c.unlock(served.handle.token)["success"]  # the token holder clears any lock
    assert c.status()["lock"] == {"environment": False, "queue": False}


def test_the_clients_say_which_parameter_holds_a_lone_surrogate(served: Served) -> None:
    # A protocol read with errors="surrogateescape" (a latin-1 byte in a UTF-8 file): the
    # clients raised httpx's UnicodeEncodeError, 'position 327' of a JSON body, no parameter.
    source = protocol("ctx.comment('caf\xe9')").encode("latin-1").decode(
        "utf-8", "surrogateescape")
    said = ("item.source holds a lone surrogate ('\\udce9'), which is not text: no request "
            "carries it (the server refuses it, 400)")
    with pytest.raises(RequestError) as raised:
        served.client.queue_item_add({"name": "cafe.py", "source": source})
    assert str(raised.value) == said

    async def through_the_async_client() -> None:
        async with AsyncRunManagerAPI(served.url, token=served.handle.token) as client:
            with pytest.raises(RequestError, match=re.escape(
                    "reason holds a lone surrogate ('\\udce9')")):
                await client.re_abort("caf\udce9")

    anyio.run(through_the_async_client)
    assert served.client.status()["items_in_queue"] == 0


def test_token_files_only_the_user_can_read(tmp_path: Path) -> None:
    made = tmp_path / "token"
    token = read_token_file(made)
    assert len(token) >= 24 and stat.S_IMODE(made.stat().st_mode) == 0o600
    assert read_token_file(made) == token
    made.chmod(0o644)
    with pytest.raises(TokenFileError, match="others may read it"):
        read_token_file(made)
    made.chmod(0o600)
    robot = simulated_robot(default_config(), speed=SPEED)
    with start_server(RunManager(robot), token=token) as handle, \
            RunManagerAPI(handle.url, token_file=made) as client:
        assert client.queue_clear()["success"]


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A socket that accepts connections and never answers."""
    listener = socket.create_server(("127.0.0.1", 0))
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def test_transport_failures_name_the_server_never_the_token(silent_server: str) -> None:
    with pytest.raises(RequestTimeoutError) as late:
        RunManagerAPI(silent_server + "/?token=s3cret", timeout=0.2).status()
    assert str(late.value) == (f"Request timeout: the server at {silent_server} did not "
                               "answer in time (ReadTimeout)")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    said = (f"cannot reach the server at http://127.0.0.1:{port}: Connection refused "
            "(ConnectError)")
    with pytest.raises(HTTPRequestError) as refused:
        RunManagerAPI(f"http://127.0.0.1:{port}/?token=s3cret").status()
    assert str(refused.value) == said

    async def through_the_async_client() -> None:
        async with AsyncRunManagerAPI(f"http://127.0.0.1:{port}", token="s3cret") as c:
            with pytest.raises(HTTPRequestError) as refused:
                await c.status()
            assert str(refused.value) == said
            with pytest.raises(HTTPRequestError) as refused:
                async with c.stream():
                    pass
            assert str(refused.value) == said

    anyio.run(through_the_async_client)


def test_openapi_and_unknown_routes(served: Served) -> None:
    document = httpx.get(served.url + "/openapi.json").json()
    assert document["openapi"].startswith("3.")
    for endpoint in ENDPOINTS:
        operation = document["paths"][endpoint.path][endpoint.method.lower()]
        assert operation["operationId"] == endpoint.name
        # every change needs the token; on loopback a read needs none
        needs: list[dict[str, list[str]]] = [{"bearer": []}, {"cookie": []}] \
            if endpoint.method == "POST" else []
        assert operation["security"] == needs
        assert ("401" in operation["responses"]) == (endpoint.method == "POST")
    assert "security" not in document
    assert document["paths"]["/api/stream"]["get"]["security"] == []
    name = re.compile(document["components"]["schemas"]["Item"]["properties"]["name"]
                      ["pattern"])
    assert name.fullmatch("dilution v2.py") and not name.fullmatch("dilution.txt")
    assert not name.fullmatch("../up.py") and not name.fullmatch(".py")
    for usual in ("Verdünnung.py", "2024-05-01 run(1).py", "_draft.py", "P.PY"):
        assert name.fullmatch(usual), usual
        added = served.client.queue_item_add({"name": usual, "source": QUICK["source"]})
        assert added["item"]["name"] == usual  # loaded and simulated under its own name
    for refused in ("../up.py", "a\\b.py", ".hidden.py", " x.py", "x\x01.py",
                    "n" * 125 + ".py"):  # (the length said too: the name is cut below)
        with pytest.raises(HTTPClientError) as info:
            served.client.queue_item_add({"name": refused, "source": QUICK["source"]})
        assert str(info.value).endswith(
            "item.name must be a file name ending in .py, of at most 127 characters, with no "
            "folder or control character in it, not starting with a dot or a space, not "
            f"{refused[:80]!r}"), refused
    # As long as a file system holds, counted in bytes: 124 emoji are 499 bytes of UTF-8.
    item_schema = document["components"]["schemas"]["Item"]["properties"]
    assert item_schema["name"]["description"] == "at most 255 bytes of UTF-8"
    longest = "é" * 124 + ".py"  # 251 bytes
    assert served.client.queue_item_add({"name": longest, "source": QUICK["source"]})
    for field, added in (("item.name", {"name": "\U0001f600" * 124 + ".py"}),
                         ("item.labware", {"name": "x.py", "labware": {
                             "\U0001f600" * 118 + ".json": "{}"}})):
        with pytest.raises(HTTPClientError) as info:
            served.client.queue_item_add({"source": QUICK["source"], **added})
        assert info.value.status_code == 422
        assert str(info.value).endswith(
            f"{field}: {chr(0x1f600) * 40!r}... is "
            f"{499 if field == 'item.name' else 477} bytes in UTF-8; a file name holds at "
            "most 255"), str(info.value)
    missing = httpx.post(served.url + "/api/re/dance", json={})
    assert missing.status_code == 404 and "no such endpoint" in missing.json()["msg"]
    wrong_method = httpx.get(served.url + "/api/re/pause")
    assert wrong_method.status_code == 405 and wrong_method.json()["success"] is False


def test_a_trailing_slash_is_a_404_that_names_the_endpoint(served: Served) -> None:
    """Starlette answered /api/status/ with a 307 to /api/status, no body: a client that
    does not follow it (curl, a POST) was told nothing. Every route, its own method."""
    routes = {(e.method, e.path) for e in ENDPOINTS}
    routes |= {("GET", "/"), ("GET", "/api/deck.svg"), ("GET", "/api/stream"),
               ("GET", "/openapi.json")}
    headers = {"Authorization": f"Bearer {served.handle.token}"}
    for method, path in sorted(routes):
        for slashed in ([path + "/", path + "//"] if path != "/" else []):
            answer = httpx.request(method, served.url + slashed, headers=headers, json={})
            assert answer.status_code == 404, (method, slashed)
            assert answer.json() == {"success": False, "msg": (
                f"no such endpoint {slashed}: the endpoint is {path}, without the trailing "
                "slash")}, (method, slashed)
    # where no route is, as before
    answer = httpx.get(served.url + "/api/nothing/", headers=headers)
    assert answer.json()["msg"] == "no such endpoint /api/nothing/; see /openapi.json"


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0"])
def test_the_openapi_document_says_which_calls_need_the_token(host: str) -> None:
    """What the document declares is what the server does: an operation with security
    refuses a call without the token (401); one without security answers it."""
    robot = simulated_robot(default_config(), speed=SPEED)
    with start_server(RunManager(robot), host=host) as handle:
        url = f"http://127.0.0.1:{handle.port}"
        document = httpx.get(url + "/openapi.json").json()
        schemes = document["components"]["securitySchemes"]
        assert schemes["bearer"] == {"type": "http", "scheme": "bearer"}
        assert schemes["cookie"]["in"] == "cookie" and schemes["query"]["in"] == "query"
        read_needs: list[dict[str, list[str]]] = [] if host == "127.0.0.1" else [
            {"bearer": []}, {"cookie": []}, {"query": []}]
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                needs = [{"bearer": []}, {"cookie": []}] if method == "post" else read_needs
                assert operation["security"] == needs, (method, path)
                assert ("401" in operation["responses"]) == bool(needs), (method, path)
                with httpx.stream(method.upper(), url + path, json={} if method == "post"
                                  else None, timeout=WAIT) as answer:
                    assert (answer.status_code == 401) == bool(needs), (method, path)
        labware = document["components"]["schemas"]["Item"]["properties"]["labware"]
        pattern = re.compile(labware["propertyNames"]["pattern"])
        assert pattern.fullmatch("my plate.json") and not pattern.fullmatch("plate.py")


def test_serve_run_controls_one_existing_run(gates: Gates, tmp_path: object) -> None:
    config = default_config()
    path = tmp_path / "one.py"  # type: ignore[operator]
    path.write_text(protocol('p300.pick_up_tip()\ngates.wait("one")\np300.drop_tip()'))
    clock = RealClock(SPEED)
    run = create_run(load_protocol(path), config=config,
                     controller=SimulatedController(config, clock), clock=clock)
    try:
        with serve_run(run, port=0) as handle:
            gates.watch(handle.manager)
            c = RunManagerAPI(handle.url, token=handle.token)
            status = c.status()
            assert status["mode"] == "single_run" and status["manager_state"] == "idle"
            assert status["run_status"] == "idle"
            with pytest.raises(RequestFailedError, match="single run"):
                c.queue_item_add(QUICK)
            assert c.queue_start()["run_status"] == "running"  # plays the idle run
            gates.reached("one")
            assert c.re_pause("immediate")["success"]
            assert c.wait_for_idle_or_paused(timeout=WAIT)["manager_state"] == "paused"
            c.re_resume()
            gates.open("one")
            status = c.wait_for_idle(timeout=WAIT)
            assert status["run_status"] == "succeeded" and status["items_in_history"] == 1
            with pytest.raises(RequestFailedError, match="already ended"):
                c.re_pause()
            c.close()
    finally:
        gates.open_all()
        run.close()


def test_closing_the_server_ends_streams_and_aborts_the_running_run(gates: Gates) -> None:
    robot = simulated_robot(default_config(), speed=SPEED)
    manager = RunManager(robot)
    gates.watch(manager)
    handle = start_server(manager)
    client = RunManagerAPI(handle.url, token=handle.token)
    client.queue_item_add(item('p300.pick_up_tip()\ngates.wait("held")\np300.drop_tip()'))
    client.queue_start()
    gates.reached("held")
    active = manager.active
    assert isinstance(active, ServedRun)  # a run of the test's process
    ended: list[str] = []
    listening = threading.Event()

    def idle(status: dict[str, object]) -> bool:
        listening.set()
        return status["manager_state"] == "idle"

    def listen() -> None:
        with RunManagerAPI(handle.url, token=handle.token) as other:
            try:
                other.wait_for(idle, timeout=WAIT)
            except HTTPRequestError as exc:
                ended.append(str(exc))

    listener = threading.Thread(target=listen)
    listener.start()
    assert listening.wait(WAIT)
    started = time.monotonic()
    handle.close()  # the protocol is held at its gate: it cannot finish by itself
    listener.join(WAIT)
    assert time.monotonic() - started < 3  # the protocol thread's grace is 0.5 s
    assert ended == [f"the server at {handle.url} closed the event stream"]
    assert active.run.control.status().status.value == "aborted"
    client.close()
