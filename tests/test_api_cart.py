"""The cart API: the caller's cart with current prices, adding, changing and removing lines, the currency,
and every refusal (anonymous callers, unknown or unpublished listings, bad quantities and currencies, other carts)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from marketplace.cart.models import CartLine
from marketplace.catalog import services as catalog
from tests.api_support import assert_problem, bearer_for

PRICES = [{"currency": "CNY", "amount": 1200}, {"currency": "USD", "amount": 199}]


def published(make, owner=None, kind="course", prices=PRICES):
    return make.listing(owner or make.streamer(), status="published", kind=kind, prices=prices)


def line_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CartLine))


@pytest.fixture
def fan(make):
    return make.user()


@pytest.fixture
def headers(make, fan):
    return bearer_for(make, fan)


def test_an_empty_cart(client, headers):
    body = client.get("/api/v1/cart", headers=headers).get_json()
    assert body == {
        "currency": "CNY", "currencies": ["CNY", "USD", "EUR", "HKD", "JPY"], "lines": [],
        "subtotal": {"currency": "CNY", "amount": 0}, "can_checkout": False, "problems": ["empty"],
    }
    assert line_count() == 0


def test_add_change_and_remove_lines(client, make, headers):
    merch = published(make, kind="merch")
    response = client.post("/api/v1/cart/lines", json={"listing_id": merch.id, "quantity": 2}, headers=headers)
    assert response.status_code == 201
    body = response.get_json()
    line = body["lines"][0]
    assert line == {
        "id": line["id"],
        "listing": {"id": merch.id, "slug": merch.slug, "title": merch.title, "kind": "merch"},
        "variant_id": None, "quantity": 2,
        "unit_price": {"currency": "CNY", "amount": 1200}, "line_total": {"currency": "CNY", "amount": 2400},
        "available": True, "problems": [],
    }
    assert body["subtotal"] == {"currency": "CNY", "amount": 2400} and body["can_checkout"] is True
    assert body["currencies"] == ["CNY", "USD"]

    response = client.patch(f"/api/v1/cart/lines/{line['id']}", json={"quantity": 5}, headers=headers)
    assert response.status_code == 200 and response.get_json()["subtotal"]["amount"] == 6000
    response = client.delete(f"/api/v1/cart/lines/{line['id']}", headers=headers)
    assert response.status_code == 204 and line_count() == 0


def test_adding_a_digital_listing_twice_keeps_one_line_of_one(client, make, headers):
    course = published(make)
    client.post("/api/v1/cart/lines", json={"listing_id": course.id, "quantity": 4}, headers=headers)
    body = client.post("/api/v1/cart/lines", json={"listing_id": course.id}, headers=headers).get_json()
    assert [line["quantity"] for line in body["lines"]] == [1]
    response = client.patch(f"/api/v1/cart/lines/{body['lines'][0]['id']}", json={"quantity": 2}, headers=headers)
    assert "quantity" in assert_problem(response, 422)["errors"]


def test_currency_choice_and_a_listing_without_it_is_flagged(client, make, headers):
    client.post("/api/v1/cart/lines", json={"listing_id": published(make).id}, headers=headers)
    body = client.put("/api/v1/cart/currency", json={"currency": "USD"}, headers=headers).get_json()
    assert body["currency"] == "USD" and body["subtotal"] == {"currency": "USD", "amount": 199}
    cny_only = published(make, kind="studio_setup", prices=[{"currency": "CNY", "amount": 5000}])
    body = client.post("/api/v1/cart/lines", json={"listing_id": cny_only.id}, headers=headers).get_json()
    flagged = next(line for line in body["lines"] if line["listing"]["id"] == cny_only.id)
    assert flagged["problems"] == ["no_price"] and flagged["unit_price"] is None and flagged["available"] is True
    assert body["can_checkout"] is False and body["currencies"] == ["CNY"]


def test_archived_listing_is_flagged_and_checkout_refused(client, make, headers):
    owner = make.streamer()
    listing = published(make, owner=owner)
    client.post("/api/v1/cart/lines", json={"listing_id": listing.id}, headers=headers)
    catalog.archive_listing(owner, listing)
    db.session.commit()
    body = client.get("/api/v1/cart", headers=headers).get_json()
    assert body["lines"][0]["available"] is False and body["lines"][0]["problems"] == ["unavailable"]
    assert body["can_checkout"] is False and body["problems"] == ["unavailable"]
    assert body["subtotal"]["amount"] == 0


def test_prices_follow_the_listings_current_price(client, make, headers):
    owner = make.streamer()
    listing = published(make, owner=owner, kind="merch")
    client.post("/api/v1/cart/lines", json={"listing_id": listing.id, "quantity": 3}, headers=headers)
    catalog.update_listing(owner, listing, {"prices": [{"currency": "CNY", "amount": 999}]})
    db.session.commit()
    body = client.get("/api/v1/cart", headers=headers).get_json()
    assert body["lines"][0]["unit_price"]["amount"] == 999 and body["subtotal"]["amount"] == 2997


def test_unknown_listing_is_404(client, headers):
    assert_problem(client.post("/api/v1/cart/lines", json={"listing_id": 987654}, headers=headers), 404)


def test_unpublished_listing_is_422_naming_the_listing(client, make, headers):
    draft = make.listing(make.streamer(), kind="course")
    body = assert_problem(client.post("/api/v1/cart/lines", json={"listing_id": draft.id}, headers=headers), 422)
    assert "listing_id" in body["errors"] and line_count() == 0


@pytest.mark.parametrize("quantity", [0, 10_000, "x", "2", 1.5, None])
def test_bad_quantity_is_422_naming_the_quantity(client, make, headers, quantity):
    merch = published(make, kind="merch")
    response = client.post("/api/v1/cart/lines", json={"listing_id": merch.id, "quantity": quantity}, headers=headers)
    assert "quantity" in assert_problem(response, 422)["errors"]
    assert line_count() == 0


def test_bad_quantity_on_change_is_422(client, make, headers):
    merch = published(make, kind="merch")
    body = client.post("/api/v1/cart/lines", json={"listing_id": merch.id}, headers=headers).get_json()
    line_id = body["lines"][0]["id"]
    for quantity in (0, 10_000, "x"):
        response = client.patch(f"/api/v1/cart/lines/{line_id}", json={"quantity": quantity}, headers=headers)
        assert "quantity" in assert_problem(response, 422)["errors"]


@pytest.mark.parametrize("currency", ["XYZ", "", "EUR", 5])
def test_bad_currency_is_422_naming_the_currency(client, make, headers, currency):
    client.post("/api/v1/cart/lines", json={"listing_id": published(make).id}, headers=headers)
    response = client.put("/api/v1/cart/currency", json={"currency": currency}, headers=headers)
    assert "currency" in assert_problem(response, 422)["errors"]


def test_unknown_fields_and_variants_are_refused(client, make, headers):
    listing = published(make, kind="merch")
    response = client.post("/api/v1/cart/lines", json={"listing_id": listing.id, "price": 1}, headers=headers)
    assert "price" in assert_problem(response, 422)["errors"]
    response = client.post("/api/v1/cart/lines", json={"listing_id": listing.id, "variant_id": 7}, headers=headers)
    assert "variant_id" in assert_problem(response, 422)["errors"]


def test_someone_elses_line_is_404(client, make, headers):
    other = bearer_for(make, make.user())
    body = client.post("/api/v1/cart/lines", json={"listing_id": published(make, kind="merch").id}, headers=other).get_json()
    line_id = body["lines"][0]["id"]
    assert_problem(client.patch(f"/api/v1/cart/lines/{line_id}", json={"quantity": 2}, headers=headers), 404)
    assert_problem(client.delete(f"/api/v1/cart/lines/{line_id}", headers=headers), 404)
    assert line_count() == 1


def test_anonymous_callers_get_401(client, make):
    listing = published(make)
    assert_problem(client.get("/api/v1/cart"), 401)
    assert_problem(client.post("/api/v1/cart/lines", json={"listing_id": listing.id}), 401)
    assert_problem(client.patch("/api/v1/cart/lines/1", json={"quantity": 2}), 401)
    assert_problem(client.delete("/api/v1/cart/lines/1"), 401)
    assert_problem(client.put("/api/v1/cart/currency", json={"currency": "CNY"}), 401)


def test_the_cart_is_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get"} <= set(paths["/api/v1/cart"])
    assert "post" in paths["/api/v1/cart/lines"]
    assert {"patch", "delete"} <= set(paths["/api/v1/cart/lines/{line_id}"])
    assert "put" in paths["/api/v1/cart/currency"]
