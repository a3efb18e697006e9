"""Shipping pages with the Flask test client on a real database: the streamer's /dashboard/shipping, the profile
select on the merch listing form, the address at checkout on the cart page, and shipping on the order page."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from marketplace.catalog.models import Listing
from marketplace.merch.models import ShippingProfile
from marketplace.orders.models import Order
from tests.order_support import count
from tests.page_support import logged_in, text_of
from tests.shipping_support import ADDRESS, merch, profile, variant_of


@pytest.fixture
def owner(make):
    return make.streamer()


@pytest.fixture
def owner_client(app, make, owner):
    return logged_in(app, make, owner)


@pytest.fixture
def fan_client(app, make):
    return logged_in(app, make, make.user())


def profile_form(**overrides) -> dict:
    data = {"name": "Mainland", "rows": "3",
            "rate-0-countries": "cn, hk", "rate-0-currency": "CNY", "rate-0-amount": "10", "rate-0-free_above": "200",
            "rate-1-countries": "US", "rate-1-currency": "USD", "rate-1-amount": "12.50", "rate-1-free_above": "",
            "rate-2-countries": "", "rate-2-currency": "CNY", "rate-2-amount": "", "rate-2-free_above": ""}
    data.update(overrides)
    return data


# ---------------------------------------------------------------- /dashboard/shipping

def test_a_streamer_creates_and_edits_a_profile_on_the_dashboard(owner_client, owner):
    page = text_of(owner_client.get("/dashboard/shipping"))
    assert 'name="rate-0-countries"' in page and 'action="/dashboard/shipping"' in page
    response = owner_client.post("/dashboard/shipping", data=profile_form())
    assert response.status_code == 302, text_of(response)[:500]
    stored = db.session.scalar(select(ShippingProfile))
    assert stored.name == "Mainland" and stored.creator_id == owner.creator_profile.id
    assert [(r.countries, r.currency, r.amount, r.free_above) for r in stored.rates] == [
        (["CN", "HK"], "CNY", 1000, 20000), (["US"], "USD", 1250, None)]
    listed = text_of(owner_client.get("/dashboard/shipping"))
    assert "Mainland" in listed and f"/dashboard/shipping/{stored.id}" in listed
    edit = text_of(owner_client.get(f"/dashboard/shipping/{stored.id}"))
    assert 'value="CN, HK"' in edit and 'value="10.00"' in edit and 'value="200.00"' in edit
    response = owner_client.post(f"/dashboard/shipping/{stored.id}", data=profile_form(
        name="Only China", **{"rate-0-countries": "CN", "rate-1-countries": "", "rate-1-amount": ""}))
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(ShippingProfile, stored.id).name == "Only China"
    assert [r.countries for r in db.session.get(ShippingProfile, stored.id).rates] == [["CN"]]
    assert owner_client.post(f"/dashboard/shipping/{stored.id}/delete").status_code == 302
    assert count(ShippingProfile) == 0


def test_a_bad_profile_form_comes_back_with_the_fields_marked(owner_client):
    response = owner_client.post("/dashboard/shipping", data=profile_form(
        name="", **{"rate-1-countries": "US, Narnia", "rate-0-amount": "-3", "rate-0-free_above": "abc"}))
    page = text_of(response)
    assert response.status_code == 422
    assert 'id="name-errors"' in page and 'id="rate-1-countries-errors"' in page and 'id="rate-0-free_above-errors"' in page
    assert 'value="US, Narnia"' in page  # what was typed is kept
    assert count(ShippingProfile) == 0
    response = owner_client.post("/dashboard/shipping", data=profile_form(**{"rate-0-amount": "-3"}))
    assert response.status_code == 422 and 'id="rate-0-amount-errors"' in text_of(response)
    assert count(ShippingProfile) == 0


def test_fans_and_other_streamers_are_refused(app, make, owner, fan_client, client):
    theirs = profile(make.streamer())
    assert fan_client.get("/dashboard/shipping").status_code == 403
    assert fan_client.post("/dashboard/shipping", data=profile_form()).status_code == 403
    assert client.get("/dashboard/shipping").status_code == 302  # to the login page
    rival = logged_in(app, make, owner)
    assert rival.get(f"/dashboard/shipping/{theirs.id}").status_code == 404
    assert rival.post(f"/dashboard/shipping/{theirs.id}", data=profile_form()).status_code == 404
    assert rival.post(f"/dashboard/shipping/{theirs.id}/delete").status_code == 404
    db.session.expire_all()
    assert db.session.get(ShippingProfile, theirs.id).name == "Standard" and count(ShippingProfile) == 1


def test_the_page_speaks_chinese(owner_client, owner):
    profile(owner)
    owner_client.post("/language", data={"locale": "zh_CN", "next": "/"})
    response = owner_client.get("/dashboard/shipping")
    assert response.status_code == 200 and "Standard" in text_of(response)


# ---------------------------------------------------------------- the listing form

def test_the_merch_listing_form_chooses_one_of_the_streamers_profiles(make, owner, owner_client):
    mine = profile(owner, name="Parcel post")
    listing = merch(make, owner, None, title="Hoodie")
    page = text_of(owner_client.get(f"/dashboard/listings/{listing.id}/edit"))
    assert 'name="shipping_profile_id"' in page and "Parcel post" in page
    data = {"title": "Hoodie", "slug": listing.slug, "description": "Warm.", "tags": "", "partners": "",
            "prices-0-currency": "CNY", "prices-0-amount": "50", "prices-1-currency": "USD", "prices-1-amount": "8",
            "prices-2-currency": "", "prices-2-amount": "", "shipping_profile_id": str(mine.id)}
    response = owner_client.post(f"/dashboard/listings/{listing.id}/edit", data=data)
    assert response.status_code == 302, text_of(response)[:500]
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).shipping_profile_id == mine.id
    theirs = profile(make.streamer())
    response = owner_client.post(f"/dashboard/listings/{listing.id}/edit", data={**data, "shipping_profile_id": str(theirs.id)})
    assert response.status_code == 422
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).shipping_profile_id == mine.id


def test_a_digital_listings_form_has_no_profile_select(make, owner, owner_client):
    course = make.listing(owner, kind="course")
    assert 'name="shipping_profile_id"' not in text_of(owner_client.get(f"/dashboard/listings/{course.id}/edit"))


# ---------------------------------------------------------------- checkout

def add_to_cart(client, listing, quantity=1):
    data = {"listing_id": listing.id, "quantity": quantity}
    if listing.kind == "merch":  # merch is added with its variant by the listing page's form
        response = client.post("/merch/cart", data={**data, "variant_id": variant_of(listing)})
    else:
        response = client.post("/cart/lines", data=data)
    assert response.status_code in (302, 303), text_of(response)[:300]
    assert "/cart" in response.headers["Location"]


def address_form(**overrides) -> dict:
    data = {f"address-{name}": value for name, value in ADDRESS.items()}
    data.update(overrides)
    return {"currency": "CNY", **data}


def test_the_cart_asks_for_an_address_only_with_merch(make, owner, fan_client):
    course = make.listing(owner, status="published", kind="course")
    add_to_cart(fan_client, course)
    assert 'name="address-line1"' not in text_of(fan_client.get("/cart"))
    add_to_cart(fan_client, merch(make, owner, profile(owner).id))
    page = text_of(fan_client.get("/cart"))
    assert 'name="address-line1"' in page and 'name="address-country"' in page and '<option value="CN"' in page


def test_a_refused_address_comes_back_on_the_cart_page_with_the_fields_marked(make, owner, fan_client):
    add_to_cart(fan_client, merch(make, owner, profile(owner).id, title="Hoodie"))
    response = fan_client.post("/checkout", data=address_form(**{"address-city": "", "address-postal_code": ""}))
    page = text_of(response)
    assert response.status_code == 422
    assert 'id="address-city-errors"' in page and 'id="address-postal_code-errors"' in page
    assert 'value="88 Century Avenue"' in page  # what was typed is kept
    response = fan_client.post("/checkout", data=address_form(**{"address-country": "US"}))
    assert response.status_code == 422 and 'id="address-country-errors"' in text_of(response)
    assert "Hoodie" in text_of(response)
    assert count(Order) == 0


def test_checkout_with_an_address_shows_shipping_on_the_order_page(make, owner, fan_client):
    add_to_cart(fan_client, merch(make, owner, profile(owner).id, amount=5000), quantity=2)
    response = fan_client.post("/checkout", data=address_form(**{"address-phone": "+86 138 0000 0000"}))
    assert response.status_code == 302, text_of(response)[:500]
    order = db.session.scalar(select(Order))
    assert order.shipping_total == 1000 and order.total == 11000
    page = text_of(fan_client.get(f"/orders/{order.number}"))
    assert "order-shipping" in page and "10.00" in page and "110.00" in page
    assert "88 Century Avenue" in page and "+86 138 0000 0000" in page
    # the next checkout fills the address in from this order
    add_to_cart(fan_client, merch(make, owner, profile(owner).id))
    assert 'value="88 Century Avenue"' in text_of(fan_client.get("/cart"))


def test_the_test_pay_page_lists_shipping_and_a_paid_merch_order_does_not_wait_for_delivery(make, owner, fan_client):
    add_to_cart(fan_client, merch(make, owner, profile(owner).id, amount=5000))
    assert fan_client.post("/checkout", data=address_form()).status_code == 302
    order = db.session.scalar(select(Order))
    pay_path = "/pay/" + order.payment_url.split("/pay/", 1)[1]
    pay_page = text_of(fan_client.get(pay_path))
    assert "Shipping" in pay_page and "10.00" in pay_page and "60.00" in pay_page
    response = fan_client.post(pay_path, data={"action": "pay"})
    assert response.status_code in (302, 303)
    page = text_of(fan_client.get(f"/orders/{order.number}?paid=1"))
    # the parcel is the streamer's to send: the page does not keep reloading while it waits
    assert 'http-equiv="refresh"' not in page


def test_a_seller_sees_their_shipping_in_their_total_on_a_shared_order(make, owner, owner_client, fan_client):
    other_seller = make.streamer()
    add_to_cart(fan_client, merch(make, owner, profile(owner).id, amount=5000))
    add_to_cart(fan_client, make.listing(other_seller, status="published", kind="course",
                                         prices=[{"currency": "CNY", "amount": 3000}]))
    assert fan_client.post("/checkout", data=address_form()).status_code == 302
    order = db.session.scalar(select(Order))
    assert order.total == 5000 + 1000 + 3000
    sales = text_of(owner_client.get("/dashboard/orders"))
    # the other seller's course is not theirs to see; their hoodie and its shipping are
    assert "60.00" in sales and "90.00" not in sales
