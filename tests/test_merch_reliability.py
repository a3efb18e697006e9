"""Merch stock under concurrency on PostgreSQL: 200 buyers check out a variant with 10 units at once, twenty
rounds over: every round exactly 10 orders reserve and get paid, the other 190 get a clean 409, and the stock
ends at 0, never below. Two variants bought in opposite orders by many buyers at once never deadlock. An
expired reservation frees its units for the next buyer."""
from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, insert, select, update

from app.extensions import db
from marketplace.cart.models import Cart, CartLine
from marketplace.merch.models import ReservationStatus, StockReservation, Variant
from marketplace.orders import services as orders
from marketplace.orders.models import Order, OrderLine
from marketplace.payments import local_gateway
from tests.api_support import bearer_for
from tests.conftest import ON_POSTGRES
from tests.order_support import deliver, order_row
from tests.stock_support import ADDRESS, merch_listing, stock_of, variant_ids

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not ON_POSTGRES, reason="row locks under concurrency: set ENCORE_TEST_DATABASE_URL to PostgreSQL"),
]

BUYERS = 200
UNITS = 10
ROUNDS = 20
#: requests in flight at once (each thread its own test client, request and database session)
THREADS = 32


def _fill_carts(carts: dict[int, int], lines: list[tuple[int, int]]) -> None:
    """Empty every buyer's cart and put these (listing id, variant id) lines, in this order, in each."""
    db.session.execute(CartLine.__table__.delete())
    rows = []
    for cart_id in carts.values():
        order = list(lines)
        random.shuffle(order)
        rows += [{"cart_id": cart_id, "listing_id": listing_id, "variant_id": variant_id, "quantity": 1}
                 for listing_id, variant_id in order]
    db.session.execute(insert(CartLine.__table__), rows)
    db.session.commit()


def _checkout_all(app, user_ids: list[int]) -> list[tuple[int, str]]:
    """Every buyer checks out at once through the checkout service, each thread with its own request context
    and database session (the API adds only parsing and auth on top; test_api_* cover those)."""
    from app.accounts.models import User
    from app.errors import ServiceError
    from marketplace.orders.checkout import checkout

    def one(user_id):
        with app.test_request_context("/api/v1/orders", method="POST", base_url="http://localhost",
                                      headers={"Accept-Language": "en"}):
            try:
                checkout(db.session.get(User, user_id), "CNY", None, shipping_address=ADDRESS)
                db.session.commit()
                return 201, ""
            except ServiceError as error:
                db.session.rollback()
                return error.status_code, error.message
            finally:
                db.session.remove()

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, user_ids))


@pytest.fixture
def buyers(make):
    """BUYERS fans with a bearer header and a cart each (created once per test)."""
    users = [make.user() for _n in range(BUYERS)]
    db.session.execute(insert(Cart.__table__), [{"user_id": user.id, "currency": None} for user in users])
    db.session.commit()
    carts = dict(db.session.execute(select(Cart.user_id, Cart.id)).all())
    return [user.id for user in users], carts


def test_two_hundred_buyers_racing_for_ten_units_get_ten_orders_twenty_times(app, client, make, buyers):
    user_ids, carts = buyers
    listing = merch_listing(make, make.streamer(), [{"sku": "DROP", "options": {"size": "L"}, "stock": UNITS}],
                            title="Limited hoodie")
    [variant_id] = variant_ids(listing)
    for round_number in range(ROUNDS):
        db.session.execute(update(Variant).where(Variant.id == variant_id).values(stock=UNITS))
        _fill_carts(carts, [(listing.id, variant_id)])

        answers = _checkout_all(app, user_ids)

        assert sorted(status for status, _message in answers) == [201] * UNITS + [409] * (BUYERS - UNITS), (
            round_number, [answer for answer in answers if answer[0] not in (201, 409)][:3])
        assert {message for status, message in answers if status == 409} == {"Limited hoodie — L is sold out."}
        assert stock_of(variant_id) == 0
        held = db.session.scalar(select(func.coalesce(func.sum(StockReservation.quantity), 0)).where(
            StockReservation.variant_id == variant_id, StockReservation.status == ReservationStatus.HELD))
        assert held == UNITS

        pending = db.session.scalars(select(Order.id).where(Order.status == "pending_payment")).all()
        assert len(pending) == UNITS
        for order_id in pending:
            answer = deliver(client, local_gateway.completed_event(order_row(order_id))).get_json()
            assert answer["outcome"] == "paid"
        db.session.expire_all()
        assert db.session.scalar(select(func.count(StockReservation.id)).where(
            StockReservation.status == ReservationStatus.ALLOCATED)) == UNITS * (round_number + 1)
        assert stock_of(variant_id) == 0

    assert db.session.scalar(select(func.count(Order.id)).where(Order.status == "paid")) == UNITS * ROUNDS
    assert db.session.scalar(select(func.sum(OrderLine.quantity))) == UNITS * ROUNDS


def test_buyers_taking_two_variants_in_either_order_at_once_never_deadlock(app, make, buyers):
    user_ids, carts = buyers
    listing = merch_listing(make, make.streamer(), [
        {"sku": "S", "options": {"size": "S"}, "stock": 60}, {"sku": "M", "options": {"size": "M"}, "stock": 60},
    ])
    small, medium = variant_ids(listing)
    _fill_carts(carts, [(listing.id, small), (listing.id, medium)])

    answers = _checkout_all(app, user_ids)

    statuses = sorted(status for status, _message in answers)
    assert statuses == [201] * 60 + [409] * (BUYERS - 60), [answer for answer in answers if answer[0] not in (201, 409)][:3]
    assert (stock_of(small), stock_of(medium)) == (0, 0)
    # an order got both variants or neither
    assert db.session.scalar(select(func.count(StockReservation.id))) == 120


def test_an_expired_reservation_frees_its_units_for_the_next_buyer(client, make):
    listing = merch_listing(make, make.streamer(), [{"sku": "ONE", "options": {"size": "L"}, "stock": 1}], title="Last one")
    [variant_id] = variant_ids(listing)
    first, second = bearer_for(make, make.user()), bearer_for(make, make.user())
    for headers in (first, second):
        answer = client.post("/api/v1/cart/lines", headers=headers,
                             json={"listing_id": listing.id, "variant_id": variant_id})
        assert answer.status_code == 201, answer.get_json()
    placed = client.post("/api/v1/orders", json={"currency": "CNY", "shipping_address": ADDRESS}, headers=first)
    assert placed.status_code == 201
    refused = client.post("/api/v1/orders", json={"currency": "CNY", "shipping_address": ADDRESS}, headers=second)
    assert refused.status_code == 409

    order = order_row(placed.get_json()["id"])
    assert orders.expire_overdue(order.expires_at + timedelta(seconds=1)) == [order.id]
    db.session.commit()
    assert stock_of(variant_id) == 1

    retried = client.post("/api/v1/orders", json={"currency": "CNY", "shipping_address": ADDRESS}, headers=second)
    assert retried.status_code == 201, retried.get_json()
    assert stock_of(variant_id) == 0
    # the first buyer pays late: the unit is gone, so the payment is refunded automatically
    late = deliver(client, local_gateway.completed_event(order_row(order.id))).get_json()
    assert late["outcome"] == "goods_gone"
    assert order_row(order.id).status == "refunded"
    assert stock_of(variant_id) == 0
