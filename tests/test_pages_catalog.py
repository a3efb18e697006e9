"""The catalog's pages: public browsing, the listing form, the dashboard workflow and the review queue."""
from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from sqlalchemy import func, select

from app.extensions import db
from app.storage import get_storage
from marketplace.catalog import services
from marketplace.catalog.models import Listing, ListingStatus
from tests.page_support import logged_in, text_of

HIDDEN_STATUSES = ["draft", "submitted", "approved", "rejected", "archived"]


def count_listings() -> int:
    return db.session.scalar(select(func.count(Listing.id)))


def stored_files(app) -> list:
    root = get_storage().root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def form_data(**overrides) -> dict:
    data = {
        "kind": "course",
        "title": "Night owls",
        "slug": "",
        "description": "Sixteen owls.\nDrawn live on stream.",
        "tags": "owls, cute",
        "partners": "",
        "prices-0-currency": "CNY",
        "prices-0-amount": "12.50",
        "prices-1-currency": "USD",
        "prices-1-amount": "",
        "prices-2-currency": "",
        "prices-2-amount": "",
    }
    data.update(overrides)
    return data


def upload(data: bytes, name: str = "cover.png"):
    return (io.BytesIO(data), name)


def main_of(response) -> str:
    """The page's own content, without the site header (which echoes the URL in the language switch)."""
    page = text_of(response)
    return page[page.index("<main"):page.index("</main>")]


def refresh(listing: Listing) -> Listing:
    db.session.expire_all()
    return db.session.get(Listing, listing.id)


# ---------------------------------------------------------------- public pages


@pytest.mark.parametrize("status", HIDDEN_STATUSES)
def test_unpublished_listing_never_appears_on_public_pages(app, client, make, status):
    owner = make.streamer(handle="mia")
    make.listing(owner, status="published", title="Visible pack")
    hidden = make.listing(owner, status=status, title="Secret pack")

    for url in ("/", "/browse", "/browse?kind=course", "/@mia"):
        page = text_of(client.get(url))
        assert "Visible pack" in page, url
        assert "Secret pack" not in page, url

    assert client.get(f"/listings/{hidden.slug}").status_code == 404
    other = logged_in(app, make, make.streamer(handle="rival"))
    assert other.get(f"/listings/{hidden.slug}").status_code == 404
    assert "Secret pack" not in text_of(other.get("/browse"))


def test_owner_and_operator_see_unpublished_listing_with_status_banner(app, make):
    owner = make.streamer(handle="mia")
    rejected = make.listing(owner, status="rejected", title="Blurry pack")

    page = text_of(logged_in(app, make, owner).get(f"/listings/{rejected.slug}"))
    assert "status-banner" in page and "Blurry pack" in page
    assert "Cover art is blurry." in page  # the owner reads the operator's reason

    as_operator = logged_in(app, make, make.operator())
    response = as_operator.get(f"/listings/{rejected.slug}")
    assert response.status_code == 200 and "status-banner" in text_of(response)


def test_published_listing_page_shows_prices_tags_description_and_partners(app, client, make):
    make.brand_member(brand_name="Acme Lights")
    brand = services.find_brand("acme-lights")
    brand.verified = True
    db.session.commit()
    owner = make.streamer(handle="mia")
    listing = make.listing(
        owner,
        status="published",
        title="Owl <b>pack</b>",
        description="Line one\n<script>alert(1)</script>",
        prices=[{"currency": "CNY", "amount": 1250}, {"currency": "USD", "amount": 199}],
        tags=["owls"],
        partners=["acme-lights"],
    )

    page = text_of(client.get(f"/listings/{listing.slug}"))
    assert "Owl &lt;b&gt;pack&lt;/b&gt;" in page
    assert "&lt;script&gt;" in page and "<script>alert" not in page
    assert "¥12.50" in page or "CN¥12.50" in page
    assert "$1.99" in page
    assert "#owls" in page
    assert "Acme Lights" in page and "verified" in page
    assert 'href="/@mia"' in page
    assert "status-banner" not in page


def test_listing_page_links_to_the_creators_live_rooms_in_a_new_tab(client, make):
    owner = make.streamer(handle="mia")
    make.live_room(owner, platform="bilibili", url="https://live.bilibili.com/42", title="Drawing night")
    listing = make.listing(owner, status="published")

    page = text_of(client.get(f"/listings/{listing.slug}"))
    link = re.search(r'<a class="live-room" href="https://live.bilibili.com/42"[^>]*>', page)
    assert link is not None
    assert 'target="_blank"' in link.group(0) and "noopener" in link.group(0)
    assert "Bilibili" in page and "Drawing night" in page


