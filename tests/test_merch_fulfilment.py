"""Merch fulfilment through the API: after payment the digital line is delivered by the task while the merch line
waits to be shipped; whoever ships it (the streamer, or the co-brand when the split says so) marks it shipped with a
carrier and tracking number, the order becomes fulfilled, the fan sees it and gets one email; and the refusals."""
from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.extensions import db
from marketplace.catalog import services as catalog
from marketplace.merch import fulfilment
from marketplace.merch import services as merch_services
from marketplace.merch import shipping
from marketplace.orders import tasks
from marketplace.orders.models import OrderEmail, OrderLine, OrderStatus
from marketplace.royalties import splits
from tests.api_support import assert_problem, bearer_for
from tests.conftest import ON_POSTGRES
from tests.order_support import deliver, order_row
from tests.test_royalty_splits import http_post, together

ADDRESS = {"name": "Mei Lin", "line1": "88 Century Avenue", "city": "Shanghai", "postal_code": "200120",
           "country": "CN", "phone": "+86 21 5555 0100"}


def published_merch(make, owner, title="Tour hoodie", amount=9900):
    """A published merch listing of `owner` that ships to China for 10 CNY, with one variant; answers
    (listing, variant)."""
    profile = shipping.create_profile(owner, {"name": "China", "rates": [{"countries": ["CN"], "currency": "CNY",
                                                                         "amount": 1000}]})
    db.session.commit()
    listing = make.listing(owner, kind="merch", title=title, prices=[{"currency": "CNY", "amount": amount}],
                           shipping_profile_id=profile.id)
    variant = merch_services.create_variant(owner, listing.id, {"sku": f"SKU-{listing.id}", "options": {"size": "L"},
                                                                "stock": 10})
    catalog.submit_listing(owner, listing)
    catalog.approve_listing(make.operator(), listing)
    catalog.publish_listing(owner, listing)
    db.session.commit()
    return listing, variant


def buy_with_address(client, headers, items) -> dict:
    """Cart ((listing, variant or None), ...), checkout with the address, and the paid webhook (the fulfilment
    task runs eagerly after it); answers the order as created."""
    from marketplace.payments import local_gateway

    for listing, variant in items:
        response = client.post("/api/v1/cart/lines", headers=headers, json={
            "listing_id": listing.id, "quantity": 1, "variant_id": variant.id if variant else None})
        assert response.status_code == 201, response.get_json()
    response = client.post("/api/v1/orders", json={"currency": "CNY", "shipping_address": ADDRESS}, headers=headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert deliver(client, local_gateway.completed_event(order_row(body["id"]))).status_code == 200
    return body


@pytest.fixture
def outbox(app, tmp_path):
    saved = app.config["ENCORE_OUTBOX_PATH"]
    app.config["ENCORE_OUTBOX_PATH"] = str(tmp_path / "outbox")
    yield tmp_path / "outbox"
    app.config["ENCORE_OUTBOX_PATH"] = saved


def messages_in(folder: Path) -> list[email.message.EmailMessage]:
    """The shipping notices in the outbox (the payment confirmation is left out)."""
    if not folder.exists():
        return []
    messages = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in sorted(folder.iterdir())]
    return [message for message in messages if "shipped" in message["Subject"]]


@pytest.fixture
def shop(make, client):
    """A streamer selling a hoodie (merch) and a course (digital); a fan who bought both, paid."""
    owner = make.streamer()
    hoodie, variant = published_merch(make, owner)
    course = make.listing(owner, status="published", kind="course", title="Lighting course")
    fan = make.user(display_name="Mei")
    order = buy_with_address(client, bearer_for(make, fan), [(hoodie, variant), (course, None)])
    return {"owner": owner, "fan": fan, "hoodie": hoodie, "course": course, "order": order,
            "merch_line": next(l for l in order_row(order["id"]).lines if l.kind == "merch"),
            "digital_line": next(l for l in order_row(order["id"]).lines if l.kind == "course")}


def ship(client, headers, line_ids, carrier="SF Express", tracking="SF1234567890"):
    return client.post("/api/v1/fulfilment/shipments", headers=headers,
                       json={"line_ids": line_ids, "carrier": carrier, "tracking_number": tracking})


