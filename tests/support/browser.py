"""Debian's Chromium driven by Playwright, for the console's browser tests.

Playwright's own browser builds cannot be downloaded here and lack H.264 anyway
(``playwright install`` is never run): the tests launch ``/usr/bin/chromium`` by
path, headless, with autoplay allowed. Without Chromium or Playwright they skip
locally and fail in CI (CI=true), so CI can never pass by skipping.

Everything is bounded: Playwright's actions and navigations time out (``ACTION_MS``),
and a script awaited in the page (``run``) is raced against a timer, because an
``evaluate`` whose promise never settles would otherwise wait forever.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required"]
LAUNCH_MS = 30_000
ACTION_MS = 15_000  # any click, fill, navigation or wait of Playwright's


def _require(condition: bool, reason: str) -> None:
    if not condition:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the browser tests need {reason} in CI")
        pytest.skip(f"needs {reason}")


@pytest.fixture(scope="session", name="browser")
def chromium() -> Iterator[Browser]:
    """The ``browser`` fixture: one headless Chromium for the session (each test opens its own
    context: ``browser_context``). A module uses both by importing ``chromium`` and ``fresh_context``."""
    _require(os.access(CHROMIUM, os.X_OK) or shutil.which("chromium") is not None, f"Debian's chromium ({CHROMIUM})")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _require(False, "the playwright package (the dev extra)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium"),
            args=LAUNCH_ARGS,
            headless=True,
            timeout=LAUNCH_MS,
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(name="browser_context")
def fresh_context(browser: Browser) -> Iterator[BrowserContext]:
    """A fresh profile (no cookies) whose every action and navigation is bounded."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(ACTION_MS)
    context.set_default_navigation_timeout(ACTION_MS)
    try:
        yield context
    finally:
        context.close()


def run(page: Page, function: str, arg: Any = None, *, seconds: float = 30) -> Any:
    """``page.evaluate`` of an async JS function of one argument, failing after ``seconds``
    instead of waiting forever for a promise that never settles."""
    bounded = f"""async (arg) => {{
      let timer;
      const expired = new Promise((_, reject) => {{
        timer = setTimeout(() => reject(new Error("timed out after {seconds} s in the page")), {seconds * 1000});
      }});
      try {{ return await Promise.race([({function})(arg), expired]); }} finally {{ clearTimeout(timer); }}
    }}"""
    return page.evaluate(bounded, arg)
