"""Buying in real headless Chromium on a phone, with CSRF on: add to cart, check out, pay on the local test-mode
page, land on the order page once it is fulfilled; then the seller's sales page. Each page must fit a 375 px
screen, in English and in Chinese (switched with the header's language switch). Screenshots of the cart, the
pay page, the order page and the sales page are saved (ENCORE_SCREENSHOT_DIR=/tmp/shots keeps them)."""
from __future__ import annotations

import pytest

from app.accounts.models import User
from app.extensions import db
from marketplace.catalog.models import Listing
from tests.browser_support import PHONE, horizontal_overflow, log_in, new_page, overflowing_elements

pytestmark = pytest.mark.browser

TITLE = "超级可爱的猫猫表情包 Cat Emotes Vol. 12"


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


@pytest.fixture
def shop(make):
    seller = make.streamer(email="mia@example.com", handle="mia_miao")
    listing = make.listing(seller, status="published", kind="course", title=TITLE, slug="cat-emotes",
                           prices=[{"currency": "CNY", "amount": 1200}, {"currency": "USD", "amount": 199}])
    make.listing(seller, status="published", kind="course", title="Night studio lighting course",
                 prices=[{"currency": "CNY", "amount": 8800}])
    make.user(email="lin@example.com", display_name="Lin")
    slug = listing.slug
    # end the test's read transaction: on SQLite it would keep the live server from writing
    db.session.commit()
    return "mia@example.com", "lin@example.com", slug


def switch_language(page, locale: str) -> None:
    """Through the header's language switch, which sits in the phone's collapsed menu."""
    page.locator("label.nav-toggle-label").click()
    with page.expect_navigation():
        page.locator(f".language-switch button[value='{locale}']").click()
    assert page.locator("html").get_attribute("lang") == locale.replace("_", "-")


def fits(page) -> None:
    assert horizontal_overflow(page) == 0, overflowing_elements(page)


@pytest.mark.parametrize("locale", ["en", "zh_CN"])
def test_a_fan_buys_on_a_phone_and_the_seller_sees_the_sale(browser, live_server, make, shop, csrf_on, screenshots, locale):
    seller_email, fan_email, slug = shop
    context, page = new_page(browser)
    try:
        log_in(page, live_server, fan_email, make.PASSWORD)
        if locale != "en":
            switch_language(page, locale)

        page.goto(f"{live_server}/listings/{slug}")
        with page.expect_navigation():
            page.locator("form.add-to-cart button[type=submit]").click()
        assert page.url.endswith("/cart")
        checkout = page.locator("form.cart-checkout button[type=submit]")
        assert checkout.is_visible()
        checkout.scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / f"orders-cart-{locale}.png"), full_page=True)
        fits(page)

        with page.expect_navigation():
            checkout.click()
        assert "/pay/local/" in page.url
        assert page.locator(".test-mode-banner").is_visible()
        assert TITLE in page.locator(".test-pay-lines").inner_text()
        pay = page.locator("button[name=action][value=pay]")
        assert pay.is_visible() and page.locator("button[name=action][value=decline]").is_visible()
        page.screenshot(path=str(screenshots / f"orders-pay-{locale}.png"), full_page=True)
        fits(page)

        with page.expect_navigation():
            pay.click()
        assert "/orders/EN-" in page.url and "paid=1" in page.url
        status = page.locator(".order-header .order-status")
        assert status.get_attribute("data-status") == "fulfilled"  # the test queue delivers before the redirect
        assert page.locator(".order-paid-notice").is_visible()
        assert TITLE in page.locator(".order-lines").inner_text()
        number = page.locator("h1").inner_text().split()[-1]
        page.screenshot(path=str(screenshots / f"orders-order-{locale}.png"), full_page=True)
        fits(page)

        page.goto(f"{live_server}/orders")
        assert number in page.locator("main").inner_text()
        fits(page)
    finally:
        context.close()

    context, page = new_page(browser)
    try:
        log_in(page, live_server, seller_email, make.PASSWORD)
        if locale != "en":
            switch_language(page, locale)
        page.goto(f"{live_server}/dashboard/orders")
        assert number in page.locator(".sales-table").inner_text()
        assert page.locator(".sales-charts .bar").count() == 1
        page.screenshot(path=str(screenshots / f"orders-sales-{locale}.png"), full_page=True)
        fits(page)

        page.goto(f"{live_server}/orders/{number}")
        assert page.locator("#refund-form").is_visible()
        page.screenshot(path=str(screenshots / f"orders-seller-order-{locale}.png"), full_page=True)
        fits(page)
    finally:
        context.close()


def test_an_operator_filters_the_orders_and_refunds_one_on_a_desktop(app, browser, live_server, make, shop, screenshots):
    from sqlalchemy import select

    from marketplace.orders.models import Order
    from tests.page_support import logged_in

    _seller_email, fan_email, _slug = shop
    fan_client = logged_in(app, make, db.session.scalar(select(User).where(User.email == fan_email)))
    listing_id = db.session.scalar(select(Listing.id).where(Listing.slug == "cat-emotes"))
    fan_client.post("/cart/lines", data={"listing_id": listing_id})
    pay_url = fan_client.post("/checkout", data={"currency": "CNY"}).headers["Location"]
    fan_client.post(pay_url, data={"action": "pay"})
    order = db.session.scalar(select(Order))
    order.needs_attention, order.attention_note = True, "late_payment"
    number = order.number
    make.operator(email="ops@example.com")
    db.session.commit()

    app.config["WTF_CSRF_ENABLED"] = True
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    context.set_default_timeout(10_000)
    page = context.new_page()
    try:
        log_in(page, live_server, "ops@example.com", make.PASSWORD)
        page.goto(f"{live_server}/operator/orders")
        page.check("input[name=attention]")
        with page.expect_navigation():
            page.locator(".order-filters button[type=submit]").click()
        assert "attention=1" in page.url
        assert number in page.locator(".operator-table").inner_text()
        assert "after the order had closed" in page.locator(".attention-note").inner_text()
        page.screenshot(path=str(screenshots / "orders-operator-list-en.png"), full_page=True)

        with page.expect_navigation():
            page.locator(f"a.order-number:text('{number}')").click()
        page.fill("#refund-reason", "Paid after it closed")
        page.screenshot(path=str(screenshots / "orders-operator-order-en.png"), full_page=True)
        with page.expect_navigation():
            page.locator("button[name=scope][value=all]").click()
        assert page.locator(".order-header .order-status").get_attribute("data-status") == "refunded"
        assert "Refunded CN¥12.00" in page.locator(".flashes").inner_text()
    finally:
        context.close()
        app.config["WTF_CSRF_ENABLED"] = False