def test_listing_cover_and_card_thumbnail_are_served_from_media(app, client, make):
    owner = make.streamer()
    listing = make.listing(owner, status="published")
    services.set_cover(owner, listing, make.png_bytes(), get_storage())
    db.session.commit()

    assert f"/media/{listing.cover_key}" in text_of(client.get(f"/listings/{listing.slug}"))
    assert f"/media/{listing.cover_thumb_key}" in text_of(client.get("/"))
    assert client.get(f"/media/{listing.cover_thumb_key}").status_code == 200


def test_listing_without_cover_gets_a_placeholder(client, make):
    listing = make.listing(make.streamer(), status="published")
    page = text_of(client.get(f"/listings/{listing.slug}"))
    assert "cover-placeholder" in page and "/media/" not in page


def test_home_shows_featured_and_newest_listings_and_kind_links(app, client, make):
    owner = make.streamer()
    star = make.listing(owner, status="published", title="Star pack")
    make.listing(owner, status="published", title="Plain pack")
    services.set_featured(make.operator(), star, True)
    db.session.commit()

    page = text_of(client.get("/"))
    featured = page.split('id="featured-heading"')[1].split('id="newest-heading"')[0]
    assert "Star pack" in featured and "Plain pack" not in featured
    assert "Plain pack" in page
    for code in ("sticker_pack", "merch", "course", "studio_setup"):
        assert f"/browse?kind={code}" in page


def test_browse_filters_by_kind(client, make):
    owner = make.streamer()
    make.listing(owner, status="published", kind="merch", title="Owl stickers")
    make.listing(owner, status="published", kind="course", title="Drawing course")

    stickers = text_of(client.get("/browse?kind=merch"))
    assert "Owl stickers" in stickers and "Drawing course" not in stickers
    courses = text_of(client.get("/browse?kind=course"))
    assert "Drawing course" in courses and "Owl stickers" not in courses
    everything = text_of(client.get("/browse"))
    assert "Owl stickers" in everything and "Drawing course" in everything


def test_browse_unknown_kind_is_404(client):
    assert client.get("/browse?kind=spaceships").status_code == 404


def test_browse_paginates_and_handles_odd_page_numbers(app, client, make):
    owner = make.streamer()
    for n in range(app.config["ENCORE_LISTINGS_PER_PAGE"] + 2):
        make.listing(owner, status="published", title=f"Pack number {n:02d}")

    first = main_of(client.get("/browse"))
    second = text_of(client.get("/browse?page=2"))
    assert first.count('class="card listing-card"') == app.config["ENCORE_LISTINGS_PER_PAGE"]
    assert second.count('class="card listing-card"') == 2
    assert "Pack number 00" in second and "Pack number 00" not in first  # newest first
    assert 'rel="next"' in first and "page=2" in first

    assert main_of(client.get("/browse?page=abc")) == first  # not a number: page 1
    beyond = client.get("/browse?page=99")
    assert beyond.status_code == 200
    assert "There is nothing on page 99" in text_of(beyond) and "listing-card" not in text_of(beyond)
    assert client.get("/browse?page=99999999999999999999999").status_code == 200


def test_storefront_shows_profile_live_rooms_and_published_listings(client, make):
    owner = make.streamer(handle="mia")
    make.live_room(owner, platform="douyin", url="https://live.douyin.com/777", title="Late show")
    make.listing(owner, status="published", title="Mia's owls")
    make.listing(make.streamer(handle="other"), status="published", title="Someone else's pack")

    response = client.get("/@mia")
    page = text_of(response)
    assert response.status_code == 200
    assert "Streamer" in page and "@mia" in page and "Live every night." in page
    assert "https://live.douyin.com/777" in page and "Douyin" in page and "Late show" in page
    assert "Mia&#39;s owls" in page and "Someone else" not in page


def test_storefront_of_unknown_handle_is_404(client):
    assert client.get("/@nobody_here").status_code == 404


# ---------------------------------------------------------------- creating through the form


