"""Split rules through the API: the whole split as owner, party and operator read it; a proposed version that waits
for its parties and applies to later sales only; answering offered shares; an operator's platform fee; and every
refusal, with nothing stored."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.extensions import db
from marketplace.royalties import ledger, splits
from marketplace.royalties.models import RoyaltySplit, SplitStatus
from tests.api_support import assert_problem, bearer_for
from tests.conftest import ON_POSTGRES
from tests.order_support import buy


def versions() -> int:
    return db.session.scalar(select(func.count(RoyaltySplit.id)))


def split_url(listing) -> str:
    return f"/api/v1/listings/{listing.id}/split"


@pytest.fixture
def cast(make):
    """A streamer with a draft listing, a brand (and its member), a designer and a stranger."""
    owner = make.streamer()
    member = make.brand_member("Glow Co")
    return {
        "owner": owner, "member": member, "brand": member.memberships[0].brand, "designer": make.user(),
        "stranger": make.user(), "listing": make.listing(owner, kind="course"),
    }


def three_way(cast, owner_bp=6000, brand_bp=2000, designer_bp=1000) -> list[dict]:
    return [{"user_id": cast["owner"].id, "role": "creator", "bp": owner_bp},
            {"brand_id": cast["brand"].id, "role": "co_brand", "bp": brand_bp},
            {"user_id": cast["designer"].id, "role": "designer", "bp": designer_bp}]


def balance(user, currency="CNY") -> int:
    return next((m.amount for m in ledger.party_balances(user_id=user.id) if m.currency == currency), 0)


def test_a_listing_without_a_split_shows_the_default_streamer_share_and_the_platform_fee(client, make, cast):
    response = client.get(split_url(cast["listing"]), headers=bearer_for(make, cast["owner"]))
    assert response.status_code == 200
    body = response.get_json()
    assert body["default"] is True and body["version"] is None and body["pending"] is None
    assert body["platform"] == {"role": "platform", "bp": 1000} and body["platform_fee_bp"] == 1000
    assert [(p["user_id"], p["role"], p["bp"], p["accepted"]) for p in body["parties"]] == [
        (cast["owner"].id, "creator", 9000, True)]


def test_a_proposed_split_waits_for_every_party_then_becomes_the_current_one(client, make, cast):
    owner_headers = bearer_for(make, cast["owner"])
    response = client.put(split_url(cast["listing"]), json={"parties": three_way(cast)}, headers=owner_headers)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    # nothing changed for sales yet: the default is still what applies, the new version waits
    assert body["default"] is False and body["version"] is None
    pending = body["pending"]
    assert pending["version"] == 1 and pending["status"] == "proposed" and pending["platform"]["bp"] == 1000
    assert [(p["role"], p["bp"], p["accepted"]) for p in pending["parties"]] == [
        ("creator", 6000, True), ("co_brand", 2000, False), ("designer", 1000, False)]

    brand_offers = client.get("/api/v1/splits/offers", headers=bearer_for(make, cast["member"])).get_json()["items"]
    assert [(o["name"], o["bp"], o["listing"]["id"], o["proposed_by"]) for o in brand_offers] == [
        ("Glow Co", 2000, cast["listing"].id, cast["owner"].display_name)]
    assert len(brand_offers[0]["split"]["parties"]) == 3
    accepted = client.post(f"/api/v1/splits/offers/{brand_offers[0]['id']}/accept", headers=bearer_for(make, cast["member"]))
    assert accepted.status_code == 200 and accepted.get_json()["accepted"] is True
    assert accepted.get_json()["split_status"] == "proposed"  # the designer has not answered yet

    designer_headers = bearer_for(make, cast["designer"])
    (offer,) = client.get("/api/v1/splits/offers", headers=designer_headers).get_json()["items"]
    answer = client.post(f"/api/v1/splits/offers/{offer['id']}/accept", headers=designer_headers).get_json()
    assert answer["split_status"] == "active"
    assert client.get("/api/v1/splits/offers", headers=designer_headers).get_json()["items"] == []

    current = client.get(split_url(cast["listing"]), headers=owner_headers).get_json()
    assert (current["version"], current["status"], current["pending"], current["default"]) == (1, "active", None, False)
    assert all(p["accepted"] and p["accepted_at"] for p in current["parties"])


def test_a_split_of_the_streamer_alone_is_active_at_once(client, make, cast):
    response = client.put(split_url(cast["listing"]), headers=bearer_for(make, cast["owner"]), json={
        "parties": [{"user_id": cast["owner"].id, "role": "creator", "bp": 9000}], "gateway_fee_bearer": "shared"})
    body = response.get_json()
    assert response.status_code == 200, body
    assert (body["version"], body["status"], body["gateway_fee_bearer"], body["pending"]) == (1, "active", "shared", None)


def test_a_published_listings_new_split_applies_only_once_accepted_and_only_to_later_sales(client, make, cast):
    owner = cast["owner"]
    listing = make.listing(owner, status="published", kind="course", prices=[{"currency": "CNY", "amount": 1000}])
    response = client.put(split_url(listing), headers=bearer_for(make, owner), json={"parties": [
        {"user_id": owner.id, "role": "creator", "bp": 5000},
        {"user_id": cast["designer"].id, "role": "designer", "bp": 4000}]})
    assert response.status_code == 200
    fan_headers = bearer_for(make, make.user())
    buy(client, fan_headers, listing)
    assert (balance(owner), balance(cast["designer"])) == (900, 0)  # the waiting version is not used

    (offer,) = splits.waiting_shares(cast["designer"])
    splits.accept_share(cast["designer"], offer.id, utcnow())
    db.session.commit()
    buy(client, fan_headers, listing)
    assert (balance(owner), balance(cast["designer"])) == (1400, 400)


@pytest.mark.parametrize("parties, field", [
    (lambda c: three_way(c, owner_bp=6500), "parties"),  # 10500 with the fee
    (lambda c: three_way(c, owner_bp=5000), "parties"),  # 9000 with the fee
    (lambda c: three_way(c, owner_bp=8000, brand_bp=-1000), "parties.1.bp"),
    (lambda c: [{"user_id": 999999, "role": "creator", "bp": 9000}], "parties.0"),
    (lambda c: [{"user_id": c["owner"].id, "role": "creator", "bp": 7000},
                {"brand_id": 999999, "role": "co_brand", "bp": 2000}], "parties.1"),
    (lambda c: [{"user_id": c["owner"].id, "role": "creator", "bp": 4500},
                {"user_id": c["owner"].id, "role": "designer", "bp": 4500}], "parties.1"),
    (lambda c: [{"user_id": c["owner"].id, "brand_id": c["brand"].id, "role": "creator", "bp": 9000}], "parties.0"),
    (lambda c: [{"role": "creator", "bp": 9000}], "parties.0"),
    (lambda c: [{"user_id": c["owner"].id, "role": "creator", "bp": "9000"}], "parties.0.bp"),
    (lambda c: [{"user_id": c["owner"].id, "role": "creator", "bp": 90.0}], "parties.0.bp"),
    (lambda c: [{"user_id": c["owner"].id, "role": "creator", "bp": True}], "parties.0.bp"),
    (lambda c: [{"user_id": str(c["owner"].id), "role": "creator", "bp": 9000}], "parties.0.user_id"),
    (lambda c: [{"user_id": c["owner"].id, "role": "boss", "bp": 9000}], "parties.0.role"),
    (lambda c: [{"user_id": c["owner"].id, "role": "creator", "bp": 9000, "vip": True}], "parties.0.vip"),
    (lambda c: [], "parties"),
    (lambda c: "everyone", "parties"),
])
def test_bad_shares_are_refused_with_the_field_named_and_nothing_stored(client, make, cast, parties, field):
    body = assert_problem(client.put(split_url(cast["listing"]), json={"parties": parties(cast)},
                                     headers=bearer_for(make, cast["owner"])), 422)
    assert field in body["errors"], body["errors"]
    assert versions() == 0


@pytest.mark.parametrize("payload, field", [
    ({}, "parties"),
    ({"parties": [{"role": "creator", "bp": 9000}], "gateway_fee_bearer": "fans"}, "gateway_fee_bearer"),
    ({"parties": [], "note": "hi"}, "note"),
])
def test_a_malformed_split_body_is_refused(client, make, cast, payload, field):
    body = assert_problem(client.put(split_url(cast["listing"]), json=payload, headers=bearer_for(make, cast["owner"])), 422)
    assert field in body["errors"]
    assert versions() == 0


def test_only_the_owner_sets_a_split_of_a_listing_that_exists_and_is_not_archived(client, make, cast):
    parties = {"parties": [{"user_id": cast["owner"].id, "role": "creator", "bp": 9000}]}
    published = make.listing(cast["owner"], status="published")
    other_streamer = bearer_for(make, make.streamer())
    assert_problem(client.put(split_url(published), json=parties, headers=other_streamer), 403)
    assert_problem(client.put(split_url(cast["listing"]), json=parties, headers=other_streamer), 404)  # a draft: hidden
    assert_problem(client.put("/api/v1/listings/999999/split", json=parties, headers=bearer_for(make, cast["owner"])), 404)
    archived = make.listing(cast["owner"], status="archived")
    assert_problem(client.put(split_url(archived), json=parties, headers=bearer_for(make, cast["owner"])), 409)
    assert client.put(split_url(published), json=parties).status_code == 401
    assert versions() == 0


def test_parties_and_operators_read_a_split_and_nobody_else_does(client, make, cast):
    listing = cast["listing"]
    splits.set_split(cast["owner"], listing, three_way(cast), utcnow())
    db.session.commit()
    for reader in (cast["member"], cast["designer"], make.operator()):  # a draft, yet its parties see its split
        response = client.get(split_url(listing), headers=bearer_for(make, reader))
        assert response.status_code == 200 and response.get_json()["pending"]["version"] == 1
    assert_problem(client.get(split_url(listing), headers=bearer_for(make, cast["stranger"])), 404)
    published = make.listing(cast["owner"], status="published")
    assert_problem(client.get(split_url(published), headers=bearer_for(make, cast["stranger"])), 403)
    assert_problem(client.get("/api/v1/listings/999999/split", headers=bearer_for(make, cast["owner"])), 404)


def test_a_share_is_answered_only_by_its_party_and_only_while_it_waits(client, make, cast):
    split = splits.set_split(cast["owner"], cast["listing"], three_way(cast), utcnow())
    db.session.commit()
    brand_share, designer_share = (p.id for p in split.waiting_for)
    for someone in (cast["stranger"], cast["designer"], cast["owner"]):
        assert_problem(client.post(f"/api/v1/splits/offers/{brand_share}/accept", headers=bearer_for(make, someone)), 404)
    assert_problem(client.post("/api/v1/splits/offers/999999/decline", json={},
                               headers=bearer_for(make, cast["member"])), 404)

    declined = client.post(f"/api/v1/splits/offers/{designer_share}/decline", json={"reason": "I asked for 15%"},
                           headers=bearer_for(make, cast["designer"]))
    assert declined.status_code == 200 and declined.get_json()["split_status"] == "withdrawn"
    assert db.session.get(RoyaltySplit, split.id).note == "I asked for 15%"
    # the version is gone for everyone: no offer left, a late answer is refused
    assert client.get("/api/v1/splits/offers", headers=bearer_for(make, cast["member"])).get_json()["items"] == []
    assert_problem(client.post(f"/api/v1/splits/offers/{brand_share}/accept", headers=bearer_for(make, cast["member"])), 409)
    assert client.get(split_url(cast["listing"]), headers=bearer_for(make, cast["owner"])).get_json()["pending"] is None


def test_a_decline_reason_longer_than_allowed_is_refused(client, make, cast):
    split = splits.set_split(cast["owner"], cast["listing"], three_way(cast), utcnow())
    db.session.commit()
    designer_share = split.waiting_for[1].id
    assert_problem(client.post(f"/api/v1/splits/offers/{designer_share}/decline", json={"reason": "x" * 501},
                               headers=bearer_for(make, cast["designer"])), 422)
    assert db.session.get(RoyaltySplit, split.id).status == SplitStatus.PROPOSED


def test_a_listing_whose_split_waits_cannot_be_submitted(client, make, cast):
    owner_headers = bearer_for(make, cast["owner"])
    client.put(split_url(cast["listing"]), json={"parties": three_way(cast)}, headers=owner_headers)
    response = client.post(f"/api/v1/listings/{cast['listing'].id}/submit", headers=owner_headers)
    assert response.status_code in (409, 422)
    assert "Glow Co" in response.get_json()["detail"] + str(response.get_json().get("errors"))


def test_an_operator_sets_the_platform_fee_and_the_streamers_share_absorbs_it(client, make, cast):
    listing = cast["listing"]
    splits.set_split(cast["owner"], listing, [{"user_id": cast["owner"].id, "role": "creator", "bp": 9000}], utcnow())
    db.session.commit()
    url = f"/api/v1/listings/{listing.id}/platform-fee"
    response = client.put(url, json={"bp": 1500}, headers=bearer_for(make, make.operator()))
    body = response.get_json()
    assert response.status_code == 200, body
    assert (body["version"], body["platform"]["bp"], body["parties"][0]["bp"]) == (2, 1500, 8500)
    # later splits carry the listing's fee: 9000 for the streamer no longer adds up
    bad = client.put(split_url(listing), json={"parties": [{"user_id": cast["owner"].id, "role": "creator", "bp": 9000}]},
                     headers=bearer_for(make, cast["owner"]))
    assert "8500" in assert_problem(bad, 422)["detail"]


def test_only_operators_set_a_platform_fee_within_range(client, make, cast):
    url = f"/api/v1/listings/{cast['listing'].id}/platform-fee"
    assert_problem(client.put(url, json={"bp": 500}, headers=bearer_for(make, cast["owner"])), 403)
    operator = bearer_for(make, make.operator())
    for bad in (-1, 10001, "500", 5.5, None):
        assert_problem(client.put(url, json={"bp": bad}, headers=operator), 422)
    assert_problem(client.put("/api/v1/listings/999999/platform-fee", json={"bp": 500}, headers=operator), 404)
    assert splits.platform_fee_bp(cast["listing"].id) == 1000
    assert versions() == 0


def test_an_operator_cannot_set_a_fee_the_streamers_share_cannot_absorb(client, make, cast):
    splits.set_split(cast["owner"], cast["listing"], three_way(cast, owner_bp=500, brand_bp=7500), utcnow())
    db.session.commit()
    response = client.put(f"/api/v1/listings/{cast['listing'].id}/platform-fee", json={"bp": 2000},
                          headers=bearer_for(make, make.operator()))
    assert_problem(response, 409)
    assert splits.platform_fee_bp(cast["listing"].id) == 1000 and versions() == 1


def test_the_split_endpoints_are_in_the_openapi_document(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {"get", "put"} <= set(paths["/api/v1/listings/{listing_id}/split"])
    assert "post" in paths["/api/v1/splits/offers/{party_id}/decline"]
    assert "put" in paths["/api/v1/listings/{listing_id}/platform-fee"]


def test_an_acceptance_carries_over_to_a_new_version_only_for_the_same_terms(client, make, cast):
    owner = cast["owner"]
    first = splits.set_split(owner, cast["listing"], three_way(cast), utcnow())
    brand_share = first.waiting_for[0]
    splits.accept_share(cast["member"], brand_share.id, utcnow())
    db.session.commit()
    # the designer's share changes: the brand agreed to exactly its 20% co-brand share already, the designer not
    second = splits.set_split(owner, cast["listing"], three_way(cast, owner_bp=5500, designer_bp=1500), utcnow())
    assert first.status == SplitStatus.WITHDRAWN
    assert [p.name for p in second.waiting_for] == [cast["designer"].display_name]
    # sharing payment fees changes what everyone receives: everyone else is asked again
    third = splits.set_split(owner, cast["listing"], three_way(cast, owner_bp=5500, designer_bp=1500), utcnow(),
                             gateway_fee_bearer="shared")
    assert [p.brand_id or p.user_id for p in third.waiting_for] == [cast["brand"].id, cast["designer"].id]


postgres_only = pytest.mark.skipif(not ON_POSTGRES, reason="row locks under concurrency: needs PostgreSQL")


@postgres_only
@pytest.mark.postgres_only
def test_two_parties_accepting_at_the_same_instant_activate_the_split(make, cast, live_server):
    tokens = {name: bearer_for(make, cast[name]) for name in ("member", "designer")}
    for round_number in range(5):
        listing = make.listing(cast["owner"], kind="course")
        split = splits.set_split(cast["owner"], listing, three_way(cast), utcnow())
        brand_share, designer_share = (p.id for p in split.waiting_for)
        split_id = split.id
        db.session.commit()
        answers = together(
            lambda: http_post(f"{live_server}/api/v1/splits/offers/{brand_share}/accept", {}, tokens["member"]),
            lambda: http_post(f"{live_server}/api/v1/splits/offers/{designer_share}/accept", {}, tokens["designer"]),
        )
        assert [status for status, _ in answers] == [200, 200], answers
        db.session.expire_all()
        assert db.session.get(RoyaltySplit, split_id).status == SplitStatus.ACTIVE, round_number
        db.session.commit()


@postgres_only
@pytest.mark.postgres_only
def test_two_proposals_at_the_same_instant_make_two_versions_the_later_replacing_the_earlier(make, cast, live_server):
    headers = bearer_for(make, cast["owner"])
    url = f"{live_server}/api/v1/listings/{cast['listing'].id}/split"
    bodies = [{"parties": three_way(cast, owner_bp=bp, designer_bp=7000 - bp)} for bp in (6000, 5000)]
    db.session.commit()
    answers = together(*[lambda body=body: http_put(url, body, headers) for body in bodies])
    assert [status for status, _ in answers] == [200, 200], answers
    history = splits.split_history(cast["listing"].id)
    assert [(v.version, v.status) for v in history] == [(2, SplitStatus.PROPOSED), (1, SplitStatus.WITHDRAWN)]


def together(*calls):
    """Run the calls in threads released at the same instant; answers their results in order."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return [future.result(timeout=60) for future in [pool.submit(run, call) for call in calls]]


