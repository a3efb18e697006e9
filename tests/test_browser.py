"""Real headless Chromium on a phone-sized screen: pages fit the width, and the login form works with CSRF on."""
from __future__ import annotations

import pytest

from app.extensions import db
from app.storage import get_storage
from marketplace.catalog import services as catalog
from tests.browser_support import horizontal_overflow, overflowing_elements

pytestmark = pytest.mark.browser

LONG_TITLE = "超级无敌可爱的猫猫表情包合集 Supercalifragilisticexpialidocious Cat Emotes Vol. 12"


@pytest.fixture
def shop(make):
    """A streamer with live rooms and published listings, one with a wide cover and a long title."""
    streamer = make.streamer(handle="mia_miao")
    make.live_room(streamer, platform="douyin", url="https://live.douyin.com/612345678", title="米娅的画猫直播间")
    make.live_room(streamer, platform="twitch", url="https://www.twitch.tv/mia_miao", title="Mia draws cats")
    featured = make.listing(
        streamer,
        status="published",
        title=LONG_TITLE,
        slug="cat-emotes-vol-12",
        tags=["cats", "emotes", "averyveryverylongtagwithoutanyspaces"],
        prices=[{"currency": "CNY", "amount": 1200}, {"currency": "USD", "amount": 199}],
    )
    catalog.set_cover(streamer, featured, make.png_bytes(size=(1600, 500), color=(240, 120, 150)), get_storage())
    for n in range(3):
        make.listing(streamer, status="published", kind="merch", title=f"周边 Merch item {n}", prices=[{"currency": "CNY", "amount": 5900}])
    db.session.commit()
    return featured


def _visit(page, url: str) -> None:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, f"{url} answered {response and response.status}"


def test_home_page_fits_a_phone_screen(phone, live_server, shop, screenshots):
    _visit(phone, f"{live_server}/")
    phone.screenshot(path=str(screenshots / "home.png"), full_page=True)

    assert "Encore" in phone.title()
    assert phone.get_by_text(LONG_TITLE).first.is_visible()
    assert horizontal_overflow(phone) == 0, overflowing_elements(phone)


def test_listing_page_with_a_wide_cover_and_long_title_fits_a_phone_screen(phone, live_server, shop, screenshots):
    _visit(phone, f"{live_server}/listings/{shop.slug}")
    phone.screenshot(path=str(screenshots / "listing.png"), full_page=True)

    assert phone.locator("h1").first.inner_text().strip() == LONG_TITLE
    cover = phone.locator("img").first
    assert cover.evaluate("img => img.complete && img.naturalWidth > 0")
    assert horizontal_overflow(phone) == 0, overflowing_elements(phone)


def test_login_through_the_real_form_with_csrf_on(app, phone, live_server, make, screenshots):
    make.user(email="lin@example.com", display_name="Lin")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        _visit(phone, f"{live_server}/login")
        assert phone.locator("input[name=csrf_token]").first.get_attribute("value")
        assert horizontal_overflow(phone) == 0, overflowing_elements(phone)
        phone.fill("input[name=email]", "lin@example.com")
        phone.fill("input[name=password]", make.PASSWORD)
        with phone.expect_navigation():
            phone.locator("main form button[type=submit]").first.click()
        phone.screenshot(path=str(screenshots / "after-login.png"), full_page=True)

        assert phone.url.rstrip("/") == live_server
        assert "Welcome back, Lin." in phone.locator(".flashes").inner_text()
        assert phone.locator("form[action$='/logout']").count() == 1  # in the (collapsed) phone menu
        assert horizontal_overflow(phone) == 0, overflowing_elements(phone)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False


def test_login_with_a_wrong_password_stays_on_the_form_and_keeps_the_email(app, phone, live_server, make, screenshots):
    make.user(email="lin@example.com")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        _visit(phone, f"{live_server}/login")
        phone.fill("input[name=email]", "lin@example.com")
        phone.fill("input[name=password]", "not the password")
        with phone.expect_navigation():
            phone.locator("main form button[type=submit]").first.click()
        phone.screenshot(path=str(screenshots / "login-refused.png"), full_page=True)

        assert "/login" in phone.url
        assert "The email or password is not correct." in phone.locator("main").inner_text()
        assert phone.input_value("input[name=email]") == "lin@example.com"
        assert phone.locator("form[action$='/logout']").count() == 0
        assert horizontal_overflow(phone) == 0, overflowing_elements(phone)
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
