"""Merch stock through the real checkout and the local payment webhook: checkout takes stock, expiry and
cancelling put it back, payment allocates it, a payment after the release takes it again when it is still
there, and when it is gone the payment is refunded automatically (once) with an email saying why."""
from __future__ import annotations

import email
import email.policy
from datetime import timedelta

import pytest
from flask_babel import force_locale
from sqlalchemy import select

from app.db import utcnow
from app.extensions import db
from marketplace.catalog import services as catalog
from marketplace.merch import services as merch
from marketplace.merch.models import ReservationStatus, StockReservation
from marketplace.orders import services as orders
from marketplace.orders import tasks
from marketplace.orders.models import OrderEmail, OrderLine, Refund
from marketplace.payments import local_gateway
from tests.api_support import assert_problem, bearer_for
from tests.order_support import deliver, order_row
from tests.stock_support import (
    add_variant, buy_variant, checkout, merch_listing, reservations, stock_of, variant_ids,
)


@pytest.fixture
def outbox(app, tmp_path):
    saved = app.config["ENCORE_OUTBOX_PATH"]
    app.config["ENCORE_OUTBOX_PATH"] = str(tmp_path / "outbox")
    yield tmp_path / "outbox"
    app.config["ENCORE_OUTBOX_PATH"] = saved


@pytest.fixture
def seller(make):
    return make.streamer()


@pytest.fixture
def hoodie(make, seller):
    return merch_listing(make, seller, [
        {"sku": "H-L-BLK", "options": {"size": "L", "colour": "black"}, "stock": 3},
        {"sku": "H-M-BLK", "options": {"size": "M", "colour": "black"}, "stock": None,
         "prices": [{"currency": "CNY", "amount": 4500}]},
    ])


def _expire(order_id: int) -> None:
    """Move the clock past the order's window and run the beat sweep (eager Celery in tests)."""
    order = order_row(order_id)
    later = order.expires_at + timedelta(seconds=1)
    assert orders.expire_overdue(later) == [order_id]
    db.session.commit()


def test_checkout_takes_stock_and_holds_it_until_the_window_plus_grace(client, make, hoodie, app):
    large, _medium = variant_ids(hoodie)
    fan = bearer_for(make, make.user())
    body = buy_variant(client, fan, hoodie, large, quantity=2)
    assert stock_of(large) == 1
    [held] = reservations(body["id"])
    order = order_row(body["id"])
    assert held.status == ReservationStatus.HELD and held.quantity == 2 and held.variant_id == large
    assert held.expires_at == order.expires_at + timedelta(minutes=app.config["ENCORE_RESERVATION_GRACE_MINUTES"])
    line = db.session.scalar(select(OrderLine).where(OrderLine.order_id == body["id"]))
    assert line.title == "Hoodie — L / black" and line.variant_id == large and line.unit_price == 5000


def test_the_variants_own_price_is_charged_and_unlimited_stock_stays_unlimited(client, make, hoodie):
    _large, medium = variant_ids(hoodie)
    fan = bearer_for(make, make.user())
    body = buy_variant(client, fan, hoodie, medium, quantity=4)
    assert body["total"]["amount"] == 4 * 4500
    assert stock_of(medium) is None
    assert [r.status for r in reservations(body["id"])] == [ReservationStatus.HELD]


def test_more_than_is_left_is_a_clear_409_and_nothing_is_written(client, make, hoodie):
    large, _medium = variant_ids(hoodie)
    first, second = bearer_for(make, make.user()), bearer_for(make, make.user())
    assert add_variant(client, second, hoodie, large, 3).status_code == 201
    buy_variant(client, first, hoodie, large, quantity=2)
    refused = checkout(client, second)
    problem = assert_problem(refused, 409)
    assert problem["detail"] == "Only 1 left of Hoodie — L / black."
    assert stock_of(large) == 1
    assert len(db.session.scalars(select(StockReservation)).all()) == 1
    # the cart is kept, so the fan can lower the quantity and try again
    assert client.get("/api/v1/cart", headers=second).get_json()["lines"][0]["quantity"] == 3


