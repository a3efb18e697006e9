"""Stripe mode end to end: checkout, payment, fulfilment and refunds through the HTTP API, with the real `stripe`
library talking to a local Stripe-shaped server and Stripe-shaped events signed with the webhook secret."""
from __future__ import annotations

import json
import secrets
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.config import ConfigError
from app.extensions import db
from app.factory import create_app
from marketplace.cart.models import CartLine
from marketplace.orders.models import Order, PaymentEvent, Refund
from marketplace.payments import reset_gateway
from marketplace.payments.local_gateway import LocalGateway
from marketplace.payments.stripe_gateway import sign_payload
from marketplace.royalties import ledger
from marketplace.royalties.models import AccountKind
from tests.api_support import assert_problem, bearer_for
from tests.order_support import add, count, order_row
from tests.shipping_support import ADDRESS, ships_free
from tests.app_support import rebind
from tests.stripe_support import fake_stripe  # noqa: F401  (fixture)

STRIPE_SECRET_KEY = "sk_test_encore_e2e"
STRIPE_WEBHOOK_SECRET = "whsec_test_encore_e2e"
CHECKOUT = "/v1/checkout/sessions"
REFUNDS = "/v1/refunds"
STRIPE_SETTINGS = ("ENCORE_PAYMENT_GATEWAY", "ENCORE_STRIPE_SECRET_KEY", "ENCORE_STRIPE_WEBHOOK_SECRET",
                   "ENCORE_STRIPE_API_BASE")


@pytest.fixture
def stripe_mode(app, fake_stripe):
    """The session app switched to the Stripe gateway, talking to the local fake; restored afterwards."""
    saved = {key: app.config.get(key) for key in STRIPE_SETTINGS}
    app.config.update(
        ENCORE_PAYMENT_GATEWAY="stripe",
        ENCORE_STRIPE_SECRET_KEY=STRIPE_SECRET_KEY,
        ENCORE_STRIPE_WEBHOOK_SECRET=STRIPE_WEBHOOK_SECRET,
        ENCORE_STRIPE_API_BASE=fake_stripe.url,
    )
    reset_gateway(app)
    yield fake_stripe
    app.config.update(saved)
    reset_gateway(app)


@pytest.fixture
def fan(make):
    return make.user(email="stripe-fan@example.com")


@pytest.fixture
def headers(make, fan):
    return bearer_for(make, fan)


def published(make, owner=None, kind="merch", amount=1200, **data):
    listing = make.listing(owner or make.streamer(), status="published", kind=kind,
                           prices=[{"currency": "CNY", "amount": amount}], **data)
    return ships_free(listing) if kind == "merch" else listing


def place(client, headers, currency="CNY", **body):
    return client.post("/api/v1/orders", json={"currency": currency, "shipping_address": ADDRESS, **body}, headers=headers)


def stripe_event(event_type: str, obj: dict) -> dict:
    """An event as Stripe's webhook sends it."""
    return {
        "id": f"evt_test_{secrets.token_hex(12)}",
        "object": "event",
        "api_version": "2025-01-27.acacia",
        "created": int(time.time()),
        "livemode": False,
        "pending_webhooks": 1,
        "type": event_type,
        "data": {"object": obj},
    }


def deliver(client, event: dict, secret: str = STRIPE_WEBHOOK_SECRET):
    payload = json.dumps(event).encode()
    return client.post("/webhooks/stripe", data=payload, headers={
        "Stripe-Signature": sign_payload(payload, secret), "Content-Type": "application/json",
    })


def session_object(fake, session_id: str) -> dict:
    """The Checkout Session as Stripe would put it in an event (the fake's bookkeeping key left out)."""
    stored = dict(fake.sessions[session_id])
    stored.pop("payment_intent_data_metadata", None)
    return stored


def charge_refunded(payment_intent: str, amount: int, amount_refunded: int, refund_id: str, metadata=None) -> dict:
    """A Charge object after a refund, as `charge.refunded` carries it."""
    return {
        "id": f"ch_test_{secrets.token_hex(12)}",
        "object": "charge",
        "amount": amount,
        "amount_captured": amount,
        "amount_refunded": amount_refunded,
        "currency": "cny",
        "payment_intent": payment_intent,
        "metadata": metadata or {},
        "paid": True,
        "refunded": amount_refunded >= amount,
        "refunds": {"object": "list", "data": [{"id": refund_id, "object": "refund", "amount": amount_refunded}],
                    "has_more": False},
    }


