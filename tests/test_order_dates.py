"""An order's dates are the moments things happened, as the services are told them: the order placed at the checkout's
time (its number and payment window start from it), each history row at its change's time. The demo's history of
sales, bought weeks back, shows on the fan's order list as it happened, newest first."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from app.extensions import db
from marketplace.cart import services as cart_services
from marketplace.merch import fulfilment
from marketplace.orders import services as orders
from marketplace.orders.models import Order, OrderStatusChange
from tests.api_support import bearer_for
from tests.order_support import order_row
from tests.shipping_support import ADDRESS
from tests.stock_support import merch_listing, variant_ids

PLACED = datetime(2026, 10, 3, 9, 30, tzinfo=timezone.utc)
PAID = PLACED + timedelta(minutes=4)
FULFILLED = PLACED + timedelta(minutes=5)
SHIPPED = PLACED + timedelta(days=2)


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC datetimes, PostgreSQL aware ones."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _history(order_id: int) -> list[tuple[str, str | None, datetime]]:
    db.session.expire_all()
    rows = db.session.scalars(select(OrderStatusChange).where(OrderStatusChange.order_id == order_id)
                              .order_by(OrderStatusChange.id))
    return [(row.to_status, row.note, _aware(row.created_at)) for row in rows]


def _place(fan, listing, variant_id=None) -> Order:
    cart_services.add_line(cart_services.user_cart(fan), listing.id, variant_id=variant_id)
    order = orders.place_order(fan, "CNY", None, PLACED, "local", timedelta(hours=1), shipping_address=ADDRESS)
    order.payment_reference = f"pi_local_{order.number}"
    db.session.commit()
    return order


def _pay(order_id: int) -> None:
    order = orders.lock_order(order_id)
    assert orders.mark_paid(order, order.payment_reference, order.total, "CNY", PAID).outcome == "paid"
    db.session.commit()


def test_a_digital_order_is_dated_when_placed_paid_and_fulfilled(make):
    fan = make.user()
    order = _place(fan, make.listing(make.streamer(), status="published", kind="course"))
    _pay(order.id)
    orders.fulfil_order(order.id, FULFILLED)
    db.session.commit()

    stored = order_row(order.id)
    assert _aware(stored.created_at) == PLACED
    assert _aware(stored.expires_at) == PLACED + timedelta(hours=1)
    assert stored.number.startswith("EN-261003-")
    assert _aware(stored.paid_at) == PAID and _aware(stored.fulfilled_at) == FULFILLED
    assert _history(order.id) == [("pending_payment", "checkout", PLACED), ("paid", None, PAID),
                                  ("fulfilled", "fulfilled", FULFILLED)]


def test_a_payment_of_the_wrong_amount_is_noted_when_it_arrived(make):
    order = _place(make.user(), make.listing(make.streamer(), status="published", kind="course"))
    locked = orders.lock_order(order.id)
    assert orders.mark_paid(locked, locked.payment_reference, locked.total - 1, "CNY", PAID).outcome == "amount_mismatch"
    db.session.commit()

    assert _history(order.id) == [("pending_payment", "checkout", PLACED),
                                  ("pending_payment", "amount_mismatch", PAID)]


def test_the_library_says_a_download_was_bought_when_it_was_paid(app, make):
    fan = make.user()
    order = _place(fan, make.listing(make.streamer(), status="published", kind="course", title="Night lights"))
    _pay(order.id)
    orders.fulfil_order(order.id, FULFILLED + timedelta(days=3))  # a late delivery: the purchase was still on the 3rd
    db.session.commit()
    client = app.test_client()
    client.post("/login", data={"email": fan.email, "password": make.PASSWORD})

    page = client.get("/library", headers={"Accept-Language": "en"}).get_data(as_text=True)

    assert "Night lights" in page
    assert re.search(r'class="library-bought">Bought Oct 3, 2026<', page), page


def test_a_parcel_is_dated_when_its_streamer_shipped_it(make):
    fan, streamer = make.user(), make.streamer()
    listing = merch_listing(make, streamer)
    order = _place(fan, listing, variant_ids(listing)[0])
    _pay(order.id)
    orders.fulfil_order(order.id, FULFILLED)  # merch waits for its parcel
    line_id = order_row(order.id).lines[0].id
    fulfilment.mark_shipped(streamer, [line_id], "SF Express", "SF123456", SHIPPED)
    db.session.commit()

    assert _history(order.id)[1:] == [("paid", None, PAID), ("paid", "shipped", SHIPPED),
                                      ("fulfilled", "fulfilled", SHIPPED)]


def test_checkout_through_the_api_is_dated_now(client, make):
    fan = make.user()
    headers = bearer_for(make, fan)
    listing = make.listing(make.streamer(), status="published", kind="course")
    client.post("/api/v1/cart/lines", json={"listing_id": listing.id}, headers=headers)
    before = datetime.now(timezone.utc)
    body = client.post("/api/v1/orders", json={"currency": "CNY"}, headers=headers).get_json()
    after = datetime.now(timezone.utc)

    placed = _aware(order_row(body["id"]).created_at)
    assert before - timedelta(seconds=1) <= placed <= after
    assert body["history"][0]["note"] == "checkout"


def test_the_demo_fans_orders_are_listed_newest_first_with_the_dates_they_were_bought(app, runner):
    assert runner.invoke(args=["seed-demo"]).exit_code == 0
    client = app.test_client()
    client.post("/login", data={"email": "fan@demo.encore.example", "password": "encore-demo"})

    page = client.get("/orders", headers={"Accept-Language": "en"}).get_data(as_text=True)

    listed = [datetime.fromisoformat(moment) for moment in re.findall(r'<time datetime="([^"]+)"', page)]
    assert len(listed) >= 10
    assert listed == sorted(listed, reverse=True)
    assert listed[0] - listed[-1] > timedelta(days=60)  # the history reaches weeks back
    numbers = re.findall(r"<tr id=\"order-EN-(\d{6})-", page)
    assert numbers == [f"{moment:%y%m%d}" for moment in listed]  # each number carries its order's date
