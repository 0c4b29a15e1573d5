"""Who may call the API: the server's token, and the ``Host`` and ``Origin`` of a request.

The server always has a token, on loopback too (as Jupyter does): given (``--token``,
``$LABRUN_TOKEN``), read from a file only the user can read (``--token-file``), or
generated and printed at start as a URL, ``http://127.0.0.1:8790/?token=...``.

- Every mutating request (every POST) carries the token: ``Authorization: Bearer``, or
  the ``labrun_token`` cookie (``SameSite=Strict``) a page received with it. Reads (GET,
  HEAD) need it only when the server is bound beyond loopback; a GET may also carry it as
  ``?token=`` (an ``EventSource`` cannot send headers), and its answer then sets the
  cookie, so a page that was opened with the token URL keeps it.
- ``Host`` must name an address the server is bound to (a loopback server answers only
  to ``localhost``, ``127.0.0.1`` and ``::1``), so a page whose own name was made to
  resolve to 127.0.0.1 (DNS rebinding) is refused; a server bound to every address
  (``0.0.0.0``) needs the token for every request instead.
- A request whose ``Origin`` is not the server itself is refused: no other site's page
  may call it, whatever it carries.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from .errors import BadRequest

if TYPE_CHECKING:  # the client reads token files without importing the server
    from starlette.requests import Request
    from starlette.responses import Response

TOKEN_COOKIE = "labrun_token"
TOKEN_QUERY = "token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
READS = frozenset({"GET", "HEAD"})
"""The methods that read (a HEAD is a GET without its body)."""
WILDCARDS = frozenset({"0.0.0.0", "::", ""})


class TokenFileError(ValueError):
    """A token file that others may read, or that holds no token (or one no header can
    carry)."""


def new_token() -> str:
    """A fresh random token."""
    return secrets.token_urlsafe(24)


def read_token_file(path: str | os.PathLike[str], *, create: bool = True) -> str:
    """The token in ``path``; with ``create``, a missing file is made (mode 0600) with a
    new token. ``TokenFileError`` if the group or others may read it, or it is empty."""
    path = Path(path)
    if create:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "w") as file:
                file.write(new_token() + "\n")
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenFileError(f"{path}: others may read it (mode {stat.filemode(mode)}); "
                             f"chmod 600 {path}")
    token = path.read_text(encoding="utf-8").strip()
    if not token:
        raise TokenFileError(f"{path} holds no token")
    problem = token_problem(token)
    if problem is not None:
        raise TokenFileError(f"{path}: {problem}")
    return token


def token_problem(token: str) -> str | None:
    """Why ``token`` cannot be a server's token, or None: it goes in an HTTP header
    (``Authorization: Bearer``), which carries printable ASCII and drops a space at either
    end."""
    odd = next((char for char in token if not " " <= char <= "~"), None)
    if odd is not None:
        return (f"the token must be printable ASCII, as an HTTP header carries it; {odd!r} "
                "is not")
    if token != token.strip(" "):
        return "the token must not start or end with a space, which an HTTP header drops"
    return None


def token_url(base_url: str, token: str) -> str:
    """The URL to open (or give a client) with the token, as Jupyter prints it; the token
    is percent-encoded, so one with ``+``, ``&`` or ``#`` in it reads back as itself."""
    return f"{base_url.rstrip('/')}/?{TOKEN_QUERY}={quote(token, safe='')}"


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _hostname(host_header: str) -> str:
    """The name in a ``Host`` header, without its port: ``[::1]:8790`` is ``::1``."""
    if host_header.startswith("["):
        return host_header[1:].partition("]")[0].lower()
    return host_header.rpartition(":")[0].lower() if host_header.count(":") == 1 \
        else host_header.lower()


def _same(given: str, token: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               token.encode("utf-8", "surrogatepass"))


WRONG_TOKEN = ("the token given is not this server's: use the one labrun serve printed (a "
               "restarted server prints a new one unless given --token)")


class Access:
    """The gate every request passes before the manager sees it."""

    def __init__(self, token: str, *, host: str, allowed_hosts: Iterable[str] = ()) -> None:
        if not token:
            raise ValueError("the server needs a token")
        problem = token_problem(token)
        if problem is not None:
            raise ValueError(problem)
        self.token = token
        bound = host.strip("[]").lower()
        self.any_host = bound in WILDCARDS
        self.loopback = is_loopback(bound)
        names = {bound, *(name.lower() for name in allowed_hosts)}
        self.hosts = frozenset(names | LOOPBACK_NAMES if self.loopback else names)
        self.reads_need_token = not self.loopback

    def check(self, request: Request) -> None:
        """Refuse (``BadRequest``) a request from elsewhere or without the token."""
        host = request.headers.get("host", "")
        if not self.any_host and _hostname(host) not in self.hosts:
            raise BadRequest(403, f"Host {host[:100]!r} is not an address this server is "
                                  "bound to")
        origin = request.headers.get("origin")
        if origin is not None and origin.lower() != f"{request.url.scheme}://{host}".lower():
            raise BadRequest(403, f"cross-origin requests are refused (Origin "
                                  f"{origin[:100]!r})")
        needed = request.method not in READS or self.reads_need_token
        if needed and not self.authorized(request):
            if (request.headers.get("authorization") or TOKEN_COOKIE in request.cookies
                    or self.wrong_query_token(request)):
                raise BadRequest(401, WRONG_TOKEN)
            if TOKEN_QUERY in request.query_params:  # a POST's: not taken
                raise BadRequest(401, "a token in the URL is taken for GETs only: send it as "
                                      "Authorization: Bearer <token> (or the cookie a page "
                                      "opened with the token URL keeps)")
            raise BadRequest(401, "the server's token is required: Authorization: "
                                  "Bearer <token> (labrun serve prints it)")

    def wrong_query_token(self, request: Request) -> bool:
        """Whether a GET carries a ``?token=`` that is not this server's (a stale URL)."""
        query = request.query_params.get(TOKEN_QUERY)
        return request.method in READS and query is not None and not _same(query, self.token)

    def authorized(self, request: Request) -> bool:
        """Whether ``request`` carries the token (header, cookie, or a GET's query)."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and _same(value.strip(), self.token):
            return True
        cookie = request.cookies.get(TOKEN_COOKIE)
        if cookie is not None and _same(cookie, self.token):
            return True
        query = request.query_params.get(TOKEN_QUERY)
        return request.method in READS and query is not None and _same(query, self.token)

    def keep(self, request: Request, response: Response) -> None:
        """A GET that carried the right ``?token=`` sets the cookie, so its page keeps it."""
        query = request.query_params.get(TOKEN_QUERY)
        if request.method == "GET" and query is not None and _same(query, self.token):
            response.set_cookie(TOKEN_COOKIE, self.token, httponly=True, samesite="strict",
                                path="/")