def checkout_session_for(fake, body: dict) -> dict:
    [session] = [s for s in fake.sessions.values() if s["metadata"].get("order_id") == str(body["id"])]
    return session


def pay(client, fake, body: dict) -> str:
    """The buyer pays at Stripe and Stripe reports it: answers the PaymentIntent id."""
    session = checkout_session_for(fake, body)
    intent = fake.complete_session(session["id"])
    response = deliver(client, stripe_event("checkout.session.completed", session_object(fake, session["id"])))
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["outcome"] == "paid"
    return intent


def paid_order(client, make, headers, fake, *listings) -> tuple[dict, str]:
    for listing in listings:
        add(client, headers, listing)
    body = place(client, headers).get_json()
    return body, pay(client, fake, body)


# ---------------------------------------------------------------- checkout

def test_checkout_creates_a_stripe_session_with_the_order_on_it(client, make, headers, fan, stripe_mode):
    seller = make.streamer()
    hoodie = published(make, seller, title="Night hoodie", amount=1199)
    sticker = published(make, seller, title="Glow stickers", amount=500)
    coupon = client.post("/api/v1/coupons", headers=bearer_for(make, seller),
                         json={"code": "LIVE15", "kind": "percent", "percent_bp": 1500})
    assert coupon.status_code == 201, coupon.get_json()
    add(client, headers, hoodie, quantity=3)
    add(client, headers, sticker, quantity=2)

    response = place(client, headers, coupon="live15")

    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    [request] = stripe_mode.requests_to(CHECKOUT)
    session = checkout_session_for(stripe_mode, body)
    assert body["payment_url"] == session["url"]
    order = order_row(body["id"])
    assert order.payment_session_id == session["id"]
    # 15 % of 3 x 11.99 is 5.395, rounded down to 5.39: 30.58 does not divide by 3, so one unit carries the cent
    assert (order.subtotal, order.discount, order.total) == (4597, 689, 3908)
    params = request.params
    items = [(item["price_data"]["product_data"]["name"],
              int(item["price_data"]["unit_amount"]), int(item["quantity"])) for item in params["line_items"]]
    assert items == [("Night hoodie", 1019, 2), ("Night hoodie", 1020, 1), ("Glow stickers", 425, 2)]
    assert sum(unit * quantity for _name, unit, quantity in items) == order.total == session["amount_total"]
    assert {item["price_data"]["currency"] for item in params["line_items"]} == {"cny"}
    assert params["mode"] == "payment"
    assert params["client_reference_id"] == str(order.id)
    assert params["metadata"] == {"order_id": str(order.id), "order_number": order.number}
    assert params["payment_intent_data"]["metadata"] == {"order_id": str(order.id), "order_number": order.number}
    assert params["customer_email"] == "stripe-fan@example.com"
    assert params["success_url"] == f"http://localhost/orders/{order.number}?paid=1"
    assert params["cancel_url"] == f"http://localhost/orders/{order.number}"
    # Stripe takes 30 minutes to 24 hours; the order's 60-minute window fits
    assert int(params["expires_at"]) == int((order.created_at + timedelta(minutes=60)).timestamp())
    assert request.headers["authorization"] == f"Bearer {STRIPE_SECRET_KEY}"
    assert request.idempotency_key == f"encore-order-{order.id}-{order.number}-checkout"
    assert params["locale"] == "en"  # the test client speaks English
    assert count(CartLine) == 0


def test_a_chinese_speaking_buyer_gets_checkout_in_chinese(client, make, headers, stripe_mode):
    add(client, headers, published(make))
    response = client.post("/api/v1/orders", json={"currency": "CNY", "shipping_address": ADDRESS},
                           headers={**headers, "Accept-Language": "zh-CN,zh;q=0.9"})
    assert response.status_code == 201, response.get_json()
    [request] = stripe_mode.requests_to(CHECKOUT)
    assert request.params["locale"] == "zh"


