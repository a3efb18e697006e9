"""The split pages: the streamer proposes a split by email and brand slug in percent, sees it wait and become
current; refused forms come back with the input kept and the message at the row; parties answer offered shares;
an operator sets the platform fee; nobody else sees or changes a split."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.extensions import db
from marketplace.royalties import splits
from marketplace.royalties.models import RoyaltySplit, SplitStatus
from tests.page_support import logged_in, text_of


def versions() -> int:
    return db.session.scalar(select(func.count(RoyaltySplit.id)))


@pytest.fixture
def cast(make):
    owner = make.streamer(email="mia@example.com")
    member = make.brand_member("Glow Co", email="glow@example.com")
    return {"owner": owner, "member": member, "brand": member.memberships[0].brand,
            "designer": make.user(email="dee@example.com", display_name="Dee Designer"),
            "listing": make.listing(owner, kind="course", title="Night lighting course")}


def page_url(listing) -> str:
    return f"/dashboard/listings/{listing.id}/split"


def form(*rows, bearer="platform") -> dict:
    data = {"rows": "6", "gateway_fee_bearer": bearer}
    for index, (party, role, share) in enumerate(rows):
        data.update({f"party-{index}": party, f"role-{index}": role, f"share-{index}": share})
    return data


def test_the_split_page_shows_the_default_split_and_a_form_with_blank_rows(app, make, cast):
    client = logged_in(app, make, cast["owner"])
    response = client.get(page_url(cast["listing"]))
    page = text_of(response)
    assert response.status_code == 200
    assert "Night lighting course" in page and "No split has been agreed yet" in page
    assert "90%" in page and "10%" in page  # the streamer's share and the platform fee
    assert 'value="mia@example.com"' in page and 'name="party-5"' in page  # prefilled row, then blank rows
    assert "To share among the parties:" in page


def test_the_streamer_proposes_a_split_that_waits_for_the_brand_and_the_designer(app, make, cast):
    client = logged_in(app, make, cast["owner"])
    response = client.post(page_url(cast["listing"]), data=form(
        ("mia@example.com", "creator", "60"), (cast["brand"].slug, "co_brand", "20"), ("", "", ""),
        ("DEE@example.com", "designer", "10.00")), follow_redirects=True)
    page = text_of(response)
    assert response.status_code == 200
    assert "waiting for Glow Co, Dee Designer" in page and "Waiting for acceptance: version 1" in page
    pending = splits.proposed_split(cast["listing"].id)
    assert [(p.user_id, p.brand_id, p.role, p.bp) for p in pending.parties] == [
        (cast["owner"].id, None, "creator", 6000), (None, cast["brand"].id, "co_brand", 2000),
        (cast["designer"].id, None, "designer", 1000)]
    # the form starts from the version waiting
    assert f'value="{cast["brand"].slug}"' in page and 'value="dee@example.com"' in page


def test_a_split_of_the_streamer_alone_is_current_at_once(app, make, cast):
    client = logged_in(app, make, cast["owner"])
    response = client.post(page_url(cast["listing"]), data=form(("mia@example.com", "creator", "90")),
                           follow_redirects=True)
    page = text_of(response)
    assert "is active: it applies to sales from now on" in page and "Version 1, active since" in page


@pytest.mark.parametrize("rows, message", [
    ((("mia@example.com", "creator", "60"), ("glow-co-nope", "co_brand", "30")), "Nobody on Encore has the email or brand slug glow-co-nope"),
    ((("mia@example.com", "creator", "sixty"),), "Enter a share in percent"),
    ((("mia@example.com", "creator", "89.999"), ("dee@example.com", "designer", "0.001")), "at most two decimals"),
    ((("mia@example.com", "creator", "100"), ("dee@example.com", "designer", "-10")), "between 0% and 100%"),
    ((("mia@example.com", "", "90"),), "Choose a role"),
    ((("", "creator", "90"),), "Enter a user&#39;s email or a brand&#39;s slug"),
    ((("mia@example.com", "creator", "80"),), "The shares add up to 80%"),
    ((("mia@example.com", "creator", "45"), ("MIA@example.com", "designer", "45")), "Each party appears once"),
    ((), "Name at least one party"),
])
def test_a_refused_split_shows_the_form_again_with_the_input_kept(app, make, cast, rows, message):
    client = logged_in(app, make, cast["owner"])
    response = client.post(page_url(cast["listing"]), data=form(*rows))
    page = text_of(response)
    assert response.status_code == 422
    assert message in page
    for party, _role, share in rows:
        assert f'value="{party}"' in page and f'value="{share}"' in page
    assert versions() == 0


def test_a_published_listing_explains_that_a_change_applies_to_later_sales_once_accepted(app, make, cast):
    listing = make.listing(cast["owner"], status="published")
    page = text_of(logged_in(app, make, cast["owner"]).get(page_url(listing)))
    assert "applies to later sales only, and only once every party has accepted" in page


def test_nobody_but_the_owner_and_operators_sees_the_split_page(app, make, cast):
    published = make.listing(cast["owner"], status="published")
    stranger = logged_in(app, make, make.streamer())
    assert stranger.get(page_url(cast["listing"])).status_code == 404  # a draft is hidden
    assert stranger.get(page_url(published)).status_code == 403
    assert stranger.post(page_url(published), data=form(("mia@example.com", "creator", "90"))).status_code == 403
    assert versions() == 0
    operator = logged_in(app, make, make.operator())
    page = text_of(operator.get(page_url(cast["listing"])))
    assert "Platform fee (%)" in page and "Propose a new split" not in page
    anonymous = app.test_client().get(page_url(published))
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]


def test_an_archived_listing_shows_its_split_without_the_form_and_refuses_a_change(app, make, cast):
    archived = make.listing(cast["owner"], status="archived")
    client = logged_in(app, make, cast["owner"])
    assert "Propose a new split" not in text_of(client.get(page_url(archived)))
    response = client.post(page_url(archived), data=form(("mia@example.com", "creator", "90")))
    assert response.status_code == 409 and "archived" in text_of(response)
    assert versions() == 0


def test_an_operator_sets_the_platform_fee_in_percent(app, make, cast):
    splits.set_split(cast["owner"], cast["listing"], [{"user_id": cast["owner"].id, "role": "creator", "bp": 9000}], utcnow())
    db.session.commit()
    operator = logged_in(app, make, make.operator())
    for bad in ("abc", "101", "-1", "12.345"):
        response = operator.post(f"{page_url(cast['listing'])}/platform-fee", data={"fee": bad})
        assert response.status_code == 422 and "Enter a fee between 0% and 100%" in text_of(response)
        assert f'value="{bad}"' in text_of(response)
    response = operator.post(f"{page_url(cast['listing'])}/platform-fee", data={"fee": "12.5"}, follow_redirects=True)
    assert "now 12.5%" in text_of(response)
    active = splits.active_split(cast["listing"].id)
    assert (active.version, active.platform_fee_bp, active.parties[0].bp) == (2, 1250, 8750)
    owner = logged_in(app, make, cast["owner"])
    assert owner.post(f"{page_url(cast['listing'])}/platform-fee", data={"fee": "0"}).status_code == 403
    assert splits.platform_fee_bp(cast["listing"].id) == 1250


def test_parties_accept_and_decline_shares_on_the_offers_page(app, make, cast):
    split = splits.set_split(cast["owner"], cast["listing"], [
        {"user_id": cast["owner"].id, "role": "creator", "bp": 6000},
        {"brand_id": cast["brand"].id, "role": "co_brand", "bp": 2000},
        {"user_id": cast["designer"].id, "role": "designer", "bp": 1000}], utcnow())
    db.session.commit()
    brand_share, designer_share = (p.id for p in split.waiting_for)

    member = logged_in(app, make, cast["member"])
    page = text_of(member.get("/dashboard/splits"))
    assert "Night lighting course" in page and "Offered to your brand Glow Co as Co-brand by" in page
    assert "20%" in page and "Dee Designer" in page  # the whole split for context
    response = member.post(f"/dashboard/splits/{brand_share}/accept", follow_redirects=True)
    assert "The split applies once every party has accepted" in text_of(response)
    assert "No shares are waiting for your answer" in text_of(response)

    designer = logged_in(app, make, cast["designer"])
    assert designer.post(f"/dashboard/splits/{brand_share}/accept", follow_redirects=True).status_code == 200
    response = designer.post(f"/dashboard/splits/{designer_share}/decline", data={"reason": "I asked for 15%"},
                             follow_redirects=True)
    assert "You declined the share" in text_of(response)
    assert db.session.get(RoyaltySplit, split.id).status == SplitStatus.WITHDRAWN
    # the streamer sees the reason in the versions
    assert "Reason: I asked for 15%" in text_of(logged_in(app, make, cast["owner"]).get(page_url(cast["listing"])))
    # a late answer is refused with a message, not an error page
    response = member.post(f"/dashboard/splits/{brand_share}/decline", follow_redirects=True)
    assert "no longer waiting" in text_of(response)


def test_someone_elses_share_cannot_be_answered(app, make, cast):
    split = splits.set_split(cast["owner"], cast["listing"], [
        {"user_id": cast["owner"].id, "role": "creator", "bp": 8000},
        {"user_id": cast["designer"].id, "role": "designer", "bp": 1000}], utcnow())
    db.session.commit()
    (share,) = split.waiting_for
    stranger = logged_in(app, make, make.user())
    response = stranger.post(f"/dashboard/splits/{share.id}/accept", follow_redirects=True)
    assert "There is no such share waiting for you" in text_of(response)
    assert db.session.get(RoyaltySplit, split.id).status == SplitStatus.PROPOSED


def test_the_dashboard_links_each_listing_to_its_split_and_counts_offered_shares(app, make, cast):
    other = make.streamer()
    other_listing = make.listing(other, kind="course")
    splits.set_split(other, other_listing, [{"user_id": other.id, "role": "creator", "bp": 8000},
                                            {"user_id": cast["owner"].id, "role": "collaborator", "bp": 1000}], utcnow())
    db.session.commit()
    page = text_of(logged_in(app, make, cast["owner"]).get("/dashboard"))
    assert f'href="/dashboard/listings/{cast["listing"].id}/split"' in page and "Royalty split" in page
    assert 'href="/dashboard/splits"' in page and '<span class="badge info" aria-label="1 waiting">1</span>' in page
