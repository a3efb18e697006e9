"""The earnings dashboard and the operator's ledger page as their readers get them: balance, chart, top
listings and ledger lines after real purchases and a refund; a brand's page for its members only; an empty
page for someone who never earned; the platform totals, the sums-to-zero check (and its warning), and the
refusals (anonymous, non-members, non-operators)."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from flask import url_for
from sqlalchemy import insert

from app.db import utcnow
from app.extensions import db
from marketplace.royalties import ledger
from marketplace.royalties.models import LedgerEntry, LedgerTransaction
from tests.api_support import bearer_for
from tests.order_support import buy
from tests.page_support import logged_in, text_of
from tests.test_royalty_ledger import split_listing

SVG = "{http://www.w3.org/2000/svg}"


def published(make, owner, title, amount):
    return make.listing(owner, status="published", kind="course", title=title,
                        prices=[{"currency": "CNY", "amount": amount}, {"currency": "USD", "amount": 300}])


def svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(match) for match in re.findall(r"<svg class=\"bar-chart\".*?</svg>", html, re.S)]


def english(client):
    client.post("/language", data={"locale": "en", "next": "/"})
    return client


@pytest.fixture
def sales(client, make):
    """A streamer's two listings bought three times, one order refunded."""
    streamer = make.streamer()
    lamp = published(make, streamer, "Ring light course", 1000)
    pack = published(make, streamer, "Cat <sticker> pack", 500)
    headers = bearer_for(make, make.user())
    buy(client, headers, lamp)
    buy(client, headers, lamp)
    refunded = buy(client, headers, pack)
    response = client.post(f"/api/v1/orders/{refunded['id']}/refunds", json={"reason": "changed mind"},
                           headers=bearer_for(make, make.operator()))
    assert response.status_code == 201, response.get_json()
    return {"streamer": streamer, "lamp": lamp, "pack": pack, "refunded": refunded}


def test_a_streamer_sees_balance_chart_top_listings_and_recent_lines(app, make, sales):
    client = logged_in(app, make, sales["streamer"])
    response = client.get("/dashboard/earnings")
    assert response.status_code == 200
    html = text_of(response)
    assert 'id="balance-CNY"' in html and "18.00" in html  # 9 + 9 (the refunded 4.50 taken back)
    wide, narrow = svgs(html)
    assert len(wide.findall(f"{SVG}g[@class='bar']")) == 12 == len(narrow.findall(f"{SVG}g[@class='bar']"))
    assert wide.get("viewBox") != narrow.get("viewBox")
    assert len(wide.findall(f".//{SVG}rect[@class='bar-refunded']")) == 1  # this week's refund, in its colour
    # top listings: most earned first, the title escaped
    top = html[html.index('class="table stacked top-listings"'):]
    assert top.index("Ring light course") < top.index("Cat &lt;sticker&gt; pack")
    assert f'id="top-{sales["lamp"].id}"' in top
    # the recent lines: the refund first, with its order number and a negative amount
    lines = html[html.index('class="table stacked ledger-lines"'):]
    first = lines[lines.index('<tr class="ledger-line'):lines.index("</tr>", lines.index('<tr class="ledger-line'))]
    assert "kind-refund" in first and sales["refunded"]["number"] in first and "amount-negative" in first
    assert lines.count('<tr class="ledger-line') == 4
    assert 'aria-current="page">' in html and "Earnings" in html


def test_the_grain_tabs_switch_the_chart_and_a_bad_grain_falls_back_to_weeks(app, make, sales):
    client = english(logged_in(app, make, sales["streamer"]))
    html = text_of(client.get("/dashboard/earnings?grain=month"))
    assert re.search(r'grain=month"\s+aria-current="page">Month<', html)
    assert svgs(html)[0].get("aria-label").startswith("Earnings per month. 12 periods")
    html = text_of(client.get("/dashboard/earnings?grain=decade&currency=xyz"))
    assert svgs(html)[0].get("aria-label").startswith("Earnings per week.")


def test_the_page_speaks_chinese_by_default(app, make, sales):
    client = logged_in(app, make, sales["streamer"])
    client.post("/language", data={"locale": "zh_CN", "next": "/"})
    html = text_of(client.get("/dashboard/earnings"))
    assert '<html lang="zh-CN">' in html
    assert "¥18.00" in html and "CN¥" not in html  # money in the Chinese reader's format


def test_a_brand_member_sees_the_brands_earnings_and_an_outsider_is_refused(app, client, make):
    owner, designer = make.streamer(), make.user()
    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    listing = split_listing(make, owner, brand, designer, amount=1001)
    buy(client, bearer_for(make, make.user()), listing)
    brand_id = brand.id

    member_client = english(logged_in(app, make, member))
    response = member_client.get(f"/dashboard/earnings?brand={brand_id}")
    assert response.status_code == 200
    html = text_of(response)
    assert "Glow Co" in html and "2.00" in html  # the brand's 20% of 10.01
    assert f'brand={brand_id}' in html  # the party switch links the brand
    # the brand's statement, in the currency shown (and its payouts, once that page exists)
    assert f'href="/dashboard/earnings/statement?brand={brand_id}&amp;currency=CNY"' in html
    if "royalties_payout_views.payouts_page" in app.view_functions:
        with app.test_request_context():
            assert f'href="{url_for("royalties_payout_views.payouts_page", brand=brand_id)}"' in html
    # the member's own page (no brand): nothing earned themself
    own = text_of(member_client.get("/dashboard/earnings"))
    assert "No earnings yet" in own and "Glow Co" in own

    outsider = make.brand_member("Other Brand")
    assert logged_in(app, make, outsider).get(f"/dashboard/earnings?brand={brand_id}").status_code == 403
    assert logged_in(app, make, make.streamer()).get(f"/dashboard/earnings?brand={brand_id}").status_code == 403
    assert member_client.get("/dashboard/earnings?brand=999999").status_code == 404
    assert member_client.get("/dashboard/earnings?brand=abc").status_code == 404


