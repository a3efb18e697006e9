"""Helpers for the merch stock tests: a published merch listing with variants (through the real services), a
shipping profile it ships by, and a checkout through the API."""
from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from marketplace.catalog import services as catalog
from marketplace.merch import services as merch
from marketplace.merch.models import StockReservation, Variant

ADDRESS = {"name": "Li Wei", "line1": "88 Century Avenue", "city": "Shanghai", "postal_code": "200120", "country": "CN"}


def shipping_profile_id(owner, amount: int = 0) -> int | None:
    """A shipping profile of `owner` that ships to CN for `amount` (free by default, so totals equal the items);
    None when the shipping module is not there."""
    try:
        from marketplace.merch import shipping
    except ImportError:  # pragma: no cover
        return None
    created = shipping.create_profile(owner, {"name": "Free", "rates": [
        {"countries": ["CN"], "currency": "CNY", "amount": amount, "free_above": None},
        {"countries": ["CN"], "currency": "USD", "amount": amount, "free_above": None},
    ]})
    db.session.flush()
    return created.id


def merch_listing(make, owner, variants=None, title="Hoodie", prices=None, status="published", shipping=0):
    """A merch listing with these variants (dicts as the API takes them) moved through the real workflow."""
    data = make.listing_data(kind="merch", title=title, prices=prices or [{"currency": "CNY", "amount": 5000}])
    profile = shipping_profile_id(owner, shipping)
    if profile is not None:
        data["shipping_profile_id"] = profile
    listing = catalog.create_listing(owner, data)
    for spec in variants if variants is not None else [{"sku": "H-L", "options": {"size": "L"}, "stock": 10}]:
        merch.create_variant(owner, listing.id, spec)
    if status != "draft":
        reviewer = make.operator()
        catalog.submit_listing(owner, listing)
        catalog.approve_listing(reviewer, listing)
        if status == "published":
            catalog.publish_listing(owner, listing)
    db.session.commit()
    return listing


def variant_ids(listing) -> list[int]:
    return list(db.session.scalars(select(Variant.id).where(Variant.listing_id == listing.id).order_by(Variant.id)))


def stock_of(variant_id: int) -> int | None:
    db.session.expire_all()
    return db.session.get(Variant, variant_id).stock


def reservations(order_id: int) -> list[StockReservation]:
    db.session.expire_all()
    return list(db.session.scalars(select(StockReservation).where(StockReservation.order_id == order_id)
                                   .order_by(StockReservation.id)))


def add_variant(client, headers, listing, variant_id, quantity=1):
    return client.post("/api/v1/cart/lines", json={"listing_id": listing.id, "quantity": quantity,
                                                   "variant_id": variant_id}, headers=headers)


def checkout(client, headers, currency="CNY"):
    return client.post("/api/v1/orders", json={"currency": currency, "shipping_address": ADDRESS}, headers=headers)


def buy_variant(client, headers, listing, variant_id, quantity=1) -> dict:
    """Cart and checkout (not paid); answers the order's JSON."""
    response = add_variant(client, headers, listing, variant_id, quantity)
    assert response.status_code == 201, response.get_json()
    response = checkout(client, headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()