def test_streamer_creates_listing_with_cover_and_major_unit_prices(app, make):
    owner = make.streamer(handle="mia")
    make.brand_member(brand_name="Acme Lights")
    client = logged_in(app, make, owner)

    response = client.post(
        "/dashboard/listings/new",
        data=form_data(
            **{"prices-1-amount": "1.99", "partners": "acme-lights", "slug": "night-owls"},
            cover=upload(make.png_bytes(size=(800, 600))),
        ),
        content_type="multipart/form-data",
    )

    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    listing = db.session.scalar(select(Listing))
    assert listing.title == "Night owls" and listing.slug == "night-owls"
    assert listing.status == ListingStatus.DRAFT
    assert {(p.currency, p.amount) for p in listing.prices} == {("CNY", 1250), ("USD", 199)}
    assert listing.tag_names == ["cute", "owls"]
    assert [b.slug for b in listing.partner_brands] == ["acme-lights"]
    assert listing.description == "Sixteen owls.\nDrawn live on stream."
    assert listing.cover_key and get_storage().exists(listing.cover_key)
    assert listing.cover_thumb_key and get_storage().exists(listing.cover_thumb_key)
    assert "Night owls" in text_of(client.get("/dashboard"))


def test_new_listing_form_offers_cny_and_usd_rows(app, make):
    page = text_of(logged_in(app, make, make.streamer()).get("/dashboard/listings/new"))
    assert 'name="prices-0-currency"' in page and 'name="prices-1-currency"' in page
    assert re.search(r'<option selected value="CNY">|<option value="CNY" selected>', page)
    assert re.search(r'<option selected value="USD">|<option value="USD" selected>', page)
    for code in ("sticker_pack", "merch", "course", "studio_setup"):
        assert f'value="{code}"' in page


def test_new_listing_form_starts_with_the_default_currency(app, make):
    client = logged_in(app, make, make.streamer())
    app.config["ENCORE_DEFAULT_CURRENCY"] = "EUR"
    try:
        page = text_of(client.get("/dashboard/listings/new"))
    finally:
        app.config["ENCORE_DEFAULT_CURRENCY"] = "CNY"
    first_row = page[page.index('name="prices-0-currency"'):page.index('name="prices-1-currency"')]
    assert re.search(r'<option selected value="EUR">|<option value="EUR" selected>', first_row)


BOMB = None


def bomb_png() -> bytes:
    """A small PNG that decodes to 48 million pixels (over the 40 million limit)."""
    global BOMB
    if BOMB is None:
        out = io.BytesIO()
        Image.new("1", (8000, 6000)).save(out, format="PNG")
        BOMB = out.getvalue()
    return BOMB


BAD_INPUTS = {
    "zero price": ({"prices-0-amount": "0"}, "greater than zero"),
    "negative price": ({"prices-0-amount": "-5"}, "greater than zero"),
    "price not a number": ({"prices-0-amount": "abc"}, "Enter an amount like 12.50."),
    "too many decimals": ({"prices-0-amount": "12.505"}, "at most 2 decimal places"),
    "unknown currency": ({"prices-0-currency": "XYZ"}, "Choose a currency."),
    "no price at all": ({"prices-0-amount": ""}, "Give at least one price."),
    "title too long": ({"title": "x" * 200}, "at most 120 characters"),
    "empty title": ({"title": "   "}, "This field is required."),
    "bad slug": ({"slug": "Not A Slug!"}, "lower-case letters"),
    "unknown kind": ({"kind": "spaceship"}, "Choose one of"),
    "unknown partner": ({"partners": "nobody-brand"}, "No brand called nobody-brand"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS), ids=list(BAD_INPUTS))
def test_bad_listing_input_is_refused_with_a_message_and_nothing_created(app, make, case):
    overrides, message = BAD_INPUTS[case]
    client = logged_in(app, make, make.streamer())
    before_files = stored_files(app)

    response = client.post(
        "/dashboard/listings/new",
        data=form_data(**overrides, cover=upload(make.png_bytes())),
        content_type="multipart/form-data",
    )

    page = text_of(response)
    assert response.status_code == 422
    assert message in page
    assert count_listings() == 0
    assert stored_files(app) == before_files
    # what the user typed is still there
    typed_title = overrides.get("title", "Night owls").strip()
    if typed_title:
        assert f'value="{typed_title}"' in page
    assert "Sixteen owls." in page


