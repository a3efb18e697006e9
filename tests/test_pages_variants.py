"""Merch variant pages: the chooser on a listing's public page (in stock / out of stock, add the chosen one to the
cart, signed in or not) and the streamer's variant page (add, change stock, price and status; refusals)."""
from __future__ import annotations

import re

import pytest

from app.extensions import db
from marketplace.cart.models import CartLine
from tests.page_support import logged_in, text_of
from tests.stock_support import merch_listing, stock_of, variant_ids


@pytest.fixture
def seller(make):
    return make.streamer()


@pytest.fixture
def hoodie(make, seller):
    return merch_listing(make, seller, [
        {"sku": "H-L", "options": {"size": "L"}, "stock": 2, "prices": [{"currency": "CNY", "amount": 5900}]},
        {"sku": "H-M", "options": {"size": "M"}, "stock": 0},
    ])


def test_the_listing_page_shows_the_variants_and_only_in_stock_ones_can_be_chosen(client, hoodie):
    page = text_of(client.get(f"/listings/{hoodie.slug}"))
    large, medium = variant_ids(hoodie)
    assert "Choose a variant" in page
    assert re.search(rf'value="{large}"\s*required>', page)
    assert re.search(rf'value="{medium}"\s*disabled>', page)
    assert "In stock" in page and "Out of stock" in page and "59.00" in page
    # the plain add-to-cart form (listing id only) steps aside for the chooser
    assert 'action="/cart/lines"' not in page


def test_an_anonymous_fan_adds_the_chosen_variant_to_the_session_cart(client, hoodie):
    large, medium = variant_ids(hoodie)
    response = client.post("/merch/cart", data={"listing_id": hoodie.id, "variant_id": large, "quantity": 2})
    assert response.status_code == 303 and response.headers["Location"].endswith("/cart")
    cart = text_of(client.get("/cart"))
    assert "Hoodie — L" in cart and "118.00" in cart
    refused = client.post("/merch/cart", data={"listing_id": hoodie.id, "variant_id": medium}, follow_redirects=True)
    assert "Hoodie — M is sold out." in text_of(refused)
    missing = client.post("/merch/cart", data={"listing_id": hoodie.id}, follow_redirects=True)
    assert "Choose a size or colour first." in text_of(missing)
    too_many = client.post("/merch/cart", data={"listing_id": hoodie.id, "variant_id": large, "quantity": 1},
                           follow_redirects=True)
    assert "Only 2 left of Hoodie — L." in text_of(too_many)


def test_a_signed_in_fan_adds_a_variant_and_the_cart_names_it(app, make, hoodie):
    fan = make.user()
    client = logged_in(app, make, fan)
    large, _medium = variant_ids(hoodie)
    assert client.post("/merch/cart", data={"listing_id": hoodie.id, "variant_id": large}).status_code == 303
    db.session.expire_all()
    [line] = db.session.query(CartLine).all()
    assert line.variant_id == large and line.quantity == 1
    assert "Hoodie — L" in text_of(client.get("/cart"))


def test_the_streamer_manages_variants(app, make, seller, hoodie):
    client = logged_in(app, make, seller)
    page = client.get(f"/dashboard/listings/{hoodie.id}/variants")
    assert page.status_code == 200
    assert "H-L" in text_of(page) and "H-M" in text_of(page)
    dashboard = text_of(client.get("/dashboard"))
    assert f"/dashboard/listings/{hoodie.id}/variants" in dashboard

    added = client.post(f"/dashboard/listings/{hoodie.id}/variants", data={
        "sku": "H-XL", "option_name": "size", "option_value": "XL", "stock": "5", "price_CNY": "65.50"})
    assert added.status_code == 303
    xl = variant_ids(hoodie)[-1]
    assert stock_of(xl) == 5

    large, medium = variant_ids(hoodie)[:2]
    changed = client.post(f"/dashboard/variants/{medium}", data={"stock": "7", "price_CNY": "", "is_active": "1"})
    assert changed.status_code == 303
    assert stock_of(medium) == 7
    unlimited = client.post(f"/dashboard/variants/{large}", data={"stock": "", "unlimited": "1"})
    assert unlimited.status_code == 303
    assert stock_of(large) is None
    page = text_of(client.get(f"/dashboard/listings/{hoodie.id}/variants"))
    assert "Retired" in page  # no is_active box ticked: the large one is off sale now


