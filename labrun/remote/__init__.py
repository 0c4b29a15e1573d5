"""Remote control: an HTTP API over a queue of protocol runs, and its Python clients.

Server side: ``RunManager`` (the queue, the history, the locks, one robot),
``start_server`` / ``serve`` (uvicorn) and ``serve_run`` (one existing run). Client
side: ``RunManagerAPI`` and ``AsyncRunManagerAPI``, whose methods mirror
bluesky-queueserver's ``REManagerAPI``, with pushed status instead of polling.
"""

from .client import AsyncRunManagerAPI, RunManagerAPI
from .client_core import KEEPALIVE, StreamEvent
from .errors import (
    HTTPClientError,
    HTTPRequestError,
    HTTPServerError,
    RequestError,
    RequestFailedError,
    RequestTimeoutError,
    WaitTimeoutError,
)
from .manager import RunManager
from .robots import Robot, RobotUnavailable, hardware_robot, simulated_robot
from .server import ServerHandle, serve, serve_run, start_server

__all__ = [
    "KEEPALIVE",
    "AsyncRunManagerAPI",
    "HTTPClientError",
    "HTTPRequestError",
    "HTTPServerError",
    "RequestError",
    "RequestFailedError",
    "RequestTimeoutError",
    "Robot",
    "RobotUnavailable",
    "RunManager",
    "RunManagerAPI",
    "ServerHandle",
    "StreamEvent",
    "WaitTimeoutError",
    "hardware_robot",
    "serve",
    "serve_run",
    "simulated_robot",
    "start_server",
]
