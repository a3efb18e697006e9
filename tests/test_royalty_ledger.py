"""The ledger through the money path: a paid order posts its split, refunds and chargebacks reverse it
exactly, fees come out of the platform (or everyone, when the split says so), and nothing posts twice or
changes once posted."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from app.db import utcnow
from app.extensions import db
from marketplace.orders import services as orders
from marketplace.orders.models import Order
from marketplace.payments import local_gateway
from marketplace.royalties import ledger, splits
from marketplace.royalties.ledger import ImmutableLedger, LedgerError, Posting
from marketplace.royalties.models import AccountKind, LedgerEntry, LedgerTransaction, SplitStatus
from tests.api_support import bearer_for
from tests.conftest import ON_POSTGRES
from tests.order_support import buy, deliver, order_row


def published(make, owner, amount=1000, **data):
    return make.listing(owner, status="published", kind="course",
                        prices=[{"currency": "CNY", "amount": amount}, {"currency": "USD", "amount": 199}], **data)


def balance_of(user=None, brand=None, currency="CNY") -> int:
    for money in ledger.party_balances(user_id=user.id if user else None, brand_id=brand.id if brand else None):
        if money.currency == currency:
            return money.amount
    return 0


def platform(currency="CNY") -> int:
    return ledger.check_ledger().total(currency, AccountKind.PLATFORM_REVENUE)


def split_listing(make, owner, partner_brand, designer, amount=1000):
    """A draft listing split 60% streamer, 20% brand, 10% designer, 10% platform, accepted and published."""
    listing = make.listing(owner, kind="course", prices=[{"currency": "CNY", "amount": amount}])
    now = utcnow()
    split = splits.set_split(owner, listing, [
        {"user_id": owner.id, "role": "creator", "bp": 6000},
        {"brand_id": partner_brand.id, "role": "co_brand", "bp": 2000},
        {"user_id": designer.id, "role": "designer", "bp": 1000},
    ], now)
    assert split.status == SplitStatus.PROPOSED
    brand_member = partner_brand.memberships[0].user
    for party in split.waiting_for:
        splits.accept_share(brand_member if party.brand_id else designer, party.id, now)
    assert split.status == SplitStatus.ACTIVE
    db.session.commit()
    operator = make.operator()
    from marketplace.catalog import services as catalog

    catalog.submit_listing(owner, listing)
    catalog.approve_listing(operator, listing)
    catalog.publish_listing(owner, listing)
    db.session.commit()
    return listing


def test_a_paid_order_without_a_split_gives_the_streamer_all_but_the_platform_fee(client, make):
    streamer = make.streamer()
    listing = published(make, streamer, amount=999)
    fan = make.user()
    buy(client, bearer_for(make, fan), listing)
    assert balance_of(streamer) == 899  # 999 × 90% = 899.1: the largest remainder goes to the platform's 99.9
    assert platform() == 100
    check = ledger.check_ledger()
    assert check.sums_to_zero and check.total("CNY", AccountKind.GATEWAY_CLEARING) == -999


def test_a_split_is_posted_per_line_and_a_refund_takes_back_exactly_that(client, make, app):
    owner, designer = make.streamer(), make.user()
    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    listing = split_listing(make, owner, brand, designer, amount=1001)
    fan = make.user()
    headers = bearer_for(make, fan)
    body = buy(client, headers, listing)
    assert (balance_of(owner), balance_of(brand=brand), balance_of(designer), platform()) == (601, 200, 100, 100)
    # a replayed payment event posts nothing more
    assert deliver(client, local_gateway.completed_event(order_row(body["id"]))).status_code == 200
    assert db.session.scalar(select(db.func.count(LedgerTransaction.id))) == 1

    operator = make.operator()
    op_headers = bearer_for(make, operator)
    response = client.post(f"/api/v1/orders/{body['id']}/refunds", json={"reason": "duplicate purchase"}, headers=op_headers)
    assert response.status_code == 201, response.get_json()
    assert (balance_of(owner), balance_of(brand=brand), balance_of(designer), platform()) == (0, 0, 0, 0)
    check = ledger.check_ledger()
    assert check.sums_to_zero and check.total("CNY", AccountKind.REFUNDS) == 1001


def test_a_chargeback_reverses_in_proportion_once_and_flags_the_order(client, make):
    streamer = make.streamer()
    listing = published(make, streamer, amount=1000)
    body = buy(client, bearer_for(make, make.user()), listing)
    order = order_row(body["id"])
    dispute = {"id": "dp_1", "object": "dispute", "amount": 500, "currency": "cny",
               "payment_intent": order.payment_reference, "charge": "ch_1"}
    event = {"id": "evt_dispute_1", "type": "charge.dispute.created", "data": {"object": dispute}}
    assert deliver(client, event).status_code == 200
    again = dict(event, id="evt_dispute_1_again")
    assert deliver(client, again).status_code == 200
    assert (balance_of(streamer), platform()) == (450, 50)
    assert order_row(body["id"]).needs_attention
    assert ledger.check_ledger().sums_to_zero


def test_a_reported_gateway_fee_comes_out_of_the_platform_by_default(client, make):
    streamer = make.streamer()
    listing = published(make, streamer, amount=1000)
    body = buy(client, bearer_for(make, make.user()), listing)
    order = order_row(body["id"])
    charge = {"id": "ch_1", "object": "charge", "payment_intent": order.payment_reference,
              "metadata": {"order_id": str(order.id)}, "balance_transaction": {"id": "txn_1", "fee": 59}}
    for event_id in ("evt_charge_1", "evt_charge_2"):
        assert deliver(client, {"id": event_id, "type": "charge.succeeded", "data": {"object": charge}}).status_code == 200
    assert (balance_of(streamer), platform()) == (900, 41)
    assert ledger.check_ledger().total("CNY", AccountKind.GATEWAY_CLEARING) == -941


def test_postings_must_balance_and_are_never_changed(make):
    now = utcnow()
    user = make.user()
    with pytest.raises(LedgerError):
        ledger.post("bad", "adjustment", "CNY", [Posting(ledger.payable("CNY", user.id), 5),
                                                 Posting(ledger.platform_revenue("CNY"), -4)], now)
    assert ledger.post("adj:1", "adjustment", "CNY", [Posting(ledger.payable("CNY", user.id), 5),
                                                      Posting(ledger.platform_revenue("CNY"), -5)], now)
    assert ledger.post("adj:1", "adjustment", "CNY", [Posting(ledger.payable("CNY", user.id), 7),
                                                      Posting(ledger.platform_revenue("CNY"), -7)], now) is None
    db.session.commit()
    entry = db.session.scalars(select(LedgerEntry)).first()
    entry.amount = 6
    with pytest.raises(ImmutableLedger):
        db.session.flush()
    db.session.rollback()
    with pytest.raises(ImmutableLedger):
        db.session.execute(update(LedgerEntry).values(amount=1))
    db.session.rollback()
    entry = db.session.scalars(select(LedgerEntry)).first()
    db.session.delete(entry)
    with pytest.raises(ImmutableLedger):
        db.session.flush()
    db.session.rollback()
    assert balance_of(user) == 5


@pytest.mark.skipif(not ON_POSTGRES, reason="the trigger is PostgreSQL's")
def test_postgresql_refuses_changing_a_ledger_row_even_in_plain_sql(make):
    user = make.user()
    ledger.post("adj:2", "adjustment", "CNY", [Posting(ledger.payable("CNY", user.id), 5),
                                               Posting(ledger.platform_revenue("CNY"), -5)], utcnow())
    db.session.commit()
    for statement in ("UPDATE ledger_entries SET amount = amount + 1", "DELETE FROM ledger_entries",
                      "DELETE FROM ledger_transactions"):
        with pytest.raises(DBAPIError, match="immutable"):
            db.session.execute(text(statement))
        db.session.rollback()
    assert balance_of(user) == 5


def test_shipping_goes_whole_to_the_shipper_and_a_refund_gives_it_back(client, make):
    from marketplace.payments import local_gateway
    from tests.shipping_support import ADDRESS, add_merch, merch, profile

    streamer = make.streamer()
    hoodie = merch(make, streamer, profile(streamer).id, amount=5000)  # 10.00 CNY shipping to CN
    fan_headers = bearer_for(make, make.user())
    add_merch(client, fan_headers, hoodie)
    response = client.post("/api/v1/orders", json={"currency": "CNY", "shipping_address": ADDRESS}, headers=fan_headers)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["total"]["amount"] == 6000
    assert deliver(client, local_gateway.completed_event(order_row(body["id"]))).status_code == 200

    # the split shares the goods (90% of 50.00); the shipping is the streamer's alone
    assert (balance_of(streamer), platform()) == (4500 + 1000, 500)
    assert ledger.check_ledger().total("CNY", AccountKind.GATEWAY_CLEARING) == -6000

    response = client.post(f"/api/v1/orders/{body['id']}/refunds", json={"reason": "never arrived"},
                           headers=bearer_for(make, streamer))
    assert response.status_code == 201, response.get_json()
    assert response.get_json()["refunds"][-1]["amount"]["amount"] == 6000
    assert (balance_of(streamer), platform()) == (0, 0)
    check = ledger.check_ledger()
    assert check.sums_to_zero and check.total("CNY", AccountKind.REFUNDS) == 6000


def test_a_co_brand_that_ships_is_paid_the_shipping(client, make):
    from marketplace.catalog import services as catalog
    from marketplace.merch.models import Variant
    from marketplace.payments import local_gateway
    from tests.shipping_support import ADDRESS, add_merch, profile

    owner = make.streamer()
    member = make.brand_member("Glow Co")
    brand = member.memberships[0].brand
    listing = make.listing(owner, kind="merch", prices=[{"currency": "CNY", "amount": 1000}],
                           shipping_profile_id=profile(owner).id)
    db.session.add(Variant(listing_id=listing.id, sku="TEE-M", options={"size": "M"}, position=0, is_active=True))
    now = utcnow()
    split = splits.set_split(owner, listing, [{"user_id": owner.id, "role": "creator", "bp": 6000},
                                              {"brand_id": brand.id, "role": "co_brand", "bp": 3000}], now)
    split.fulfilled_by = "co_brand"
    for party in split.waiting_for:
        splits.accept_share(member, party.id, now)
    operator = make.operator()
    catalog.submit_listing(owner, listing)
    catalog.approve_listing(operator, listing)
    catalog.publish_listing(owner, listing)
    db.session.commit()

    fan_headers = bearer_for(make, make.user())
    add_merch(client, fan_headers, listing)
    body = client.post("/api/v1/orders", json={"currency": "CNY", "shipping_address": ADDRESS},
                       headers=fan_headers).get_json()
    assert deliver(client, local_gateway.completed_event(order_row(body["id"]))).status_code == 200
    assert (balance_of(owner), balance_of(brand=brand), platform()) == (600, 300 + 1000, 100)