def test_expiry_puts_the_units_back_once(client, make, hoodie):
    large, _medium = variant_ids(hoodie)
    fan = bearer_for(make, make.user())
    body = buy_variant(client, fan, hoodie, large, quantity=3)
    assert stock_of(large) == 0
    _expire(body["id"])
    assert stock_of(large) == 3
    [released] = reservations(body["id"])
    assert released.status == ReservationStatus.RELEASED and released.released_at is not None
    # releasing again (a replayed expiry, a cancel racing the sweep) changes nothing
    order = orders.lock_order(body["id"])
    merch.release(order.lines[0])
    orders.mark_expired(order, utcnow())
    db.session.commit()
    assert stock_of(large) == 3


def test_cancelling_puts_the_units_back(client, make, hoodie):
    large, _medium = variant_ids(hoodie)
    fan = bearer_for(make, make.user())
    body = buy_variant(client, fan, hoodie, large, quantity=2)
    response = client.post(f"/api/v1/orders/{body['id']}/cancel", headers=fan)
    assert response.status_code == 200, response.get_json()
    assert stock_of(large) == 3
    assert reservations(body["id"])[0].status == ReservationStatus.RELEASED


def test_payment_allocates_the_reservation_and_a_replay_changes_nothing(client, make, hoodie):
    large, _medium = variant_ids(hoodie)
    fan = bearer_for(make, make.user())
    body = buy_variant(client, fan, hoodie, large, quantity=2)
    event = local_gateway.completed_event(order_row(body["id"]))
    assert deliver(client, event).get_json()["outcome"] == "paid"
    [allocated] = reservations(body["id"])
    assert allocated.status == ReservationStatus.ALLOCATED and allocated.allocated_at is not None
    assert stock_of(large) == 1
    assert deliver(client, event).get_json()["outcome"] == "duplicate"
    assert stock_of(large) == 1
    # a paid order never gives its units back, even when the sweep runs long after
    tasks.sweep.delay()
    assert stock_of(large) == 1 and reservations(body["id"])[0].status == ReservationStatus.ALLOCATED


def test_a_refund_before_shipping_puts_the_units_back_and_after_shipping_does_not(client, make, seller, hoodie):
    large, _medium = variant_ids(hoodie)
    seller_headers = bearer_for(make, seller)
    fan = bearer_for(make, make.user())
    unshipped = buy_variant(client, fan, hoodie, large, quantity=2)
    assert deliver(client, local_gateway.completed_event(order_row(unshipped["id"]))).status_code == 200
    shipped = buy_variant(client, fan, hoodie, large, quantity=1)
    assert deliver(client, local_gateway.completed_event(order_row(shipped["id"]))).status_code == 200
    assert stock_of(large) == 0
    [line] = order_row(shipped["id"]).lines
    assert client.post("/api/v1/fulfilment/shipments", headers=seller_headers,
                       json={"line_ids": [line.id], "carrier": "SF", "tracking_number": "SF1"}).status_code == 201

    for body in (unshipped, shipped):
        response = client.post(f"/api/v1/orders/{body['id']}/refunds", json={"reason": "changed my mind"},
                               headers=seller_headers)
        assert response.status_code == 201, response.get_json()
    # the two hoodies never sent are on sale again; the one in the post is not
    assert stock_of(large) == 2
    assert reservations(unshipped["id"])[0].status == ReservationStatus.RELEASED
    assert reservations(shipped["id"])[0].status == ReservationStatus.ALLOCATED