def test_bad_input_on_the_variant_page_shows_form_errors_and_keeps_nothing(app, make, seller, hoodie):
    client = logged_in(app, make, seller)
    before = variant_ids(hoodie)
    negative = client.post(f"/dashboard/listings/{hoodie.id}/variants", data={
        "sku": "H-S", "option_name": "size", "option_value": "S", "stock": "-1"})
    assert negative.status_code == 422 and "Give a whole number from 0 to" in text_of(negative)
    wrong_option = client.post(f"/dashboard/listings/{hoodie.id}/variants", data={
        "sku": "H-S", "option_name": "colour", "option_value": "red", "stock": "1"})
    assert wrong_option.status_code == 422 and "use the options: size" in text_of(wrong_option)
    bad_price = client.post(f"/dashboard/listings/{hoodie.id}/variants", data={
        "sku": "H-S", "option_name": "size", "option_value": "S", "stock": "1", "price_CNY": "12.345"})
    assert bad_price.status_code == 422 and "Give a price like 12.50." in text_of(bad_price)
    not_a_number = client.post(f"/dashboard/variants/{before[0]}", data={"stock": "lots", "is_active": "1"})
    assert not_a_number.status_code == 422
    assert variant_ids(hoodie) == before and stock_of(before[0]) == 2


def test_others_may_not_manage_variants(app, make, client, hoodie):
    large, _medium = variant_ids(hoodie)
    assert client.get(f"/dashboard/listings/{hoodie.id}/variants").status_code == 302  # to the login page
    other = logged_in(app, make, make.streamer())
    assert other.get(f"/dashboard/listings/{hoodie.id}/variants").status_code == 403
    assert other.post(f"/dashboard/variants/{large}", data={"stock": "99", "is_active": "1"}).status_code == 403
    assert other.post(f"/dashboard/listings/{hoodie.id}/variants", data={"sku": "Z", "stock": "1"}).status_code == 403
    assert other.get("/dashboard/listings/999999/variants").status_code == 404
    assert stock_of(large) == 2
    operator = logged_in(app, make, make.operator())
    assert operator.get(f"/dashboard/listings/{hoodie.id}/variants").status_code == 200


def test_signing_in_merges_the_session_cart_capped_at_what_is_left(app, make, seller, hoodie):
    from marketplace.merch import services as merch

    fan = make.user()
    client = app.test_client()
    large, _medium = variant_ids(hoodie)
    assert client.post("/merch/cart", data={"listing_id": hoodie.id, "variant_id": large, "quantity": 2}).status_code == 303
    merch.update_variant(seller, large, {"stock": 1})
    db.session.commit()
    assert make.login(client, fan.email).status_code == 302
    db.session.expire_all()
    [line] = db.session.query(CartLine).all()
    assert (line.variant_id, line.quantity) == (large, 1)


@pytest.mark.browser
def test_the_variant_chooser_and_the_variant_page_fit_a_phone_and_add_to_the_cart(app, make, seller, hoodie, phone,
                                                                                   live_server, screenshots):
    from tests.browser_support import horizontal_overflow, overflowing_elements

    slug, listing_id, email = hoodie.slug, hoodie.id, seller.email
    db.session.rollback()  # no read transaction of this test may hold SQLite's lock while the server writes
    phone.goto(f"{live_server}/listings/{slug}")
    phone.screenshot(path=str(screenshots / "variant-chooser.png"), full_page=True)
    assert horizontal_overflow(phone) == 0, overflowing_elements(phone)
    assert phone.locator(".variant-choice.sold-out input").is_disabled()
    phone.locator(".variant-choice:not(.sold-out)").first.click()
    with phone.expect_navigation():
        phone.locator(".variant-form button[type=submit]").click()
    assert "Hoodie — L" in phone.locator("main").inner_text()

    phone.goto(f"{live_server}/login")
    phone.fill("input[name=email]", email)
    phone.fill("input[name=password]", make.PASSWORD)
    with phone.expect_navigation():
        phone.locator("main form button[type=submit]").first.click()
    phone.goto(f"{live_server}/dashboard/listings/{listing_id}/variants")
    phone.screenshot(path=str(screenshots / "variant-page.png"), full_page=True)
    assert horizontal_overflow(phone) == 0, overflowing_elements(phone)
