"""Helpers for the shipping tests: a streamer's shipping profile and a published merch listing that ships by it."""
from __future__ import annotations

from app.extensions import db
from marketplace.catalog import services as catalog
from marketplace.merch import shipping
from marketplace.merch.models import Variant

ADDRESS = {"name": "Li Wei", "line1": "88 Century Avenue", "city": "Shanghai", "postal_code": "200120", "country": "CN"}


def profile(owner, rates=None, name="Standard"):
    """A shipping profile of `owner` (committed); by default 10.00 CNY to CN/HK, free from 200.00."""
    created = shipping.create_profile(owner, {"name": name, "rates": rates or [
        {"countries": ["CN", "HK"], "currency": "CNY", "amount": 1000, "free_above": 20000},
    ]})
    db.session.commit()
    return created


def merch(make, owner, profile_id=None, amount=5000, title=None, stock=None):
    """A published merch listing (one variant, so it can be submitted) shipping by `profile_id`."""
    data = make.listing_data(kind="merch", prices=[{"currency": "CNY", "amount": amount}, {"currency": "USD", "amount": 800}])
    if title:
        data["title"] = title
    if profile_id is not None:
        data["shipping_profile_id"] = profile_id
    listing = catalog.create_listing(owner, data)
    db.session.add(Variant(listing_id=listing.id, sku=f"SKU-{listing.id}", options={"size": "M"}, stock=stock,
                           position=0, is_active=True))
    db.session.flush()
    reviewer = make.operator()
    catalog.submit_listing(owner, listing)
    catalog.approve_listing(reviewer, listing)
    catalog.publish_listing(owner, listing)
    db.session.commit()
    return listing


def variant_of(listing) -> int:
    from sqlalchemy import select

    return db.session.scalar(select(Variant.id).where(Variant.listing_id == listing.id))


def add_merch(client, headers, listing, quantity=1):
    response = client.post("/api/v1/cart/lines", json={"listing_id": listing.id, "quantity": quantity,
                                                       "variant_id": variant_of(listing)}, headers=headers)
    assert response.status_code == 201, response.get_json()


def ships_free(listing, countries=("CN",)):
    """Give a merch listing a shipping profile of its streamer that ships to `countries` for free in every
    currency, so tests about something else can buy it (with ADDRESS) at the prices they expect."""
    from app.money import SUPPORTED_CURRENCIES
    from marketplace.merch.models import ShippingProfile, ShippingRate

    free = ShippingProfile(creator_id=listing.creator_id, name="Free shipping", rates=[
        ShippingRate(countries=list(countries), currency=currency, amount=0, position=position)
        for position, currency in enumerate(SUPPORTED_CURRENCIES)])
    db.session.add(free)
    db.session.flush()
    listing.shipping_profile_id = free.id
    db.session.commit()
    return listing
