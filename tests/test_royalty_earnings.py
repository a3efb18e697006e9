"""The earnings read side: a party's earnings per day, week and month (empty periods as zero, refunds apart),
its top listings and recent lines after real purchases and refunds, the platform's totals with the ledger
check, and the SVG chart drawn from a series."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from app.db import utcnow
from app.extensions import db
from app.money import Money
from marketplace.royalties import earnings, ledger
from marketplace.royalties.charts import bar_chart_svg, nice_step
from marketplace.royalties.earnings import Period
from marketplace.royalties.ledger import Posting
from marketplace.royalties.models import LedgerEntry, LedgerTransaction
from marketplace.royalties.parties import brand_party, user_party
from tests.api_support import bearer_for
from tests.order_support import buy
from tests.test_royalty_ledger import split_listing

SVG = "{http://www.w3.org/2000/svg}"
#: a Wednesday
TODAY = date(2026, 11, 25)


def at(year, month, day, hour=12, minute=0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=timezone.utc)


def post_for(user, key: str, amount: int, when: datetime, kind: str = "sale", listing_id=None, currency="CNY"):
    """Post a sale (amount > 0) or a refund (kind refund, amount < 0) to the user's payable account at `when`."""
    counter = ledger.gateway_clearing(currency) if kind == "sale" else ledger.refunds(currency)
    ledger.post(key, kind, currency, [Posting(ledger.payable(currency, user.id), amount, listing_id=listing_id),
                                      Posting(counter, -amount)], when)


def published(make, owner, title, amount):
    return make.listing(owner, status="published", kind="course", title=title,
                        prices=[{"currency": "CNY", "amount": amount}])


def refund_order(client, make, order_id):
    response = client.post(f"/api/v1/orders/{order_id}/refunds", json={"reason": "changed mind"},
                           headers=bearer_for(make, make.operator()))
    assert response.status_code == 201, response.get_json()


@pytest.fixture
def dated_history(make):
    """A streamer's sales and a refund on known days around TODAY, and another streamer's sale beside them."""
    streamer, other = make.streamer(), make.streamer()
    post_for(streamer, "s:aug", 999, at(2026, 8, 3))                 # months ago: outside 12 days and 4 weeks
    post_for(streamer, "s:mon16", 200, at(2026, 11, 16, 0, 5))      # Monday of last week, just after midnight
    post_for(streamer, "s:sun22", 100, at(2026, 11, 22, 23, 55))    # Sunday of last week, just before midnight
    post_for(streamer, "s:mon23", 500, at(2026, 11, 23))            # this week's Monday
    post_for(streamer, "r:tue24", -150, at(2026, 11, 24), kind="refund")
    post_for(streamer, "s:wed25", 300, at(2026, 11, 25, 23, 59))    # today
    post_for(streamer, "s:thu26", 7000, at(2026, 11, 26))           # after "today": not in any period
    post_for(other, "s:other", 4000, at(2026, 11, 23))
    db.session.commit()
    return user_party(streamer)


def amounts(series):
    return [(period.start, period.earned.amount, period.refunded.amount) for period in series]


def test_weekly_series_buckets_sales_and_refunds_from_monday_with_empty_weeks_as_zero(dated_history):
    series = earnings.earnings_series(dated_history, "CNY", "week", 4, TODAY)
    assert amounts(series) == [
        (date(2026, 11, 2), 0, 0),
        (date(2026, 11, 9), 0, 0),
        (date(2026, 11, 16), 300, 0),
        (date(2026, 11, 23), 800, 150),
    ]
    assert all(period.earned.currency == "CNY" for period in series)


def test_daily_series_puts_each_entry_on_its_utc_day(dated_history):
    series = earnings.earnings_series(dated_history, "CNY", "day", 4, TODAY)
    assert amounts(series) == [
        (date(2026, 11, 22), 100, 0),
        (date(2026, 11, 23), 500, 0),
        (date(2026, 11, 24), 0, 150),
        (date(2026, 11, 25), 300, 0),
    ]


def test_monthly_series_spans_the_year_boundary_backwards(dated_history):
    series = earnings.earnings_series(dated_history, "CNY", "month", 12, TODAY)
    assert [period.start for period in series][:2] == [date(2025, 12, 1), date(2026, 1, 1)]
    assert series[-1].start == date(2026, 11, 1)
    by_month = {period.start: (period.earned.amount, period.refunded.amount) for period in series}
    assert by_month[date(2026, 8, 1)] == (999, 0)
    assert by_month[date(2026, 11, 1)] == (1100, 150)
    assert sum(earned for earned, _ in by_month.values()) == 2099


def test_a_party_that_never_earned_in_a_currency_gets_zero_periods(make):
    party = user_party(make.streamer())
    series = earnings.earnings_series(party, "USD", "week", 12, TODAY)
    assert len(series) == 12 and all(period.earned == Money(0, "USD") for period in series)
    assert earnings.top_listings(party, "USD") == [] and earnings.recent_lines(party, "USD") == []


