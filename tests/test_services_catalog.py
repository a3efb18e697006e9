"""Catalog rules, exercised through the services that both the pages and the API call."""
import pytest

from app.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from app.extensions import db
from app.storage import get_storage
from marketplace.catalog import services as catalog
from marketplace.catalog.models import Listing, ListingStatus


def test_create_listing_stores_prices_tags_and_a_unique_slug(make):
    owner = make.streamer(handle="mia")
    first = catalog.create_listing(owner, make.listing_data(title="Cat Emotes", tags=[" Cute ", "cute", "CATS"]))
    second = catalog.create_listing(owner, make.listing_data(title="Cat Emotes"))
    db.session.commit()
    assert first.slug == "cat-emotes"
    assert second.slug.startswith("cat-emotes-") and second.slug != first.slug
    assert first.tag_names == ["cats", "cute"]
    assert [(p.currency, p.amount) for p in first.prices] == [("CNY", 1200)]
    assert first.status == ListingStatus.DRAFT


def test_chinese_title_gets_a_slug_from_the_kind(make):
    owner = make.streamer()
    listing = catalog.create_listing(owner, make.listing_data(title="猫猫表情包", kind="course"))
    assert listing.slug == "course"


def test_fans_cannot_create_listings(make):
    fan = make.user()
    with pytest.raises(PermissionDenied):
        catalog.create_listing(fan, make.listing_data())


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"prices": []}, "prices"),
        ({"prices": None}, "prices"),
        ({"prices": [{"currency": "CNY", "amount": 0}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": -5}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": 12.5}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": "1200"}]}, "prices.0.amount"),
        ({"prices": [{"currency": "CNY", "amount": True}]}, "prices.0.amount"),
        ({"prices": [{"currency": "XYZ", "amount": 100}]}, "prices.0.currency"),
        ({"prices": [{"currency": "CNY", "amount": 100}, {"currency": "cny", "amount": 200}]}, "prices.1.currency"),
        ({"prices": ["12"]}, "prices.0"),
        ({"title": ""}, "title"),
        ({"title": "x" * 121}, "title"),
        ({"title": 42}, "title"),
        ({"kind": "spaceship"}, "kind"),
        ({"tags": "cute"}, "tags"),
        ({"tags": ["x" * 41]}, "tags"),
        ({"tags": [f"t{i}" for i in range(11)]}, "tags"),
        ({"slug": "Not A Slug!"}, "slug"),
        ({"partners": ["no-such-brand"]}, "partners"),
        ({"description": "x" * 10_001}, "description"),
    ],
)
def test_bad_listing_input_is_refused_naming_the_field_and_nothing_is_stored(make, overrides, field):
    owner = make.streamer()
    with pytest.raises(ValidationFailed) as caught:
        catalog.create_listing(owner, make.listing_data(**overrides))
    assert field in caught.value.errors
    db.session.rollback()
    assert db.session.query(Listing).count() == 0


def test_duplicate_slug_is_refused(make):
    owner = make.streamer()
    make.listing(owner, slug="cat-emotes")
    with pytest.raises(ValidationFailed) as caught:
        catalog.create_listing(owner, make.listing_data(slug="cat-emotes"))
    assert "slug" in caught.value.errors


def test_a_failed_update_changes_nothing(make):
    owner = make.streamer()
    listing = make.listing(owner, title="Original", prices=[{"currency": "CNY", "amount": 900}])
    with pytest.raises(ValidationFailed):
        catalog.update_listing(owner, listing, {"title": "New title", "prices": [{"currency": "CNY", "amount": 0}]})
    db.session.rollback()
    db.session.expire_all()
    stored = db.session.get(Listing, listing.id)
    assert stored.title == "Original"
    assert [(p.currency, p.amount) for p in stored.prices] == [("CNY", 900)]


def test_update_replaces_prices_and_keeps_unchanged_fields(make):
    owner = make.streamer()
    listing = make.listing(owner, title="Keep me")
    catalog.update_listing(owner, listing, {"prices": [{"currency": "USD", "amount": 199}, {"currency": "CNY", "amount": 1400}]})
    db.session.commit()
    assert listing.title == "Keep me"
    assert [(p.currency, p.amount) for p in listing.prices] == [("CNY", 1400), ("USD", 199)]


def test_kind_cannot_change_after_creation(make):
    owner = make.streamer()
    listing = make.listing(owner, kind="sticker_pack")
    with pytest.raises(ValidationFailed) as caught:
        catalog.update_listing(owner, listing, {"kind": "merch"})
    assert "kind" in caught.value.errors


