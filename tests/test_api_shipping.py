"""Shipping through the API: shipping profiles (CRUD and refusals), a listing's shipping_profile_id, and checkout
of merch with a shipping address (rates, free above, two sellers, refusals that leave nothing behind)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from app.extensions import db
from marketplace.cart.models import CartLine
from marketplace.merch.models import ShippingProfile, StockReservation, Variant
from marketplace.orders import services as order_services
from marketplace.orders.models import Order, OrderLine
from tests.api_support import assert_problem, bearer_for
from tests.order_support import add, count, order_row
from tests.shipping_support import ADDRESS, add_merch, merch, profile
from tests.stripe_support import fake_stripe  # noqa: F401  (fixture)

RATES = [{"countries": ["CN", "HK"], "currency": "CNY", "amount": 1000, "free_above": 20000}]


@pytest.fixture
def owner(make):
    return make.streamer()


@pytest.fixture
def owner_headers(make, owner):
    return bearer_for(make, owner)


@pytest.fixture
def fan(make):
    return make.user()


@pytest.fixture
def headers(make, fan):
    return bearer_for(make, fan)


def place(client, headers, currency="CNY", **body):
    return client.post("/api/v1/orders", json={"currency": currency, **body}, headers=headers)


# ---------------------------------------------------------------- profiles

def test_a_streamer_creates_reads_changes_and_deletes_a_profile(client, owner_headers):
    response = client.post("/api/v1/shipping-profiles", json={"name": "Mainland", "rates": RATES}, headers=owner_headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["name"] == "Mainland"
    assert [{k: rate[k] for k in ("countries", "currency", "amount", "free_above")} for rate in body["rates"]] == RATES
    profile_id = body["id"]
    assert [item["id"] for item in client.get("/api/v1/shipping-profiles", headers=owner_headers).get_json()["items"]] == [profile_id]
    assert client.get(f"/api/v1/shipping-profiles/{profile_id}", headers=owner_headers).get_json()["name"] == "Mainland"
    changed = client.put(f"/api/v1/shipping-profiles/{profile_id}", headers=owner_headers,
                         json={"name": "US", "rates": [{"countries": ["us"], "currency": "USD", "amount": 900}]})
    assert changed.status_code == 200, changed.get_json()
    assert changed.get_json()["rates"][0]["countries"] == ["US"] and changed.get_json()["rates"][0]["free_above"] is None
    assert client.delete(f"/api/v1/shipping-profiles/{profile_id}", headers=owner_headers).status_code == 204
    assert count(ShippingProfile) == 0


@pytest.mark.parametrize("body, field", [
    ({"name": "A", "rates": [{"countries": ["ZZ"], "currency": "CNY", "amount": 100}]}, "rates.0.countries"),
    ({"name": "A", "rates": [{"countries": ["CN"], "currency": "CNY", "amount": -1}]}, "rates.0.amount"),
    ({"name": "A", "rates": [{"countries": ["CN"], "currency": "CNY", "amount": "10"}]}, "rates.0.amount"),
    ({"name": "A", "rates": []}, "rates"),
    ({"name": "", "rates": RATES}, "name"),
    ({"rates": RATES}, "name"),
    ({"name": "A", "rates": RATES, "colour": "red"}, "colour"),
])
def test_a_bad_profile_is_a_422_naming_the_field(client, owner_headers, body, field):
    response = client.post("/api/v1/shipping-profiles", json=body, headers=owner_headers)
    assert field in assert_problem(response, 422)["errors"]
    assert count(ShippingProfile) == 0


def test_other_streamers_profiles_are_not_found(client, make, owner, owner_headers):
    theirs = profile(make.streamer())
    for method in ("get", "delete"):
        assert_problem(getattr(client, method)(f"/api/v1/shipping-profiles/{theirs.id}", headers=owner_headers), 404)
    assert_problem(client.put(f"/api/v1/shipping-profiles/{theirs.id}", json={"name": "Mine", "rates": RATES},
                              headers=owner_headers), 404)
    assert client.get("/api/v1/shipping-profiles", headers=owner_headers).get_json()["items"] == []
    assert db.session.get(ShippingProfile, theirs.id).name == "Standard"


def test_a_fan_is_refused_and_anonymous_callers_must_sign_in(client, headers):
    assert_problem(client.get("/api/v1/shipping-profiles", headers=headers), 403)
    assert_problem(client.post("/api/v1/shipping-profiles", json={"name": "A", "rates": RATES}, headers=headers), 403)
    assert_problem(client.get("/api/v1/shipping-profiles"), 401)
    assert_problem(client.post("/api/v1/shipping-profiles", json={"name": "A", "rates": RATES}), 401)
    assert count(ShippingProfile) == 0


# ---------------------------------------------------------------- a listing's profile

def test_a_listing_takes_its_shipping_profile_through_the_api(client, make, owner, owner_headers):
    mine, theirs = profile(owner), profile(make.streamer())
    data = make.listing_data(kind="merch", shipping_profile_id=mine.id)
    response = client.post("/api/v1/listings", json=data, headers=owner_headers)
    assert response.status_code == 201, response.get_json()
    listing_id = response.get_json()["id"]
    assert response.get_json()["shipping_profile_id"] == mine.id
    refused = client.patch(f"/api/v1/listings/{listing_id}", json={"shipping_profile_id": theirs.id}, headers=owner_headers)
    assert "shipping_profile_id" in assert_problem(refused, 422)["errors"]
    cleared = client.patch(f"/api/v1/listings/{listing_id}", json={"shipping_profile_id": None}, headers=owner_headers)
    assert cleared.status_code == 200 and cleared.get_json()["shipping_profile_id"] is None
    course = client.post("/api/v1/listings", json=make.listing_data(kind="course", shipping_profile_id=mine.id),
                         headers=owner_headers)
    assert "shipping_profile_id" in assert_problem(course, 422)["errors"]


# ---------------------------------------------------------------- checkout

def test_checkout_of_merch_adds_the_shipping_and_stores_the_address(client, make, owner, headers):
    hoodie = merch(make, owner, profile(owner).id, amount=5000, title="Hoodie")
    add_merch(client, headers, hoodie, quantity=2)
    response = place(client, headers, shipping_address={**ADDRESS, "country": "cn", "line2": "  "})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["subtotal"]["amount"] == 10000 and body["shipping"] == {"currency": "CNY", "amount": 1000}
    assert body["total"]["amount"] == 11000
    assert body["shipping_address"] == {**ADDRESS, "country": "CN"}
    assert body["lines"][0]["shipping"] == {"currency": "CNY", "amount": 1000}
    order = order_row(body["id"])
    assert (order.shipping_total, order.total) == (1000, 11000) and order.lines[0].shipping == 1000


def test_shipping_is_free_above_the_rates_amount(client, make, owner, headers):
    add_merch(client, headers, merch(make, owner, profile(owner).id, amount=10000), quantity=2)
    body = place(client, headers, shipping_address=ADDRESS).get_json()
    assert body["shipping"]["amount"] == 0 and body["total"]["amount"] == 20000


def test_a_coupon_that_brings_the_merch_below_free_above_makes_shipping_charged(client, make, owner, owner_headers, headers):
    add_merch(client, headers, merch(make, owner, profile(owner).id, amount=10000), quantity=2)
    coupon = client.post("/api/v1/coupons", json={"code": "TENOFF", "kind": "percent", "percent_bp": 1000}, headers=owner_headers)
    assert coupon.status_code == 201, coupon.get_json()
    body = place(client, headers, coupon="TENOFF", shipping_address=ADDRESS).get_json()
    assert body["discount"]["amount"] == 2000 and body["shipping"]["amount"] == 1000
    assert body["total"]["amount"] == 20000 - 2000 + 1000


def test_two_sellers_each_charge_shipping_spread_over_their_lines(client, make, headers):
    first, second = make.streamer(), make.streamer()
    first_profile = profile(first, rates=[{"countries": ["CN"], "currency": "CNY", "amount": 1001}])
    a = merch(make, first, first_profile.id, amount=1000, title="A")
    b = merch(make, first, first_profile.id, amount=2000, title="B")
    c = merch(make, second, profile(second, rates=[{"countries": ["CN"], "currency": "CNY", "amount": 700}]).id, title="C")
    course = make.listing(second, status="published", kind="course", title="Course")
    for listing in (a, b, c):
        add_merch(client, headers, listing)
    add(client, headers, course)
    body = place(client, headers, shipping_address=ADDRESS).get_json()
    shipping_of = {line["title"].split(" — ")[0]: line["shipping"]["amount"] for line in body["lines"]}  # "A — M"
    assert shipping_of["Course"] == 0 and shipping_of["C"] == 700
    assert shipping_of["A"] + shipping_of["B"] == 1001 and (shipping_of["A"], shipping_of["B"]) == (334, 667)
    assert body["shipping"]["amount"] == 1701
    order = order_row(body["id"])
    assert order.total == order.subtotal - order.discount + order.shipping_total
    assert sum(line.shipping for line in order.lines) == order.shipping_total


def test_a_seller_sees_their_own_shipping(client, make, headers):
    first, second = make.streamer(), make.streamer()
    add_merch(client, headers, merch(make, first, profile(first).id, amount=3000))
    add_merch(client, headers, merch(make, second, profile(second, rates=[
        {"countries": ["CN"], "currency": "CNY", "amount": 500}]).id, amount=4000))
    order_id = place(client, headers, shipping_address=ADDRESS).get_json()["id"]
    seen = client.get(f"/api/v1/orders/{order_id}", headers=bearer_for(make, second)).get_json()
    assert seen["shipping"]["amount"] == 500 and seen["total"]["amount"] == 4500
    assert seen["shipping_address"]["city"] == "Shanghai"


def test_a_country_not_shipped_to_is_a_422_and_nothing_is_placed_or_reserved(client, make, owner, headers):
    hoodie = merch(make, owner, profile(owner).id, title="Hoodie", stock=5)
    add_merch(client, headers, hoodie, quantity=2)
    response = place(client, headers, shipping_address={**ADDRESS, "country": "US"})
    body = assert_problem(response, 422)
    assert "Hoodie" in body["errors"]["shipping_address.country"][0]
    assert count(Order) == 0 and count(OrderLine) == 0 and count(StockReservation) == 0 and count(CartLine) == 1
    db.session.expire_all()
    assert db.session.scalar(select(Variant.stock).where(Variant.listing_id == hoodie.id)) == 5


def test_a_currency_without_a_rate_is_refused(client, make, owner, headers):
    add_merch(client, headers, merch(make, owner, profile(owner).id, title="Hoodie"))
    client.post("/api/v1/cart/currency", json={"currency": "USD"}, headers=headers)
    response = place(client, headers, currency="USD", shipping_address=ADDRESS)
    assert "shipping_address.country" in assert_problem(response, 422)["errors"]
    assert count(Order) == 0


def test_merch_without_an_address_or_with_missing_fields_is_refused_naming_them(client, make, owner, headers):
    add_merch(client, headers, merch(make, owner, profile(owner).id))
    missing = assert_problem(place(client, headers), 422)["errors"]
    assert {"shipping_address.name", "shipping_address.line1", "shipping_address.city", "shipping_address.postal_code",
            "shipping_address.country"} <= set(missing)
    partial = assert_problem(place(client, headers, shipping_address={"name": "Li", "line1": "88 Century Ave",
                                                                      "country": "CN"}), 422)["errors"]
    assert set(partial) == {"shipping_address.city", "shipping_address.postal_code"}
    wrong_type = assert_problem(place(client, headers, shipping_address={**ADDRESS, "city": 12}), 422)["errors"]
    assert "shipping_address.city" in wrong_type
    unknown = assert_problem(place(client, headers, shipping_address={**ADDRESS, "planet": "Mars"}), 422)["errors"]
    assert "shipping_address.planet" in unknown
    assert count(Order) == 0 and count(CartLine) == 1


def test_a_digital_only_order_is_unaffected_by_shipping(client, make, headers):
    add(client, headers, make.listing(make.streamer(), status="published", kind="course"))
    body = place(client, headers, shipping_address=ADDRESS).get_json()
    assert body["shipping"] == {"currency": "CNY", "amount": 0} and body["shipping_address"] is None
    assert body["total"]["amount"] == 1200 and body["lines"][0]["shipping"]["amount"] == 0
    assert order_row(body["id"]).shipping_address is None


def test_the_providers_items_add_up_to_the_total_with_shipping(client, make, owner, owner_headers, headers):
    add_merch(client, headers, merch(make, owner, profile(owner).id, amount=3333), quantity=3)
    client.post("/api/v1/coupons", json={"code": "ODD", "kind": "fixed", "amount": 100, "currency": "CNY"}, headers=owner_headers)
    body = place(client, headers, coupon="ODD", shipping_address=ADDRESS).get_json()
    order = order_row(body["id"])
    lines = order_services.gateway_lines(order)
    assert sum(line.unit_amount * line.quantity for line in lines) == order.total == 3 * 3333 - 100 + 1000
    assert lines[-1].unit_amount == 1000 and lines[-1].quantity == 1


@pytest.fixture
def stripe_mode(app, fake_stripe):
    """The session app switched to the Stripe gateway, talking to the local fake; restored afterwards."""
    from marketplace.payments import reset_gateway

    keys = ("ENCORE_PAYMENT_GATEWAY", "ENCORE_STRIPE_SECRET_KEY", "ENCORE_STRIPE_WEBHOOK_SECRET", "ENCORE_STRIPE_API_BASE")
    saved = {key: app.config.get(key) for key in keys}
    app.config.update(ENCORE_PAYMENT_GATEWAY="stripe", ENCORE_STRIPE_SECRET_KEY="sk_test_encore_shipping",
                      ENCORE_STRIPE_WEBHOOK_SECRET="whsec_test_encore_shipping", ENCORE_STRIPE_API_BASE=fake_stripe.url)
    reset_gateway(app)
    yield fake_stripe
    app.config.update(saved)
    reset_gateway(app)


def test_the_stripe_session_lists_shipping_and_adds_up_to_the_total(client, make, owner, headers, stripe_mode):
    add_merch(client, headers, merch(make, owner, profile(owner).id, amount=1199, title="Hoodie"), quantity=3)
    response = place(client, headers, shipping_address=ADDRESS)
    assert response.status_code == 201, response.get_json()
    order = order_row(response.get_json()["id"])
    [request] = stripe_mode.requests_to("/v1/checkout/sessions")
    items = [(item["price_data"]["product_data"]["name"], int(item["price_data"]["unit_amount"]), int(item["quantity"]))
             for item in request.params["line_items"]]
    assert items[-1] == ("Shipping", 1000, 1)
    [session] = [s for s in stripe_mode.sessions.values() if s["metadata"].get("order_id") == str(order.id)]
    assert sum(unit * quantity for _name, unit, quantity in items) == order.total == 3 * 1199 + 1000 == session["amount_total"]


def test_the_openapi_document_describes_shipping(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert {"get", "post"} <= spec["paths"]["/api/v1/shipping-profiles"].keys()
    assert {"get", "put", "delete"} <= spec["paths"]["/api/v1/shipping-profiles/{profile_id}"].keys()
    schemas = spec["components"]["schemas"]
    assert {"name", "rates"} <= set(schemas["ShippingProfileIn"]["required"])
    assert "shipping_address" in schemas["OrderIn"]["properties"]
    assert {"shipping", "shipping_address"} <= schemas["OrderOut"]["properties"].keys()
    assert "shipping_profile_id" in schemas["ListingOut"]["properties"]