def test_an_unknown_grain_is_refused(dated_history):
    with pytest.raises(ValueError):
        earnings.earnings_series(dated_history, "CNY", "year", 3, TODAY)


def test_purchases_and_a_refund_show_as_earned_refunded_top_listings_and_recent_lines(client, make):
    streamer = make.streamer()
    lamp = published(make, streamer, "Ring light course", 1000)
    pack = published(make, streamer, "Cat sticker pack", 500)
    fan = make.user()
    headers = bearer_for(make, fan)
    buy(client, headers, lamp)
    buy(client, headers, lamp)
    refunded = buy(client, headers, pack)
    refund_order(client, make, refunded["id"])
    party = user_party(streamer)
    today = utcnow().date()

    (period,) = earnings.earnings_series(party, "CNY", "day", 1, today)
    assert (period.earned.amount, period.refunded.amount) == (900 + 900 + 450, 450)
    assert earnings.top_listings(party, "CNY") == [
        (lamp.id, "Ring light course", Money(1800, "CNY"), 2),
        (pack.id, "Cat sticker pack", Money(450, "CNY"), 1),
    ]
    assert earnings.top_listings(party, "CNY", limit=1)[0].listing_id == lamp.id

    lines = earnings.recent_lines(party, "CNY")
    assert [line.kind for line in lines] == ["refund", "sale", "sale", "sale"]
    newest = lines[0]
    assert (newest.order_number, newest.listing_title, newest.amount) == (refunded["number"], "Cat sticker pack",
                                                                           Money(-450, "CNY"))
    assert sum(line.amount.amount for line in lines) == 1800 == ledger.party_balances(streamer.id)[0].amount
    assert len(earnings.recent_lines(party, "CNY", limit=2)) == 2


def test_top_listings_since_leaves_out_older_sales(make):
    streamer = make.streamer()
    old = published(make, streamer, "Old course", 100)
    new = published(make, streamer, "New course", 100)
    post_for(streamer, "s:old-listing", 5000, at(2026, 1, 5), listing_id=old.id)
    post_for(streamer, "s:new-listing-1", 40, at(2026, 11, 20), listing_id=new.id)
    post_for(streamer, "s:new-listing-2", 60, at(2026, 11, 21), listing_id=new.id)
    db.session.commit()
    party = user_party(streamer)
    assert [(row.title, row.earned.amount, row.sales) for row in earnings.top_listings(party, "CNY")] == [
        ("Old course", 5000, 1), ("New course", 100, 2)]
    assert [row.title for row in earnings.top_listings(party, "CNY", since=at(2026, 11, 1, 0))] == ["New course"]


def test_a_brand_sees_its_own_share_only(client, make):
    owner, designer = make.streamer(), make.user()
    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    listing = split_listing(make, owner, brand, designer, amount=1001)
    buy(client, bearer_for(make, make.user()), listing)
    party = brand_party(brand, member)
    (period,) = earnings.earnings_series(party, "CNY", "week", 1, utcnow().date())
    assert period.earned.amount == 200
    (top,) = earnings.top_listings(party, "CNY")
    assert (top.listing_id, top.earned.amount, top.sales) == (listing.id, 200, 1)
    assert earnings.party_currencies(party) == ["CNY"]


def test_platform_summary_liabilities_are_what_every_party_is_owed_and_the_ledger_sums_to_zero(client, make):
    owner, designer = make.streamer(), make.user()
    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    listing = split_listing(make, owner, brand, designer, amount=1001)
    solo = published(make, owner, "Solo course", 1000)
    headers = bearer_for(make, make.user())
    buy(client, headers, listing)
    order = buy(client, headers, solo)
    refund_order(client, make, order["id"])

    summary = earnings.platform_summary()
    assert summary.sums_to_zero and summary.check.unbalanced == []
    (cny,) = summary.currencies
    owed = sum(money.amount for party in ((owner.id, None), (designer.id, None), (None, brand.id))
               for money in ledger.party_balances(*party))
    assert owed == 601 + 200 + 100
    assert cny.liabilities == Money(owed, "CNY")
    assert cny.platform_revenue == Money(100, "CNY")
    assert cny.refunds == Money(1000, "CNY")
    assert cny.payouts == Money(0, "CNY")
    assert cny.clearing.amount == -(cny.liabilities.amount + cny.platform_revenue.amount + cny.refunds.amount)