def test_price_error_is_shown_at_its_own_row(app, make):
    client = logged_in(app, make, make.streamer())
    response = client.post(
        "/dashboard/listings/new",
        data=form_data(**{"prices-1-amount": "abc"}),
    )
    page = text_of(response)
    assert response.status_code == 422
    assert "Please correct the marked fields." in page
    assert 'id="prices-1-amount-errors"' in page and 'id="prices-0-amount-errors"' not in page
    assert 'value="abc"' in page and 'value="12.50"' in page


def test_service_price_error_maps_to_the_row_the_user_filled(app, make):
    client = logged_in(app, make, make.streamer())
    # the first row is left empty, so the service's prices.0 is the form's row 1
    response = client.post(
        "/dashboard/listings/new",
        data=form_data(**{"prices-0-amount": "", "prices-1-amount": "0"}),
    )
    assert response.status_code == 422
    assert 'id="prices-1-amount-errors"' in text_of(response)


def test_duplicate_slug_is_refused(app, make):
    owner = make.streamer()
    make.listing(owner, slug="taken")
    client = logged_in(app, make, owner)

    response = client.post("/dashboard/listings/new", data=form_data(slug="taken"))

    assert response.status_code == 422
    assert "already used by another listing" in text_of(response)
    assert count_listings() == 1


@pytest.mark.parametrize(
    "cover, message",
    [
        (b"this is not an image", "not an image we can read"),
        ("bomb", "too large to process"),
    ],
    ids=["not an image", "decompression bomb"],
)
def test_bad_cover_creates_nothing(app, make, cover, message):
    client = logged_in(app, make, make.streamer())
    data = bomb_png() if cover == "bomb" else cover
    before_files = stored_files(app)

    response = client.post(
        "/dashboard/listings/new",
        data=form_data(cover=upload(data)),
        content_type="multipart/form-data",
    )

    assert response.status_code == 422
    assert message in text_of(response)
    assert count_listings() == 0
    assert stored_files(app) == before_files


def test_fan_cannot_create_listings(app, make):
    client = logged_in(app, make, make.user())
    assert client.get("/dashboard/listings/new").status_code == 403
    assert client.post("/dashboard/listings/new", data=form_data()).status_code == 403
    assert count_listings() == 0


def test_anonymous_is_sent_to_login_from_the_listing_form(client):
    response = client.get("/dashboard/listings/new")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post("/dashboard/listings/new", data=form_data()).status_code == 302
    assert count_listings() == 0


def test_form_post_without_csrf_token_is_refused_when_csrf_is_on(app, make):
    client = logged_in(app, make, make.streamer())
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/dashboard/listings/new", data=form_data())
    assert response.status_code == 400
    assert count_listings() == 0


# ---------------------------------------------------------------- editing


def test_owner_edits_listing_prices_and_cover(app, make):
    owner = make.streamer()
    listing = make.listing(owner, title="Old title", prices=[{"currency": "CNY", "amount": 1200}])
    client = logged_in(app, make, owner)

    form_page = text_of(client.get(f"/dashboard/listings/{listing.id}/edit"))
    assert 'value="Old title"' in form_page and 'value="12.00"' in form_page
    assert 'name="kind"' not in form_page  # the kind is fixed once created

    data = form_data(title="New title", slug=listing.slug, cover=upload(make.png_bytes()))
    data.pop("kind")
    data.update({"prices-0-amount": "15", "prices-1-amount": "2.50"})
    response = client.post(f"/dashboard/listings/{listing.id}/edit", data=data, content_type="multipart/form-data")

    assert response.status_code == 302
    listing = refresh(listing)
    assert listing.title == "New title"
    assert {(p.currency, p.amount) for p in listing.prices} == {("CNY", 1500), ("USD", 250)}
    assert listing.cover_key and get_storage().exists(listing.cover_key)


def test_bad_edit_keeps_the_stored_listing_unchanged(app, make):
    owner = make.streamer()
    listing = make.listing(owner, title="Keep me")
    client = logged_in(app, make, owner)
    data = form_data(title="Changed", **{"prices-0-amount": "-1"})
    data.pop("kind")

    response = client.post(f"/dashboard/listings/{listing.id}/edit", data=data)

    assert response.status_code == 422 and 'value="Changed"' in text_of(response)
    assert refresh(listing).title == "Keep me"


