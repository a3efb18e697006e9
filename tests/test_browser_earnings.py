"""The earnings dashboard and the operator's ledger page in real headless Chromium: a streamer reaches the
dashboard from the menu on a phone in Chinese and at desktop width in English, switches the chart to months
and to their brand; an operator reads the ledger check. Every page must fit a 375 px screen, and the chart
shown must be the one drawn for the screen's width. Screenshots are saved (ENCORE_SCREENSHOT_DIR keeps them)."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.accounts.models import BrandMembership, User
from app.db import utcnow
from app.extensions import db
from marketplace.royalties import ledger
from marketplace.royalties.ledger import Posting
from tests.api_support import bearer_for
from tests.browser_support import PHONE, horizontal_overflow, log_in, new_page, overflowing_elements
from tests.order_support import buy
from tests.test_royalty_ledger import split_listing

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
COURSE = "夜间直播布光课 Lighting for night streams"


@pytest.fixture
def earnings_history(client, make):
    """A streamer in a brand: real purchases and a refund today, and ten weeks of earlier sales."""
    streamer = make.streamer(email="mia@example.com", handle="mia_miao")
    member_brand = make.brand_member("Glow Co", email="brand@example.com")
    brand = member_brand.memberships[0].brand
    db.session.add(BrandMembership(brand_id=brand.id, user_id=streamer.id))
    course = make.listing(streamer, status="published", kind="course", title=COURSE,
                          prices=[{"currency": "CNY", "amount": 12800}, {"currency": "USD", "amount": 1900}])
    pack = make.listing(streamer, status="published", kind="course", title="Cat sticker pack",
                        prices=[{"currency": "CNY", "amount": 600}])
    cobranded = split_listing(make, streamer, brand, make.user(), amount=29900)
    headers = bearer_for(make, make.user())
    buy(client, headers, course)
    buy(client, headers, cobranded)
    refunded = buy(client, headers, pack)
    assert client.post(f"/api/v1/orders/{refunded['id']}/refunds", json={"reason": "wrong item"},
                       headers=bearer_for(make, make.operator(email="op@example.com"))).status_code == 201
    now = utcnow()
    for week in range(1, 11):
        amount = 5000 + 2300 * (week % 4) + 900 * week
        when = now - timedelta(weeks=week)
        ledger.post(f"history:{week}", "sale", "CNY", [
            Posting(ledger.payable("CNY", streamer.id), amount, listing_id=course.id),
            Posting(ledger.gateway_clearing("CNY"), -amount)], when)
    brand_id = brand.id  # read before the commit: reloading it afterwards would open a transaction again
    db.session.commit()  # end the test's transaction: on SQLite it would keep the live server from writing
    return {"brand_id": brand_id}


def switch_language(page, locale: str, phone: bool) -> None:
    if phone:
        page.locator("label.nav-toggle-label").click()
    with page.expect_navigation():
        page.locator(f".language-switch button[value='{locale}']").click()
    assert page.locator("html").get_attribute("lang") == locale.replace("_", "-")


def fits(page) -> None:
    assert horizontal_overflow(page) == 0, overflowing_elements(page)


#: whether an element's text fits on one line of its own line height (no digits broken onto a second line)
ONE_LINE = "e => e.getBoundingClientRect().height < 1.5 * parseFloat(getComputedStyle(e).lineHeight)"


def visible_chart(page):
    """The one chart of the two drawn that CSS shows at this width."""
    charts = page.locator(".earnings-chart svg.bar-chart")
    visible = [index for index in range(charts.count()) if charts.nth(index).is_visible()]
    assert len(visible) == 1
    return charts.nth(visible[0])


def test_a_streamer_reads_earnings_on_a_phone_in_chinese(browser, live_server, make, earnings_history, screenshots):
    context, page = new_page(browser, PHONE)
    try:
        log_in(page, live_server, "mia@example.com", make.PASSWORD)
        switch_language(page, "zh_CN", phone=True)
        page.locator("label.nav-toggle-label").click()
        with page.expect_navigation():
            page.locator(".nav-links a[href='/dashboard/earnings']").click()
        chart = visible_chart(page)
        assert chart.get_attribute("viewBox").startswith("0 0 360 ")  # the narrow chart: its text stays legible
        assert chart.locator("g.bar").count() == 12
        assert page.locator("#balance-CNY .amount").inner_text().startswith("¥")
        assert page.locator(".top-listings tbody tr").first.locator(".top-title").inner_text() == COURSE
        assert page.locator(".ledger-lines .kind-refund").count() == 1
        page.screenshot(path=str(screenshots / "earnings-375-zh_CN.png"), full_page=True)
        fits(page)

        with page.expect_navigation():
            page.locator(".grain-tabs a[href*='grain=month']").click()
        assert visible_chart(page).locator("g.bar").count() == 12
        fits(page)

        with page.expect_navigation():
            page.locator(f".party-switch a[href*='brand={earnings_history['brand_id']}']").click()
        assert "Glow Co" in page.locator(".earnings-party").inner_text()
        page.screenshot(path=str(screenshots / "earnings-brand-375-zh_CN.png"), full_page=True)
        fits(page)
    finally:
        context.close()


def test_a_streamer_reads_earnings_on_a_desktop_in_english(browser, live_server, make, earnings_history, screenshots):
    context, page = new_page(browser, DESKTOP)
    try:
        log_in(page, live_server, "mia@example.com", make.PASSWORD)
        switch_language(page, "en", phone=False)
        page.goto(f"{live_server}/dashboard/earnings")
        chart = visible_chart(page)
        assert chart.get_attribute("viewBox").startswith("0 0 960 ")
        assert chart.locator("g.bar").count() == 12
        assert chart.get_attribute("aria-label").startswith("Earnings per week. 12 periods")
        page.screenshot(path=str(screenshots / "earnings-1280-en.png"), full_page=True)
        fits(page)
    finally:
        context.close()


@pytest.mark.parametrize(("viewport", "locale"), [(PHONE, "zh_CN"), (PHONE, "en"), (DESKTOP, "en")])
def test_an_operator_reads_the_ledger_check(browser, live_server, make, earnings_history, screenshots, viewport,
                                            locale):
    streamer_id = db.session.scalar(select(User.id).where(User.email == "mia@example.com"))
    big_sale = 12_345_678  # a balance of six figures still reads on one line in a half-width card
    ledger.post("big-sale", "sale", "CNY", [Posting(ledger.payable("CNY", streamer_id), big_sale),
                                            Posting(ledger.gateway_clearing("CNY"), -big_sale)], utcnow())
    db.session.commit()
    context, page = new_page(browser, viewport)
    try:
        log_in(page, live_server, "op@example.com", make.PASSWORD)
        switch_language(page, locale, phone=viewport == PHONE)
        page.goto(f"{live_server}/operator/ledger")
        assert page.locator(".ledger-status.ok").is_visible()
        assert page.locator("#currency-CNY .money-card").count() == 4
        liabilities = page.locator("#currency-CNY .money-card.liabilities .amount")
        assert "12" in liabilities.inner_text().split(",")[0]  # six figures: ¥12x,xxx.xx
        for amount in page.locator("#currency-CNY .money-card .amount").all():
            assert amount.evaluate(ONE_LINE), amount.inner_text()
        assert visible_chart(page).locator("g.bar").count() == 12
        page.screenshot(path=str(screenshots / f"ledger-{viewport['width']}-{locale}.png"), full_page=True)
        fits(page)
    finally:
        context.close()