@pytest.mark.parametrize("status", [500, 402])
def test_a_failing_gateway_at_checkout_leaves_no_order_and_keeps_the_cart(client, make, headers, stripe_mode, status):
    add(client, headers, published(make), quantity=2)
    stripe_mode.fail_next(status, count=10)

    refused = place(client, headers)

    problem = assert_problem(refused, 502)
    assert "nothing was charged" in problem["detail"]
    # the library retried a server error, never a card error
    assert len(stripe_mode.requests_to(CHECKOUT)) == (3 if status == 500 else 1)
    assert count(Order) == 0 and count(PaymentEvent) == 0
    assert db.session.scalars(select(CartLine.quantity)).all() == [2]
    # once Stripe answers again the same cart checks out
    stripe_mode.reset()
    assert place(client, headers).status_code == 201
    assert count(Order) == 1 and count(CartLine) == 0


def test_the_local_pay_page_does_not_exist_in_stripe_mode(client, make, headers, app, stripe_mode):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    # a correctly signed local pay link for a real pending order: still nothing to see or post
    token = LocalGateway(app).serializer.dumps({"order": body["id"], "ok": "/", "back": "/"})
    assert client.get(f"/pay/local/{token}").status_code == 404
    assert client.post(f"/pay/local/{token}", data={"action": "pay"}).status_code == 404
    assert order_row(body["id"]).status == "pending_payment" and count(PaymentEvent) == 0


# ---------------------------------------------------------------- payment events

def test_a_completed_session_pays_and_fulfils_the_order(client, make, headers, stripe_mode):
    add(client, headers, published(make, kind="course", title="Lighting 101"))
    body = place(client, headers).get_json()
    session = checkout_session_for(stripe_mode, body)
    # Stripe can report a completed session before the money arrived (delayed payment methods)
    unpaid = deliver(client, stripe_event("checkout.session.completed", session_object(stripe_mode, session["id"])))
    assert unpaid.get_json()["outcome"] == "awaiting_payment"
    assert order_row(body["id"]).status == "pending_payment"

    intent = pay(client, stripe_mode, body)

    order = order_row(body["id"])
    assert order.status == "fulfilled"
    assert order.payment_reference == intent
    assert [change.to_status for change in order.status_changes] == ["pending_payment", "paid", "fulfilled"]
    assert all(line.fulfilled_at for line in order.lines)
    # Stripe delivers at least once: the same event again changes nothing
    again = deliver(client, stripe_event("checkout.session.completed", session_object(stripe_mode, session["id"])))
    assert again.get_json()["outcome"] == "already_paid"
    assert len(order_row(body["id"]).status_changes) == 3


def test_a_delayed_payment_that_arrives_later_pays_the_order(client, make, headers, stripe_mode):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    session_id = checkout_session_for(stripe_mode, body)["id"]
    completed = deliver(client, stripe_event("checkout.session.completed", session_object(stripe_mode, session_id)))
    assert completed.get_json()["outcome"] == "awaiting_payment"
    intent = stripe_mode.complete_session(session_id)
    succeeded = deliver(client, stripe_event("checkout.session.async_payment_succeeded",
                                             session_object(stripe_mode, session_id)))
    assert succeeded.get_json()["outcome"] == "paid"
    order = order_row(body["id"])
    assert order.status == "paid" and order.payment_reference == intent  # merch: paid, awaiting shipment


def test_an_event_signed_with_another_secret_is_refused(client, make, headers, stripe_mode):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    session = checkout_session_for(stripe_mode, body)
    stripe_mode.complete_session(session["id"])
    event = stripe_event("checkout.session.completed", session_object(stripe_mode, session["id"]))
    # the local gateway's derived secret is not Stripe's endpoint secret
    refused = deliver(client, event, secret="whsec_local_not_the_endpoint_secret")
    assert refused.status_code == 400
    assert count(PaymentEvent) == 0 and order_row(body["id"]).status == "pending_payment"


