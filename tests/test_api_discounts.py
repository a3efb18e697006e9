"""The coupons API: a streamer's coupons (create, list, change), the cart preview, and every refusal
(anonymous callers, fans, other streamers, bad percentages, amounts and codes, duplicate codes)."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.extensions import db
from marketplace.discounts.models import Coupon
from tests.api_support import assert_problem, bearer_for

PERCENT = {"code": "spring-10", "kind": "percent", "percent_bp": 1000}


def coupon_count() -> int:
    return db.session.scalar(select(func.count(Coupon.id)))


@pytest.fixture
def streamer(make):
    return make.streamer()


@pytest.fixture
def headers(make, streamer):
    return bearer_for(make, streamer)


def test_create_list_and_change_a_coupon(client, make, streamer, headers):
    listing = make.listing(streamer, status="published")
    response = client.post("/api/v1/coupons", json={
        "code": "Five-Off", "kind": "fixed", "amount": 500, "currency": "CNY", "max_uses_total": 100,
        "max_uses_per_buyer": 1, "min_order_amount": 1000, "min_order_currency": "CNY", "listing_ids": [listing.id],
        "valid_until": "2099-01-01T00:00:00Z",
    }, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["code"] == "FIVE-OFF" and body["amount"] == {"currency": "CNY", "amount": 500}
    assert body["min_order"] == {"currency": "CNY", "amount": 1000} and body["listing_ids"] == [listing.id]
    assert body["status"] == "active" and body["percent_bp"] is None and body["valid_until"].startswith("2099-01-01")

    items = client.get("/api/v1/coupons", headers=headers).get_json()["items"]
    assert [item["id"] for item in items] == [body["id"]]

    response = client.patch(f"/api/v1/coupons/{body['id']}", json={"active": False, "max_uses_total": None, "min_order_amount": None}, headers=headers)
    assert response.status_code == 200
    changed = response.get_json()
    assert changed["active"] is False and changed["status"] == "inactive"
    assert changed["max_uses_total"] is None and changed["min_order"] is None


def test_duplicate_codes_are_refused(client, headers):
    assert client.post("/api/v1/coupons", json=PERCENT, headers=headers).status_code == 201
    body = assert_problem(client.post("/api/v1/coupons", json={**PERCENT, "code": "SPRING-10"}, headers=headers), 422)
    assert "code" in body["errors"]
    assert coupon_count() == 1


@pytest.mark.parametrize("changes, field", [
    ({"percent_bp": 0}, "percent_bp"),
    ({"percent_bp": 10_001}, "percent_bp"),
    ({"percent_bp": "10"}, "percent_bp"),
    ({"kind": "fixed", "percent_bp": None, "amount": -1, "currency": "CNY"}, "amount"),
    ({"kind": "fixed", "percent_bp": None, "amount": 0, "currency": "CNY"}, "amount"),
    ({"code": "no spaces"}, "code"),
    ({"code": "ÄÖÜ"}, "code"),
    ({"code": "x" * 33}, "code"),
    ({"valid_until": "tomorrow"}, "valid_until"),
    ({"listing_ids": [999999]}, "listing_ids"),
    ({"surprise": 1}, "surprise"),
])
def test_bad_coupons_are_refused(client, headers, changes, field):
    body = assert_problem(client.post("/api/v1/coupons", json={**PERCENT, **changes}, headers=headers), 422)
    assert field in body["errors"]
    assert coupon_count() == 0


def test_refusals_by_role_and_owner(client, make, headers):
    created = client.post("/api/v1/coupons", json=PERCENT, headers=headers).get_json()
    assert_problem(client.get("/api/v1/coupons"), 401)
    assert_problem(client.post("/api/v1/coupons", json=PERCENT), 401)
    fan = bearer_for(make, make.user())
    assert_problem(client.post("/api/v1/coupons", json=PERCENT, headers=fan), 403)
    assert_problem(client.get("/api/v1/coupons", headers=fan), 403)
    other = bearer_for(make, make.streamer())
    assert_problem(client.patch(f"/api/v1/coupons/{created['id']}", json={"active": False}, headers=other), 403)
    assert client.get("/api/v1/coupons", headers=other).get_json()["items"] == []
    assert_problem(client.patch("/api/v1/coupons/999999", json={"active": False}, headers=headers), 404)
    assert_problem(client.patch(f"/api/v1/coupons/{created['id']}", json={"code": "NEW"}, headers=headers), 422)
    assert_problem(client.patch(f"/api/v1/coupons/{created['id']}", json={"max_uses_per_buyer": 0}, headers=headers), 422)
    assert db.session.get(Coupon, created["id"]).active is True


def test_preview_prices_the_callers_cart(client, make, streamer, headers):
    mine = make.listing(streamer, status="published", prices=[{"currency": "CNY", "amount": 1000}])
    theirs = make.listing(make.streamer(), status="published", prices=[{"currency": "CNY", "amount": 700}])
    client.post("/api/v1/coupons", json={"code": "THIRD", "kind": "fixed", "amount": 1000, "currency": "CNY", "max_uses_total": 1}, headers=headers)
    fan = bearer_for(make, make.user())
    for listing in (mine, theirs):
        assert client.post("/api/v1/cart/lines", json={"listing_id": listing.id}, headers=fan).status_code == 201
    response = client.post("/api/v1/coupons/preview", json={"code": "third", "currency": "CNY"}, headers=fan)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["code"] == "THIRD" and body["subtotal"]["amount"] == 1700
    assert body["discount"] == {"currency": "CNY", "amount": 1000} and body["total"]["amount"] == 700
    assert [line["discount"]["amount"] for line in body["lines"]] == [1000, 0]


def test_preview_refusals(client, make, streamer, headers):
    listing = make.listing(streamer, status="published")
    client.post("/api/v1/coupons", json={"code": "USD1", "kind": "fixed", "amount": 100, "currency": "USD"}, headers=headers)
    fan = bearer_for(make, make.user())
    assert_problem(client.post("/api/v1/coupons/preview", json={"code": "USD1", "currency": "CNY"}), 401)
    assert "cart" in assert_problem(client.post("/api/v1/coupons/preview", json={"code": "USD1", "currency": "CNY"}, headers=fan), 422)["errors"]
    client.post("/api/v1/cart/lines", json={"listing_id": listing.id}, headers=fan)
    assert "coupon" in assert_problem(client.post("/api/v1/coupons/preview", json={"code": "USD1", "currency": "CNY"}, headers=fan), 422)["errors"]
    assert "coupon" in assert_problem(client.post("/api/v1/coupons/preview", json={"code": "NOPE", "currency": "CNY"}, headers=fan), 422)["errors"]
    assert "currency" in assert_problem(client.post("/api/v1/coupons/preview", json={"code": "USD1", "currency": "XXX"}, headers=fan), 422)["errors"]
    assert_problem(client.post("/api/v1/coupons/preview", json={"currency": "CNY"}, headers=fan), 422)


def test_coupons_are_documented(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"/api/v1/coupons", "/api/v1/coupons/{coupon_id}", "/api/v1/coupons/preview"} <= set(paths)
