"""The client's exceptions, named as in bluesky-queueserver-api, and the server's bad request.

``RequestError`` is the base of every failure of a call. The split is the server's, the
same for every endpoint:

- a request wrong in itself, whatever the queue holds (an unknown or missing parameter,
  a wrong type, parameters that contradict each other, a protocol that cannot run) is
  answered 4xx and raises ``HTTPClientError`` (``status_code`` 422 for its parameters),
  whatever ``request_fail_exceptions`` says;
- a well-formed request the server refused as things are now (``success`` false: a locked
  group, an item not in the queue, a position outside it, a run that cannot pause now)
  raises ``RequestFailedError`` unless the client was made with
  ``request_fail_exceptions=False``, which returns the reply instead.
"""

from __future__ import annotations

from typing import Any


class RequestError(Exception):
    """A call to the run manager did not succeed."""


class RequestTimeoutError(RequestError, TimeoutError):
    """The server did not answer in time."""


class RequestFailedError(RequestError):
    """The server refused the request (``success`` is false); ``response`` is its answer."""

    def __init__(self, response: dict[str, Any]) -> None:
        self.response = response
        super().__init__(f"Request failed: {response.get('msg', '')}")


class HTTPRequestError(RequestError):
    """The request could not be sent or its answer not read (connection refused, reset)."""


class HTTPClientError(HTTPRequestError):
    """The server answered 4xx: a bad request (422: its parameters), a missing token, an
    unknown endpoint; ``response`` is its answer."""

    def __init__(self, message: str, status_code: int, response: dict[str, Any]) -> None:
        self.status_code = status_code
        self.response = response
        super().__init__(message)


class HTTPServerError(HTTPRequestError):
    """The server answered 5xx."""

    def __init__(self, message: str, status_code: int) -> None:
        self.status_code = status_code
        super().__init__(message)


class WaitTimeoutError(TimeoutError):
    """``wait_for_idle`` and its kin ran out of time before the state was reached."""


class BadRequest(Exception):
    """Server side: a request that is malformed; answered with ``status`` and the reason."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(reason)


__all__ = [
    "BadRequest",
    "HTTPClientError",
    "HTTPRequestError",
    "HTTPServerError",
    "RequestError",
    "RequestFailedError",
    "RequestTimeoutError",
    "WaitTimeoutError",
]
