"""Browser test support: the session `app` served on a free loopback port, and headless Chromium.

The fixtures (live_server, browser, phone, screenshots) are registered for every module by tests/conftest.py
and mark its tests `@pytest.mark.browser`. Without /usr/bin/chromium the tests skip on a developer
machine, but fail under CI (env CI set), where a missing browser is a broken setup.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu"]
PHONE = {"width": 375, "height": 812}


@pytest.fixture(scope="session")
def live_server(app):
    """The test app served by a real HTTP server in a background thread; yields its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


#: CI runs the suite on SQLite, then again on PostgreSQL; the pages a browser drives read the same services either
#: way, so the browser tests run once, in the SQLite run (set ENCORE_BROWSER_ON_POSTGRES=1 to run them there too)
ON_POSTGRES_RUN = os.environ.get("ENCORE_TEST_DATABASE_URL", "").startswith("postgresql")


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium driven by Playwright."""
    if ON_POSTGRES_RUN and not os.environ.get("ENCORE_BROWSER_ON_POSTGRES"):
        pytest.skip("browser tests run in the SQLite run of the suite")
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI must install chromium (see .ci/run)")
        pytest.skip(f"{CHROMIUM} is not installed")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def phone(browser):
    """A fresh phone-sized page (375x812, touch, English) with no cookies from earlier tests."""
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshots(tmp_path) -> Path:
    """Where a test saves its screenshots: ENCORE_SCREENSHOT_DIR if set (to look at them), else a temp dir."""
    folder = Path(os.environ.get("ENCORE_SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def horizontal_overflow(page) -> int:
    """How many CSS pixels the document is wider than the screen (0 when nothing sticks out).

    A mobile browser widens its layout viewport (innerWidth) to fit content that sticks out, so the
    width is also checked against the screen width the page was opened with.
    """
    width = min(page.viewport_size["width"], page.evaluate("() => window.innerWidth"))
    return page.evaluate("(width) => Math.max(0, document.documentElement.scrollWidth - width)", width)


def overflowing_elements(page, limit: int = 8) -> list[str]:
    """The deepest elements whose right edge passes the screen's, as 'tag.class (right edge)', for messages."""
    return page.evaluate(
        """([width, limit]) => {
            const out = [];
            for (const el of document.body.querySelectorAll('*')) {
                const right = el.getBoundingClientRect().right;
                if (right > width + 1 && ![...el.children].some(c => c.getBoundingClientRect().right > width + 1)) {
                    out.push(`${el.tagName.toLowerCase()}.${[...el.classList].join('.')} (${Math.round(right)}px)`);
                }
                if (out.length >= limit) break;
            }
            return out;
        }""",
        [page.viewport_size["width"], limit],
    )


def new_page(browser, viewport=PHONE, locale: str = "en-US", **options):
    """A fresh context (no cookies) and its page: a touch phone for PHONE, else a desktop window."""
    phone = viewport == PHONE
    context = browser.new_context(viewport=viewport, device_scale_factor=2 if phone else 1, is_mobile=phone,
                                  has_touch=phone, locale=locale, **options)
    context.set_default_timeout(10_000)
    return context, context.new_page()


def log_in(page, live_server: str, email: str, password: str) -> None:
    """Through the real login form."""
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()
