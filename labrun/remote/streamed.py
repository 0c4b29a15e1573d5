"""Replies written as they are read: the run records of ``history_get(records=true)`` and
``history_item_get`` go to the client while they are read from their files, an event at a
time, so the server's memory does not grow with their size (four runs of 20,000 comments
each, read whole, took the server to 400 MB). The JSON is the same as a whole reply's.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from engine.record import encoder

CHUNK = 64 * 1024
"""About how many bytes the response is written in at a time."""

_encode = encoder()  # compact strict JSON, as ``app.JSONReply`` writes


class Lazy:
    """A JSON array made only when it is written: ``items()`` gives its items (plain JSON
    values), or None (written ``null``). It is called from the thread writing the reply."""

    def __init__(self, items: Callable[[], Iterable[Any] | None]) -> None:
        self.items = items


class Later:
    """A JSON value made only when it is written, after what comes before it in the reply:
    ``value()`` gives it (a plain JSON value). It is called from the thread writing the
    reply, so it can tell what reading an earlier ``Lazy`` found."""

    def __init__(self, value: Callable[[], Any]) -> None:
        self.value = value


class StreamedReply(dict[str, Any]):
    """A reply holding ``Lazy`` or ``Later`` parts: the app sends it as it is made (``chunks``)."""


def chunks(value: Any, size: int = CHUNK) -> Iterator[bytes]:
    """``value`` as compact strict JSON in pieces of about ``size`` bytes; each ``Lazy``
    part is read while it is written."""
    buffer: list[str] = []
    length = 0
    for piece in _pieces(value):
        buffer.append(piece)
        length += len(piece)
        if length >= size:
            yield "".join(buffer).encode()  # ASCII: non-ASCII text is escaped
            buffer.clear()
            length = 0
    if buffer:
        yield "".join(buffer).encode()


def _pieces(value: Any) -> Iterator[str]:
    if isinstance(value, Lazy):
        yield from _array(value.items())
    elif isinstance(value, Later):
        yield from _encode(value.value(), 0)
    elif isinstance(value, dict):
        yield "{"
        for i, (key, item) in enumerate(value.items()):
            if i:
                yield ","
            yield from _encode(str(key), 0)
            yield ":"
            yield from _pieces(item)
        yield "}"
    elif isinstance(value, list):
        yield "["
        for i, item in enumerate(value):
            if i:
                yield ","
            yield from _pieces(item)
        yield "]"
    else:
        yield from _encode(value, 0)


def _array(items: Iterable[Any] | None) -> Iterator[str]:
    if items is None:
        yield "null"
        return
    yield "["
    first = True
    for item in items:
        if not first:
            yield ","
        first = False
        yield from _encode(item, 0)
    yield "]"