def test_a_failed_payment_is_noted_and_the_order_stays_open(client, make, headers, stripe_mode):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    failed = deliver(client, stripe_event("payment_intent.payment_failed", {
        "id": f"pi_test_{secrets.token_hex(12)}",
        "object": "payment_intent",
        "amount": body["total"]["amount"],
        "currency": "cny",
        "metadata": {"order_id": str(body["id"]), "order_number": body["number"]},
        "last_payment_error": {"code": "card_declined", "decline_code": "insufficient_funds",
                               "message": "Your card has insufficient funds."},
        "status": "requires_payment_method",
    }))
    assert failed.get_json()["outcome"] == "payment_failed"
    order = client.get(f"/api/v1/orders/{body['id']}", headers=headers).get_json()
    assert order["status"] == "pending_payment"
    assert order["payment_url"] == body["payment_url"]  # the fan can try again
    assert order["history"][-1]["note"] == "payment_failed"
    assert "insufficient funds" in order["history"][-1]["text"]


def test_an_expired_session_expires_the_order(client, make, headers, stripe_mode):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    session = session_object(stripe_mode, checkout_session_for(stripe_mode, body)["id"])
    session.update(status="expired", url=None)
    assert deliver(client, stripe_event("checkout.session.expired", session)).get_json()["outcome"] == "expired"
    order = client.get(f"/api/v1/orders/{body['id']}", headers=headers).get_json()
    assert order["status"] == "expired" and order["payment_url"] is None
    assert order["history"][-1]["note"] == "expired_unpaid"


# ---------------------------------------------------------------- refunds

def test_an_operator_refund_goes_to_stripe_and_its_webhook_changes_nothing_more(client, make, headers, stripe_mode):
    body, intent = paid_order(client, make, headers, stripe_mode, published(make), published(make, amount=800))
    operator = bearer_for(make, make.operator())

    refunded = client.post(f"/api/v1/orders/{body['id']}/refunds", headers=operator,
                           json={"reason": "Stream was cancelled"})

    assert refunded.status_code == 201, refunded.get_json()
    assert refunded.get_json()["status"] == "refunded"
    assert refunded.get_json()["refunded"] == {"currency": "CNY", "amount": 2000}
    [refund] = db.session.scalars(select(Refund)).all()
    [request] = stripe_mode.requests_to(REFUNDS)
    assert request.params["payment_intent"] == intent
    assert request.params["amount"] == "2000"
    assert request.params["metadata"] == {"order_id": str(body["id"]), "refund_id": str(refund.id),
                                          "reason": "Stream was cancelled"}
    assert request.idempotency_key == f"encore-refund-{refund.id}"
    [stripe_refund] = stripe_mode.refunds.values()
    assert refund.gateway_reference == stripe_refund["id"] and refund.amount == 2000
    order = order_row(body["id"])
    assert order.status == "refunded" and order.refunded_amount == 2000 and not order.needs_attention

    # Stripe then reports the same refund on the charge
    echoed = deliver(client, stripe_event("charge.refunded", charge_refunded(
        intent, 2000, 2000, stripe_refund["id"], {"order_id": str(body["id"])})))
    assert echoed.status_code == 200 and echoed.get_json()["outcome"] == "ignored"
    assert count(Refund) == 1
    order = order_row(body["id"])
    assert order.status == "refunded" and order.refunded_amount == 2000 and not order.needs_attention


def test_the_webhook_of_a_partial_encore_refund_changes_nothing_more(client, make, headers, stripe_mode):
    seller = make.streamer()
    body, intent = paid_order(client, make, headers, stripe_mode, published(make, seller), published(make, seller))
    first_line = body["lines"][0]["id"]
    response = client.post(f"/api/v1/orders/{body['id']}/refunds", headers=bearer_for(make, seller),
                           json={"line_ids": [first_line], "reason": "Sent twice"})
    assert response.get_json()["status"] == "partially_refunded"
    [stripe_refund] = stripe_mode.refunds.values()
    echoed = deliver(client, stripe_event("charge.refunded", charge_refunded(intent, 2400, 1200, stripe_refund["id"])))
    assert echoed.get_json()["outcome"] == "ignored"
    order = order_row(body["id"])
    assert count(Refund) == 1 and order.refunded_amount == 1200 and not order.needs_attention