def test_the_task_delivers_the_digital_line_and_leaves_the_merch_waiting(client, make, shop):
    order = order_row(shop["order"]["id"])
    assert order.status == OrderStatus.PAID
    by_kind = {line.kind: line for line in order.lines}
    assert by_kind["course"].fulfilled_at is not None
    assert by_kind["merch"].fulfilled_at is None and by_kind["merch"].shipped_at is None
    queue = client.get("/api/v1/fulfilment", headers=bearer_for(make, shop["owner"]))
    assert queue.status_code == 200
    [group] = queue.get_json()["items"]
    assert group["number"] == order.number and group["buyer_name"] == "Mei"
    assert group["shipping_address"]["city"] == "Shanghai"
    assert [(l["id"], l["quantity"]) for l in group["lines"]] == [(by_kind["merch"].id, 1)]
    assert "size: L" in group["lines"][0]["variant"]
    # the fan, another streamer and a brand member have nothing to ship
    for user in (shop["fan"], make.streamer(), make.brand_member("Nobody Co")):
        assert client.get("/api/v1/fulfilment", headers=bearer_for(make, user)).get_json()["items"] == []
    # operators see everything
    assert len(client.get("/api/v1/fulfilment", headers=bearer_for(make, make.operator())).get_json()["items"]) == 1


def test_the_sweep_does_not_take_a_parcel_waiting_to_be_shipped_for_a_stuck_order(client, make, shop):
    from datetime import timedelta

    order = order_row(shop["order"]["id"])
    order.paid_at = utcnow() - timedelta(hours=2)  # long past the sweep's patience
    db.session.commit()
    assert tasks.sweep.apply().result["requeued"] == 0
    assert order_row(shop["order"]["id"]).status == OrderStatus.PAID


def test_the_streamer_ships_the_order_is_fulfilled_and_the_fan_gets_one_email(client, make, shop, outbox):
    line_id = shop["merch_line"].id
    response = ship(client, bearer_for(make, shop["owner"]), [line_id])
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["order_status"] == "fulfilled" and body["line_ids"] == [line_id]
    assert body["carrier"] == "SF Express" and body["tracking_number"] == "SF1234567890"

    order = order_row(shop["order"]["id"])
    assert order.status == OrderStatus.FULFILLED and order.fulfilled_at is not None
    line = db.session.get(OrderLine, line_id)
    assert line.shipped_at is not None and line.fulfilled_at is not None and line.shipped_by_id == shop["owner"].id
    assert order.status_changes[-1].to_status == OrderStatus.FULFILLED
    assert order.status_changes[-1].actor_id == shop["owner"].id
    # the fan reads in the order's history which parcel left, and how to follow it
    history = client.get(f"/api/v1/orders/{order.id}", headers=bearer_for(make, shop["fan"])).get_json()["history"]
    assert "Shipped by SF Express, tracking number SF1234567890." in [entry["text"] for entry in history]

    [message] = messages_in(outbox)
    assert message["To"] == shop["fan"].email and order.number in message["Subject"]
    assert "SF Express" in message.get_content() and "SF1234567890" in message.get_content()
    # the task running again (a redelivered message) sends nothing more
    assert tasks.send_shipped_email(order.id, [line_id]) is False
    assert len(messages_in(outbox)) == 1
    assert db.session.scalar(select(func.count(OrderEmail.id)).where(OrderEmail.key == f"shipped:{line_id}")) == 1

    # the queue is empty now
    assert client.get("/api/v1/fulfilment", headers=bearer_for(make, shop["owner"])).get_json()["items"] == []


def test_the_fan_sees_carrier_and_tracking_on_the_order(client, make, shop):
    assert ship(client, bearer_for(make, shop["owner"]), [shop["merch_line"].id]).status_code == 201
    response = client.get(f"/api/v1/orders/{shop['order']['id']}", headers=bearer_for(make, shop["fan"]))
    assert response.status_code == 200
    merch = next(line for line in response.get_json()["lines"] if line["id"] == shop["merch_line"].id)
    assert merch["carrier"] == "SF Express" and merch["tracking_number"] == "SF1234567890" and merch["shipped_at"]


def test_refusals_change_nothing(client, make, shop, outbox):
    owner = bearer_for(make, shop["owner"])
    merch_id, digital_id = shop["merch_line"].id, shop["digital_line"].id
    # someone else's line, a digital line, a line that does not exist
    for headers in (bearer_for(make, make.streamer()), bearer_for(make, shop["fan"]),
                    bearer_for(make, make.brand_member("Stranger Co"))):
        assert_problem(ship(client, headers, [merch_id]), 404)
    assert_problem(ship(client, owner, [digital_id]), 404)
    assert_problem(ship(client, owner, [999999]), 404)
    # bad input
    assert_problem(ship(client, owner, [merch_id], tracking=""), 422)
    assert_problem(ship(client, owner, [merch_id], tracking="   "), 422)
    assert_problem(ship(client, owner, [merch_id], carrier="x" * 61), 422)
    assert_problem(ship(client, owner, [merch_id], tracking="x" * 81), 422)
    assert_problem(ship(client, owner, []), 422)
    assert_problem(client.post("/api/v1/fulfilment/shipments", headers=owner, json={"line_ids": ["a"],
                                                                                   "carrier": "SF", "tracking_number": "1"}), 422)
    db.session.expire_all()
    line = db.session.get(OrderLine, merch_id)
    assert line.shipped_at is None and line.fulfilled_at is None and line.carrier is None
    assert order_row(shop["order"]["id"]).status == OrderStatus.PAID
    assert messages_in(outbox) == []
    # shipped twice: 409, the first tracking number stays
    assert ship(client, owner, [merch_id]).status_code == 201
    assert_problem(ship(client, owner, [merch_id], tracking="OTHER"), 409)
    db.session.expire_all()
    assert db.session.get(OrderLine, merch_id).tracking_number == "SF1234567890"
    assert len(messages_in(outbox)) == 1


