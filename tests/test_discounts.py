"""Coupons: the streamer's coupon rules and `price_lines`, the pricing rule checkout applies them with
(percent and fixed, exact allocation, validity, limits, other sellers' lines), and the coupon pages."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.errors import Conflict, PermissionDenied, ValidationFailed
from app.extensions import db
from app.money import Money
from marketplace.discounts import services
from marketplace.discounts.models import Coupon
from tests.page_support import logged_in, text_of

NOW = utcnow()


def coupon(owner, **data):
    values = {"code": "SPRING", "kind": "percent", "percent_bp": 1000}
    values.update(data)
    created = services.create_coupon(owner, values)
    db.session.commit()
    return created


def line(listing, amount, quantity=1, currency="CNY"):
    return (listing, quantity, Money(amount, currency))


def price(lines, code, buyer=None, now=NOW, **counts):
    return services.price_lines(lines, code, buyer, now, **counts)


def coupon_count() -> int:
    return db.session.scalar(select(func.count(Coupon.id)))


@pytest.fixture
def streamer(make):
    return make.streamer()


@pytest.fixture
def listings(make, streamer):
    return [make.listing(streamer, status="published") for _ in range(3)]


# ---------------------------------------------------------------- pricing

def test_percent_is_taken_per_line_and_rounded_down(streamer, listings):
    coupon(streamer, percent_bp=1500)
    priced = price([line(listings[0], 999), line(listings[1], 1001, quantity=3)], "spring")
    assert [l.discount.amount for l in priced.lines] == [149, 450]  # 149.85 -> 149, 450.45 -> 450
    assert [l.total.amount for l in priced.lines] == [850, 2553]
    assert priced.subtotal == Money(4002, "CNY") and priced.discount == Money(599, "CNY") and priced.total == Money(3403, "CNY")


def test_a_hundred_percent_leaves_every_line_at_zero(streamer, listings):
    coupon(streamer, percent_bp=10_000)
    priced = price([line(listings[0], 1), line(listings[1], 12345)], "SPRING")
    assert priced.total == Money(0, "CNY") and all(l.total.amount == 0 for l in priced.lines)


def test_a_fixed_amount_is_spread_exactly_over_awkward_lines(streamer, listings):
    coupon(streamer, code="TEN", kind="fixed", amount=1000, currency="CNY")
    priced = price([line(l, 1000) for l in listings], "ten")
    parts = [l.discount.amount for l in priced.lines]
    assert sum(parts) == 1000 and sorted(parts) == [333, 333, 334]
    assert priced.total == Money(2000, "CNY")

    priced = price([line(listings[0], 333), line(listings[1], 667), line(listings[2], 1, quantity=7)], "ten")
    parts = [l.discount.amount for l in priced.lines]
    assert sum(parts) == 1000 and all(l.total.amount >= 0 for l in priced.lines)
    assert sum(l.total.amount for l in priced.lines) == priced.total.amount == 1007 - 1000


def test_a_fixed_amount_larger_than_the_order_stops_at_zero(streamer, listings):
    coupon(streamer, code="BIG", kind="fixed", amount=50_000, currency="CNY")
    priced = price([line(listings[0], 1), line(listings[1], 19_999)], "BIG")
    assert [l.total.amount for l in priced.lines] == [0, 0]
    assert priced.discount == Money(20_000, "CNY") and priced.total == Money(0, "CNY")


def test_spread_never_gives_a_small_line_more_than_it_holds():
    parts = services.spread(Money(19_999, "USD"), [Money(1, "USD"), Money(19_999, "USD")])
    assert sum(p.amount for p in parts) == 19_999 and parts[0].amount <= 1 and parts[1].amount <= 19_999


def test_lines_of_other_creators_are_untouched(make, streamer, listings):
    other = make.listing(make.streamer(), status="published")
    coupon(streamer, code="MINE", kind="fixed", amount=500, currency="CNY")
    priced = price([line(other, 800), line(listings[0], 1000)], "MINE")
    assert priced.lines[0].discount.amount == 0 and priced.lines[0].total.amount == 800 and not priced.lines[0].eligible
    assert priced.lines[1].discount.amount == 500 and priced.lines[1].eligible


def test_a_restricted_coupon_applies_to_its_listings_only(streamer, listings):
    coupon(streamer, code="ONLY", listing_ids=[listings[1].id], percent_bp=5000)
    priced = price([line(listings[0], 1000), line(listings[1], 1000)], "ONLY")
    assert [l.discount.amount for l in priced.lines] == [0, 500]
    with pytest.raises(ValidationFailed) as refused:
        price([line(listings[0], 1000)], "ONLY")
    assert refused.value.reason == services.CouponProblem.NO_ELIGIBLE_LINE


def test_no_code_means_no_discount(listings):
    priced = price([line(listings[0], 1000)], None)
    assert priced.discount == Money(0, "CNY") and priced.coupon is None


def test_codes_are_case_insensitive(streamer, listings):
    created = coupon(streamer, code="  Spring-Sale_1 ")
    assert created.code == "SPRING-SALE_1"
    assert price([line(listings[0], 1000)], "spring-sale_1").discount.amount == 100


@pytest.mark.parametrize("code", ["NOPE", "x", "", "bad code!"])
def test_an_unknown_code_is_refused(streamer, listings, code):
    coupon(streamer)
    with pytest.raises(ValidationFailed) as refused:
        price([line(listings[0], 1000)], code or "   x")
    assert refused.value.reason == services.CouponProblem.UNKNOWN


def test_another_creators_code_does_not_apply(make, listings):
    coupon(make.streamer(), code="THEIRS")
    with pytest.raises(ValidationFailed) as refused:
        price([line(listings[0], 1000)], "THEIRS")
    assert refused.value.reason == services.CouponProblem.UNKNOWN


def test_minimum_order(streamer, listings):
    coupon(streamer, min_order_amount=2000, min_order_currency="CNY")
    with pytest.raises(ValidationFailed) as refused:
        price([line(listings[0], 1999)], "SPRING")
    assert refused.value.reason == services.CouponProblem.MIN_ORDER
    assert price([line(listings[0], 2000)], "SPRING").discount.amount == 200


def test_validity_window(streamer, listings):
    coupon(streamer, valid_from=NOW + timedelta(days=1), valid_until=NOW + timedelta(days=2))
    lines = [line(listings[0], 1000)]
    with pytest.raises(ValidationFailed) as early:
        price(lines, "SPRING")
    assert early.value.reason == services.CouponProblem.NOT_YET_VALID
    assert price(lines, "SPRING", now=NOW + timedelta(days=1, hours=1)).discount.amount == 100
    with pytest.raises(ValidationFailed) as late:
        price(lines, "SPRING", now=NOW + timedelta(days=2))
    assert late.value.reason == services.CouponProblem.EXPIRED


def test_exhausted_in_total_and_per_buyer(make, streamer, listings):
    coupon(streamer, max_uses_total=5, max_uses_per_buyer=1)
    fan = make.user()
    lines = [line(listings[0], 1000)]
    assert price(lines, "SPRING", fan, uses_total=4, uses_by_buyer=0).discount.amount == 100
    with pytest.raises(Conflict) as total:
        price(lines, "SPRING", fan, uses_total=5)
    assert total.value.reason == services.CouponProblem.EXHAUSTED and total.value.status_code == 409
    with pytest.raises(Conflict) as mine:
        price(lines, "SPRING", fan, uses_total=1, uses_by_buyer=1)
    assert mine.value.reason == services.CouponProblem.EXHAUSTED_FOR_BUYER


def test_an_inactive_coupon_is_refused(streamer, listings):
    created = coupon(streamer)
    services.deactivate_coupon(streamer, created.id)
    with pytest.raises(ValidationFailed) as refused:
        price([line(listings[0], 1000)], "SPRING")
    assert refused.value.reason == services.CouponProblem.INACTIVE


def test_a_fixed_coupon_in_another_currency_is_refused(streamer, listings):
    coupon(streamer, code="USD5", kind="fixed", amount=500, currency="USD")
    with pytest.raises(ValidationFailed) as refused:
        price([line(listings[0], 1000)], "USD5")
    assert refused.value.reason == services.CouponProblem.CURRENCY
    assert price([line(listings[0], 1000, currency="USD")], "USD5").discount == Money(500, "USD")


def test_lines_in_mixed_currencies_are_refused(listings):
    with pytest.raises(ValidationFailed):
        price([line(listings[0], 1000), line(listings[1], 1000, currency="USD")], None)


# ---------------------------------------------------------------- managing coupons

def test_duplicate_codes_are_refused_case_insensitively(make, streamer):
    coupon(streamer, code="DUP")
    with pytest.raises(ValidationFailed) as refused:
        services.create_coupon(streamer, {"code": "dup", "kind": "percent", "percent_bp": 500})
    assert "code" in refused.value.errors
    coupon(make.streamer(), code="DUP")  # another streamer may use the same code
    assert coupon_count() == 2


@pytest.mark.parametrize("data, field", [
    ({"percent_bp": 0}, "percent_bp"),
    ({"percent_bp": 10_001}, "percent_bp"),
    ({"kind": "fixed", "percent_bp": None, "amount": -5, "currency": "CNY"}, "amount"),
    ({"kind": "fixed", "percent_bp": None, "amount": 500, "currency": "XYZ"}, "currency"),
    ({"code": "bad code"}, "code"),
    ({"code": "AB"}, "code"),
    ({"kind": "gift"}, "kind"),
    ({"max_uses_total": 0}, "max_uses_total"),
    ({"valid_from": NOW, "valid_until": NOW - timedelta(days=1)}, "valid_until"),
    ({"valid_until": NOW.replace(tzinfo=None)}, "valid_until"),
])
def test_bad_coupons_are_refused(streamer, data, field):
    with pytest.raises(ValidationFailed) as refused:
        services.create_coupon(streamer, {"code": "OKAY", "kind": "percent", "percent_bp": 1000, **data})
    assert field in refused.value.errors
    assert coupon_count() == 0


def test_restricting_to_someone_elses_listing_is_refused(make, streamer):
    theirs = make.listing(make.streamer())
    with pytest.raises(ValidationFailed) as refused:
        services.create_coupon(streamer, {"code": "OKAY", "kind": "percent", "percent_bp": 1000, "listing_ids": [theirs.id]})
    assert "listing_ids" in refused.value.errors


def test_only_the_owner_changes_a_coupon(make, streamer):
    created = coupon(streamer)
    with pytest.raises(PermissionDenied):
        services.update_coupon(make.streamer(), created.id, {"active": False})
    with pytest.raises(PermissionDenied):
        services.deactivate_coupon(make.user(), created.id)
    with pytest.raises(PermissionDenied):
        services.create_coupon(make.user(), {"code": "FANS", "kind": "percent", "percent_bp": 10})
    assert services.update_coupon(streamer, created.id, {"max_uses_total": 3}).max_uses_total == 3


# ---------------------------------------------------------------- pages

def test_the_coupon_dashboard_lists_creates_and_deactivates(app, make, streamer, listings):
    client = logged_in(app, make, streamer)
    page = text_of(client.get("/dashboard"))
    assert "/dashboard/coupons" in page
    response = client.post("/dashboard/coupons", data={
        "code": "summer", "kind": "percent", "percent": "12.5", "currency": "CNY", "max_uses_total": "10",
        "min_order_amount": "20.00", "min_order_currency": "CNY", "listing_ids": [str(listings[0].id)],
        "valid_until": "2099-01-01T00:00",
    })
    assert response.status_code == 302
    created = db.session.scalar(select(Coupon))
    assert (created.code, created.percent_bp, created.max_uses_total, created.min_order) == ("SUMMER", 1250, 10, Money(2000, "CNY"))
    assert created.listing_ids == [listings[0].id] and created.valid_until.year == 2099
    page = text_of(client.get("/dashboard/coupons"))
    assert "SUMMER" in page and "12.5%" in page
    assert client.post(f"/dashboard/coupons/{created.id}/deactivate").status_code == 302
    db.session.refresh(created)
    assert created.active is False


def test_the_coupon_form_shows_errors(app, make, streamer):
    client = logged_in(app, make, streamer)
    response = client.post("/dashboard/coupons", data={"code": "a b", "kind": "percent", "percent": "0", "currency": "CNY"})
    assert response.status_code == 422
    page = text_of(response)
    assert "Use 3 to 32 letters" in page and "aria-invalid" in page
    response = client.post("/dashboard/coupons", data={"code": "OK1", "kind": "fixed", "amount": "abc", "currency": "CNY"})
    assert response.status_code == 422 and "Enter an amount like 12.50." in text_of(response)
    assert coupon_count() == 0


def test_coupon_pages_refuse_fans_strangers_and_visitors(app, make, streamer, client):
    created = coupon(streamer)
    fan = logged_in(app, make, make.user())
    assert fan.get("/dashboard/coupons").status_code == 403
    assert fan.post("/dashboard/coupons", data={"code": "FANS", "kind": "percent", "percent": "5"}).status_code == 403
    stranger = logged_in(app, make, make.streamer())
    assert stranger.post(f"/dashboard/coupons/{created.id}/deactivate").status_code == 403
    assert stranger.post("/dashboard/coupons/999999/deactivate").status_code == 404
    assert client.get("/dashboard/coupons").status_code == 302  # to the sign-in page
    db.session.refresh(created)
    assert created.active is True


def test_the_cart_page_previews_a_coupon(app, make, streamer, listings, client):
    coupon(streamer, percent_bp=2000)
    client.post("/cart/lines", data={"listing_id": listings[0].id})  # 12.00 CNY, an anonymous visitor's cart
    page = text_of(client.get("/cart"))
    assert "Have a coupon?" in page
    response = client.post("/cart/coupon", data={"code": "spring"})
    assert response.status_code == 200
    page = text_of(response)
    assert "Coupon SPRING" in page and "2.40" in page and "9.60" in page
    response = client.post("/cart/coupon", data={"code": "nope"})
    assert response.status_code == 422 and "There is no coupon NOPE" in text_of(response)
