"""A headless Chromium for tests of what the sandbox's pages do in a browser (scripts included).

Debian's chromium package (/usr/bin/chromium, or CONNECTOR_TEST_CHROMIUM) driven by Playwright's Python
client from the test extras; Playwright's own browser downloads are never used. Without either, the tests
here are skipped with the reason.
"""

from __future__ import annotations

import os
import shutil

import pytest


def _chromium() -> str | None:
    configured = os.environ.get("CONNECTOR_TEST_CHROMIUM")
    if configured:
        return configured
    return next((found for name in ("chromium", "chromium-browser") if (found := shutil.which(name))), None)


@pytest.fixture(scope="module")  # not the session: Playwright's sync API keeps an event loop running in this
def browser():                    # thread while it is open, and later tests call asyncio.run()
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install "
                                   "'.[test]')")
    executable = _chromium()
    if executable is None:
        pytest.skip("no Chromium: install Debian's chromium package (apt-get install chromium) or set "
                    "CONNECTOR_TEST_CHROMIUM to a Chromium binary")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    try:
        yield context.new_page()
    finally:
        context.close()
