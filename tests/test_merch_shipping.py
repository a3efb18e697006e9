"""Shipping rules on a real database: profile validation, the listing's profile, the address, and quotes
(rates per country and currency, free above an amount, one charge per seller, parts that add up)."""
from __future__ import annotations

import pytest
from flask_babel import force_locale

from app.errors import NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from marketplace.catalog import services as catalog
from marketplace.merch import shipping
from marketplace.merch.models import ShippingProfile, ShippingRate
from tests.shipping_support import merch, profile


def errors_of(call, *args) -> dict:
    with pytest.raises(ValidationFailed) as caught:
        call(*args)
    db.session.rollback()
    return caught.value.errors


# ---------------------------------------------------------------- profiles

def test_a_profile_is_stored_with_its_rates_normalised(make):
    owner = make.streamer()
    created = shipping.create_profile(owner, {"name": "  Asia  ", "rates": [
        {"countries": ["cn", " hk "], "currency": "cny", "amount": 1000, "free_above": 20000},
        {"countries": ["CN"], "currency": "USD", "amount": 300},
    ]})
    db.session.commit()
    stored = db.session.get(ShippingProfile, created.id)
    assert stored.name == "Asia" and stored.creator_id == owner.creator_profile.id
    assert [(r.countries, r.currency, r.amount, r.free_above, r.position) for r in stored.rates] == [
        (["CN", "HK"], "CNY", 1000, 20000, 0), (["CN"], "USD", 300, None, 1),
    ]


@pytest.mark.parametrize("data, field", [
    ({"name": "", "rates": [{"countries": ["CN"], "currency": "CNY", "amount": 0}]}, "name"),
    ({"name": "x" * 81, "rates": [{"countries": ["CN"], "currency": "CNY", "amount": 0}]}, "name"),
    ({"name": "A", "rates": []}, "rates"),
    ({"name": "A", "rates": [{"countries": ["XX"], "currency": "CNY", "amount": 0}]}, "rates.0.countries"),
    ({"name": "A", "rates": [{"countries": [], "currency": "CNY", "amount": 0}]}, "rates.0.countries"),
    ({"name": "A", "rates": [{"countries": ["CN"], "currency": "GBP", "amount": 0}]}, "rates.0.currency"),
    ({"name": "A", "rates": [{"countries": ["CN"], "currency": "CNY", "amount": -1}]}, "rates.0.amount"),
    ({"name": "A", "rates": [{"countries": ["CN"], "currency": "CNY", "amount": 1.5}]}, "rates.0.amount"),
    ({"name": "A", "rates": [{"countries": ["CN"], "currency": "CNY", "amount": 1, "free_above": -5}]}, "rates.0.free_above"),
    ({"name": "A", "rates": [{"countries": ["CN"], "currency": "CNY", "amount": 1},
                             {"countries": ["HK", "cn"], "currency": "CNY", "amount": 2}]}, "rates.1.countries"),
])
def test_a_bad_profile_is_refused_naming_the_field_and_nothing_is_stored(make, data, field):
    owner = make.streamer()
    assert field in errors_of(shipping.create_profile, owner, data)
    assert db.session.query(ShippingProfile).count() == 0 and db.session.query(ShippingRate).count() == 0


def test_the_same_country_may_have_a_rate_in_each_currency(make):
    created = profile(make.streamer(), rates=[{"countries": ["CN"], "currency": "CNY", "amount": 1000},
                                              {"countries": ["CN"], "currency": "USD", "amount": 150}])
    assert len(created.rates) == 2


def test_only_streamers_have_profiles_and_only_their_own(make):
    owner, other, fan = make.streamer(), make.streamer(), make.user()
    mine = profile(owner)
    with pytest.raises(PermissionDenied):
        shipping.own_profiles(fan)
    with pytest.raises(PermissionDenied):
        shipping.create_profile(fan, {"name": "A", "rates": []})
    with pytest.raises(NotFound):
        shipping.get_own_profile(other, mine.id)
    with pytest.raises(NotFound):
        shipping.update_profile(other, mine.id, {"name": "Mine now", "rates": [{"countries": ["US"], "currency": "USD", "amount": 1}]})
    with pytest.raises(NotFound):
        shipping.delete_profile(other, mine.id)
    db.session.rollback()
    assert db.session.get(ShippingProfile, mine.id).name == "Standard"


def test_updating_replaces_the_rates_and_deleting_unsets_the_listings(make):
    owner = make.streamer()
    mine = profile(owner)
    listing = merch(make, owner, mine.id)
    shipping.update_profile(owner, mine.id, {"name": "Worldwide", "rates": [{"countries": ["US"], "currency": "USD", "amount": 900}]})
    db.session.commit()
    assert [(r.countries, r.amount) for r in db.session.get(ShippingProfile, mine.id).rates] == [(["US"], 900)]
    assert db.session.query(ShippingRate).count() == 1
    shipping.delete_profile(owner, mine.id)
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(ShippingProfile, mine.id) is None and listing.shipping_profile_id is None


# ---------------------------------------------------------------- a listing's profile

