"""The sticker editor in real headless Chromium: per-file uploads through the file input with CSRF on, results,
the grid and the processing panel updating without a reload, drag-and-drop reordering, nothing wider than a
phone screen; screenshots of the editor and the public sticker section in both languages
(ENCORE_SCREENSHOT_DIR=/tmp/shots keeps them).

tests/test_browser.py holds the session's Playwright in the main thread, and a second sync Playwright cannot
start in a thread that already runs one; this module therefore drives its own Chromium from a thread of its
own (`in_browser(scenario)` runs `scenario(browser)` there and re-raises its failures here). Test data is made
in the main thread and committed before the browser starts, so the live server sees it.
"""
from __future__ import annotations


import pytest

from app.extensions import db
from tests import browser_support
from tests.browser_support import PHONE, horizontal_overflow, log_in, overflowing_elements

pytestmark = pytest.mark.browser

LONG_TITLE = "超级无敌可爱的猫猫表情包 Supercalifragilistic Cat Emotes Vol. 12"


@pytest.fixture
def in_browser(browser):
    """Runs a scenario (a function of the browser) against the session's Chromium."""
    return lambda scenario: scenario(browser)


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def new_page(browser, width: int = 375, locale: str = "en"):
    """A fresh context (no cookies) and page: a touch phone at 375 px, else a desktop window."""
    viewport = PHONE if width == PHONE["width"] else {"width": width, "height": 900}
    return browser_support.new_page(browser, viewport, locale=locale.replace("_", "-"))


def open_page(page, url: str) -> None:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, f"{url} answered {response and response.status}"


def images_loaded(page, selector: str) -> None:
    page.wait_for_function(
        "(s) => [...document.querySelectorAll(s)].every(i => i.complete && i.naturalWidth > 0)", arg=selector
    )


def titled_pack(make, owner, title: str, **kwargs):
    listing = make.sticker_pack(owner, **kwargs)
    listing.title = title
    db.session.commit()
    return listing


def upload_files(*named):
    return [{"name": name, "mimeType": mime, "buffer": data} for name, mime, data in named]


def test_upload_two_files_through_the_input_and_see_results_and_grid_without_reload(
    in_browser, live_server, make, csrf_on, screenshots
):
    mia = make.streamer(handle="mia")
    listing = titled_pack(make, mia, LONG_TITLE, count=0)
    url, email = f"{live_server}/dashboard/sticker-packs/{listing.id}", mia.email
    good = upload_files(
        ("hello.png", "image/png", make.sticker_png(index=1)),
        ("wave.webp", "image/webp", make.sticker_png(index=2, fmt="WEBP")),
    )
    flat = upload_files(("flat.png", "image/png", make.png_bytes(size=(200, 200))))
    db.session.commit()  # no open transaction in the test while the live server writes

    def scenario(browser):
        context, phone = new_page(browser)
        try:
            log_in(phone, live_server, email, make.PASSWORD)
            open_page(phone, url)
            assert horizontal_overflow(phone) == 0, overflowing_elements(phone)
            phone.evaluate("() => { window.stillTheSamePage = true; }")

            phone.set_input_files("input[name=files]", good)
            added = phone.locator(".upload-result.is-added")
            added.nth(1).wait_for()
            assert added.count() == 2
            grid = phone.locator("#sticker-grid")
            grid.locator(".sticker-card").nth(1).wait_for()
            assert grid.locator(".sticker-card").count() == 2
            assert "hello.png" in grid.inner_text() and "wave.webp" in grid.inner_text()
            phone.locator('#sticker-processing[data-state="done"]').wait_for()
            assert "2 of 2 stickers processed" in phone.locator("#sticker-processing").inner_text()
            images_loaded(phone, "#sticker-grid img")

            phone.set_input_files("input[name=files]", flat)
            refused = phone.locator(".upload-result.is-refused")
            refused.wait_for()
            assert "flat.png" in refused.inner_text() and "transparent" in refused.inner_text()
            phone.screenshot(path=str(screenshots / "stickers-upload-375-en.png"), full_page=True)

            assert phone.evaluate("() => window.stillTheSamePage") is True
            assert grid.locator(".sticker-card").count() == 2
            assert horizontal_overflow(phone) == 0, overflowing_elements(phone)
        finally:
            context.close()

    in_browser(scenario)


