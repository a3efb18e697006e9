"""The statement page with the Flask test client: balances and lines of the reader or their brand, the period,
party and currency switches, links to orders the reader may open, CSV and PDF downloads of the same statement,
and the refusals (bad dates as a form error, another brand, signed out)."""
from __future__ import annotations

import csv
import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader

from app.db import utcnow
from app.extensions import db
from tests.api_support import bearer_for
from tests.order_support import buy
from tests.page_support import logged_in, text_of
from tests.test_royalty_ledger import split_listing
from tests.test_royalty_statements import post_payout, published

PAGE = "/dashboard/earnings/statement"


@pytest.fixture
def streamer(make):
    return make.streamer()


def test_the_page_shows_opening_lines_payouts_and_closing(app, client, make, streamer):
    order = buy(client, bearer_for(make, make.user()), published(make, streamer, 1000, "Night sky stickers"))
    payout_id = post_payout(streamer, 400, utcnow())
    page = text_of(logged_in(app, make, streamer).get(PAGE))
    assert order["number"] in page and "Night sky stickers" in page
    assert re.search(r'id="opening-balance"><dt>Opening balance</dt><dd>CN¥0\.00</dd>', page)
    assert re.search(r'id="closing-balance"><dt>Closing balance</dt><dd>CN¥5\.00</dd>', page)
    assert 'class="num">90%' in page and "CN¥10.00" in page and "-CN¥4.00" in page
    assert f'id="payout-{payout_id}"' in page
    # the seller may open the order: its number links to the order page
    assert f'href="/orders/{order["number"]}"' in page


def test_the_downloads_carry_the_pages_period_and_add_up(app, client, make, streamer):
    buy(client, bearer_for(make, make.user()), published(make, streamer, 1000))
    post_payout(streamer, 300, utcnow())
    browser = logged_in(app, make, streamer)
    today = utcnow().date()
    page = text_of(browser.get(PAGE, query_string={"from": (today - timedelta(days=2)).isoformat()}))
    csv_link = re.search(r'id="download-csv" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    pdf_link = re.search(r'id="download-pdf" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert csv_link.startswith("/dashboard/earnings/statement.csv?") and f"from={today - timedelta(days=2)}" in csv_link

    response = browser.get(csv_link)
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert f"encore-statement-{today - timedelta(days=2)}-{today}-CNY.csv" in response.headers["Content-Disposition"]
    header, opening, *lines, closing = csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")))
    amount = header.index("Amount")
    assert Decimal(opening[amount]) + sum(Decimal(line[amount]) for line in lines) == Decimal(closing[amount]) == Decimal("6.00")

    pdf = browser.get(pdf_link)
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    assert "Closing balance" in PdfReader(io.BytesIO(pdf.get_data())).pages[0].extract_text()


def test_a_brand_member_switches_to_the_brands_statement(app, client, make, streamer):
    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    designer = make.user()
    order = buy(client, bearer_for(make, make.user()), split_listing(make, streamer, brand, designer))
    browser = logged_in(app, make, member)
    own = text_of(browser.get(PAGE))
    assert f'<option value="{brand.id}"' in own and "Glow Co" in own
    assert order["number"] not in own  # the member has no share of their own

    page = text_of(browser.get(PAGE, query_string={"brand": brand.id}))
    assert order["number"] in page and 'class="num">20%' in page
    # a brand's member cannot open the streamer's order: the number is shown without a link
    assert f'href="/orders/{order["number"]}"' not in page
    assert f"brand={brand.id}" in re.search(r'id="download-csv" href="([^"]+)"', page).group(1)


def test_an_operator_sees_order_links_and_any_brand(app, client, make, streamer):
    brand = make.brand_member("Lumen").memberships[0].brand
    browser = logged_in(app, make, make.operator())
    page = browser.get(PAGE, query_string={"brand": brand.id})
    assert page.status_code == 200 and "Lumen" in text_of(page)


def test_the_currency_switch_lists_the_partys_currencies(app, client, make, streamer):
    listing = published(make, streamer)
    buy(client, bearer_for(make, make.user()), listing)
    buy(client, bearer_for(make, make.user()), listing, currency="USD")
    browser = logged_in(app, make, streamer)
    page = text_of(browser.get(PAGE))
    assert '<option value="CNY" selected>' in page and '<option value="USD" >' in page
    usd = text_of(browser.get(PAGE, query_string={"currency": "USD"}))
    assert re.search(r'id="closing-balance"><dt>Closing balance</dt><dd>\$1\.79</dd>', usd)


def test_a_chinese_reader_sees_the_page_in_chinese(app, client, make, streamer):
    streamer.locale = "zh_CN"
    db.session.commit()
    buy(client, bearer_for(make, make.user()), published(make, streamer, title="猫咪贴纸"))
    page = text_of(logged_in(app, make, streamer).get(PAGE))
    assert "猫咪贴纸" in page and "日期" in page


@pytest.mark.parametrize("query, message", [
    ({"from": "2026-02-30"}, "YYYY-MM-DD"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "The first day comes after the last day."),
    ({"from": "2020-01-01", "to": "2026-01-01"}, "at most 366 days"),
])
def test_bad_dates_show_the_form_with_the_reason(app, make, streamer, query, message):
    response = logged_in(app, make, streamer).get(PAGE, query_string=query)
    assert response.status_code == 422
    page = text_of(response)
    assert message in page and 'aria-invalid="true"' in page and 'id="download-csv"' not in page


def test_a_bad_date_in_a_download_is_refused(app, make, streamer):
    browser = logged_in(app, make, streamer)
    assert browser.get(PAGE + ".csv", query_string={"to": "soon"}).status_code == 422
    assert browser.get(PAGE + ".pdf", query_string={"currency": "XYZ"}).status_code == 422


def test_another_brands_statement_is_refused(app, make, streamer):
    brand = make.brand_member("Glow Co").memberships[0].brand
    browser = logged_in(app, make, streamer)
    assert browser.get(PAGE, query_string={"brand": brand.id}).status_code == 403
    assert browser.get(PAGE + ".csv", query_string={"brand": brand.id}).status_code == 403
    assert browser.get(PAGE + ".pdf", query_string={"brand": brand.id}).status_code == 403
    assert browser.get(PAGE, query_string={"brand": 999999}).status_code == 404


def test_signed_out_visitors_are_sent_to_log_in(client):
    for path in (PAGE, PAGE + ".csv", PAGE + ".pdf"):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_the_page_takes_a_fixed_number_of_queries_however_many_lines(app, client, make, streamer):
    from tests.test_query_counts import count_queries

    listing = published(make, streamer, title="Counted")
    buy(client, bearer_for(make, make.user()), listing)
    browser = logged_in(app, make, streamer)

    def queries() -> int:
        with count_queries() as counted:
            assert browser.get(PAGE).status_code == 200
        return len(counted)

    few = queries()
    for _ in range(4):
        buy(client, bearer_for(make, make.user()), listing)
    post_payout(streamer, 100, utcnow())
    assert text_of(browser.get(PAGE)).count('class="statement-line') == 6
    assert queries() == few
