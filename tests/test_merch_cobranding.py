"""Co-branding through the API and the brand's pages: a streamer invites a brand to co-brand a merch listing with a
proposed split; a member of the brand accepts (the listing can then be submitted and shows both names) or declines
with a comment (submission stays refused); other brands and strangers are refused with nothing changed."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.errors import ValidationFailed
from app.extensions import db
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing, ListingPartner, ListingStatus
from marketplace.merch import services as merch_services
from marketplace.royalties.models import RoyaltySplit, SplitParty, SplitStatus
from tests.api_support import assert_problem, bearer_for
from tests.page_support import logged_in, text_of


def merch_draft(make, owner, title="Tour hoodie"):
    """A draft merch listing with one variant (so only its split can keep it from review)."""
    listing = make.listing(owner, kind="merch", title=title)
    merch_services.create_variant(owner, listing.id, {"sku": f"HOOD-{listing.id}", "options": {"size": "M"}, "stock": 5})
    db.session.commit()
    return listing


@pytest.fixture
def cast(make):
    owner = make.streamer()
    member = make.brand_member("Glow Co")
    other = make.brand_member("Other Brand")
    return {"owner": owner, "member": member, "brand": member.memberships[0].brand, "other": other,
            "other_brand": other.memberships[0].brand, "listing": merch_draft(make, owner), "stranger": make.user()}


def invite(client, make, cast, **body):
    payload = {"brand_id": cast["brand"].id, "brand_bp": 2000, **body}
    return client.post(f"/api/v1/listings/{cast['listing'].id}/cobranding", json=payload,
                       headers=bearer_for(make, cast["owner"]))


def counts() -> tuple[int, int, int]:
    return (db.session.scalar(select(func.count(RoyaltySplit.id))),
            db.session.scalar(select(func.count(SplitParty.id)).where(SplitParty.accepted_at.is_not(None))),
            db.session.scalar(select(func.count()).select_from(ListingPartner)))


def submit(listing_id, owner):
    db.session.expire_all()
    listing = db.session.get(Listing, listing_id)
    catalog.submit_listing(owner, listing)
    db.session.commit()
    return listing


def test_an_accepted_co_branding_lets_the_listing_be_submitted_and_shows_both_names(client, make, cast):
    response = invite(client, make, cast, fulfilled_by="co_brand")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    pending = body["pending"]
    assert pending["fulfilled_by"] == "co_brand" and pending["status"] == "proposed"
    assert [(p["user_id"], p["brand_id"], p["role"], p["bp"], p["accepted"]) for p in pending["parties"]] == [
        (cast["owner"].id, None, "creator", 7000, True), (None, cast["brand"].id, "co_brand", 2000, False)]
    # waiting for the brand: no submission yet
    with pytest.raises(ValidationFailed) as refused:
        submit(cast["listing"].id, cast["owner"])
    assert "Glow Co" in refused.value.errors["split"][0]
    db.session.rollback()

    member = bearer_for(make, cast["member"])
    listed = client.get(f"/api/v1/brands/{cast['brand'].id}/cobranding-invitations", headers=member)
    assert listed.status_code == 200
    [item] = listed.get_json()["items"]
    assert item["state"] == "pending" and item["bp"] == 2000 and item["listing"]["id"] == cast["listing"].id
    assert item["split"]["fulfilled_by"] == "co_brand"

    accepted = client.post(f"/api/v1/cobranding-invitations/{item['id']}/accept", headers=member)
    assert accepted.status_code == 200, accepted.get_json()
    assert accepted.get_json()["split_status"] == "active"

    listing = submit(cast["listing"].id, cast["owner"])
    assert listing.status == ListingStatus.SUBMITTED
    assert [brand.name for brand in listing.partner_brands] == ["Glow Co"]
    split = client.get(f"/api/v1/listings/{listing.id}/split", headers=member).get_json()
    assert split["fulfilled_by"] == "co_brand" and split["version"] == 1
    again = client.get(f"/api/v1/brands/{cast['brand'].id}/cobranding-invitations", headers=member).get_json()
    assert again["items"][0]["state"] == "accepted"

    reviewer = make.operator()
    catalog.approve_listing(reviewer, listing)
    catalog.publish_listing(cast["owner"], listing)
    db.session.commit()
    page = text_of(client.get(f"/listings/{listing.slug}"))
    assert f"{cast['owner'].creator_profile.display_name} × Glow Co" in page


def test_a_declined_co_branding_keeps_its_comment_and_the_listing_from_review(client, make, cast):
    assert invite(client, make, cast).status_code == 201
    member = bearer_for(make, cast["member"])
    [item] = client.get(f"/api/v1/brands/{cast['brand'].id}/cobranding-invitations", headers=member).get_json()["items"]
    declined = client.post(f"/api/v1/cobranding-invitations/{item['id']}/decline",
                           json={"comment": "Our logo is too small."}, headers=member)
    assert declined.status_code == 200 and declined.get_json()["split_status"] == "withdrawn"
    [item] = client.get(f"/api/v1/brands/{cast['brand'].id}/cobranding-invitations", headers=member).get_json()["items"]
    assert item["state"] == "declined" and item["comment"] == "Our logo is too small."
    assert db.session.scalar(select(RoyaltySplit.note)) == "Our logo is too small."
    assert counts()[2] == 0  # no partner on a decline
    # answering again: the version no longer waits
    assert_problem(client.post(f"/api/v1/cobranding-invitations/{item['id']}/accept", headers=member), 409)
    # a withdrawn invitation does not block submission by itself, but the brand is not a partner either
    listing = submit(cast["listing"].id, cast["owner"])
    assert listing.status == ListingStatus.SUBMITTED and listing.partner_brands == []


def test_a_pending_co_branding_refuses_submission_through_the_api(make, cast, client):
    assert invite(client, make, cast).status_code == 201
    response = client.post(f"/api/v1/listings/{cast['listing'].id}/submit", headers=bearer_for(make, cast["owner"]))
    assert "Glow Co" in assert_problem(response, 422)["detail"]
    db.session.expire_all()
    assert db.session.get(Listing, cast["listing"].id).status == ListingStatus.DRAFT


def test_members_of_another_brand_and_strangers_cannot_answer_or_list(client, make, cast):
    assert invite(client, make, cast).status_code == 201
    party_id = db.session.scalar(select(SplitParty.id).where(SplitParty.brand_id == cast["brand"].id))
    before = counts()
    for user in (cast["other"], cast["stranger"], cast["owner"]):
        headers = bearer_for(make, user)
        assert_problem(client.post(f"/api/v1/cobranding-invitations/{party_id}/accept", headers=headers), 404)
        assert_problem(client.post(f"/api/v1/cobranding-invitations/{party_id}/decline", json={"comment": "no"},
                                   headers=headers), 404)
    assert_problem(client.get(f"/api/v1/brands/{cast['brand'].id}/cobranding-invitations",
                              headers=bearer_for(make, cast["other"])), 403)
    assert_problem(client.get("/api/v1/brands/999999/cobranding-invitations", headers=bearer_for(make, cast["other"])), 404)
    # the owner's own share is not a co-branding invitation either
    owner_party = db.session.scalar(select(SplitParty.id).where(SplitParty.user_id == cast["owner"].id))
    assert_problem(client.post(f"/api/v1/cobranding-invitations/{owner_party}/accept",
                               headers=bearer_for(make, cast["member"])), 404)
    db.session.expire_all()
    assert counts() == before
    assert db.session.scalar(select(RoyaltySplit.status)) == SplitStatus.PROPOSED


def test_invitation_refusals(client, make, cast):
    before = counts()
    # the co-brand cannot ship when the split names no co-brand
    put = client.put(f"/api/v1/listings/{cast['listing'].id}/split", headers=bearer_for(make, cast["owner"]), json={
        "parties": [{"user_id": cast["owner"].id, "role": "creator", "bp": 9000}], "fulfilled_by": "co_brand"})
    assert "fulfilled_by" in assert_problem(put, 422)["detail"]
    assert_problem(client.put(f"/api/v1/listings/{cast['listing'].id}/split", headers=bearer_for(make, cast["owner"]),
                              json={"parties": [{"user_id": cast["owner"].id, "role": "creator", "bp": 9000}],
                                    "fulfilled_by": "the_moon"}), 422)
    # a share that leaves the streamer below zero, a brand that does not exist, not a number
    assert_problem(invite(client, make, cast, brand_bp=9500), 422)
    assert_problem(invite(client, make, cast, brand_id=999999), 422)
    assert_problem(invite(client, make, cast, brand_bp="lots"), 422)
    # not the owner; not merch
    response = client.post(f"/api/v1/listings/{cast['listing'].id}/cobranding", json={"brand_id": cast["brand"].id,
                           "brand_bp": 1000}, headers=bearer_for(make, cast["member"]))
    assert response.status_code in (403, 404)
    course = make.listing(cast["owner"], kind="course")
    response = client.post(f"/api/v1/listings/{course.id}/cobranding", json={"brand_id": cast["brand"].id,
                           "brand_bp": 1000}, headers=bearer_for(make, cast["owner"]))
    assert_problem(response, 422)
    db.session.expire_all()
    assert counts() == before


def test_the_split_api_reports_who_ships(client, make, cast):
    body = client.get(f"/api/v1/listings/{cast['listing'].id}/split", headers=bearer_for(make, cast["owner"])).get_json()
    assert body["fulfilled_by"] == "creator"


# ---------------------------------------------------------------- pages

def test_the_brand_page_lists_invitations_and_answers_with_a_comment(app, make, cast, client):
    owner = logged_in(app, make, cast["owner"])
    page = owner.get(f"/dashboard/listings/{cast['listing'].id}/cobranding")
    assert page.status_code == 200 and "Invite a brand" in text_of(page)
    refused = owner.post(f"/dashboard/listings/{cast['listing'].id}/cobranding",
                         data={"brand": "no-such-brand", "share": "20", "fulfilled_by": "creator"})
    assert refused.status_code == 422 and "no-such-brand" in text_of(refused)
    sent = owner.post(f"/dashboard/listings/{cast['listing'].id}/cobranding",
                      data={"brand": "Glow Co", "share": "15", "fulfilled_by": "co_brand"})
    assert sent.status_code == 302

    member = logged_in(app, make, cast["member"])
    brand_id = cast["brand"].id
    page = member.get(f"/dashboard/brands/{brand_id}/cobranding")
    assert page.status_code == 200 and "Tour hoodie" in text_of(page) and "15%" in text_of(page)
    assert member.get("/dashboard/cobranding").status_code == 302
    party_id = db.session.scalar(select(SplitParty.id).where(SplitParty.brand_id == brand_id))

    other = logged_in(app, make, cast["other"])
    assert other.get(f"/dashboard/brands/{brand_id}/cobranding").status_code == 403
    other_brand = cast["other_brand"].id
    assert other.post(f"/dashboard/brands/{other_brand}/cobranding/{party_id}/decline", data={"comment": "x"}).status_code == 404
    assert other.post(f"/dashboard/brands/{brand_id}/cobranding/{party_id}/accept").status_code == 403
    db.session.expire_all()
    assert db.session.scalar(select(RoyaltySplit.status)) == SplitStatus.PROPOSED

    too_long = member.post(f"/dashboard/brands/{brand_id}/cobranding/{party_id}/decline", data={"comment": "x" * 600})
    assert too_long.status_code == 422
    declined = member.post(f"/dashboard/brands/{brand_id}/cobranding/{party_id}/decline",
                           data={"comment": "Not this season."}, follow_redirects=True)
    assert declined.status_code == 200 and "Not this season." in text_of(declined)
    db.session.expire_all()
    assert db.session.scalar(select(RoyaltySplit.status)) == SplitStatus.WITHDRAWN


def test_the_split_page_sets_who_ships_for_merch_only_with_a_co_brand(app, make, cast):
    owner = logged_in(app, make, cast["owner"])
    page = owner.get(f"/dashboard/listings/{cast['listing'].id}/split")
    assert page.status_code == 200 and 'name="fulfilled_by"' in text_of(page)
    assert "Invite a brand to co-brand" in text_of(page)
    form = {"rows": "2", "party-0": cast["owner"].email, "role-0": "creator", "share-0": "90",
            "gateway_fee_bearer": "platform", "fulfilled_by": "co_brand"}
    refused = owner.post(f"/dashboard/listings/{cast['listing'].id}/split", data=form)
    assert refused.status_code == 422 and "Only a split with a co-brand can have the co-brand ship." in text_of(refused)
    assert counts()[0] == 0
    form.update({"party-1": cast["brand"].slug, "role-1": "co_brand", "share-1": "20", "share-0": "70"})
    assert owner.post(f"/dashboard/listings/{cast['listing'].id}/split", data=form).status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(RoyaltySplit.fulfilled_by)) == "co_brand"
    # a course has nobody to ship: no such choice on its page
    course = make.listing(cast["owner"], kind="course")
    assert 'name="fulfilled_by"' not in text_of(owner.get(f"/dashboard/listings/{course.id}/split"))