def test_the_co_brand_ships_when_the_split_says_so_and_the_streamer_then_cannot(client, make, outbox):
    owner = make.streamer()
    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    hoodie, variant = published_merch(make, owner)
    now = utcnow()
    split = splits.set_split(owner, hoodie, [{"user_id": owner.id, "role": "creator", "bp": 7000},
                                             {"brand_id": brand.id, "role": "co_brand", "bp": 2000}], now,
                             fulfilled_by="co_brand")
    splits.accept_share(member, split.parties[1].id, now)
    db.session.commit()
    fan = make.user()
    order = buy_with_address(client, bearer_for(make, fan), [(hoodie, variant)])
    line_id = order_row(order["id"]).lines[0].id
    assert order_row(order["id"]).status == OrderStatus.PAID

    assert client.get("/api/v1/fulfilment", headers=bearer_for(make, owner)).get_json()["items"] == []
    assert_problem(ship(client, bearer_for(make, owner), [line_id]), 404)
    other_brand = make.brand_member("Other Co")
    assert_problem(ship(client, bearer_for(make, other_brand), [line_id]), 404)
    [group] = client.get("/api/v1/fulfilment", headers=bearer_for(make, member)).get_json()["items"]
    assert [l["id"] for l in group["lines"]] == [line_id]
    response = ship(client, bearer_for(make, member), [line_id], carrier="EMS", tracking="EE123456789CN")
    assert response.status_code == 201 and response.get_json()["order_status"] == "fulfilled"
    assert db.session.get(OrderLine, line_id).shipped_by_id == member.id
    assert len(messages_in(outbox)) == 1


def test_a_merch_only_order_stays_paid_after_the_task_and_runs_of_the_task_change_nothing(client, make):
    owner = make.streamer()
    hoodie, variant = published_merch(make, owner)
    order = buy_with_address(client, bearer_for(make, make.user()), [(hoodie, variant)])
    assert tasks.fulfil_order(order["id"]) == 0
    row = order_row(order["id"])
    assert row.status == OrderStatus.PAID and row.lines[0].fulfilled_at is None
    assert [line.id for line in fulfilment.queue_for(owner)] == [row.lines[0].id]


@pytest.mark.skipif(not ON_POSTGRES, reason="row locks under concurrency: needs PostgreSQL")
@pytest.mark.postgres_only
def test_two_shipments_of_one_line_at_the_same_instant_ship_it_once(client, make, live_server, outbox):
    owner = make.streamer()
    hoodie, variant = published_merch(make, owner)
    order = buy_with_address(client, bearer_for(make, make.user()), [(hoodie, variant)])
    line_id = order_row(order["id"]).lines[0].id
    headers = bearer_for(make, owner)
    db.session.commit()
    url = f"{live_server}/api/v1/fulfilment/shipments"
    answers = together(*[
        lambda tracking=tracking: http_post(url, {"line_ids": [line_id], "carrier": "SF", "tracking_number": tracking},
                                            headers)
        for tracking in ("A1", "B2")])
    assert sorted(status for status, _ in answers) == [201, 409], answers
    db.session.expire_all()
    assert order_row(order["id"]).status == OrderStatus.FULFILLED
    assert db.session.get(OrderLine, line_id).tracking_number in ("A1", "B2")
    assert db.session.scalar(select(func.count(OrderEmail.id)).where(OrderEmail.key == f"shipped:{line_id}")) == 1


def test_an_order_whose_goods_were_gone_at_payment_is_not_offered_for_shipping(client, make, shop):
    from marketplace.orders.services import HistoryNote

    order = order_row(shop["order"]["id"])
    order.needs_attention, order.attention_note = True, HistoryNote.GOODS_GONE  # as mark_paid leaves it
    db.session.commit()
    owner = bearer_for(make, shop["owner"])
    assert client.get("/api/v1/fulfilment", headers=owner).get_json()["items"] == []
    assert_problem(ship(client, owner, [shop["merch_line"].id]), 404)
