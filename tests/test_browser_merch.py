"""Merch end to end in real headless Chromium with CSRF on, on a phone in Chinese and on a desktop in English: a fan
picks the in-stock variant of a published merch listing (the sold-out one is shown but cannot be chosen), gives a
shipping address on the cart page, checks out and pays on the local test-mode page; the order page shows the
shipping and the total with it, and the variant's stock dropped. The streamer marks the order shipped on the
fulfilment page and the fan's order page shows the carrier and tracking number. A brand's member then accepts an
invitation to co-brand the listing, which shows "Streamer × Brand". Every page must fit its screen; screenshots of
the listing, the cart, the order page and the fulfilment page are saved (ENCORE_SCREENSHOT_DIR=/tmp/shots keeps
them)."""
from __future__ import annotations

import pytest

from app.accounts.models import User
from app.db import utcnow
from app.extensions import db
from app.money import Money
from marketplace.catalog.models import Listing
from marketplace.merch import cobranding
from tests.browser_support import PHONE
from tests.stock_support import ADDRESS, merch_listing, stock_of, variant_ids
from tests.test_browser_downloads import DESKTOP, csrf_on, fits, log_in, new_page, switch_language  # noqa: F401

pytestmark = pytest.mark.browser

TITLE = "主播同款卫衣 Tour hoodie"
PRICE = 5000  # 50.00 CNY a hoodie
SHIPPING = 1000  # 10.00 CNY to CN (the streamer's shipping profile)
QUANTITY = 2
CARRIER = "顺丰速运 SF Express"
TRACKING = "SF1234567890"


@pytest.fixture
def merch_shop(make):
    """A streamer's published hoodie shipping by a profile of 10.00 CNY to CN: size L with 3 in stock, size XL
    sold out; a fan; a brand's member."""
    streamer = make.streamer(email="mia@example.com", handle="mia_miao")
    listing = merch_listing(make, streamer, title=TITLE, prices=[{"currency": "CNY", "amount": PRICE}],
                            shipping=SHIPPING, variants=[{"sku": "HOOD-L", "options": {"size": "L"}, "stock": 3},
                                                         {"sku": "HOOD-XL", "options": {"size": "XL"}, "stock": 0}])
    make.user(email="lin@example.com", display_name="Lin")
    member = make.brand_member("Glow Co 光影", email="glow@example.com")
    in_stock, sold_out = variant_ids(listing)
    ids = {"listing_id": listing.id, "slug": listing.slug, "in_stock": in_stock, "sold_out": sold_out,
           "streamer_id": streamer.id, "streamer_name": listing.creator.display_name,
           "brand_id": member.memberships[0].brand.id, "brand_name": member.memberships[0].brand.name}
    db.session.commit()  # end the test's read transaction: on SQLite it would keep the live server from writing
    return ids


def money(amount: int, locale: str) -> str:
    return Money(amount, "CNY").format(locale)


def shot(page, screenshots, name: str, tag: str) -> None:
    page.evaluate("window.scrollTo(0, 0)")  # else the sticky header is drawn where the page was scrolled to
    page.screenshot(path=str(screenshots / f"merch-{name}-{tag}.png"), full_page=True)


