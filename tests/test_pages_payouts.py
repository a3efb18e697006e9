"""The payout pages: a streamer connects a payout account and pays out from the page, sees why the button is
disabled, switches to a brand of theirs; operators see every payout (failed ones with their reason), filter
them and run payouts; everyone else is refused."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from marketplace.royalties import ledger
from marketplace.royalties.models import Payout, PayoutAccount
from tests import test_royalty_ledger as ledger_tests
from tests.api_support import bearer_for
from tests.browser_support import PHONE, horizontal_overflow, log_in, new_page, overflowing_elements
from tests.page_support import logged_in, text_of
from tests.stripe_support import fake_stripe, stripe_gateway_mode  # noqa: F401  (fixtures)
from tests.test_royalty_payouts import earning_streamer

PAGE = "/dashboard/payouts"


def payouts_count() -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count(Payout.id)))


def test_a_streamer_connects_an_account_and_pays_out_from_the_page(app, client, make):
    streamer, _listing = earning_streamer(client, make)
    browser = logged_in(app, make, streamer)

    page = text_of(browser.get(PAGE))
    assert "180.00" in page and "Connect a payout account first." in page
    assert 'name="currency"' not in page  # no form to submit while the button is disabled

    response = browser.post(f"{PAGE}/account", data={"external_id": "ICBC 6222 ···· 4321"})
    assert response.status_code == 302
    page = text_of(browser.get(PAGE))
    assert "Your payout account was saved." in page and "ICBC 6222 ···· 4321" in page
    assert 'name="currency" value="CNY"' in page

    response = browser.post(f"{PAGE}/request", data={"currency": "CNY"}, follow_redirects=True)
    page = text_of(response)
    assert response.status_code == 200
    assert "180.00 was paid out." in page
    assert 'class="badge success">Paid' in page
    assert "There is nothing to pay out." in page  # the balance is now zero
    assert payouts_count() == 1 and ledger.check_ledger().sums_to_zero


def test_refusals_show_the_page_again_with_the_reason(app, client, make):
    streamer, _listing = earning_streamer(client, make, amount=5_000)  # earns 45.00
    browser = logged_in(app, make, streamer)

    response = browser.post(f"{PAGE}/account", data={"external_id": "ab"})
    assert response.status_code == 422
    assert "Name the account in 3 to 80 characters." in text_of(response)
    assert 'value="ab"' in text_of(response)  # what was typed is kept
    assert db.session.scalar(select(func.count(PayoutAccount.id))) == 0

    browser.post(f"{PAGE}/account", data={"external_id": "my bank"})
    page = text_of(browser.get(PAGE))
    assert "Payouts start at" in page and "this balance is" in page

    # the disabled button's request, sent anyway: 409, nothing paid
    response = browser.post(f"{PAGE}/request", data={"currency": "CNY"})
    assert response.status_code == 409 and "Payouts start at" in text_of(response)
    response = browser.post(f"{PAGE}/request", data={"currency": "???"})
    assert response.status_code == 422
    assert payouts_count() == 0


def test_brand_members_switch_to_the_brands_payouts_and_others_are_refused(app, client, make):
    owner, designer = make.streamer(), make.user()
    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    listing = ledger_tests.split_listing(make, owner, brand, designer, amount=60_000)
    ledger_tests.buy(client, bearer_for(make, make.user()), listing)
    browser = logged_in(app, make, member)

    page = text_of(browser.get(PAGE))
    assert f"{PAGE}?brand={brand.id}" in page  # the party switch
    page = text_of(browser.get(f"{PAGE}?brand={brand.id}"))
    assert "What Encore owes Glow Co" in page and "120.00" in page
    browser.post(f"{PAGE}/account", data={"external_id": "Glow Co corporate", "brand": brand.id})
    response = browser.post(f"{PAGE}/request", data={"currency": "CNY", "brand": brand.id})
    assert response.headers["Location"].endswith(f"{PAGE}?brand={brand.id}")
    payout = db.session.scalar(select(Payout))
    assert (payout.brand_id, payout.amount, payout.status) == (brand.id, 12_000, "paid")

    outsider = logged_in(app, make, owner)  # in the split, but not a member of the brand
    assert outsider.get(f"{PAGE}?brand={brand.id}").status_code == 403
    assert outsider.post(f"{PAGE}/request", data={"currency": "CNY", "brand": brand.id}).status_code == 403
    assert outsider.post(f"{PAGE}/account", data={"external_id": "mine now", "brand": brand.id}).status_code == 403
    assert outsider.get(f"{PAGE}?brand=987654").status_code == 404
    assert payouts_count() == 1


def test_signed_out_visitors_are_sent_to_the_login_page(client):
    response = client.get(PAGE)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.get("/operator/payouts").status_code == 302


def test_operators_see_every_payout_and_failed_ones_with_their_reason(app, client, make, stripe_gateway_mode):
    fake = stripe_gateway_mode
    streamer, _listing = earning_streamer(client, make)
    headers = bearer_for(make, streamer)
    account = fake.add_account(payouts_enabled=False)  # Stripe refuses transfers to it
    assert client.put("/api/v1/payouts/account", json={"external_id": account}, headers=headers).status_code == 200
    assert client.post("/api/v1/payouts", json={"currency": "CNY"}, headers=headers).status_code == 201

    assert logged_in(app, make, streamer).get("/operator/payouts").status_code == 403
    operator = logged_in(app, make, make.operator())
    page = text_of(operator.get("/operator/payouts"))
    assert 'class="payout-row-failed"' in page and "cannot receive transfers" in page
    assert "1 payout below failed" in page and account in page
    assert 'class="payout-row-failed"' not in text_of(operator.get("/operator/payouts?status=paid"))
    assert "No payouts with this status." in text_of(operator.get("/operator/payouts?status=paid"))
    assert "cannot receive" in text_of(operator.get("/operator/payouts?status=failed"))


def test_operators_run_payouts_from_the_page(app, client, make):
    streamer, _listing = earning_streamer(client, make)
    client.put("/api/v1/payouts/account", json={"external_id": "my bank"}, headers=bearer_for(make, streamer))
    assert logged_in(app, make, streamer).post("/operator/payouts/run").status_code == 403
    assert payouts_count() == 0

    operator = logged_in(app, make, make.operator())
    page = text_of(operator.post("/operator/payouts/run", follow_redirects=True))
    assert "1 payout was created and is being sent." in page and 'class="badge success">Paid' in page
    page = text_of(operator.post("/operator/payouts/run", follow_redirects=True))
    assert "No balance is due: nothing was paid out." in page
    assert payouts_count() == 1


# ---------------------------------------------------------------- in a real browser, phone and desktop

DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def csrf_on(app):
    app.config["WTF_CSRF_ENABLED"] = True
    yield
    app.config["WTF_CSRF_ENABLED"] = False


def _fits(page) -> None:
    assert horizontal_overflow(page) == 0, overflowing_elements(page)


@pytest.mark.browser
def test_a_streamer_pays_out_in_a_browser_and_an_operator_reviews_it(
        browser, live_server, client, make, csrf_on, screenshots):
    streamer, _listing = earning_streamer(client, make)
    too_little, _listing = earning_streamer(client, make, amount=5_000)
    client.put("/api/v1/payouts/account", json={"external_id": "Bank of Ningbo ···· 0042"},
               headers=bearer_for(make, too_little))
    operator = make.operator()
    emails = streamer.email, operator.email
    db.session.commit()  # end the test's read transaction: on SQLite it would keep the live server from writing

    for width, viewport in ((375, PHONE), (1280, DESKTOP)):
        context, page = new_page(browser, viewport)
        try:
            log_in(page, live_server, emails[0], make.PASSWORD)
            page.goto(f"{live_server}{PAGE}")
            balance = page.locator("#balance-CNY")
            if width == 375:
                assert balance.locator("button[disabled]").count() == 1
                assert "Connect a payout account first." in balance.inner_text()
                page.screenshot(path=str(screenshots / "payouts-no-account-375.png"), full_page=True)
                _fits(page)
                page.fill("input[name=external_id]", "ICBC 6222 ···· 4321")
                with page.expect_navigation():
                    page.locator("form.payout-account-form button[type=submit]").click()
                assert "Your payout account was saved." in page.locator(".flashes").inner_text()
                button = page.locator("#balance-CNY form button[type=submit]")
                box = button.bounding_box()
                assert box["height"] >= 40 and box["width"] >= 300  # a full-width thumb target on a phone
                with page.expect_navigation():
                    button.click()
                assert "180.00 was paid out." in page.locator(".flashes").inner_text()
            assert page.locator(".payouts-table .badge.success").count() == 1
            page.screenshot(path=str(screenshots / f"payouts-paid-{width}.png"), full_page=True)
            _fits(page)
        finally:
            context.close()

        context, page = new_page(browser, viewport)
        try:
            log_in(page, live_server, emails[1], make.PASSWORD)
            page.goto(f"{live_server}/operator/payouts")
            if width == 375:
                with page.expect_navigation():
                    page.locator("form.payout-run button[type=submit]").click()
                assert "No balance is due" in page.locator(".flashes").inner_text()
            assert page.locator(".payouts-table tbody tr").count() == 1
            page.screenshot(path=str(screenshots / f"payouts-operator-{width}.png"), full_page=True)
            _fits(page)
        finally:
            context.close()


def test_operators_see_a_payout_stuck_longer_than_stripes_key_memory(app, client, make, stripe_gateway_mode):
    from datetime import timedelta

    from app.db import utcnow
    from marketplace.royalties import payouts
    from marketplace.royalties.parties import user_party

    fake = stripe_gateway_mode
    streamer, _listing = earning_streamer(client, make)
    party = user_party(streamer)
    payouts.connect_account(streamer, party, fake.add_account(), utcnow())
    payouts.request_payout(streamer, party, "CNY", utcnow() - timedelta(hours=25))  # never sent
    db.session.commit()

    page = text_of(logged_in(app, make, make.operator()).get("/operator/payouts?status=pending"))
    assert 'class="badge submitted">Sending' in page and "Pending for more than a day" in page
