"""Serving a run manager with uvicorn: in the foreground (``labrun serve``) or in a thread.

Loopback is the default. Binding any other address needs a bearer token; when none is
given, one is generated and printed to stderr.
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import sys
import threading
from types import FrameType, TracebackType
from typing import Any

import uvicorn

from engine.run import Run

from .app import MAX_BODY, create_app
from .manager import RunManager

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8790
START_TIMEOUT = 30.0


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable only from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def required_token(host: str, token: str | None, *, announce: bool = True) -> str | None:
    """The token to require: the one given, or a new one when binding beyond loopback."""
    if token or is_loopback(host):
        return token or None
    token = secrets.token_urlsafe(24)
    if announce:
        print(f"labrun: serving on {host} needs a bearer token; clients must send\n"
              f"  Authorization: Bearer {token}", file=sys.stderr)
    return token


class _Server(uvicorn.Server):
    """uvicorn's server, ending the event streams first so shutdown does not wait on them."""

    def __init__(self, config: uvicorn.Config, manager: RunManager) -> None:
        super().__init__(config)
        self.manager = manager

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.manager.close_streams()
        super().handle_exit(sig, frame)


def _config(manager: RunManager, token: str | None, max_body: int, log_level: str,
            ready: threading.Event | None) -> uvicorn.Config:
    app = create_app(manager, token=token, max_body=max_body,
                     on_ready=ready.set if ready is not None else None)
    return uvicorn.Config(app, log_level=log_level, lifespan="on", loop="asyncio", http="h11",
                          ws="none", access_log=False, timeout_graceful_shutdown=2)


def serve(manager: RunManager, *, host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
          token: str | None = None, max_body: int = MAX_BODY, log_level: str = "info") -> None:
    """Serve in the foreground until interrupted (Ctrl-C)."""
    token = required_token(host, token)
    sock = bind(host, port)  # an address in use is an OSError here, not uvicorn's exit
    try:
        _Server(_config(manager, token, max_body, log_level, None), manager).run(sockets=[sock])
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
                 max_body: int = MAX_BODY, log_level: str = "warning",
                 announce: bool = True) -> None:
        self.manager = manager
        self.token = required_token(host, token, announce=announce)
        self._socket = bind(host, port)
        self.host = host
        self.port: int = self._socket.getsockname()[1]
        ready = threading.Event()
        self._server = _Server(_config(manager, self.token, max_body, log_level, ready), manager)
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
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

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
              token: str | None = None) -> ServerHandle:
    """Serve one existing, started run (``labrun run --control PORT``) from a thread.

    Its status and run actions work as for a queue's run; the queue calls are refused.
    ``queue_start`` plays the run if it is still idle. Close the handle when done; the
    run itself is left to its owner.
    """
    return start_server(RunManager.for_run(run), host=host, port=port, token=token)