def test_platform_summary_reports_a_transaction_that_does_not_balance(make):
    user = make.user()
    post_for(user, "s:fine", 300, utcnow())
    # a row written around `ledger.post` (as a bug or a hand-made SQL insert would): the check must catch it
    broken = db.session.execute(insert(LedgerTransaction).values(
        key="broken:1", kind="adjustment", currency="CNY", created_at=utcnow()).returning(LedgerTransaction.id)
    ).scalar_one()
    account = ledger.find_account(ledger.payable("CNY", user.id))
    db.session.execute(insert(LedgerEntry).values(transaction_id=broken, account_id=account, amount=25, currency="CNY",
                                                  created_at=utcnow(), kind="adjustment"))
    db.session.commit()
    summary = earnings.platform_summary()
    assert not summary.sums_to_zero
    assert summary.check.unbalanced == [(broken, "broken:1", "CNY", 25)]
    assert summary.currencies[0].liabilities == Money(325, "CNY")


# ---------------------------------------------------------------- the chart

def weekly(amounts_and_refunds, currency="CNY"):
    start = date(2026, 9, 7)
    return [Period(start + timedelta(weeks=index), Money(earned, currency), Money(refunded, currency))
            for index, (earned, refunded) in enumerate(amounts_and_refunds)]


def parse(svg) -> ET.Element:
    return ET.fromstring(str(svg))


def y_labels(svg) -> list[str]:
    return [text.text for text in parse(svg).findall(f"{SVG}text[@class='y-label']")]


def test_the_chart_is_well_formed_svg_with_one_bar_per_period_and_a_title_each():
    series = weekly([(1200, 0), (0, 0), (56789, 300), (4000, 0)] * 3)
    labels = [f"W{index}" for index in range(12)]
    root = parse(bar_chart_svg(series, labels=labels, locale="en", title="Earnings per week"))
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img" and root.get("width") == "100%" and root.get("viewBox") == "0 0 640 220"
    assert root.get("aria-label").startswith("Earnings per week. 12 periods from W0 to W11")
    assert "earned CN¥1,859.67 in all" in root.get("aria-label")  # 3 × (12 + 567.89 + 40)
    bars = root.findall(f"{SVG}g[@class='bar']")
    assert len(bars) == 12
    assert bars[2].find(f"{SVG}title").text == "W2: earned CN¥567.89, refunded CN¥3.00"
    assert len(root.findall(f".//{SVG}rect[@class='bar-refunded']")) == 3  # only where something was refunded
    earned_rects = root.findall(f".//{SVG}rect[@class='bar-earned']")
    heights = [float(rect.get("height")) for rect in earned_rects]
    assert heights[1] == 0 and heights[2] == max(heights)
    # the tallest bar reaches no higher than the top gridline, and a refund bar grows downwards from zero
    zero = root.find(f"{SVG}line[@class='grid zero']")
    refund = root.find(f".//{SVG}rect[@class='bar-refunded']")
    assert float(refund.get("y")) == float(zero.get("y1"))


def test_gridline_labels_use_the_readers_locale():
    series = weekly([(150000, 0), (90000, 0)])
    en = y_labels(bar_chart_svg(series, labels=["a", "b"], locale="en"))
    zh = y_labels(bar_chart_svg(series, labels=["a", "b"], locale="zh_CN"))
    assert en[0] == "CN¥0" and "CN¥1,500" in en
    assert zh[0] == "¥0" and "¥1,500" in zh
    cents = bar_chart_svg(weekly([(20, 0)], "USD"), labels=["a"], locale="en")  # cents only where needed
    assert y_labels(cents) == ["$0", "$0.05", "$0.10", "$0.15", "$0.20"]


def test_a_narrow_chart_thins_its_x_labels_but_keeps_the_newest():
    series = weekly([(100, 0)] * 12)
    labels = [f"Nov {index}" for index in range(12)]
    wide = parse(bar_chart_svg(series, labels=labels, width=960, locale="en"))
    narrow = parse(bar_chart_svg(series, labels=labels, width=360, locale="en"))
    wide_labels = [text.text for text in wide.findall(f"{SVG}text[@class='x-label']")]
    narrow_labels = [text.text for text in narrow.findall(f"{SVG}text[@class='x-label']")]
    assert wide_labels == labels
    assert len(narrow_labels) <= 6 and narrow_labels[-1] == "Nov 11"
    assert len(narrow.findall(f"{SVG}g[@class='bar']")) == 12


def test_labels_and_titles_are_escaped():
    root = parse(bar_chart_svg(weekly([(100, 0)]), labels=['<b>"Tom & Jerry"</b>'], locale="en", title="A <script>"))
    assert root.find(f"{SVG}text[@class='x-label']").text == '<b>"Tom & Jerry"</b>'
    assert root.get("aria-label").startswith("A <script>.")


def test_a_chart_needs_one_label_per_period():
    with pytest.raises(ValueError):
        bar_chart_svg(weekly([(100, 0), (200, 0)]), labels=["only one"], locale="en")


@pytest.mark.parametrize(("span", "step"), [(0, 1), (7, 2), (100, 50), (1915, 500), (56789, 20000)])
def test_gridline_steps_are_round(span, step):
    assert nice_step(span) == step