def test_another_streamer_cannot_see_a_draft_or_edit_a_published_listing(make):
    owner, other = make.streamer(), make.streamer()
    draft = make.listing(owner)
    published = make.listing(owner, status=ListingStatus.PUBLISHED)
    with pytest.raises(NotFound):
        catalog.get_visible_listing(other, draft.id)
    with pytest.raises(NotFound):
        catalog.get_own_listing(other, draft.id)
    with pytest.raises(PermissionDenied):
        catalog.get_own_listing(other, published.id)
    with pytest.raises(PermissionDenied):
        catalog.update_listing(other, published, {"title": "Mine now"})
    with pytest.raises(PermissionDenied):
        catalog.submit_listing(other, draft)
    with pytest.raises(PermissionDenied):
        catalog.archive_listing(other, published)


def test_anonymous_visitors_see_only_published_listings(make):
    owner = make.streamer()
    for status in ListingStatus:
        listing = make.listing(owner, status=status)
        if status == ListingStatus.PUBLISHED:
            assert catalog.get_visible_listing(None, listing.id) == listing
        else:
            with pytest.raises(NotFound):
                catalog.get_visible_listing(None, listing.id)
    page = catalog.published_listings()
    assert page.total == 1 and page.items[0].status == ListingStatus.PUBLISHED


def test_operators_see_listings_under_review(make):
    owner, operator = make.streamer(), make.operator()
    listing = make.listing(owner, status=ListingStatus.SUBMITTED)
    assert catalog.get_visible_listing(operator, listing.id) == listing
    assert catalog.review_queue() == [listing]


def test_listing_cannot_be_edited_or_given_a_cover_while_under_review(make):
    owner = make.streamer()
    listing = make.listing(owner, status=ListingStatus.SUBMITTED)
    with pytest.raises(Conflict):
        catalog.update_listing(owner, listing, {"title": "Sneaky"})
    with pytest.raises(Conflict):
        catalog.set_cover(owner, listing, make.png_bytes(), get_storage())
    assert listing.title != "Sneaky" and listing.cover_key is None


def test_only_operators_review_and_never_their_own_listing(make):
    owner, fan = make.streamer(), make.user()
    listing = make.listing(owner, status=ListingStatus.SUBMITTED)
    for actor in (owner, fan):
        with pytest.raises(PermissionDenied):
            catalog.approve_listing(actor, listing)
        with pytest.raises(PermissionDenied):
            catalog.reject_listing(actor, listing, "no")
    owner.is_operator = True
    with pytest.raises(PermissionDenied):
        catalog.approve_listing(owner, listing)
    assert listing.status == ListingStatus.SUBMITTED


def test_rejection_needs_a_reason_and_the_creator_can_fix_and_resubmit(make):
    owner, operator = make.streamer(), make.operator()
    listing = make.listing(owner, status=ListingStatus.SUBMITTED)
    with pytest.raises(ValidationFailed) as caught:
        catalog.reject_listing(operator, listing, "   ")
    assert "reason" in caught.value.errors
    catalog.reject_listing(operator, listing, "Cover is blurry")
    assert listing.status == ListingStatus.REJECTED and listing.rejection_reason == "Cover is blurry"
    catalog.update_listing(owner, listing, {"title": "Sharper"})
    assert listing.status == ListingStatus.DRAFT
    catalog.submit_listing(owner, listing)
    assert listing.status == ListingStatus.SUBMITTED and listing.rejection_reason is None


@pytest.mark.parametrize(
    "status, action",
    [
        (ListingStatus.DRAFT, "publish"),
        (ListingStatus.DRAFT, "approve"),
        (ListingStatus.SUBMITTED, "submit"),
        (ListingStatus.SUBMITTED, "publish"),
        (ListingStatus.PUBLISHED, "submit"),
        (ListingStatus.PUBLISHED, "approve"),
        (ListingStatus.ARCHIVED, "publish"),
        (ListingStatus.ARCHIVED, "archive"),
    ],
)
def test_workflow_steps_out_of_order_are_conflicts(make, status, action):
    owner, operator = make.streamer(), make.operator()
    listing = make.listing(owner, status=status, reviewer=operator)
    actor = operator if action == "approve" else owner
    with pytest.raises(Conflict):
        catalog.TRANSITIONS[action](actor, listing)
    assert listing.status == status


def test_editing_an_approved_listing_sends_it_back_for_review(make):
    owner = make.streamer()
    listing = make.listing(owner, status=ListingStatus.APPROVED)
    catalog.update_listing(owner, listing, {"description": "Changed after approval"})
    assert listing.status == ListingStatus.DRAFT
    with pytest.raises(Conflict):
        catalog.publish_listing(owner, listing)