def _send(method: str, url: str, payload: dict, headers: dict) -> tuple[int, str]:
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), method=method,
                                     headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def http_post(url: str, payload: dict, headers: dict) -> tuple[int, str]:
    return _send("POST", url, payload, headers)


def http_put(url: str, payload: dict, headers: dict) -> tuple[int, str]:
    return _send("PUT", url, payload, headers)


@pytest.mark.skipif(not ON_POSTGRES, reason="the rules read as JSON inside another statement: PostgreSQL only")
def test_the_rules_read_with_a_paid_orders_lock_are_the_rules_read_on_their_own(make, cast):
    """The webhook reads the lines' split rules inside the statement that locks the order (rule_rows_as_json):
    they must be what rules_for reads, for a listing with the default rule, one with a fee override and no split,
    and one whose three-party split replaced an earlier version."""
    from sqlalchemy import literal

    owner, operator, now = cast["owner"], make.operator(), utcnow()
    default_rule = make.listing(owner, kind="course")
    fee_only = make.listing(owner, kind="course")
    splits.set_platform_fee(operator, fee_only, 1500, now)
    shared = cast["listing"]
    splits.set_split(owner, shared, [{"user_id": owner.id, "role": "creator", "bp": 9000}], now)
    splits.set_split(owner, shared, three_way(cast), now)
    for party in (cast["member"], cast["designer"]):
        for offer in splits.waiting_shares(party):
            splits.accept_share(party, offer.id, now)
    db.session.commit()
    listing_ids = [default_rule.id, fee_only.id, shared.id]

    read_with_lock = [db.session.scalar(select(splits.rule_rows_as_json(literal(listing_id)))) for listing_id in listing_ids]
    rules = splits.rules_from_rows([row for rows in read_with_lock for row in rows])

    assert rules == splits.rules_for(listing_ids)
    assert [party.bp for party in rules[shared.id].parties] == [6000, 2000, 1000]
    assert rules[fee_only.id].platform_fee_bp == 1500 and rules[default_rule.id].platform_fee_bp == 1000
    assert db.session.scalar(select(splits.rule_rows_as_json(literal(999999)))) == []
