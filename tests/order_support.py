"""Helpers shared by the order and payment tests: counting rows, reading an order afresh, filling a cart."""
from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from marketplace.orders.models import Order


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def order_row(order_id) -> Order:
    """The order as the database has it now (what requests and tasks committed)."""
    db.session.expire_all()
    return db.session.get(Order, order_id)


def add(client, headers, listing, quantity=1):
    """Put a listing in the caller's cart through the API."""
    response = client.post("/api/v1/cart/lines", json={"listing_id": listing.id, "quantity": quantity}, headers=headers)
    assert response.status_code == 201, response.get_json()


def deliver(client, event, secret=None, timestamp=None):
    """Post a payment event signed like Stripe's to the webhook."""
    from marketplace.payments import local_gateway, webhook_secret

    payload, header = local_gateway.signed(event, secret or webhook_secret(), timestamp)
    return client.post("/webhooks/stripe", data=payload, headers={"Stripe-Signature": header,
                                                                   "Content-Type": "application/json"})


def buy(client, headers, *listings, currency="CNY") -> dict:
    """Cart, checkout and a paid webhook for these listings, as a fan does; answers the order as created.
    Fulfilment runs in the (eager) Celery task after the webhook's commit."""
    from marketplace.payments import local_gateway

    for listing in listings:
        add(client, headers, listing)
    response = client.post("/api/v1/orders", json={"currency": currency}, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert deliver(client, local_gateway.completed_event(order_row(body["id"]))).status_code == 200
    return body
