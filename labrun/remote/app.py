"""The ASGI application: routes from ``spec.ENDPOINTS``, the event stream, OpenAPI.

Every request goes through the same gate: ``Host`` and ``Origin`` and the token
(``auth.Access``), the content type (a POST is ``application/json``), the body size
limit, JSON parsing (no lone surrogates) and the parameter check (each parameter, then
how they go together: ``spec.check_request``). Whatever fails there is answered 4xx with
``{"success": false, "msg": reason}`` before the manager sees it, so a bad request changes
nothing; what the manager refuses (the request is well-formed, the queue or the run as
they are now do not allow it) is answered 200 with ``success`` false. A reply holding run
records is written as its records are read (``streamed``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Route

from .auth import TOKEN_QUERY, Access
from .errors import BadRequest
from .manager import RunManager
from .page import routes as page_routes
from .spec import (
    ENDPOINTS,
    STREAM_PARAMS,
    STREAM_PATH,
    Endpoint,
    check_params,
    check_request,
    openapi,
    parse_json_body,
    parse_query,
)
from .streamed import StreamedReply, chunks

API_VERSION = "1.0"
MAX_BODY = 4 * 1024 * 1024
"""Largest request body accepted (a protocol file with its custom labware), in bytes."""
DEFAULT_HEARTBEAT = 15.0
"""Seconds of silence after which the event stream sends a keep-alive comment."""


class JSONReply(Response):
    """A JSON response whose content may hold tuples, sets and enums (run records do)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":"), default=_jsonable,
                          allow_nan=False).encode()


def _jsonable(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if hasattr(value, "value"):
        return value.value
    return str(value)


def create_app(manager: RunManager, access: Access, *, max_body: int = MAX_BODY,
               on_ready: Callable[[], None] | None = None) -> Starlette:
    """The application serving ``manager`` behind ``access``; ``on_ready`` is called once
    it can serve."""
    manager.locks.also_unlocked_by(access.token)

    async def read_body(request: Request) -> bytes:
        length = request.headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                raise BadRequest(400, "Content-Length is not a number")
            if int(length) > max_body:
                raise BadRequest(413, f"the body is larger than {max_body} bytes")
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json":
            raise BadRequest(415, f"the body must be application/json, not {media or 'untyped'}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > max_body:
                raise BadRequest(413, f"the body is larger than {max_body} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def handler(endpoint: Endpoint) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            access.check(request)
            if endpoint.method == "GET":
                params = parse_query(endpoint.params, _single_values(request))
            else:
                query = _single_values(request)
                if query:  # taken nowhere: a pause "?option=immediate" would be deferred
                    raise BadRequest(422, f"unknown query parameter {next(iter(query))!r}: "
                                     f"{endpoint.path} takes its parameters in the JSON body")
                body = parse_json_body(await read_body(request))
                params = check_params(endpoint.params, body)
            params = check_request(endpoint, params)
            try:
                reply = await manager.call(endpoint.name, params)
            except asyncio.CancelledError:  # the server stops with the call unfinished
                return JSONReply({"success": False, "msg": "the server is stopping; the call "
                                  "did not finish"}, 503)
            response = StreamingResponse(chunks(reply), media_type=JSONReply.media_type) \
                if isinstance(reply, StreamedReply) else JSONReply(reply)
            access.keep(request, response)
            return response

        return handle

    async def stream(request: Request) -> Response:
        access.check(request)
        params = parse_query(STREAM_PARAMS, _single_values(request))
        heartbeat = params["heartbeat"] if params["heartbeat"] is not None \
            else DEFAULT_HEARTBEAT
        if not 0.05 <= heartbeat <= 60:
            raise BadRequest(422, "heartbeat must be between 0.05 and 60 seconds")
        if request.method == "HEAD":  # the headers only, not a body that never ends
            return Response(media_type="text/event-stream",
                            headers={"Cache-Control": "no-cache"})
        subscriber = manager.subscribe(bool(params["records"]), bool(params["progress"]))

        async def body() -> AsyncIterator[bytes]:
            try:
                async for chunk in subscriber.chunks(heartbeat):
                    yield chunk
            finally:
                manager.unsubscribe(subscriber)

        response = StreamingResponse(body(), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-cache"})
        access.keep(request, response)
        return response

    document = openapi(API_VERSION, reads_need_token=access.reads_need_token)

    async def openapi_json(request: Request) -> Response:
        return JSONReply(document)

    async def bad_request(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, BadRequest)
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONReply({"success": False, "msg": exc.reason}, exc.status, headers=headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            meant = _without_slash(request, routes)
            msg = (f"no such endpoint {request.url.path}; see /openapi.json" if meant is None
                   else f"no such endpoint {request.url.path}: the endpoint is {meant}, "
                        "without the trailing slash")
        elif exc.status_code == 405:
            msg = f"{request.url.path} does not take {request.method}"
        else:
            msg = str(exc.detail)
        return JSONReply({"success": False, "msg": msg}, exc.status_code, headers=exc.headers)

    async def server_error(request: Request, exc: Exception) -> Response:
        return JSONReply({"success": False, "msg": f"internal error: {type(exc).__name__}: "
                                                   f"{exc}"}, 500)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with manager.running():
            if on_ready is not None:
                on_ready()
            yield

    routes = [Route(e.path, handler(e), methods=[e.method]) for e in ENDPOINTS]
    routes += page_routes(access, manager.sheet_of)  # the live page at /
    routes += [Route(STREAM_PATH, stream, methods=["GET"]),
               Route("/openapi.json", openapi_json, methods=["GET"])]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={
        BadRequest: bad_request, HTTPException: http_error, Exception: server_error})
    # A trailing slash is a path no route serves: its 404 names the endpoint, where
    # Starlette's redirect (307, no body) left a client that does not follow it with none.
    app.router.redirect_slashes = False
    return app


def _without_slash(request: Request, routes: Sequence[BaseRoute]) -> str | None:
    """The request's path without its trailing slashes, if a route serves that path."""
    path = request.url.path.rstrip("/")
    if not path or path == request.url.path:
        return None
    scope = {**request.scope, "path": path}
    if any(route.matches(scope)[0] is not Match.NONE for route in routes):
        return path
    return None


def _single_values(request: Request) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name == TOKEN_QUERY:
            continue  # the credential, checked by the gate
        if name in values:
            raise BadRequest(422, f"parameter {name!r} is given more than once")
        values[name] = value
    return values