def test_another_streamer_cannot_edit(app, make):
    owner = make.streamer()
    draft = make.listing(owner, title="Mine")
    published = make.listing(owner, status="published", title="Mine too")
    rival = logged_in(app, make, make.streamer())

    assert rival.get(f"/dashboard/listings/{draft.id}/edit").status_code == 404  # cannot even see it
    assert rival.post(f"/dashboard/listings/{draft.id}/edit", data=form_data(title="Stolen")).status_code == 404
    assert rival.get(f"/dashboard/listings/{published.id}/edit").status_code == 403
    assert rival.post(f"/dashboard/listings/{published.id}/edit", data=form_data(title="Stolen")).status_code == 403
    assert refresh(draft).title == "Mine" and refresh(published).title == "Mine too"


def test_edit_while_under_review_is_refused_and_changes_nothing(app, make):
    owner = make.streamer()
    listing = make.listing(owner, status="submitted", title="In review")
    client = logged_in(app, make, owner)

    response = client.post(f"/dashboard/listings/{listing.id}/edit", data=form_data(title="Sneaky"))

    assert response.status_code == 302 and response.headers["Location"].endswith("/dashboard")
    assert "cannot be edited while it is under review" in text_of(client.get("/dashboard"))
    listing = refresh(listing)
    assert listing.title == "In review" and listing.status == ListingStatus.SUBMITTED
    assert client.get(f"/dashboard/listings/{listing.id}/edit").status_code == 302


# ---------------------------------------------------------------- dashboard and workflow


def test_dashboard_lists_own_listings_with_status_actions_and_chart(app, make):
    owner = make.streamer()
    draft = make.listing(owner, title="My draft")
    submitted = make.listing(owner, status="submitted", title="My submitted")
    approved = make.listing(owner, status="approved", title="My approved")
    make.listing(make.streamer(), title="Not mine")
    page = text_of(logged_in(app, make, owner).get("/dashboard"))

    assert "My draft" in page and "My submitted" in page and "Not mine" not in page
    assert 'class="bars"' in page
    assert f"/dashboard/listings/{draft.id}/submit" in page
    assert f"/dashboard/listings/{draft.id}/edit" in page
    assert f"/dashboard/listings/{submitted.id}/edit" not in page
    assert f"/dashboard/listings/{submitted.id}/submit" not in page
    assert f"/dashboard/listings/{approved.id}/publish" in page
    assert "/dashboard/live-rooms" in page


def test_fan_gets_an_invitation_instead_of_a_dashboard(app, make):
    response = logged_in(app, make, make.user()).get("/dashboard")
    assert response.status_code == 200
    assert "/settings" in text_of(response) and "Become a streamer" in text_of(response)


def test_anonymous_dashboard_redirects_to_login(client):
    response = client.get("/dashboard")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_full_workflow_through_the_pages(app, make):
    owner = make.streamer(handle="mia")
    owner_client = logged_in(app, make, owner)
    operator_client = logged_in(app, make, make.operator())
    anonymous = app.test_client()

    assert owner_client.post("/dashboard/listings/new", data=form_data(title="Owl party")).status_code == 302
    listing = db.session.scalar(select(Listing))
    assert "Owl party" not in text_of(anonymous.get("/"))

    assert owner_client.post(f"/dashboard/listings/{listing.id}/submit").status_code == 302
    assert refresh(listing).status == ListingStatus.SUBMITTED
    queue = text_of(operator_client.get("/operator/review"))
    assert f'id="review-{listing.id}"' in queue and "Owl party" in queue and "@mia" in queue

    assert operator_client.post(f"/operator/review/{listing.id}/approve").status_code == 302
    assert refresh(listing).status == ListingStatus.APPROVED
    assert f'id="review-{listing.id}"' not in text_of(operator_client.get("/operator/review"))
    assert "Owl party" not in text_of(anonymous.get("/browse"))

    assert owner_client.post(f"/dashboard/listings/{listing.id}/publish").status_code == 302
    assert refresh(listing).status == ListingStatus.PUBLISHED
    assert "Owl party" in text_of(anonymous.get("/"))
    assert "Owl party" in text_of(anonymous.get("/browse?kind=course"))
    assert "Owl party" in text_of(anonymous.get("/@mia"))
    assert anonymous.get(f"/listings/{listing.slug}").status_code == 200

    assert owner_client.post(f"/dashboard/listings/{listing.id}/archive").status_code == 302
    assert refresh(listing).status == ListingStatus.ARCHIVED
    assert "Owl party" not in text_of(anonymous.get("/"))
    assert "Owl party" not in text_of(anonymous.get("/browse"))
    assert anonymous.get(f"/listings/{listing.slug}").status_code == 404


