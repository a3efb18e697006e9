"""The money path under concurrency, over real HTTP on PostgreSQL: every completed-payment event delivered
three times in shuffled order by concurrent clients pays and fulfils each order exactly once; forged or
badly-timed events change nothing; two checkouts of one cart, or two buyers racing for a coupon's last
use, end with exactly one order and a clear 409 for the loser."""
from __future__ import annotations

import collections
import json
import random
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.extensions import db
from marketplace.cart.models import CartLine
from marketplace.orders.models import Order, OrderEmail, OrderLine, PaymentEvent
from marketplace.payments import local_gateway, webhook_secret
from tests.api_support import bearer_for
from tests.conftest import ON_POSTGRES
from tests.order_support import record_deliveries

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(not ON_POSTGRES, reason="row locks under concurrency: set ENCORE_TEST_DATABASE_URL to PostgreSQL"),
]

PRICES = [{"currency": "CNY", "amount": 1200}]
ORDERS = 50
DELIVERIES_PER_EVENT = 3
CLIENT_THREADS = 10
RACE_ROUNDS = 5


class Answer(collections.namedtuple("Answer", "status content_type body")):
    def json(self):
        return json.loads(self.body)


def http_post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    """POST over a real socket; a 4xx/5xx is an answer to look at, not an exception."""
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return Answer(response.status, response.headers.get_content_type(), response.read())
    except urllib.error.HTTPError as error:
        return Answer(error.code, error.headers.get_content_type(), error.read())


def post_json(url: str, payload: dict, headers: dict[str, str]) -> Answer:
    return http_post(url, json.dumps(payload).encode(), {
        "Content-Type": "application/json", "Accept-Language": "en", **headers,
    })


def post_webhook(base_url: str, signed: tuple[bytes, str]) -> Answer:
    payload, signature = signed
    return http_post(f"{base_url}/webhooks/stripe", payload, {
        "Stripe-Signature": signature, "Content-Type": "application/json",
    })


def deliver(base_url: str, event: dict) -> Answer:
    """Sign (in the test's app context) and post one event."""
    return post_webhook(base_url, local_gateway.signed(event, webhook_secret()))


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


def fresh(model, row_id):
    db.session.expire_all()
    return db.session.get(model, row_id)


def published(make, owner=None):
    return make.listing(owner or make.streamer(), status="published", kind="course", prices=PRICES)


def add_to_cart(client, headers, listing) -> None:
    response = client.post("/api/v1/cart/lines", json={"listing_id": listing.id, "quantity": 1}, headers=headers)
    assert response.status_code == 201, response.get_json()