def test_someone_who_never_earned_sees_the_empty_state(app, make):
    client = english(logged_in(app, make, make.streamer()))
    response = client.get("/dashboard/earnings")
    assert response.status_code == 200
    html = text_of(response)
    assert "earnings-empty" in html and "No earnings yet" in html and "<svg" not in html


def test_the_dashboard_needs_a_login(client):
    response = client.get("/dashboard/earnings")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    response = client.get("/operator/ledger")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_nav_shows_earnings_to_streamers_and_brands_and_the_ledger_to_operators(app, make):
    earnings_link, ledger_link = 'href="/dashboard/earnings"', 'href="/operator/ledger"'
    streamer = text_of(logged_in(app, make, make.streamer()).get("/"))
    assert earnings_link in streamer and ledger_link not in streamer
    brand = text_of(logged_in(app, make, make.brand_member("Glow Co")).get("/"))
    assert earnings_link in brand
    fan = text_of(logged_in(app, make, make.user()).get("/"))
    assert earnings_link not in fan and ledger_link not in fan
    operator = text_of(logged_in(app, make, make.operator()).get("/"))
    assert ledger_link in operator


def test_the_operator_sees_revenue_liabilities_refunds_and_that_the_ledger_sums_to_zero(app, make, sales):
    client = english(logged_in(app, make, make.operator()))
    response = client.get("/operator/ledger")
    assert response.status_code == 200
    html = text_of(response)
    assert "Ledger balances: sums to zero" in html and "ledger-status ok" in html
    section = html[html.index('id="currency-CNY"'):]
    owed = sum(money.amount for money in ledger.party_balances(sales["streamer"].id))
    assert owed == 1800

    def card(name):
        return re.search(rf'money-card {name}"><h3>[^<]*</h3><span class="amount">([^<]*)<', section).group(1)

    assert card("liabilities") == "CN¥18.00"  # the sum of every party's balance
    assert card("revenue") == "CN¥2.00"       # 10% of the two kept sales
    assert card("refunds") == "CN¥5.00"
    assert card("payouts") == "CN¥0.00"
    wide, narrow = svgs(html)
    assert wide.get("aria-label").startswith("Platform revenue per week. 12 periods")


def test_the_operator_page_warns_in_red_when_a_transaction_does_not_balance(app, make, sales):
    broken = db.session.execute(insert(LedgerTransaction).values(
        key="broken:1", kind="adjustment", currency="CNY", created_at=utcnow()).returning(LedgerTransaction.id)
    ).scalar_one()
    account = ledger.find_account(ledger.payable("CNY", sales["streamer"].id))
    db.session.execute(insert(LedgerEntry).values(transaction_id=broken, account_id=account, amount=25,
                                                  currency="CNY", created_at=utcnow(), kind="adjustment"))
    db.session.commit()
    html = text_of(english(logged_in(app, make, make.operator())).get("/operator/ledger"))
    assert "sums to zero" not in html and "ledger-status broken" in html and 'role="alert"' in html
    assert f"#{broken} broken:1: CNY 25" in html


@pytest.mark.parametrize("who", ["fan", "streamer", "brand member"])
def test_only_operators_may_see_the_ledger(app, make, who):
    user = {"fan": make.user, "streamer": make.streamer, "brand member": make.brand_member}[who]()
    assert logged_in(app, make, user).get("/operator/ledger").status_code == 403


def test_the_dashboard_reads_a_fixed_number_of_queries_however_many_sales(app, client, make):
    from tests.test_query_counts import count_queries

    streamer = make.streamer()
    headers = bearer_for(make, make.user())
    page = logged_in(app, make, streamer)

    def queries() -> int:
        with count_queries() as counted:
            assert page.get("/dashboard/earnings").status_code == 200
        return len(counted)

    buy(client, headers, published(make, streamer, "First course", 1000))
    few = queries()
    for number in range(4):
        buy(client, headers, published(make, streamer, f"Course {number}", 700 + number))
    assert queries() == few


def test_each_currency_has_its_card_and_its_own_chart(app, client, make):
    streamer = make.streamer()
    listing = published(make, streamer, "Two-currency course", 1000)
    headers = bearer_for(make, make.user())
    buy(client, headers, listing)
    buy(client, headers, listing, currency="USD")
    page = english(logged_in(app, make, streamer))
    html = text_of(page.get("/dashboard/earnings"))
    assert 'id="balance-CNY"' in html and 'id="balance-USD"' in html
    assert "Earnings in CNY" in html  # the first currency unless another is asked for
    html = text_of(page.get("/dashboard/earnings?currency=usd&grain=day"))
    assert "Earnings in USD" in html and "$2.70" in html  # 90% of 3.00
    assert re.search(r'id="balance-USD"[^>]*aria-current="true"', html)