def test_the_page_follows_processing_by_polling_without_a_reload(app, in_browser, live_server, make):
    from app.storage import get_storage
    from stickers import processing, services

    mia = make.streamer(handle="mia")
    listing = make.sticker_pack(mia, count=2)
    pack = services.own_pack(mia, listing.id)
    services.add_stickers(mia, pack, [("late.png", make.sticker_png(index=5))], get_storage())
    listing_id, email = listing.id, mia.email
    db.session.commit()  # queued, as when no worker has picked the pack up yet

    def scenario(browser):
        context, phone = new_page(browser)
        try:
            log_in(phone, live_server, email, make.PASSWORD)
            open_page(phone, f"{live_server}/dashboard/sticker-packs/{listing_id}")
            panel = phone.locator("#sticker-processing")
            assert panel.get_attribute("data-state") == "queued"
            assert "2 of 3 stickers processed" in panel.inner_text()
            phone.evaluate("() => { window.stillTheSamePage = true; }")

            with app.app_context():  # the worker's run, while the page polls
                processing.process_pack(listing_id, get_storage())

            phone.locator('#sticker-processing[data-state="done"]').wait_for()
            assert "3 of 3 stickers processed" in phone.locator("#sticker-processing").inner_text()
            assert phone.locator("#sticker-grid .sticker-card.status-ready").count() == 3
            assert phone.evaluate("() => window.stillTheSamePage") is True
        finally:
            context.close()

    in_browser(scenario)


def test_drag_and_drop_reorders_the_stickers(in_browser, live_server, make):
    mia = make.streamer(handle="mia")
    listing = make.sticker_pack(mia, count=3)
    listing_id, email = listing.id, mia.email
    db.session.commit()

    def scenario(browser):
        context, page = new_page(browser, 1280)
        try:
            log_in(page, live_server, email, make.PASSWORD)
            open_page(page, f"{live_server}/dashboard/sticker-packs/{listing_id}")
            cards = page.locator("#sticker-grid .sticker-card")
            assert page.locator("#sticker-grid .sticker-name").all_inner_texts() == ["01.png", "02.png", "03.png"]
            cards.nth(2).locator("[data-drag-handle]").drag_to(cards.nth(0), target_position={"x": 10, "y": 40})
            # saved, and swapped in from the server: the moved card now reads #1
            page.wait_for_function(
                "() => [...document.querySelectorAll('#sticker-grid .sticker-card')]"
                ".map(c => c.querySelector('.position-number').textContent + c.querySelector('.sticker-name').textContent)"
                ".join() === '#103.png,#201.png,#302.png'"
            )
            page.reload()
            assert page.locator("#sticker-grid .sticker-name").all_inner_texts() == ["03.png", "01.png", "02.png"]
        finally:
            context.close()

    in_browser(scenario)


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_editor_with_problems_read_only_editor_and_public_section_fit_and_are_captured(
    in_browser, live_server, make, screenshots, width, locale
):
    mia = make.streamer(handle="mia")
    listing = titled_pack(make, mia, LONG_TITLE, count=5)
    published = titled_pack(make, mia, "Night owls", count=8, status="published")
    edit = f"{live_server}/dashboard/sticker-packs/{listing.id}"
    read_only = f"{live_server}/dashboard/sticker-packs/{published.id}"
    public = f"{live_server}/listings/{published.slug}"
    email = mia.email
    db.session.commit()

    def scenario(browser):
        context, page = new_page(browser, width, locale)
        try:
            log_in(page, live_server, email, make.PASSWORD)
            open_page(page, edit)
            page.locator(".sticker-details input[name=emoji]").first.fill("cat")
            with page.expect_navigation():
                page.locator(".sticker-details button[type=submit]").first.click()
            assert page.locator(".sticker-details .errors").count() == 1
            assert page.locator("#export-line .problems li").count() >= 1
            images_loaded(page, "#sticker-grid img")
            page.screenshot(path=str(screenshots / f"stickers-edit-{width}-{locale}.png"), full_page=True)
            assert horizontal_overflow(page) == 0, overflowing_elements(page)

            open_page(page, read_only)
            assert page.locator("input[type=file]").count() == 0
            page.screenshot(path=str(screenshots / f"stickers-readonly-{width}-{locale}.png"), full_page=True)
            assert horizontal_overflow(page) == 0, overflowing_elements(page)

            context.clear_cookies()  # the public page as a fan sees it: watermarked previews
            open_page(page, public)
            images_loaded(page, "#stickers img")
            assert page.locator("#stickers img").count() == 8
            page.locator("#stickers").screenshot(path=str(screenshots / f"stickers-public-{width}-{locale}.png"))
            assert horizontal_overflow(page) == 0, overflowing_elements(page)
        finally:
            context.close()

    in_browser(scenario)
