"""Statements through the money path and the API: opening and closing balances across periods, sale, refund and
payout lines with their order and listing, CSV and PDF downloads that add up and speak the party's language,
brand statements, every refusal, and a number of queries that does not grow with the lines."""
from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import pytest
from pypdf import PdfReader

from app.db import utcnow
from app.extensions import db
from marketplace.royalties import ledger, statements
from marketplace.royalties.ledger import Posting
from marketplace.royalties.models import Payout, PayoutProvider, PayoutStatus, TransactionKind
from marketplace.royalties.parties import Party
from tests.api_support import assert_problem, bearer_for
from tests.order_support import buy
from tests.test_query_counts import count_queries

STATEMENT = "/api/v1/royalties/statement"
BALANCE = "/api/v1/royalties/balance"


def published(make, owner, amount=1000, title=None):
    data = {"title": title} if title else {}
    return make.listing(owner, status="published", kind="course",
                        prices=[{"currency": "CNY", "amount": amount}, {"currency": "USD", "amount": 199}], **data)


def at_noon(day) -> datetime:
    return datetime.combine(day, time(12), tzinfo=timezone.utc)


def post_adjustment(user, amount: int, when: datetime, currency="CNY") -> None:
    """An operator's correction: the platform gives the party `amount` (a line of kind adjustment)."""
    ledger.post(f"adjustment:{user.id}:{when.isoformat()}", TransactionKind.ADJUSTMENT, currency, [
        Posting(ledger.payable(currency, user.id), amount), Posting(ledger.platform_revenue(currency), -amount),
    ], when, memo="goodwill")
    db.session.commit()


def post_payout(user, amount: int, when: datetime, currency="CNY") -> int:
    """A recorded payout of `amount` out of the user's balance: payable −amount, payouts +amount."""
    account_id = ledger.account_ids([ledger.payable(currency, user.id)])[ledger.payable(currency, user.id)]
    payout = Payout(user_id=user.id, ledger_account_id=account_id, currency=currency, amount=amount,
                    status=PayoutStatus.PAID, provider=PayoutProvider.LOCAL, destination="local bank",
                    created_at=when, paid_at=when)
    db.session.add(payout)
    db.session.flush()
    ledger.post(f"payout:{payout.id}", TransactionKind.PAYOUT, currency, [
        Posting(ledger.payable(currency, user.id), -amount), Posting(ledger.payouts(currency), amount),
    ], when, payout_id=payout.id)
    db.session.commit()
    return payout.id


def get_statement(client, headers, **query):
    return client.get(STATEMENT, query_string=query, headers=headers)


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))


@pytest.fixture
def streamer(make):
    return make.streamer()


# ---------------------------------------------------------------- the statement's numbers

def test_a_statement_carries_the_balance_from_one_period_into_the_next(client, make, streamer):
    listing = published(make, streamer, amount=1000, title="Night sky stickers")
    headers = bearer_for(make, streamer)
    today = utcnow().date()
    post_adjustment(streamer, 250, at_noon(today - timedelta(days=40)))
    order = buy(client, bearer_for(make, make.user()), listing)
    payout_id = post_payout(streamer, 700, at_noon(today + timedelta(days=1)))

    before = get_statement(client, headers, **{"from": (today - timedelta(days=40)).isoformat(),
                                              "to": (today - timedelta(days=1)).isoformat()}).get_json()
    assert before["opening"] == {"currency": "CNY", "amount": 0}
    assert [line["kind"] for line in before["lines"]] == ["adjustment"]
    assert before["closing"]["amount"] == 250

    now = get_statement(client, headers, **{"from": today.isoformat(), "to": today.isoformat()}).get_json()
    assert now["opening"]["amount"] == 250
    [sale] = now["lines"]
    assert sale["kind"] == "sale" and sale["order_number"] == order["number"] and sale["order_id"] == order["id"]
    assert (sale["listing_id"], sale["listing"]) == (listing.id, "Night sky stickers")
    assert (sale["gross"], sale["bp"], sale["amount"]) == (1000, 9000, 900)
    assert now["closing"]["amount"] == 1150 and now["totals"] == {"sale": 900}

    after = get_statement(client, headers, **{"from": (today + timedelta(days=1)).isoformat(),
                                             "to": (today + timedelta(days=1)).isoformat()}).get_json()
    [payout] = after["lines"]
    assert (payout["kind"], payout["amount"], payout["payout_id"], payout["order_number"]) == ("payout", -700, payout_id, None)
    assert (after["opening"]["amount"], after["closing"]["amount"]) == (1150, 450)


def test_a_refund_is_a_negative_line_of_its_order_and_listing(client, make, streamer):
    first, second = published(make, streamer, 1000, "Lesson one"), published(make, streamer, 600, "Lesson two")
    order = buy(client, bearer_for(make, make.user()), first, second)
    second_line = next(line for line in order["lines"] if line["listing_id"] == second.id)
    refund = client.post(f"/api/v1/orders/{order['id']}/refunds", headers=bearer_for(make, make.operator()),
                         json={"reason": "wrong course", "line_ids": [second_line["id"]]})
    assert refund.status_code == 201, refund.get_json()

    body = get_statement(client, bearer_for(make, streamer)).get_json()
    refunds = [line for line in body["lines"] if line["kind"] == "refund"]
    assert [(line["listing"], line["amount"], line["order_number"]) for line in refunds] == [
        ("Lesson two", -540, order["number"])]
    assert body["totals"] == {"sale": 1440, "refund": -540}
    assert body["closing"]["amount"] == 900 == ledger.party_balances(user_id=streamer.id)[0].amount


