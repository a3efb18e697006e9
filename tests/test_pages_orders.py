"""Order pages with the Flask test client, a real database and the local gateway: checkout from the cart page,
the test-mode pay page, a fan's orders, a streamer's sales and refunds, the operators' list, and the refusals."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.extensions import db
from marketplace.discounts import services as discounts
from marketplace.orders.models import Order, OrderEmail, OrderLine, Refund
from marketplace.payments import get_gateway
from marketplace.payments.gateway import GatewayUnavailable
from tests.page_support import logged_in, text_of

PRICES = [{"currency": "CNY", "amount": 1200}, {"currency": "USD", "amount": 199}]


def published(make, owner=None, kind="course", **data):
    return make.listing(owner or make.streamer(), status="published", kind=kind, prices=data.pop("prices", PRICES), **data)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def order_row(number: str) -> Order:
    db.session.expire_all()
    return db.session.scalar(select(Order).where(Order.number == number))


@pytest.fixture
def fan(make):
    return make.user(email="fan@example.com")


@pytest.fixture
def fan_client(app, make, fan):
    return logged_in(app, make, fan)


def add_to_cart(client, *listings):
    for listing in listings:
        response = client.post("/cart/lines", data={"listing_id": listing.id, "quantity": 1})
        assert response.status_code == 302, text_of(response)[:300]


def check_out(client, currency="CNY", coupon=None) -> tuple[str, str]:
    """Posts the cart page's checkout form; answers the pay page URL and the order number."""
    data = {"currency": currency, **({"coupon": coupon} if coupon else {})}
    response = client.post("/checkout", data=data)
    assert response.status_code == 302, text_of(response)[:300]
    pay_url = response.headers["Location"]
    assert "/pay/local/" in pay_url
    number = db.session.scalar(select(Order.number).order_by(Order.id.desc()))
    return pay_url, number


def paid_order(client, *listings) -> str:
    add_to_cart(client, *listings)
    pay_url, number = check_out(client)
    assert client.post(pay_url, data={"action": "pay"}).status_code == 302
    return number


# ---------------------------------------------------------------- checkout and paying


def test_cart_page_offers_checkout_in_the_carts_currency(fan_client, make):
    add_to_cart(fan_client, published(make, title="Night lights"))
    page = text_of(fan_client.get("/cart"))
    assert 'action="/checkout"' in page
    assert 'name="currency" value="CNY"' in page
    assert "Check out" in page


