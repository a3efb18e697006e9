"""The listings API: browsing, creating and editing, the review workflow, covers, and every refusal."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.accounts import services as accounts
from app.extensions import db
from marketplace.catalog.models import Listing
from tests.api_support import assert_problem, bearer_for

LISTING_KEYS = {
    "id", "kind", "title", "slug", "description", "status", "tags", "prices", "creator", "cover_url",
    "thumbnail_url", "partners", "rejection_reason", "created_at", "updated_at", "published_at", "url",
    "shipping_profile_id",
}


def listing_count() -> int:
    return db.session.scalar(select(func.count()).select_from(Listing))


def new_listing(**overrides) -> dict:
    data = {
        "kind": "course",
        "title": "Night owl stickers",
        "description": "Twelve owls.",
        "tags": ["owls", "cute"],
        "prices": [{"currency": "CNY", "amount": 1200}, {"currency": "USD", "amount": 199}],
    }
    data.update(overrides)
    return data


def upload(client, listing_id, data: bytes, headers, filename="cover.png"):
    import io

    return client.put(
        f"/api/v1/listings/{listing_id}/cover",
        data={"cover": (io.BytesIO(data), filename)},
        headers=headers,
        content_type="multipart/form-data",
    )


# ---------------------------------------------------------------- browsing

def test_browse_shows_only_published_listings_to_anyone(client, make):
    mia = make.streamer(handle="mia")
    shown = make.listing(mia, status="published", title="Shown")
    for status in ("draft", "submitted", "approved", "rejected", "archived"):
        make.listing(mia, status=status)

    response = client.get("/api/v1/listings")

    assert response.status_code == 200
    body = response.get_json()
    assert [item["id"] for item in body["items"]] == [shown.id]
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 12, 1, 1)


def test_browse_filters_by_kind_and_creator(client, make):
    mia, bo = make.streamer(handle="mia"), make.streamer(handle="bob")
    stickers = make.listing(mia, status="published")
    merch = make.listing(mia, status="published", kind="merch")
    bo_stickers = make.listing(bo, status="published")

    by_kind = client.get("/api/v1/listings?kind=merch").get_json()["items"]
    by_creator = client.get("/api/v1/listings?creator=mia").get_json()["items"]
    both = client.get("/api/v1/listings?creator=bob&kind=course").get_json()["items"]

    assert [item["id"] for item in by_kind] == [merch.id]
    assert {item["id"] for item in by_creator} == {stickers.id, merch.id}
    assert [item["id"] for item in both] == [bo_stickers.id]


def test_browse_by_unknown_creator_is_empty(client, make):
    make.listing(make.streamer(), status="published")

    body = client.get("/api/v1/listings?creator=nobody_here").get_json()

    assert body["items"] == [] and body["total"] == 0


def test_browse_pages_through_results(client, make):
    mia = make.streamer()
    for _ in range(3):
        make.listing(mia, status="published")

    body = client.get("/api/v1/listings?page=2&per_page=2").get_json()

    assert len(body["items"]) == 1
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (2, 2, 3, 2)


@pytest.mark.parametrize(
    "query, field",
    [("kind=spaceship", "kind"), ("per_page=51", "per_page"), ("page=0", "page"), ("page=two", "page")],
)
def test_browse_with_bad_query_is_422_naming_the_parameter(client, query, field):
    body = assert_problem(client.get(f"/api/v1/listings?{query}"), 422)

    assert field in body["errors"]


def test_listing_representation_has_exactly_the_documented_fields(client, make):
    mia = make.streamer(handle="mia")
    make.brand_member(brand_name="Acme Lights")
    listing = make.listing(mia, status="published", slug="owls", partners=["acme-lights"])

    body = client.get(f"/api/v1/listings/{listing.id}").get_json()

    assert set(body) == LISTING_KEYS
    assert body["slug"] == "owls" and body["status"] == "published" and body["kind"] == "course"
    assert body["prices"] == [{"currency": "CNY", "amount": 1200}]
    assert body["tags"] == ["cats", "cute"]
    assert body["partners"] == [{"slug": "acme-lights", "name": "Acme Lights"}]
    assert body["creator"] == {"handle": "mia", "display_name": mia.creator_profile.display_name,
                               "url": "http://localhost/@mia"}
    assert body["url"] == "http://localhost/listings/owls"
    assert body["cover_url"] is None and body["thumbnail_url"] is None and body["rejection_reason"] is None
    assert body["published_at"] is not None


# ---------------------------------------------------------------- creating

def test_streamer_creates_a_draft_listing(client, make):
    mia = make.streamer(handle="mia")
    make.brand_member(brand_name="Acme Lights")

    response = client.post("/api/v1/listings", json=new_listing(partners=["acme-lights"]), headers=bearer_for(make, mia))

    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "draft"
    assert body["slug"] == "night-owl-stickers"
    assert body["prices"] == [{"currency": "CNY", "amount": 1200}, {"currency": "USD", "amount": 199}]
    assert body["tags"] == ["cute", "owls"]
    assert body["partners"] == [{"slug": "acme-lights", "name": "Acme Lights"}]
    assert db.session.get(Listing, body["id"]).creator_id == mia.creator_profile.id


def test_fan_cannot_create_a_listing(client, make):
    assert_problem(client.post("/api/v1/listings", json=new_listing(), headers=bearer_for(make, make.user())), 403)
    assert listing_count() == 0


def test_anonymous_cannot_create_a_listing(client):
    assert_problem(client.post("/api/v1/listings", json=new_listing()), 401)


@pytest.mark.parametrize(
    "changes, field",
    [
        ({"prices": [{"currency": "CNY", "amount": "12"}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": 12.5}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": True}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": 0}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": -5}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": 10**12}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": 100}, {"currency": "XYZ", "amount": 100}]}, "prices.1.currency"),
        ({"prices": [{"currency": "CNY", "amount": 100}, {"currency": "cny", "amount": 200}]}, "prices.1.currency"),
        ({"prices": ["12.00"]}, "prices.0"),
        ({"prices": []}, "prices"),
        ({"prices": "1200"}, "prices"),
        ({"tags": "x"}, "tags"),
        ({"tags": ["x" * 41]}, "tags"),
        ({"title": "x" * 500}, "title"),
        ({"title": "   "}, "title"),
        ({"title": 42}, "title"),
        ({"kind": "spaceship"}, "kind"),
        ({"slug": "Not A Slug!"}, "slug"),
        ({"partners": ["no-such-brand"]}, "partners"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_listing_with_bad_input_is_422_naming_the_field(client, make, changes, field):
    mia = make.streamer()

    response = client.post("/api/v1/listings", json=new_listing(**changes), headers=bearer_for(make, mia))

    assert field in assert_problem(response, 422)["errors"]
    assert listing_count() == 0


def test_create_listing_without_prices_is_422_naming_prices(client, make):
    data = new_listing()
    del data["prices"]

    response = client.post("/api/v1/listings", json=data, headers=bearer_for(make, make.streamer()))

    assert "prices" in assert_problem(response, 422)["errors"]


def test_create_listing_with_a_slug_already_taken_is_422_naming_slug(client, make):
    mia = make.streamer()
    make.listing(make.streamer(), slug="owls")

    response = client.post("/api/v1/listings", json=new_listing(slug="owls"), headers=bearer_for(make, mia))

    assert "slug" in assert_problem(response, 422)["errors"]
    assert listing_count() == 1


@pytest.mark.parametrize("body", ['{"kind": "merch",', "[1, 2", "not json at all"])
def test_create_listing_with_malformed_json_is_a_4xx_problem(client, make, body):
    response = client.post("/api/v1/listings", data=body, content_type="application/json", headers=bearer_for(make, make.streamer()))

    assert_problem(response, 400)


def test_create_listing_with_a_json_array_body_is_422(client, make):
    response = client.post("/api/v1/listings", json=[new_listing()], headers=bearer_for(make, make.streamer()))

    assert_problem(response, 422)


# ---------------------------------------------------------------- reading one

def test_anyone_can_read_a_published_listing(client, make):
    listing = make.listing(make.streamer(), status="published")

    assert client.get(f"/api/v1/listings/{listing.id}").status_code == 200
    assert client.get(f"/api/v1/listings/{listing.id}", headers=bearer_for(make, make.user())).status_code == 200


@pytest.mark.parametrize("status", ["draft", "submitted", "approved", "rejected", "archived"])
def test_unpublished_listing_is_404_for_anonymous_fans_and_other_streamers(client, make, status):
    listing = make.listing(make.streamer(), status=status)

    assert_problem(client.get(f"/api/v1/listings/{listing.id}"), 404)
    assert_problem(client.get(f"/api/v1/listings/{listing.id}", headers=bearer_for(make, make.user())), 404)
    assert_problem(client.get(f"/api/v1/listings/{listing.id}", headers=bearer_for(make, make.streamer())), 404)


def test_owner_and_operator_can_read_a_draft(client, make):
    mia = make.streamer()
    listing = make.listing(mia)

    mine = client.get(f"/api/v1/listings/{listing.id}", headers=bearer_for(make, mia))
    operators = client.get(f"/api/v1/listings/{listing.id}", headers=bearer_for(make, make.operator()))

    assert mine.status_code == 200 and mine.get_json()["status"] == "draft"
    assert operators.status_code == 200


def test_reading_a_listing_with_a_revoked_token_is_401(client, make):
    mia = make.streamer()
    listing = make.listing(mia, status="published")
    token, secret = accounts.create_api_token(mia, "old")
    accounts.revoke_api_token(mia, token.id)
    db.session.commit()

    assert_problem(client.get(f"/api/v1/listings/{listing.id}", headers={"Authorization": f"Bearer {secret}"}), 401)


def test_missing_listing_is_404_problem(client):
    assert_problem(client.get("/api/v1/listings/999999"), 404)


# ---------------------------------------------------------------- editing

def test_owner_edits_a_draft(client, make):
    mia = make.streamer()
    listing = make.listing(mia)

    response = client.patch(
        f"/api/v1/listings/{listing.id}",
        json={"title": "Owls, volume 2", "prices": [{"currency": "USD", "amount": 500}], "tags": ["owls"]},
        headers=bearer_for(make, mia),
    )

    assert response.status_code == 200
    body = response.get_json()
    assert body["title"] == "Owls, volume 2"
    assert body["prices"] == [{"currency": "USD", "amount": 500}]
    assert body["tags"] == ["owls"]
    assert body["description"] == "Twelve hand-drawn stickers."  # untouched


def test_editing_an_approved_listing_sends_it_back_to_draft(client, make):
    mia = make.streamer()
    listing = make.listing(mia, status="approved")

    body = client.patch(f"/api/v1/listings/{listing.id}", json={"title": "Changed"}, headers=bearer_for(make, mia)).get_json()

    assert body["status"] == "draft"


def test_other_streamer_editing_a_published_listing_is_403(client, make):
    listing = make.listing(make.streamer(), status="published", title="Original")

    response = client.patch(f"/api/v1/listings/{listing.id}", json={"title": "Mine now"}, headers=bearer_for(make, make.streamer()))

    assert_problem(response, 403)
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).title == "Original"


def test_operator_editing_someone_elses_draft_is_403(client, make):
    listing = make.listing(make.streamer())

    assert_problem(client.patch(f"/api/v1/listings/{listing.id}", json={"title": "X"}, headers=bearer_for(make, make.operator())), 403)


def test_other_streamer_editing_a_draft_they_cannot_see_is_404(client, make):
    listing = make.listing(make.streamer())

    assert_problem(client.patch(f"/api/v1/listings/{listing.id}", json={"title": "X"}, headers=bearer_for(make, make.streamer())), 404)


@pytest.mark.parametrize("status", ["submitted", "archived"])
def test_editing_while_under_review_or_archived_is_409(client, make, status):
    mia = make.streamer()
    listing = make.listing(mia, status=status)

    assert_problem(client.patch(f"/api/v1/listings/{listing.id}", json={"title": "X"}, headers=bearer_for(make, mia)), 409)


def test_editing_with_bad_input_is_422_and_changes_nothing(client, make):
    mia = make.streamer()
    listing = make.listing(mia, title="Original")

    response = client.patch(
        f"/api/v1/listings/{listing.id}",
        json={"title": "New title", "prices": [{"currency": "CNY", "amount": -5}]},
        headers=bearer_for(make, mia),
    )

    assert "prices.0.amount" in assert_problem(response, 422)["errors"]
    db.session.expire_all()
    stored = db.session.get(Listing, listing.id)
    assert stored.title == "Original" and [p.amount for p in stored.prices] == [1200]


def test_changing_the_kind_is_422_naming_kind(client, make):
    mia = make.streamer()
    listing = make.listing(mia)

    response = client.patch(f"/api/v1/listings/{listing.id}", json={"kind": "merch"}, headers=bearer_for(make, mia))

    assert "kind" in assert_problem(response, 422)["errors"]


def test_editing_to_a_slug_already_taken_is_422(client, make):
    mia = make.streamer()
    make.listing(mia, slug="taken")
    listing = make.listing(mia)

    response = client.patch(f"/api/v1/listings/{listing.id}", json={"slug": "taken"}, headers=bearer_for(make, mia))

    assert "slug" in assert_problem(response, 422)["errors"]


# ---------------------------------------------------------------- workflow

def test_listing_goes_from_draft_to_published_and_archived(client, make):
    mia, operator = make.streamer(), make.operator()
    mine, operators = bearer_for(make, mia), bearer_for(make, operator)
    listing_id = client.post("/api/v1/listings", json=new_listing(), headers=mine).get_json()["id"]

    submitted = client.post(f"/api/v1/listings/{listing_id}/submit", headers=mine)
    queue = client.get("/api/v1/review-queue", headers=operators).get_json()["items"]
    approved = client.post(f"/api/v1/listings/{listing_id}/approve", headers=operators)
    published = client.post(f"/api/v1/listings/{listing_id}/publish", headers=mine)
    public = client.get("/api/v1/listings").get_json()["items"]
    archived = client.post(f"/api/v1/listings/{listing_id}/archive", headers=mine)

    assert submitted.status_code == 200 and submitted.get_json()["status"] == "submitted"
    assert [item["id"] for item in queue] == [listing_id]
    assert approved.get_json()["status"] == "approved"
    assert published.get_json()["status"] == "published" and published.get_json()["published_at"]
    assert [item["id"] for item in public] == [listing_id]
    assert archived.get_json()["status"] == "archived"
    assert client.get("/api/v1/listings").get_json()["items"] == []


def test_operator_rejects_with_a_reason_the_creator_reads(client, make):
    mia = make.streamer()
    listing = make.listing(mia, status="submitted")

    response = client.post(
        f"/api/v1/listings/{listing.id}/reject", json={"reason": "The art is blurry."}, headers=bearer_for(make, make.operator())
    )

    assert response.status_code == 200
    assert response.get_json()["status"] == "rejected"
    mine = client.get(f"/api/v1/listings/{listing.id}", headers=bearer_for(make, mia)).get_json()
    assert mine["rejection_reason"] == "The art is blurry."


@pytest.mark.parametrize("body, field", [({}, "reason"), ({"reason": "  "}, "reason"), ({"reason": 5}, "reason")])
def test_reject_without_a_reason_is_422(client, make, body, field):
    listing = make.listing(make.streamer(), status="submitted")

    response = client.post(f"/api/v1/listings/{listing.id}/reject", json=body, headers=bearer_for(make, make.operator()))

    assert field in assert_problem(response, 422)["errors"]


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_owner_cannot_review_their_own_listing(client, make, action):
    mia = make.streamer()
    listing = make.listing(mia, status="submitted")

    response = client.post(f"/api/v1/listings/{listing.id}/{action}", json={"reason": "Mine"}, headers=bearer_for(make, mia))

    assert_problem(response, 403)


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_operator_who_streams_cannot_review_their_own_listing(client, make, action):
    operator = make.operator()
    accounts.become_streamer(operator, "op_mia", "Op Mia")
    db.session.commit()
    listing = make.listing(operator, status="submitted")

    response = client.post(f"/api/v1/listings/{listing.id}/{action}", json={"reason": "Fine"}, headers=bearer_for(make, operator))

    assert_problem(response, 403)


@pytest.mark.parametrize("action", ["submit", "approve", "reject", "publish", "archive"])
def test_fan_acting_on_a_published_listing_is_403(client, make, action):
    listing = make.listing(make.streamer(), status="published")

    response = client.post(f"/api/v1/listings/{listing.id}/{action}", json={"reason": "No"}, headers=bearer_for(make, make.user()))

    assert_problem(response, 403)


@pytest.mark.parametrize("action", ["submit", "approve", "publish", "archive"])
def test_acting_on_a_listing_one_cannot_see_is_404(client, make, action):
    listing = make.listing(make.streamer(), status="submitted")

    assert_problem(client.post(f"/api/v1/listings/{listing.id}/{action}", headers=bearer_for(make, make.streamer())), 404)


@pytest.mark.parametrize(
    "status, action, actor",
    [
        ("published", "submit", "owner"),
        ("submitted", "submit", "owner"),
        ("draft", "approve", "operator"),
        ("approved", "reject", "operator"),
        ("draft", "publish", "owner"),
        ("submitted", "publish", "owner"),
        ("submitted", "archive", "owner"),
        ("archived", "archive", "owner"),
    ],
)
def test_step_out_of_order_is_409(client, make, status, action, actor):
    mia = make.streamer()
    listing = make.listing(mia, status=status)
    who = mia if actor == "owner" else make.operator()

    response = client.post(f"/api/v1/listings/{listing.id}/{action}", json={"reason": "Because"}, headers=bearer_for(make, who))

    assert_problem(response, 409)
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).status == status


def test_workflow_without_a_token_is_401(client, make):
    listing = make.listing(make.streamer())

    assert_problem(client.post(f"/api/v1/listings/{listing.id}/submit"), 401)


def test_review_queue_is_for_operators_only(client, make):
    make.listing(make.streamer(), status="submitted")

    assert_problem(client.get("/api/v1/review-queue", headers=bearer_for(make, make.streamer())), 403)
    assert_problem(client.get("/api/v1/review-queue"), 401)


# ---------------------------------------------------------------- covers

def test_owner_uploads_a_cover_and_gets_absolute_urls(client, make):
    mia = make.streamer()
    listing = make.listing(mia)

    response = upload(client, listing.id, make.png_bytes(size=(1200, 900)), bearer_for(make, mia))

    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["cover_url"].startswith("http://localhost/media/covers/")
    assert body["thumbnail_url"].startswith("http://localhost/media/covers/")
    image = client.get(body["cover_url"])
    assert image.status_code == 200 and image.mimetype == "image/webp"


def test_replacing_a_cover_removes_the_old_file(client, make):
    mia = make.streamer()
    listing = make.listing(mia)
    headers = bearer_for(make, mia)
    first = upload(client, listing.id, make.png_bytes(), headers).get_json()["cover_url"]

    second = upload(client, listing.id, make.png_bytes(color=(0, 0, 255)), headers).get_json()["cover_url"]

    assert second != first
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 200


@pytest.mark.parametrize("filename, data", [("notes.png", b"this is not an image"), ("empty.png", b"")])
def test_cover_that_is_not_an_image_is_422_naming_cover(client, make, filename, data):
    mia = make.streamer()
    listing = make.listing(mia)

    body = assert_problem(upload(client, listing.id, data, bearer_for(make, mia), filename), 422)

    assert "cover" in body["errors"]


def test_cover_decompression_bomb_is_422_naming_cover(client, make):
    mia = make.streamer()
    listing = make.listing(mia)
    bomb = make.png_bytes(size=(8000, 6000), mode="1", color=0)  # 48 million pixels in a few kilobytes

    body = assert_problem(upload(client, listing.id, bomb, bearer_for(make, mia)), 422)

    assert "cover" in body["errors"]
    db.session.expire_all()
    assert db.session.get(Listing, listing.id).cover_key is None


def test_cover_request_without_the_file_is_422_naming_cover(client, make):
    mia = make.streamer()
    listing = make.listing(mia)

    response = client.put(f"/api/v1/listings/{listing.id}/cover", data={"picture": "x"}, headers=bearer_for(make, mia),
                          content_type="multipart/form-data")

    assert "cover" in assert_problem(response, 422)["errors"]


def test_cover_upload_by_someone_else_is_refused(client, make):
    published = make.listing(make.streamer(), status="published")
    draft = make.listing(make.streamer())
    other = bearer_for(make, make.streamer())

    assert_problem(upload(client, published.id, make.png_bytes(), other), 403)
    assert_problem(upload(client, draft.id, make.png_bytes(), other), 404)


def test_cover_upload_while_under_review_is_409(client, make):
    mia = make.streamer()
    listing = make.listing(mia, status="submitted")

    assert_problem(upload(client, listing.id, make.png_bytes(), bearer_for(make, mia)), 409)


def test_cover_larger_than_the_upload_limit_is_413_problem(app, client, make, monkeypatch):
    mia = make.streamer()
    listing = make.listing(mia)
    headers = bearer_for(make, mia)
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 10_000)

    response = upload(client, listing.id, b"\0" * 20_000, headers)

    assert_problem(response, 413)
