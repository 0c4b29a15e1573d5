"""labrun's faces: the command line, the HTTP server and its web page, the Python client.

What protocol authors import is ``protocol_api``; this package is what people and
programs drive runs with (``labrun.cli``, ``labrun.remote``).
"""

from __future__ import annotations


def __getattr__(name: str) -> str:
    # ``__version__`` is read from the installed metadata on first use only: importing
    # importlib.metadata would slow every ``labrun simulate`` down.
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("labrun")
        except PackageNotFoundError:  # pragma: no cover - a source tree, not installed
            return "0+unknown"
    raise AttributeError(name)