def test_anonymous_visitor_is_asked_to_log_in_to_check_out(client, make):
    add_to_cart(client, published(make))
    page = text_of(client.get("/cart"))
    assert "Log in to check out" in page and "/login?next=/cart" in page
    assert 'action="/checkout"' not in page
    response = client.post("/checkout", data={"currency": "CNY"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert count(Order) == 0


def test_checkout_from_the_cart_leads_to_the_test_pay_page_and_paying_lands_on_a_fulfilled_order(fan_client, make, fan):
    add_to_cart(fan_client, published(make, title="Night lights"), published(make, title="Brush course"))
    pay_url, number = check_out(fan_client)

    pay_page = text_of(fan_client.get(pay_url))
    assert "TEST MODE" in pay_page and "no money is taken" in pay_page
    assert number in pay_page and "Night lights" in pay_page and "Brush course" in pay_page
    assert "CN¥24.00" in pay_page
    assert 'value="pay"' in pay_page and 'value="decline"' in pay_page

    paid = fan_client.post(pay_url, data={"action": "pay"})
    assert paid.status_code == 302 and paid.headers["Location"].endswith(f"/orders/{number}?paid=1")
    order_page = text_of(fan_client.get(paid.headers["Location"]))
    assert "Payment received — we're preparing your order." in order_page
    assert 'data-status="fulfilled"' in order_page and "Fulfilled" in order_page
    assert 'http-equiv="refresh"' not in order_page  # nothing left to wait for
    assert "Everything in the order was delivered." in order_page  # the timeline
    assert "Pay now" not in order_page and "Cancel order" not in order_page

    # the pay page now says the order is paid instead of offering the buttons
    again = text_of(fan_client.get(pay_url))
    assert "This order has already been paid." in again and 'value="pay"' not in again


def test_an_order_still_being_delivered_reloads_itself(fan_client, make):
    add_to_cart(fan_client, published(make))
    _pay_url, number = check_out(fan_client)
    order = order_row(number)
    order.status = "paid"  # as between the payment's commit and the background fulfilment
    db.session.commit()
    page = text_of(fan_client.get(f"/orders/{number}?paid=1"))
    assert "Delivering…" in page and '<meta http-equiv="refresh" content="2">' in page
    assert "Delivering…" not in text_of(fan_client.get(f"/orders/{number}"))  # only right after paying


def test_declining_on_the_pay_page_shows_the_failure_and_keeps_the_order_payable(fan_client, make):
    add_to_cart(fan_client, published(make))
    pay_url, number = check_out(fan_client)
    declined = fan_client.post(pay_url, data={"action": "decline"}, follow_redirects=True)
    assert "The payment was declined." in text_of(declined)
    assert 'value="pay"' in text_of(declined)  # try again
    order_page = text_of(fan_client.get(f"/orders/{number}"))
    assert 'data-status="pending_payment"' in order_page
    assert "A payment attempt failed: Your card was declined (test mode)." in order_page
    assert "Pay now" in order_page and pay_url.replace("http://localhost", "") in order_page


def test_checkout_with_the_coupon_from_the_preview(fan_client, make):
    seller = make.streamer()
    discounts.create_coupon(seller, {"code": "SPRING", "kind": "percent", "percent_bp": 2500})
    db.session.commit()
    add_to_cart(fan_client, published(make, seller))
    preview = text_of(fan_client.post("/cart/coupon", data={"code": "spring"}))
    assert 'name="coupon" value="SPRING"' in preview and "CN¥9.00" in preview
    _pay_url, number = check_out(fan_client, coupon="SPRING")
    page = text_of(fan_client.get(f"/orders/{number}"))
    assert "Coupon SPRING" in page and "-CN¥3.00" in page and "CN¥9.00" in page


def test_refused_checkout_comes_back_to_the_cart_with_the_reason(fan_client, make):
    response = fan_client.post("/checkout", data={"currency": "CNY"}, follow_redirects=True)
    assert "/cart" in response.request.path
    assert "Your cart is empty" in text_of(response)
    add_to_cart(fan_client, published(make))
    response = fan_client.post("/checkout", data={"currency": "CNY", "coupon": "NOPE"}, follow_redirects=True)
    assert response.request.path == "/cart" and 'class="flash flash-error"' in text_of(response)
    assert count(Order) == 0


def test_a_gateway_outage_at_checkout_keeps_the_cart(fan_client, make, app, monkeypatch):
    add_to_cart(fan_client, published(make))

    def unavailable(request):
        raise GatewayUnavailable("provider down")

    monkeypatch.setattr(get_gateway(app), "start_payment", unavailable)
    response = fan_client.post("/checkout", data={"currency": "CNY"}, follow_redirects=True)
    assert "payment provider could not be reached" in text_of(response)
    assert count(Order) == 0 and 'action="/checkout"' in text_of(response)  # the cart is still there


def test_cancelling_an_unpaid_order(fan_client, make):
    add_to_cart(fan_client, published(make))
    pay_url, number = check_out(fan_client)
    response = fan_client.post(f"/orders/{number}/cancel", follow_redirects=True)
    page = text_of(response)
    assert "Your order was cancelled." in page and 'data-status="cancelled"' in page
    assert "Cancelled by the buyer." in page and "Pay now" not in page
    assert "This order was cancelled" in text_of(fan_client.get(pay_url))
    again = fan_client.post(f"/orders/{number}/cancel", follow_redirects=True)
    assert "Only an order awaiting payment can be cancelled." in text_of(again)


# ---------------------------------------------------------------- a fan's orders and who sees what


def test_orders_page_lists_only_the_fans_own_orders(app, make, fan_client):
    number = paid_order(fan_client, published(make, title="Mine"))
    other = logged_in(app, make, make.user())
    other_number = paid_order(other, published(make, title="Theirs"))

    page = text_of(fan_client.get("/orders"))
    assert number in page and other_number not in page
    assert "Fulfilled" in page and "CN¥12.00" in page
    assert f'href="/orders/{number}"' in page


def test_orders_page_empty_state_links_to_browse(fan_client):
    page = text_of(fan_client.get("/orders"))
    assert "You have no orders yet." in page and 'href="/browse' in page


def test_another_fan_gets_404_on_someone_elses_order(app, make, fan_client):
    number = paid_order(fan_client, published(make))
    other = logged_in(app, make, make.user())
    assert other.get(f"/orders/{number}").status_code == 404
    assert other.post(f"/orders/{number}/cancel").status_code == 404
    assert other.get("/orders/EN-000000-NOPE00").status_code == 404


def test_anonymous_visitors_are_sent_to_log_in(client):
    for url in ("/orders", "/orders/EN-1", "/dashboard/orders", "/operator/orders"):
        response = client.get(url)
        assert response.status_code == 302 and "/login" in response.headers["Location"], url
    assert client.post("/orders/EN-1/refunds", data={"reason": "x"}).status_code == 302


def test_header_links_to_orders_sales_and_all_orders_by_role(app, make):
    fan_page = text_of(logged_in(app, make, make.user()).get("/"))
    assert 'href="/orders"' in fan_page and 'href="/dashboard/orders"' not in fan_page
    streamer_page = text_of(logged_in(app, make, make.streamer()).get("/"))
    assert 'href="/dashboard/orders"' in streamer_page and 'href="/operator/orders"' not in streamer_page
    operator_page = text_of(logged_in(app, make, make.operator()).get("/"))
    assert 'href="/operator/orders"' in operator_page


# ---------------------------------------------------------------- a streamer's sales and refunds


@pytest.fixture
def two_sellers_order(make, fan_client):
    seller, other_seller = make.streamer(), make.streamer()
    mine = published(make, seller, title="Seller's course")
    theirs = published(make, other_seller, title="Other seller's course")
    number = paid_order(fan_client, mine, theirs)
    lines = {line.title: line.id for line in order_row(number).lines}
    return seller, other_seller, number, lines


def test_sales_page_shows_only_the_sellers_lines_and_totals(app, make, two_sellers_order):
    seller, _other, number, _lines = two_sellers_order
    client = logged_in(app, make, seller)
    page = text_of(client.get("/dashboard/orders"))
    assert number in page and "Seller&#39;s course" in page and "Other seller" not in page
    assert "CN¥12.00" in page and "CN¥24.00" not in page
    assert 'class="bars"' in page  # the sales chart
    detail = text_of(client.get(f"/orders/{number}"))
    assert "Seller&#39;s course" in detail and "Other seller" not in detail
    assert "You see the lines of your own listings only." in detail and "CN¥24.00" not in detail
    assert "Refund selected" in detail and "Refund whole order" not in detail


def test_a_fan_without_a_shop_is_refused_the_sales_page(fan_client):
    assert fan_client.get("/dashboard/orders").status_code == 403


def test_seller_refunds_one_of_their_lines(app, make, two_sellers_order):
    seller, _other, number, lines = two_sellers_order
    client = logged_in(app, make, seller)
    response = client.post(f"/orders/{number}/refunds",
                           data={"line_ids": [str(lines["Seller's course"])], "reason": "Bought by mistake"})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/orders/{number}")
    page = text_of(client.get(response.headers["Location"]))
    assert "Refunded CN¥12.00. The buyer will get an email." in page
    assert 'data-status="partially_refunded"' in page and "Partially refunded" in page
    assert "Refunded CN¥12.00: Bought by mistake" in page  # the timeline
    assert "Refund selected" not in page  # nothing of theirs left to refund
    order = order_row(number)
    assert order.status == "partially_refunded" and order.refunded_amount == 1200
    refund = db.session.scalar(select(Refund))
    assert f"refund:{refund.id}" in db.session.scalars(select(OrderEmail.key)).all()


def test_seller_cannot_refund_another_sellers_line(app, make, two_sellers_order):
    seller, _other, number, lines = two_sellers_order
    client = logged_in(app, make, seller)
    response = client.post(f"/orders/{number}/refunds",
                           data={"line_ids": [str(lines["Other seller's course"])], "reason": "Not mine"})
    assert response.status_code == 403
    assert "You can only refund the lines of your own listings." in text_of(response)
    assert count(Refund) == 0 and order_row(number).status == "fulfilled"
    # a streamer with no line in the order does not even see it
    stranger = logged_in(app, make, make.streamer())
    assert stranger.post(f"/orders/{number}/refunds", data={"line_ids": [str(lines["Seller's course"])],
                                                             "reason": "x"}).status_code == 404


def test_an_empty_reason_shows_the_form_error_and_refunds_nothing(app, make, two_sellers_order):
    seller, _other, number, lines = two_sellers_order
    client = logged_in(app, make, seller)
    line_id = str(lines["Seller's course"])
    response = client.post(f"/orders/{number}/refunds", data={"line_ids": [line_id], "reason": "  "})
    assert response.status_code == 422
    page = text_of(response)
    assert "Say why the order is refunded." in page and 'aria-invalid="true"' in page
    assert re.search(rf'value="{line_id}" form="refund-form"\s+checked', page)  # the ticked line stays ticked
    nothing = client.post(f"/orders/{number}/refunds", data={"reason": "No lines ticked"})
    assert nothing.status_code == 422 and "Choose the lines to refund." in text_of(nothing)
    assert count(Refund) == 0 and order_row(number).refunded_amount == 0


def test_refunding_a_line_twice_is_a_conflict_shown_on_the_page(app, make, two_sellers_order):
    seller, _other, number, lines = two_sellers_order
    client = logged_in(app, make, seller)
    data = {"line_ids": [str(lines["Seller's course"])], "reason": "Bought by mistake"}
    assert client.post(f"/orders/{number}/refunds", data=data).status_code == 302
    again = client.post(f"/orders/{number}/refunds", data=data)
    assert again.status_code == 409 and "has already been refunded" in text_of(again)
    assert count(Refund) == 1


def test_a_provider_outage_during_a_refund_records_nothing(app, make, two_sellers_order, monkeypatch):
    seller, _other, number, lines = two_sellers_order

    def unavailable(request):
        raise GatewayUnavailable("provider down")

    monkeypatch.setattr(get_gateway(app), "refund", unavailable)
    client = logged_in(app, make, seller)
    response = client.post(f"/orders/{number}/refunds", data={"line_ids": [str(lines["Seller's course"])], "reason": "x"},
                           follow_redirects=True)
    assert response.request.path == f"/orders/{number}"
    assert "The payment provider could not be reached, so nothing was refunded." in text_of(response)
    assert count(Refund) == 0 and order_row(number).status == "fulfilled"
    assert db.session.scalar(select(func.count()).where(OrderLine.refunded_at.is_not(None))) == 0


def test_a_buyer_sees_no_refund_form_and_cannot_post_one(fan_client, two_sellers_order):
    _seller, _other, number, lines = two_sellers_order
    assert "Refund selected" not in text_of(fan_client.get(f"/orders/{number}"))
    response = fan_client.post(f"/orders/{number}/refunds", data={"line_ids": [str(lines["Seller's course"])], "reason": "x"})
    assert response.status_code == 403 and count(Refund) == 0


def test_a_refund_post_without_csrf_token_is_refused_when_csrf_is_on(app, make, two_sellers_order):
    seller, _other, number, lines = two_sellers_order
    client = logged_in(app, make, seller)
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(f"/orders/{number}/refunds", data={"line_ids": [str(lines["Seller's course"])], "reason": "x"})
    assert response.status_code == 400
    assert count(Refund) == 0


# ---------------------------------------------------------------- operators


def test_operator_lists_and_filters_every_order(app, make, fan_client):
    fulfilled = paid_order(fan_client, published(make))
    add_to_cart(fan_client, published(make))
    _pay_url, pending = check_out(fan_client)
    flagged = order_row(fulfilled)
    flagged.needs_attention, flagged.attention_note = True, "late_payment"
    db.session.commit()

    client = logged_in(app, make, make.operator())
    page = text_of(client.get("/operator/orders"))
    assert fulfilled in page and pending in page and "fan@example.com" in page
    assert "The payment arrived after the order had closed; an operator will check it." in page

    only_pending = text_of(client.get("/operator/orders?status=pending_payment"))
    assert pending in only_pending and fulfilled not in only_pending
    assert '<option value="pending_payment" selected>' in only_pending
    attention = text_of(client.get("/operator/orders?attention=1"))
    assert fulfilled in attention and pending not in attention
    assert client.get("/operator/orders?status=bogus").status_code == 200  # an unknown status filters nothing

    detail = text_of(client.get(f"/orders/{fulfilled}"))
    assert "Needs attention" in detail and "Refund whole order" in detail


def test_operator_refunds_the_whole_order(app, make, fan_client):
    number = paid_order(fan_client, published(make), published(make))
    client = logged_in(app, make, make.operator())
    response = client.post(f"/orders/{number}/refunds", data={"scope": "all", "reason": "Fraud check failed"},
                           follow_redirects=True)
    page = text_of(response)
    assert "Refunded CN¥24.00." in page and 'data-status="refunded"' in page
    order = order_row(number)
    assert order.status == "refunded" and order.refunded_amount == order.total == 2400
    assert all(line.refunded_at for line in order.lines)


def test_operator_refunds_any_single_line(app, make, two_sellers_order):
    _seller, _other, number, lines = two_sellers_order
    client = logged_in(app, make, make.operator())
    response = client.post(f"/orders/{number}/refunds",
                           data={"line_ids": [str(lines["Other seller's course"])], "reason": "Damaged"})
    assert response.status_code == 302 and order_row(number).status == "partially_refunded"


def test_non_operators_are_refused_the_operator_list(app, make, fan_client):
    assert fan_client.get("/operator/orders").status_code == 403
    assert logged_in(app, make, make.streamer()).get("/operator/orders").status_code == 403