def test_a_merch_listing_takes_a_profile_of_its_own_streamer_only(make):
    owner, other = make.streamer(), make.streamer()
    mine, theirs = profile(owner), profile(other)
    listing = catalog.create_listing(owner, make.listing_data(kind="merch", shipping_profile_id=mine.id))
    db.session.commit()
    assert listing.shipping_profile_id == mine.id
    assert "shipping_profile_id" in errors_of(catalog.update_listing, owner, listing, {"shipping_profile_id": theirs.id})
    assert "shipping_profile_id" in errors_of(catalog.update_listing, owner, listing, {"shipping_profile_id": 99999})
    assert db.session.get(type(listing), listing.id).shipping_profile_id == mine.id
    catalog.update_listing(owner, listing, {"shipping_profile_id": None})
    db.session.commit()
    assert listing.shipping_profile_id is None


def test_a_digital_listing_takes_no_profile(make):
    owner = make.streamer()
    mine = profile(owner)
    errors = errors_of(catalog.create_listing, owner, make.listing_data(kind="course", shipping_profile_id=mine.id))
    assert "shipping_profile_id" in errors


# ---------------------------------------------------------------- the address

def test_an_address_is_trimmed_and_its_country_upper_cased():
    cleaned = shipping.clean_address({"name": " Li  Wei ", "line1": "88 Century Ave", "line2": "", "city": "Shanghai",
                                      "postal_code": "200120", "country": "cn", "phone": None})
    assert cleaned == {"name": "Li Wei", "line1": "88 Century Ave", "city": "Shanghai", "postal_code": "200120", "country": "CN"}


def test_a_bad_address_names_each_field():
    errors = errors_of(shipping.clean_address, {"name": "Li", "line1": "", "postal_code": "1" * 21, "country": "Narnia",
                                                "region": "x" * 121})
    assert set(errors) == {"shipping_address.line1", "shipping_address.city", "shipping_address.postal_code",
                           "shipping_address.country", "shipping_address.region"}
    assert set(errors_of(shipping.clean_address, None)) == {
        f"shipping_address.{name}" for name in ("name", "line1", "city", "postal_code", "country")}


# ---------------------------------------------------------------- quotes

def test_a_quote_charges_the_rate_once_per_seller_and_spreads_it_over_the_lines(make):
    owner = make.streamer()
    mine = profile(owner, rates=[{"countries": ["CN"], "currency": "CNY", "amount": 1000}])
    a, b = merch(make, owner, mine.id), merch(make, owner, mine.id)
    course = make.listing(owner, status="published", kind="course")
    quote = shipping.shipping_for([(a, 3000), (course, 1200), (b, 6000)], "CNY", "CN")
    assert quote.total == 1000 and quote.per_line == [333, 0, 667] and sum(quote.per_line) == quote.total


def test_a_quote_is_free_from_the_rates_amount_after_the_discount(make):
    owner = make.streamer()
    mine = profile(owner)  # 10.00, free from 200.00
    a = merch(make, owner, mine.id)
    assert shipping.shipping_for([(a, 20000)], "CNY", "HK").total == 0
    assert shipping.shipping_for([(a, 19999)], "CNY", "HK").total == 1000


def test_a_seller_with_several_profiles_charges_the_highest_rate_once(make):
    owner = make.streamer()
    cheap = profile(owner, rates=[{"countries": ["CN"], "currency": "CNY", "amount": 500}], name="Small")
    dear = profile(owner, rates=[{"countries": ["CN"], "currency": "CNY", "amount": 1500}], name="Bulky")
    a, b = merch(make, owner, cheap.id), merch(make, owner, dear.id)
    quote = shipping.shipping_for([(a, 1000), (b, 1000)], "CNY", "CN")
    assert quote.total == 1500 and quote.per_line == [750, 750]


def test_two_sellers_each_charge_their_own_rate(make):
    first, second = make.streamer(), make.streamer()
    a = merch(make, first, profile(first).id)
    b = merch(make, second, profile(second, rates=[{"countries": ["CN"], "currency": "CNY", "amount": 800}]).id)
    quote = shipping.shipping_for([(a, 5000), (b, 5000)], "CNY", "CN")
    assert quote.total == 1800 and quote.per_line == [1000, 800]


def test_a_listing_without_profile_or_rate_does_not_ship_there(make):
    owner = make.streamer()
    a = merch(make, owner, profile(owner).id, title="Hoodie")
    b = merch(make, owner, None, title="Mug")
    with force_locale("en"):
        errors = errors_of(shipping.shipping_for, [(a, 100)], "CNY", "US")
        assert errors["shipping_address.country"] == ["Hoodie does not ship to United States."]
        assert "Hoodie does not ship to China." in errors_of(shipping.shipping_for, [(a, 100)], "USD", "CN")["shipping_address.country"]
        assert errors_of(shipping.shipping_for, [(a, 100), (b, 100)], "CNY", "CN")["shipping_address.country"] == [
            "Mug does not ship to China."]
    with force_locale("zh_CN"):
        assert "中国" in errors_of(shipping.shipping_for, [(b, 100)], "CNY", "CN")["shipping_address.country"][0]


def test_digital_lines_cost_nothing_to_ship(make):
    course = make.listing(make.streamer(), status="published", kind="course")
    quote = shipping.shipping_for([(course, 1200)], "CNY", "CN")
    assert quote.total == 0 and quote.per_line == [0]
