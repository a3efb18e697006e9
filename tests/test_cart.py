"""The cart's rules (services) and pages: adding, changing and removing lines, digital items, the anonymous
session cart and its merge on sign-in, one currency, current prices, unavailable listings and every refusal."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.errors import NotFound, ValidationFailed
from app.extensions import db
from marketplace.cart import services
from marketplace.cart.models import Cart, CartLine
from marketplace.catalog import services as catalog
from tests.page_support import logged_in, text_of

PRICES = [{"currency": "CNY", "amount": 1200}, {"currency": "USD", "amount": 199}]


def published(make, owner=None, kind="course", prices=PRICES, **data):
    return make.listing(owner or make.streamer(), status="published", kind=kind, prices=prices, **data)


def summary_of(cart, default="CNY"):
    return services.summarize(cart, default)


def line_count() -> int:
    return db.session.scalar(select(func.count()).select_from(CartLine))


# ---------------------------------------------------------------- services

def test_add_change_and_remove_a_physical_line(make):
    fan = make.user()
    merch = published(make, kind="merch")
    cart = services.user_cart(fan)
    line = services.add_line(cart, merch.id, 2)
    services.add_line(cart, merch.id, 3)
    db.session.commit()
    assert [(l.listing_id, l.quantity) for l in cart.lines] == [(merch.id, 5)]
    services.change_quantity(cart, line.id, 7)
    summary = summary_of(cart)
    assert summary.lines[0].unit_price.amount == 1200
    assert summary.lines[0].line_total.amount == 8400 and summary.subtotal.amount == 8400
    assert summary.can_checkout and summary.item_count == 7
    services.remove_line(cart, line.id)
    db.session.commit()
    assert line_count() == 0
    assert summary_of(cart).problems == ["empty"] and not summary_of(cart).can_checkout


def test_digital_listing_stays_at_quantity_one(make):
    fan = make.user()
    course = published(make, kind="course")
    cart = services.user_cart(fan)
    line = services.add_line(cart, course.id, 3)
    services.add_line(cart, course.id, 1)
    db.session.commit()
    assert line_count() == 1 and line.quantity == 1
    with pytest.raises(ValidationFailed) as refused:
        services.change_quantity(cart, line.id, 2)
    assert "quantity" in refused.value.errors


def test_a_physical_line_cannot_pass_99(make):
    cart = services.user_cart(make.user())
    merch = published(make, kind="merch")
    services.add_line(cart, merch.id, 98)
    with pytest.raises(ValidationFailed) as refused:
        services.add_line(cart, merch.id, 2)
    assert "quantity" in refused.value.errors


@pytest.mark.parametrize("quantity", [0, -1, 100, 10_000, "x", True, None])
def test_quantity_out_of_range_is_refused(make, quantity):
    cart = services.user_cart(make.user())
    merch = published(make, kind="merch")
    with pytest.raises(ValidationFailed) as refused:
        services.add_line(cart, merch.id, quantity)
    assert "quantity" in refused.value.errors
    assert line_count() == 0


def test_unknown_listing_is_not_found(make):
    cart = services.user_cart(make.user())
    with pytest.raises(NotFound):
        services.add_line(cart, 987654, 1)


@pytest.mark.parametrize("status", ["draft", "submitted", "approved", "rejected", "archived"])
def test_listing_not_on_sale_is_refused(make, status):
    cart = services.user_cart(make.user())
    listing = make.listing(make.streamer(), status=status, kind="course")
    with pytest.raises(ValidationFailed) as refused:
        services.add_line(cart, listing.id, 1)
    assert "listing_id" in refused.value.errors


def test_a_variant_is_refused_until_listings_have_variants(make):
    cart = services.user_cart(make.user())
    merch = published(make, kind="merch")
    with pytest.raises(ValidationFailed) as refused:
        services.add_line(cart, merch.id, 1, variant_id=3)
    assert "variant_id" in refused.value.errors


def test_currency_defaults_to_the_app_default_then_the_first_common_one(make):
    cart = services.user_cart(make.user())
    services.add_line(cart, published(make).id, 1)
    assert summary_of(cart, "CNY").currency == "CNY"
    assert summary_of(cart, "USD").currency == "USD"
    assert summary_of(cart, "EUR").currency == "CNY"  # the default is not offered: the first common one
    assert summary_of(cart).currencies == ["CNY", "USD"]


def test_choosing_a_currency_and_a_listing_without_that_price_is_flagged(make):
    cart = services.user_cart(make.user())
    services.add_line(cart, published(make).id, 1)
    services.choose_currency(cart, "usd")
    assert summary_of(cart).currency == "USD" and summary_of(cart).subtotal.amount == 199
    cny_only = published(make, kind="studio_setup", prices=[{"currency": "CNY", "amount": 5000}])
    services.add_line(cart, cny_only.id, 1)
    summary = summary_of(cart)
    assert summary.currency == "USD" and summary.currencies == ["CNY"]
    flagged = next(line for line in summary.lines if line.listing.id == cny_only.id)
    assert flagged.problems == ["no_price"] and flagged.unit_price is None and flagged.line_total is None
    assert summary.subtotal.amount == 199 and not summary.can_checkout and "no_price" in summary.problems
    with pytest.raises(ValidationFailed) as refused:
        services.choose_currency(cart, "USD")
    assert "currency" in refused.value.errors
    services.choose_currency(cart, "CNY")
    assert summary_of(cart).can_checkout and summary_of(cart).subtotal.amount == 6200


@pytest.mark.parametrize("currency", ["XYZ", "", None, 12, "EUR"])
def test_bad_currency_is_refused(make, currency):
    cart = services.user_cart(make.user())
    services.add_line(cart, published(make).id, 1)
    with pytest.raises(ValidationFailed) as refused:
        services.choose_currency(cart, currency)
    assert "currency" in refused.value.errors


def test_prices_follow_the_listings_current_price(make):
    owner = make.streamer()
    listing = published(make, owner=owner, kind="merch")
    cart = services.user_cart(make.user())
    services.add_line(cart, listing.id, 2)
    db.session.commit()
    assert summary_of(cart).subtotal.amount == 2400
    catalog.update_listing(owner, listing, {"prices": [{"currency": "CNY", "amount": 1500}]})
    db.session.commit()
    assert summary_of(cart).lines[0].unit_price.amount == 1500
    assert summary_of(cart).subtotal.amount == 3000


def test_an_archived_listing_is_flagged_and_blocks_checkout(make):
    owner = make.streamer()
    listing = published(make, owner=owner)
    other = published(make)
    cart = services.user_cart(make.user())
    services.add_line(cart, listing.id, 1)
    services.add_line(cart, other.id, 1)
    db.session.commit()
    catalog.archive_listing(owner, listing)
    db.session.commit()
    summary = summary_of(cart)
    archived = next(line for line in summary.lines if line.listing.id == listing.id)
    assert not archived.available and archived.problems == ["unavailable"] and archived.line_total is None
    assert summary.subtotal.amount == 1200
    assert not summary.can_checkout and summary.problems == ["unavailable"]


def test_lines_of_another_cart_are_not_found(make):
    listing = published(make)
    mine, theirs = services.user_cart(make.user()), services.user_cart(make.user())
    line = services.add_line(theirs, listing.id, 1)
    with pytest.raises(NotFound):
        services.change_quantity(mine, line.id, 1)
    with pytest.raises(NotFound):
        services.remove_line(mine, line.id)


def test_the_session_cart_keeps_only_ids_and_quantities(make):
    store = {}
    merch = published(make, kind="merch")
    cart = services.SessionCart(store)
    line = services.add_line(cart, merch.id, 2)
    assert store["cart"]["lines"] == [{"id": line.id, "listing_id": merch.id, "variant_id": None, "quantity": 2}]
    services.change_quantity(services.SessionCart(store), line.id, 4)
    again = services.SessionCart(store)
    assert summary_of(again).subtotal.amount == 4800
    services.remove_line(again, line.id)
    assert services.SessionCart(store).lines == []


def test_merging_combines_quantities_capped_and_skips_what_is_off_sale(make):
    fan = make.user()
    owner = make.streamer()
    merch, course = published(make, owner=owner, kind="merch"), published(make, kind="course")
    gone = published(make, owner=owner, kind="studio_setup")
    cart = services.user_cart(fan)
    services.add_line(cart, merch.id, 60)
    services.add_line(cart, course.id, 1)
    db.session.commit()
    store = {}
    anonymous = services.SessionCart(store)
    services.add_line(anonymous, merch.id, 50)
    services.add_line(anonymous, course.id, 1)
    services.add_line(anonymous, gone.id, 1)
    services.choose_currency(anonymous, "USD")
    catalog.archive_listing(owner, gone)
    services.merge_session_cart(fan, services.SessionCart(store))
    db.session.commit()
    quantities = {line.listing_id: line.quantity for line in services.find_cart(fan).lines}
    assert quantities == {merch.id: 99, course.id: 1}
    assert services.find_cart(fan).currency == "USD"
    assert "cart" not in store


# ---------------------------------------------------------------- pages

def test_add_to_cart_form_on_the_listing_page_but_not_for_the_owner(app, make, client):
    owner = make.streamer()
    listing = published(make, owner=owner, kind="merch")
    page = text_of(client.get(f"/listings/{listing.slug}"))
    assert 'action="/cart/lines"' in page and 'name="quantity"' in page
    course = published(make, kind="course")
    assert 'name="quantity"' not in text_of(client.get(f"/listings/{course.slug}"))
    owner_page = text_of(logged_in(app, make, owner).get(f"/listings/{listing.slug}"))
    assert 'action="/cart/lines"' not in owner_page


def test_signed_in_fan_adds_changes_and_removes_on_the_cart_page(app, make):
    fan = make.user()
    merch = published(make, kind="merch", title="Owl hoodie")
    client = logged_in(app, make, fan)
    response = client.post("/cart/lines", data={"listing_id": merch.id, "quantity": "2"})
    assert response.status_code == 302 and response.headers["Location"].endswith("/cart")
    page = text_of(client.get("/cart"))
    assert "Owl hoodie" in page and "¥24.00" in page
    assert 'class="badge info nav-cart-count"' in page and ">2</span>" in page
    line = services.find_cart(fan).lines[0]
    assert client.post(f"/cart/lines/{line.id}", data={"quantity": "3"}).status_code == 302
    assert services.find_cart(fan).lines[0].quantity == 3
    assert client.post("/cart/currency", data={"currency": "USD"}).status_code == 302
    assert "US$5.97" in text_of(client.get("/cart")) or "$5.97" in text_of(client.get("/cart"))
    assert client.post(f"/cart/lines/{line.id}/remove").status_code == 302
    assert "Your cart is empty." in text_of(client.get("/cart"))


def test_the_header_counts_the_items_in_the_cart(app, make, client):
    merch, course = published(make, kind="merch"), published(make)
    assert 'nav-cart-count" aria-label="0 items">0</span>' in text_of(client.get("/"))
    client.post("/cart/lines", data={"listing_id": merch.id, "quantity": "4"})
    client.post("/cart/lines", data={"listing_id": course.id})
    assert 'nav-cart-count" aria-label="5 items">5</span>' in text_of(client.get("/"))


def test_anonymous_cart_is_kept_in_the_session_and_merged_on_login(app, make):
    fan = make.user()
    merch = published(make, kind="merch", title="Owl mug")
    client = app.test_client()
    client.post("/cart/lines", data={"listing_id": merch.id, "quantity": "3"})
    assert "Owl mug" in text_of(client.get("/cart"))
    with client.session_transaction() as session:
        assert session["cart"]["lines"][0]["quantity"] == 3 and "amount" not in str(session["cart"])
    assert db.session.scalar(select(func.count()).select_from(Cart)) == 0
    assert make.login(client, fan.email).status_code == 302
    assert [(l.listing_id, l.quantity) for l in services.find_cart(fan).lines] == [(merch.id, 3)]
    with client.session_transaction() as session:
        assert "cart" not in session
    assert "Owl mug" in text_of(client.get("/cart"))


def test_archived_listing_is_flagged_on_the_cart_page(app, make):
    owner = make.streamer()
    listing = published(make, owner=owner)
    client = app.test_client()
    client.post("/cart/lines", data={"listing_id": listing.id})
    catalog.archive_listing(owner, listing)
    db.session.commit()
    page = text_of(client.get("/cart"))
    assert "No longer available" in page and "Remove the items that are no longer available." in page


@pytest.mark.parametrize("quantity", ["0", "10000", "x", "-3"])
def test_pages_refuse_a_bad_quantity(app, make, client, quantity):
    merch = published(make, kind="merch")
    response = client.post("/cart/lines", data={"listing_id": merch.id, "quantity": quantity})
    assert response.status_code == 422
    assert "Choose a quantity from 1 to 99." in text_of(response)


def test_pages_refuse_unknown_and_unpublished_listings_and_bad_currency(app, make, client):
    assert client.post("/cart/lines", data={"listing_id": "987654"}).status_code == 404
    draft = make.listing(make.streamer(), kind="course")
    response = client.post("/cart/lines", data={"listing_id": draft.id})
    assert response.status_code == 422 and "This listing is not on sale." in text_of(response)
    assert client.post("/cart/lines", data={"listing_id": "abc"}).status_code == 422
    client.post("/cart/lines", data={"listing_id": published(make).id})
    response = client.post("/cart/currency", data={"currency": "JPY"})
    assert response.status_code == 422 and "Not every item in your cart is sold in JPY" in text_of(response)
    assert client.post("/cart/lines/4242", data={"quantity": "1"}).status_code == 404
    assert client.post("/cart/lines/4242/remove").status_code == 404


def test_someone_elses_line_is_not_found_on_pages(app, make):
    listing = published(make)
    theirs = services.user_cart(make.user())
    line = services.add_line(theirs, listing.id, 1)
    db.session.commit()
    client = logged_in(app, make, make.user())
    assert client.post(f"/cart/lines/{line.id}/remove").status_code == 404
    assert line_count() == 1


def test_two_first_requests_at_once_share_one_cart(app, make):
    import threading

    from marketplace.cart.models import Cart

    fan_id = make.user().id
    db.session.commit()  # end the test's read: on SQLite an open read keeps the threads from committing
    barrier = threading.Barrier(2)
    cart_ids, failures = [], []

    def first_request():
        try:
            with app.app_context():
                from app.accounts.models import User

                user = db.session.get(User, fan_id)
                db.session.commit()
                barrier.wait(timeout=10)
                cart_ids.append(services.user_cart(user).id)
                db.session.commit()
        except Exception as exc:  # reported to the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=first_request) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert failures == []
    assert len(set(cart_ids)) == 1
    assert db.session.scalar(select(func.count()).select_from(Cart).where(Cart.user_id == fan_id)) == 1
