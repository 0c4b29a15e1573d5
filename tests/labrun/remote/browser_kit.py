"""Headless chromium for the live page's browser tests (Debian's chromium, driven by
Playwright): ``needs_chromium`` skips a module where it is not installed, ``open_page``
gives a page of a fresh browser with an empty profile (the ``page`` fixture)."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from remote_kit import WAIT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed (apt-get install chromium); the page's browser test "
           "needs it")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MS = WAIT * 1000
"""Playwright's waits, in ms: as long as any other wait of these tests."""


@contextlib.contextmanager
def open_page(profile: Path) -> Iterator[Any]:
    """A page of a fresh chromium whose profile is the folder ``profile``."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("chromium is here but Playwright is not: pip install -e '.[browser]'")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()
