"""Helpers shared by the order and payment tests: counting rows, reading an order afresh, filling a cart."""
from __future__ import annotations

import threading
from dataclasses import replace

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


def record_deliveries(monkeypatch, kind_code: str = "course") -> list[int]:
    """The ids of the lines the kind delivered, as they are delivered: through its fulfil hook (a line at a time)
    or its fulfil_lines statement (the lines it is given, inside the order's move to fulfilled on PostgreSQL). Both
    still deliver; requests on other threads record too."""
    from marketplace import kinds

    seen: list[int] = []
    lock = threading.Lock()
    kind = kinds.get(kind_code)

    def hook(line):
        kind.fulfil(line)
        with lock:
            seen.append(line.id)

    def params(line_ids):
        with lock:
            seen.extend(line_ids)
        return kind.fulfil_lines.params(line_ids)

    fulfil_lines = replace(kind.fulfil_lines, params=params) if kind.fulfil_lines is not None else None
    monkeypatch.setitem(kinds._registry, kind_code, replace(kind, fulfil=hook, fulfil_lines=fulfil_lines))
    return seen
