"""Serving a run manager with uvicorn: in the foreground (``labrun serve``) or in a thread.

Loopback is the default. The server always has a token (``auth``): the one given, or a
new one, announced as a URL to open, ``http://127.0.0.1:8790/?token=...``.
"""

from __future__ import annotations

import contextlib
import signal
import socket
import sys
import threading
from collections.abc import Iterable, Iterator
from types import FrameType, TracebackType
from typing import Any

import uvicorn

from engine.run import Run

from .app import MAX_BODY, create_app
from .auth import WILDCARDS, Access, is_loopback, new_token, token_url
from .manager import RunManager

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8790
START_TIMEOUT = 30.0

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ServerHandle", "bind", "is_loopback", "serve",
           "serve_run", "start_server"]


def base_url(host: str, port: int) -> str:
    """``http://host:port``, with an IPv6 address in brackets."""
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def reachable_urls(host: str, port: int) -> list[str]:
    """The base URLs to open: a wildcard address (``0.0.0.0``, ``::``) is no address to
    open, so it is this machine's name (for others) and loopback (for this machine)."""
    if host.strip("[]") in WILDCARDS:
        loopback = "::1" if ":" in host else "127.0.0.1"
        return [base_url(socket.gethostname(), port), base_url(loopback, port)]
    return [base_url(host, port)]


def announce_token(host: str, port: int, token: str) -> None:
    """Print where to reach the server and with which token, as Jupyter does."""
    urls = reachable_urls(host, port)
    where = (f"all addresses of this machine, port {port}" if len(urls) > 1
             else urls[0])
    lines = "".join(f"\n  {token_url(url, token)}" for url in urls)
    print(f"labrun: serving on {where}; open (or give a client) "
          f"{'one of these URLs' if len(urls) > 1 else 'this URL'},{lines}\n"
          f"  or send the header  Authorization: Bearer {token}", file=sys.stderr)


HANGUP = getattr(signal, "SIGHUP", None)
"""The terminal's hangup (a closed window, an SSH session dropped), where the system has it."""


class _Server(uvicorn.Server):
    """uvicorn's server, ending the event streams first so shutdown does not wait on them,
    and shutting down on SIGHUP as on SIGTERM (uvicorn leaves it to kill the process, the
    running run with it, without its cleanup)."""

    def __init__(self, config: uvicorn.Config, manager: RunManager) -> None:
        super().__init__(config)
        self.manager = manager

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.manager.close_streams()
        super().handle_exit(sig, frame)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        with super().capture_signals():
            if HANGUP is None or threading.current_thread() is not threading.main_thread():
                yield
                return
            hung_up = signal.signal(HANGUP, self._hang_up)
            try:
                yield
            finally:
                signal.signal(HANGUP, hung_up)

    def _hang_up(self, sig: int, frame: FrameType | None) -> None:
        """SIGHUP: as SIGTERM, which uvicorn sends the process again once it has shut
        down (``labrun serve`` then ends as for SIGTERM)."""
        self.handle_exit(signal.SIGTERM, frame)


def _config(manager: RunManager, access: Access, max_body: int, log_level: str,
            ready: threading.Event | None) -> uvicorn.Config:
    app = create_app(manager, access, max_body=max_body,
                     on_ready=ready.set if ready is not None else None)
    return uvicorn.Config(app, log_level=log_level, lifespan="on", loop="asyncio", http="h11",
                          ws="none", access_log=False, timeout_graceful_shutdown=2)


def serve(manager: RunManager, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          token: str | None = None, allowed_hosts: Iterable[str] = (),
          max_body: int = MAX_BODY, log_level: str = "info") -> None:
    """Serve in the foreground until interrupted (Ctrl-C); a new token unless given."""
    access = Access(token or new_token(), host=host, allowed_hosts=allowed_hosts)
    sock = bind(host, port)  # an address in use is an OSError here, not uvicorn's exit
    try:
        announce_token(host, sock.getsockname()[1], access.token)
        _Server(_config(manager, access, max_body, log_level, None),
                manager).run(sockets=[sock])
    finally:
        sock.close()


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (0: any free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on the connections of a socket only when
    # it says so; without it, every answer waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


class ServerHandle:
    """A server running in a background thread; ``close()`` (or ``with``) stops it."""

    def __init__(self, manager: RunManager, *, host: str, port: int, token: str | None,
                 allowed_hosts: Iterable[str] = (), max_body: int = MAX_BODY,
                 log_level: str = "warning", announce: bool = False) -> None:
        self.manager = manager
        access = Access(token or new_token(), host=host, allowed_hosts=allowed_hosts)
        self.token = access.token
        self._socket = bind(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        if announce:
            announce_token(host, self.port, self.token)
        ready = threading.Event()
        self._server = _Server(_config(manager, access, max_body, log_level, ready), manager)
        self._thread = threading.Thread(target=self._serve, name="labrun-remote", daemon=True)
        self._error: BaseException | None = None
        self._thread.start()
        while not ready.wait(0.05):
            if not self._thread.is_alive():
                self._socket.close()
                raise RuntimeError(f"the server did not start: {self._error!r}")

    @property
    def url(self) -> str:
        """The server's base URL."""
        return base_url(self.host, self.port)

    @property
    def token_url(self) -> str:
        """The URL with the token, to open in a browser or give a client."""
        return token_url(self.url, self.token)

    def _serve(self) -> None:
        try:
            self._server.run(sockets=[self._socket])
        except BaseException as exc:  # reported by the starting thread
            self._error = exc

    def close(self, timeout: float = 10.0) -> None:
        """Stop serving: end the streams, abort a queue's running run, wait for the thread."""
        self.manager.close_streams()
        self._server.should_exit = True
        self._thread.join(timeout)
        self._socket.close()

    def __enter__(self) -> ServerHandle:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()


def start_server(manager: RunManager, *, host: str = DEFAULT_HOST, port: int = 0,
                 token: str | None = None, **options: Any) -> ServerHandle:
    """Serve ``manager`` from a background thread (port 0: any free port)."""
    return ServerHandle(manager, host=host, port=port, token=token, **options)


def serve_run(run: Run, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
              token: str | None = None, *, announce: bool = True) -> ServerHandle:
    """Serve one existing, started run of this process from a thread.

    Its status and run actions work as for a queue's run; the queue calls are refused.
    ``queue_start`` plays the run if it is still idle. Close the handle when done; the
    run itself is left to its owner.
    """
    return start_server(RunManager.for_run(run), host=host, port=port, token=token,
                        announce=announce)
