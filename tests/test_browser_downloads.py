"""The download pages in real headless Chromium with CSRF on: a fan opens the library on a phone in English and in
Chinese and downloads a file; the seller adds a file on the files page and reads the download counts. Every page
must fit a 375 px screen. Screenshots of the library, the files page and the counts page at 375 and 1280 px are
saved (ENCORE_SCREENSHOT_DIR=/tmp/shots keeps them)."""
from __future__ import annotations

import io
import zipfile

import pytest

from app.extensions import db
from marketplace.downloads import services
from app.storage import get_storage
from tests.api_support import bearer_for
from tests.browser_support import PHONE, horizontal_overflow, log_in, new_page, overflowing_elements
from tests.order_support import buy

pytestmark = pytest.mark.browser

PRICES = [{"currency": "CNY", "amount": 1200}]
DESKTOP = {"width": 1280, "height": 900}
COURSE_TITLE = "夜间直播布光课 Lighting for night streams"


def zip_bytes(text: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", text * 200)
    return buffer.getvalue()


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def shop(client, make):
    """A seller with a course (two files) and a studio setup (one file), both bought by the fan."""
    seller = make.streamer(email="mia@example.com", handle="mia_miao")
    course = make.listing(seller, status="published", kind="course", title=COURSE_TITLE, prices=PRICES)
    setup = make.listing(seller, status="published", kind="studio_setup", title="Two-light desk setup", prices=PRICES)
    for listing, name, text in ((course, "第一课 Key light basics.zip", "key light "), (course, "Lesson 2 – fill and rim light presets.zip", "fill "),
                                (setup, "desk-presets.zip", "desk ")):
        services.add_listing_file(seller, listing, name, io.BytesIO(zip_bytes(text)), get_storage())
    db.session.commit()
    fan = make.user(email="lin@example.com", display_name="Lin")
    fan_headers = bearer_for(make, fan)
    order = buy(client, fan_headers, course, setup)
    course_id, setup_id = course.id, setup.id
    # the setup's file downloaded twice and once through a shared link, for the seller's counts
    (setup_item,) = [item for item in client.get("/api/v1/library", headers=fan_headers).get_json()["items"]
                     if item["listing"]["id"] == setup_id]
    link = setup_item["files"][0]["download_url"]
    assert [client.get(link, headers=fan_headers).status_code for _ in range(2)] == [200, 200]
    assert client.get(link, headers=bearer_for(make, make.user())).status_code == 403
    db.session.commit()  # end the test's read transaction: on SQLite it would keep the live server from writing
    return {"course_id": course_id, "setup_id": setup_id, "order_number": order["number"]}


def switch_language(page, locale: str, phone: bool = True) -> None:
    """Through the header's language switch (in the collapsed menu on a phone)."""
    if phone:
        page.locator("label.nav-toggle-label").click()
    with page.expect_navigation():
        page.locator(f".language-switch button[value='{locale}']").click()
    assert page.locator("html").get_attribute("lang") == locale.replace("_", "-")


def fits(page) -> None:
    assert horizontal_overflow(page) == 0, overflowing_elements(page)


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_fan_downloads_from_the_library_on_a_phone(browser, live_server, make, shop, csrf_on, screenshots, locale):
    context, page = new_page(browser, accept_downloads=True)
    try:
        log_in(page, live_server, "lin@example.com", make.PASSWORD)
        if locale != "en":
            switch_language(page, locale)
        page.locator("label.nav-toggle-label").click()
        with page.expect_navigation():
            page.locator(".nav-links a[href='/library']").click()
        assert page.url.endswith("/library")

        course = page.locator(f"#listing-{shop['course_id']}")
        assert COURSE_TITLE in course.locator(".library-title").inner_text()
        assert shop["order_number"] in course.locator(".library-meta").inner_text()
        assert course.locator(".library-file").count() == 2
        assert page.locator(f"#kind-studio_setup #listing-{shop['setup_id']}").count() == 1
        assert page.locator(".library-kind").count() == 2
        first = course.locator(".library-file").first
        assert "10" in first.locator(".downloads-left").inner_text()
        page.screenshot(path=str(screenshots / f"downloads-library-375-{locale}.png"), full_page=True)
        fits(page)

        button = first.locator("a.library-download")
        box = button.bounding_box()
        assert box["height"] >= 40 and box["width"] >= 200  # a full-width thumb target on a phone
        with page.expect_download() as started:
            button.click()
        download = started.value
        assert download.suggested_filename == "第一课 Key light basics.zip"
        with open(download.path(), "rb") as saved:
            assert zipfile.ZipFile(saved).read("readme.txt").startswith(b"key light ")

        page.reload()
        assert "9" in page.locator(f"#listing-{shop['course_id']} .library-file").first.locator(".downloads-left").inner_text()
        fits(page)
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_the_seller_adds_a_file_and_reads_the_counts(browser, live_server, make, shop, csrf_on, screenshots, tmp_path, locale):
    upload = tmp_path / "Lesson 3 – camera settings cheat sheet.zip"
    upload.write_bytes(zip_bytes("camera "))
    for width, viewport in ((375, PHONE), (1280, DESKTOP)):
        context, page = new_page(browser, viewport, accept_downloads=True)
        try:
            log_in(page, live_server, "mia@example.com", make.PASSWORD)
            if locale != "en":
                switch_language(page, locale, phone=viewport == PHONE)
            page.goto(f"{live_server}/dashboard")
            page.screenshot(path=str(screenshots / f"downloads-dashboard-{width}-{locale}.png"), full_page=True)
            fits(page)
            with page.expect_navigation():
                page.locator(f"#listing-{shop['course_id']} a[href$='/files']").click()
            assert page.locator(".files-table tbody tr").count() == 2 + (width == 1280)
            assert page.locator(".files-kept-note").is_visible()  # bought: the files stay
            assert page.locator(".files-table button").count() == 0

            if width == 375:
                page.set_input_files("input[name=file]", {"name": "handout.pdf", "mimeType": "application/pdf",
                                                          "buffer": b"not a pdf at all"})
                with page.expect_navigation():
                    page.locator(".upload-form button[type=submit]").click()
                assert "handout.pdf" in page.locator("#file-errors").inner_text()  # refused, said on the page
                assert page.evaluate("document.activeElement.name") == "file"  # focused, so the phone shows the reason
                page.evaluate("window.scrollTo(0, 0)")  # a full-page shot of a scrolled page draws the sticky header mid-page
                page.screenshot(path=str(screenshots / f"downloads-files-refused-{width}-{locale}.png"), full_page=True)
                fits(page)
                page.set_input_files("input[name=file]", str(upload))
                with page.expect_navigation():
                    page.locator(".upload-form button[type=submit]").click()
                assert page.locator(".flash-success").is_visible()
                assert page.locator(".files-table tbody tr").count() == 3
            page.screenshot(path=str(screenshots / f"downloads-files-{width}-{locale}.png"), full_page=True)
            fits(page)

            page.goto(f"{live_server}/dashboard/downloads")
            assert page.locator(".counts-table tbody tr").count() == 2
            assert page.locator(".download-charts figure.bars").count() == 2
            page.screenshot(path=str(screenshots / f"downloads-counts-{width}-{locale}.png"), full_page=True)
            fits(page)
        finally:
            context.close()

    context, page = new_page(browser, DESKTOP, accept_downloads=True)
    try:
        log_in(page, live_server, "lin@example.com", make.PASSWORD)
        if locale != "en":
            switch_language(page, locale, phone=False)
        page.goto(f"{live_server}/library")
        assert page.locator(f"#listing-{shop['course_id']} .library-file").count() == 3  # the new file reaches the buyer
        page.screenshot(path=str(screenshots / f"downloads-library-1280-{locale}.png"), full_page=True)
        fits(page)
    finally:
        context.close()