def test_the_json_statement_has_the_documented_shape(client, make, streamer):
    buy(client, bearer_for(make, make.user()), published(make, streamer))
    body = get_statement(client, bearer_for(make, streamer)).get_json()
    assert set(body) == {"party", "currency", "from", "to", "opening", "closing", "lines", "totals"}
    assert body["party"] == {"type": "user", "id": streamer.id, "name": streamer.display_name}
    today = utcnow().date()
    assert (body["from"], body["to"], body["currency"]) == (today.replace(day=1).isoformat(), today.isoformat(), "CNY")
    assert set(body["lines"][0]) == {"at", "kind", "label", "order_id", "order_number", "listing_id", "listing",
                                     "gross", "bp", "amount", "payout_id"}


def test_a_party_without_an_account_gets_an_empty_statement(client, make):
    body = get_statement(client, bearer_for(make, make.user()), currency="USD").get_json()
    assert (body["opening"], body["closing"], body["lines"], body["totals"]) == (
        {"currency": "USD", "amount": 0}, {"currency": "USD", "amount": 0}, [], {})


def test_the_currency_defaults_to_the_partys_only_one(client, make, streamer):
    buy(client, bearer_for(make, make.user()), published(make, streamer), currency="USD")
    body = get_statement(client, bearer_for(make, streamer)).get_json()
    assert body["currency"] == "USD" and body["closing"]["amount"] == 179


# ---------------------------------------------------------------- downloads

def test_the_csv_adds_up_from_opening_to_closing(client, make, streamer):
    listing = published(make, streamer, 999, "Glow kit")
    today = utcnow().date()
    post_adjustment(streamer, 123, at_noon(today - timedelta(days=3)))
    order = buy(client, bearer_for(make, make.user()), listing)
    post_payout(streamer, 500, utcnow())
    response = get_statement(client, bearer_for(make, streamer), format="csv",
                             **{"from": (today - timedelta(days=1)).isoformat(), "to": today.isoformat()})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="encore-statement-{today - timedelta(days=1)}-{today}-CNY.csv"')
    header, opening, *lines, closing = csv_rows(response)
    assert header[:3] == ["Date", "Type", "Order"] and "Amount" in header
    amount = header.index("Amount")
    assert opening[1] == "Opening balance" and opening[amount] == "1.23"
    assert closing[1] == "Closing balance"
    assert [line[1] for line in lines] == ["Sale", "Payout"]
    assert lines[0][2] == order["number"] and lines[0][3] == "Glow kit" and lines[0][amount] == "8.99"
    total = Decimal(opening[amount]) + sum(Decimal(line[amount]) for line in lines)
    assert total == Decimal(closing[amount]) == Decimal("5.22")


