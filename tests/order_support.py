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
