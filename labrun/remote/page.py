"""The live page of ``labrun serve``: ``/`` and the deck picture it shows.

``/`` is one HTML file with its script and style inline (``page.html``, package data; no
library, no build step). It follows ``/api/stream?progress=true`` (status, progress,
command and comment events; it never polls) and acts through the API like any client:
its POSTs carry the ``labrun_token`` cookie the token URL set, as JSON, and a lock key
when one is given. A Content-Security-Policy lets only that inline script run and only this server
be reached. ``/api/deck.svg?item_uid=`` is the deck of a run as ``labrun simulate
--deck`` draws it, each well marked with ``data-well`` so the page colours those done.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from collections.abc import Callable
from importlib import resources
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from labrun.cli import deck_svg

from .auth import WRONG_TOKEN, Access
from .errors import BadRequest

PAGE_PATH = "/"
DECK_PATH = "/api/deck.svg"
PAGE_DECKS_PER_ROW = 1
"""Decks side by side in ``/api/deck.svg`` (``labrun simulate --deck`` draws three)."""

Sheet = dict[str, Any]

INERT_HEADERS = {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'",
                 "X-Content-Type-Options": "nosniff"}
"""Headers of a document that runs nothing and loads nothing (the deck, a refusal)."""


def page_html() -> str:
    """The page's HTML, as shipped with the package."""
    return resources.files("labrun.remote").joinpath("page.html").read_text(encoding="utf-8")


def _hashes(page: str, tag: str) -> str:
    """The CSP sources allowing exactly the inline ``<tag>`` blocks of ``page``."""
    blocks = re.findall(rf"<{tag}>(.*?)</{tag}>", page, flags=re.S)
    return " ".join("'sha256-" + base64.b64encode(hashlib.sha256(b.encode()).digest()).decode()
                    + "'" for b in blocks)


def security_headers(page: str) -> dict[str, str]:
    """Headers of the page: its own script and style only, this server only, no frames."""
    policy = (f"default-src 'none'; script-src {_hashes(page, 'script')}; "
              f"style-src {_hashes(page, 'style')}; connect-src 'self'; img-src 'self' data:; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return {"Content-Security-Policy": policy, "X-Frame-Options": "DENY",
            "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer",
            "Cache-Control": "no-store"}


def _refusal_html(refused: BadRequest) -> str:
    """A page saying why ``/`` was refused and, without the token, how to open it."""
    how = ("<p>Open the URL <code>labrun serve</code> printed when it started, the one "
           "ending in <code>/?token=&hellip;</code>.</p>" if refused.status == 401 else "")
    return ("<!doctype html><html lang=en><meta charset=utf-8><title>labrun</title>"
            f"<h1>labrun: this page was refused</h1><p>{html.escape(refused.reason)}</p>"
            f"{how}</html>")


def routes(access: Access, sheet_of: Callable[[str | None], Sheet | None]) -> list[Route]:
    """The page's routes, behind ``access``; ``sheet_of(item_uid)`` is the setup sheet of
    a running, finished or queued run (None: the running one), or None."""
    page_text = page_html()
    headers = security_headers(page_text)

    async def page(request: Request) -> Response:
        try:
            access.check(request)
            if access.wrong_query_token(request):  # a stale URL: its POSTs would all fail
                raise BadRequest(401, WRONG_TOKEN)
        except BadRequest as refused:  # a person at a browser: a page, not JSON
            return Response(_refusal_html(refused), refused.status,
                            media_type="text/html; charset=utf-8", headers=INERT_HEADERS)
        response = Response(page_text, media_type="text/html; charset=utf-8", headers=headers)
        access.keep(request, response)  # opened with ?token=: the cookie its POSTs carry
        return response

    async def deck(request: Request) -> Response:
        access.check(request)
        uid = request.query_params.get("item_uid")
        sheet = sheet_of(uid)
        if sheet is None:
            raise BadRequest(404, f"no deck for item {uid!r}" if uid else "no run")
        # one deck a row: side by side, the decks of a run that changes its deck (a
        # move by hand) shrink in the page's column until their names cannot be read
        return Response(deck_svg.svg(sheet, per_row=PAGE_DECKS_PER_ROW),
                        media_type="image/svg+xml",
                        headers=INERT_HEADERS)

    return [Route(PAGE_PATH, page, methods=["GET"]), Route(DECK_PATH, deck, methods=["GET"])]