def test_the_pdf_lists_the_orders_with_page_numbers(client, make, streamer):
    order = buy(client, bearer_for(make, make.user()), published(make, streamer, title="Studio light course"))
    response = get_statement(client, bearer_for(make, streamer), format="pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="encore-statement-')
    text = PdfReader(io.BytesIO(response.get_data())).pages[0].extract_text()
    assert order["number"] in text and "Studio light course" in text and "Page 1" in text


def test_a_chinese_speaking_party_gets_its_files_in_chinese(client, make, streamer):
    streamer.locale = "zh_CN"
    db.session.commit()
    order = buy(client, bearer_for(make, make.user()), published(make, streamer, title="猫咪贴纸"))
    # the request itself asks for English: the file follows the party's language
    headers = {**bearer_for(make, streamer), "Accept-Language": "en"}
    pdf = get_statement(client, headers, format="pdf")
    text = PdfReader(io.BytesIO(pdf.get_data())).pages[0].extract_text()
    assert "日期" in text and "订单" in text and "猫咪贴纸" in text and order["number"] in text
    header = csv_rows(get_statement(client, headers, format="csv"))[0]
    assert header[0] == "日期" and "币种" in header


def test_a_long_statement_runs_over_several_numbered_pages(app, make, streamer):
    today = utcnow().date()
    for n in range(120):
        post_adjustment(streamer, n + 1, at_noon(today) + timedelta(seconds=n))
    party = Party(streamer.id, None, streamer.display_name, "en")
    statement = statements.statement_for(party, "CNY", today, today)
    assert len(statement.lines) == 120 and statement.closing.amount == sum(range(1, 121))
    reader = PdfReader(io.BytesIO(statements.statement_pdf(statement, "en")))
    assert len(reader.pages) >= 2
    assert f"Page {len(reader.pages)}" in reader.pages[-1].extract_text()


# ---------------------------------------------------------------- brands and balances

def test_a_brand_member_reads_the_brands_balance_and_statement(client, make, streamer):
    from tests.test_royalty_ledger import split_listing

    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    listing = split_listing(make, streamer, brand, make.user(), amount=1001)
    order = buy(client, bearer_for(make, make.user()), listing)
    headers = bearer_for(make, member)

    balance = client.get(BALANCE, query_string={"brand": brand.id}, headers=headers).get_json()
    assert balance == {"party": {"type": "brand", "id": brand.id, "name": "Glow Co"},
                       "balances": [{"currency": "CNY", "amount": 200}]}
    body = get_statement(client, headers, brand=brand.id).get_json()
    assert body["party"]["type"] == "brand"
    assert [(line["order_number"], line["bp"], line["amount"]) for line in body["lines"]] == [(order["number"], 2000, 200)]
    # the member's own statement is a different party's: nothing of the brand's shows there
    assert get_statement(client, headers).get_json()["lines"] == []


def test_the_callers_own_balance_per_currency(client, make, streamer):
    listing = published(make, streamer)
    buy(client, bearer_for(make, make.user()), listing)
    buy(client, bearer_for(make, make.user()), listing, currency="USD")
    body = client.get(BALANCE, headers=bearer_for(make, streamer)).get_json()
    assert body["party"]["type"] == "user"
    assert body["balances"] == [{"currency": "CNY", "amount": 900}, {"currency": "USD", "amount": 179}]


def test_an_operator_may_read_any_brands_statement(client, make):
    brand = make.brand_member("Lumen").memberships[0].brand
    response = get_statement(client, bearer_for(make, make.operator()), brand=brand.id)
    assert response.status_code == 200 and response.get_json()["party"]["name"] == "Lumen"


# ---------------------------------------------------------------- refusals

def test_another_brands_statement_and_balance_are_refused(client, make, streamer):
    brand = make.brand_member("Glow Co").memberships[0].brand
    outsider = bearer_for(make, make.brand_member("Other brand"))
    assert_problem(get_statement(client, outsider, brand=brand.id), 403)
    assert_problem(get_statement(client, outsider, brand=brand.id, format="csv"), 403)
    assert_problem(client.get(BALANCE, query_string={"brand": brand.id}, headers=outsider), 403)


def test_an_unknown_brand_is_not_found(client, make):
    headers = bearer_for(make, make.user())
    assert_problem(get_statement(client, headers, brand=999999), 404)
    assert_problem(get_statement(client, headers, brand="acme"), 404)
    assert_problem(client.get(BALANCE, query_string={"brand": 999999}, headers=headers), 404)


def test_anonymous_callers_are_asked_to_sign_in(client):
    assert_problem(client.get(STATEMENT), 401)
    assert_problem(client.get(BALANCE), 401)


@pytest.mark.parametrize("query, field", [
    ({"from": "2026-13-01"}, "from"),
    ({"from": "yesterday"}, "from"),
    ({"to": "2026-02-30"}, "to"),
    ({"from": "2026-03-10", "to": "2026-03-01"}, "from"),
    ({"from": "2024-01-01", "to": "2025-06-30"}, "to"),
    ({"from": "0001-01-01", "to": "0001-01-02"}, "from"),
    ({"from": "9999-12-31", "to": "9999-12-31"}, "from"),
    ({"currency": "XYZ"}, "currency"),
    ({"format": "xlsx"}, "format"),
])
def test_bad_periods_currencies_and_formats_are_refused(client, make, streamer, query, field):
    body = assert_problem(get_statement(client, bearer_for(make, streamer), **query), 422)
    assert field in body["errors"]


def test_a_statement_takes_a_fixed_number_of_queries_however_many_lines(client, make, streamer):
    listing = published(make, streamer, title="Counted")
    buy(client, bearer_for(make, make.user()), listing)
    headers = bearer_for(make, streamer)
    get_statement(client, headers)  # the token's first use records it

    def queries() -> int:
        with count_queries() as counted:
            response = get_statement(client, headers)
            assert response.status_code == 200
        return len(counted)

    few = queries()
    for _ in range(4):
        buy(client, bearer_for(make, make.user()), listing)
    today = utcnow().date()
    post_payout(streamer, 100, utcnow())
    post_adjustment(streamer, 5, at_noon(today))
    assert len(get_statement(client, headers).get_json()["lines"]) == 7
    assert queries() == few


@pytest.mark.parametrize("date_from, date_to, expected", [
    (None, None, ("2026-03-01", "2026-03-18")),
    (None, "2026-02-10", ("2026-02-01", "2026-02-10")),
    ("2026-03-05", None, ("2026-03-05", "2026-03-18")),
    ("2026-05-01", None, ("2026-05-01", "2026-05-01")),
    ("2024-01-01", None, ("2024-01-01", "2024-12-31")),
    ("2024-01-01", "2024-12-31", ("2024-01-01", "2024-12-31")),
])
def test_a_period_left_open_is_filled_in_sensibly(app, date_from, date_to, expected):
    from datetime import date

    first, last = statements.parse_period(date_from, date_to, date(2026, 3, 18))
    assert (first.isoformat(), last.isoformat()) == expected
