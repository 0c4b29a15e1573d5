"""labrun's faces: the command line, the HTTP server and its web page, the Python client.

What protocol authors import is ``protocol_api``; this package is what people and
programs drive runs with (``labrun.cli``, ``labrun.remote``).
"""

from __future__ import annotations

__version__ = "0.1.0"
"""The one place the version is written: pyproject.toml reads it from here (a constant
costs ``labrun --version`` nothing; reading the installed metadata cost ~30 ms)."""
