"""Checkout, payment, fulfilment and refunds through the API and the webhook, with the local gateway:
the order snapshot, coupon use, exactly-once events, who may see and refund what, and every refusal."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from marketplace import kinds
from marketplace.cart.models import CartLine
from marketplace.catalog import services as catalog
from marketplace.orders.models import Order, OrderEmail, OrderLine, PaymentEvent, Refund
from marketplace.payments import local_gateway, webhook_secret
from tests.api_support import assert_problem, bearer_for
from tests.order_support import add, count, order_row, record_deliveries
from tests.shipping_support import ADDRESS, ships_free

PRICES = [{"currency": "CNY", "amount": 1200}, {"currency": "USD", "amount": 199}]


def published(make, owner=None, kind="course", prices=PRICES, **data):
    listing = make.listing(owner or make.streamer(), status="published", kind=kind, prices=prices, **data)
    return ships_free(listing) if kind == "merch" else listing


@pytest.fixture
def fan(make):
    return make.user()


@pytest.fixture
def headers(make, fan):
    return bearer_for(make, fan)


def place(client, headers, currency="CNY", **body):
    body.setdefault("shipping_address", ADDRESS)  # ignored without merch
    return client.post("/api/v1/orders", json={"currency": currency, **body}, headers=headers)


def deliver(client, event, secret=None, timestamp=None):
    payload, header = local_gateway.signed(event, secret or webhook_secret(), timestamp)
    return client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": header,
                                                                   "Content-Type": "application/json"})


def test_checkout_snapshots_the_cart_and_answers_a_payment_url(client, make, headers, fan):
    first, second = published(make, title="Night lights"), published(make, kind="merch", title="Hoodie")
    add(client, headers, first)
    add(client, headers, second, quantity=2)
    response = place(client, headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending_payment"
    assert body["total"] == {"currency": "CNY", "amount": 3600}
    assert body["number"].startswith("EN-")
    assert body["payment_url"].startswith("http://localhost/pay/local/")
    assert [(line["title"], line["quantity"], line["unit_price"]["amount"], line["total"]["amount"]) for line in body["lines"]] == [
        ("Night lights", 1, 1200, 1200), ("Hoodie", 2, 1200, 2400),
    ]
    assert count(CartLine) == 0  # the cart was emptied
    # a later price change does not touch the order
    catalog.update_listing(first.creator.user, first, {"prices": [{"currency": "CNY", "amount": 9900}]})
    db.session.commit()
    again = client.get(f"/api/v1/orders/{body['id']}", headers=headers).get_json()
    assert again["total"]["amount"] == 3600
    assert again["history"][0]["note"] == "checkout"


def test_an_order_number_drawn_twice_is_drawn_again(client, make, headers, monkeypatch):
    listing = published(make)
    add(client, headers, listing)
    first = place(client, headers).get_json()
    taken = first["number"].rsplit("-", 1)[1]
    # the random draw repeats the first order's number once, then draws "000001"
    draws = iter(list(taken) + list("000001"))
    monkeypatch.setattr("marketplace.orders.services.secrets.choice", lambda alphabet: next(draws))
    add(client, headers, listing)
    response = place(client, headers)
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["number"].endswith("-000001")
    assert count(Order) == 2 and count(CartLine) == 0


def test_paying_on_the_local_page_marks_paid_fulfils_once_and_emails_the_buyer(client, make, headers, fan, app):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    page = client.get(body["payment_url"])
    assert page.status_code == 200 and body["number"] in page.get_data(as_text=True)
    paid = client.post(body["payment_url"], data={"action": "pay"})
    assert paid.status_code == 302 and f"/orders/{body['number']}" in paid.headers["Location"]
    order = order_row(body["id"])
    assert order.status == "fulfilled"  # the eager test queue ran the fulfilment after the commit
    assert order.payment_reference == f"pi_local_{order.number}"
    assert all(line.fulfilled_at for line in order.lines)
    assert [event.outcome for event in db.session.scalars(select(PaymentEvent))] == ["paid"]
    assert db.session.scalars(select(OrderEmail.key)).all() == ["confirmation"]
    outbox = list((__import__("pathlib").Path(app.config["ENCORE_OUTBOX_PATH"])).glob("*.eml"))
    assert any(order.number in path.read_text() for path in outbox)
    # paying again on the same page changes nothing
    client.post(body["payment_url"], data={"action": "pay"})
    assert count(PaymentEvent) == 1


def test_declining_keeps_the_order_open_with_the_failure_in_its_history(client, make, headers):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    client.post(body["payment_url"], data={"action": "decline"})
    order = client.get(f"/api/v1/orders/{body['id']}", headers=headers).get_json()
    assert order["status"] == "pending_payment"
    assert order["history"][-1]["note"] == "payment_failed"
    assert "declined" in order["history"][-1]["text"]


def test_a_replayed_or_duplicated_event_changes_nothing_twice(client, make, headers, monkeypatch):
    fulfilled = record_deliveries(monkeypatch)
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    event = local_gateway.completed_event(order_row(body["id"]))
    for _attempt in range(3):
        assert deliver(client, event).status_code == 200
    assert [e.outcome for e in db.session.scalars(select(PaymentEvent))] == ["paid"]
    assert len(fulfilled) == 1
    # a second, different event reporting the same payment is stored but applies nothing
    second = deliver(client, local_gateway.completed_event(order_row(body["id"])))
    assert second.get_json()["outcome"] == "already_paid"
    assert len(fulfilled) == 1 and count(OrderEmail) == 1


def test_each_payment_event_is_stored_once_with_its_order_and_outcome(client, make, headers):
    # on PostgreSQL the event is stored and its order locked in one statement, and the outcome is written with
    # the order's move to paid: the rows must read as when each was a statement of its own
    from types import SimpleNamespace

    add(client, headers, published(make))
    paid = place(client, headers).get_json()
    add(client, headers, published(make))
    late = place(client, headers).get_json()
    deliver(client, local_gateway.expired_event(order_row(late["id"])))
    missing = SimpleNamespace(id=paid["id"] + late["id"] + 1000, number="E-MISSING", total=1200, currency="CNY",
                              payment_session_id="cs_local_missing", payment_reference=None)
    events = {
        "paid": local_gateway.completed_event(order_row(paid["id"])),
        "late_payment": local_gateway.completed_event(order_row(late["id"])),
        "unknown_order": local_gateway.completed_event(missing),
    }
    for outcome, event in events.items():
        assert deliver(client, event).get_json()["outcome"] == outcome
        assert deliver(client, event).get_json()["outcome"] == "duplicate"  # and nothing changes twice

    db.session.expire_all()
    completed = select(PaymentEvent).where(PaymentEvent.type == "checkout.session.completed")
    stored = {row.event_id: row for row in db.session.scalars(completed)}
    assert {event["id"]: (stored[event["id"]].order_id, stored[event["id"]].outcome) for event in events.values()} == {
        events["paid"]["id"]: (paid["id"], "paid"),
        events["late_payment"]["id"]: (late["id"], "late_payment"),
        events["unknown_order"]["id"]: (None, "unknown_order"),
    }
    history = [change.to_status for change in order_row(paid["id"]).status_changes]
    assert history == ["pending_payment", "paid", "fulfilled"]
    assert order_row(late["id"]).needs_attention and count(OrderEmail) == 2


def test_an_expired_event_after_payment_is_ignored_and_a_late_payment_is_flagged(client, make, headers):
    add(client, headers, published(make))
    first = place(client, headers).get_json()
    deliver(client, local_gateway.completed_event(order_row(first["id"])))
    assert deliver(client, local_gateway.expired_event(order_row(first["id"]))).get_json()["outcome"] == "ignored"
    assert order_row(first["id"]).status == "fulfilled"

    add(client, headers, published(make))
    second = place(client, headers).get_json()
    assert deliver(client, local_gateway.expired_event(order_row(second["id"]))).get_json()["outcome"] == "expired"
    assert deliver(client, local_gateway.expired_event(order_row(second["id"]))).get_json()["outcome"] == "ignored"
    late = deliver(client, local_gateway.completed_event(order_row(second["id"])))
    assert late.get_json()["outcome"] == "late_payment"
    order = order_row(second["id"])
    assert order.needs_attention and order.status == "fulfilled"
    assert [change.to_status for change in order.status_changes] == [
        "pending_payment", "expired", "paid", "fulfilled",
    ]


def test_payment_and_fulfilment_write_the_order_and_its_history_row_together(client, make, headers):
    # on PostgreSQL one statement writes both (the UPDATE's RETURNING feeds the history INSERT)
    from tests.order_support import deliver

    add(client, headers, published(make))
    body = place(client, headers).get_json()
    checked_out = order_row(body["id"])
    created_updated_at = checked_out.updated_at
    before = utcnow()
    assert deliver(client, local_gateway.completed_event(checked_out)).get_json()["outcome"] == "paid"
    order = order_row(body["id"])
    after = utcnow()
    assert order.status == "fulfilled" and order.payment_reference == local_gateway.payment_intent_id(order)
    assert before <= order.paid_at <= order.fulfilled_at <= after
    # on PostgreSQL the line is marked delivered by the order's move to fulfilled: the same time
    assert [line.fulfilled_at for line in order.lines] == [order.fulfilled_at]
    assert created_updated_at < order.updated_at <= after
    paid, fulfilled = order.status_changes[1:]
    assert (paid.from_status, paid.to_status, paid.actor_id, paid.note, paid.note_params) == (
        "pending_payment", "paid", None, None, None)
    assert (fulfilled.from_status, fulfilled.to_status, fulfilled.actor_id, fulfilled.note) == (
        "paid", "fulfilled", None, "fulfilled")
    assert before <= paid.created_at <= fulfilled.created_at <= after and paid.created_at.tzinfo is not None


@pytest.mark.parametrize("lines", [1, 2])
def test_an_order_number_already_taken_is_drawn_again(client, make, headers, monkeypatch, lines):
    # one-line orders are inserted with their line and history in one statement on PostgreSQL, others row by row
    import types

    from marketplace.orders import services

    add(client, headers, published(make))
    taken = place(client, headers).get_json()["number"]
    drawn = iter(taken[-6:] + "ZZZZZZ")  # the taken number's characters first, then a free number's
    monkeypatch.setattr(services, "secrets", types.SimpleNamespace(choice=lambda alphabet: next(drawn)))
    for _ in range(lines):
        add(client, headers, published(make))
    answer = place(client, headers)
    assert answer.status_code == 201, answer.get_json()
    order = order_row(answer.get_json()["id"])
    assert order.number == taken[:-6] + "ZZZZZZ"
    assert len(order.lines) == lines and [change.to_status for change in order.status_changes] == ["pending_payment"]
    assert count(Order) == 2 and count(OrderLine) == 1 + lines


def test_an_amount_that_does_not_match_is_not_taken_as_payment(client, make, headers):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    event = local_gateway.completed_event(order_row(body["id"]), amount=1)
    assert deliver(client, event).get_json()["outcome"] == "amount_mismatch"
    order = order_row(body["id"])
    assert order.status == "pending_payment" and order.needs_attention


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "future", "missing"])
def test_a_bad_signature_is_refused_and_changes_nothing(client, make, headers, tamper):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    event = local_gateway.completed_event(order_row(body["id"]))
    now = int(utcnow().timestamp())
    payload, header = local_gateway.signed(
        event, "whsec_wrong" if tamper == "secret" else webhook_secret(),
        now - 301 if tamper == "stale" else now + 301 if tamper == "future" else now,
    )
    if tamper == "body":
        payload = payload.replace(b'"amount_total":1200', b'"amount_total":1')
    headers_sent = {} if tamper == "missing" else {"Stripe-Signature": header}
    response = client.post("/webhooks/stripe", data=payload, headers=headers_sent)
    assert response.status_code == 400
    assert count(PaymentEvent) == 0
    assert order_row(body["id"]).status == "pending_payment"


def test_coupon_discount_is_on_the_order_and_counts_as_a_use(client, make, headers, fan):
    seller = make.streamer()
    listing = published(make, seller)
    coupon = client.post("/api/v1/coupons", headers=bearer_for(make, seller), json={
        "code": "LIVE20", "kind": "percent", "percent_bp": 2000, "max_uses_total": 1,
    })
    assert coupon.status_code == 201, coupon.get_json()
    add(client, headers, listing)
    body = place(client, headers, coupon="live20").get_json()
    assert body["discount"]["amount"] == 240 and body["total"]["amount"] == 960 and body["coupon"] == "LIVE20"
    other = make.user()
    other_headers = bearer_for(make, other)
    add(client, other_headers, listing)
    refused = place(client, other_headers, coupon="LIVE20")
    assert_problem(refused, 409)
    assert count(Order) == 1 and count(CartLine) == 1  # nothing half-written; the cart is kept
    # an order that expires unpaid gives its use back
    deliver(client, local_gateway.expired_event(order_row(body["id"])))
    assert place(client, other_headers, coupon="LIVE20").status_code == 201


def test_refusals_at_checkout(client, make, headers, fan):
    assert_problem(place(client, headers), 409)  # empty cart
    listing = published(make, prices=[{"currency": "CNY", "amount": 1200}])
    add(client, headers, listing)
    assert_problem(place(client, headers, currency="USD"), 422)
    assert_problem(place(client, headers, currency="XYZ"), 422)
    assert_problem(place(client, headers, coupon="NOPE"), 422)
    assert_problem(place(client, headers, return_url="https://evil.example/steal"), 422)
    assert_problem(place(client, headers, return_url="//evil.example"), 422)
    assert_problem(client.post("/api/v1/orders", json={"currency": "CNY", "surprise": 1}, headers=headers), 422)
    assert_problem(client.post("/api/v1/orders", json={"currency": "CNY"}), 401)
    catalog.archive_listing(listing.creator.user, listing)
    db.session.commit()
    assert_problem(place(client, headers), 422)
    assert count(Order) == 0 and count(CartLine) == 1


def test_a_safe_return_url_is_where_the_pay_page_sends_the_buyer(client, make, headers):
    add(client, headers, published(make))
    body = place(client, headers, return_url="/library?from=checkout").get_json()
    paid = client.post(body["payment_url"], data={"action": "pay"})
    assert paid.headers["Location"] == "http://localhost/library?from=checkout"


def test_a_forged_pay_link_is_not_found(client):
    assert client.get("/pay/local/not-a-token").status_code == 404
    assert client.post("/pay/local/not-a-token", data={"action": "pay"}).status_code == 404


def test_who_sees_an_order(client, make, headers, fan):
    seller, other_seller = make.streamer(), make.streamer()
    add(client, headers, published(make, seller, title="Mine"))
    add(client, headers, published(make, other_seller, title="Theirs"))
    body = place(client, headers).get_json()
    as_seller = client.get(f"/api/v1/orders/{body['id']}", headers=bearer_for(make, seller)).get_json()
    assert [line["title"] for line in as_seller["lines"]] == ["Mine"]
    assert as_seller["total"]["amount"] == 1200 and as_seller["payment_url"] is None
    sales = client.get("/api/v1/orders?scope=selling", headers=bearer_for(make, seller)).get_json()["items"]
    assert [order["id"] for order in sales] == [body["id"]]
    assert_problem(client.get(f"/api/v1/orders/{body['id']}", headers=bearer_for(make, make.user())), 404)
    assert_problem(client.get("/api/v1/orders?scope=all", headers=headers), 403)
    assert_problem(client.get("/api/v1/orders?scope=selling", headers=headers), 403)
    everything = client.get("/api/v1/orders?scope=all", headers=bearer_for(make, make.operator())).get_json()["items"]
    assert len(everything[0]["lines"]) == 2
    mine = client.get("/api/v1/orders", headers=headers).get_json()["items"]
    assert [order["number"] for order in mine] == [body["number"]]


def paid_order(client, make, headers, *listings):
    for listing in listings:
        add(client, headers, listing)
    body = place(client, headers).get_json()
    deliver(client, local_gateway.completed_event(order_row(body["id"])))
    return body


def test_refunding_lines_then_the_rest(client, make, headers, monkeypatch):
    revoked = []
    kind = kinds.get("course")
    monkeypatch.setitem(kinds._registry, "course", kind.__class__(**{**kind.__dict__, "revoke": lambda line: revoked.append(line.id)}))
    seller = make.streamer()
    body = paid_order(client, make, headers, published(make, seller), published(make, seller))
    line_ids = [line["id"] for line in body["lines"]]
    seller_headers = bearer_for(make, seller)
    first = client.post(f"/api/v1/orders/{body['id']}/refunds", headers=seller_headers,
                        json={"line_ids": [line_ids[0]], "reason": "Bought twice"})
    assert first.status_code == 201, first.get_json()
    assert first.get_json()["status"] == "partially_refunded"
    assert first.get_json()["refunded"]["amount"] == 1200
    assert revoked == [line_ids[0]]
    again = client.post(f"/api/v1/orders/{body['id']}/refunds", headers=seller_headers,
                        json={"line_ids": [line_ids[0]], "reason": "Again"})
    assert_problem(again, 409)
    rest = client.post(f"/api/v1/orders/{body['id']}/refunds", headers=bearer_for(make, make.operator()),
                       json={"reason": "Closing the order"})
    assert rest.get_json()["status"] == "refunded" and rest.get_json()["refunded"]["amount"] == 2400
    assert revoked == line_ids
    assert sorted(db.session.scalars(select(OrderEmail.key)).all()) == sorted(
        ["confirmation"] + [f"refund:{refund.id}" for refund in db.session.scalars(select(Refund))]
    )


def test_refund_refusals(client, make, headers, fan):
    seller, other_seller = make.streamer(), make.streamer()
    body = paid_order(client, make, headers, published(make, seller), published(make, other_seller))
    line_ids = [line["id"] for line in body["lines"]]
    url = f"/api/v1/orders/{body['id']}/refunds"
    assert_problem(client.post(url, headers=bearer_for(make, seller), json={"line_ids": [line_ids[1]], "reason": "x"}), 403)
    assert_problem(client.post(url, headers=headers, json={"reason": "I want my money"}), 403)  # buyers ask support
    assert_problem(client.post(url, headers=bearer_for(make, make.streamer()), json={"reason": "x"}), 404)
    assert_problem(client.post(url, headers=bearer_for(make, seller), json={"line_ids": [line_ids[0]], "reason": " "}), 422)
    assert_problem(client.post(url, headers=bearer_for(make, seller), json={"line_ids": [999999], "reason": "x"}), 422)
    assert count(Refund) == 0
    add(client, headers, published(make, seller))
    pending = place(client, headers).get_json()
    assert_problem(client.post(f"/api/v1/orders/{pending['id']}/refunds", headers=bearer_for(make, seller),
                               json={"reason": "x"}), 409)
    # a streamer refunding "everything" refunds only their own lines
    whole = client.post(url, headers=bearer_for(make, seller), json={"reason": "Out of stock"})
    assert whole.status_code == 201
    assert db.session.scalars(select(OrderLine.id).where(OrderLine.refunded_at.is_not(None))).all() == [line_ids[0]]


def test_cancelling_an_unpaid_order(client, make, headers):
    add(client, headers, published(make))
    body = place(client, headers).get_json()
    assert_problem(client.post(f"/api/v1/orders/{body['id']}/cancel", headers=bearer_for(make, make.user())), 404)
    cancelled = client.post(f"/api/v1/orders/{body['id']}/cancel", headers=headers)
    assert cancelled.get_json()["status"] == "cancelled"
    assert_problem(client.post(f"/api/v1/orders/{body['id']}/cancel", headers=headers), 409)
    # paying after cancelling is taken (digital goods are still there) and flagged for an operator
    assert deliver(client, local_gateway.completed_event(order_row(body["id"]))).get_json()["outcome"] == "late_payment"


def test_the_sweep_expires_overdue_orders(client, make, headers, app):
    from datetime import timedelta

    from marketplace.orders import tasks

    add(client, headers, published(make))
    body = place(client, headers).get_json()
    order = order_row(body["id"])
    order.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    assert tasks.sweep.apply().result == {"expired": 1, "requeued": 0, "emails": 0}
    assert order_row(body["id"]).status == "expired"


def test_the_sweep_sends_a_confirmation_the_mail_server_missed(client, make, headers, app, monkeypatch):
    from datetime import timedelta

    from marketplace.orders import tasks

    add(client, headers, published(make))
    body = place(client, headers).get_json()
    monkeypatch.setitem(app.config, "ENCORE_SMTP_HOST", "127.0.0.1")
    monkeypatch.setitem(app.config, "ENCORE_SMTP_PORT", 9)  # nothing listens: sending fails
    deliver(client, local_gateway.completed_event(order_row(body["id"])))
    order = order_row(body["id"])
    assert order.status == "fulfilled" and count(OrderEmail) == 0
    order.paid_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    monkeypatch.setitem(app.config, "ENCORE_SMTP_HOST", None)  # the outbox again
    assert tasks.sweep.apply().result == {"expired": 0, "requeued": 0, "emails": 1}
    assert db.session.scalars(select(OrderEmail.key)).all() == ["confirmation"]
    assert tasks.sweep.apply().result["emails"] == 0