def test_a_late_payment_takes_the_units_again_when_they_are_still_there(client, make, hoodie):
    large, _medium = variant_ids(hoodie)
    fan = bearer_for(make, make.user())
    body = buy_variant(client, fan, hoodie, large, quantity=2)
    _expire(body["id"])
    assert stock_of(large) == 3
    answer = deliver(client, local_gateway.completed_event(order_row(body["id"]))).get_json()
    assert answer["outcome"] == "late_payment"
    assert stock_of(large) == 1
    assert reservations(body["id"])[0].status == ReservationStatus.ALLOCATED
    assert order_row(body["id"]).status == "paid"


def test_a_late_payment_for_sold_out_goods_is_refunded_automatically_once_with_an_email(client, make, hoodie, outbox):
    large, _medium = variant_ids(hoodie)
    late_fan = make.user(email="late@example.com", display_name="Late")
    late = bearer_for(make, late_fan)
    body = buy_variant(client, late, hoodie, large, quantity=2)
    _expire(body["id"])
    # someone else buys the units meanwhile
    buy_variant(client, bearer_for(make, make.user()), hoodie, large, quantity=3)
    assert stock_of(large) == 0

    event = local_gateway.completed_event(order_row(body["id"]))
    assert deliver(client, event).get_json()["outcome"] == "goods_gone"

    order = order_row(body["id"])
    assert order.status == "refunded" and order.refunded_amount == order.total and order.paid_at is not None
    assert not order.needs_attention
    [refund] = db.session.scalars(select(Refund).where(Refund.order_id == order.id)).all()
    assert refund.amount == order.total and refund.reason == orders.SOLD_OUT_REASON
    assert refund.gateway_reference == f"re_local_{refund.id}"
    assert stock_of(large) == 0  # nothing was taken from the other buyer
    assert reservations(body["id"])[0].status == ReservationStatus.RELEASED
    history = [change.note for change in order.status_changes]
    assert history[-2:] == [orders.HistoryNote.GOODS_GONE, orders.HistoryNote.SOLD_OUT_REFUND]
    keys = set(db.session.scalars(select(OrderEmail.key).where(OrderEmail.order_id == order.id)))
    assert keys == {f"refund:{refund.id}"}
    [mail] = list(outbox.iterdir())
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert message["To"] == "late@example.com"
    assert "they sold out in the meantime, so we gave your money back in full" in message.get_content()
    # the ledger took the sale and gave it all back: the sale and its refund balance out
    from marketplace.royalties import posting

    assert posting.refunded_by_line(order.id) == {line.id: line.total for line in order.lines}

    # the event again, the task again, the sweep: nothing is refunded twice
    assert deliver(client, event).get_json()["outcome"] == "duplicate"
    assert deliver(client, {**event, "id": event["id"] + "-again"}).get_json()["outcome"] == "already_paid"
    assert tasks.refund_sold_out.apply((order.id,)).result is False
    tasks.sweep.delay()
    assert len(db.session.scalars(select(Refund)).all()) == 1
    assert len(list(outbox.iterdir())) == 1


def test_an_order_partly_sold_out_gives_back_what_the_other_lines_took(client, make, seller):
    listing = merch_listing(make, seller, [
        {"sku": "A", "options": {"size": "S"}, "stock": 1}, {"sku": "B", "options": {"size": "XL"}, "stock": 1},
    ])
    small, extra_large = variant_ids(listing)
    fan = bearer_for(make, make.user())
    assert add_variant(client, fan, listing, small).status_code == 201
    body = buy_variant(client, fan, listing, extra_large)
    _expire(body["id"])
    buy_variant(client, bearer_for(make, make.user()), listing, extra_large)
    assert (stock_of(small), stock_of(extra_large)) == (1, 0)
    assert deliver(client, local_gateway.completed_event(order_row(body["id"]))).get_json()["outcome"] == "goods_gone"
    assert (stock_of(small), stock_of(extra_large)) == (1, 0)  # the small one was not kept for a refunded order
    assert order_row(body["id"]).status == "refunded"


