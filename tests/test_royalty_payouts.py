"""Payouts through the API: connecting a payout account, paying a balance out (local mode at once, Stripe mode
by a Connect transfer with an idempotency key), refusals that post nothing, a refused transfer given back,
negative balances netted, the operators' run, and gateway fees reported by the local pay page and looked up
at Stripe."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from marketplace.royalties import ledger
from marketplace.royalties.models import AccountKind, LedgerTransaction, Payout, PayoutAccount, TransactionKind
from tests import test_royalty_ledger as ledger_tests
from tests.api_support import assert_problem, bearer_for
from tests.order_support import buy, deliver, order_row
from tests.stripe_support import fake_stripe, stripe_gateway_mode  # noqa: F401  (fixtures)

PRICE = 20_000  # the streamer earns 18,000 of it, above the default minimum of 10,000


def earning_streamer(client, make, amount=PRICE):
    streamer = make.streamer()
    listing = ledger_tests.published(make, streamer, amount=amount)
    buy(client, bearer_for(make, make.user()), listing)
    return streamer, listing


def balance(user=None, brand=None, currency="CNY") -> int:
    db.session.expire_all()
    return ledger_tests.balance_of(user, brand, currency)


def transactions(kind=None) -> int:
    query = select(func.count(LedgerTransaction.id))
    if kind is not None:
        query = query.where(LedgerTransaction.kind == kind)
    return db.session.scalar(query)


def connect(client, headers, external_id, **body):
    return client.put("/api/v1/payouts/account", json={"external_id": external_id, **body}, headers=headers)


def request(client, headers, currency="CNY", **body):
    return client.post("/api/v1/payouts", json={"currency": currency, **body}, headers=headers)


def test_local_mode_pays_the_whole_balance_at_once_and_posts_it_once(client, make):
    streamer, _listing = earning_streamer(client, make)
    headers = bearer_for(make, streamer)
    response = connect(client, headers, "ICBC ···· 4321")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["provider"] == "local"

    response = request(client, headers)
    assert response.status_code == 201, response.get_json()
    payout = response.get_json()
    assert (payout["amount"], payout["currency"], payout["status"]) == (18_000, "CNY", "paid")
    assert payout["provider_reference"] == f"local_{payout['id']}" and payout["destination"] == "ICBC ···· 4321"
    assert balance(streamer) == 0
    check = ledger.check_ledger()
    assert check.sums_to_zero and check.total("CNY", AccountKind.PAYOUTS) == 18_000
    assert transactions(TransactionKind.PAYOUT) == 1

    # nothing is left: a second request is refused and posts nothing
    assert_problem(request(client, headers), 409)
    assert transactions(TransactionKind.PAYOUT) == 1

    listed = client.get("/api/v1/payouts", headers=headers).get_json()
    assert [p["id"] for p in listed["payouts"]] == [payout["id"]]
    assert listed["account"]["external_id"] == "ICBC ···· 4321"
    assert listed["minimum"] == {"amount": 10_000}


def test_refusals_answer_4xx_and_post_nothing(client, make, app):
    streamer, _listing = earning_streamer(client, make, amount=10_000)  # earns 9,000: below the minimum
    headers = bearer_for(make, streamer)
    before = transactions()

    assert "payout account" in assert_problem(request(client, headers), 409)["detail"]
    assert connect(client, headers, "my bank").status_code == 200
    detail = assert_problem(request(client, headers), 409)["detail"]
    assert "100.00" in detail and "90.00" in detail  # the minimum and the balance, in words
    assert_problem(request(client, headers, currency="XYZ"), 422)
    assert_problem(request(client, headers, currency=""), 422)
    assert_problem(request(client, headers, currency="USD"), 409)  # never earned in USD: nothing to pay

    member = make.brand_member("Other Brand")
    brand = member.memberships[0].brand
    assert_problem(request(client, headers, brand_id=brand.id), 403)
    assert_problem(connect(client, headers, "not mine", brand_id=brand.id), 403)
    assert_problem(request(client, headers, brand_id=987654), 404)
    assert_problem(client.get("/api/v1/payouts?brand=987654", headers=headers), 404)
    assert_problem(client.get(f"/api/v1/payouts?brand={brand.id}", headers=headers), 403)
    assert_problem(client.get("/api/v1/payouts?all=1", headers=headers), 403)
    assert_problem(client.post("/api/v1/payouts/run", headers=headers), 403)
    assert_problem(client.post("/api/v1/payouts", json={"brand_id": "x"}, headers=headers), 422)
    assert client.post("/api/v1/payouts", json={"currency": "CNY"}).status_code == 401

    assert transactions() == before
    assert db.session.scalar(select(func.count(Payout.id))) == 0
    assert balance(streamer) == 9_000


def test_a_local_account_label_must_be_3_to_80_characters(client, make):
    headers = bearer_for(make, make.streamer())
    assert_problem(connect(client, headers, "ab"), 422)
    assert_problem(connect(client, headers, "x" * 81), 422)
    assert connect(client, headers, "abc").status_code == 200
    # connecting again replaces the account: one row
    assert connect(client, headers, "Bank of Shanghai").get_json()["external_id"] == "Bank of Shanghai"
    assert db.session.scalar(select(func.count(PayoutAccount.id))) == 1


def test_a_brand_member_pays_out_the_brands_share(client, make):
    owner, designer = make.streamer(), make.user()
    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    listing = ledger_tests.split_listing(make, owner, brand, designer, amount=60_000)
    buy(client, bearer_for(make, make.user()), listing)
    assert balance(brand=brand) == 12_000

    headers = bearer_for(make, member)
    assert connect(client, headers, "Glow Co corporate", brand_id=brand.id).status_code == 200
    payout = request(client, headers, brand_id=brand.id).get_json()
    assert (payout["amount"], payout["status"], payout["party"]) == (12_000, "paid", f"brand:{brand.id}")
    assert balance(brand=brand) == 0 and balance(owner) == 36_000  # the streamer's own balance is untouched
    listed = client.get(f"/api/v1/payouts?brand={brand.id}", headers=headers).get_json()
    assert [p["id"] for p in listed["payouts"]] == [payout["id"]]
    assert client.get("/api/v1/payouts", headers=headers).get_json()["payouts"] == []
    # the streamer is not a member of the brand
    assert_problem(request(client, bearer_for(make, owner), brand_id=brand.id), 403)


def test_a_refund_after_a_payout_leaves_a_negative_balance_the_next_payout_nets(client, make):
    streamer, listing = earning_streamer(client, make)
    headers = bearer_for(make, streamer)
    connect(client, headers, "my bank")
    fan = make.user()
    order = buy(client, bearer_for(make, fan), listing)
    assert request(client, headers).get_json()["amount"] == 36_000

    operator_headers = bearer_for(make, make.operator())
    refund = client.post(f"/api/v1/orders/{order['id']}/refunds", json={"reason": "changed mind"},
                         headers=operator_headers)
    assert refund.status_code == 201, refund.get_json()
    assert balance(streamer) == -18_000
    assert_problem(request(client, headers), 409)  # never a payout of a non-positive amount

    for _n in range(2):
        buy(client, bearer_for(make, make.user()), listing)
    assert balance(streamer) == 18_000
    assert request(client, headers).get_json()["amount"] == 18_000
    assert balance(streamer) == 0 and ledger.check_ledger().sums_to_zero


def test_operators_run_payouts_for_every_due_balance_with_an_account(client, make):
    due, _listing = earning_streamer(client, make)
    also_due, _listing = earning_streamer(client, make)
    no_account, _listing = earning_streamer(client, make)
    too_little, _listing = earning_streamer(client, make, amount=5_000)
    for user in (due, also_due, too_little):
        connect(client, bearer_for(make, user), f"account of {user.id}")
    operator_headers = bearer_for(make, make.operator())

    response = client.post("/api/v1/payouts/run", headers=operator_headers)
    assert response.status_code == 202
    assert response.get_json() == {"created": 2, "queued": 2}
    assert (balance(due), balance(also_due), balance(no_account), balance(too_little)) == (0, 0, 18_000, 4_500)
    everyone = client.get("/api/v1/payouts?all=1", headers=operator_headers).get_json()["payouts"]
    assert sorted(p["party"] for p in everyone) == sorted([f"user:{due.id}", f"user:{also_due.id}"])
    assert {p["status"] for p in everyone} == {"paid"}
    # run again: nothing is due any more
    assert client.post("/api/v1/payouts/run", headers=operator_headers).get_json()["created"] == 0


def test_the_beat_task_pays_out_due_balances(client, make):
    from marketplace.royalties import tasks

    streamer, _listing = earning_streamer(client, make)
    connect(client, bearer_for(make, streamer), "my bank")
    assert tasks.run_payouts.apply().result == 1
    assert balance(streamer) == 0
    assert tasks.run_payouts.apply().result == 0
    assert transactions(TransactionKind.PAYOUT) == 1


# ---------------------------------------------------------------- Stripe mode

def test_stripe_mode_checks_the_account_with_stripe(client, make, stripe_gateway_mode):
    fake = stripe_gateway_mode
    headers = bearer_for(make, make.streamer())
    assert "acct_" in assert_problem(connect(client, headers, "my bank"), 422)["detail"]
    assert_problem(connect(client, headers, "acct_12"), 422)
    assert "does not know" in assert_problem(connect(client, headers, "acct_unknown123"), 422)["detail"]
    known = fake.add_account("acct_1Encore42")
    fake.fail_next(503, count=5)  # Stripe is down: 502, nothing stored
    assert_problem(connect(client, headers, known), 502)
    assert db.session.scalar(select(func.count(PayoutAccount.id))) == 0
    fake.reset()
    fake.add_account(known)
    body = connect(client, headers, known).get_json()
    assert (body["provider"], body["external_id"]) == ("stripe", known)
    assert fake.requests_to(f"/v1/accounts/{known}")[-1].method == "GET"


def test_stripe_mode_sends_a_transfer_with_the_payouts_idempotency_key(client, make, stripe_gateway_mode):
    fake = stripe_gateway_mode
    streamer, _listing = earning_streamer_stripe(client, make, fake)
    headers = bearer_for(make, streamer)
    account = fake.add_account()
    assert connect(client, headers, account).status_code == 200

    response = request(client, headers)
    assert response.status_code == 201, response.get_json()
    payout = response.get_json()
    # the test app's Celery runs the queued task at once; in production the answer says pending
    assert payout["status"] == "paid" and payout["provider"] == "stripe"
    (transfer,) = fake.transfers.values()
    assert payout["provider_reference"] == transfer["id"]
    assert (transfer["amount"], transfer["currency"], transfer["destination"]) == (18_000, "cny", account)
    (sent,) = fake.requests_to("/v1/transfers")
    assert sent.idempotency_key == f"encore-payout-{payout['id']}"
    assert balance(streamer) == 0 and ledger.check_ledger().sums_to_zero

    # sending it again changes nothing: it is not pending
    from marketplace.royalties import tasks

    assert tasks.send_payout.apply(args=(payout["id"],)).result == "paid"
    assert len(fake.requests_to("/v1/transfers")) == 1


def test_a_refused_transfer_fails_the_payout_and_gives_the_money_back(client, make, stripe_gateway_mode):
    fake = stripe_gateway_mode
    streamer, _listing = earning_streamer_stripe(client, make, fake)
    headers = bearer_for(make, streamer)
    # Stripe knows the account, but it cannot receive transfers: a 400 account_invalid
    account = fake.add_account(payouts_enabled=False)
    connect(client, headers, account)

    payout = request(client, headers).get_json()
    db.session.expire_all()
    row = db.session.get(Payout, payout["id"])
    assert row.status == "failed" and row.failed_at is not None and "cannot receive" in row.last_error
    assert balance(streamer) == 18_000
    assert transactions(TransactionKind.PAYOUT) == 1 and transactions(TransactionKind.PAYOUT_REVERSAL) == 1
    check = ledger.check_ledger()
    assert check.sums_to_zero and check.total("CNY", AccountKind.PAYOUTS) == 0
    assert fake.transfers == {}
    # a failed payout is never sent again
    from marketplace.royalties import payouts
    from app.db import utcnow

    assert payouts.send_payout(row.id, utcnow()) == "failed"
    assert len(fake.requests_to("/v1/transfers")) == 1


def earning_streamer_stripe(client, make, fake):
    """A streamer with 18,000 CNY earned, paid through Stripe Checkout on the fake."""
    streamer = make.streamer()
    listing = ledger_tests.published(make, streamer, amount=PRICE)
    fan_headers = bearer_for(make, make.user())
    from tests.order_support import add

    add(client, fan_headers, listing)
    order = client.post("/api/v1/orders", json={"currency": "CNY"}, headers=fan_headers).get_json()
    session_id = order_row(order["id"]).payment_session_id
    intent = fake.complete_session(session_id)
    from marketplace.payments import local_gateway

    event = local_gateway.completed_event(order_row(order["id"]))
    event["data"]["object"]["payment_intent"] = intent
    assert deliver(client, event).status_code == 200
    assert balance(streamer) == 18_000
    return streamer, listing


def test_a_charge_with_a_balance_transaction_id_has_its_fee_looked_up_at_stripe(client, make, stripe_gateway_mode):
    fake = stripe_gateway_mode
    streamer, listing = earning_streamer_stripe(client, make, fake)
    order = order_row(db.session.scalar(select(LedgerTransaction.order_id).where(LedgerTransaction.kind == "sale")))
    transaction_id = fake.add_balance_transaction(fee=610, amount=PRICE)
    charge = {"id": "ch_1", "object": "charge", "payment_intent": order.payment_reference,
              "metadata": {"order_id": str(order.id)}, "balance_transaction": transaction_id}
    assert deliver(client, {"id": "evt_charge_fee", "type": "charge.succeeded", "data": {"object": charge}}).get_json()[
        "outcome"] == "fee_pending"
    assert ledger_tests.platform() == 2_000 - 610
    assert transactions(TransactionKind.GATEWAY_FEE) == 1 and balance(streamer) == 18_000
    assert fake.requests_to(f"/v1/balance_transactions/{transaction_id}")
    # the same charge reported again (charge.updated): still one fee
    assert deliver(client, {"id": "evt_charge_fee_2", "type": "charge.updated", "data": {"object": charge}}).status_code == 200
    assert transactions(TransactionKind.GATEWAY_FEE) == 1


# ---------------------------------------------------------------- the local pay page reports a fee

@pytest.fixture
def local_fee_bp(app):
    app.config["ENCORE_LOCAL_GATEWAY_FEE_BP"] = 290
    yield 290
    app.config["ENCORE_LOCAL_GATEWAY_FEE_BP"] = 0


def test_the_local_pay_page_reports_its_fee_through_the_webhook_handler(client, make, local_fee_bp):
    streamer = make.streamer()
    listing = ledger_tests.published(make, streamer, amount=1_050)
    fan_headers = bearer_for(make, make.user())
    from tests.order_support import add

    add(client, fan_headers, listing)
    order = client.post("/api/v1/orders", json={"currency": "CNY"}, headers=fan_headers).get_json()
    assert client.post(order["payment_url"], data={"action": "pay"}).status_code == 302
    # 1,050 × 2.9% = 30.45, rounded half up to 30; the platform bears it by default
    assert ledger_tests.platform() == 105 - 30 and balance(streamer) == 945
    assert transactions(TransactionKind.GATEWAY_FEE) == 1
    check = ledger.check_ledger()
    assert check.sums_to_zero and check.total("CNY", AccountKind.GATEWAY_CLEARING) == -1_050 + 30


def test_the_local_fee_rounds_half_up():
    from marketplace.payments.local_gateway import local_fee

    assert [local_fee(total, 290) for total in (1_050, 1_000, 1_724, 0)] == [30, 29, 50, 0]
    assert local_fee(50, 1_000) == 5 and local_fee(5, 1_000) == 1 and local_fee(4, 1_000) == 0


def test_stripe_down_when_a_payout_is_requested_answers_it_pending(client, make, stripe_gateway_mode):
    fake = stripe_gateway_mode
    streamer, _listing = earning_streamer_stripe(client, make, fake)
    headers = bearer_for(make, streamer)
    connect(client, headers, fake.add_account())
    fake.fail_next(503, count=100)

    response = request(client, headers)
    assert response.status_code == 201, response.get_json()
    payout = response.get_json()
    assert payout["status"] == "pending" and payout["last_error"]
    assert balance(streamer) == 0 and fake.transfers == {}  # taken out once; the retry sweep sends it
    assert transactions(TransactionKind.PAYOUT) == 1
