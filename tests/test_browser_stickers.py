"""The sticker editor in real headless Chromium on a phone: per-file uploads through the file input with CSRF on,
results and the grid updating without a reload, nothing wider than the screen; screenshots of the editor
and the public sticker section in both languages (ENCORE_SCREENSHOT_DIR=/tmp/shots to keep them)."""
from __future__ import annotations

import pytest

from app.extensions import db
from tests.browser_support import (  # noqa: F401  (fixtures)
    PHONE,
    browser,
    horizontal_overflow,
    live_server,
    overflowing_elements,
    phone,
    screenshots,
)

pytestmark = pytest.mark.browser

LONG_TITLE = "超级无敌可爱的猫猫表情包 Supercalifragilistic Cat Emotes Vol. 12"


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def _log_in(page, live_server: str, email: str, password: str) -> None:
    page.goto(f"{live_server}/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").first.click()


def _open(page, url: str) -> None:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, f"{url} answered {response and response.status}"


def _pack(make, owner, title: str, **kwargs):
    listing = make.sticker_pack(owner, **kwargs)
    listing.title = title
    db.session.commit()
    return listing


def _files(make, *named):
    return [{"name": name, "mimeType": mime, "buffer": data} for name, mime, data in named]


def test_upload_two_files_through_the_input_and_see_results_and_grid_without_reload(
    phone, live_server, make, csrf_on, screenshots, tmp_path
):
    mia = make.streamer(handle="mia")
    listing = _pack(make, mia, LONG_TITLE, count=0)
    url = f"{live_server}/dashboard/sticker-packs/{listing.id}"
    email = mia.email
    db.session.commit()  # no open transaction in the test while the live server writes

    _log_in(phone, live_server, email, make.PASSWORD)
    _open(phone, url)
    assert horizontal_overflow(phone) == 0, overflowing_elements(phone)
    phone.evaluate("() => { window.stillTheSamePage = true; }")

    phone.set_input_files("input[name=files]", _files(
        make,
        ("hello.png", "image/png", make.sticker_png(index=1)),
        ("wave.webp", "image/webp", make.sticker_png(index=2, fmt="WEBP")),
    ))

    results = phone.locator(".upload-result.is-added")
    results.nth(1).wait_for()
    assert results.count() == 2
    phone.locator("#sticker-grid .sticker-card").nth(1).wait_for()
    grid = phone.locator("#sticker-grid")
    assert grid.locator(".sticker-card").count() == 2
    assert "hello.png" in grid.inner_text() and "wave.webp" in grid.inner_text()
    phone.locator('#sticker-processing[data-state="done"]').wait_for()
    assert "2 of 2 stickers processed" in phone.locator("#sticker-processing").inner_text()
    phone.wait_for_function("() => [...document.querySelectorAll('#sticker-grid img')].every(i => i.complete && i.naturalWidth > 0)")

    phone.set_input_files("input[name=files]", _files(make, ("flat.png", "image/png", make.png_bytes(size=(200, 200)))))
    refused = phone.locator(".upload-result.is-refused")
    refused.wait_for()
    assert "flat.png" in refused.inner_text() and "transparent" in refused.inner_text()
    phone.screenshot(path=str(screenshots / "stickers-upload-375-en.png"), full_page=True)

    assert phone.evaluate("() => window.stillTheSamePage") is True
    assert grid.locator(".sticker-card").count() == 2
    assert horizontal_overflow(phone) == 0, overflowing_elements(phone)


def _screens(browser, live_server, email, password, width, locale):
    viewport = PHONE if width == 375 else {"width": width, "height": 900}
    mobile = width == 375
    context = browser.new_context(viewport=viewport, device_scale_factor=2 if mobile else 1, is_mobile=mobile,
                                  has_touch=mobile, locale=locale.replace("_", "-"))
    context.set_default_timeout(10_000)
    page = context.new_page()
    _log_in(page, live_server, email, password)
    return context, page