def test_the_sweep_releases_a_reservation_left_held_past_its_time(client, make, hoodie):
    large, _medium = variant_ids(hoodie)
    body = buy_variant(client, bearer_for(make, make.user()), hoodie, large, quantity=3)
    reservation = reservations(body["id"])[0]
    reservation.expires_at = utcnow() - timedelta(minutes=1)  # as if the order had been stuck pending
    db.session.commit()
    assert merch.release_overdue_reservations(utcnow()) == 1
    db.session.commit()
    assert stock_of(large) == 3
    assert merch.release_overdue_reservations(utcnow()) == 0
    # the order is still pending: paying it now takes the units again
    assert deliver(client, local_gateway.completed_event(order_row(body["id"]))).get_json()["outcome"] == "paid"
    assert stock_of(large) == 0


def test_a_merch_listing_without_variants_sells_without_stock(client, make, seller):
    listing = merch_listing(make, seller, variants=[], title="Poster")
    fan = bearer_for(make, make.user())
    response = client.post("/api/v1/cart/lines", json={"listing_id": listing.id, "quantity": 2}, headers=fan)
    assert response.status_code == 201
    response = checkout(client, fan)
    assert response.status_code == 201, response.get_json()
    assert reservations(response.get_json()["id"]) == []


def test_a_listing_needs_an_active_variant_to_go_to_review(make, seller):
    listing = merch_listing(make, seller, variants=[], status="draft")
    with force_locale("en"):
        assert merch.submit_problems(listing) == [
            "Add at least one variant (a size or colour with its stock) before submitting."]
    variant = merch.create_variant(seller, listing.id, {"sku": "X", "options": {"size": "S"}, "stock": 0})
    assert merch.submit_problems(listing) == []
    merch.update_variant(seller, variant.id, {"is_active": False})
    assert merch.submit_problems(listing)
    assert merch.submit_problems(make.listing(seller)) == []  # not merch


def test_two_lines_of_one_order_lock_their_variants_in_id_order(client, make, seller):
    listing = merch_listing(make, seller, [
        {"sku": "A", "options": {"size": "S"}, "stock": 5}, {"sku": "B", "options": {"size": "M"}, "stock": 5},
    ])
    small, medium = variant_ids(listing)
    fan = bearer_for(make, make.user())
    assert add_variant(client, fan, listing, medium, 2).status_code == 201
    body = buy_variant(client, fan, listing, small, 1)
    assert (stock_of(small), stock_of(medium)) == (4, 3)
    assert sorted(r.variant_id for r in reservations(body["id"])) == [small, medium]


def test_a_retired_variant_in_a_cart_cannot_be_checked_out(client, make, seller, hoodie):
    large, _medium = variant_ids(hoodie)
    fan = bearer_for(make, make.user())
    assert add_variant(client, fan, hoodie, large).status_code == 201
    merch.update_variant(seller, large, {"is_active": False})
    db.session.commit()
    cart = client.get("/api/v1/cart", headers=fan).get_json()
    assert cart["problems"] == ["unavailable"] and not cart["can_checkout"]
    assert_problem(checkout(client, fan), 422)
    assert stock_of(large) == 3


def test_submit_through_the_catalog_still_works_for_a_listing_with_variants(make, seller):
    listing = merch_listing(make, seller, status="draft")
    catalog.submit_listing(seller, listing)
    assert listing.status == "submitted"


def test_the_automatic_refund_gives_back_the_shipping_too(client, make, seller):
    listing = merch_listing(make, seller, [{"sku": "T", "options": {"size": "L"}, "stock": 1}], title="Tee", shipping=1000)
    [variant] = variant_ids(listing)
    body = buy_variant(client, bearer_for(make, make.user()), listing, variant)
    assert body["total"]["amount"] == 5000 + 1000
    _expire(body["id"])
    buy_variant(client, bearer_for(make, make.user()), listing, variant)
    assert deliver(client, local_gateway.completed_event(order_row(body["id"]))).get_json()["outcome"] == "goods_gone"
    order = order_row(body["id"])
    assert order.status == "refunded" and order.refunded_amount == order.total == 6000