def test_action_out_of_order_flashes_an_error_and_changes_nothing(app, make):
    owner = make.streamer()
    listing = make.listing(owner)
    client = logged_in(app, make, owner)

    response = client.post(f"/dashboard/listings/{listing.id}/publish", follow_redirects=True)

    assert response.status_code == 200
    assert "Only an approved listing can be published. This listing is draft." in text_of(response)
    assert refresh(listing).status == ListingStatus.DRAFT


def test_another_streamer_cannot_run_actions_on_my_listing(app, make):
    owner = make.streamer()
    published = make.listing(owner, status="published")
    draft = make.listing(owner)
    rival = logged_in(app, make, make.streamer())

    assert rival.post(f"/dashboard/listings/{published.id}/archive").status_code == 403
    assert rival.post(f"/dashboard/listings/{draft.id}/submit").status_code == 404
    assert rival.post(f"/dashboard/listings/{draft.id}/approve").status_code == 404  # not an owner action
    assert refresh(published).status == ListingStatus.PUBLISHED
    assert refresh(draft).status == ListingStatus.DRAFT


def test_reject_with_reason_shows_reason_on_dashboard(app, make):
    owner = make.streamer()
    listing = make.listing(owner, status="submitted", title="Fuzzy owls")
    operator = logged_in(app, make, make.operator())

    response = operator.post(f"/operator/review/{listing.id}/reject", data={"reason": "The cover is out of focus."})

    assert response.status_code == 302
    assert refresh(listing).status == ListingStatus.REJECTED
    page = text_of(logged_in(app, make, owner).get("/dashboard"))
    assert "The cover is out of focus." in page
    assert f"/dashboard/listings/{listing.id}/submit" in page  # it can be sent again


def test_reject_without_reason_is_refused_and_listing_stays_submitted(app, make):
    listing = make.listing(make.streamer(), status="submitted")
    operator = logged_in(app, make, make.operator())

    response = operator.post(f"/operator/review/{listing.id}/reject", data={"reason": "   "})

    assert response.status_code == 422
    assert "This field is required." in text_of(response)
    assert refresh(listing).status == ListingStatus.SUBMITTED


def test_review_queue_lists_oldest_submission_first(app, make):
    owner = make.streamer()
    make.listing(owner, status="submitted", title="First in")
    make.listing(owner, status="submitted", title="Second in")
    make.listing(owner, title="Still a draft")

    page = text_of(logged_in(app, make, make.operator()).get("/operator/review"))
    assert page.index("First in") < page.index("Second in")
    assert "Still a draft" not in page


def test_fan_and_streamer_are_refused_the_review_queue(app, make):
    listing = make.listing(make.streamer(), status="submitted")
    for user in (make.user(), make.streamer()):
        client = logged_in(app, make, user)
        assert client.get("/operator/review").status_code == 403
        assert client.post(f"/operator/review/{listing.id}/approve").status_code == 403
        assert client.post(f"/operator/review/{listing.id}/reject", data={"reason": "no"}).status_code == 403
    assert refresh(listing).status == ListingStatus.SUBMITTED


def test_anonymous_is_sent_to_login_from_the_review_queue(client, make):
    listing = make.listing(make.streamer(), status="submitted")
    response = client.get("/operator/review")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert client.post(f"/operator/review/{listing.id}/approve").status_code == 302
    assert refresh(listing).status == ListingStatus.SUBMITTED


def test_operator_features_a_published_listing_from_its_page(app, make):
    listing = make.listing(make.streamer(), status="published", title="Shiny pack")
    operator = logged_in(app, make, make.operator())
    assert "/featured" in text_of(operator.get(f"/listings/{listing.slug}"))

    response = operator.post(f"/operator/listings/{listing.id}/featured", data={"featured": "1"})

    assert response.status_code == 302
    assert refresh(listing).featured is True
    home = text_of(app.test_client().get("/"))
    assert "Shiny pack" in home.split('id="featured-heading"')[1].split('id="newest-heading"')[0]


def test_streamer_cannot_feature_listings(app, make):
    owner = make.streamer()
    listing = make.listing(owner, status="published")
    client = logged_in(app, make, owner)
    assert "/featured" not in text_of(client.get(f"/listings/{listing.slug}"))
    assert client.post(f"/operator/listings/{listing.id}/featured", data={"featured": "1"}).status_code == 403
    assert refresh(listing).featured is False