def test_a_partial_refund_made_at_stripe_is_recorded_and_flagged_then_the_rest(client, make, headers, stripe_mode):
    body, intent = paid_order(client, make, headers, stripe_mode, published(make), published(make))

    # support refunded part of the payment in Stripe's dashboard; the charge carries no Encore metadata
    partial = deliver(client, stripe_event("charge.refunded", charge_refunded(intent, 2400, 500, "re_test_dash1")))

    assert partial.get_json()["outcome"] == "refunded"
    order = order_row(body["id"])
    assert order.status == "partially_refunded" and order.refunded_amount == 500
    assert order.needs_attention and order.attention_note == "external_refund"
    assert all(line.refunded_at is None for line in order.lines)  # which lines is for an operator to decide
    [refund] = db.session.scalars(select(Refund)).all()
    assert (refund.amount, refund.gateway_reference, refund.actor_id, refund.lines) == (500, "re_test_dash1", None, [])
    assert stripe_mode.requests_to(REFUNDS) == []  # Encore did not send a refund of its own

    # then the rest at the dashboard too: the whole payment is back, so every line is taken back
    rest = deliver(client, stripe_event("charge.refunded", charge_refunded(intent, 2400, 2400, "re_test_dash2")))
    assert rest.get_json()["outcome"] == "refunded"
    order = order_row(body["id"])
    assert order.status == "refunded" and order.refunded_amount == 2400
    assert all(line.refunded_at for line in order.lines)
    assert sorted(r.amount for r in db.session.scalars(select(Refund))) == [500, 1900]


def test_after_a_partial_refund_at_stripe_refunding_the_lines_sends_back_only_the_rest(client, make, headers,
                                                                                       stripe_mode):
    seller = make.streamer()
    body, intent = paid_order(client, make, headers, stripe_mode, published(make, seller), published(make, seller))
    deliver(client, stripe_event("charge.refunded", charge_refunded(intent, 2400, 500, "re_test_dash1")))
    seller_headers = bearer_for(make, seller)

    first, second = (line["id"] for line in body["lines"])
    response = client.post(f"/api/v1/orders/{body['id']}/refunds", headers=seller_headers,
                           json={"line_ids": [first], "reason": "Sent twice"})
    assert response.status_code == 201, response.get_json()
    # the dashboard refund was spread over both 1,200 lines: 250 of this one went back already
    assert response.get_json()["refunds"][-1]["amount"]["amount"] == 950
    response = client.post(f"/api/v1/orders/{body['id']}/refunds", headers=seller_headers,
                           json={"line_ids": [second], "reason": "Sent twice"})
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["refunds"][-1]["amount"]["amount"] == 950
    order = order_row(body["id"])
    assert order.status == "refunded" and order.refunded_amount == 2400
    assert sorted(refund["amount"] for refund in stripe_mode.refunds.values()) == [950, 950]
    check = ledger.check_ledger()
    assert check.sums_to_zero and check.total("CNY", AccountKind.REFUNDS) == 2400
    assert check.total("CNY", AccountKind.PLATFORM_REVENUE) == 0


def test_a_full_refund_made_at_stripe_refunds_every_line(client, make, headers, stripe_mode):
    body, intent = paid_order(client, make, headers, stripe_mode, published(make), published(make, amount=300))

    full = deliver(client, stripe_event("charge.refunded", charge_refunded(intent, 1500, 1500, "re_test_dash")))

    assert full.get_json()["outcome"] == "refunded"
    order = order_row(body["id"])
    assert order.status == "refunded" and order.refunded_amount == 1500
    assert all(line.refunded_at for line in order.lines)
    [refund] = db.session.scalars(select(Refund)).all()
    assert refund.amount == 1500 and refund.gateway_reference == "re_test_dash"
    assert sorted(line.amount for line in refund.lines) == [300, 1200]
    assert order.status_changes[-1].note == "external_refund"
    # the same dashboard refund delivered again changes nothing
    deliver(client, stripe_event("charge.refunded", charge_refunded(intent, 1500, 1500, "re_test_dash")))
    assert count(Refund) == 1