@pytest.mark.parametrize("width", [375, 1280])
@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_editor_with_problems_and_public_section_screenshots(browser, live_server, make, screenshots, width, locale):
    mia = make.streamer(handle="mia")
    listing = _pack(make, mia, LONG_TITLE, count=5)
    published = _pack(make, mia, "Night owls", count=8, status="published")
    edit, public = f"{live_server}/dashboard/sticker-packs/{listing.id}", f"{live_server}/listings/{published.slug}"
    email = mia.email
    db.session.commit()

    context, page = _screens(browser, live_server, email, make.PASSWORD, width, locale)
    try:
        _open(page, edit)
        page.locator(".sticker-details input[name=emoji]").first.fill("cat")
        with page.expect_navigation():
            page.locator(".sticker-details button[type=submit]").first.click()
        assert page.locator(".sticker-details .errors").count() == 1
        assert page.locator("#export-line .problems li").count() >= 1
        page.screenshot(path=str(screenshots / f"stickers-edit-{width}-{locale}.png"), full_page=True)
        assert horizontal_overflow(page) == 0, overflowing_elements(page)

        context.clear_cookies()  # the public page as a fan sees it: watermarked previews
        _open(page, public)
        page.wait_for_function("() => [...document.querySelectorAll('#stickers img')].every(i => i.complete && i.naturalWidth > 0)")
        page.locator("#stickers").screenshot(path=str(screenshots / f"stickers-public-{width}-{locale}.png"))
        assert page.locator("#stickers img").count() == 8
        assert horizontal_overflow(page) == 0, overflowing_elements(page)
    finally:
        context.close()


def test_the_page_follows_processing_by_polling_without_a_reload(phone, live_server, make):
    from app.storage import get_storage
    from stickers import processing, services

    mia = make.streamer(handle="mia")
    listing = make.sticker_pack(mia, count=2)
    pack = services.own_pack(mia, listing.id)
    services.add_stickers(mia, pack, [("late.png", make.sticker_png(index=5))], get_storage())
    listing_id, email = listing.id, mia.email
    db.session.commit()  # queued, as when the worker has not started yet

    _log_in(phone, live_server, email, make.PASSWORD)
    _open(phone, f"{live_server}/dashboard/sticker-packs/{listing_id}")
    assert phone.locator("#sticker-processing").get_attribute("data-state") == "queued"
    assert "2 of 3 stickers processed" in phone.locator("#sticker-processing").inner_text()
    phone.evaluate("() => { window.stillTheSamePage = true; }")

    processing.process_pack(listing_id, get_storage())  # the worker's run
    db.session.commit()

    phone.locator('#sticker-processing[data-state="done"]').wait_for()
    assert "3 of 3 stickers processed" in phone.locator("#sticker-processing").inner_text()
    assert phone.locator("#sticker-grid .sticker-card.status-ready").count() == 3
    assert phone.evaluate("() => window.stillTheSamePage") is True


def test_drag_and_drop_reorders_the_stickers(browser, live_server, make):
    mia = make.streamer(handle="mia")
    listing = make.sticker_pack(mia, count=3)
    listing_id, email = listing.id, mia.email
    db.session.commit()

    context, page = _screens(browser, live_server, email, make.PASSWORD, 1280, "en")
    try:
        _open(page, f"{live_server}/dashboard/sticker-packs/{listing_id}")
        names = page.locator("#sticker-grid .sticker-name")
        assert names.all_inner_texts() == ["01.png", "02.png", "03.png"]
        page.locator("#sticker-grid .sticker-card").nth(2).locator("[data-drag-handle]").drag_to(
            page.locator("#sticker-grid .sticker-card").nth(0), target_position={"x": 10, "y": 40}
        )
        # saved and swapped in from the server: the moved card now reads #1
        page.wait_for_function(
            "() => [...document.querySelectorAll('#sticker-grid .sticker-card')]"
            ".map(c => c.querySelector('.position-number').textContent + c.querySelector('.sticker-name').textContent)"
            ".join() === '#103.png,#201.png,#302.png'"
        )
        page.reload()
        assert names.all_inner_texts() == ["03.png", "01.png", "02.png"]
    finally:
        context.close()
