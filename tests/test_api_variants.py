"""The merch variants API and the cart with variants: create, read and change variants, who may, every refusal
(422 bad input, 403 not the owner, 404 unknown, 401 anonymous), and the cart's variant rules."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from marketplace.merch.models import Variant
from tests.api_support import assert_problem, bearer_for
from tests.stock_support import add_variant, merch_listing, variant_ids


@pytest.fixture
def seller(make):
    return make.streamer()


@pytest.fixture
def owner_headers(make, seller):
    return bearer_for(make, seller)


@pytest.fixture
def draft(make, seller):
    return merch_listing(make, seller, variants=[], status="draft", prices=[
        {"currency": "CNY", "amount": 5000}, {"currency": "USD", "amount": 900}])


def variant_count() -> int:
    return db.session.scalar(select(func.count(Variant.id)))


def test_create_read_and_change_a_variant(client, make, draft, owner_headers):
    response = client.post(f"/api/v1/listings/{draft.id}/variants", headers=owner_headers, json={
        "sku": "HOODIE-L", "options": {"size": "L", "colour": "black"}, "stock": 10, "weight_grams": 450,
        "prices": [{"currency": "CNY", "amount": 5500}],
    })
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body == {
        "id": body["id"], "listing_id": draft.id, "sku": "HOODIE-L", "options": {"size": "L", "colour": "black"},
        "stock": 10, "available": True, "weight_grams": 450, "position": 0, "is_active": True,
        "prices": [{"currency": "CNY", "amount": 5500}],
        "effective_prices": [{"currency": "CNY", "amount": 5500}, {"currency": "USD", "amount": 900}],
    }
    assert client.get(f"/api/v1/variants/{body['id']}", headers=owner_headers).get_json() == body
    listed = client.get(f"/api/v1/listings/{draft.id}/variants", headers=owner_headers).get_json()
    assert listed == {"items": [body]}

    patched = client.patch(f"/api/v1/variants/{body['id']}", headers=owner_headers, json={"stock": 0, "prices": []})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["stock"] == 0 and patched.get_json()["available"] is False
    assert patched.get_json()["effective_prices"] == [{"currency": "CNY", "amount": 5000}, {"currency": "USD", "amount": 900}]
    unlimited = client.patch(f"/api/v1/variants/{body['id']}", headers=owner_headers, json={"stock": None})
    assert unlimited.get_json()["stock"] is None and unlimited.get_json()["available"] is True
    retired = client.patch(f"/api/v1/variants/{body['id']}", headers=owner_headers,
                           json={"is_active": False, "options": {"size": "XL", "colour": "black"}})
    assert retired.get_json()["available"] is False and retired.get_json()["options"]["size"] == "XL"


def test_an_operator_may_add_and_change_variants(client, make, draft):
    operator = bearer_for(make, make.operator())
    response = client.post(f"/api/v1/listings/{draft.id}/variants", headers=operator, json={"sku": "OP-1", "stock": 2})
    assert response.status_code == 201, response.get_json()
    assert client.patch(f"/api/v1/variants/{response.get_json()['id']}", headers=operator,
                        json={"stock": 3}).get_json()["stock"] == 3


@pytest.mark.parametrize("body, field", [
    ({"sku": "A", "stock": -1}, "stock"),
    ({"sku": "A", "stock": 1_000_001}, "stock"),
    ({"sku": "", "stock": 1}, "sku"),
    ({"sku": "x" * 65}, "sku"),
    ({"sku": "A", "options": {"size": ""}}, "options"),
    ({"sku": "A", "options": {"size": "y" * 41}}, "options"),
    ({"sku": "A", "weight_grams": -5}, "weight_grams"),
    ({"sku": "A", "prices": [{"currency": "XYZ", "amount": 100}]}, "prices.0.currency"),
    ({"sku": "A", "prices": [{"currency": "CNY", "amount": 0}]}, "prices.0.amount"),
    ({"sku": "A", "stock": "10"}, "stock"),
    ({"sku": "A", "options": ["L"]}, "options"),
    ({"sku": "A", "colour": "red"}, "colour"),
])
def test_bad_input_is_a_422_naming_the_field(client, draft, owner_headers, body, field):
    response = client.post(f"/api/v1/listings/{draft.id}/variants", headers=owner_headers, json=body)
    problem = assert_problem(response, 422)
    assert field in problem["errors"], problem
    assert variant_count() == 0


def test_every_variant_uses_the_same_option_names_and_a_sku_once(client, draft, owner_headers):
    url = f"/api/v1/listings/{draft.id}/variants"
    assert client.post(url, headers=owner_headers, json={"sku": "L", "options": {"size": "L"}}).status_code == 201
    unknown = assert_problem(client.post(url, headers=owner_headers, json={"sku": "M", "options": {"colour": "red"}}), 422)
    assert unknown["errors"]["options"] == ["This listing's variants use the options: size."]
    extra = client.post(url, headers=owner_headers, json={"sku": "M", "options": {"size": "M", "colour": "red"}})
    assert_problem(extra, 422)
    taken = assert_problem(client.post(url, headers=owner_headers, json={"sku": "L", "options": {"size": "XL"}}), 422)
    assert "sku" in taken["errors"]
    second = client.post(url, headers=owner_headers, json={"sku": "M", "options": {"size": "M"}}).get_json()
    assert_problem(client.patch(f"/api/v1/variants/{second['id']}", headers=owner_headers, json={"sku": "L"}), 422)
    assert_problem(client.patch(f"/api/v1/variants/{second['id']}", headers=owner_headers,
                                json={"options": {"fit": "slim"}}), 422)
    assert_problem(client.patch(f"/api/v1/variants/{second['id']}", headers=owner_headers, json={"stock": -3}), 422)
    assert client.get(f"/api/v1/variants/{second['id']}", headers=owner_headers).get_json()["sku"] == "M"
    assert variant_count() == 2


def test_refusals_by_who_asks(client, make, seller, draft, owner_headers):
    url = f"/api/v1/listings/{draft.id}/variants"
    created = client.post(url, headers=owner_headers, json={"sku": "L", "stock": 1}).get_json()
    other_streamer = bearer_for(make, make.streamer())
    fan = bearer_for(make, make.user())
    # anonymous: 401
    assert_problem(client.post(url, json={"sku": "M"}), 401)
    assert_problem(client.patch(f"/api/v1/variants/{created['id']}", json={"stock": 5}), 401)
    # a draft is hidden from others: 404; once published, a non-owner gets 403
    assert_problem(client.post(url, headers=other_streamer, json={"sku": "M"}), 404)
    published = merch_listing(make, seller)
    [variant_id] = variant_ids(published)
    for headers in (other_streamer, fan):
        assert_problem(client.post(f"/api/v1/listings/{published.id}/variants", headers=headers, json={"sku": "M"}), 403)
        assert_problem(client.patch(f"/api/v1/variants/{variant_id}", headers=headers, json={"stock": 99}), 403)
    assert client.get(f"/api/v1/variants/{variant_id}", headers=fan).get_json()["stock"] == 10
    # unknown ids and listings of another kind: 404
    assert_problem(client.post("/api/v1/listings/999999/variants", headers=owner_headers, json={"sku": "M"}), 404)
    assert_problem(client.get("/api/v1/variants/999999"), 404)
    assert_problem(client.patch("/api/v1/variants/999999", headers=owner_headers, json={"stock": 1}), 404)
    course = make.listing(make.streamer(), status="published")
    assert_problem(client.get(f"/api/v1/listings/{course.id}/variants"), 404)
    assert variant_count() == 2


def test_fans_see_active_variants_only(client, make, seller, owner_headers):
    listing = merch_listing(make, seller, [{"sku": "L", "options": {"size": "L"}, "stock": 1},
                                           {"sku": "M", "options": {"size": "M"}, "stock": 1}])
    large, medium = variant_ids(listing)
    client.patch(f"/api/v1/variants/{medium}", headers=owner_headers, json={"is_active": False})
    assert [v["sku"] for v in client.get(f"/api/v1/listings/{listing.id}/variants").get_json()["items"]] == ["L"]
    assert len(client.get(f"/api/v1/listings/{listing.id}/variants", headers=owner_headers).get_json()["items"]) == 2
    assert_problem(client.get(f"/api/v1/variants/{medium}"), 404)
    assert client.get(f"/api/v1/variants/{large}").status_code == 200


# ---------------------------------------------------------------- the cart with variants

@pytest.fixture
def shirt(make, seller):
    return merch_listing(make, seller, [
        {"sku": "S", "options": {"size": "S"}, "stock": 2, "prices": [{"currency": "CNY", "amount": 3900}]},
        {"sku": "M", "options": {"size": "M"}, "stock": 0},
        {"sku": "L", "options": {"size": "L"}, "stock": None},
    ], title="Shirt")


def test_the_cart_uses_the_variants_price_and_names_it(client, make, shirt):
    small, _medium, large = variant_ids(shirt)
    fan = bearer_for(make, make.user())
    response = add_variant(client, fan, shirt, small, 2)
    assert response.status_code == 201, response.get_json()
    assert add_variant(client, fan, shirt, large, 1).status_code == 201
    lines = response.get_json()["lines"]
    cart = client.get("/api/v1/cart", headers=fan).get_json()
    assert [(line["variant_id"], line["unit_price"]["amount"], line["quantity"]) for line in cart["lines"]] == [
        (small, 3900, 2), (large, 5000, 1)]
    assert cart["subtotal"]["amount"] == 2 * 3900 + 5000 and cart["can_checkout"]
    assert lines[0]["variant_id"] == small


def test_cart_refusals_for_variants(client, make, shirt):
    small, medium, _large = variant_ids(shirt)
    fan = bearer_for(make, make.user())
    missing = assert_problem(client.post("/api/v1/cart/lines", headers=fan, json={"listing_id": shirt.id}), 422)
    assert missing["errors"] == {"variant_id": ["Choose a size or colour first."]}
    sold_out = assert_problem(add_variant(client, fan, shirt, medium), 409)
    assert sold_out["detail"] == "Shirt — M is sold out."
    too_many = assert_problem(add_variant(client, fan, shirt, small, 3), 422)
    assert too_many["errors"] == {"quantity": ["Only 2 left of Shirt — S."]}
    other = merch_listing(make, make.streamer(), title="Cap")
    [cap] = variant_ids(other)
    assert_problem(add_variant(client, fan, shirt, cap), 422)
    assert_problem(add_variant(client, fan, shirt, 999999), 422)
    course = make.listing(make.streamer(), status="published")
    assert_problem(add_variant(client, fan, course, small), 422)
    # adding to a line beyond the stock, or raising its quantity beyond it, is refused too
    assert add_variant(client, fan, shirt, small, 1).status_code == 201
    assert_problem(add_variant(client, fan, shirt, small, 2), 422)
    line_id = client.get("/api/v1/cart", headers=fan).get_json()["lines"][0]["id"]
    assert_problem(client.patch(f"/api/v1/cart/lines/{line_id}", headers=fan, json={"quantity": 3}), 422)
    assert client.patch(f"/api/v1/cart/lines/{line_id}", headers=fan, json={"quantity": 2}).status_code == 200
    assert [line["quantity"] for line in client.get("/api/v1/cart", headers=fan).get_json()["lines"]] == [2]


def test_openapi_documents_the_variant_endpoints(client):
    document = client.get("/api/v1/openapi.json").get_json()
    paths = document["paths"]
    assert {"post", "get"} <= set(paths["/api/v1/listings/{listing_id}/variants"])
    assert {"get", "patch"} <= set(paths["/api/v1/variants/{variant_id}"])
    schemas = document["components"]["schemas"]
    assert schemas["VariantOut"]["properties"]["stock"]["type"] in (["integer", "null"], "integer")
    assert "sku" in schemas["VariantIn"]["required"]