def test_a_dashboard_refund_on_a_charge_without_its_refunds_list_is_still_recorded(client, make, headers, stripe_mode):
    # API versions since 2022-11-15 leave Charge.refunds out unless expanded
    body, intent = paid_order(client, make, headers, stripe_mode, published(make))
    charge = charge_refunded(intent, 1200, 1200, "unused")
    del charge["refunds"]
    assert deliver(client, stripe_event("charge.refunded", charge)).get_json()["outcome"] == "refunded"
    [refund] = db.session.scalars(select(Refund)).all()
    assert refund.amount == 1200 and refund.gateway_reference is None
    assert order_row(body["id"]).status == "refunded"


def test_a_refund_event_for_an_unknown_payment_changes_nothing(client, make, headers, stripe_mode):
    body, _intent = paid_order(client, make, headers, stripe_mode, published(make))
    stray = deliver(client, stripe_event("charge.refunded", charge_refunded("pi_test_elsewhere", 1200, 1200, "re_x")))
    assert stray.status_code == 200 and stray.get_json()["outcome"] == "unknown_order"
    assert count(Refund) == 0 and order_row(body["id"]).status == "paid"  # merch: awaiting shipment


@pytest.mark.parametrize("status", [500, 402])
def test_a_refund_stripe_refuses_records_nothing(client, make, headers, stripe_mode, status):
    body, _intent = paid_order(client, make, headers, stripe_mode, published(make))
    operator = bearer_for(make, make.operator())
    # exactly as many failures as the library makes attempts (server errors are retried twice)
    stripe_mode.fail_next(status, count=3 if status == 500 else 1)

    refused = client.post(f"/api/v1/orders/{body['id']}/refunds", headers=operator, json={"reason": "Changed mind"})

    problem = assert_problem(refused, 502)
    assert "no money was sent back" in problem["detail"]
    assert count(Refund) == 0
    order = order_row(body["id"])
    assert order.status == "paid" and order.refunded_amount == 0  # merch: awaiting shipment
    assert all(line.refunded_at is None for line in order.lines)
    assert stripe_mode.refunds == {}
    # asked again when Stripe is back, the refund goes through once
    retried = client.post(f"/api/v1/orders/{body['id']}/refunds", headers=operator, json={"reason": "Changed mind"})
    assert retried.status_code == 201 and retried.get_json()["status"] == "refunded"
    assert count(Refund) == 1 and len(stripe_mode.refunds) == 1


# ---------------------------------------------------------------- configuration

@pytest.fixture
def clean_environment(monkeypatch, tmp_path):
    import os

    for name in list(os.environ):
        if name.startswith("ENCORE_") and not name.startswith("ENCORE_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ENCORE_INSTANCE_PATH", str(tmp_path / "instance"))


def _create_app_refused(app, config: dict, match: str) -> None:
    try:
        with pytest.raises(ConfigError, match=match):
            create_app(config)
    finally:
        rebind(app)


@pytest.mark.parametrize("missing", ["ENCORE_STRIPE_SECRET_KEY", "ENCORE_STRIPE_WEBHOOK_SECRET"])
def test_stripe_without_its_keys_is_refused(app, clean_environment, missing):
    config = {"ENCORE_PAYMENT_GATEWAY": "stripe", "ENCORE_STRIPE_SECRET_KEY": "sk_test_x",
              "ENCORE_STRIPE_WEBHOOK_SECRET": "whsec_x"}
    del config[missing]
    _create_app_refused(app, config, f"ENCORE_PAYMENT_GATEWAY is stripe but {missing} is not set")


def test_stripe_with_no_keys_from_the_environment_is_refused(app, clean_environment, monkeypatch):
    monkeypatch.setenv("ENCORE_PAYMENT_GATEWAY", "Stripe")
    _create_app_refused(app, {}, "ENCORE_STRIPE_SECRET_KEY is not set")


def test_the_local_gateway_is_refused_in_production(app, clean_environment, monkeypatch):
    monkeypatch.setenv("ENCORE_ENV", "production")
    monkeypatch.setenv("ENCORE_SECRET_KEY", "p" * 48)
    _create_app_refused(app, {}, "ENCORE_PAYMENT_GATEWAY is local, a test-mode gateway")


def test_an_unknown_gateway_is_refused(app, clean_environment):
    _create_app_refused(app, {"ENCORE_PAYMENT_GATEWAY": "paypal"},
                        "ENCORE_PAYMENT_GATEWAY is 'paypal': use one of local, stripe")
