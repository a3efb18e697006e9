"""The fulfilment page: the streamer's queue of paid merch with the buyer's address and the variant, a form per order
that marks the chosen lines shipped (errors shown again with the input kept), and who may see what."""
from __future__ import annotations

import pytest

from app.extensions import db
from marketplace.orders.models import OrderLine, OrderStatus
from tests.api_support import bearer_for
from tests.order_support import order_row
from tests.page_support import logged_in, text_of
from tests.test_browser_downloads import DESKTOP, csrf_on, fits, log_in, new_page  # noqa: F401
from tests.test_merch_fulfilment import buy_with_address, published_merch


def paid_merch_order(client, make):
    owner = make.streamer()
    hoodie, variant = published_merch(make, owner, title="Tour hoodie")
    fan = make.user(display_name="Mei")
    order = buy_with_address(client, bearer_for(make, fan), [(hoodie, variant)])
    return owner, fan, order_row(order["id"])


def test_the_queue_shows_the_order_address_and_items_and_a_nav_link(app, client, make):
    owner, fan, order = paid_merch_order(client, make)
    page = logged_in(app, make, owner).get("/dashboard/fulfilment")
    assert page.status_code == 200
    html = text_of(page)
    assert order.number in html and "Mei Lin" in html and "88 Century Avenue" in html and "200120" in html
    assert "Tour hoodie" in html and "SKU-" in html and "× 1" in html
    assert 'href="/dashboard/fulfilment"' in html and 'name="viewport"' in html
    # the fan has nothing to ship and no link
    fan_page = logged_in(app, make, fan).get("/dashboard/fulfilment")
    assert fan_page.status_code == 200 and order.number not in text_of(fan_page)
    assert 'href="/dashboard/fulfilment"' not in text_of(logged_in(app, make, fan).get("/orders"))


def test_marking_shipped_fulfils_the_order_and_errors_are_shown_again(app, client, make):
    owner, fan, order = paid_merch_order(client, make)
    line_id = order.lines[0].id
    browser = logged_in(app, make, owner)
    refused = browser.post(f"/dashboard/fulfilment/{order.id}/ship",
                           data={"line_ids": [str(line_id)], "carrier": "SF Express", "tracking_number": ""})
    assert refused.status_code == 422
    html = text_of(refused)
    assert "Enter the tracking number" in html and 'value="SF Express"' in html
    db.session.expire_all()
    assert db.session.get(OrderLine, line_id).shipped_at is None

    stranger = logged_in(app, make, make.streamer())
    assert stranger.post(f"/dashboard/fulfilment/{order.id}/ship", data={
        "line_ids": [str(line_id)], "carrier": "SF", "tracking_number": "1"}).status_code == 404

    done = browser.post(f"/dashboard/fulfilment/{order.id}/ship", data={
        "line_ids": [str(line_id)], "carrier": "SF Express", "tracking_number": "SF42"}, follow_redirects=True)
    assert done.status_code == 200 and "SF42" in text_of(done)
    assert "Nothing is waiting to be shipped." in text_of(done)
    assert order_row(order.id).status == OrderStatus.FULFILLED
    again = browser.post(f"/dashboard/fulfilment/{order.id}/ship", data={
        "line_ids": [str(line_id)], "carrier": "SF Express", "tracking_number": "SF43"})
    assert again.status_code == 409 and "already shipped" in text_of(again)


def test_the_fan_order_page_shows_the_tracking(app, client, make):
    owner, fan, order = paid_merch_order(client, make)
    browser = logged_in(app, make, owner)
    browser.post(f"/dashboard/fulfilment/{order.id}/ship", data={
        "line_ids": [str(order.lines[0].id)], "carrier": "SF Express", "tracking_number": "SF42"})
    page = logged_in(app, make, fan).get(f"/orders/{order.number}")
    assert page.status_code == 200
    assert "SF42" in text_of(page) and "SF Express" in text_of(page)


@pytest.mark.browser
def test_a_streamer_marks_an_order_shipped_on_a_phone(browser, live_server, client, make, csrf_on, screenshots):
    owner = make.streamer(email="mia@example.com", handle="mia_miao")
    hoodie, variant = published_merch(make, owner, title="夜光卫衣 Glow hoodie")
    fan = make.user(display_name="Mei")
    order = order_row(buy_with_address(client, bearer_for(make, fan), [(hoodie, variant)])["id"])
    number, order_id = order.number, order.id
    db.session.commit()  # end the test's read transaction: on SQLite it would keep the live server from writing
    context, page = new_page(browser)
    try:
        log_in(page, live_server, "mia@example.com", make.PASSWORD)
        page.locator("label.nav-toggle-label").click()
        with page.expect_navigation():
            page.locator("nav a[href='/dashboard/fulfilment']").click()
        assert number in page.content()
        fits(page)
        page.screenshot(path=str(screenshots / "fulfilment-375.png"), full_page=True)
        page.fill(f"#carrier-{order_id}", "SF Express")
        with page.expect_navigation():
            page.locator(f"#order-{order_id} button[type=submit]").click()
        assert "Enter the tracking number" in page.content()  # refused at the form, the carrier kept
        assert page.locator(f"#carrier-{order_id}").input_value() == "SF Express"
        fits(page)
        page.fill(f"#tracking_number-{order_id}", "SF1234567890")
        with page.expect_navigation():
            page.locator(f"#order-{order_id} button[type=submit]").click()
        assert "SF1234567890" in page.content() and "Nothing is waiting to be shipped." in page.content()
        fits(page)
        page.set_viewport_size(DESKTOP)
        page.screenshot(path=str(screenshots / "fulfilment-1280.png"), full_page=True)
    finally:
        context.close()
    assert order_row(order_id).status == OrderStatus.FULFILLED