@pytest.mark.parametrize("locale, viewport", [("zh_CN", PHONE), ("en", DESKTOP)], ids=["375-zh_CN", "1280-en"])
def test_a_fan_buys_merch_the_streamer_ships_it_and_a_brand_co_brands_it(browser, live_server, make, merch_shop,
                                                                         csrf_on, screenshots, locale, viewport):
    shop = merch_shop
    phone = viewport == PHONE
    tag = f"{viewport['width']}-{locale}"

    def open_as(email: str):
        context, page = new_page(browser, viewport)
        log_in(page, live_server, email, make.PASSWORD)
        if locale != "en":
            switch_language(page, locale, phone=phone)
        return context, page

    # the fan: choose a variant, give an address, check out, pay
    context, page = open_as("lin@example.com")
    try:
        page.goto(f"{live_server}/listings/{shop['slug']}")
        sold_out = page.locator(f"#variant-{shop['sold_out']}")
        assert sold_out.is_visible() and "sold-out" in sold_out.get_attribute("class")
        assert sold_out.locator("input[type=radio]").is_disabled()
        assert sold_out.locator(".badge.error").is_visible()
        choice = page.locator(f"#variant-{shop['in_stock']}")
        assert choice.locator("input[type=radio]").is_enabled()
        assert page.locator("form.add-to-cart").count() == 0  # the plain form steps aside for the chooser
        choice.locator("input[type=radio]").check()
        page.fill("#variant-quantity", str(QUANTITY))
        shot(page, screenshots, "listing", tag)
        fits(page)
        with page.expect_navigation():
            page.locator(".variant-form button[type=submit]").click()
        assert page.url.endswith("/cart")
        assert TITLE in page.locator(".cart-lines").inner_text()
        assert page.locator(".cart-line input[type=number]").input_value() == str(QUANTITY)

        assert page.locator("fieldset.shipping-address").is_visible()
        for name in ("name", "line1", "city", "postal_code"):
            page.fill(f"#address-{name}", ADDRESS[name])
        page.select_option("#address-country", ADDRESS["country"])
        checkout = page.locator("form.cart-checkout button[type=submit]")
        checkout.scroll_into_view_if_needed()
        shot(page, screenshots, "cart", tag)
        fits(page)
        with page.expect_navigation():
            checkout.click()
        assert "/pay/local/" in page.url, page.locator("main").inner_text()
        assert page.locator(".test-mode-banner").is_visible()
        assert TITLE in page.locator(".test-pay-lines").inner_text()
        shot(page, screenshots, "pay", tag)
        fits(page)
        with page.expect_navigation():
            page.locator("button[name=action][value=pay]").click()
        assert "/orders/EN-" in page.url and "paid=1" in page.url
        assert page.locator(".order-header .order-status").get_attribute("data-status") == "paid"  # waits for shipping
        assert TITLE in page.locator(".order-lines").inner_text()
        assert page.locator(".order-shipping dd").inner_text().strip() == money(SHIPPING, locale)
        assert page.locator(".order-grand-total dd").inner_text().strip() == money(PRICE * QUANTITY + SHIPPING, locale)
        assert ADDRESS["line1"] in page.locator("main").inner_text()
        number = page.locator("h1").inner_text().split()[-1]
        order_url = page.url.split("?")[0]
        shot(page, screenshots, "order", tag)
        fits(page)
    finally:
        context.close()

    assert stock_of(shop["in_stock"]) == 3 - QUANTITY and stock_of(shop["sold_out"]) == 0
    db.session.commit()

    # the streamer ships it
    context, page = open_as("mia@example.com")
    try:
        page.goto(f"{live_server}/dashboard/fulfilment")
        order = page.locator("section.fulfilment-order")
        assert order.count() == 1 and number in order.locator("h2").inner_text()
        assert ADDRESS["line1"] in order.locator(".fulfilment-address").inner_text()
        assert f"× {QUANTITY}" in order.locator(".fulfilment-line").inner_text()
        assert order.locator(".fulfilment-line input[type=checkbox]").is_checked()
        order.locator("input[name=carrier]").fill(CARRIER)
        order.locator("input[name=tracking_number]").fill(TRACKING)
        shot(page, screenshots, "fulfilment", tag)
        fits(page)
        with page.expect_navigation():
            order.locator("button[type=submit]").click()
        assert page.url.endswith("/dashboard/fulfilment")
        assert TRACKING in page.locator(".flash-success").inner_text()
        assert page.locator("section.fulfilment-order").count() == 0
        shot(page, screenshots, "fulfilment-done", tag)
        fits(page)
    finally:
        context.close()

    # the fan reads the carrier and tracking number on the order page
    context, page = open_as("lin@example.com")
    try:
        page.goto(order_url)
        shipment = page.locator(".order-line-shipment")
        assert CARRIER in shipment.inner_text() and TRACKING in shipment.inner_text()
        assert page.locator(".order-header .order-status").get_attribute("data-status") == "fulfilled"
        shot(page, screenshots, "order-shipped", tag)
        fits(page)
    finally:
        context.close()

    # the streamer invites the brand to co-brand the listing; its member accepts on the invitations page
    streamer = db.session.get(User, shop["streamer_id"])
    cobranding.invite(streamer, db.session.get(Listing, shop["listing_id"]), shop["brand_id"], 2000, None, utcnow())
    db.session.commit()
    context, page = open_as("glow@example.com")
    try:
        page.goto(f"{live_server}/dashboard/brands/{shop['brand_id']}/cobranding")
        invitation = page.locator("section.cobranding-invitation")
        assert invitation.count() == 1 and TITLE in invitation.locator("h2").inner_text()
        shot(page, screenshots, "cobranding", tag)
        fits(page)
        with page.expect_navigation():
            invitation.locator("button.primary").click()
        assert page.locator(".flash-success").is_visible()
        assert invitation.locator(".offer-actions").count() == 0
        fits(page)

        page.goto(f"{live_server}/listings/{shop['slug']}")
        assert f"{shop['streamer_name']} × {shop['brand_name']}" in page.locator(".creator-box").inner_text()
        shot(page, screenshots, "listing-cobranded", tag)
        fits(page)
    finally:
        context.close()
