"""Listings API: browse published listings, manage your own, and move them through review."""
from __future__ import annotations

from typing import Callable

from apiflask import APIBlueprint
from flask_babel import gettext as _

from app.accounts.services import find_creator
from app.api import auth, current_api_user, optional_api_user
from app.extensions import csrf, db
from app.security import require
from app.storage import get_storage
from marketplace.catalog import services
from marketplace.catalog.models import Listing
from marketplace.catalog.schemas import CoverIn, ListingIn, ListingList, ListingOut, ListingPage, ListingPatch, ListingQuery, RejectIn

bp = APIBlueprint(
    "catalog_api",
    __name__,
    url_prefix="/api/v1",
    tag={"name": "Listings", "description": "Listings of every product kind and their review workflow."},
)
csrf.exempt(bp)  # the API authenticates with bearer tokens, never with the session cookie

# Routes that answer one ListingOut come before those nesting it in a collection, so the OpenAPI
# document names the schema once (apiflask registers a schema seen first as nested a second time).


@bp.post("/listings")
@bp.auth_required(auth)
@bp.input(ListingIn, arg_name="body")
@bp.output(ListingOut, status_code=201)
@bp.doc(summary="Create a draft listing", responses=[403, 422])
def create_listing(body):
    """Streamers only; the listing starts as a draft."""
    listing = services.create_listing(current_api_user(), body)
    db.session.commit()
    return listing


@bp.get("/listings")
@bp.input(ListingQuery, location="query", arg_name="query")
@bp.output(ListingPage)
@bp.doc(summary="Browse published listings", responses=[422])
def list_listings(query):
    """Published listings, newest first."""
    page, per_page = query["page"], query["per_page"]
    creator = None
    if query.get("creator"):
        creator = find_creator(query["creator"])
        if creator is None:  # a streamer that does not exist has no listings
            return services.Page([], page, per_page, 0)
    return services.published_listings(kind=query.get("kind"), creator=creator, page=page, per_page=per_page)


@bp.get("/listings/<int:listing_id>")
@bp.auth_required(auth, optional=True)
@bp.output(ListingOut)
@bp.doc(summary="A listing")
def get_listing(listing_id: int):
    """Published listings are public; others only for their creator and operators."""
    return services.get_visible_listing(optional_api_user(), listing_id)


@bp.patch("/listings/<int:listing_id>")
@bp.auth_required(auth)
@bp.input(ListingPatch, arg_name="body")
@bp.output(ListingOut)
@bp.doc(summary="Change a listing", responses=[403, 409, 422])
def update_listing(listing_id: int, body):
    """Only the creator; not while under review or archived. An approved or rejected listing goes back to draft."""
    user = current_api_user()
    listing = services.get_own_listing(user, listing_id)
    services.update_listing(user, listing, body)
    db.session.commit()
    return listing


@bp.put("/listings/<int:listing_id>/cover")
@bp.auth_required(auth)
@bp.input(CoverIn, location="files", arg_name="files")
@bp.output(ListingOut)
@bp.doc(summary="Upload the cover image", responses=[403, 409, 413, 422])
def set_cover(listing_id: int, files):
    """Multipart upload in the field `cover`; the image is re-encoded and a thumbnail made."""
    user = current_api_user()
    listing = services.get_own_listing(user, listing_id)
    services.set_cover(user, listing, files["cover"].read(), get_storage())
    db.session.commit()
    return listing


def _transition(listing_id: int, step: Callable[..., Listing], *args) -> Listing:
    user = current_api_user()
    listing = services.get_visible_listing(user, listing_id)
    step(user, listing, *args)
    db.session.commit()
    return listing


@bp.post("/listings/<int:listing_id>/submit")
@bp.auth_required(auth)
@bp.output(ListingOut)
@bp.doc(summary="Submit for review", responses=[403, 409, 422])
def submit_listing(listing_id: int):
    """The creator sends a draft or rejected listing to the operators."""
    return _transition(listing_id, services.submit_listing)


@bp.post("/listings/<int:listing_id>/approve")
@bp.auth_required(auth)
@bp.output(ListingOut)
@bp.doc(summary="Approve a submitted listing", responses=[403, 409])
def approve_listing(listing_id: int):
    """Operators only, and not for their own listings."""
    return _transition(listing_id, services.approve_listing)


@bp.post("/listings/<int:listing_id>/reject")
@bp.auth_required(auth)
@bp.input(RejectIn, arg_name="body")
@bp.output(ListingOut)
@bp.doc(summary="Reject a submitted listing", responses=[403, 409, 422])
def reject_listing(listing_id: int, body):
    """Operators only; the reason is shown to the creator."""
    return _transition(listing_id, services.reject_listing, body["reason"])


@bp.post("/listings/<int:listing_id>/publish")
@bp.auth_required(auth)
@bp.output(ListingOut)
@bp.doc(summary="Publish an approved listing", responses=[403, 409])
def publish_listing(listing_id: int):
    return _transition(listing_id, services.publish_listing)


@bp.post("/listings/<int:listing_id>/archive")
@bp.auth_required(auth)
@bp.output(ListingOut)
@bp.doc(summary="Archive a listing", responses=[403, 409])
def archive_listing(listing_id: int):
    """Takes a listing off the marketplace for good."""
    return _transition(listing_id, services.archive_listing)


@bp.get("/review-queue")
@bp.auth_required(auth)
@bp.output(ListingList)
@bp.doc(summary="Listings waiting for review", responses=[403])
def review_queue():
    """Operators only; oldest submission first."""
    require(services.is_operator(current_api_user()), _("Only operators review listings."))
    return {"items": services.review_queue()}