def place(client, headers) -> dict:
    response = client.post("/api/v1/orders", json={"currency": "CNY"}, headers=headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def together(*calls):
    """Run the calls in threads released at the same instant; answers their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result(timeout=60) for future in [pool.submit(run, call) for call in calls]]


def assert_one_created_one_conflict(answers: list[Answer]) -> Answer:
    """Exactly one 201 and one 409 problem+json; answers the 201."""
    statuses = sorted(answer.status for answer in answers)
    assert statuses == [201, 409], [(a.status, a.body[:300]) for a in answers]
    refused = next(answer for answer in answers if answer.status == 409)
    assert refused.content_type == "application/problem+json"
    problem = refused.json()
    assert problem["status"] == 409 and problem["title"] and problem["detail"]
    return next(answer for answer in answers if answer.status == 201)


@pytest.fixture
def fulfilled(monkeypatch):
    """Line ids in the order the course kind delivered them (server threads append concurrently)."""
    return record_deliveries(monkeypatch)


def test_each_event_delivered_three_times_concurrently_pays_and_fulfils_each_order_once(
        client, make, live_server, fulfilled):
    listing = published(make)
    order_ids = []
    for _n in range(ORDERS):
        headers = bearer_for(make, make.user())
        add_to_cart(client, headers, listing)
        order_ids.append(place(client, headers)["id"])
    events = [local_gateway.completed_event(fresh(Order, order_id)) for order_id in order_ids]
    # each delivery signed on its own, as a provider's retry is
    deliveries = [local_gateway.signed(event, webhook_secret()) for event in events for _copy in range(DELIVERIES_PER_EVENT)]
    random.Random(4).shuffle(deliveries)
    db.session.commit()  # the server threads must not wait on anything this session holds

    with ThreadPoolExecutor(CLIENT_THREADS) as pool:
        answers = list(pool.map(lambda signed: post_webhook(live_server, signed), deliveries))

    assert [answer.status for answer in answers] == [200] * len(deliveries), \
        [(a.status, a.body[:200]) for a in answers if a.status != 200][:3]
    outcomes = collections.Counter(answer.json()["outcome"] for answer in answers)
    assert outcomes == {"paid": ORDERS, "duplicate": ORDERS * (DELIVERIES_PER_EVENT - 1)}
    db.session.expire_all()
    assert count(PaymentEvent) == ORDERS
    assert count(PaymentEvent, PaymentEvent.outcome == "paid") == ORDERS
    orders = db.session.scalars(select(Order).where(Order.id.in_(order_ids))).all()
    assert {order.status for order in orders} == {"fulfilled"}
    for order in orders:
        assert [change.to_status for change in order.status_changes] == ["pending_payment", "paid", "fulfilled"]
    line_ids = db.session.scalars(select(OrderLine.id)).all()
    assert len(line_ids) == ORDERS
    assert sorted(fulfilled) == sorted(line_ids)  # every line once, none twice
    assert count(OrderLine, OrderLine.fulfilled_at.is_(None)) == 0
    assert count(OrderEmail, OrderEmail.key == "confirmation") == ORDERS
    assert count(OrderEmail) == ORDERS


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "future"])
def test_a_forged_or_badly_timed_event_is_refused_over_http_and_changes_nothing(
        client, make, live_server, fulfilled, tamper):
    headers = bearer_for(make, make.user())
    add_to_cart(client, headers, published(make))
    order_id = place(client, headers)["id"]
    event = local_gateway.completed_event(fresh(Order, order_id))
    now = int(utcnow().timestamp())
    timestamp = {"stale": now - 301, "future": now + 301}.get(tamper, now)
    payload, signature = local_gateway.signed(event, "whsec_wrong" if tamper == "secret" else webhook_secret(), timestamp)
    if tamper == "body":
        payload = payload.replace(b'"amount_total":1200', b'"amount_total":1')
        assert b'"amount_total":1,' in payload
    db.session.commit()

    answer = post_webhook(live_server, (payload, signature))

    assert answer.status == 400, answer.body
    assert answer.json()["error"]
    assert count(PaymentEvent) == 0
    order = fresh(Order, order_id)
    assert order.status == "pending_payment" and order.paid_at is None and order.payment_reference is None
    assert [change.to_status for change in order.status_changes] == ["pending_payment"]
    assert count(OrderEmail) == 0 and fulfilled == []
    # the genuine event, signed right, is still taken afterwards
    assert deliver(live_server, event).json()["outcome"] == "paid"


def test_two_concurrent_checkouts_of_one_cart_make_one_order(client, make, live_server):
    fan = make.user()
    first_token, second_token = bearer_for(make, fan), bearer_for(make, fan)
    for round_number in range(RACE_ROUNDS):
        add_to_cart(client, first_token, published(make))
        db.session.commit()

        answers = together(*[
            lambda headers=headers: post_json(f"{live_server}/api/v1/orders", {"currency": "CNY"}, headers)
            for headers in (first_token, second_token)
        ])

        created = assert_one_created_one_conflict(answers).json()
        db.session.expire_all()
        assert count(Order) == round_number + 1
        assert count(Order, Order.id == created["id"], Order.buyer_id == fan.id) == 1
        assert len(created["lines"]) == 1
        assert count(CartLine) == 0


def test_two_buyers_racing_for_a_coupons_last_use_get_one_order(client, make, live_server):
    seller = make.streamer()
    listing = published(make, seller)
    seller_headers = bearer_for(make, seller)
    for round_number in range(RACE_ROUNDS):
        code = f"LAST-ONE-{round_number}"
        coupon = client.post("/api/v1/coupons", headers=seller_headers, json={
            "code": code, "kind": "percent", "percent_bp": 5000, "max_uses_total": 1,
        })
        assert coupon.status_code == 201, coupon.get_json()
        buyers = [bearer_for(make, make.user()) for _n in range(2)]
        for headers in buyers:
            add_to_cart(client, headers, listing)
        db.session.commit()

        answers = together(*[
            lambda headers=headers: post_json(f"{live_server}/api/v1/orders", {"currency": "CNY", "coupon": code}, headers)
            for headers in buyers
        ])

        created = assert_one_created_one_conflict(answers).json()
        assert created["coupon"] == code and created["total"]["amount"] == 600
        db.session.expire_all()
        assert count(Order, Order.coupon_code == code) == 1
        assert count(Order) == round_number + 1
        assert count(CartLine) == round_number + 1  # each round's loser keeps their cart