def test_status_changes_are_recorded_with_actor_and_reason(make):
    owner, operator = make.streamer(), make.operator()
    listing = make.listing(owner, status=ListingStatus.REJECTED, reviewer=operator)
    steps = [(c.from_status, c.to_status, c.actor_id, c.reason) for c in listing.status_changes]
    assert steps == [
        ("draft", "submitted", owner.id, None),
        ("submitted", "rejected", operator.id, "Cover art is blurry."),
    ]


def test_cover_upload_is_reencoded_with_a_thumbnail_and_replaces_the_old_files(make):
    owner = make.streamer()
    listing = make.listing(owner)
    storage = get_storage()
    catalog.set_cover(owner, listing, make.png_bytes(size=(2400, 1200)), storage)
    first_keys = (listing.cover_key, listing.cover_thumb_key)
    assert all(storage.exists(key) for key in first_keys)
    from PIL import Image

    with storage.open(listing.cover_key) as fh:
        full = Image.open(fh)
        assert full.format == "WEBP" and max(full.size) == 1600
    with storage.open(listing.cover_thumb_key) as fh:
        assert max(Image.open(fh).size) == 480
    db.session.commit()
    catalog.set_cover(owner, listing, make.png_bytes(color=(0, 0, 255)), storage)
    assert all(storage.exists(key) for key in first_keys)  # until the change is committed
    db.session.commit()
    assert not any(storage.exists(key) for key in first_keys)


def test_a_rolled_back_cover_change_keeps_the_old_files(make):
    owner = make.streamer()
    listing = make.listing(owner)
    storage = get_storage()
    catalog.set_cover(owner, listing, make.png_bytes(), storage)
    db.session.commit()
    kept = (listing.cover_key, listing.cover_thumb_key)

    catalog.set_cover(owner, listing, make.png_bytes(color=(0, 0, 255)), storage)
    db.session.rollback()

    assert (listing.cover_key, listing.cover_thumb_key) == kept
    assert all(storage.exists(key) for key in kept)


@pytest.mark.parametrize(
    "payload",
    [b"", b"not an image at all", b"GIF89a" + b"\x00" * 10],
)
def test_cover_that_is_not_an_image_is_refused_and_the_old_cover_kept(make, payload):
    owner = make.streamer()
    listing = make.listing(owner)
    storage = get_storage()
    catalog.set_cover(owner, listing, make.png_bytes(), storage)
    kept = listing.cover_key
    with pytest.raises(ValidationFailed) as caught:
        catalog.set_cover(owner, listing, payload, storage)
    assert "cover" in caught.value.errors
    assert listing.cover_key == kept and storage.exists(kept)


def test_decompression_bomb_cover_is_refused(make):
    import io

    from PIL import Image

    bomb = io.BytesIO()
    Image.new("1", (9000, 9000)).save(bomb, format="PNG")  # 81 megapixels in a few kilobytes
    owner = make.streamer()
    listing = make.listing(owner)
    with pytest.raises(ValidationFailed) as caught:
        catalog.set_cover(owner, listing, bomb.getvalue(), get_storage())
    assert "cover" in caught.value.errors
    assert listing.cover_key is None


def test_published_listings_filter_by_kind_and_creator_and_paginate(make):
    mia, leo = make.streamer(handle="mia"), make.streamer(handle="leo")
    for _ in range(3):
        make.listing(mia, status=ListingStatus.PUBLISHED, kind="course")
    make.listing(leo, status=ListingStatus.PUBLISHED, kind="merch")
    assert catalog.published_listings(kind="course").total == 3
    assert catalog.published_listings(creator=leo.creator_profile).total == 1
    page = catalog.published_listings(page=2, per_page=2)
    assert page.total == 4 and page.pages == 2 and len(page.items) == 2 and not page.has_next


def test_co_brand_partners_are_brands(make):
    make.brand_member(brand_name="Lumen Gear")
    owner = make.streamer()
    listing = catalog.create_listing(owner, make.listing_data(kind="merch", partners=["lumen-gear"]))
    assert [b.name for b in listing.partner_brands] == ["Lumen Gear"]


def test_work_in_a_savepoint_is_undone_when_the_transaction_rolls_back(make):
    """A savepoint opened first in a transaction must not commit on release (pysqlite did, unless told not to)."""
    owner = make.streamer()
    data = make.listing_data(title="Never saved")
    with db.session.begin_nested():
        catalog.create_listing(owner, data)
    db.session.rollback()
    assert db.session.query(Listing).count() == 0
